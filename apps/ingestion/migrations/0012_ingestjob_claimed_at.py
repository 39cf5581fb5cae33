"""IngestJob takes the shape of apps.jobs.models.Job: `started_at` becomes `claimed_at`.

A rename keeps every row as it was: a running job keeps its heartbeat, so staleness (the
heartbeat's age) reads the same."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("ingestion", "0011_source_header_unmatched")]

    operations = [
        migrations.RenameField(model_name="ingestjob", old_name="started_at", new_name="claimed_at")
    ]
