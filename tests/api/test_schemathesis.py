"""Schemathesis over every operation of /api/schema/, as a coordinator and as a patient (S16/S17).

Each operation runs in-process through the WSGI app in three phases: known-good requests
(so 201 bodies are checked too), Hypothesis-generated positive and negative cases from a
fixed seed (plus, where it has an `{id}`, positive cases on an object the caller may see),
and schemathesis's deterministic coverage cases (boundaries, wrong types, missing fields,
unexpected methods). The stateful phase is left out: the schema declares no links and the
course walk covers the sequences. No response may be a server error, and every status and
body must be what the schema documents, errors included.
"""

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from alerts import services as alerts
from api.models import IdempotencyRecord
from tests import factories
from tests.api.figures import report

pytestmark = pytest.mark.django_db

SEED = 20260401
MAX_EXAMPLES = 15
# The contract checks the issue asks for, plus: invalid input must be refused
# (negative_data_rejection), a 2xx must not survive removing or forging the token
# (ignored_auth), and the Content-Type must be the documented one.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
    content_type_conformance,
]
HYPOTHESIS = hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    derandomize=False,  # the fixed @seed below makes every run draw the same cases
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: failures are reported, not minimised
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)


@dataclasses.dataclass
class Run:
    """What one persona's run did: operations, cases, statuses, failures by check."""

    persona: str
    operations: int = 0
    cases: int = 0
    coverage: int = 0
    statuses: Counter = dataclasses.field(default_factory=Counter)
    failures: list[str] = dataclasses.field(default_factory=list)
    by_check: Counter = dataclasses.field(default_factory=Counter)
    examples: dict[str, str] = dataclasses.field(default_factory=dict)
    checks_failed: Counter = dataclasses.field(default_factory=Counter)

    def fail(self, key: str, example: str, check: str) -> None:
        self.checks_failed[check] += 1
        self.failures.append(key)
        self.by_check[key] += 1
        self.examples.setdefault(key, example)

    def summary(self) -> str:
        codes = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        by_check = ", ".join(f"{c}: {n}" for c, n in self.checks_failed.items()) or "none"
        return (
            f"{self.persona}: {self.operations} operations, {self.cases} cases "
            f"({self.coverage} coverage), {len(self.failures)} failures (by check: {by_check}), "
            f"seed {SEED}; statuses {codes}"
        )


def forget_idempotency_keys() -> None:
    # Generated Idempotency-Key values repeat ("0", "a"), so after the first POST every other
    # body would be answered 422 from the key store and never reach validation. Replays and
    # the 422 are the subject of test_idempotency.py; here each case starts with no keys.
    IdempotencyRecord.objects.all().delete()


def bearer(user) -> dict[str, str]:
    return {"Authorization": f"Bearer {RefreshToken.for_user(user).access_token}"}


def validate(run: Run, operation: Any, case: Any, headers: dict[str, str], phase: str) -> None:
    """Send one case and record its status and any failed check."""
    run.cases += 1
    forget_idempotency_keys()
    response = case.call(headers=headers)
    run.statuses[response.status_code] += 1
    try:
        case.validate_response(response, checks=CHECKS, headers=headers)
    except (Failure, FailureGroup) as exc:
        found = exc.exceptions if isinstance(exc, FailureGroup) else [exc]
        for failure in found:
            run.fail(
                f"{operation.label} -> {response.status_code} {failure.title} ({phase})",
                f"query {case.query} body {str(case.body)[:200]}: "
                f"{failure.message.splitlines()[0][:200]} -> {response.text[:300]}",
                failure.title,
            )


def fuzz(schema: Any, persona: str, headers: dict[str, str], world: "World") -> Run:
    """Run every operation of the schema for one persona; collect failures instead of raising."""
    run = Run(persona)
    for result in schema.get_all_operations():
        operation = result.ok()
        run.operations += 1
        for path_parameters, body in world.valid.get(operation.label, []):
            # Known-good requests first, so success bodies (201s included) are checked too.
            extra = {} if body is None else {"body": body}
            case = operation.Case(path_parameters=path_parameters, **extra)
            validate(run, operation, case, headers, "explicit")
        variants: list[tuple[GenerationMode, dict | None]] = [
            (GenerationMode.POSITIVE, None),
            (GenerationMode.NEGATIVE, None),
        ]
        if "{id}" in operation.path:
            own = world.ids.get(operation.path)
            if own is not None:
                variants.append((GenerationMode.POSITIVE, {"id": own}))
        for mode, path_parameters in variants:
            # Per-user throttles count every case; the run is about contracts, not rates.
            cache.clear()
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)
            generated(strategy, run, operation, headers, mode.value)()
        coverage(schema, operation, run, headers)
    return run


def generated(strategy: Any, run: Run, operation: Any, headers: dict, phase: str) -> Any:
    """A derandomized Hypothesis run of `strategy` that validates every case it draws."""

    @HYPOTHESIS
    @hypothesis.seed(SEED)
    @given(case=strategy)
    def check(case: Any) -> None:
        validate(run, operation, case, headers, phase)

    return check


