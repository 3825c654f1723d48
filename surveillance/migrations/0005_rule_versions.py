"""Due items and plans record the clinical rule set that produced them.

docs/clinical-rules.md#rule-versions: rows stored before this migration keep rule_version null,
meaning "produced before rule versions were recorded". No version is claimed for them, as the
rules that produced them are not known; a due item gets the version at its course's next
re-plan, a plan when it next changes.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("surveillance", "0004_standard_and_high_risk_lifelong"),
    ]

    operations = [
        migrations.AddField(
            model_name="historicalsurveillanceplan",
            name="rule_version",
            field=models.CharField(blank=True, max_length=16, null=True),
        ),
        migrations.AddField(
            model_name="scheduleditem",
            name="rule_version",
            field=models.CharField(blank=True, max_length=16, null=True),
        ),
        migrations.AddField(
            model_name="surveillanceplan",
            name="rule_version",
            field=models.CharField(blank=True, max_length=16, null=True),
        ),
    ]
