"""Migrations at 200 tenants: create them, then time `migrate_schemas` with nothing to do and with
a one-column migration, with django-tenants' sequential and parallel executors.

    python prove/migrations.py     (or `make prove`; env: PROVE_MIGRATION_TENANTS,
                                    PROVE_MIGRATION_PROCESSES)

The settings clone no base schema (no TENANT_BASE_SCHEMA), so creating a tenant through the
normal service (`create_tenant`: schema, migrations, domain, owner, audit) migrates a fresh
schema; the first PROVE_MIGRATION_SERVICE_TENANTS (5) are created that way and timed, the rest
are copies of the first one's schema made by `pg_dump | psql` (django-tenants' `clone_schema`,
what TENANT_BASE_SCHEMA would use, slowed to 30 s per tenant at 50 schemas here), which the
no-op run then confirms are fully migrated.
`migrate_schemas` runs as the operator runs it, `python manage.py migrate_schemas` in its own
process (public schema and every tenant), so each time includes Django's start-up.

The one-column migration belongs to a throwaway tenant app written to a temporary directory
(with a settings module that adds it), never to the repository: its 0001 creates a table in
every schema, its 0002 adds a column. 0002 is applied with `--executor=standard`, unapplied,
and applied again with `--executor=multiprocessing` (TENANT_MULTIPROCESSING_MAX_PROCESSES
processes). After each step the column is looked up in every tenant schema.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    os.environ.setdefault("AIOPS_TEST_DB", "test_prove_migrations")
    from prove.common import run_module

    sys.exit(run_module(__file__, "migrations"))

import pytest
from django.conf import settings
from django.db import connection

from prove.common import OUT, write_result

pytestmark = pytest.mark.django_db(transaction=True)

TENANTS = int(os.environ.get("PROVE_MIGRATION_TENANTS", "200"))
SERVICE_TENANTS = int(os.environ.get("PROVE_MIGRATION_SERVICE_TENANTS", "5"))
PROCESSES = int(os.environ.get("PROVE_MIGRATION_PROCESSES", str(os.cpu_count() or 2)))
APP = "prove_column_app"
MODELS = """
from django.db import models


class Probe(models.Model):
    name = models.CharField(max_length=50){extra}
"""
INITIAL = """
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Probe",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),
                ("name", models.CharField(max_length=50)),
            ],
        ),
    ]
"""
ADD_COLUMN = f"""
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("{APP}", "0001_initial")]
    operations = [
        migrations.AddField(
            model_name="probe", name="note", field=models.TextField(default="", blank=True)
        ),
    ]
"""
SETTINGS = f"""
from aiops.settings_test import *  # noqa: F403

