"""Text search moves off the ingest path: the trigram GIN index on events goes, and a separate
EventText table (filled after each ingest job) carries it. The two single-column foreign-key
indexes on events go too: (incident, ts, id) and (source, line) lead with those columns.

Existing events are copied into EventText before its index is built (one bulk build).
The trigram index is created only where pg_trgm exists, as in 0003 (search is then a scan).
"""

import django.contrib.postgres.indexes
import django.db.models.deletion
from django.db import migrations, models

BACKFILL = """
INSERT INTO ingestion_eventtext (event_id, source_id, body)
SELECT id, source_id, upper(message) FROM ingestion_event;
UPDATE ingestion_source SET text_indexed = true;
"""

CREATE_TRGM = """
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX IF NOT EXISTS eventtext_body_trgm
            ON ingestion_eventtext USING gin (body gin_trgm_ops);
    END IF;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0001_initial"),
        ("ingestion", "0005_group_rollup"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="event", name="event_message_trgm"),
            ],
            database_operations=[
                migrations.RunSQL(
                    "DROP INDEX IF EXISTS event_message_trgm", reverse_sql=migrations.RunSQL.noop
                )
            ],
        ),
        migrations.AlterField(
            model_name="event",
            name="incident",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="events",
                to="incidents.incident",
            ),
        ),
        migrations.AlterField(
            model_name="event",
            name="source",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="events",
                to="ingestion.source",
            ),
        ),
        migrations.AddField(
            model_name="source",
            name="text_indexed",
            field=models.BooleanField(default=False),
        ),
        migrations.CreateModel(
            name="EventText",
            fields=[
                ("event_id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("body", models.TextField()),
                (
                    "source",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="texts",
                        to="ingestion.source",
                    ),
                ),
            ],
        ),
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(
                    model_name="eventtext",
                    index=django.contrib.postgres.indexes.GinIndex(
                        django.contrib.postgres.indexes.OpClass("body", name="gin_trgm_ops"),
                        name="eventtext_body_trgm",
                    ),
                )
            ],
            database_operations=[
                migrations.RunSQL(
                    CREATE_TRGM, reverse_sql="DROP INDEX IF EXISTS eventtext_body_trgm"
                )
            ],
        ),
    ]
