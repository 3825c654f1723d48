"""Standard- and high-risk plans left at the first release's default become lifelong.

docs/clinical-rules.md#duration: ESMO 2020 recommends lifelong follow-up for small-intestine NET
(late recurrences are reported past 20 years). A plan a clinician changed keeps its duration:
only plans whose history holds nothing but their creation at the ten-year default move.
"""

from django.db import migrations
from django.db.models import Count

FIRST_RELEASE_DEFAULT_YEARS = 10


def forwards(apps, schema_editor):
    plan_model = apps.get_model("surveillance", "SurveillancePlan")
    history = apps.get_model("surveillance", "HistoricalSurveillancePlan")
    untouched = (
        history.objects.values("id").annotate(rows=Count("history_id")).filter(rows=1)
    ).values("id")
    plan_model.objects.filter(
        risk_group__in=("standard", "high"),
        duration_years=FIRST_RELEASE_DEFAULT_YEARS,
        pk__in=untouched,
    ).update(duration_years=None)


class Migration(migrations.Migration):
    dependencies = [("surveillance", "0003_symptom_check_v2_and_monitoring_kinds")]

    # Backwards leaves plans lifelong: which ones were ten years before cannot be told apart.
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
