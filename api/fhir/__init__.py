"""The FHIR R4 / mCODE STU 4 export of a course (docs/api.md#fhir-export).

``course_bundle`` builds the Bundle, ``fhir_courses`` is the queryset it reads (scope it with
``courses_visible_to(user)``), ``bundle_json`` serialises it. The API view and the
``export_fhir`` command both call these.
"""

from .bundle import FHIR_JSON, bundle_json, course_bundle, fhir_courses, resource_id

__all__ = ["FHIR_JSON", "bundle_json", "course_bundle", "fhir_courses", "resource_id"]
