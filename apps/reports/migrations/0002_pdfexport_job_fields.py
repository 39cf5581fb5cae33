"""PdfExport takes the shape of apps.jobs.models.Job: `claimed_at` and `heartbeat_at` are
added, empty. An export left `running` has no heartbeat, so the next delivery may claim it at
once, as the export claim allowed before."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="pdfexport",
            name="claimed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="pdfexport",
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
