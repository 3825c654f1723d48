"""Attacks on the FHIR export and the calendar feed.

Another team's ids, malformed ids and secrets, every HTTP method, odd suffixes, concurrent
rotations, and patient text that a FHIR reader or a phone calendar would choke on or learn
the diagnosis from. What each must answer is what docs/api.md promises: a valid Bundle or
calendar, or a 4xx with a ``code``, never a 500 and never the secret in a log line.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, OperationalError, connection
from fhir.resources.R4B.bundle import Bundle
from rest_framework.test import APIClient

from api.calendar import services as calendar_services
from api.models import CalendarFeed, ReadAccess
from tests import factories
from tests.api import conftest as api_fixtures

pytestmark = pytest.mark.django_db

ME = "/api/v1/patients/me/calendar/"
# What a FHIR string may not hold (its regex is [ \r\n\t\S]+, with Java's \s, which counts
# vertical tab and form feed as blanks): every control character but tab, LF and CR.
FHIR_STRING_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


@pytest.fixture(autouse=True)
def _fresh_throttles() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


# The API tests' client logged in through the real token endpoint, and team B's course.
api = api_fixtures.api
course_b = api_fixtures.course_b


def strings_of(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_of(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_of(item)


# --- FHIR: ids, methods, roles ------------------------------------------------------------


@pytest.mark.parametrize(
    "course_id", ["abc", "1.5", "%C2%B2", "9" * 30, "-1", "0", "%00", "%ED%A0%80", "1%20", "１"]
)
def test_a_malformed_course_id_in_the_fhir_path_is_a_coded_4xx(api, coordinator, course, course_id):
    response = api(coordinator).get(f"/api/v1/courses/{course_id}/fhir/")

    assert response.status_code in (400, 404), (course_id, response.status_code)
    assert response.json()["code"] in ("not_found", "invalid")
    assert not ReadAccess.objects.exists()


def test_another_teams_course_is_a_404_through_every_way_of_asking(api, coordinator, course_b):
    client = api(coordinator)
    for path in (
        f"/api/v1/courses/{course_b.pk}/fhir/",
        f"/api/v1/courses/{course_b.pk}/fhir/?format=json",
        f"/api/v1/courses/{course_b.pk}/fhir/?_format=xml",
        f"/api/v1/courses/0{course_b.pk}/fhir/",
        f"/api/v1/courses/{course_b.pk}/fhir",
    ):
        response = client.get(path, HTTP_ACCEPT="application/fhir+xml")

        assert response.status_code in (301, 404), path
        if response.status_code == 404:
            assert response.json()["code"] == "not_found"
        assert b"Other" not in response.content
    assert not ReadAccess.objects.exists()


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_fhir_export_is_read_only(api, coordinator, course, method):
    response = getattr(api(coordinator), method)(f"/api/v1/courses/{course.pk}/fhir/", {})

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_a_fhir_export_that_cannot_be_logged_is_a_503_without_the_bundle(
    api, coordinator, course, monkeypatch
):
    client = api(coordinator)

    def refuse(*args, **kwargs):
        raise DatabaseError("could not extend file: No space left on device")

    monkeypatch.setattr("api.readlog._insert_rows", refuse)
    response = client.get(f"/api/v1/courses/{course.pk}/fhir/")

    assert response.status_code == 503
    assert response.json()["code"] == "read_log_unavailable"
    assert course.patient.mrn.encode() not in response.content


# --- FHIR: what the patient's record may hold ------------------------------------------------


@pytest.mark.parametrize(
    ("given", "family", "mrn"),
    [
        ('Ana "Nan"', "O'Brien-Łukasiewicz", "MRN\"'<>&"),
        ("Zoë", "李 王\u00a0Silva", "A-1"),
        ("Ana\x0bMaria", "Silva\x0c\x1b", "A\x01B"),
        ("\u202eanA", "Silva", "=1+1"),
    ],
)
def test_a_patients_odd_text_still_makes_a_valid_bundle(
    api, clinician, coordinator, team_a, given, family, mrn
):
    course = factories.register(clinician, team_a, given_name=given, family_name=family, mrn=mrn)

    response = api(coordinator).get(f"/api/v1/courses/{course.pk}/fhir/")

    assert response.status_code == 200, response.content[:300]
    bundle = Bundle.model_validate_json(response.content)
    assert bundle.type == "collection"
    document = json.loads(response.content)
    bad = [s for s in strings_of(document) if FHIR_STRING_FORBIDDEN.search(s)]
    assert bad == []
    (patient,) = [
        e["resource"] for e in document["entry"] if e["resource"]["resourceType"] == "Patient"
    ]
    stored = course.patient
    stored.refresh_from_db()
    printable = "".join(c for c in stored.family_name if not FHIR_STRING_FORBIDDEN.match(c))
    assert patient["name"][0]["family"].replace("\ufffd", "") == printable


@pytest.mark.parametrize("differentiation", ["poor", "mixed"])
def test_a_nec_or_minen_course_with_no_event_is_a_valid_bundle(
    api, clinician, coordinator, team_a, differentiation
):
    course = factories.register(
        clinician,
        team_a,
        diagnosis=factories.diagnosis_data(differentiation=differentiation, ki67_percent=40.0),
    )
    assert not course.events.exists()  # registered only: no event, no line, no result

    response = api(coordinator).get(f"/api/v1/courses/{course.pk}/fhir/")

    assert response.status_code == 200, response.content[:300]
    Bundle.model_validate_json(response.content)


def test_free_text_procedure_names_reach_the_bundle_as_valid_fhir_strings(
    api, clinician, coordinator, team_a
):
    course = factories.register(
        clinician,
        team_a,
        surgery=factories.surgery_data(procedure="other", procedure_detail="Whipple\x0b $x$ <b>"),
    )
    factories.advance(
        course,
        clinician,
        ("recurrence_detected", {"site": "liver", "resectable": True}),
        ("resection_started", {"procedure": 'segment "IVb"\x1b\x0c ]]>'}),
    )

    response = api(coordinator).get(f"/api/v1/courses/{course.pk}/fhir/")

    assert response.status_code == 200, response.content[:300]
    Bundle.model_validate_json(response.content)
    strings = list(strings_of(json.loads(response.content)))
    assert [s for s in strings if FHIR_STRING_FORBIDDEN.search(s)] == []
    assert any("Whipple" in s for s in strings)


# --- Calendar: who may issue and revoke -----------------------------------------------------


@pytest.mark.parametrize("patient_id", ["abc", "1.5", "%C2%B2", "9" * 30, "-1", "%00", "１"])
def test_a_malformed_patient_id_in_the_calendar_path_is_a_coded_4xx(
    api, coordinator, course, patient_id
):
    client = api(coordinator)
    for method in (client.post, client.delete):
        response = method(f"/api/v1/patients/{patient_id}/calendar/")

        assert response.status_code in (400, 404), (patient_id, response.status_code)
        assert response.json()["code"] in ("not_found", "invalid")
    assert not CalendarFeed.objects.exists()


def test_another_teams_staff_can_neither_issue_nor_revoke_a_patients_address(
    api, coordinator, coordinator2, course_b
):
    theirs = api(coordinator2).post(f"/api/v1/patients/{course_b.patient_id}/calendar/")
    assert theirs.status_code == 201
    path = urlsplit(theirs.json()["url"]).path

    issue = api(coordinator).post(f"/api/v1/patients/{course_b.patient_id}/calendar/")
    revoke = api(coordinator).delete(f"/api/v1/patients/{course_b.patient_id}/calendar/")

    assert (issue.status_code, revoke.status_code) == (404, 404)
    assert issue.json() == revoke.json() and issue.json()["code"] == "not_found"
    assert APIClient().get(path).status_code == 200  # their address still works
    assert CalendarFeed.objects.filter(revoked_at__isnull=True).count() == 1


def test_a_patient_cannot_use_the_staff_door_nor_an_integration_either_door(
    api, patient_user, integration, course
):
    patient = api(patient_user)
    partner = api(integration)

    assert patient.post(f"/api/v1/patients/{course.patient_id}/calendar/").status_code in (403, 404)
    assert partner.post(f"/api/v1/patients/{course.patient_id}/calendar/").status_code in (403, 404)
    assert partner.post(ME).status_code in (403, 404)
    assert not CalendarFeed.objects.exists()


@pytest.mark.postgres  # row locks between threads: SQLite locks the whole database instead
@pytest.mark.django_db(transaction=True)
def test_two_rotations_at_once_leave_exactly_one_live_address(team_a):
    clinician = factories.user("clinician-race", "clinician", team_a, is_staff=True)
    course = factories.register(clinician, team_a)
    patient = course.patient
    barrier = threading.Barrier(4)
    issued: list[str] = []
    failures: list[BaseException] = []

    def rotate() -> None:
        try:
            barrier.wait()
            issued.append(calendar_services.issue_feed(patient=patient, actor=clinician).token)
        except BaseException as error:
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=rotate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    live = [token for token in issued if calendar_services.live_feed(token) is not None]
    assert len(issued) == 4 and len(live) == 1
    assert CalendarFeed.objects.filter(patient=patient, revoked_at__isnull=True).count() == 1


# --- Calendar: the feed's address ---------------------------------------------------------


@pytest.fixture
def feed_path(api, patient_user, settings) -> str:
    settings.PUBLIC_BASE_URL = "https://netcare.example.org"
    response = api(patient_user).post(ME)
    assert response.status_code == 201
    return urlsplit(response.json()["url"]).path


def secret(path: str) -> str:
    return re.fullmatch(r"/api/v1/calendar/(.+)\.ics", path).group(1)


def test_the_secret_percent_encoded_is_the_same_address(feed_path):
    # Percent-decoding happens before routing: %41 is A. The same secret, the same feed.
    token = secret(feed_path)
    encoded = "".join(f"%{ord(c):02X}" for c in token)

    assert APIClient().get(f"/api/v1/calendar/{encoded}.ics").status_code == 200


@pytest.mark.parametrize(
    "variant",
    [
        "{t}.ICS",
        "{t}.ics/",
        "{t}",
        "{t}.ics.ics",
        "{t}.ical",
        "{t}=.ics",
        "{t}%00.ics",
        "{t}%0A.ics",
        "{t}%20.ics",
        " {t}.ics",
        "{t}.ics%3F",
        "{t}/.ics",
        "{fullwidth}.ics",
        "{upper}.ics",
        "{long}.ics",
    ],
)
def test_no_variant_of_the_address_but_itself_opens_the_feed(feed_path, variant):
    token = secret(feed_path)
    path = "/api/v1/calendar/" + variant.format(
        t=token,
        fullwidth="".join(
            chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in token
        ),
        upper=token.swapcase(),
        long=token * 200,
    )

    response = APIClient().get(path)

    assert response.status_code in (400, 404), (variant, response.status_code)
    assert b"BEGIN:VCALENDAR" not in response.content
    assert response.json()["code"] in ("not_found", "invalid")


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_feed_answers_no_method_that_could_change_it(feed_path, method):
    response = getattr(APIClient(), method)(feed_path)

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert APIClient().get(feed_path).status_code == 200
    assert CalendarFeed.objects.filter(revoked_at__isnull=True).count() == 1


def test_head_and_options_on_the_feed_tell_nothing_of_the_patient(feed_path, course):
    head = APIClient().head(feed_path)
    options = APIClient().options(feed_path)

    assert head.status_code == 200
    assert options.status_code in (200, 405)
    for response in (head, options):
        body = response.content.decode()
        assert course.patient.family_name not in body
        assert course.patient.mrn not in body


def test_a_live_secret_never_reaches_the_applications_log(feed_path, caplog, monkeypatch):
    token = secret(feed_path)
    rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["calendar_feed"]
    allowed = int(rate.split("/")[0])
    client = APIClient()

    with caplog.at_level(logging.DEBUG):
        statuses = [client.get(feed_path).status_code for _ in range(allowed + 1)]

        def refuse(*args, **kwargs):
            raise DatabaseError("could not extend file: No space left on device")

        cache.clear()
        monkeypatch.setattr("api.readlog._insert_rows", refuse)
        refused = client.get(feed_path)

    assert statuses[-1] == 429 and refused.status_code == 503
    logged = "\n".join(
        f"{record.getMessage()} {record.args!r} {getattr(record, 'request', '')!r}"
        for record in caplog.records
    )
    assert caplog.records, "nothing was logged: the test proves nothing"
    assert token not in logged
    assert quote(token) not in logged


def test_a_feed_names_no_team_clinic_person_or_diagnosis(
    api, clinician, patient_user, course, team_a
):
    team_a.name = "Neuroendocrine Tumour Unit"
    team_a.clinic = "Carcinoid Centre"
    team_a.save()
    response = api(patient_user).post(ME)
    path = urlsplit(response.json()["url"]).path

    text = APIClient().get(path).content.decode().lower()

    patient = course.patient
    for word in (
        team_a.name, team_a.clinic, "neuroendocrine", "tumour", "carcinoid", patient.family_name,
        patient.given_name, patient.mrn, patient.email, patient.phone, "surgery", "hemicolectomy",
        "ileocecal", "stage", "ki-67", "grade",
    ):  # fmt: skip
        assert word.lower() not in text, word
    assert "x-wr-calname:follow-up appointments" in text


@pytest.mark.parametrize(
    ("failure", "status", "code"),
    [(RuntimeError("boom"), 500, "server_error"), (OperationalError("gone"), 503, "unavailable")],
)
def test_a_feed_read_that_fails_is_answered_with_its_code_and_logged_without_the_secret(
    feed_path, caplog, monkeypatch, failure, status, code
):
    from api.calendar import views as calendar_views

    def fail(*args, **kwargs):
        raise failure

    monkeypatch.setattr(calendar_views.services, "feed_entries", fail)
    with caplog.at_level(logging.DEBUG):
        response = APIClient().get(feed_path)

    assert response.status_code == status
    assert response.json()["code"] == code
    assert caplog.records
    token = secret(feed_path)
    for record in caplog.records:
        assert token not in record.getMessage()
        assert token not in repr(getattr(record, "request", ""))
        assert token not in repr(record.args)


@pytest.mark.parametrize("which", [["--course", "{course}"], ["--team", "{team}"]])
def test_export_fhir_to_a_file_it_cannot_write_is_a_command_error(course, tmp_path, which):
    from django.core.management import CommandError, call_command

    args = [a.format(course=course.pk, team=course.care_team_id) for a in which]
    for out in (tmp_path / "missing" / "x.json", tmp_path):  # no such folder; a folder
        with pytest.raises(CommandError, match="Cannot write"):
            call_command("export_fhir", *args, "--user", "clinician", "--out", str(out), "--quiet")


def test_an_idempotency_key_never_stores_or_replays_a_feeds_secret(api, patient_user, course):
    from api.models import IdempotencyRecord

    client = api(patient_user)
    first = client.post(ME, HTTP_IDEMPOTENCY_KEY="same-key")
    second = client.post(ME, HTTP_IDEMPOTENCY_KEY="same-key")

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["url"] != second.json()["url"]  # a new address each time, as documented
    assert APIClient().get(urlsplit(first.json()["url"]).path).status_code == 404
    stored = json.dumps(list(IdempotencyRecord.objects.values()), default=str)
    assert secret(urlsplit(second.json()["url"]).path) not in stored
