"""ReadAccess, IdempotencyRecord and TokenVersion move here from the netcare app.

State only: their tables (netcare_readaccess, netcare_idempotencyrecord, netcare_tokenversion)
stay as they are, with their rows; netcare's 0003 removes the models from netcare's state.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("netcare", "0002_token_versions"),
        ("treatments", "0002_groups_and_append_only_log"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="IdempotencyRecord",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("key", models.CharField(max_length=200)),
                        ("method", models.CharField(max_length=10)),
                        ("path", models.CharField(max_length=300)),
                        ("body_hash", models.CharField(max_length=64)),
                        ("status_code", models.PositiveSmallIntegerField()),
                        ("response", models.JSONField(null=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "netcare_idempotencyrecord",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("user", "key"), name="idempotency_key_unique"
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="ReadAccess",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("endpoint", models.CharField(max_length=200)),
                        ("method", models.CharField(default="GET", max_length=10)),
                        ("at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        (
                            "actor",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "patient",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="read_accesses",
                                to="treatments.patient",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "netcare_readaccess",
                        "verbose_name_plural": "read accesses",
                        "indexes": [
                            models.Index(
                                fields=["patient", "at"], name="netcare_rea_patient_5fa340_idx"
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="TokenVersion",
                    fields=[
                        (
                            "user",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                primary_key=True,
                                related_name="token_version",
                                serialize=False,
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        ("version", models.PositiveIntegerField(default=0)),
                        ("revoked_at", models.DateTimeField(blank=True, null=True)),
                        ("reason", models.CharField(blank=True, max_length=40)),
                    ],
                    options={"db_table": "netcare_tokenversion"},
                ),
            ],
            database_operations=[],
        ),
    ]
