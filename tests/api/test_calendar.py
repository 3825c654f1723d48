"""The patient's schedule as a secret, revocable iCalendar feed.

The feed is read back with the library that wrote it (``icalendar.Calendar.from_ical``) and
compared with the stored due items: one all-day event per open item, on its date, named by a
generic kind only, with display alarms at the reminder lead times. Its address is a secret
that only a hash of is stored; a new one rotates it, a DELETE revokes it at once, and every
read is logged with the feed as the reader.
"""

import datetime as dt
import hashlib
import re
from urllib.parse import urlsplit

import pytest
import time_machine
from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from icalendar import Calendar
from rest_framework.test import APIClient

from alerts import conf as alerts_conf
from api.calendar.labels import FALLBACK_LABEL, LABELS, GenericLabel, label_of
from api.models import CalendarFeed, ReadAccess
from surveillance import schedule
from surveillance import services as surveillance
from surveillance.models import ScheduledItem
from tests import factories

pytestmark = pytest.mark.django_db

ME = "/api/v1/patients/me/calendar/"

# Names that would tell whoever sees the phone's calendar what the patient is treated for.
# Short ones are matched as whole words ("net" must not match "network"), the rest anywhere.
FORBIDDEN_WORDS = ["net", "cga", "ssa", "prrt", "nec", "lar", "pet"]
FORBIDDEN_TEXT = [
    "chromogranin", "5-hiaa", "hiaa", "serotonin", "octreotide", "lanreotide", "somatostatin",
    "lutetium", "lu177", "lu-177", "dotatate", "everolimus", "temozolomide", "capecitabine",
    "neuroendocrine", "tumour", "tumor", "cancer", "carcinoid", "oncolog", "metasta",
    "probnp", "nt-pro", "echocardiograph", "vitamin", "b12", "radionuclide", "peptide",
    "chemotherap", "netcare",
]  # fmt: skip
GENERIC = {str(label) for label in GenericLabel}


def secret_of(url: str) -> str:
    return re.fullmatch(r"/api/v1/calendar/(.+)\.ics", urlsplit(url).path).group(1)


