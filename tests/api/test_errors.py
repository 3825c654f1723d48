"""Every refusal has the same body, `{code, detail, errors}`, with the codes of docs/api.md#errors
(S13, S14).

DRF's own refusals (parse errors, authentication, throttling, routing) and Django's (unknown
URLs, oversized bodies) are reshaped too, and no error body carries a traceback or SQL.
"""

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.test import RequestFactory
from django.urls import get_resolver
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from netcare.urls import server_error
from tests import factories
from tests.api.figures import report

pytestmark = pytest.mark.django_db

CODES_SEEN: set[str] = set()


@pytest.fixture(autouse=True, scope="module")
def _report_codes_seen() -> Iterator[None]:
    yield
    report("error contract", f"distinct codes seen: {', '.join(sorted(CODES_SEEN))}")


def assert_error_body(response: Any, status: int, code: str) -> dict:
    """The response is `status` with the API's error body and `code`; returns the body."""
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert {"code", "detail", "errors"} <= set(body), body
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["errors"], dict)
    text = response.content.decode()
    for leak in ("Traceback", 'File "', "SELECT ", "INSERT ", "django.db", "psycopg", "sqlite"):
        assert leak not in text, f"{leak!r} in an error body"
    CODES_SEEN.add(code)
    return body


@pytest.fixture
def staff(api, coordinator, course) -> APIClient:
    return api(coordinator)


def _event(client: APIClient, course_id: int, **body: Any) -> Any:
    base = {"occurred_on": "2026-09-01", "reason": "tumour board", "data": {}}
    return client.post(f"/api/v1/courses/{course_id}/events/", base | body, format="json")


# Each case: (label, how to provoke it, status, code).
Provoke = Callable[[dict], Any]
CASES: list[tuple[str, Provoke, int, str]] = [
    ("parse error", lambda w: w["staff"].generic(
        "POST", "/api/v1/courses/", b"{oops", content_type="application/json"), 400, "invalid"),
    ("validation error", lambda w: w["staff"].post(
        "/api/v1/courses/", {}, format="json"), 400, "invalid"),
    ("unreadable filter", lambda w: w["staff"].get(
        "/api/v1/courses/", {"care_team": "²"}), 400, "invalid_filter"),
    ("NUL in a query parameter", lambda w: w["staff"].get(
        "/api/v1/alerts/", {"kind": "\x00"}), 400, "invalid"),
    ("lone surrogate in a body", lambda w: w["staff"].generic(
        "POST", "/api/v1/courses/", b'{"care_team": "\\ud800"}',
        content_type="application/json"), 400, "invalid"),
    ("no token", lambda w: APIClient().get("/api/v1/courses/"), 401, "not_authenticated"),
    ("malformed token", lambda w: APIClient(HTTP_AUTHORIZATION="Bearer not.a.jwt").get(
        "/api/v1/courses/"), 401, "not_authenticated"),
    ("token signed with another key", lambda w: APIClient(HTTP_AUTHORIZATION=(
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIiwidXNlcl9pZCI6MSwiZXhwIjo0"
        "MTAyNDQ0ODAwfQ.c2lnbmVkLXdpdGgtc29tZXRoaW5nLWVsc2U")).get("/api/v1/courses/"),
     401, "not_authenticated"),
    ("refresh token used as access", lambda w: APIClient(
        HTTP_AUTHORIZATION=f"Bearer {w['refresh']}").get("/api/v1/courses/"),
     401, "not_authenticated"),
    ("wrong password", lambda w: APIClient().post("/api/v1/auth/token/", {
        "username": "coordinator", "password": "wrong"}, format="json"), 401, "not_authenticated"),
    ("role may not", lambda w: w["patient"].get("/api/v1/patients/"), 403, "permission_denied"),
    ("session write without CSRF token", lambda w: w["session"].post(
        "/api/v1/courses/", {}, format="json"), 403, "permission_denied"),
    ("unknown id", lambda w: w["staff"].get("/api/v1/courses/987654/"), 404, "not_found"),
    ("unknown URL under /api/v1/", lambda w: w["staff"].get("/api/v1/nothing-here/"),
     404, "not_found"),
    ("unknown API version", lambda w: w["staff"].get("/api/v2/courses/"), 404, "not_found"),
    ("unknown URL without a slash", lambda w: APIClient().get("/api/nothing"), 404, "not_found"),
    ("method not allowed", lambda w: w["staff"].put(
        f"/api/v1/courses/{w['course'].pk}/", {}, format="json"), 405, "method_not_allowed"),
    ("unacceptable Accept", lambda w: w["staff"].get(
        "/api/v1/courses/", HTTP_ACCEPT="application/xml"), 406, "not_acceptable"),
    ("unsupported media type", lambda w: w["staff"].generic(
        "POST", "/api/v1/courses/", "a=b", content_type="application/x-www-form-urlencoded"),
     415, "unsupported_media_type"),
    ("transition not allowed", lambda w: _event(
        w["staff"], w["course"].pk, type="ssa_started", data=factories.SSA),
     409, "transition_not_allowed"),
    ("stale version", lambda w: _event(
        w["staff"], w["course"].pk, type="recurrence_detected", expected_version=99,
        data={"site": "liver", "resectable": True}), 409, "stale_version"),
]  # fmt: skip


