"""Revoking a user's API tokens when their credentials change.

Each JWT carries two facts checked on every request and every refresh
(api/auth.py):

- ``tv``, the user's token generation when it was issued (api.models.TokenVersion).
  ``revoke_tokens`` adds one to it: a password change, a deactivation and an explicit
  "log out everywhere" call it, so every token issued before is refused at once.
- simplejwt's ``hash_password`` claim (CHECK_REVOKE_TOKEN), a digest of the stored password
  hash: a password written around ``save()`` (``QuerySet.update``, raw SQL) still revokes.

Access tokens also carry who the user is to NetCare when they were issued: ``role`` (the
role of ``treatments.roles.role_of``) and ``teams`` (the user's care-team ids). Requests read
them from the token instead of the group and membership tables, so those claims must never
outlive a change: adding or removing a group or a care-team membership (from either side,
``clear()`` included) and granting or withdrawing superuser status revoke the user's tokens
like a password change does. The user signs in again and gets claims that match.

The pre_save/post_save pair below sees every door that saves a user (admin forms,
``set_password`` and ``save`` in a shell, ``changepassword``, password reset), so none of
them has to remember to call ``revoke_tokens``. A password hash rewritten with the same
password (Django upgrading its hasher at a login, ``seed_demo`` setting the demo password
again) counts as a change too: the user's other tokens end once, which errs on the safe side.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from api.models import TokenVersion

logger = logging.getLogger(__name__)

# The claim naming the token generation in every access and refresh token.
VERSION_CLAIM = "tv"

PASSWORD_CHANGED = "password_changed"  # noqa: S105 (a reason code, not a password)
DEACTIVATED = "deactivated"
LOGOUT_EVERYWHERE = "logout_everywhere"
ROLE_CHANGED = "role_changed"
TEAMS_CHANGED = "teams_changed"

# The claims naming the user's role and care-team ids at issue (read by api.authentication).
ROLE_CLAIM = "role"
TEAMS_CLAIM = "teams"

# The generation loaded with the user by api.authentication (None: no row, generation 0).
GENERATION_ATTR = "netcare_tv"
# Set on a user instance by pre_save, read (and cleared) by post_save.
_PENDING = "_netcare_revoke_reason"


def token_version(user: Any) -> int:
    """The user's current token generation (0 when never revoked).

    Reads the generation the authentication class loaded with the user (GENERATION_ATTR)
    or a row select_related when it is there, so checking a token costs no extra query.
    """
    if GENERATION_ATTR in user.__dict__:
        loaded = user.__dict__[GENERATION_ATTR]
        return 0 if loaded is None else loaded
    try:
        return user.token_version.version
    except TokenVersion.DoesNotExist:
        return 0


def revoke_tokens(user: Any, reason: str) -> int:
    """Refuse every access and refresh token of ``user`` issued so far; return the new generation.

    ``reason`` is a short code (``password_changed``, ``deactivated``,
    ``logout_everywhere``) kept on the row. The increment is one UPDATE, so two revocations
    at once both count. Tokens issued afterwards carry the new number and work.
    """
    now = timezone.now()
    with transaction.atomic():
        TokenVersion.objects.get_or_create(user_id=user.pk)
        TokenVersion.objects.filter(user_id=user.pk).update(
            version=F("version") + 1, revoked_at=now, reason=reason
        )
        version = TokenVersion.objects.get(user_id=user.pk).version
    # A cached row on the instance would otherwise still show the old generation.
    if hasattr(user, "_state"):
        user._state.fields_cache.pop("token_version", None)
        user.__dict__.pop(GENERATION_ATTR, None)
    logger.info("tokens of user %s revoked (%s): generation %s", user.pk, reason, version)
    return version


def log_out_everywhere(user: Any, keep_session: str | None = None) -> int:
    """Revoke the user's API tokens and end their browser sessions; return the sessions ended.

    ``keep_session`` (a session key) is spared: the request doing this may be one of them.
    Sessions are found by decoding the unexpired ones: staff sessions are short (30 minutes
    idle), so the table holds few rows, and this runs only on an explicit request.
    """
    revoke_tokens(user, LOGOUT_EVERYWHERE)
    ended = [
        session.session_key
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
        if session.session_key != keep_session
        and session.get_decoded().get("_auth_user_id") == str(user.pk)
    ]
    Session.objects.filter(session_key__in=ended).delete()
    return len(ended)


def _revocation_reason(user: Any, update_fields: frozenset[str] | None) -> str | None:
    """What in this save revokes the user's tokens, comparing it with the stored row."""
    if user.pk is None:
        return None
    watched = {"password", "is_active", "is_superuser"}
    if update_fields is not None and not (watched & set(update_fields)):
        return None  # e.g. last_login on every admin login: no read needed
    stored = get_user_model().objects.filter(pk=user.pk).values(*sorted(watched)).first()
    if stored is None:
        return None
    if stored["password"] != user.password:
        return PASSWORD_CHANGED
    if stored["is_active"] and not user.is_active:
        return DEACTIVATED
    if stored["is_superuser"] != user.is_superuser:
        return ROLE_CHANGED  # a superuser without a group counts as a clinician (role_of)
    return None


