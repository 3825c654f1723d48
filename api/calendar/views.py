"""The calendar feed's doors: issue and revoke an address (a patient, or staff), and the feed.

- ``POST/DELETE patients/me/calendar/``: a patient, for their own schedule;
- ``POST/DELETE patients/{id}/calendar/``: coordinators and clinicians, for a patient of
  their care teams (another team's or a missing patient: 404);
- ``GET calendar/<secret>.ics``: the feed, for a phone calendar that logs in as no one.

POST is deliberately not idempotent (no ``Idempotency-Key``): a replayed answer would have
to keep the secret, and only its hash is stored. Every POST issues a new secret and the
previous address stops working (rotation).
"""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from treatments.models import Patient
from treatments.roles import Role, role_of
from treatments.selectors import patients_visible_to

from .. import permissions as perms
from ..base import ApiView
from ..middleware import unavailable
from ..readlog import log_reads
from ..throttling import ScopedRateThrottle
from . import services
from .feed import build_calendar

CALENDAR_CONTENT_TYPE = "text/calendar; charset=utf-8"
# What the read log keeps as the endpoint of a feed read: the path without its secret.
FEED_ENDPOINT = "/api/v1/calendar/{secret}.ics"
TAGS = ["calendar"]
# Django's own request logger: a refused feed read is logged there, without its secret.
request_log = logging.getLogger("django.request")


class CalendarUrl(serializers.Serializer):
    url = serializers.URLField(
        help_text="The secret address of the feed (iCalendar); subscribe to it in a calendar. "
        "Shown once: a new POST replaces it and DELETE revokes it."
    )


ISSUED = OpenApiResponse(
    CalendarUrl,
    description="A new secret feed address; the previous one, if any, stops working at once.",
)
REVOKED = OpenApiResponse(description="The feed address, if there was one, no longer works.")


def _issued(request: Request, patient: Patient) -> Response:
    issued = services.issue_feed(patient=patient, actor=request.user)
    return Response({"url": issued.url}, status=status.HTTP_201_CREATED)


def _revoked(request: Request, patient: Patient) -> Response:
    services.revoke_feeds(patient=patient, actor=request.user, reason=services.REVOKED)
    return Response(status=status.HTTP_204_NO_CONTENT)


def _own_patient(request: Request) -> Patient:
    if role_of(request.user) != Role.PATIENT:
        raise NotFound()
    return get_object_or_404(Patient, user=request.user)


class PatientMeCalendarView(ApiView):
    """A patient's own feed address."""

    permission_classes = [IsAuthenticated, perms.roles(read=frozenset(), write={Role.PATIENT})]

    @extend_schema(request=None, responses={201: ISSUED}, tags=TAGS)
    def post(self, request: Request) -> Response:
        return _issued(request, _own_patient(request))

    @extend_schema(request=None, responses={204: REVOKED}, tags=TAGS)
    def delete(self, request: Request) -> Response:
        return _revoked(request, _own_patient(request))


class PatientCalendarView(ApiView):
    """A patient's feed address, managed by the staff of the patient's care team."""

    permission_classes = [IsAuthenticated, perms.roles(read=frozenset(), write=perms.STAFF)]

    @extend_schema(request=None, responses={201: ISSUED}, tags=TAGS)
    def post(self, request: Request, pk: int) -> Response:
        return _issued(request, get_object_or_404(patients_visible_to(request.user), pk=pk))

    @extend_schema(request=None, responses={204: REVOKED}, tags=TAGS)
    def delete(self, request: Request, pk: int) -> Response:
        return _revoked(request, get_object_or_404(patients_visible_to(request.user), pk=pk))


class JsonErrorsOnly(BaseContentNegotiation):
    """Errors are JSON whatever the client accepts: a calendar app asks for text/calendar,
    and the feed itself is answered as such by the view, outside the renderers."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class CalendarFeedView(ApiView):
    """The feed: no login (its secret address is the credential), throttled per address."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    # Anonymous: counted per client address (REST_FRAMEWORK["NUM_PROXIES"] decides which).
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "calendar_feed"
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JsonErrorsOnly

    def finalize_response(self, request: Request, response, *args, **kwargs):
        """Every refusal (404, 429, 503...) logged as Django would, with the path's secret
        replaced by ``{secret}``: Django's own line names the path, and the address of a live
        feed (throttled, or its read not logged) is its credential."""
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code >= 400 and not getattr(response, "_has_been_logged", False):
            log = request_log.error if response.status_code >= 500 else request_log.warning
            log(
                "%s: %s",
                response.reason_phrase,
                FEED_ENDPOINT,
                extra={"status_code": response.status_code},
            )
            response._has_been_logged = True
        return response

    def handle_exception(self, exc: Exception):
        """An API error as usual; a lost database the usual 503 ``unavailable``; anything
        else a 500 ``server_error`` logged with the traceback but without the request (whose
        path holds the secret)."""
        try:
            return super().handle_exception(exc)
        except (OperationalError, InterfaceError):
            return unavailable(self.request)  # the database is gone: 503, as everywhere
        except Exception:
            request_log.exception(
                "Internal Server Error: %s", FEED_ENDPOINT, extra={"status_code": 500}
            )
            response = JsonResponse(
                {"code": "server_error", "detail": "Internal server error."}, status=500
            )
            response._has_been_logged = True
            return response

    @extend_schema(
        auth=[],
        tags=TAGS,
        parameters=[
            OpenApiParameter(
                "token",
                str,
                OpenApiParameter.PATH,
                required=True,
                pattern=f"^{services.TOKEN_PATTERN}$",
                description="The feed's secret, as issued in its address.",
            )
        ],
        responses={
            (200, "text/calendar"): OpenApiResponse(
                OpenApiTypes.STR,
                description="The patient's open due items as all-day events (iCalendar, "
                "RFC 5545), named by a generic kind only. An unknown, revoked or malformed "
                "secret is a 404.",
            )
        },
    )
    def get(self, request: Request, token: str) -> HttpResponse:
        feed = services.live_feed(token)
        if feed is None:
            raise NotFound()
        patient = feed.patient
        entries = services.feed_entries(patient)
        log_reads(request, [patient.pk], calendar_feed=feed, endpoint=FEED_ENDPOINT)
        body = build_calendar(
            entries,
            feed_id=feed.pk,
            lead_days=services.alarm_lead_days(),
            alarm_at=services.alarm_time(patient),
            now=timezone.now(),
        )
        return HttpResponse(body, content_type=CALENDAR_CONTENT_TYPE)
