"""Shared fixtures: personas in two tenants (healthchecks' Alice/Bob/Charlie, ours).

Tenant schemas are created once per session and committed, with a project in each whose
name holds a per-tenant marker. Transactional tests (worker, browser) truncate the public
schema's tables, so the function-scoped fixtures re-create public rows (tenants, domains,
users, memberships) when they are missing; tenant schemas and their data survive.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright + ORM in one test

MARKERS = {"alpha": "ALPHA-MARKER-7f3a", "beta": "BETA-MARKER-91c4"}
# Property-based tests run `examples(n)` cases: n in `make test`, n × AIOPS_FUZZ in a longer
# fuzz run (`AIOPS_FUZZ=50 make test ARGS="-m fuzz"`, see README).
FUZZ = max(1, int(os.environ.get("AIOPS_FUZZ", "1")))


def examples(n: int) -> int:
    return n * FUZZ


PASSWORD = "correct-horse-battery"  # noqa: S105


def ensure_tenant(slug: str, name: str | None = None):
    from django.core.exceptions import ValidationError
    from django.db import IntegrityError, transaction

    from apps.tenants.models import Domain, Tenant
    from apps.tenants.services import ensure_public_tenant, schema_name_for

    ensure_public_tenant()
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        tenant = Tenant(name=name or slug.title(), slug=slug, schema_name=schema_name_for(slug))
        try:
            with transaction.atomic():
                tenant.save(verbosity=0)  # creates and migrates the schema only if missing
        except (IntegrityError, ValidationError):
            # another connection created it meanwhile (seen once, on a loaded CI run): use it
            tenant = Tenant.objects.get(schema_name=schema_name_for(slug))
    Domain.objects.get_or_create(tenant=tenant, domain=slug, defaults={"is_primary": True})
    return tenant


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from django_tenants.utils import tenant_context

    from apps.incidents.models import Project

    with django_db_blocker.unblock():
        for slug, marker in MARKERS.items():
            tenant = ensure_tenant(slug)
            with tenant_context(tenant):
                Project.objects.get_or_create(
                    slug=f"{slug}-marker", defaults={"name": f"{slug}-marker {marker}"}
                )
                # the same slug in both schemas: ids and slugs repeat across tenants
                Project.objects.get_or_create(slug="shared", defaults={"name": f"shared {marker}"})
                _marker_incident(slug, marker)


def _marker_incident(slug: str, marker: str):
    """An incident with one ingested source whose only event carries the tenant's marker."""
    from apps.incidents.models import Incident, Project
    from apps.ingestion import services

    if Incident.objects.filter(title=f"incident {marker}").exists():
        return
    project = Project.objects.get(slug=f"{slug}-marker")
    incident = services.create_incident(
        project=project,
        title=f"incident {marker}",
        uploads=[services.upload_from_text(f"2024-01-15T14:02:11Z ERROR api: failure {marker}\n")],
        run_inline=True,
    )
    for job in incident.jobs.all():
        services.run_ingest(job.pk)


@pytest.fixture(autouse=True)
def _public_schema_between_tests():
    from django.db import connection

    connection.set_schema_to_public()
    yield
    connection.set_schema_to_public()


@dataclass
class Personas:
    alpha: object
    beta: object
    owner: object  # owner of alpha
    member: object  # member of alpha
    viewer: object  # viewer of alpha
    outsider: object  # owner of beta only


@pytest.fixture
def personas(db) -> Personas:
    from django.contrib.auth import get_user_model

    from apps.tenants.models import Membership, Role

    User = get_user_model()
    alpha, beta = ensure_tenant("alpha"), ensure_tenant("beta")

    def user(name, tenant, role):
        account, created = User.objects.get_or_create(username=name)
        if created:
            account.set_password(PASSWORD)
            account.save()
        Membership.objects.get_or_create(tenant=tenant, user=account, defaults={"role": role})
        return account

    return Personas(
        alpha=alpha,
        beta=beta,
        owner=user("alice", alpha, Role.OWNER),
        member=user("bob", alpha, Role.MEMBER),
        viewer=user("vera", alpha, Role.VIEWER),
        outsider=user("charlie", beta, Role.OWNER),
    )


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _chromium_path() -> str | None:
    import shutil

    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (never `playwright install`)."""
    path = _chromium_path()
    if not path:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs it with apt")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, request):
    """A fresh page; a screenshot lands in .artifacts/screenshots/ when the test fails."""
    from pathlib import Path

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: (errors.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    page.js_errors = errors
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        out = Path(__file__).parent / ".artifacts" / "screenshots"
        out.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out / f"FAILED-{request.node.name}.png"), full_page=True)
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def screenshot(page, name: str) -> None:
    """Save a named screenshot as a test artifact (look at them: layout is part of the work)."""
    from pathlib import Path

    out = Path(__file__).parent / ".artifacts" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out / f"{name}.png"), full_page=True)


def test_database_url() -> str:
    """The URL of the test database, for subprocesses (workers) that must use it too."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    return f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


test_database_url.__test__ = False  # a helper, not a test


@pytest.fixture
def qcluster():
    """A real django-q2 worker (`manage.py qcluster`) on the test database, for one test."""
    import signal
    import subprocess
    import sys

    from django.conf import settings

    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "DJANGO_SETTINGS_MODULE": "aiops.settings_test",
        "Q_WORKERS": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    yield proc
    os.killpg(proc.pid, signal.SIGKILL)  # graceful shutdown is not under test
    proc.wait(timeout=20)
