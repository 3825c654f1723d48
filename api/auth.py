"""JWT tokens: issued after the password (and the one-time code of a TOTP device), checked
against the user's current credentials on every request, rotated without outliving the login.

- Obtain: a throttle and django-axes lockout after repeated failures. A user with a confirmed
  TOTP device (django-otp) must also send ``otp``: missing, 401 ``otp_required``; wrong,
  401 ``otp_invalid``; both count as failed logins for the lockout.
- Every access and refresh token names the user's token generation (api/credentials.py):
  a password change, a deactivation or "log out everywhere" refuses all earlier tokens.
- Refresh: the presented token is blacklisted (at most one use) and the new one keeps its
  expiry, so a chain of rotations ends when the login's refresh lifetime ends.
"""

import re
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.db import IntegrityError, transaction
from django_otp import devices_for_user
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.serializers import TokenObtainSerializer
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from api.credentials import ROLE_CLAIM, TEAMS_CLAIM, VERSION_CLAIM, token_version
from treatments.roles import role_of
from treatments.selectors import team_ids_of

from .authentication import revocation_problem, token_user
from .base import ApiView
from .schema import NetcareAutoSchema
from .throttling import ScopedRateThrottle

LOCKED_OUT = {
    "code": "locked_out",
    "detail": "Too many failed logins; try again later.",
    "errors": {},
}
# A TOTP code: RFC 6238 codes are 6 to 8 decimal digits. ASCII only: int() would also take
# other scripts' digits and signs, which no authenticator app shows.
OTP_FORMAT = re.compile(r"[0-9]{6,8}")


# --- Schema -----------------------------------------------------------------------------------
class RevocableJWTScheme(SimpleJWTScheme):
    """Documents RevocableJWTAuthentication as the same bearer scheme (jwtAuth)."""

    target_class = "api.authentication.RevocableJWTAuthentication"


# --- Obtain -----------------------------------------------------------------------------------
class OtpRequired(exceptions.APIException):
    """401 with its own code: the password was right, the one-time code is still needed."""

    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "otp_required"
    default_detail = "This account has a second factor: send the one-time code as `otp`."


class OtpInvalid(exceptions.APIException):
    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "otp_invalid"
    default_detail = "The one-time code is wrong or has already been used."


def issue_tokens(user: Any) -> RefreshToken:
    """A new refresh token for ``user`` naming its current token generation, role and teams.

    Its access token (``.access_token``) copies the claims: ``tv`` (an int), ``role`` (a
    ``treatments.roles.Role`` value) and ``teams`` (the care-team ids, ascending). The
    generation is read first: a role or team change committed after it revokes this token,
    so the claims can never be newer than what ``tv`` vouches for nor older than it. The
    password digest claim is simplejwt's own (CHECK_REVOKE_TOKEN).
    """
    refresh = RefreshToken.for_user(user)
    refresh[VERSION_CLAIM] = token_version(user)
    user.__dict__.pop("_netcare_role", None)  # read the groups now, not a cached answer
    refresh[ROLE_CLAIM] = role_of(user).value
    refresh[TEAMS_CLAIM] = team_ids_of(user)
    return refresh


class TokenObtainPairSerializer(TokenObtainSerializer):
    """Username and password, plus `otp` for users with a confirmed TOTP device."""

    otp = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=16,
        write_only=True,
        help_text="The current code of the user's authenticator app; required (and only "
        "read) when the user has a confirmed TOTP device.",
    )
    access = serializers.CharField(read_only=True)
    refresh = serializers.CharField(read_only=True)

    @classmethod
    def get_token(cls, user: Any) -> RefreshToken:
        return issue_tokens(user)

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        super().validate(attrs)  # the password: sets self.user or raises 401
        self._check_second_factor(attrs)
        refresh = self.get_token(self.user)
        return {"refresh": str(refresh), "access": str(refresh.access_token)}

    def _check_second_factor(self, attrs: dict[str, Any]) -> None:
        code = attrs.get("otp") or ""
        with transaction.atomic():
            # Locked rows: two requests with one code cannot both pass (the device keeps the
            # last time step used and refuses it again).
            devices = list(devices_for_user(self.user, confirmed=True, for_verify=True))
            if not devices:
                return
            if not code:
                failure: exceptions.APIException = OtpRequired()
            elif OTP_FORMAT.fullmatch(code) and any(d.verify_token(code) for d in devices):
                return
            else:
                failure = OtpInvalid()
        # A failed login as far as django-axes is concerned: it counts towards the lockout.
        user_login_failed.send(
            sender=__name__,
            credentials={self.username_field: attrs[self.username_field]},
            request=self.context.get("request"),
        )
        raise failure


