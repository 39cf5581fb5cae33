"""The text search index holds each row's source next to its trigrams (btree_gin, tenants 0004):
a search reads the postings of the incident's own sources only. With one index over the text
alone, every incident of the tenant that holds the term was read and filtered out; a tenant
with four other million-event incidents doubled the time of a search.

Where btree_gin is missing the text-only index stays (same answers); without pg_trgm there is
none, as before (0006).
"""

import django.contrib.postgres.indexes
from django.db import migrations

FORWARD = """
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm')
       AND EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'btree_gin') THEN
        CREATE INDEX IF NOT EXISTS eventtext_source_trgm
            ON ingestion_eventtext USING gin (source_id, body gin_trgm_ops);
        DROP INDEX IF EXISTS eventtext_body_trgm;
    END IF;
END
$$;
"""

BACKWARD = """
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX IF NOT EXISTS eventtext_body_trgm
            ON ingestion_eventtext USING gin (body gin_trgm_ops);
    END IF;
    DROP INDEX IF EXISTS eventtext_source_trgm;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("ingestion", "0006_event_text"),
        ("tenants", "0004_btree_gin"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="eventtext", name="eventtext_body_trgm"),
                migrations.AddIndex(
                    model_name="eventtext",
                    index=django.contrib.postgres.indexes.GinIndex(
                        fields=["source", "body"],
                        opclasses=["int8_ops", "gin_trgm_ops"],
                        name="eventtext_source_trgm",
                    ),
                ),
            ],
            database_operations=[migrations.RunSQL(FORWARD, reverse_sql=BACKWARD)],
        ),
    ]
