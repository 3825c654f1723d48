"""Who may do what through the API: every endpoint x method x role x own/other team (S1, S2, S10).

The endpoints come from the URL resolver, so a new one without a row in EXPECTED fails here.
Own objects answer 2xx (or the documented 4xx), another team's or patient's object answers the
very bytes of an id that does not exist, anonymous callers 401, and roles that may not 403.
"""

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from alerts import services as alerts
from api.calendar import services as calendar
from surveillance import services as surveillance
from surveillance.models import ScheduledItem
from tests import factories
from tests.api.figures import report
from treatments.models import Course, Patient

pytestmark = pytest.mark.django_db

MISSING = 987_654_321
ROLES = ("coordinator", "clinician", "patient", "integration", "anonymous")
STAFF = frozenset({"coordinator", "clinician"})
PATIENT = frozenset({"patient"})
INTEGRATION = frozenset({"integration"})
EVERYONE = frozenset(ROLES)


@dataclasses.dataclass(frozen=True)
class Expect:
    """How an endpoint answers: `kind` says how to aim it at own/other data; `roles` get `ok`.

    Roles outside `roles` get 403 (anonymous 401) whatever they aim at.
    """

    kind: str  # "public", "list", "object", "create", "me" or "feed"
    roles: frozenset[str]
    ok: int = 200


EXPECTED: dict[tuple[str, str], Expect] = {
    ("token", "POST"): Expect("public", EVERYONE),
    ("token-refresh", "POST"): Expect("public", EVERYONE),
    ("courses", "GET"): Expect("list", STAFF | PATIENT),
    ("courses", "POST"): Expect("create", STAFF, 201),
    ("course", "GET"): Expect("object", STAFF | PATIENT),
    ("course-events", "GET"): Expect("object", STAFF | PATIENT),
    ("course-events", "POST"): Expect("object", STAFF, 201),
    ("course-history", "GET"): Expect("object", STAFF),
    ("course-fhir", "GET"): Expect("object", STAFF | PATIENT),
    ("patients", "GET"): Expect("list", STAFF),
    ("patient-me", "GET"): Expect("me", PATIENT),
    ("patient-me", "PATCH"): Expect("me", PATIENT),
    ("patient-schedule", "GET"): Expect("me", PATIENT),
    ("patient", "GET"): Expect("object", STAFF | PATIENT),
    ("patient", "PATCH"): Expect("object", STAFF | PATIENT),
    ("patient-me-calendar", "POST"): Expect("me", PATIENT, 201),
    ("patient-me-calendar", "DELETE"): Expect("me", PATIENT, 204),
    ("patient-calendar", "POST"): Expect("object", STAFF, 201),
    ("patient-calendar", "DELETE"): Expect("object", STAFF, 204),
    # The feed logs in as no one: its secret address is the credential, whoever sends it.
    ("calendar-feed", "GET"): Expect("feed", EVERYONE),
    ("imaging-studies", "GET"): Expect("list", STAFF),
    ("imaging-studies", "POST"): Expect("create", STAFF | INTEGRATION, 201),
    ("lab-results", "GET"): Expect("list", STAFF),
    ("lab-results", "POST"): Expect("create", STAFF | INTEGRATION, 201),
    ("symptom-checks", "GET"): Expect("list", STAFF | PATIENT),
    ("symptom-checks", "POST"): Expect("create", STAFF | PATIENT, 201),
    ("reminders", "GET"): Expect("list", STAFF | PATIENT),
    ("alerts", "GET"): Expect("list", STAFF),
    ("alert-ack", "POST"): Expect("object", STAFF),
    ("alert-resolve", "POST"): Expect("object", STAFF),
}


