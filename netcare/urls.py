"""URL configuration."""

import sys

from django.contrib import admin
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.views import defaults
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api.middleware import unavailable

from .health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file of its own (?script=), so the
    # Content-Security-Policy needs no inline script; Swagger UI itself is served locally.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    path("webhooks/", include("alerts.urls")),
]


API_PREFIXES = ("/api/", "/webhooks/")


def _error(status: int, code: str, detail: str) -> JsonResponse:
    # Compact like DRF's renderer, so a 404 from here and one from a view read the same.
    return JsonResponse(
        {"code": code, "detail": detail, "errors": {}},
        status=status,
        json_dumps_params={"separators": (",", ":")},
    )


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's own 400s (oversized body, bad host header) in the API's error body."""
    if request.path.startswith(API_PREFIXES):
        return _error(400, "invalid", "Bad request.")
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith(API_PREFIXES):
        return _error(403, "permission_denied", "You may not do this.")
    return defaults.permission_denied(request, exception)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Unknown API URLs answer with the API's error body; pages for people stay pages."""
    if request.path.startswith(API_PREFIXES):
        return _error(404, "not_found", "Not found.")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """500 in the API's error body; a lost database connection, raised anywhere, is a 503."""
    if isinstance(sys.exc_info()[1], OperationalError | InterfaceError):
        return unavailable(request)
    return _error(500, "server_error", "Internal server error.")


handler400 = bad_request
handler403 = permission_denied
handler404 = not_found
handler500 = server_error
