"""The users' admin with a "log out everywhere" action, and the second-factor devices' admin.

Django's own UserAdmin already routes every password change and deactivation through
``save()``, where api/credentials.py revokes the user's API tokens; the action adds the
explicit revocation (a lost phone, a leaked token) without changing the password.
"""

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import ngettext
from django_otp.plugins.otp_totp import admin as otp_totp_admin
from django_otp.plugins.otp_totp.models import TOTPDevice

from api import credentials


class NetcareUserAdmin(UserAdmin):
    actions = ["log_out_everywhere"]

    @admin.action(
        description="Log out everywhere: revoke API tokens and end browser sessions",
        permissions=["change"],
    )
    def log_out_everywhere(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        sessions = 0
        # The session of this very request stays: deleting it mid-request would lose the
        # answer (and the admin acting on themselves can log out as usual).
        here = getattr(getattr(request, "session", None), "session_key", None)
        for user in queryset:
            sessions += credentials.log_out_everywhere(user, keep_session=here)
            # The admin's own log keeps who logged whom out, and when.
            self.log_change(request, user, "Logged out everywhere (API tokens revoked).")
        users = queryset.count()
        self.message_user(
            request,
            ngettext(
                "%(users)d user logged out everywhere (%(sessions)d browser sessions ended).",
                "%(users)d users logged out everywhere (%(sessions)d browser sessions ended).",
                users,
            )
            % {"users": users, "sessions": sessions},
            messages.SUCCESS,
        )


class TOTPDeviceAdmin(otp_totp_admin.TOTPDeviceAdmin):
    """django_otp's device admin; its QR-code views answer 404, not 500, for a missing id."""

    def _device_or_404(self, pk: int) -> None:
        if not TOTPDevice.objects.filter(pk=pk).exists():
            raise Http404

    def config_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        self._device_or_404(pk)
        return super().config_view(request, pk)

    def qrcode_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        self._device_or_404(pk)
        return super().qrcode_view(request, pk)
