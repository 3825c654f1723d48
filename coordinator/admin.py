"""The coordinator's admin: what coordinator's site (coordinator/sites.py) registers.

The course admin with the course at a glance and the record-event forms
(coordinator/course_admin.py); the users' admin with its "log out everywhere" action and the
second-factor devices' admin answering 404 for a missing device (coordinator/user_admin.py).
The last two take the place of the admins Django and django-otp register for the same models,
as Django's documentation does for a custom user admin.
"""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django_otp.plugins.otp_totp.models import TOTPDevice

from treatments.models import Course

from .course_admin import CourseOverviewAdmin
from .user_admin import NetcareUserAdmin, TOTPDeviceAdmin

admin.site.register(Course, CourseOverviewAdmin)

for model, model_admin in ((get_user_model(), NetcareUserAdmin), (TOTPDevice, TOTPDeviceAdmin)):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)
