"""The admin as production serves it (ADMIN_OTP_REQUIRED): for tests that need two factors.

netcare/urls.py decides at import whether the site is an OTPAdminSite, so a test cannot switch
it with override_settings. This URLconf rebuilds the same site the same way: every ModelAdmin
of the project on a fresh site, the worklist installed, then the class swapped to OTPAdminSite.
"""

from django.contrib import admin
from django.urls import path
from django_otp.admin import OTPAdminSite

from coordinator.admin import install_worklist

site = admin.AdminSite(name="admin")
for model, model_admin in admin.site._registry.items():
    site.register(model, type(model_admin))
install_worklist(site)
site.__class__ = OTPAdminSite

urlpatterns = [path("admin/", site.urls)]
