"""REST endpoints for courses, events, history and patients (docs/api.md#resources).

Views parse, ask a service, and shape the answer. Scoping comes from treatments.selectors,
so an object outside the caller's reach is a 404 exactly like an id that does not exist.
"""

import datetime as dt

from django.db.models import OuterRef, Prefetch, QuerySet, Subquery
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers as drf_serializers
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import NotFound as DomainNotFound
from surveillance import schedule, selectors
from surveillance.models import ScheduledItem, SurveillancePlan
from treatments import machine, services
from treatments.models import Course, CourseEvent, Patient, PrrtCycle, TreatmentLine
from treatments.roles import Role, role_of
from treatments.selectors import (
    course_is_visible_to,
    courses_visible_to,
    patients_visible_to,
    teams_of,
)

from . import lean
from . import permissions as perms
from . import serializers as s
from .base import ApiView
from .compiled import CompiledQuery, as_bigint, attach_prefetched
from .filters import CourseFilter, filtered, parameters
from .idempotency import idempotent
from .pagination import IdCursorPagination, OldestFirstPagination
from .readlog import log_reads


def course_queryset(user) -> QuerySet[Course]:
    return (
        courses_visible_to(user)
        .select_related("patient", "diagnosis", "current_line", "plan")
        .prefetch_related(
            Prefetch(
                "scheduled_items",
                queryset=ScheduledItem.objects.filter(active=True).order_by("due_on", "kind"),
                to_attr="active_items",
            )
        )
    )


def course_list_rows(user) -> QuerySet:
    """The courses ``user`` may see, as one query's worth of columns per course: what
    ``lean.course_from_values`` reads, with the earliest active due date as ``next_due_on``."""
    next_due = (
        ScheduledItem.objects.filter(course_id=OuterRef("pk"), active=True)
        .order_by("due_on")
        .values("due_on")[:1]
    )
    return courses_visible_to(user).annotate(next_due_on=Subquery(next_due))


def course_detail_queryset(user) -> QuerySet[Course]:
    """``course_queryset`` with what the detail answer adds: lines with their PRRT cycles, and
    the status updates the current facts come from (one query each, whatever their number)."""
    return course_queryset(user).prefetch_related(
        Prefetch("lines", queryset=TreatmentLine.objects.prefetch_related("cycles")),
        Prefetch(
            "events",
            queryset=CourseEvent.objects.filter(type=machine.EventType.STATUS_UPDATED).order_by(
                "seq"
            ),
            to_attr="status_updates",
        ),
    )


# The course row and the detail's child rows, by course id: SQL compiled once per process
# (api/compiled.py).
_COURSE_ROW = CompiledQuery(
    lambda pk: Course.objects.filter(pk=pk).select_related(
        "patient", "diagnosis", "current_line", "plan"
    )
)
_ACTIVE_ITEMS = CompiledQuery(
    lambda cid: ScheduledItem.objects.filter(course_id=cid, active=True).order_by("due_on", "kind")
)
_LINES = CompiledQuery(lambda cid: TreatmentLine.objects.filter(course_id=cid))
_CYCLES = CompiledQuery(lambda cid: PrrtCycle.objects.filter(line__course_id=cid))
_STATUS_UPDATES = CompiledQuery(
    lambda cid: CourseEvent.objects.filter(
        course_id=cid, type=machine.EventType.STATUS_UPDATED
    ).order_by("seq")
)


def visible_course(user, pk: int) -> Course:
    """The course ``pk`` with its patient, diagnosis and current line, if ``user`` may see it
    (treatments.selectors decides, as for courses_visible_to); else NotFound, the same answer
    as for an id that does not exist."""
    pk = as_bigint(pk)
    found = _COURSE_ROW.run(pk) if pk is not None else []
    if not found or not course_is_visible_to(user, found[0]):
        raise NotFound()
    return found[0]


