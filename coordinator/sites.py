"""The admin site the coordinator works in: the worklist as its index, two factors when asked.

Chosen with ``AdminConfig.default_site`` (coordinator.apps.CoordinatorAdminConfig), so
``admin.site`` is an instance of this class from the start and nothing is rewired at import.
With ``settings.ADMIN_OTP_REQUIRED`` (on in production) it behaves as django-otp's
``OTPAdminSite``: the login form asks for a token and only a user verified by a TOTP device
counts as staff. The setting is read on each request, so a test can switch it.
https://docs.djangoproject.com/en/5.2/ref/contrib/admin/#overriding-the-default-admin-site
https://django-otp-official.readthedocs.io/en/stable/overview.html#admin
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite

from . import worklist


class CoordinatorAdminSite(admin.AdminSite):
    """The project's admin site: worklist index; OTPAdminSite's rules when two factors are on."""

    site_header = "NetCare"
    site_title = "NetCare admin"
    index_title = "Worklist"

    @staticmethod
    def two_factors() -> bool:
        """Whether staff need a verified TOTP device as well as the password."""
        return bool(settings.ADMIN_OTP_REQUIRED)

    @property
    def login_form(self) -> type[AdminAuthenticationForm]:  # type: ignore[override]
        return OTPAdminAuthenticationForm if self.two_factors() else AdminAuthenticationForm

    @property
    def login_template(self) -> str | None:  # type: ignore[override]
        return OTPAdminSite.login_template if self.two_factors() else None

    def has_permission(self, request: HttpRequest) -> bool:
        """Active staff; with two factors also verified by a device (as OTPAdminSite asks)."""
        # OTPAdminSite's own check; OTPMiddleware gives every user is_verified().
        verified = not self.two_factors() or request.user.is_verified()
        return super().has_permission(request) and verified

    def get_urls(self) -> list[URLPattern]:
        """Django's, with the worklist's export (``worklist/export/csv/``, ``.../xlsx/``) before
        the catch-all."""
        return [
            path(
                "worklist/export/<str:fmt>/",
                self.admin_view(worklist.export),
                name="worklist_export",
            ),
            *super().get_urls(),
        ]

    def index(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Coordinators and clinicians get the worklist; other staff the plain list of models."""
        if not worklist.shows_worklist(request.user):
            return super().index(request, extra_context)
        return worklist.index(request, site=self, extra_context=extra_context)
