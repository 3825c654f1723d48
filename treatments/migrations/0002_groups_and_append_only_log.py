"""Staff groups for the roles, and a PostgreSQL trigger that keeps the event log append-only."""

from django.db import migrations

ROLES = ("coordinator", "clinician", "patient", "integration")

APPEND_ONLY_SQL = """
CREATE OR REPLACE FUNCTION treatments_courseevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'treatments_courseevent is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER treatments_courseevent_append_only
    BEFORE UPDATE OR DELETE ON treatments_courseevent
    FOR EACH ROW EXECUTE FUNCTION treatments_courseevent_append_only();
"""
DROP_SQL = """
DROP TRIGGER IF EXISTS treatments_courseevent_append_only ON treatments_courseevent;
DROP FUNCTION IF EXISTS treatments_courseevent_append_only();
"""


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.get_or_create(name=name)


def append_only(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # params=None: the SQL is sent as is, so the "%" of RAISE's format string is not
        # taken for a query placeholder by psycopg.
        schema_editor.execute(APPEND_ONLY_SQL, params=None)


def drop_append_only(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL)


class Migration(migrations.Migration):
    dependencies = [
        ("treatments", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunPython(create_groups, migrations.RunPython.noop),
        migrations.RunPython(append_only, drop_append_only),
    ]
