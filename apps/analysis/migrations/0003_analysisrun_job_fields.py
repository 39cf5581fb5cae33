"""AnalysisRun takes the shape of apps.jobs.models.Job: `started_at` becomes `claimed_at`, and
a `heartbeat_at` is added, filled from the claim time for rows already there: a run that was
running keeps the age it had (stale, and shown as stopped, when it was before)."""

from django.db import migrations, models
from django.db.models import F


def heartbeat_from_claim(apps, schema_editor):
    AnalysisRun = apps.get_model("analysis", "AnalysisRun")
    AnalysisRun.objects.filter(claimed_at__isnull=False).update(heartbeat_at=F("claimed_at"))


class Migration(migrations.Migration):
    dependencies = [("analysis", "0002_bind_api_key_to_host")]

    operations = [
        migrations.RenameField(
            model_name="analysisrun", old_name="started_at", new_name="claimed_at"
        ),
        migrations.AddField(
            model_name="analysisrun",
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(heartbeat_from_claim, migrations.RunPython.noop),
    ]