def load_course_detail(user, pk: int) -> Course:
    """The course ``pk`` as ``course_detail_queryset(user)`` would give it (the same related
    rows, in the same order); NotFound when ``user`` may not see it or it does not exist.

    One query for the course with its patient, diagnosis and current line (visible_course),
    then one for each kind of child row (PRRT cycles only when the course has lines), whose SQL is
    compiled once per process.
    """
    course = visible_course(user, pk)
    course.active_items = list(_ACTIVE_ITEMS.run(course.pk))
    lines = list(_LINES.run(course.pk))
    cycles: dict[int, list] = {line.pk: [] for line in lines}
    by_id = {line.pk: line for line in lines}
    for cycle in _CYCLES.run(course.pk) if lines else ():  # no line, no cycle
        cycle.line = by_id[cycle.line_id]
        cycles[cycle.line_id].append(cycle)
    for line in lines:
        line.course = course
        attach_prefetched(line, "cycles", cycles[line.pk])
    attach_prefetched(course, "lines", lines)
    course.status_updates = list(_STATUS_UPDATES.run(course.pk))
    return course


def due_items_of(course: Course, today: dt.date) -> list[dict]:
    """The course's denormalised due items with their status on `today` (schedule decides)."""
    return [
        {
            "kind": item.kind,
            "due_on": item.due_on,
            "window_start": item.window_start,
            "window_end": item.window_end,
            "status": schedule.status_of(
                item.kind, item.due_on, item.window_start, item.window_end, today
            ),
            "why": item.why,
            "rule_version": item.rule_version,
        }
        for item in getattr(course, "active_items", [])
    ]


def plan_of(course: Course) -> SurveillancePlan | None:
    """The course's plan as selected with it (``select_related("plan")``); None when the
    course has none yet."""
    try:
        return course.plan
    except SurveillancePlan.DoesNotExist:
        return None


def course_detail(course: Course, warnings: list | None = None) -> dict:
    """The course answer (CourseDetailSerializer's shape) of a ``course_detail_queryset`` row.

    The allowed events and current facts are the services' (machine table, status updates
    over the diagnosis); ``warnings`` are the guards' (GuardResult dicts).
    """
    updates = getattr(course, "status_updates", None)
    table_facts = services.answer_facts(course, updates or [])
    now = services.current_facts(course, updates=updates)
    return lean.course_detail(
        course,
        due=due_items_of(course, timezone.localdate()),
        allowed_events=machine.allowed_events(course.state, table_facts),
        active_lines=[line for line in course.lines.all() if line.is_open],
        facts={name: now[name].as_dict() for name in lean.FACT_NAMES},
        warnings=[
            {
                "code": w["guard"],
                "detail": w["reason"],
                "source": w.get("source", ""),
                "rule_version": w.get("rule_version"),
            }
            for w in (warnings or [])
        ],
        plan=plan_of(course),
    )


def _filtered_courses(request: Request, qs: QuerySet) -> QuerySet:
    """``qs`` narrowed by CourseFilter; without any of its parameters, as it is (the same
    rows: every filter of an absent parameter is a no-op), without building the FilterSet."""
    if CourseFilter.base_filters.keys() & request.query_params.keys():
        return filtered(CourseFilter, request, qs)
    return qs


