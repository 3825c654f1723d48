"""The FHIR export of a course (docs/api.md#fhir-export).

Scoped, throttled, authenticated and logged exactly as the course detail: the course comes
from ``courses_visible_to``, so another team's course is a 404 like a missing one, and the
read writes a read-access row. The answer is the Bundle of ``api.fhir.course_bundle``,
serialised by the FHIR library, as ``application/fhir+json``.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from treatments.selectors import courses_visible_to

from . import permissions as perms
from .base import ApiView
from .fhir import FHIR_JSON, bundle_json, course_bundle, fhir_courses
from .readlog import log_reads


class FhirJSONRenderer(BaseRenderer):
    """Writes the Bundle's FHIR JSON, serialised by the FHIR library, as is."""

    media_type = FHIR_JSON
    format = "json"  # one format: the Bundle (errors are JSON too)
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if isinstance(data, str):
            return data.encode()
        return JSONRenderer().render(data, accepted_media_type, renderer_context)


class FhirOnly(BaseContentNegotiation):
    """The export has one representation: answer it whatever the Accept header says (an error
    is answered as the API's usual JSON error body, see ``CourseFhirView.finalize_response``)."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


BUNDLE_SCHEMA = {
    "type": "object",
    "description": "A FHIR R4 Bundle of type collection (mCODE STU 4 patient bundle).",
    "properties": {
        "resourceType": {"type": "string", "enum": ["Bundle"]},
        "id": {"type": "string"},
        "type": {"type": "string", "enum": ["collection"]},
        "timestamp": {"type": "string"},
        "meta": {"type": "object"},
        "entry": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "fullUrl": {"type": "string"},
                    "resource": {"type": "object"},
                },
                "required": ["fullUrl", "resource"],
            },
        },
    },
    "required": ["resourceType", "type", "entry"],
}


class CourseFhirView(ApiView):
    """``GET courses/{id}/fhir/``: the roles and scoping of the course detail (staff of the
    course's team, the patient for their own course), the read logged for the patient."""

    permission_classes = [IsAuthenticated, perms.roles(read=perms.STAFF_AND_PATIENT)]
    renderer_classes = [FhirJSONRenderer, JSONRenderer]
    content_negotiation_class = FhirOnly

    def finalize_response(self, request: Request, response, *args, **kwargs):
        if isinstance(response, Response) and not isinstance(response.data, str):
            # An error ({code, detail, errors}) is the API's JSON, not FHIR.
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)

    @extend_schema(
        responses={
            (200, FHIR_JSON): OpenApiResponse(
                response=BUNDLE_SCHEMA,
                description="The course as a FHIR R4 Bundle (type collection) following mCODE "
                "STU 4: Patient, primary cancer Condition, TNM stage group and categories, "
                "grade, Ki-67, laboratory and tumour-marker Observations, disease status per "
                "imaging result, MedicationRequest per line, MedicationAdministration per "
                "injection and PRRT cycle, Procedures and a CarePlan of the due items.",
            )
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        course = get_object_or_404(fhir_courses(courses_visible_to(request.user)), pk=pk)
        log_reads(request, [course.patient_id])
        return Response(bundle_json(course_bundle(course)), content_type=FHIR_JSON)
