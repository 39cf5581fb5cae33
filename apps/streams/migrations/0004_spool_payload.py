"""One spool row per accepted request: the records packed in `SpoolBatch.payload`.

Batches not yet drained (queued, running, failed) get their `SpoolRecord` rows packed into
their payload (apps.streams.spool, format 1); done batches keep no payload (their records are
in the stream). Then the per-record table goes. The payload is compressed already: stored
EXTERNAL, so PostgreSQL does not try to compress it again.
"""

from django.db import migrations, models

from apps.core.vocabulary import LEVELS
from apps.streams import spool
from apps.streams.protocols import StreamRecord


def pack_waiting(apps, schema_editor):
    SpoolBatch = apps.get_model("streams", "SpoolBatch")
    SpoolRecord = apps.get_model("streams", "SpoolRecord")
    for batch in SpoolBatch.objects.exclude(status="done").only("pk").iterator():
        records = [
            StreamRecord(
                time=row.ts,
                observed_time=row.observed_ts,
                service=row.service,
                level=LEVELS[row.level] if row.level is not None else None,
                message=row.message,
                attributes=row.attributes,
                resource=row.resource,
                trace_id=row.trace_id,
                span_id=row.span_id,
                truncated=row.truncated,
            )
            for row in SpoolRecord.objects.filter(batch_id=batch.pk).order_by("seq")
        ]
        SpoolBatch.objects.filter(pk=batch.pk).update(
            payload=spool.pack(records), record_count=len(records)
        )


class Migration(migrations.Migration):
    dependencies = [("streams", "0003_stream_template")]

    operations = [
        migrations.AddField(
            model_name="spoolbatch", name="payload", field=models.BinaryField(null=True)
        ),
        migrations.RunSQL(
            "ALTER TABLE streams_spoolbatch ALTER COLUMN payload SET STORAGE EXTERNAL",
            migrations.RunSQL.noop,
        ),
        migrations.RunPython(pack_waiting, migrations.RunPython.noop),
        migrations.DeleteModel(name="SpoolRecord"),
    ]
