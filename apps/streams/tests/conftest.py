from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass

import pytest
from django.conf import settings
from django_tenants.utils import tenant_context

from apps.tenants.tests.processes import running
from conftest import ensure_tenant, test_database_url


@dataclass
class Token:
    text: str
    row: object
    tenant: object
    project: object

    @property
    def bearer(self) -> dict:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.text}"}


def make_token(slug: str, project_slug: str, name: str = "") -> Token:
    from apps.incidents.models import Project
    from apps.ingestion.tokens import services

    tenant = ensure_tenant(slug)
    with tenant_context(tenant):
        project, _ = Project.objects.get_or_create(
            slug=project_slug, defaults={"name": project_slug}
        )
    row, text = services.create_token(tenant=tenant, project=project, name=name)
    return Token(text=text, row=row, tenant=tenant, project=project)


@pytest.fixture
def alpha_token(db) -> Token:
    return make_token("alpha", "alpha-marker", "tests")


@pytest.fixture
def beta_token(db) -> Token:
    return make_token("beta", "beta-marker", "tests")


def spooled(token: Token, **filters) -> list:
    """The spooled records of the token's project, in order, as plain tuples."""
    from apps.streams.models import SpoolRecord

    with tenant_context(token.tenant):
        rows = SpoolRecord.objects.filter(batch__project_id=token.project.pk, **filters)
        return list(rows.order_by("batch_id", "seq"))


@pytest.fixture
def listener(tmp_path):
    """A real `syslog-listen` process with a fresh token of alpha's marker project, on free TCP
    and UDP ports: yields (token, {"tcp": port, "udp": port})."""
    token = make_token("alpha", "alpha-marker", "syslog")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIOPS_TEST")}
    env.update(DJANGO_SETTINGS_MODULE="aiops.settings_test", DATABASE_URL=test_database_url())
    log = tmp_path / "syslog.log"
    argv = [sys.executable, "manage.py", "syslog-listen", "--token", token.text]
    argv += ["--tcp", "127.0.0.1:0", "--udp", "127.0.0.1:0"]

    def ports() -> dict[str, int]:
        found = re.findall(r"listening (tcp|udp) [\d.]+:(\d+)", log.read_text())
        return {kind: int(port) for kind, port in found}

    with running(argv, env=env, cwd=settings.BASE_DIR, log=log, ready=lambda: len(ports()) == 2):
        yield token, ports()
