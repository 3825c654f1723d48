"""ReadAccess, IdempotencyRecord and TokenVersion now belong to the api app.

State only: the tables and their rows stay; api's 0001 took the models over first.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("netcare", "0002_token_versions"),
        ("api", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="IdempotencyRecord"),
                migrations.DeleteModel(name="ReadAccess"),
                migrations.DeleteModel(name="TokenVersion"),
            ],
            database_operations=[],
        ),
    ]
