from __future__ import annotations

import os
import re
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

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


@pytest.fixture(autouse=True)
def _no_quota_refusals_held():
    """A 429 is held per process for up to a second (apps.streams.quotas): not across tests."""
    from apps.streams import quotas

    quotas._refused.clear()
    yield
    quotas._refused.clear()


@pytest.fixture
def alpha_token(db) -> Token:
    return make_token("alpha", "alpha-marker", "tests")


@pytest.fixture
def beta_token(db) -> Token:
    return make_token("beta", "beta-marker", "tests")


def spooled(token: Token, *, message__endswith: str = "", message__contains: str = "") -> list:
    """The spooled records of the token's project (apps.streams.spool.SpooledRecord), in order
    of batch and position; only those whose message ends with / contains the given text."""
    from apps.streams import spool
    from apps.streams.models import SpoolBatch

    with tenant_context(token.tenant):
        batches = SpoolBatch.objects.filter(project_id=token.project.pk).order_by("pk")
        payloads = list(batches.values_list("payload", flat=True))
    return [
        record
        for payload in payloads
        for record in spool.read(payload)
        if record.message.endswith(message__endswith) and message__contains in record.message
    ]


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthy(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        return b" 200 " in sock.recv(64).split(b"\r\n")[0]


# one access-log line per request: the request line, status, and how the body was framed
ACCESS_LOG_FORMAT = "%(r)s %(s)s te=%({transfer-encoding}i)s cl=%({content-length}i)s"


@dataclass
class Gunicorn:
    url: str
    access_log: Path

    def requests(self) -> list[str]:
        return self.access_log.read_text().splitlines() if self.access_log.exists() else []


@pytest.fixture
def gunicorn(tmp_path, transactional_db):
    """The app under gunicorn, the WSGI server production runs (it ends `wsgi.input` of a
    chunked request itself), on the test database; its access log says how bodies came."""
    from apps.tenants.services import ensure_public_tenant

    ensure_public_tenant()  # a transactional test before this one truncated public tables
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIOPS_TEST")}
    env.update(
        DJANGO_SETTINGS_MODULE="aiops.settings_test",
        DATABASE_URL=test_database_url(),
        ALLOWED_HOSTS="127.0.0.1",
    )
    port = free_port()
    access_log = tmp_path / "access.log"
    argv = [
        *(sys.executable, "-m", "gunicorn", "aiops.wsgi:application"),
        *("--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "2"),
        *("--access-logfile", str(access_log), "--access-logformat", ACCESS_LOG_FORMAT),
    ]
    with running(
        argv, env=env, cwd=settings.BASE_DIR, log=tmp_path / "gunicorn.log",
        ready=lambda: healthy(port),
    ):  # fmt: skip
        yield Gunicorn(url=f"http://127.0.0.1:{port}", access_log=access_log)