@pytest.fixture
def world(staff, api, patient_user, coordinator, course) -> dict:
    from rest_framework_simplejwt.tokens import RefreshToken

    session = APIClient(enforce_csrf_checks=True)
    session.force_login(coordinator)
    return {
        "staff": staff,
        "patient": api(patient_user),
        "session": session,
        "course": course,
        "refresh": str(RefreshToken.for_user(coordinator)),
    }


@pytest.mark.parametrize(("label", "provoke", "status", "code"), CASES, ids=[c[0] for c in CASES])
def test_each_refusal_has_the_error_body_with_its_code(world, label, provoke, status, code):
    assert_error_body(provoke(world), status, code)


def test_a_transition_refusal_names_the_state_and_the_allowed_events(staff, course):
    body = assert_error_body(
        _event(staff, course.pk, type="ssa_started", data=factories.SSA),
        409,
        "transition_not_allowed",
    )

    assert body["state"] == "surveillance"
    assert "recurrence_detected" in body["allowed_events"]


def test_a_guideline_guard_names_the_guard_its_reason_source_and_override(staff, course, clinician):
    factories.advance(
        course, clinician, ("recurrence_detected", {"site": "liver", "resectable": False}),
        ("ssa_started", factories.SSA), ("progression_detected", {"recist": "PD"}),
    )  # fmt: skip

    response = _event(
        staff, course.pk, type="prrt_started", data=factories.PRRT | {"activity_gbq": 9.0}
    )

    body = assert_error_body(response, 422, "guideline_guard")
    assert body["guard"] == "prrt_activity_in_range"
    assert body["reason"] and body["source"]
    assert body["override_allowed"] is True


def test_an_expired_access_token_is_not_authenticated(coordinator):
    client = APIClient()
    tokens = client.post(
        "/api/v1/auth/token/",
        {"username": "coordinator", "password": factories.PASSWORD},
        format="json",
    ).json()
    lifetime = settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"]

    with time_machine.travel(dt.datetime.now(tz=dt.UTC) + lifetime + dt.timedelta(seconds=5)):
        response = client.get("/api/v1/courses/", HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")

    assert_error_body(response, 401, "not_authenticated")


def test_throttling_has_the_error_body_and_retry_after(coordinator):
    client = APIClient()
    credentials = {"username": "coordinator", "password": factories.PASSWORD}
    responses = [client.post("/api/v1/auth/token/", credentials, format="json") for _ in range(25)]

    throttled = next(r for r in responses if r.status_code == 429)
    assert_error_body(throttled, 429, "throttled")
    assert int(throttled["Retry-After"]) > 0


def test_a_body_django_refuses_as_too_big_is_a_json_error(staff, course):
    huge = b'{"reason": "' + b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10) + b'"}'

    response = staff.generic(
        "POST", f"/api/v1/courses/{course.pk}/events/", huge, content_type="application/json"
    )

    assert_error_body(response, 400, "invalid")


def test_a_server_error_answers_json_without_a_traceback():
    response = server_error(RequestFactory().get("/api/v1/courses/"))

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert (
        response.content == b'{"code":"server_error","detail":"Internal server error.","errors":{}}'
    )


def test_a_404_for_an_unknown_url_reads_like_one_from_a_view(staff):
    from_router = staff.get("/api/v1/nothing-here/")
    from_view = staff.get("/api/v1/courses/987654/")

    assert from_router.content == from_view.content


def test_the_default_permission_is_not_allow_any():
    assert api_settings.DEFAULT_PERMISSION_CLASSES
    assert all(not issubclass(p, AllowAny) for p in api_settings.DEFAULT_PERMISSION_CLASSES)
    assert IsAuthenticated in api_settings.DEFAULT_PERMISSION_CLASSES


def test_every_api_view_but_the_token_endpoints_and_the_calendar_feed_requires_authentication():
    public = []
    for pattern in get_resolver().url_patterns:
        if getattr(pattern, "namespace", None) != "api":
            continue
        for inner in pattern.url_patterns:
            view = inner.callback.cls
            if not any(issubclass(p, IsAuthenticated) for p in view.permission_classes):
                public.append(inner.name)

    # The calendar feed's secret address is its credential (docs/api.md#calendar-feed).
    assert sorted(public) == ["calendar-feed", "token", "token-refresh"]


def test_the_browsable_api_is_off_in_production():
    environment = os.environ | {
        "DJANGO_ENV": "production", "SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "netcare.example",
        "DJANGO_SETTINGS_MODULE": "netcare.settings",
    }  # fmt: skip
    code = (
        "import django; django.setup(); from rest_framework.settings import api_settings; "
        "print([r.__name__ for r in api_settings.DEFAULT_RENDERER_CLASSES])"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True,
        cwd=settings.BASE_DIR,
    )  # fmt: skip

    assert result.stdout.strip() == "['JSONRenderer']"
