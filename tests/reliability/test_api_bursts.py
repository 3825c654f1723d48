"""Bursts through the API from many threads at once
(docs/operations.md#concurrent-writes-on-one-course).

Each thread has its own APIClient and its own PostgreSQL connection; a barrier releases them
together. Every request goes through the whole stack (authentication, throttles, the idempotency
wrapper, the service and its row locks), so what is measured is what a client would see.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.models import CoordinatorAlert
from surveillance import schedule
from surveillance.models import SymptomCheck
from tests import factories
from tests.reliability.support import figures, make_courses
from treatments import machine
from treatments.models import CourseEvent

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def burst(jobs: list[Callable[[APIClient], Any]], users: list, threads: int) -> list[Any]:
    """Run `jobs` from `threads` threads released together; job i runs as users[i]."""
    barrier = threading.Barrier(threads, timeout=60)
    results: list[Any] = [None] * len(jobs)
    work = list(enumerate(jobs))
    lock = threading.Lock()

    def run() -> None:
        clients: dict[int, APIClient] = {}
        try:
            barrier.wait()
            while True:
                with lock:
                    if not work:
                        return
                    index, job = work.pop(0)
                user = users[index]
                if user.pk not in clients:
                    clients[user.pk] = APIClient(raise_request_exception=False)
                    clients[user.pk].force_authenticate(user)
                try:
                    results[index] = job(clients[user.pk])
                except Exception as exc:  # counted as a failure, not lost in the thread
                    results[index] = exc
        finally:
            connection.close()

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in pool), "a thread did not finish"
    return results


def test_fifty_concurrent_event_posts_on_one_course_keep_the_log_and_state_consistent(
    clinician, team_a
):
    # Item 17: each poster reads the course, then posts with the version it read. The course
    # row lock serialises them; expected_version turns every stale read into a 409. Posters
    # start in ten waves 40 ms apart, so some read a version a previous wave wrote.
    (course,) = make_courses(clinician, team_a, 1)
    url = f"/api/v1/courses/{course.pk}/"
    today = timezone.localdate().isoformat()

    def poster(wave: int) -> Callable[[APIClient], tuple[int, int, str]]:
        def job(client: APIClient) -> tuple[int, int, str]:
            time.sleep(wave * 0.04)
            return post_with_the_version_read(client)

        return job

    def post_with_the_version_read(client: APIClient) -> tuple[int, int, str]:
        version = client.get(url).json()["version"]
        response = client.post(
            f"{url}events/",
            {"type": "symptoms_reported", "occurred_on": today, "data": {},
             "reason": "burst", "expected_version": version},
            format="json",
        )  # fmt: skip
        code = response.json().get("code", "") if response.status_code >= 400 else ""
        return response.status_code, version, code

    n = 50
    results = burst([poster(i % 10) for i in range(n)], [clinician] * n, threads=n)

    failures = [r for r in results if isinstance(r, Exception)]
    statuses = Counter(r[0] for r in results if not isinstance(r, Exception))
    won = sorted(r[1] for r in results if not isinstance(r, Exception) and r[0] == 201)
    stale = [r for r in results if not isinstance(r, Exception) and r[0] == 409]
    course.refresh_from_db()
    log = list(CourseEvent.objects.filter(course=course).order_by("seq"))
    replayed = machine.replay(machine.INITIAL_STATE, [(e.type, e.data) for e in log])
    history = course.history.count()
    figures(
        "50 concurrent event posts",
        posts=n, created_201=statuses[201], conflicts_409=statuses[409],
        errors_5xx=sum(v for k, v in statuses.items() if k >= 500), exceptions=len(failures),
        events=len(log), history_rows=history, version=course.version,
        state=course.state, replayed=str(replayed),
    )  # fmt: skip
    assert failures == [] and set(statuses) <= {201, 409}
    assert statuses[201] >= 1 and statuses[201] + statuses[409] == n
    assert all(code == "stale_version" for _, _, code in stale)
    # The winners read versions 1, 2, ..., k: each wrote the event with that sequence number.
    assert won == list(range(1, statuses[201] + 1))
    assert [e.seq for e in log] == won
    assert course.version == statuses[201] + 1
    assert history == 1 + statuses[201]
    assert course.state == replayed


CALM = {
    "flushing_per_day": 0, "stools_per_day": 2, "wheezing": False, "abdominal_pain": 1,
    "vomiting": False, "no_stool_or_gas": False, "palpitations_or_swelling": False,
    "weight_loss_kg": 0,
}  # fmt: skip
SYNDROME = CALM | {"flushing_per_day": 2, "stools_per_day": 5}
OBSTRUCTION = CALM | {"vomiting": True, "no_stool_or_gas": True}


def kinds_of(answers: dict[str, Any]) -> list[str]:
    assessment = schedule.assess_symptoms(schedule.SymptomAnswers(**answers))
    return [str(f.kind) for f in assessment.findings]


def test_a_burst_of_500_symptom_checks_stores_all_and_raises_one_alert_per_course_and_kind(
    clinician, team_a
):
    # Item 19: 20 patients, 25 checks each, from 16 threads. The first 16 jobs are positives
    # on the same two courses, so alerts for one (course, kind) are raised at the same moment.
    courses = make_courses(clinician, team_a, 20)
    patients = []
    for i, course in enumerate(courses):
        person = factories.user(f"burst-patient-{i}", "patient")
        course.patient.user = person
        course.patient.save()
        patients.append(person)
    assert kinds_of(SYNDROME) == ["carcinoid_syndrome"]
    assert kinds_of(OBSTRUCTION) == ["obstruction"]
    assert kinds_of(CALM) == []

    rng = random.Random(19)
    today = timezone.localdate().isoformat()
    racing = [(i % 2, SYNDROME if i % 4 < 2 else OBSTRUCTION) for i in range(16)]
    rest = [(c, rng.choice([CALM, CALM, CALM, SYNDROME, OBSTRUCTION])) for c in range(20)
            for _ in range(25)][: 500 - len(racing)]  # fmt: skip
    rng.shuffle(rest)
    plan = racing + rest

    def post(answers: dict[str, Any]) -> Callable[[APIClient], int]:
        def job(client: APIClient) -> int:
            response = client.post(
                "/api/v1/symptom-checks/", {"reported_on": today, **answers}, format="json"
            )
            return response.status_code

        return job

    results = burst([post(a) for _, a in plan], [patients[c] for c, _ in plan], threads=16)

    statuses = Counter(r if isinstance(r, int) else type(r).__name__ for r in results)
    positives = [(courses[c].pk, kind) for c, answers in plan for kind in kinds_of(answers)]
    expected = Counter(positives)
    open_alerts = {
        (a.course_id, a.kind): a.occurrences
        for a in CoordinatorAlert.objects.filter(resolved_at__isnull=True)
    }
    dupes = sum(
        row["n"] - 1
        for row in CoordinatorAlert.objects.filter(resolved_at__isnull=True)
        .values("course_id", "kind")
        .annotate(n=Count("id"))
    )
    figures(
        "500 symptom checks burst",
        posted=len(plan), created_201=statuses[201],
        errors_5xx=sum(v for k, v in statuses.items() if isinstance(k, int) and k >= 500),
        stored=SymptomCheck.objects.count(), positives=sum(1 for _, a in plan if a != CALM),
        alerts=len(open_alerts), expected_alerts=len(expected),
        occurrences=sum(open_alerts.values()), positive_findings=len(positives),
        duplicates=dupes,
    )  # fmt: skip
    assert statuses == Counter({201: len(plan)})
    assert SymptomCheck.objects.count() == len(plan)
    assert dupes == 0 and set(open_alerts) == set(expected)
    assert open_alerts == dict(expected)  # each positive finding counted once on its alert
