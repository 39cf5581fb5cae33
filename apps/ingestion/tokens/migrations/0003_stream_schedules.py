"""The streams' django-q2 schedules (public schema): the drain sweep once a minute, the
retention sweep once a day (apps.streams.draining.sweep, apps.streams.partitions.sweep)."""

from django.db import migrations

SCHEDULES = {
    "stream-drain-sweep": ("apps.streams.draining.sweep", "I", 1),
    "stream-retention": ("apps.streams.partitions.sweep", "D", None),
}


def add_schedules(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for name, (func, kind, minutes) in SCHEDULES.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={"func": func, "schedule_type": kind, "minutes": minutes, "repeats": -1},
        )


def remove_schedules(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=SCHEDULES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("stream_tokens", "0002_drainlane_quotabucket"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(add_schedules, remove_schedules)]
