"""Fair queuing of ingest jobs: tickets and lanes (public schema), and the once-a-minute
django-q2 schedule that re-checks them (apps.tenants.scheduling.sweep)."""

import django.db.models.deletion
from django.db import migrations, models

SWEEP_NAME = "ingest-dispatch-sweep"  # = apps.tenants.scheduling.SWEEP_NAME
SWEEP_FUNC = "apps.tenants.scheduling.sweep"


def add_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=SWEEP_NAME,
        defaults={"func": SWEEP_FUNC, "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SWEEP_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0002_pg_trgm"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.CreateModel(
            name="IngestLane",
            fields=[
                (
                    "tenant",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="ingest_lane",
                        serialize=False,
                        to="tenants.tenant",
                    ),
                ),
                ("served_at", models.DateTimeField()),
            ],
        ),
        migrations.CreateModel(
            name="IngestTicket",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("job_id", models.BigIntegerField()),
                (
                    "state",
                    models.CharField(
                        choices=[("waiting", "Waiting"), ("dispatched", "Dispatched")],
                        default="waiting",
                        max_length=10,
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("dispatched_at", models.DateTimeField(blank=True, null=True)),
                ("dispatches", models.PositiveIntegerField(default=0)),
                (
                    "tenant",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="ingest_tickets",
                        to="tenants.tenant",
                    ),
                ),
            ],
            options={
                "ordering": ["created_at", "pk"],
                "indexes": [
                    models.Index(
                        fields=["state", "tenant", "created_at"],
                        name="tenants_ing_state_e19d20_idx",
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("tenant", "job_id"), name="one_ticket_per_ingest_job"
                    )
                ],
            },
        ),
        migrations.RunPython(add_schedule, remove_schedule),
    ]