def coverage(schema: Any, operation: Any, run: "Run", headers: dict[str, str]) -> None:
    """Schemathesis's deterministic coverage phase: boundaries, wrong types, missing fields."""
    cache.clear()
    config = schema.config.generation_for(operation=operation)
    for case in schema.iter_coverage_cases(
        operation,
        generation_modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        generation_config=config,
    ):
        run.coverage += 1
        validate(run, operation, case, headers, "coverage")


@dataclasses.dataclass
class World:
    """Ids of objects the persona may see (for `{id}`) and known-good requests by operation."""

    ids: dict[str, int]
    valid: dict[str, list[tuple[dict | None, Any]]]


NEGATIVE_CHECK = {
    "reported_on": "2026-09-20", "flushing_per_day": "0", "stools_per_day": "1",
    "wheezing": False, "abdominal_pain": 0, "vomiting": False, "no_stool_or_gas": False,
    "palpitations_or_swelling": False, "weight_loss_kg": "0",
}  # fmt: skip


@pytest.fixture
def world(course, patient_user, course_b, coordinator, clinician, team_a) -> World:
    """Both teams' courses with events, alerts and reminders, and a valid request per write."""
    factories.advance(course, clinician, ("recurrence_detected", {"site": "liver",
                                                                  "resectable": True}))  # fmt: skip
    own_alert = alerts.alert_raise(course=course, kind="decision_pending", severity="high")
    alerts.alert_raise(course=course_b, kind="decision_pending", severity="high")
    alerts.sweep(today=dt.date(2026, 8, 1))
    registration = {
        "patient": factories.patient_data(birth_date="1961-04-02"),
        "care_team": team_a.pk,
        "diagnosis": factories.diagnosis_data(diagnosed_on="2026-01-10"),
        "surgery": factories.surgery_data(performed_on="2026-02-01"),
    }
    on_course = {"id": course.pk}
    return World(
        ids={
            "/api/v1/courses/{id}/": course.pk,
            "/api/v1/courses/{id}/events/": course.pk,
            "/api/v1/courses/{id}/history/": course.pk,
            "/api/v1/patients/{id}/": course.patient_id,
            "/api/v1/alerts/{id}/acknowledge/": own_alert.pk,
            "/api/v1/alerts/{id}/resolve/": own_alert.pk,
        },
        valid={
            "POST /api/v1/auth/token/": [
                (None, {"username": coordinator.username, "password": factories.PASSWORD})
            ],
            "POST /api/v1/courses/": [(None, registration)],
            "POST /api/v1/courses/{id}/events/": [
                (
                    on_course,
                    {
                        "type": "ssa_started",
                        "occurred_on": "2026-09-15",
                        "data": factories.SSA,
                        "reason": "tumour board",
                    },
                ),
            ],
            "POST /api/v1/imaging-studies/": [
                (
                    None,
                    {
                        "course": course.pk,
                        "performed_on": "2026-09-20",
                        "modality": "ct",
                        "purpose": "response_assessment",
                        "result": "stable",
                    },
                ),
            ],
            "POST /api/v1/lab-results/": [
                (
                    None,
                    {
                        "course": course.pk,
                        "analyte": "chromogranin_a",
                        "value": "120",
                        "unit": "ng/mL",
                        "collected_on": "2026-09-20",
                    },
                ),
            ],
            "POST /api/v1/symptom-checks/": [
                (None, NEGATIVE_CHECK | {"course": course.pk}),
                (None, NEGATIVE_CHECK | {"flushing_per_day": "4"}),
            ],
            "PATCH /api/v1/patients/{id}/": [
                ({"id": course.patient_id}, {"phone": "+447700900999"})
            ],
            "PATCH /api/v1/patients/me/": [(None, {"quiet_hours_start": "22:00"})],
            "POST /api/v1/alerts/{id}/acknowledge/": [({"id": own_alert.pk}, None)],
            "POST /api/v1/alerts/{id}/resolve/": [({"id": own_alert.pk}, {"note": "MDT booked"})],
        },
    )


@pytest.fixture
def wsgi_app() -> Iterator[Any]:
    """The real WSGI app, run inside the test's transaction.

    Django's test client unhooks close_old_connections while it calls the app; a plain WSGI
    call does not, and on PostgreSQL the first request would close the connection that holds
    the test's transaction (SQLite's in-memory test database ignores the close).
    """
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def schema(wsgi_app) -> Any:
    return schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app)


@pytest.mark.parametrize("persona", ["coordinator", "patient"])
def test_schemathesis_finds_no_server_error_and_no_undocumented_response(
    persona, schema, world, coordinator, patient_user
):
    user = {"coordinator": coordinator, "patient": patient_user}[persona]

    run = fuzz(schema, persona, bearer(user), world)

    report("schemathesis", run.summary())
    for key, count in run.by_check.most_common():
        report("schemathesis", f"  {count} x {key}: {run.examples[key]}")
    assert run.operations >= 20
    assert not run.failures, "\n".join(f"{n} x {key}" for key, n in run.by_check.items())
