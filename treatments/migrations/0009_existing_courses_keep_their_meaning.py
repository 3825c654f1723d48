"""Existing courses keep their meaning under the version 2 model.

- ``Surgery.procedure`` becomes a listed value: free text that names one of them is mapped to
  it, anything else becomes ``other``; the original words go to ``procedure_detail`` (the
  history rows keep what they said at the time).
- ``Course.resection_open`` is replayed from each course's log: a ``resection_started`` not
  followed by a ``resection_completed`` is still open (the first release had no other record
  of it, so a line started while the operation was pending hid it).
- Every SSA line of the first release was antiproliferative (it had no other intent).
- ``disease_after_surgery`` stays blank ("not asked"): those courses were registered as
  completely resected, and their state already says so.
"""

import re

from django.db import migrations

CODES = (
    "segmental_ileal_resection",
    "right_hemicolectomy",
    "ileocecal_resection",
    "small_bowel_resection",
    "other",
)


def procedure_code(text: str) -> str:
    """The listed procedure that free text names, else "other"."""
    words = re.sub(r"[^a-z]+", "_", (text or "").lower()).strip("_")
    if words in CODES:
        return words
    if "hemicolectomy" in words and "right" in words:
        return "right_hemicolectomy"
    if re.search(r"ileo_?ca?ecal", words):
        return "ileocecal_resection"
    if "ileal" in words and "segment" in words:
        return "segmental_ileal_resection"
    if re.search(r"small_(bowel|intestin)", words) and "resection" in words:
        return "small_bowel_resection"
    return "other"


def forwards(apps, schema_editor):
    Surgery = apps.get_model("treatments", "Surgery")
    Course = apps.get_model("treatments", "Course")
    CourseEvent = apps.get_model("treatments", "CourseEvent")
    TreatmentLine = apps.get_model("treatments", "TreatmentLine")
    for surgery in Surgery.objects.all().only("pk", "procedure"):
        code = procedure_code(surgery.procedure)
        detail = "" if surgery.procedure == code else surgery.procedure
        # QuerySet.update: no history row, the operation itself did not change.
        Surgery.objects.filter(pk=surgery.pk).update(procedure=code, procedure_detail=detail)
    open_courses = []
    for course_id in Course.objects.values_list("pk", flat=True):
        is_open = False
        types = CourseEvent.objects.filter(
            course_id=course_id, type__in=("resection_started", "resection_completed")
        ).order_by("seq")
        for kind in types.values_list("type", flat=True):
            is_open = kind == "resection_started"
        if is_open:
            open_courses.append(course_id)
    Course.objects.filter(pk__in=open_courses).update(resection_open=True)
    TreatmentLine.objects.filter(category="ssa", intent="").update(intent="antiproliferative")


def backwards(apps, schema_editor):
    Surgery = apps.get_model("treatments", "Surgery")
    for surgery in Surgery.objects.exclude(procedure_detail="").only("pk", "procedure_detail"):
        Surgery.objects.filter(pk=surgery.pk).update(procedure=surgery.procedure_detail)


class Migration(migrations.Migration):
    dependencies = [("treatments", "0008_clinical_model_v2_lines_cycles_residual_disease")]

    operations = [migrations.RunPython(forwards, backwards)]
