"""Trigram GIN index for event text search, when pg_trgm is installed (tenants 0002).

The index is in the model state either way; the database gets it only where the extension
exists, so a server without contrib extensions still migrates (search is then a scan).
"""

import django.contrib.postgres.indexes
import django.db.models.functions.text
from django.db import migrations

CREATE = """
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX IF NOT EXISTS event_message_trgm
            ON ingestion_event USING gin (upper(message) gin_trgm_ops);
    END IF;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0001_initial"),
        ("ingestion", "0002_group_rule"),
        ("tenants", "0002_pg_trgm"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(
                    model_name="event",
                    index=django.contrib.postgres.indexes.GinIndex(
                        django.contrib.postgres.indexes.OpClass(
                            django.db.models.functions.text.Upper("message"), name="gin_trgm_ops"
                        ),
                        name="event_message_trgm",
                    ),
                )
            ],
            database_operations=[
                migrations.RunSQL(CREATE, reverse_sql="DROP INDEX IF EXISTS event_message_trgm")
            ],
        )
    ]
