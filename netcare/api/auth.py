"""JWT token endpoints with a throttle and django-axes lockout after repeated failures."""

from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from .base import ApiView
from .schema import NetcareAutoSchema
from .throttling import ScopedRateThrottle

LOCKED_OUT = {
    "code": "locked_out",
    "detail": "Too many failed logins; try again later.",
    "errors": {},
}


class TokenView(TokenObtainPairView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"
    parser_classes = ApiView.parser_classes
    schema = NetcareAutoSchema()

    @extend_schema(tags=["auth"])
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


class RefreshView(TokenRefreshView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"
    parser_classes = ApiView.parser_classes
    schema = NetcareAutoSchema()