def read_feed(url: str, **headers) -> tuple[Calendar, str]:
    """GET the feed as a phone calendar does (no login); the parsed calendar and its text."""
    response = APIClient().get(urlsplit(url).path, HTTP_ACCEPT="text/calendar", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    text = response.content.decode("utf-8")
    return Calendar.from_ical(text), text


def events_by_uid(calendar: Calendar) -> dict[str, object]:
    return {str(event.uid): event for event in calendar.events}


def open_items(patient) -> list[ScheduledItem]:
    return list(
        ScheduledItem.objects.filter(course__patient=patient, active=True).exclude(
            course__state="closed"
        )
    )


@pytest.fixture
def public_url(settings) -> str:
    settings.PUBLIC_BASE_URL = "https://netcare.example.org"
    return settings.PUBLIC_BASE_URL


@pytest.fixture
def on_prrt(course, clinician):
    """The seed course on PRRT after an SSA: monitoring, injections and line labs are due."""
    factories.advance(
        course,
        clinician,
        ("recurrence_detected", {"site": "liver", "resectable": False}),
        ("status_updated", {"carcinoid_syndrome": True, "functional": True}),
        ("ssa_started", factories.SSA),
    )
    return factories.advance(
        course,
        clinician,
        ("progression_detected", {"recist": "PD"}),
        ("prrt_started", factories.PRRT),
        on=dt.date(2026, 10, 1),
    )


@pytest.fixture
def feed_url(api, patient_user, public_url) -> str:
    response = api(patient_user).post(ME)
    assert response.status_code == 201, response.content
    return response.json()["url"]


# --- What the feed holds ------------------------------------------------------------------------


def test_the_feed_has_one_all_day_event_per_open_due_item_on_its_date(
    api, patient_user, on_prrt, public_url
):
    response = api(patient_user).post(ME)
    assert response.status_code == 201
    url = response.json()["url"]
    assert url.startswith("https://netcare.example.org/api/v1/calendar/")

    calendar, text = read_feed(url)

    items = open_items(on_prrt.patient)
    assert len(items) >= 10  # markers, heart, vitamins, injections and line labs are due
    shown = sorted((str(e.get("summary")), e.start) for e in calendar.events)
    stored = sorted((label_of(i.kind).capitalize(), i.due_on) for i in items)
    assert shown == stored
    for event in calendar.events:
        assert type(event.start) is dt.date  # an all-day event, not a time
        assert event.end == event.start + dt.timedelta(days=1)
    assert text.count("DTSTART;VALUE=DATE:") == len(items)
    assert len(events_by_uid(calendar)) == len(items)  # every UID is its own


def test_an_item_no_longer_due_leaves_the_feed(api, patient_user, course, feed_url):
    before, _ = read_feed(feed_url)
    item = ScheduledItem.objects.filter(course=course, active=True).first()
    ScheduledItem.objects.filter(pk=item.pk).update(active=False)

    after, _ = read_feed(feed_url)

    assert len(after.events) == len(before.events) - 1
    shown = sorted((str(e.get("summary")), e.start) for e in after.events)
    stored = sorted((label_of(i.kind).capitalize(), i.due_on) for i in open_items(course.patient))
    assert shown == stored


def test_every_kind_the_schedule_knows_has_a_generic_label():
    for kind in schedule.Kind:
        assert kind in LABELS, f"{kind} has no generic calendar label"
        assert str(LABELS[kind]) in GENERIC
    assert label_of("a_kind_added_later") == FALLBACK_LABEL


def test_the_feed_names_no_test_drug_or_diagnosis(api, patient_user, on_prrt, feed_url):
    calendar, text = read_feed(feed_url)

    unfolded = text.replace("\r\n ", "").lower()  # a folded line could split a word
    for word in FORBIDDEN_WORDS:
        assert not re.search(rf"\b{word}\b", unfolded), word
    for word in FORBIDDEN_TEXT:
        assert word not in unfolded, word
    summaries = {str(e.get("summary")).lower() for e in calendar.events}
    assert summaries <= GENERIC
    assert {"scan", "blood test", "urine test", "heart scan", "injection"} <= summaries
    patient = on_prrt.patient
    for personal in (patient.family_name, patient.given_name, patient.mrn):
        assert personal.lower() not in unfolded


def test_each_event_has_display_alarms_at_the_reminder_lead_times(
    api, patient_user, course, feed_url
):
    patient = course.patient
    quiet_end = dt.timedelta(
        hours=patient.quiet_hours_end.hour, minutes=patient.quiet_hours_end.minute
    )
    advance = alerts_conf.lookahead_days()
    assert advance > 0

    calendar, _ = read_feed(feed_url)

    assert calendar.events
    for event in calendar.events:
        alarms = event.walk("VALARM")
        assert {str(a.get("action")) for a in alarms} == {"DISPLAY"}
        triggers = sorted(a.get("trigger").dt for a in alarms)
        assert triggers == [quiet_end - dt.timedelta(days=advance), quiet_end]
        assert all(a.get("description") for a in alarms)


def test_the_alarms_follow_the_reminder_look_ahead_setting(
    api, patient_user, course, feed_url, settings
):
    settings.ALERTS_LOOKAHEAD_DAYS = 3

    calendar, _ = read_feed(feed_url)

    earliest = min(a.get("trigger").dt for e in calendar.events for a in e.walk("VALARM"))
    assert earliest.days == -3


def test_a_moved_due_date_moves_its_event_and_keeps_its_uid(
    api, patient_user, course, clinician, feed_url
):
    imaging = ScheduledItem.objects.get(course=course, kind="imaging")
    before, _ = read_feed(feed_url)
    [old] = [e for e in before.events if e.start == imaging.due_on and str(e.summary) == "Scan"]

    with time_machine.travel(dt.datetime(2026, 12, 2, 9, tzinfo=dt.UTC), tick=True):
        surveillance.imaging_record(course=course, actor=clinician, modality="ct",
                                    performed_on=dt.date(2026, 12, 1), purpose="surveillance",
                                    result="ned")  # fmt: skip
    imaging.refresh_from_db()
    assert imaging.due_on > old.start  # the re-plan moved the date

    after, _ = read_feed(feed_url)

    moved = events_by_uid(after)[str(old.uid)]
    assert moved.start == imaging.due_on
    assert [e for e in after.events if str(e.summary) == "Scan"] == [moved]  # no duplicate
    assert moved.get("sequence") > old.get("sequence")
    assert moved.get("last-modified").dt == imaging.updated_at.replace(microsecond=0)
    assert moved.get("dtstamp").dt > old.get("dtstamp").dt
    unchanged = set(events_by_uid(before)) - {str(old.uid)}
    assert unchanged <= set(events_by_uid(after))  # the other kinds kept their UIDs too


# --- The secret address ------------------------------------------------------------------------


def test_only_a_hash_of_the_secret_is_stored(api, patient_user, course, feed_url):
    secret = secret_of(feed_url)
    assert len(secret) == 43

    feed = CalendarFeed.objects.get()

    assert feed.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert feed.patient == course.patient
    assert feed.created_by == patient_user
    assert secret not in str(list(CalendarFeed.objects.values()))


def test_a_revoked_address_is_a_404_at_once(api, patient_user, course, feed_url):
    read_feed(feed_url)

    response = api(patient_user).delete(ME)

    assert response.status_code == 204
    gone = APIClient().get(urlsplit(feed_url).path)
    assert gone.status_code == 404
    assert gone.json()["code"] == "not_found"
    assert gone.content == APIClient().get(f"/api/v1/calendar/{'B' * 43}.ics").content
    assert "no-store" in gone["Cache-Control"]
    assert CalendarFeed.objects.get().revoked_by == patient_user
    assert api(patient_user).delete(ME).status_code == 204  # nothing left to revoke: still 204


def test_a_new_address_rotates_the_old_one_out(api, patient_user, course, feed_url):
    client = api(patient_user)

    response = client.post(ME)

    assert response.status_code == 201
    new_url = response.json()["url"]
    assert new_url != feed_url
    assert APIClient().get(urlsplit(feed_url).path).status_code == 404
    read_feed(new_url)
    assert CalendarFeed.objects.filter(revoked_at__isnull=True).count() == 1
    assert CalendarFeed.objects.get(revoked_at__isnull=False).revoked_reason == "rotated"


@pytest.mark.parametrize(
    "secret",
    [
        "x",
        "A" * 42,
        "A" * 44,
        "A" * 42 + "!",
        "A" * 42 + "%C3%A9",
        "A" * 2000,
        "..",
        "%20" * 43,
    ],
)
def test_a_malformed_secret_is_a_404_like_an_unknown_one(secret, course):
    unknown = APIClient().get(f"/api/v1/calendar/{'B' * 43}.ics")
    malformed = APIClient().get(f"/api/v1/calendar/{secret}.ics")

    assert unknown.status_code == 404
    assert malformed.status_code == 404
    assert malformed.json() == unknown.json()


def test_the_feed_needs_no_login_and_ignores_one(api, coordinator2, course, feed_url):
    # A calendar app sends no credentials; a stray token of another team changes nothing.
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert client.get(urlsplit(feed_url).path).status_code == 200


# --- Who may issue and revoke --------------------------------------------------------------------


def test_staff_of_the_patients_team_issue_and_revoke_the_address(
    api, coordinator, clinician, course, public_url
):
    path = f"/api/v1/patients/{course.patient_id}/calendar/"

    issued = api(coordinator).post(path)

    assert issued.status_code == 201
    calendar, _ = read_feed(issued.json()["url"])
    assert len(calendar.events) == len(open_items(course.patient))
    assert api(clinician).delete(path).status_code == 204
    assert APIClient().get(urlsplit(issued.json()["url"]).path).status_code == 404


def test_another_teams_or_a_missing_patient_is_a_404(api, coordinator2, course, feed_url):
    client = api(coordinator2)
    missing = f"/api/v1/patients/{course.patient_id + 1000}/calendar/"
    other = f"/api/v1/patients/{course.patient_id}/calendar/"

    for path in (other, missing):
        assert client.post(path).status_code == 404
        assert client.delete(path).status_code == 404
    assert client.post(other).json() == client.post(missing).json()
    assert CalendarFeed.objects.count() == 1  # the patient's own, untouched
    read_feed(feed_url)


def test_a_patient_manages_only_their_own_address(
    api, patient_user, coordinator, course, neighbour_course
):
    client = api(patient_user)

    for path in (
        f"/api/v1/patients/{course.patient_id}/calendar/",
        f"/api/v1/patients/{neighbour_course.patient_id}/calendar/",
    ):
        assert client.post(path).status_code == 403
        assert client.delete(path).status_code == 403
    assert api(coordinator).post(ME).status_code == 403  # "me" is a patient's own
    assert not CalendarFeed.objects.exists()
    assert client.post(ME).status_code == 201
    assert CalendarFeed.objects.get().patient == course.patient


# --- Read log, throttle, revocation by the course and the login ----------------------------------


def test_every_feed_read_is_logged_with_the_feed_as_reader(api, patient_user, course, feed_url):
    feed = CalendarFeed.objects.get()
    ReadAccess.objects.all().delete()

    read_feed(feed_url)
    read_feed(feed_url)

    rows = list(ReadAccess.objects.order_by("id"))
    assert len(rows) == 2
    for row in rows:
        assert row.actor_id is None
        assert row.calendar_feed == feed
        assert row.patient_id == course.patient_id
        assert secret_of(feed_url) not in row.endpoint
        assert str(row).startswith(f"calendar feed {feed.pk} read patient {course.patient_id}")


def test_a_feed_read_that_cannot_be_logged_is_a_503(
    api, patient_user, course, feed_url, monkeypatch
):
    def refuse(*args, **kwargs):
        raise DatabaseError("could not extend file: No space left on device")

    monkeypatch.setattr("api.readlog._insert_rows", refuse)

    response = APIClient().get(urlsplit(feed_url).path, HTTP_ACCEPT="text/calendar")

    assert response.status_code == 503
    assert response.json()["code"] == "read_log_unavailable"
    assert b"BEGIN:VCALENDAR" not in response.content


def test_the_feed_is_throttled_per_address_in_its_own_scope(course):
    rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["calendar_feed"]
    allowed = int(rate.split("/")[0])
    client = APIClient()
    path = f"/api/v1/calendar/{'C' * 43}.ics"

    statuses = [client.get(path).status_code for _ in range(allowed + 1)]

    assert statuses[:allowed] == [404] * allowed
    throttled = client.get(path)
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "throttled"
    assert int(throttled["Retry-After"]) > 0


def test_closing_the_patients_last_course_revokes_the_feed(
    api, patient_user, course, clinician, feed_url
):
    factories.advance(course, clinician, ("course_closed", {"reason": "discharged"}))

    assert APIClient().get(urlsplit(feed_url).path).status_code == 404
    assert CalendarFeed.objects.get().revoked_reason == "courses_closed"


def test_deactivating_the_patients_login_revokes_the_feed(api, patient_user, course, feed_url):
    patient_user.is_active = False
    patient_user.save()

    assert APIClient().get(urlsplit(feed_url).path).status_code == 404
    assert CalendarFeed.objects.get().revoked_reason == "user_deactivated"


def test_the_database_refuses_a_second_live_address_for_one_patient(course, coordinator):
    CalendarFeed.objects.create(patient=course.patient, token_hash="a" * 64, created_by=coordinator)

    with pytest.raises(IntegrityError), transaction.atomic():
        CalendarFeed.objects.create(
            patient=course.patient, token_hash="b" * 64, created_by=coordinator
        )

    assert CalendarFeed.objects.count() == 1