OBTAIN_DESCRIPTION = (
    "Exchange a username and password for an access and a refresh token. A user with a "
    "confirmed TOTP device also sends `otp`, the current code of the authenticator app: "
    "without it the answer is 401 `otp_required`, with a wrong or reused one 401 "
    "`otp_invalid`; both count as failed logins towards the lockout (429 `locked_out`)."
)


class TokenView(TokenObtainPairView):
    serializer_class = TokenObtainPairSerializer
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"
    parser_classes = ApiView.parser_classes
    schema = NetcareAutoSchema()

    @extend_schema(tags=["auth"], description=OBTAIN_DESCRIPTION)
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        username = request.data.get("username") if isinstance(request.data, dict) else None
        if isinstance(username, str) and AxesProxyHandler.is_locked(
            request._request, credentials={"username": username}
        ):
            return Response(LOCKED_OUT, status=status.HTTP_429_TOO_MANY_REQUESTS)
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except TokenError as exc:
            raise InvalidToken(exc.args[0]) from exc
        _forget_failures(request, serializer.user)
        return Response(serializer.validated_data, status=status.HTTP_200_OK)


def _forget_failures(request: Request, user: Any) -> None:
    """A successful login clears that username's failures from this address.

    simplejwt never sends user_logged_in, so django-axes does not hear of the success and
    AXES_RESET_ON_SUCCESS would not apply: earlier typos would go on counting towards a
    lockout. axes' own user_logged_in handler is not used either: it creates a session (and
    a cookie) on every token request, which JWT clients do not want.
    """
    if not (settings.AXES_ENABLED and settings.AXES_RESET_ON_SUCCESS):
        return
    AxesProxyHandler.update_request(request._request)
    AxesProxyHandler.reset_attempts(
        ip_address=request._request.axes_ip_address, username=user.get_username()
    )


# --- Refresh ----------------------------------------------------------------------------------
class TokenRefreshSerializer(serializers.Serializer):
    """A refresh token in, a new access and refresh token out; the old one is used up."""

    refresh = serializers.CharField()
    access = serializers.CharField(read_only=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        refresh = RefreshToken(attrs["refresh"])  # signature, expiry, type, blacklist
        user = token_user(refresh)
        problem = revocation_problem(user, refresh)
        if problem:
            raise InvalidToken(problem)
        _use_up(refresh, user)
        # The rotated token keeps the old one's "exp": rotation renews the token, not the
        # login, so a stolen refresh token dies when the original would have.
        refresh.set_jti()
        refresh.set_iat()
        refresh.outstand()
        access = refresh.access_token
        access["exp"] = min(access["exp"], refresh["exp"])
        return {"access": str(access), "refresh": str(refresh)}


def _use_up(refresh: RefreshToken, user: Any) -> None:
    """Blacklist the presented refresh token; InvalidToken if another request already did.

    simplejwt's blacklist() is a get_or_create, so two requests racing with one token would
    both get new tokens; creating the blacklist row lets the database pick one winner.
    """
    jti = refresh[api_settings.JTI_CLAIM]
    try:
        with transaction.atomic():
            outstanding, _ = OutstandingToken.objects.get_or_create(
                jti=jti,
                defaults={
                    "user": user,
                    "token": str(refresh),
                    "created_at": refresh.current_time,
                    "expires_at": datetime_from_epoch(refresh["exp"]),
                },
            )
            BlacklistedToken.objects.create(token=outstanding)
    except IntegrityError as exc:
        raise InvalidToken("Token is blacklisted") from exc


class RefreshView(TokenRefreshView):
    serializer_class = TokenRefreshSerializer
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"
    parser_classes = ApiView.parser_classes
    schema = NetcareAutoSchema()

    @extend_schema(
        tags=["auth"],
        description="Exchange a refresh token for a new access and refresh token. The "
        "presented refresh token is used up; the new one expires when the login's first "
        "refresh token would have. Tokens issued before a password change, a deactivation "
        "or a log-out-everywhere answer 401.",
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)
