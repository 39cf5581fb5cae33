"""The alerts sweep (apps.alerts.tasks.sweep) once a minute: a django-q2 schedule, which lives
in the public schema. This app migrates in tenant schemas, whose search path during migrations
ends in public (django-tenants), so the first tenant's run creates it and the others find it."""

from django.db import migrations

SWEEP_NAME = "alerts-sweep"
SWEEP_FUNC = "apps.alerts.tasks.sweep"


def add_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    if not Schedule.objects.filter(name=SWEEP_NAME).exists():
        Schedule.objects.create(
            name=SWEEP_NAME, func=SWEEP_FUNC, schedule_type="I", minutes=1, repeats=-1
        )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SWEEP_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(add_schedule, remove_schedule, elidable=False)]
