"""The API's records keep their rows when their models move from netcare to api.

The database is taken back to the schema of the previous release (the migrations below
were every app's last before the move), rows are written there through that release's
models, then everything is migrated forward and the rows are read through api.models.
"""

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from api.models import IdempotencyRecord, ReadAccess, TokenVersion

# Each project app's last migration in the previous release.
PREVIOUS_RELEASE = [
    ("netcare", "0001_initial"),
    ("treatments", "0004_birth_date_from_1900"),
    ("surveillance", "0002_history_reason_as_text"),
    ("alerts", "0004_history_reason_as_text"),
]
# TokenVersion came after that release, still in netcare: its rows must move too.
TOKEN_VERSIONS = ("netcare", "0002_token_versions")


def _migrate(targets: list[tuple[str, str]]):
    """Migrate the test database to ``targets``; the apps of the state reached."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


@pytest.fixture
def at_previous_release():
    """The database at the previous release's schema, migrated forward again afterwards."""
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        yield _migrate(PREVIOUS_RELEASE)
    finally:
        _migrate(leaves)


@pytest.mark.django_db(transaction=True)
def test_read_accesses_idempotency_records_and_token_versions_survive_the_move(
    at_previous_release,
):
    old = at_previous_release
    user = old.get_model("auth", "User").objects.create(username="moved-reader")
    team = old.get_model("treatments", "CareTeam").objects.create(name="Team M", clinic="M")
    patient = old.get_model("treatments", "Patient").objects.create(
        care_team=team, clinic="M", mrn="M-1", given_name="Ada", family_name="Moved",
        birth_date=dt.date(1960, 1, 2), sex="female",
    )  # fmt: skip
    read = old.get_model("netcare", "ReadAccess").objects.create(
        actor_id=user.pk, patient_id=patient.pk, endpoint="/api/v1/patients/1/", method="GET"
    )
    record = old.get_model("netcare", "IdempotencyRecord").objects.create(
        user_id=user.pk, key="k-1", method="POST", path="/api/v1/courses/1/events/",
        body_hash="a" * 64, status_code=201, response={"id": 7},
    )  # fmt: skip
    with_tokens = _migrate([TOKEN_VERSIONS])
    with_tokens.get_model("netcare", "TokenVersion").objects.create(
        user_id=user.pk, version=3, reason="password_changed"
    )

    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    moved_read = ReadAccess.objects.get(pk=read.pk)
    assert (moved_read.actor_id, moved_read.patient_id, moved_read.endpoint) == (
        user.pk, patient.pk, "/api/v1/patients/1/",
    )  # fmt: skip
    moved_record = IdempotencyRecord.objects.get(pk=record.pk)
    assert (moved_record.key, moved_record.status_code, moved_record.response) == (
        "k-1", 201, {"id": 7},
    )  # fmt: skip
    assert TokenVersion.objects.get(user_id=user.pk).version == 3


@pytest.mark.django_db(transaction=True)
def test_the_moved_models_still_use_the_tables_they_were_created_with():
    tables = set(connection.introspection.table_names())

    assert {m._meta.db_table for m in (ReadAccess, IdempotencyRecord, TokenVersion)} <= tables
    assert not {"api_readaccess", "api_idempotencyrecord", "api_tokenversion"} & tables