class CourseListView(ApiView):
    permission_classes = [
        IsAuthenticated,
        perms.roles(read=perms.STAFF_AND_PATIENT, write=perms.STAFF),
    ]
    pagination_class = IdCursorPagination

    @extend_schema(
        parameters=[
            *parameters(CourseFilter),
            OpenApiParameter("cursor", str),
            OpenApiParameter("page_size", int),
        ],
        responses=s.CourseSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        qs = _filtered_courses(request, course_list_rows(request.user))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            qs.values(*lean.COURSE_VALUES, "next_due_on"), request, view=self
        )
        log_reads(request, [row["patient__id"] for row in page])
        return paginator.get_paginated_response([lean.course_from_values(row) for row in page])

    @extend_schema(request=s.CourseCreateSerializer, responses={201: s.CourseDetailSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        body = s.CourseCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        team = teams_of(request.user).filter(pk=data["care_team"]).first()
        if team is None:
            raise ValidationError({"care_team": ["No such care team among yours."]})
        registration = services.register_course(
            actor=request.user,
            care_team=team,
            patient=data.get("patient"),
            patient_id=data.get("patient_id"),
            diagnosis=data["diagnosis"],
            surgery=data["surgery"],
            reason=data.get("reason", ""),
        )
        course = load_course_detail(request.user, registration.course.pk)
        log_reads(request, [course.patient_id])  # the answer carries the patient's course
        return Response(
            course_detail(course, registration.warnings), status=status.HTTP_201_CREATED
        )


class CourseDetailView(ApiView):
    permission_classes = [IsAuthenticated, perms.roles(read=perms.STAFF_AND_PATIENT)]

    @extend_schema(responses=s.CourseDetailSerializer)
    def get(self, request: Request, pk: int) -> Response:
        course = load_course_detail(request.user, pk)
        log_reads(request, [course.patient_id])
        return Response(course_detail(course))


class CourseEventsView(ApiView):
    permission_classes = [
        IsAuthenticated,
        perms.roles(read=perms.STAFF_AND_PATIENT, write=perms.STAFF),
    ]
    pagination_class = OldestFirstPagination

    @extend_schema(
        parameters=[OpenApiParameter("cursor", str)], responses=s.EventSerializer(many=True)
    )
    def get(self, request: Request, pk: int) -> Response:
        course = visible_course(request.user, pk)
        paginator = self.pagination_class()
        rows = CourseEvent.objects.filter(course_id=course.pk).values(*lean.EVENT_VALUES)
        page = paginator.paginate_queryset(rows, request, view=self)
        log_reads(request, [course.patient_id])
        return paginator.get_paginated_response([lean.event_from_values(row) for row in page])

    @extend_schema(request=s.EventCreateSerializer, responses={201: s.EventCreatedSerializer})
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        body = s.EventCreateSerializer(data=request.data)
        if not body.is_valid():
            visible_course(request.user, pk)  # a course out of reach is a 404 before all else
            raise ValidationError(body.errors)
        data = body.validated_data
        course_id = as_bigint(pk)
        if course_id is None:
            raise NotFound()
        try:
            recorded = _record_visible_event(request, course_id, data)
        except DomainNotFound:
            raise NotFound() from None  # missing or another team's: the same answer
        course = _recorded_course(request.user, recorded)
        log_reads(request, [course.patient_id])  # the answer carries the patient's course
        return Response(
            {"event": lean.event_from_instance(recorded.event), "course": course_detail(course)},
            status=status.HTTP_201_CREATED,
        )


def _record_visible_event(request: Request, course_id: int, data: dict) -> services.Recorded:
    """``record_event`` on course ``course_id`` if the user may see it: the scope is checked by
    the statement that locks the course (core.errors.NotFound otherwise)."""
    return services.record_event(
        course=course_id,
        within=courses_visible_to(request.user),
        type=data["type"],
        occurred_on=data["occurred_on"],
        data=data.get("data") or {},
        actor=request.user,
        reason=data.get("reason", ""),
        override=data.get("override", False),
        override_reason=data.get("override_reason", ""),
        expected_version=data.get("expected_version"),
        correction=data.get("correction", False),
    )


def _recorded_course(user, recorded: services.Recorded) -> Course:
    """The course after ``recorded``, as ``load_course_detail`` gives it, built from the rows
    the write already holds: the locked course row (patient, diagnosis, current line), its
    lines and cycles and its status updates when the event left them as read (``Recorded``).
    Read afresh: the active due items (the re-plan may have moved them) and the plan (when
    the answer asks for it). Otherwise, the whole course is read again."""
    course = recorded.course
    if recorded.lines is None or recorded.status_updates is None:
        return load_course_detail(user, course.pk)
    course.active_items = list(_ACTIVE_ITEMS.run(course.pk))
    for line in recorded.lines:
        line.course = course
    attach_prefetched(course, "lines", recorded.lines)
    course.status_updates = recorded.status_updates
    return course


def _history_entry(entry: selectors.AuditEntry) -> dict:
    """One audit entry as the history endpoint shows it: changed fields by column name."""
    return {
        "changed_at": entry.when,
        "changed_by": entry.who,
        "change_reason": entry.reason,
        "change_type": entry.action,
        "object": {"model": entry.model, "id": entry.object_id},
        "changes": {c.attname: [_plain(c.old), _plain(c.new)] for c in entry.changes},
    }


def _plain(value):
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


class CourseHistoryView(ApiView):
    permission_classes = [IsAuthenticated, perms.roles(read=perms.STAFF)]

    @extend_schema(responses=s.HistoryEntrySerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        course = visible_course(request.user, pk)
        log_reads(request, [course.patient_id])
        entries = [_history_entry(entry) for entry in selectors.audit_trail(course)]
        return Response([lean.history_entry(entry) for entry in entries])


class PatientListView(ApiView):
    permission_classes = [IsAuthenticated, perms.roles(read=perms.STAFF)]
    pagination_class = IdCursorPagination

    @extend_schema(
        parameters=[OpenApiParameter("cursor", str)], responses=s.PatientSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(patients_visible_to(request.user), request, view=self)
        log_reads(request, [p.pk for p in page])
        return paginator.get_paginated_response(s.PatientSerializer(page, many=True).data)


def _update_patient(request: Request, patient: Patient) -> Response:
    staff = role_of(request.user) != Role.PATIENT
    body = (s.StaffPatientUpdateSerializer if staff else s.PatientUpdateSerializer)(
        data=request.data
    )
    body.is_valid(raise_exception=True)
    updated = services.patient_update(patient=patient, actor=request.user, **body.validated_data)
    log_reads(request, [updated.pk])
    return Response(s.PatientSerializer(updated).data)


class PatientDetailView(ApiView):
    permission_classes = [
        IsAuthenticated,
        perms.roles(read=perms.STAFF_AND_PATIENT, write=perms.STAFF_AND_PATIENT),
    ]

    @extend_schema(responses=s.PatientSerializer)
    def get(self, request: Request, pk: int) -> Response:
        patient = get_object_or_404(patients_visible_to(request.user), pk=pk)
        log_reads(request, [patient.pk])
        return Response(s.PatientSerializer(patient).data)

    @extend_schema(request=s.StaffPatientUpdateSerializer, responses=s.PatientSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        return _update_patient(request, get_object_or_404(patients_visible_to(request.user), pk=pk))


def _own_patient(request: Request) -> Patient:
    if role_of(request.user) != Role.PATIENT:
        raise NotFound()
    return get_object_or_404(Patient, user=request.user)


class PatientMeView(ApiView):
    permission_classes = [IsAuthenticated, perms.roles(read={Role.PATIENT}, write={Role.PATIENT})]

    @extend_schema(responses=s.PatientSerializer)
    def get(self, request: Request) -> Response:
        patient = _own_patient(request)
        log_reads(request, [patient.pk])
        return Response(s.PatientSerializer(patient).data)

    @extend_schema(request=s.PatientUpdateSerializer, responses=s.PatientSerializer)
    def patch(self, request: Request) -> Response:
        return _update_patient(request, _own_patient(request))


class ScheduleEntrySerializer(drf_serializers.Serializer):
    course = drf_serializers.IntegerField()
    state = drf_serializers.CharField()
    due = s.DueItemSerializer(many=True)


class PatientScheduleView(ApiView):
    permission_classes = [IsAuthenticated, perms.roles(read={Role.PATIENT})]

    @extend_schema(responses=ScheduleEntrySerializer(many=True))
    def get(self, request: Request) -> Response:
        patient = _own_patient(request)
        today = timezone.localdate()
        courses = course_queryset(request.user).filter(patient=patient).exclude(state="closed")
        log_reads(request, [patient.pk])
        body = [{"course": c.pk, "state": c.state, "due": due_items_of(c, today)} for c in courses]
        return Response(ScheduleEntrySerializer(body, many=True).data)
