"""Revoking a user's API tokens when their credentials change.

Each JWT carries two facts checked on every request and every refresh
(api/auth.py):

- ``tv``, the user's token generation when it was issued (api.models.TokenVersion).
  ``revoke_tokens`` adds one to it: a password change, a deactivation and an explicit
  "log out everywhere" call it, so every token issued before is refused at once.
- simplejwt's ``hash_password`` claim (CHECK_REVOKE_TOKEN), a digest of the stored password
  hash: a password written around ``save()`` (``QuerySet.update``, raw SQL) still revokes.

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

from api.models import TokenVersion

logger = logging.getLogger(__name__)

# The claim naming the token generation in every access and refresh token.
VERSION_CLAIM = "tv"

PASSWORD_CHANGED = "password_changed"  # noqa: S105 (a reason code, not a password)
DEACTIVATED = "deactivated"
LOGOUT_EVERYWHERE = "logout_everywhere"

# Set on a user instance by pre_save, read (and cleared) by post_save.
_PENDING = "_netcare_revoke_reason"


def token_version(user: Any) -> int:
    """The user's current token generation (0 when never revoked).

    Reads the row select_related by the authentication class when it is there, so checking a
    token costs no extra query.
    """
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
    if update_fields is not None and not ({"password", "is_active"} & set(update_fields)):
        return None  # e.g. last_login on every admin login: no read needed
    stored = get_user_model().objects.filter(pk=user.pk).values("password", "is_active").first()
    if stored is None:
        return None
    if stored["password"] != user.password:
        return PASSWORD_CHANGED
    if stored["is_active"] and not user.is_active:
        return DEACTIVATED
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
