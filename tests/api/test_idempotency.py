"""`Idempotency-Key` on POST: a retry returns the first response and writes nothing (S18).

Mobile networks retry; a retried event must not be recorded twice, even when the retries
arrive together (PostgreSQL test: ten threads behind a barrier).
"""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from api.models import IdempotencyRecord
from surveillance.models import LabResult
from tests import factories
from tests.api.figures import report
from treatments.models import Course, CourseEvent

RECURRENCE = {"type": "recurrence_detected", "occurred_on": "2026-08-01",
              "data": {"site": "liver", "resectable": True}, "reason": "MRI"}  # fmt: skip


def events_url(course: Course) -> str:
    return f"/api/v1/courses/{course.pk}/events/"


@pytest.mark.django_db
def test_a_retried_post_with_the_same_key_records_one_event_and_replays_the_answer(
    api, coordinator, course
):
    client = api(coordinator)

    first = client.post(events_url(course), RECURRENCE, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    retry = client.post(events_url(course), RECURRENCE, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == retry.status_code == 201
    assert retry.content == first.content
    assert retry["Idempotent-Replayed"] == "true"
    assert CourseEvent.objects.filter(course=course).count() == 1
    course.refresh_from_db()
    assert (course.state, course.version) == ("recurrence", 2)


@pytest.mark.django_db
def test_without_a_key_a_second_post_is_a_new_request(api, coordinator, course):
    client = api(coordinator)

    client.post(events_url(course), RECURRENCE, format="json")
    again = client.post(events_url(course), RECURRENCE, format="json")

    assert again.status_code == 409
    assert again.json()["code"] == "transition_not_allowed"


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_refused_and_writes_nothing(api, coordinator, course):
    client = api(coordinator)
    body = {"course": course.pk, "analyte": "chromogranin_a", "value": "100", "unit": "ng/mL",
            "collected_on": "2026-08-01"}  # fmt: skip
    client.post("/api/v1/lab-results/", body, format="json", HTTP_IDEMPOTENCY_KEY="lab-7")

    reused = client.post(
        "/api/v1/lab-results/", body | {"value": "900"}, format="json", HTTP_IDEMPOTENCY_KEY="lab-7"
    )

    assert reused.status_code == 422
    assert reused.json() == {
        "code": "idempotency_key_reused",
        "detail": "This Idempotency-Key was used with another request.",
        "errors": {},
    }
    assert list(LabResult.objects.values_list("value", flat=True)) == [100]


@pytest.mark.django_db
def test_the_same_key_on_another_endpoint_is_refused(api, coordinator, course):
    client = api(coordinator)
    client.post(events_url(course), RECURRENCE, format="json", HTTP_IDEMPOTENCY_KEY="k-2")

    other = client.post(
        "/api/v1/symptom-checks/", {"course": course.pk}, format="json", HTTP_IDEMPOTENCY_KEY="k-2"
    )

    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"


@pytest.mark.django_db
def test_keys_belong_to_their_user(api, coordinator, clinician, course):
    api(coordinator).post(events_url(course), RECURRENCE, format="json", HTTP_IDEMPOTENCY_KEY="k")

    theirs = api(clinician).post(
        events_url(course), RECURRENCE, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )

    assert theirs.status_code == 409, "not a replay of another user's answer"
    assert "Idempotent-Replayed" not in theirs


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "   ", "k" * 201])
def test_a_blank_or_overlong_key_is_invalid(api, coordinator, course, key):
    response = api(coordinator).post(
        events_url(course), RECURRENCE, format="json", HTTP_IDEMPOTENCY_KEY=key
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not CourseEvent.objects.exists()
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
def test_a_refused_write_is_replayed_as_refused(api, coordinator, course):
    client = api(coordinator)
    body = RECURRENCE | {"expected_version": 5}

    first = client.post(events_url(course), body, format="json", HTTP_IDEMPOTENCY_KEY="stale")
    retry = client.post(events_url(course), body, format="json", HTTP_IDEMPOTENCY_KEY="stale")

    assert first.status_code == retry.status_code == 409
    assert retry.content == first.content
    assert not CourseEvent.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_identical_posts_at_once_record_one_event():
    team = factories.team()
    clinician = factories.user("clinician", "clinician", team)
    coordinator = factories.user("coordinator", "coordinator", team)
    course = factories.register(clinician, team)
    access = str(RefreshToken.for_user(coordinator).access_token)
    threads, barrier = 10, threading.Barrier(10)
    answers: list[tuple[int, bytes]] = []
    lock = threading.Lock()

    def post() -> None:
        try:
            client = APIClient(HTTP_AUTHORIZATION=f"Bearer {access}")
            barrier.wait(timeout=10)
            response = client.post(
                events_url(course), RECURRENCE, format="json", HTTP_IDEMPOTENCY_KEY="burst"
            )
            with lock:
                answers.append((response.status_code, response.content))
        finally:
            connection.close()

    workers = [threading.Thread(target=post) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    statuses = sorted(status for status, _ in answers)
    report("idempotency", f"{threads} concurrent identical POSTs: statuses {statuses}, "
           f"events created {CourseEvent.objects.filter(course=course).count()}")  # fmt: skip
    assert len(answers) == threads
    assert CourseEvent.objects.filter(course=course).count() == 1
    assert statuses == [201] * threads
    assert len({content for _, content in answers}) == 1