TENANT_APPS = [*TENANT_APPS, "{APP}"]  # noqa: F405
INSTALLED_APPS = [*INSTALLED_APPS, "{APP}"]  # noqa: F405
TENANT_MULTIPROCESSING_MAX_PROCESSES = {PROCESSES}
"""


def write_app(root: Path, *, column: bool) -> None:
    app = root / APP
    (app / "migrations").mkdir(parents=True, exist_ok=True)
    (app / "__init__.py").write_text("")
    (app / "migrations" / "__init__.py").write_text("")
    (app / "migrations" / "0001_initial.py").write_text(INITIAL)
    extra = '\n    note = models.TextField(default="", blank=True)' if column else ""
    (app / "models.py").write_text(MODELS.format(extra=extra))
    added = app / "migrations" / "0002_probe_note.py"
    if column:
        added.write_text(ADD_COLUMN)
    else:
        added.unlink(missing_ok=True)
    (root / "prove_migrations_settings.py").write_text(SETTINGS)


def migrate_schemas(*args: str, settings_module: str, pythonpath: str, log: Path) -> float:
    """Run `manage.py migrate_schemas` in its own process; returns its wall time."""
    from conftest import test_database_url

    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "DJANGO_SETTINGS_MODULE": settings_module,
        "PYTHONPATH": os.pathsep.join(p for p in (pythonpath, str(settings.BASE_DIR)) if p),
    }
    started = time.monotonic()
    with log.open("a") as out:
        out.write(f"\n$ migrate_schemas {' '.join(args)}  ({settings_module})\n")
        out.flush()
        done = subprocess.run(
            [sys.executable, "manage.py", "migrate_schemas", "--noinput", *args],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, f"migrate_schemas {args} failed: see {log}"
    return elapsed


def tenant_schemas() -> list[str]:
    from apps.tenants.models import Tenant

    connection.set_schema_to_public()
    return list(Tenant.objects.exclude(schema_name="public").values_list("schema_name", flat=True))


def schemas_with(table: str, column: str | None = None) -> int:
    """How many schemas have `table` (and `column`)."""
    with connection.cursor() as cursor:
        if column:
            cursor.execute(
                "SELECT count(*) FROM information_schema.columns"
                " WHERE table_name = %s AND column_name = %s",
                [table, column],
            )
        else:
            cursor.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = %s", [table]
            )
        return cursor.fetchone()[0]


def copy_tenants(base: str, slugs: list[str]) -> None:
    """Tenants whose schemas are copies of `base` (its tables, indexes, sequences and migration
    records: `pg_dump -n base`, renamed, through one `psql`), with a domain and an owner each
    like the service creates them."""
    from django.contrib.auth import get_user_model

    from apps.tenants.models import Domain, Membership, Role, Tenant
    from apps.tenants.services import schema_name_for
    from conftest import test_database_url

    url = test_database_url()
    dump = subprocess.run(
        ["pg_dump", "--no-owner", "--no-privileges", "--schema", base, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    script = "".join(dump.replace(base, schema_name_for(slug)) for slug in slugs)
    subprocess.run(
        ["psql", "-q", "-v", "ON_ERROR_STOP=1", url],
        input=script,
        capture_output=True,
        text=True,
        check=True,
    )
    connection.set_schema_to_public()
    tenants = Tenant.objects.bulk_create(
        Tenant(name=slug.title(), slug=slug, schema_name=schema_name_for(slug)) for slug in slugs
    )
    Domain.objects.bulk_create(Domain(tenant=t, domain=t.slug, is_primary=True) for t in tenants)
    owners = get_user_model().objects.bulk_create(
        get_user_model()(username=f"{slug}-owner") for slug in slugs
    )
    Membership.objects.bulk_create(
        Membership(tenant=t, user=u, role=Role.OWNER) for t, u in zip(tenants, owners, strict=True)
    )


def no_op_count(log_text: str) -> int:
    return log_text.count("No migrations to apply")


def test_migrations():
    from apps.tenants import services
    from apps.tenants.services import schema_name_for

    log = OUT / "migrations.log"
    OUT.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    timings: dict[str, float] = {}
    problems: list[str] = []

    started = time.monotonic()
    for i in range(min(SERVICE_TENANTS, TENANTS)):
        services.create_tenant(
            name=f"Prove {i:03d}", slug=f"prove-{i:03d}", owner_username=f"prove-owner-{i:03d}"
        )
    timings["create_by_service_s"] = time.monotonic() - started
    started = time.monotonic()
    base = schema_name_for("prove-000")
    copy_tenants(base, [f"prove-{i:03d}" for i in range(SERVICE_TENANTS, TENANTS)])
    timings["create_by_copy_s"] = time.monotonic() - started
    schemas = tenant_schemas()
    print(f"  {len(schemas)} tenant schemas: {timings}")

    repo = {"settings_module": "aiops.settings_test", "pythonpath": "", "log": log}
    for executor in ("standard", "multiprocessing"):
        before = no_op_count(log.read_text())
        timings[f"noop_{executor}_s"] = migrate_schemas(f"--executor={executor}", **repo)
        applied = no_op_count(log.read_text()) - before
        if applied != len(schemas) + 1:  # the public schema and every tenant
            problems.append(f"no-op {executor}: {applied} of {len(schemas) + 1} said no-op")

    table = f"{APP}_probe"
    with tempfile.TemporaryDirectory(prefix="prove-migrations-") as tmp:
        root = Path(tmp)
        temp = {"settings_module": "prove_migrations_settings", "pythonpath": tmp, "log": log}
        write_app(root, column=False)
        timings["create_table_standard_s"] = migrate_schemas("--executor=standard", **temp)
        if schemas_with(table) != len(schemas):
            problems.append(f"table in {schemas_with(table)} of {len(schemas)} schemas")
        write_app(root, column=True)
        steps = [
            ("add_column_standard_s", ["--executor=standard"], len(schemas)),
            ("remove_column_standard_s", ["--executor=standard", APP, "0001"], 0),
            ("add_column_multiprocessing_s", ["--executor=multiprocessing"], len(schemas)),
        ]
        for name, args, expected in steps:
            timings[name] = migrate_schemas(*args, **temp)
            found = schemas_with(table, "note")
            if found != expected:
                problems.append(f"{name}: column in {found} schemas, expected {expected}")
    timings = {k: round(v, 1) for k, v in timings.items()}
    print(f"  {timings}")
    for item in problems:
        print("  !", item)
    ok = not problems and len(schemas) >= TENANTS
    per_service = timings["create_by_service_s"] / max(min(SERVICE_TENANTS, TENANTS), 1)
    per_copy = timings["create_by_copy_s"] / max(TENANTS - SERVICE_TENANTS, 1)
    n = len(schemas)
    write_result(
        "migrations",
        what=f"migrate_schemas with {n} tenant schemas (no-op and one-column), sequential and"
        " parallel executors",
        how_many=f"{TENANTS} tenants ({SERVICE_TENANTS} by the service at"
        f" {per_service:.1f} s each, the rest copied with pg_dump/psql in {timings['create_by_copy_s']:.0f} s); no-op"
        f" {timings['noop_standard_s']:.0f} s standard / {timings['noop_multiprocessing_s']:.0f}"
        f" s multiprocessing ({PROCESSES} processes); add column"
        f" {timings['add_column_standard_s']:.0f} s / {timings['add_column_multiprocessing_s']:.0f}"
        " s",
        broke="0" if ok else "; ".join(problems[:3]),
        ok=ok,
        tenant_schemas=n,
        processes=PROCESSES,
        cpus=os.cpu_count(),
        per_tenant_service_s=round(per_service, 2),
        per_tenant_copy_s=round(per_copy, 2),
        timings=timings,
        problems=problems,
        log=str(log.relative_to(settings.BASE_DIR)),
    )
    assert ok, problems
