"""Reminders and the coordinator worklist of alerts (docs/api.md#patients-reminders-alerts)."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from alerts import services as alerts
from alerts.models import CoordinatorAlert, Reminder
from treatments.selectors import courses_visible_to

from . import permissions as perms
from .base import ApiView
from .filters import AlertFilter, ReminderFilter, filtered, parameters
from .idempotency import idempotent
from .pagination import IdCursorPagination
from .readlog import log_reads
from .strict import StrictSerializer


class ReminderOut(serializers.ModelSerializer):
    class Meta:
        model = Reminder
        fields = ["id", "course", "kind", "due_on", "stage", "channel", "send_after", "status",
                  "skip_reason", "attempts", "sent_at", "delivered_at", "created_at"]  # fmt: skip
        read_only_fields = fields


class ReminderListView(ApiView):
    pagination_class = IdCursorPagination
    permission_classes = [IsAuthenticated, perms.roles(read=perms.STAFF_AND_PATIENT)]

    @extend_schema(
        parameters=[
            *parameters(ReminderFilter),
            OpenApiParameter("cursor", str),
            OpenApiParameter("page_size", int),
        ],
        responses=ReminderOut(many=True),
    )
    def get(self, request: Request) -> Response:
        qs: QuerySet[Reminder] = Reminder.objects.filter(
            course__in=courses_visible_to(request.user)
        ).select_related("course")
        qs = filtered(ReminderFilter, request, qs)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        log_reads(request, [r.course.patient_id for r in page])
        return paginator.get_paginated_response(ReminderOut(page, many=True).data)


class AlertOut(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()
    acknowledged_by = serializers.CharField(
        source="acknowledged_by.username", allow_null=True, default=None
    )
    resolved_by = serializers.CharField(
        source="resolved_by.username", allow_null=True, default=None
    )

    class Meta:
        model = CoordinatorAlert
        fields = ["id", "kind", "severity", "status", "course", "opened_at", "occurrences",
                  "last_seen_at", "details", "acknowledged_by", "acknowledged_at",
                  "resolved_by", "resolved_at", "note"]  # fmt: skip
        read_only_fields = fields

    def get_status(self, alert: CoordinatorAlert) -> str:
        if alert.resolved_at is not None:
            return "resolved"
        return "acknowledged" if alert.acknowledged_at is not None else "open"


def _alerts_for(request: Request) -> QuerySet[CoordinatorAlert]:
    return CoordinatorAlert.objects.filter(
        course__in=courses_visible_to(request.user)
    ).select_related("course", "acknowledged_by", "resolved_by")


class AlertListView(ApiView):
    pagination_class = IdCursorPagination
    permission_classes = [IsAuthenticated, perms.roles(read=perms.STAFF)]

    @extend_schema(
        parameters=[
            *parameters(AlertFilter),
            OpenApiParameter("cursor", str),
            OpenApiParameter("page_size", int),
        ],
        responses=AlertOut(many=True),
    )
    def get(self, request: Request) -> Response:
        qs = filtered(AlertFilter, request, _alerts_for(request))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        log_reads(request, [a.course.patient_id for a in page])
        return paginator.get_paginated_response(AlertOut(page, many=True).data)


class ResolveIn(StrictSerializer):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class AlertAcknowledgeView(ApiView):
    permission_classes = [IsAuthenticated, perms.roles(read=frozenset(), write=perms.STAFF)]

    @extend_schema(request=None, responses=AlertOut)
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        alert = get_object_or_404(_alerts_for(request), pk=pk)
        if isinstance(request.data, dict) and request.data:
            raise ValidationError({key: ["Unknown field."] for key in request.data})
        updated = alerts.alert_acknowledge(alert=alert, actor=request.user)
        log_reads(request, [alert.course.patient_id])
        return Response(AlertOut(_alerts_for(request).get(pk=updated.pk)).data)


class AlertResolveView(ApiView):
    permission_classes = [IsAuthenticated, perms.roles(read=frozenset(), write=perms.STAFF)]

    @extend_schema(request=ResolveIn, responses=AlertOut)
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        alert = get_object_or_404(_alerts_for(request), pk=pk)
        body = ResolveIn(data=request.data)
        body.is_valid(raise_exception=True)
        updated = alerts.alert_resolve(
            alert=alert, actor=request.user, note=body.validated_data["note"]
        )
        log_reads(request, [alert.course.patient_id])
        return Response(AlertOut(_alerts_for(request).get(pk=updated.pk)).data)
