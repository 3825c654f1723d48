"""What every answer carries: no-store, a Content-Security-Policy the pages work under, and a
503 (not a 500) when the database connection is lost."""

import contextlib
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import psycopg
import pytest
from django.contrib.staticfiles import finders
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

pytestmark = pytest.mark.django_db


class Tags(HTMLParser):
    """The <script> and stylesheet <link> tags of a page, with whether a script is inline."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict] = []
        self.stylesheets: list[str] = []
        self._open: dict | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        found = dict(attrs)
        if tag == "script":
            self._open = found | {"body": ""}
            self.scripts.append(self._open)
        elif tag == "link" and found.get("rel") == "stylesheet":
            self.stylesheets.append(found.get("href") or "")

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open["body"] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._open = None


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def runnable(script: dict) -> bool:
    # Data blocks (json_script) are never executed, so CSP does not govern them.
    return script.get("type", "text/javascript") in ("text/javascript", "module", "")


def blocked_scripts(response) -> list[str]:
    """Scripts of the page that its own Content-Security-Policy would not let run."""
    rules = policy(response)
    script_src = rules.get("script-src", rules.get("default-src", []))
    nonces = {s.removeprefix("'nonce-").removesuffix("'") for s in script_src if "nonce-" in s}
    tags = Tags()
    tags.feed(response.content.decode())
    blocked = []
    for script in filter(runnable, tags.scripts):
        src = script.get("src")
        if src is None:
            if script.get("nonce") not in nonces or not script.get("nonce"):
                blocked.append(f"inline script {script['body'][:60]!r}")
        elif urlsplit(src).netloc or "'self'" not in script_src:
            blocked.append(f"script from {src}")
    blocked += [f"stylesheet {href}" for href in tags.stylesheets if urlsplit(href).netloc]
    return blocked


def bearer(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


def test_api_answers_are_never_stored_by_a_cache(coordinator, course, patient_user):
    staff, patient = bearer(coordinator), bearer(patient_user)
    answers = [
        staff.get("/api/v1/courses/"),
        staff.get(f"/api/v1/courses/{course.pk}/"),
        staff.get(f"/api/v1/patients/{course.patient_id}/"),
        staff.get("/api/v1/alerts/"),
        patient.get("/api/v1/patients/me/"),
        staff.get("/api/v1/courses/999999/"),
        APIClient().get("/api/v1/courses/"),
        staff.get("/api/v1/courses/?care_team=%C2%B2"),
    ]

    for response in answers:
        assert "no-store" in response["Cache-Control"], response.request["PATH_INFO"]
    assert [r.status_code for r in answers] == [200, 200, 200, 200, 200, 404, 401, 400]


@pytest.fixture
def admin_client(coordinator) -> Client:
    client = Client()
    client.force_login(coordinator)
    return client


def test_admin_pages_carry_no_store_and_a_policy_their_scripts_run_under(admin_client, course):
    pages = {
        "worklist": "/admin/",
        "course": f"/admin/treatments/course/{course.pk}/change/",
        "course list": "/admin/treatments/course/",
        "login": "/admin/login/",
    }
    for name, url in pages.items():
        response = admin_client.get(url, follow=name == "login")

        assert response.status_code == 200, name
        assert "no-store" in response["Cache-Control"], name
        rules = policy(response)
        assert rules["frame-ancestors"] == ["'none'"]
        assert rules["object-src"] == ["'none'"]
        assert "'unsafe-inline'" not in rules["script-src"]
        assert blocked_scripts(response) == [], name
    # The course page draws the state machine as inline SVG: elements, no script in it.
    page = admin_client.get(pages["course"]).content.decode()
    drawing = re.search(r'class="nc-machine"><svg.*?</svg>', page, re.S)
    assert drawing is not None and "<script" not in drawing.group(0)


def test_the_api_docs_load_swagger_ui_from_this_server_under_the_policy(admin_client):
    page = admin_client.get("/api/docs/")

    assert page.status_code == 200
    assert blocked_scripts(page) == []
    tags = Tags()
    tags.feed(page.content.decode())
    sources = [s["src"] for s in tags.scripts if s.get("src")] + tags.stylesheets
    assert len(sources) >= 4  # bundle, standalone preset, start-up script, stylesheet
    for src in sources:
        if src.startswith("/static/"):
            assert finders.find(src.removeprefix("/static/")), src
        else:
            started = admin_client.get(src)
            assert started.status_code == 200, src
            assert "javascript" in started["Content-Type"]
            assert "/api/schema/" in started.content.decode()


# --- A lost database connection --------------------------------------------------------------


def terminate_this_connection() -> None:
    """Kill the server side of Django's connection from a second session, as a failover would."""
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_lost_database_connection_answers_503_unavailable_in_the_api_and_the_admin(
    coordinator, course
):
    api = bearer(coordinator)
    # As a server would: the answer, not the exception (the session middleware's save fails
    # after the view, which handler500 turns into the same 503).
    admin = Client(raise_request_exception=False)
    admin.force_login(coordinator)
    try:
        terminate_this_connection()
        from_api = api.get("/api/v1/courses/")
        connection.close()
        terminate_this_connection()
        from_admin = admin.get("/admin/")
    finally:
        # The connection is already gone; closing may complain, and a new one follows.
        with contextlib.suppress(Exception):
            connection.close()

    assert from_api.status_code == 503
    assert from_api.json() == {
        "code": "unavailable",
        "detail": "The service is temporarily unavailable; try again shortly.",
        "errors": {},
    }
    assert from_api["Retry-After"] == "30"
    assert from_admin.status_code == 503
    assert "no-store" in from_admin["Cache-Control"]
    # Afterwards a new connection serves requests again.
    assert api.get("/api/v1/courses/").status_code == 200
