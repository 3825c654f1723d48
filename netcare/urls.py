"""URL configuration."""

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.views import defaults
from django_otp.admin import OTPAdminSite
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from .health import healthz

if settings.ADMIN_OTP_REQUIRED:
    # Staff must pass a verified TOTP device as well as the password to open the admin.
    admin.site.__class__ = OTPAdminSite

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("netcare.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("webhooks/", include("alerts.urls")),
]


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Unknown API URLs answer with the API's error body; pages for people stay pages."""
    if request.path.startswith(("/api/", "/webhooks/")):
        return JsonResponse({"code": "not_found", "detail": "Not found.", "errors": {}}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {"code": "server_error", "detail": "Internal server error.", "errors": {}}, status=500
    )


handler404 = not_found
handler500 = server_error
