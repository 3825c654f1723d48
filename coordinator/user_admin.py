"""The users' admin with a "log out everywhere" action.

Django's own UserAdmin already routes every password change and deactivation through
``save()``, where api/credentials.py revokes the user's API tokens; the action adds the
explicit revocation (a lost phone, a leaked token) without changing the password.
"""

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import ngettext

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


def install_user_admin(site: admin.AdminSite) -> None:
    """Register NetcareUserAdmin for the user model on ``site`` in place of Django's."""
    user_model = get_user_model()
    if site.is_registered(user_model):
        site.unregister(user_model)
    site.register(user_model, NetcareUserAdmin)
