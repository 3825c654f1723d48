"""JWT token endpoints with a throttle and django-axes lockout after repeated failures."""

from axes.handlers.proxy import AxesProxyHandler
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView


class TokenView(TokenObtainPairView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"

    @extend_schema(tags=["auth"])
    def post(self, request: Request, *args, **kwargs) -> Response:
        username = request.data.get("username") if isinstance(request.data, dict) else None
        if isinstance(username, str) and AxesProxyHandler.is_locked(
            request._request, credentials={"username": username}
        ):
            return Response(
                {
                    "code": "locked_out",
                    "detail": "Too many failed logins; try again later.",
                    "errors": {},
                },
                status=429,
            )
        return super().post(request, *args, **kwargs)


class RefreshView(TokenRefreshView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"