def before_user_saved(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    """pre_save: note whether this save changes the password or deactivates the user."""
    if kwargs.get("raw"):
        return  # loaddata: fixtures, not a change of credentials
    setattr(instance, _PENDING, _revocation_reason(instance, update_fields))


def after_user_saved(sender: Any, instance: Any, **kwargs: Any) -> None:
    """post_save: revoke the tokens once the change noted by pre_save is written."""
    reason = instance.__dict__.pop(_PENDING, None)
    if reason:
        revoke_tokens(instance, reason)


def _has_live_tokens(user_id: int) -> bool:
    """Whether a refresh token of the user has not expired yet.

    Every token that carries claims comes from ``api.auth.issue_tokens``, which records its
    refresh token (simplejwt's OutstandingToken, also written at each rotation) before it
    reads the claims; an access token never outlives its refresh token. A user without a
    live refresh token holds no token whose claims a change could make stale, so creating a
    user and adding its groups and teams costs no revocation.
    """
    return OutstandingToken.objects.filter(user_id=user_id, expires_at__gt=timezone.now()).exists()


def _revoke_user_ids(user_ids: Any, reason: str) -> None:
    for user_id in sorted(set(user_ids or ())):
        if _has_live_tokens(user_id):
            revoke_tokens(_UserRef(user_id), reason)


class _UserRef:
    """Just a primary key: what revoke_tokens needs of a user named by a membership row."""

    def __init__(self, pk: int) -> None:
        self.pk = pk


def _members_changed(
    instance: Any, action: str, pk_set: Any, *, user_is_instance: bool, reason: str
) -> None:
    """Revoke the tokens of every user whose membership rows ``action`` changed.

    ``user_is_instance``: the signal's instance is the user (``pk_set`` then holds group or
    team ids), else the group or team (``pk_set`` holds user ids). A ``clear()`` from the
    group's or team's side names no ids, so its members are noted before the rows go.
    """
    if action == "pre_clear" and not user_is_instance:
        instance._netcare_cleared_members = list(_member_ids(instance))
        return
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if user_is_instance:
        if (action == "post_clear" or pk_set) and _has_live_tokens(instance.pk):
            revoke_tokens(instance, reason)
        return
    if action == "post_clear":
        _revoke_user_ids(instance.__dict__.pop("_netcare_cleared_members", ()), reason)
    else:
        _revoke_user_ids(pk_set, reason)


def _member_ids(group_or_team: Any) -> Any:
    from django.contrib.auth.models import Group

    if isinstance(group_or_team, Group):
        return group_or_team.user_set.values_list("pk", flat=True)
    return group_or_team.members.values_list("pk", flat=True)


def after_groups_changed(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: Any, **kwargs: Any
) -> None:
    """m2m_changed of ``User.groups``: a changed role revokes the tokens that claim the old one."""
    _members_changed(instance, action, pk_set, user_is_instance=not reverse, reason=ROLE_CHANGED)


def after_team_members_changed(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: Any, **kwargs: Any
) -> None:
    """m2m_changed of ``CareTeam.members``: changed teams revoke the tokens that claim the old."""
    _members_changed(instance, action, pk_set, user_is_instance=reverse, reason=TEAMS_CHANGED)
