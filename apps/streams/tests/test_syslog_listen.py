"""`syslog-listen` with util-linux `logger` as the client (UDP and TCP, RFC 5424 and 3164,
LF and octet-counted framing), then `stream-stats` over what was drained."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django_tenants.utils import tenant_context

from apps.streams import draining

from .conftest import spooled

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("logger") is None, reason="util-linux logger (bsdutils)"),
]

SENDS = [  # (transport flags, format flags, tag, level name expected)
    (["--udp"], ["--rfc5424"], "billing", "ERROR", "-p", "user.err"),
    (["--udp"], ["--rfc3164"], "cron", "WARN", "-p", "cron.warning"),
    (["--tcp"], ["--rfc5424"], "api", "INFO", "-p", "user.info"),
    (["--tcp", "--octet-count"], ["--rfc3164"], "worker", "FATAL", "-p", "user.crit"),
]


def test_logger_over_udp_and_tcp_reaches_the_stream_once(listener):
    token, ports = listener
    mark = uuid.uuid4().hex[:10]
    for transport, fmt, tag, _, *priority in SENDS:
        port = ports["tcp" if "--tcp" in transport else "udp"]
        subprocess.run(
            ["logger", "-n", "127.0.0.1", "-P", str(port), *transport, *fmt, "-t", tag,
             *priority, f"{tag} said {mark}"],
            check=True, timeout=10,
        )  # fmt: skip
    deadline = time.monotonic() + 20
    while len(records := spooled(token, message__endswith=mark)) < len(SENDS):
        assert time.monotonic() < deadline, [r.message for r in records]
        time.sleep(0.2)
    time.sleep(1)  # nothing arrives twice
    records = spooled(token, message__endswith=mark)
    got = sorted((r.service, r.level_name, r.message) for r in records)
    assert got == sorted((tag, level, f"{tag} said {mark}") for _, _, tag, level, *_ in SENDS)
    assert all(r.ts is not None for r in records)

    with tenant_context(token.tenant):
        while draining.drain_once():
            pass
    out = StringIO()
    call_command("stream-stats", "--tenant", "alpha", "--project", "alpha-marker", stdout=out)
    stats = json.loads(out.getvalue())
    assert stats["records"] >= len(SENDS)
    assert all(stats["services"][tag] >= 1 for _, _, tag, *_ in SENDS)
    assert stats["records"] == sum(stats["services"].values())