def _walk(patterns: list, namespace: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(n for n in (namespace, pattern.namespace or "") if n)
            yield from _walk(pattern.url_patterns, inner)
        elif namespace == "api":
            yield namespace, pattern


def api_endpoints() -> list[tuple[str, str]]:
    """(url name, METHOD) of every view under the `api` namespace, as the resolver has them."""
    found = []
    for _, pattern in _walk(get_resolver().url_patterns):
        view = pattern.callback.cls
        for method in view.http_method_names:
            if method not in ("options", "head") and hasattr(view, method):
                found.append((pattern.name, method.upper()))
    return sorted(found)


def test_every_api_endpoint_has_a_row_in_the_expectations_table():
    endpoints = set(api_endpoints())

    assert endpoints - set(EXPECTED) == set(), "endpoints with no permission expectations"
    assert set(EXPECTED) - endpoints == set(), "expectations for endpoints that no longer exist"


# --- The world: two teams, a patient with a login, a neighbour, results of all of them ----------
@dataclasses.dataclass
class World:
    users: dict[str, Any]
    team_a: Any
    team_b: Any
    course: Course  # the patient persona's course, team A
    neighbour: Course  # another patient of team A
    other: Course  # team B
    alerts: dict[int, int]  # course id -> an open alert of it
    clients: dict[str, APIClient] = dataclasses.field(default_factory=dict)

    def patients_of(self, role: str) -> set[int]:
        """The patients whose data the role may see: itself, or team A's (new ones included)."""
        if role == "patient":
            return {self.course.patient_id}
        return set(Patient.objects.filter(care_team=self.team_a).values_list("pk", flat=True))

    def others_of(self, role: str) -> list[Course]:
        """Courses the role must not see: the other team's, and for a patient its neighbour."""
        return [self.other, self.neighbour] if role == "patient" else [self.other]


NEGATIVE_CHECK = {
    "reported_on": "2026-09-20", "flushing_per_day": 0, "stools_per_day": 1, "wheezing": False,
    "abdominal_pain": 0, "vomiting": False, "no_stool_or_gas": False,
    "palpitations_or_swelling": False, "weight_loss_kg": 0,
}  # fmt: skip


def _results_for(course: Course, actor) -> None:
    surveillance.imaging_record(course=course, actor=actor, performed_on=dt.date(2026, 8, 3),
                                modality="ct", purpose="surveillance", result="ned")  # fmt: skip
    surveillance.lab_record(course=course, actor=actor, analyte="chromogranin_a", value=Decimal("90"),
                            unit="ng/mL", collected_on=dt.date(2026, 8, 3))  # fmt: skip
    answers = NEGATIVE_CHECK | {"reported_on": dt.date(2026, 8, 3)}
    surveillance.symptom_check_record(course=course, actor=actor, **answers)


@pytest.fixture
def world(
    api, coordinator, clinician, integration, patient_user, coordinator2, team_a, team_b,
    course, course_b, neighbour_course,
) -> World:  # fmt: skip
    for each, actor in (
        (course, clinician),
        (neighbour_course, clinician),
        (course_b, coordinator2),
    ):
        _results_for(each, actor)
    first_due = ScheduledItem.objects.filter(course=course).order_by("due_on").first().due_on
    alerts.sweep(today=first_due)
    raised = {
        c.pk: alerts.alert_raise(course=c, kind="decision_pending", severity="high").pk
        for c in (course, neighbour_course, course_b)
    }
    users = {"coordinator": coordinator, "clinician": clinician, "patient": patient_user,
             "integration": integration}  # fmt: skip
    world = World(users, team_a, team_b, course, neighbour_course, course_b, raised)
    world.clients = {role: api(user) for role, user in users.items()}
    world.clients["anonymous"] = APIClient()
    return world


# --- One cell: a request aimed at own or other data, and what must come back -------------------
@dataclasses.dataclass
class Cell:
    name: str
    method: str
    role: str
    scope: str  # "own", "other" or "-" (endpoints with no object)
    path: str
    body: Any = None
    params: dict | None = None
    twin: tuple[str, Any] | None = None  # the same request naming an id that does not exist

    def label(self) -> str:
        return f"{self.method} {self.name} as {self.role} ({self.scope})"


_mrn = iter(range(50_000, 60_000))


def _registration(team_id: int) -> dict:
    return {
        "patient": factories.patient_data(mrn=f"M{next(_mrn)}", birth_date="1961-04-02"),
        "care_team": team_id,
        "diagnosis": factories.diagnosis_data(diagnosed_on="2026-01-10"),
        "surgery": factories.surgery_data(performed_on="2026-02-01"),
    }


CREATE_BODIES: dict[str, Callable[[int], dict]] = {
    "imaging-studies": lambda course_id: {
        "course": course_id, "performed_on": "2026-09-20", "modality": "ct",
        "purpose": "surveillance", "result": "ned",
    },
    "lab-results": lambda course_id: {
        "course": course_id, "analyte": "chromogranin_a", "value": "100", "unit": "ng/mL",
        "collected_on": "2026-09-20",
    },
    "symptom-checks": lambda course_id: NEGATIVE_CHECK | {"course": course_id},
}  # fmt: skip

# The filter of each list that names another team's object, and the object it names.
LIST_FILTERS: dict[str, Callable[[World, Course], dict]] = {
    "courses": lambda w, c: {"care_team": c.care_team_id} if c.care_team_id != w.team_a.pk else {},
    "imaging-studies": lambda w, c: {"course": c.pk},
    "lab-results": lambda w, c: {"course": c.pk},
    "symptom-checks": lambda w, c: {"course": c.pk},
    "reminders": lambda w, c: {"course": c.pk},
}


def _object_path(name: str, world: World, course: Course | None) -> str:
    """The URL of `name` for the course's object, or for an id that does not exist."""
    if name in ("alert-ack", "alert-resolve"):
        pk = world.alerts[course.pk] if course else MISSING
    elif name in ("patient", "patient-calendar"):
        pk = course.patient_id if course else MISSING
    else:
        pk = course.pk if course else MISSING
    return reverse(f"api:{name}", kwargs={"pk": pk})


def _object_body(name: str) -> Any:
    if name == "course-events":
        return {"type": "symptoms_reported", "occurred_on": "2026-09-20", "data": {},
                "reason": "phone call"}  # fmt: skip
    if name == "patient":
        return {"phone": "+447700900111"}
    if name == "alert-resolve":
        return {"note": "seen"}
    return None


def cells_for(name: str, method: str, expect: Expect, role: str, world: World) -> list[Cell]:
    if expect.kind == "public":
        if name == "token":
            body = {"username": "coordinator", "password": factories.PASSWORD}
        else:
            body = {"refresh": str(RefreshToken.for_user(world.users["coordinator"]))}
        return [Cell(name, method, role, "-", reverse(f"api:{name}"), body)]
    if expect.kind == "feed":  # a live address of the persona patient's feed
        issued = calendar.issue_feed(patient=world.course.patient, actor=world.users["clinician"])
        return [Cell(name, method, role, "-", urlsplit(issued.url).path)]
    if expect.kind == "me":
        body = {"quiet_hours_start": "22:30"} if method == "PATCH" else None
        return [Cell(name, method, role, "-", reverse(f"api:{name}"), body)]
    if expect.kind == "list":
        path = reverse(f"api:{name}")
        cells = [Cell(name, method, role, "own", path)]
        for other in world.others_of(role):
            params = LIST_FILTERS.get(name, lambda w, c: {})(world, other)
            cells.append(Cell(name, method, role, "other", path, params=params))
        return cells
    if expect.kind == "create":
        if name == "courses":  # aimed by care team
            make, own, others = _registration, world.team_a.pk, [world.team_b.pk]
        else:  # aimed by course
            make, own = CREATE_BODIES[name], world.course.pk
            others = [c.pk for c in world.others_of(role)]
        path = reverse(f"api:{name}")
        cells = [Cell(name, method, role, "own", path, make(own))]
        for other in others:
            cells.append(
                Cell(name, method, role, "other", path, make(other), twin=(path, make(MISSING)))
            )
        return cells
    body = _object_body(name)
    cells = [Cell(name, method, role, "own", _object_path(name, world, world.course), body)]
    for other in world.others_of(role):
        cells.append(
            Cell(name, method, role, "other", _object_path(name, world, other), body,
                 twin=(_object_path(name, world, None), body))
        )  # fmt: skip
    return cells


def send(client: APIClient, method: str, path: str, body: Any = None, params: dict | None = None):
    if method == "GET":
        return client.get(path, params or {})
    return client.generic(method, path, _json(body), content_type="application/json")


def _json(body: Any) -> str:
    return "" if body is None else json.dumps(body)


def _rows_patients(name: str, rows: list[dict]) -> set[int]:
    """The patients whose data the rows of a list carry."""
    patient_of_course = {c.pk: c.patient_id for c in Course.objects.all()}
    if name == "courses":
        return {row["patient"]["id"] for row in rows}
    if name == "patients":
        return {row["id"] for row in rows}
    return {patient_of_course[row["course"]] for row in rows}


def judge(cell: Cell, expect: Expect, world: World) -> str | None:
    """Send the cell's request and say what is wrong with the answer, if anything."""
    client = world.clients[cell.role]
    response = send(client, cell.method, cell.path, cell.body, cell.params)
    status = response.status_code
    if cell.role == "anonymous" and expect.kind not in ("public", "feed"):
        return None if status == 401 else f"expected 401, got {status}"
    if cell.role not in expect.roles:
        if status != 403:
            return f"expected 403 for the role, got {status} {response.content[:120]!r}"
        if cell.twin and send(client, cell.method, *cell.twin).content != response.content:
            return "a refused role can tell another team's object from a missing one"
        return None
    if cell.scope in ("own", "-"):
        if status != expect.ok:
            return f"expected {expect.ok}, got {status} {response.content[:200]!r}"
        if expect.kind == "list":
            return _judge_list(cell, response.json(), world)
        if cell.name == "patient-me" and response.json()["id"] != world.course.patient_id:
            return "patients/me/ is not the caller's own record"
        return None
    # Another team's (or patient's) object: the answer of an id that does not exist.
    if expect.kind == "list":
        if status != 200:
            return f"expected 200, got {status}"
        if cell.params and response.json()["results"]:
            return f"a filter by another team's id listed rows: {response.json()['results']!r}"
        return _judge_list(cell, response.json(), world)
    twin_path, twin_body = cell.twin
    twin = send(client, cell.method, twin_path, twin_body)
    expected_status = 400 if expect.kind == "create" else 404
    if status != expected_status:
        return f"expected {expected_status}, got {status} {response.content[:200]!r}"
    if response.content != twin.content or twin.status_code != status:
        return f"differs from a missing id: {response.content!r} vs {twin.content!r}"
    return None


def _judge_list(cell: Cell, page: dict, world: World) -> str | None:
    seen = _rows_patients(cell.name, page["results"])
    allowed = world.patients_of(cell.role)
    if seen - allowed:
        return f"listed patients {sorted(seen - allowed)} outside the caller's reach"
    if cell.scope == "own" and world.course.patient_id not in seen:
        return "the caller's own rows are missing"
    if "count" in page and page["count"] != len(page["results"]) and page["next"] is None:
        return f"count {page['count']} is not the number of visible rows"
    return None


def test_the_permission_matrix_holds_for_every_endpoint_method_role_and_team(world):
    failures, cells = [], 0
    for name, method in api_endpoints():
        expect = EXPECTED.get((name, method))
        if expect is None:
            failures.append(f"{method} {name}: no row in EXPECTED")
            continue
        for role in ROLES:
            for cell in cells_for(name, method, expect, role, world):
                cells += 1
                problem = judge(cell, expect, world)
                if problem:
                    failures.append(f"{cell.label()}: {problem}")

    report("permission matrix", f"{cells} cells tested, {len(failures)} failures")
    assert cells > 150
    assert not failures, "\n".join(failures)


# --- The same rules as sentences ----------------------------------------------------------------
def test_ids_around_own_objects_reveal_nothing_of_other_teams(world, api, coordinator2):
    """Enumeration (S2): walking the ids, team B sees its own and the same 404 for all else."""
    client = api(coordinator2)
    # The ids around this test's own objects: database sequences outlive each test's
    # transaction, so walking from 1 would send more requests the later the test runs and meet
    # the per-user rate limit in a long run.
    highest = Course.objects.order_by("-pk").first().pk
    lowest = min(
        Course.objects.order_by("pk").first().pk, Patient.objects.order_by("pk").first().pk
    )
    not_found = client.get(f"/api/v1/courses/{MISSING}/").content
    leaks = []
    for pk in range(max(1, lowest - 20), highest + 5):
        for path in (f"/api/v1/courses/{pk}/", f"/api/v1/courses/{pk}/events/"):
            response = client.get(path)
            if pk == world.other.pk:
                assert response.status_code == 200
            elif response.status_code != 404 or response.content != not_found:
                leaks.append(path)
        patient = client.get(f"/api/v1/patients/{pk}/")
        if pk != world.other.patient_id and patient.content != not_found:
            leaks.append(f"/api/v1/patients/{pk}/")

    report(
        "permission matrix",
        f"enumeration over ids {max(1, lowest - 20)}..{highest + 4}: {len(leaks)} leaks",
    )
    assert leaks == []


def test_a_list_filtered_by_another_teams_ids_is_empty(world):
    staff = world.clients["coordinator"]

    assert staff.get("/api/v1/courses/", {"care_team": world.team_b.pk}).json()["results"] == []
    for path in ("imaging-studies", "lab-results", "symptom-checks", "reminders"):
        page = staff.get(f"/api/v1/{path}/", {"course": world.other.pk}).json()
        assert page["results"] == [], path
        assert "count" not in page or page["count"] == 0


def test_a_patient_sees_only_itself(world):
    me = world.clients["patient"]

    assert me.get("/api/v1/patients/me/").json()["id"] == world.course.patient_id
    assert me.get(f"/api/v1/patients/{world.neighbour.patient_id}/").status_code == 404
    assert me.get(f"/api/v1/courses/{world.neighbour.pk}/").status_code == 404
    listed = me.get("/api/v1/courses/").json()["results"]
    assert [c["id"] for c in listed] == [world.course.pk]


def test_staff_have_no_patients_me(world):
    assert world.clients["coordinator"].get("/api/v1/patients/me/").status_code == 403


def test_a_coordinator_may_not_override_a_guideline_guard(world):
    factories.advance(
        world.course, world.users["clinician"],
        ("recurrence_detected", {"site": "liver", "resectable": False}),
        ("ssa_started", factories.SSA), ("progression_detected", {"recist": "PD"}),
    )  # fmt: skip
    body = {"type": "prrt_started", "occurred_on": "2026-09-25", "reason": "tumour board",
            "data": factories.PRRT | {"activity_gbq": 9.0}, "override": True,
            "override_reason": "trial protocol"}  # fmt: skip
    before = world.course.version

    response = world.clients["coordinator"].post(
        f"/api/v1/courses/{world.course.pk}/events/", body, format="json"
    )

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    world.course.refresh_from_db()
    assert (world.course.state, world.course.version) == ("progression", before)


def test_a_patient_may_not_record_events_let_alone_override(world):
    body = {"type": "course_closed", "occurred_on": "2026-09-20", "data": {"reason": "discharged"},
            "override": True, "override_reason": "I feel fine"}  # fmt: skip

    response = world.clients["patient"].post(
        f"/api/v1/courses/{world.course.pk}/events/", body, format="json"
    )

    assert response.status_code == 403
    world.course.refresh_from_db()
    assert world.course.state == "surveillance"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/courses/", "/api/v1/courses/{course}/", "/api/v1/courses/{course}/events/",
        "/api/v1/courses/{course}/history/", "/api/v1/patients/", "/api/v1/patients/{patient}/",
        "/api/v1/patients/me/", "/api/v1/patients/me/schedule/", "/api/v1/imaging-studies/",
        "/api/v1/lab-results/", "/api/v1/symptom-checks/", "/api/v1/reminders/",
        "/api/v1/alerts/", "/api/v1/courses/{course}/fhir/",
    ],
)  # fmt: skip
def test_an_integration_may_not_read_patient_data(api, integration, course, path):
    url = path.format(course=course.pk, patient=course.patient_id)

    response = api(integration).get(url)

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_a_method_an_endpoint_lacks_is_405_for_every_role(world):
    for role in ("coordinator", "patient", "integration"):
        response = world.clients[role].delete(f"/api/v1/courses/{world.course.pk}/")
        assert response.status_code == 405, role
        assert response.json()["code"] == "method_not_allowed"
