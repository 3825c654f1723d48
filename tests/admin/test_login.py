"""The admin login: django-axes locks out guessing, and staff need a second factor in production."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.urls import resolve, reverse
from django_otp.admin import OTPAdminAuthenticationForm
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from coordinator.sites import CoordinatorAdminSite
from tests import factories

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"


def logged_in_user_id(client) -> str | None:
    return client.session.get("_auth_user_id")


def token_of(device: TOTPDevice) -> str:
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    return f"{code:0{device.digits}d}"


# --- django-axes -----------------------------------------------------------------------------


def test_repeated_wrong_passwords_lock_the_username_out_even_with_the_right_one(
    client, coordinator
):
    wrong = {"username": "coordinator", "password": "not-the-password", "next": "/admin/"}
    answers = [client.post(LOGIN, wrong).status_code for _ in range(settings.AXES_FAILURE_LIMIT)]

    right = client.post(LOGIN, {**wrong, "password": factories.PASSWORD})

    assert answers[:-1] == [200] * (settings.AXES_FAILURE_LIMIT - 1)  # the form again
    assert answers[-1] == 429
    assert right.status_code == 429
    assert logged_in_user_id(client) is None
    assert client.get("/admin/").status_code == 302  # still sent to the login page


def test_the_lockout_is_per_username_so_a_colleague_can_still_log_in(
    client, coordinator, clinician
):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(LOGIN, {"username": "coordinator", "password": "guess"})

    response = client.post(
        LOGIN, {"username": "clinician", "password": factories.PASSWORD, "next": "/admin/"}
    )

    assert response.status_code == 302
    assert logged_in_user_id(client) == str(clinician.pk)


def test_a_right_password_before_the_limit_logs_in_and_resets_the_count(client, coordinator):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post(LOGIN, {"username": "coordinator", "password": "guess"})

    response = client.post(
        LOGIN, {"username": "coordinator", "password": factories.PASSWORD, "next": "/admin/"}
    )

    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


# --- Two factors (django-otp), as production runs the admin ----------------------------------


@pytest.fixture
def two_factors(settings):
    """The admin as production serves it: a verified TOTP device needed besides the password."""
    settings.ADMIN_OTP_REQUIRED = True


@pytest.mark.usefixtures("two_factors")
def test_a_staff_user_without_a_verified_device_cannot_open_the_admin(client, coordinator, course):
    client.force_login(coordinator, backend="django.contrib.auth.backends.ModelBackend")

    index = client.get("/admin/")
    course_page = client.get(reverse("admin:treatments_course_change", args=[course.pk]))

    assert index.status_code == 302
    assert index["Location"].startswith(LOGIN)
    assert course_page.status_code == 302
    assert course_page["Location"].startswith(LOGIN)


@pytest.mark.usefixtures("two_factors")
def test_the_password_alone_does_not_log_a_staff_user_in(client, coordinator):
    TOTPDevice.objects.create(user=coordinator, name="phone", confirmed=True)

    response = client.post(
        LOGIN, {"username": "coordinator", "password": factories.PASSWORD, "next": "/admin/"}
    )

    assert response.status_code == 200  # the form again, asking for the token
    assert logged_in_user_id(client) is None


@pytest.mark.usefixtures("two_factors")
def test_password_and_token_open_the_worklist(client, coordinator):
    device = TOTPDevice.objects.create(user=coordinator, name="phone", confirmed=True)

    response = client.post(
        LOGIN,
        {"username": "coordinator", "password": factories.PASSWORD,
         "otp_device": device.persistent_id, "otp_token": token_of(device), "next": "/admin/"},
    )  # fmt: skip
    index = client.get("/admin/")

    assert response.status_code == 302
    assert index.status_code == 200
    assert "admin/coordinator/worklist.html" in [t.name for t in index.templates]


def test_the_project_site_is_the_coordinator_site_with_the_worklist_as_its_index():
    assert isinstance(admin.site, CoordinatorAdminSite)
    assert resolve("/admin/").func.__qualname__ == "CoordinatorAdminSite.index"


@pytest.mark.parametrize(
    ("required", "verified", "allowed", "form"),
    [
        (True, False, False, OTPAdminAuthenticationForm),
        (True, True, True, OTPAdminAuthenticationForm),
        (False, False, True, AdminAuthenticationForm),
    ],
)
def test_the_site_asks_for_a_verified_device_only_when_two_factors_are_required(
    settings, rf, required, verified, allowed, form
):
    settings.ADMIN_OTP_REQUIRED = required
    request = rf.get("/admin/")
    request.user = SimpleNamespace(is_active=True, is_staff=True, is_verified=lambda: verified)

    assert admin.site.has_permission(request) is allowed
    assert admin.site.login_form is form
