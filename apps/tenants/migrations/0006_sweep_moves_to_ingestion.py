"""The ingest dispatcher moved from apps.tenants.scheduling to apps.ingestion.scheduling (fair
queuing sits next to the jobs it schedules): point the once-a-minute django-q2 schedule of
migration 0003 at its new home. Names are copied here: a migration must not change when the
app's code does."""

from django.db import migrations

SWEEP_NAME = "ingest-dispatch-sweep"
OLD_FUNC = "apps.tenants.scheduling.sweep"
NEW_FUNC = "apps.ingestion.scheduling.sweep"


def _repoint(apps, old: str, new: str) -> None:
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(name=SWEEP_NAME, func=old).update(func=new)


def forwards(apps, schema_editor):
    _repoint(apps, OLD_FUNC, NEW_FUNC)


def backwards(apps, schema_editor):
    _repoint(apps, NEW_FUNC, OLD_FUNC)


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0005_invitations"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
