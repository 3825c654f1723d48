"""The data migration that makes untouched standard- and high-risk plans lifelong
(docs/clinical-rules.md#version-2-surveillance-and-monitoring: ESMO 2020, lifelong follow-up).

Its function runs on today's models: plans are set to the first release's ten-year default
row by row, as that release stored them.
"""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from surveillance import services
from surveillance.models import SurveillancePlan

pytestmark = pytest.mark.django_db

migration = importlib.import_module("surveillance.migrations.0004_standard_and_high_risk_lifelong")


def ten_years(course) -> SurveillancePlan:
    SurveillancePlan.objects.filter(course=course).update(duration_years=10)
    return SurveillancePlan.objects.get(course=course)


def test_untouched_standard_and_high_risk_plans_become_lifelong_and_others_keep_theirs(
    course, high_risk_course, low_risk_course, clinician
):
    ten_years(course)
    ten_years(high_risk_course)
    ten_years(low_risk_course)
    changed = SurveillancePlan.objects.get(course=high_risk_course)
    services.plan_update(
        course=high_risk_course, actor=clinician, reason="tumour board", early_interval_months=4
    )  # a clinician's choice: a second history row
    assert changed.history.count() == 2

    migration.forwards(apps, None)

    durations = dict(SurveillancePlan.objects.values_list("course_id", "duration_years"))
    assert durations == {course.pk: None, high_risk_course.pk: 10, low_risk_course.pk: 10}
