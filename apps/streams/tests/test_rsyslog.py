"""rsyslog from Debian forwarding to `syslog-listen`, the way a host's syslog daemon is set up
to ship to us: lines an application writes to a file (imfile) and messages sent to the local
daemon (imudp) are forwarded with `omfwd` over TCP with octet counting (RFC 5424) and over UDP
(RFC 3164, rsyslog's traditional forward format). Each one arrives once with its service,
level, time and, where syslog can carry one (RFC 5424 structured data), its trace id.

rsyslogd runs in the foreground with a private config and pid file, no imuxsock, no klog: it
neither reads nor disturbs the machine's own syslog.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from apps.tenants.tests.processes import running

from .conftest import spooled

RSYSLOGD = shutil.which("rsyslogd") or (
    "/usr/sbin/rsyslogd" if Path("/usr/sbin/rsyslogd").exists() else None
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(RSYSLOGD is None, reason="rsyslog (Debian package rsyslog)"),
    pytest.mark.skipif(shutil.which("logger") is None, reason="util-linux logger (bsdutils)"),
]

CONFIG = """
global(workDirectory="{work}" maxMessageSize="64k")
module(load="imfile")
module(load="imudp")

# an application's log file, tailed: forwarded over UDP in the traditional (RFC 3164) format
input(type="imfile" file="{app_log}" tag="billing:" severity="error" facility="local0"
      ruleset="over-udp")
# messages sent to the daemon itself: forwarded over TCP, octet-counted, RFC 5424
input(type="imudp" address="127.0.0.1" port="{udp_in}" ruleset="over-tcp")

ruleset(name="over-udp") {{
  action(type="omfwd" target="127.0.0.1" port="{udp}" protocol="udp"
         template="RSYSLOG_TraditionalForwardFormat")
}}
ruleset(name="over-tcp") {{
  action(type="omfwd" target="127.0.0.1" port="{tcp}" protocol="tcp"
         tcp_framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format"
         action.resumeRetryCount="-1" queue.type="linkedList")
}}
"""


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def rsyslogd(listener, tmp_path):
    token, ports = listener
    work = tmp_path / "rsyslog"
    work.mkdir()
    app_log = tmp_path / "billing.log"
    app_log.touch()
    udp_in = free_udp_port()
    config = work / "rsyslog.conf"
    config.write_text(
        CONFIG.format(work=work, app_log=app_log, udp_in=udp_in, **ports), encoding="utf-8"
    )
    check = subprocess.run(
        [RSYSLOGD, "-N1", "-f", str(config)], capture_output=True, text=True, timeout=30
    )
    assert check.returncode == 0, check.stdout + check.stderr
    pidfile = work / "rsyslogd.pid"
    argv = [RSYSLOGD, "-n", "-f", str(config), "-i", str(pidfile)]

    def listening() -> bool:  # imudp is bound once the pid file is written
        return pidfile.exists() and pidfile.read_text().strip().isdigit()

    with running(
        argv, env={"PATH": "/usr/sbin:/usr/bin:/bin", "TZ": "UTC"}, cwd=work,
        log=work / "rsyslogd.log", ready=listening,
    ):  # fmt: skip
        time.sleep(0.5)  # imfile registers its watch right after start-up
        yield token, app_log, udp_in


def close_to_now(ts: datetime | None) -> bool:
    return ts is not None and abs(datetime.now(UTC) - ts) < timedelta(minutes=2)


def test_rsyslog_forwards_over_tcp_and_udp_once(rsyslogd):
    token, app_log, udp_in = rsyslogd
    mark = uuid.uuid4().hex[:10]
    trace_id = uuid.uuid4().hex
    # a file the application appends to (two lines, one write each)
    with app_log.open("a", encoding="utf-8") as out:
        for n in (1, 2):
            out.write(f"charge {n} declined {mark}\n")
            out.flush()
    # messages to the local daemon, as an application using syslog(3) over the network would
    sends = [
        ("api", "user.warning", [], f"slow upstream {mark}"),
        ("worker", "local3.crit", [], f"queue lost {mark}"),
        (
            "checkout", "user.err",
            ["--sd-id", "trace@32473", "--sd-param", f'trace_id="{trace_id}"'],
            f"payment failed {mark}",
        ),
    ]  # fmt: skip
    for tag, priority, extra, message in sends:
        subprocess.run(
            ["logger", "--udp", "--rfc5424", "-n", "127.0.0.1", "-P", str(udp_in),
             "-t", tag, "-p", priority, *extra, message],
            check=True, timeout=10,
        )  # fmt: skip

    expected = sorted(
        [
            ("billing", "ERROR", f"charge 1 declined {mark}", ""),
            ("billing", "ERROR", f"charge 2 declined {mark}", ""),
            ("api", "WARN", f"slow upstream {mark}", ""),
            ("worker", "FATAL", f"queue lost {mark}", ""),
            ("checkout", "ERROR", f"payment failed {mark}", trace_id),
        ]
    )
    deadline = time.monotonic() + 30
    while len(records := spooled(token, message__endswith=mark)) < len(expected):
        assert time.monotonic() < deadline, [r.message for r in records]
        time.sleep(0.2)
    time.sleep(1.5)  # a listener batch is flushed every 0.5 s: nothing arrives twice
    records = spooled(token, message__endswith=mark)
    got = sorted((r.service, r.level_name, r.message, r.trace_id) for r in records)
    assert got == expected
    assert all(close_to_now(r.ts) for r in records)
    by_service = {r.service: r for r in records}
    # forwarded in RFC 5424: the facility and structured data came through rsyslog intact
    assert by_service["worker"].resource["syslog.facility"] == "local3"
    assert by_service["checkout"].attributes["syslog.structured_data"]["trace@32473"] == {
        "trace_id": trace_id
    }
    # forwarded in RFC 3164 from the file: the facility imfile was told
    assert by_service["billing"].resource["syslog.facility"] == "local0"
    assert by_service["billing"].resource["host.name"]
