"""A user with a confirmed TOTP device gets API tokens only with the one-time code, over HTTP.

The codes are computed from the device's own key (RFC 6238, as an authenticator app does),
not stubbed: a real code opens, a missing, wrong or replayed one is a 401 with its own code
and counts towards the django-axes lockout.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from tests import factories

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"


@pytest.fixture(autouse=True)
def _fresh_throttles() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def device(coordinator) -> TOTPDevice:
    return TOTPDevice.objects.create(user=coordinator, name="phone", confirmed=True)


def code_of(device: TOTPDevice) -> str:
    """The code the authenticator app shows now for this device."""
    value = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    return f"{value:0{device.digits}d}"


def wrong_code(device: TOTPDevice) -> str:
    right = int(code_of(device))
    return f"{(right + 500_000) % 1_000_000:06d}"


def obtain(username: str = "coordinator", **extra: Any) -> Any:
    body = {"username": username, "password": factories.PASSWORD, **extra}
    return APIClient().post(TOKEN, body, format="json")


def assert_refused(response: Any, code: str) -> None:
    assert response.status_code == 401, response.content
    assert response.json()["code"] == code
    assert set(response.json()) == {"code", "detail", "errors"}
    assert "access" not in response.json()


def test_the_right_code_with_the_password_gives_tokens_that_work(device, course):
    response = obtain(otp=code_of(device))

    assert response.status_code == 200, response.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    assert client.get(f"/api/v1/patients/{course.patient_id}/").status_code == 200


@pytest.mark.parametrize(
    ("label", "otp", "code"),
    [
        ("no otp field", None, "otp_required"),
        ("an empty otp", "", "otp_required"),
        ("a wrong code", "wrong", "otp_invalid"),
        ("letters", "abcdef", "otp_invalid"),
        ("too short", "12345", "otp_invalid"),
        ("other scripts' digits", "١٢٣٤٥٦", "otp_invalid"),
        ("a signed number", "+12345", "otp_invalid"),
    ],
)
def test_the_password_alone_or_with_a_bad_code_is_refused_with_a_machine_readable_code(
    device, label, otp, code
):
    if otp == "wrong":
        otp = wrong_code(device)
    extra = {} if otp is None else {"otp": otp}

    assert_refused(obtain(**extra), code)


def test_a_code_is_good_once(device):
    code = code_of(device)

    assert obtain(otp=code).status_code == 200
    assert_refused(obtain(otp=code), "otp_invalid")


def test_a_wrong_password_is_refused_before_the_code_is_looked_at(device):
    response = APIClient().post(
        TOKEN, {"username": "coordinator", "password": "wrong", "otp": code_of(device)},
        format="json",
    )  # fmt: skip

    assert_refused(response, "not_authenticated")
    assert obtain(otp=code_of(device)).status_code == 200, "the code was not spent"


def test_missing_and_wrong_codes_count_towards_the_lockout(device):
    limit = settings.AXES_FAILURE_LIMIT
    failures = [obtain().status_code for _ in range(limit - 1)]
    failures.append(obtain(otp=wrong_code(device)).status_code)

    locked = obtain(otp=code_of(device))

    assert failures == [401] * limit
    assert locked.status_code == 429
    assert locked.json()["code"] == "locked_out"


def test_users_without_a_confirmed_device_log_in_with_the_password_alone(
    coordinator, clinician, patient_user
):
    TOTPDevice.objects.create(user=clinician, name="half set up", confirmed=False)

    for username in ("coordinator", "clinician", "patient"):
        response = obtain(username)
        assert response.status_code == 200, (username, response.content)
        assert set(response.json()) == {"access", "refresh"}


def test_a_patient_with_a_device_needs_the_code_too(patient_user):
    device = TOTPDevice.objects.create(user=patient_user, name="phone", confirmed=True)

    assert_refused(obtain("patient"), "otp_required")
    assert obtain("patient", otp=code_of(device)).status_code == 200


def test_the_schema_documents_the_otp_field_and_its_refusals():
    schema = APIClient().get("/api/schema/?format=json").json()
    request = schema["components"]["schemas"]["TokenObtainPairRequest"]
    operation = schema["paths"]["/api/v1/auth/token/"]["post"]

    assert "otp" in request["properties"]
    assert "otp" not in request.get("required", [])
    assert "otp_required" in operation["description"]
    assert "otp_invalid" in operation["description"]
