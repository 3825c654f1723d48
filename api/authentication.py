"""Bearer authentication that refuses tokens revoked since they were issued.

Kept apart from the token views (api/auth.py): DRF imports this class while its own
settings load, before the views' imports could be resolved.
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import F, QuerySet
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import get_md5_hash_password

from api.compiled import CompiledQuery, as_bigint
from api.credentials import GENERATION_ATTR, ROLE_CLAIM, TEAMS_CLAIM, VERSION_CLAIM, token_version
from treatments.roles import Role
from treatments.selectors import remember_scope


def _user_with_generation(user_id: int) -> QuerySet:
    return (
        get_user_model()
        .objects.filter(**{api_settings.USER_ID_FIELD: user_id})
        .annotate(**{GENERATION_ATTR: F("token_version__version")})
    )


# One statement per request: the user row and its token generation (a LEFT JOIN).
_USER = CompiledQuery(_user_with_generation)


def token_user(token: Token) -> Any:
    """The user a validated token names, with its token generation; None if gone."""
    user_id = as_bigint(token.get(api_settings.USER_ID_CLAIM))
    if user_id is None:
        return None  # no claim, or one that is not an id of this user model
    found = list(_USER.run(user_id))
    return found[0] if found else None


def revocation_problem(user: Any, token: Token) -> str | None:
    """Why ``token`` no longer speaks for ``user`` (None when it still does).

    Refused: a deleted or deactivated user; a token of an earlier generation (tokens without
    the claim count as generation 0, so they die with the first revocation); a token issued
    before the password last changed, by any means, save() or not.
    """
    if user is None:
        return "The user of this token no longer exists."
    if not user.is_active:
        return "The user of this token is inactive."
    issued = token.get(VERSION_CLAIM, 0)
    if not isinstance(issued, int) or issued != token_version(user):
        return "This token has been revoked."
    if token.get(api_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(user.password):
        return "The password has changed since this token was issued."
    return None


def adopt_claims(user: Any, token: Token) -> None:
    """Take the user's role and care-team ids from ``token`` (checked current by the caller).

    Tokens issued before these claims existed (or with malformed ones) leave the user as it
    is: role and teams are then read from the tables, as before.
    """
    role, teams = token.get(ROLE_CLAIM), token.get(TEAMS_CLAIM)
    if not isinstance(role, str) or not isinstance(teams, list):
        return
    if role not in Role._value2member_map_ or not all(type(t) is int for t in teams):
        return
    remember_scope(user, Role(role), teams)


class RevocableJWTAuthentication(JWTAuthentication):
    """simplejwt's bearer authentication, refusing tokens revoked since they were issued.

    One query per request: the user and its token generation (select_related). The role and
    care-team ids come from the token's claims, which a change of either revokes
    (api/credentials.py), so no request reads the group or membership tables.
    """

    def get_user(self, validated_token: Token) -> Any:
        user = token_user(validated_token)
        problem = revocation_problem(user, validated_token)
        if problem:
            raise InvalidToken(problem)
        adopt_claims(user, validated_token)
        return user
