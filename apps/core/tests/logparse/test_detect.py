"""Format detection per source: single formats, mixed input, ambiguous input."""

from __future__ import annotations

import pytest

from apps.core.logparse.detect import detect_format
from apps.core.logparse.formats import FORMATS
from apps.core.logparse.parser import lines_from_text

from .conftest import parse
from .test_formats import CASES


@pytest.mark.parametrize(
    "fmt", [f for f in FORMATS if f.name != "kubectl-describe"], ids=lambda f: f.name
)
def test_examples_detect_as_their_format(fmt):
    lines = list(fmt.examples) * 5
    assert detect_format(lines).name == fmt.name


@pytest.mark.parametrize(
    ("fmt", "line"),
    [(c[0], c[1]) for c in CASES if c[0] not in ("kernel", "plain")],
    ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES) if c[0] not in ("kernel", "plain")],
)
def test_single_lines_detect(fmt, line):
    assert detect_format([line]).name == fmt


def test_empty_and_blank_input():
    assert detect_format([])[:2] == ("plain", 0.0)
    assert detect_format(["", "   "]).name == "plain"


def test_unknown_text_is_plain_and_nothing_is_dropped():
    text = "hello\nworld\n\nthird line"
    assert detect_format(text.splitlines())[:2] == ("plain", 1.0)
    recs = parse(text)
    assert [(r.line, r.fmt, r.parsed) for r in recs] == [
        (1, "plain", False),
        (2, "plain", False),
        (3, "plain", False),
        (4, "plain", False),
    ]


def test_mixed_json_with_a_few_plain_lines_falls_back_per_line():
    lines = [f'{{"level":"info","msg":"ok {i}","time":"2024-01-15T14:02:11Z"}}' for i in range(20)]
    lines[5] = "Killed"
    lines[12] = "2024/01/15 14:02:11 [error] 7#7: *1 connect() failed (111: Connection refused)"
    det = detect_format(lines)
    assert det.name == "json"
    assert 0.85 <= det.confidence < 1.0
    recs = parse("\n".join(lines))
    assert len(recs) == 20
    assert recs[5].fmt == "plain"
    assert recs[12].fmt == "nginx-error"
    assert recs[12].level == "ERROR"


def test_mixed_majority_wins_with_confidence_as_share():
    lines = ["Jan 15 14:02:11 web-1 sshd[1]: Accepted key"] * 6 + ['{"msg":"x","level":"info"}'] * 4
    det = detect_format(lines)
    assert det.name == "syslog"
    assert det.confidence == pytest.approx(0.6)


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        # nginx error lines are also Go stdlib lines; the narrower format wins.
        (["2024/01/15 14:02:11 [error] 31#31: *1 upstream timed out"] * 3, "nginx-error"),
        (["2024/01/15 14:02:11 listening on :8080"] * 3, "go-stdlib"),
        # CRI lines are also "generic" lines.
        (["2024-01-15T14:02:11.1Z stdout F hello"] * 3, "cri"),
        # logrus text is also logfmt.
        (['time="2024-01-15T14:02:11Z" level=info msg=hi'] * 3, "logrus"),
        # Docker json-file is also JSON.
        (['{"log":"hi\\n","stream":"stdout","time":"2024-01-15T14:02:11Z"}'] * 3, "docker-json"),
        # Spring Boot beats the generic shape even when a few lines are only generic.
        (
            ["2024-01-15 14:02:11.123  INFO 1 --- [main] c.e.App : ok"] * 9
            + ["2024-01-15 14:02:11 something else"],
            "spring-boot",
        ),
    ],
)
def test_ambiguous_inputs_prefer_the_specific_format(lines, expected):
    assert detect_format(lines).name == expected


def test_stack_lines_do_not_lower_confidence():
    text = '2024-01-15 14:02:11,123 - app - ERROR - x\nTraceback (most recent call last):\n  File "a.py", line 1\nValueError: x\n'
    det = detect_format(list(lines_from_text(text)))
    assert det.name == "python"
    assert det.confidence >= 0.5


def test_explicit_detected_format_skips_detection():
    recs = parse("ERROR:app:boom", detected="python-basic")
    assert recs[0].fmt == "python-basic"
    recs = parse("anything", detected="no-such-format")
    assert recs[0].fmt == "plain"


@pytest.mark.parametrize(
    "line",
    [
        "2024-01-15 14:02:11.123 UTC [1234] FATAL:  sorry, too many clients already",
        "2024-01-15 14:02:11,123 - app.db - ERROR - could not connect to server",
    ],
)
def test_a_repeated_line_keeps_its_first_words(line):
    """Ten copies of one line: a word they all share is message, not a learnt header column."""
    records = parse("\n".join([line] * 10) + "\n")
    assert {r.message for r in records} == {line.split(" - ")[-1].split(":  ")[-1]}


def test_a_trailing_logger_is_learnt_from_the_file():
    text = (
        "[2024-01-15 14:02:11,123] INFO Loading logs. (kafka.log.LogManager)\n"
        "[2024-01-15 14:02:12,456] WARN [Consumer clientId=c1, groupId=g1] Rebalancing"
        " (org.apache.kafka.clients.consumer.internals.ConsumerCoordinator)\n"
        "[2024-01-15 14:02:13,789] ERROR Error while loading log dir /data (kafka.log.LogManager)\n"
    )
    assert detect_format(list(lines_from_text(text))).trailer
    recs = parse(text)
    assert [r.message for r in recs] == [
        "Loading logs.",
        "[Consumer clientId=c1, groupId=g1] Rebalancing",
        "Error while loading log dir /data",
    ]
    assert recs[0].attrs["logger"] == "kafka.log.LogManager"


def test_a_parenthesis_at_some_lines_end_is_message():
    text = (
        "2024-01-15 14:02:11 ERROR worker died (pid 42)\n"
        "2024-01-15 14:02:12 INFO retrying (attempt.two)\n"
        "2024-01-15 14:02:13 INFO started\n"
    )
    assert not detect_format(list(lines_from_text(text))).trailer
    assert parse(text)[1].message == "retrying (attempt.two)"


def test_journald_monotonic_peels_host_and_tag_but_not_dmesg_devices():
    text = (
        "[    1.234567] localhost systemd[1]: Hostname set to <localhost>.\n"
        "[    2.345678] localhost kernel: EXT4-fs (sda1): mounted filesystem\n"
        "[    3.456789] usb 1-1: new high-speed USB device number 2\n"
    )
    recs = parse(text)
    assert [(r.service, r.message) for r in recs] == [
        ("systemd", "Hostname set to <localhost>."),
        ("kernel", "EXT4-fs (sda1): mounted filesystem"),
        ("kernel", "usb 1-1: new high-speed USB device number 2"),
    ]
    assert recs[0].host == "localhost"


def test_w3c_log_is_read_by_its_own_fields_directive():
    text = (
        "#Software: Microsoft Internet Information Services 10.0\n"
        "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip"
        " cs(User-Agent) sc-status sc-substatus sc-win32-status time-taken\n"
        "2024-01-15 14:02:11 10.0.0.5 GET /default.aspx - 443 - 10.0.0.1 Mozilla/5.0 200 0 0 15\n"
        "2024-01-15 14:02:12 10.0.0.5 POST /api/orders - 443 - 10.0.0.2 curl/8.0 503 0 0 120\n"
    )
    assert detect_format(list(lines_from_text(text))).name == "w3c"
    recs = parse(text)
    assert [(r.level, r.ts) for r in recs[:2]] == [(None, None), (None, None)]
    assert recs[3].ts.isoformat() == "2024-01-15T14:02:12+00:00"
    assert (recs[3].level, recs[3].message) == (
        "ERROR",
        "POST /api/orders - 443 - 10.0.0.2 curl/8.0 503 0 0 120",
    )
    assert recs[3].attrs["status"] == 503


def test_syslog_year_after_the_time_and_the_programs_own_level():
    text = (
        "Jan 15 14:02:14 2019 web-1 sshd[9]: Accepted publickey for deploy\n"
        "<14>Jan 15 14:02:15 web-1 app[42]: ERROR payment failed\n"
    )
    recs = parse(text, default_year=2030)
    assert recs[0].ts.isoformat() == "2019-01-15T14:02:14+00:00"
    assert (recs[0].host, recs[0].service) == ("web-1", "sshd")
    # PRI 14 says info; the program says ERROR: the program's word wins and leaves the message
    assert (recs[1].level, recs[1].message) == ("ERROR", "payment failed")


def test_dotnet_console_levels():
    text = (
        "fail: Microsoft.AspNetCore.Server.Kestrel[13]\n"
        '      Connection id "0HM": An unhandled exception was thrown by the application.\n'
        "info: Microsoft.Hosting.Lifetime[0]\n"
        "      Now listening on: http://[::]:80\n"
    )
    assert [r.level for r in parse(text)] == ["ERROR", "INFO"]


def test_a_trailing_json_object_fills_the_header():
    text = (
        'error: Unhandled rejection: ECONNREFUSED {"service":"api","timestamp":"2024-01-15T14:02:11.123Z"}\n'
        'info: Server listening on port 3000 {"service":"api","timestamp":"2024-01-15T14:02:12.456Z"}\n'
        'warn: Slow response {"service":"api","timestamp":"2024-01-15T14:02:13Z","ms":2300}\n'
    )
    assert detect_format(list(lines_from_text(text))).trailer == "json"
    recs = parse(text)
    assert [(r.level, r.service, r.message) for r in recs] == [
        ("ERROR", "api", "Unhandled rejection: ECONNREFUSED"),
        ("INFO", "api", "Server listening on port 3000"),
        ("WARN", "api", "Slow response"),
    ]
    assert recs[0].ts.isoformat() == "2024-01-15T14:02:11.123000+00:00"


def test_a_json_object_at_some_lines_end_is_message():
    text = (
        '2024-01-15 14:02:11 INFO payload {"id": 1}\n'
        "2024-01-15 14:02:12 INFO no payload here\n"
        "2024-01-15 14:02:13 INFO nor here\n"
    )
    assert detect_format(list(lines_from_text(text))).trailer == ""
    assert parse(text)[0].message == 'payload {"id": 1}'


def test_django_runserver_request_lines_take_the_status_level():
    text = (
        '[15/Jan/2024 14:02:11] "GET /checkout/ HTTP/1.1" 500 145\n'
        '[15/Jan/2024 14:02:12] "GET /favicon.ico HTTP/1.1" 404 179\n'
        '[15/Jan/2024 14:02:13] "GET / HTTP/1.1" 200 5120\n'
    )
    recs = parse(text)
    assert recs[0].ts.isoformat() == "2024-01-15T14:02:11+00:00"
    assert [(r.level, r.message) for r in recs] == [
        ("ERROR", '"GET /checkout/ HTTP/1.1" 500 145'),
        ("WARN", '"GET /favicon.ico HTTP/1.1" 404 179'),
        ("INFO", '"GET / HTTP/1.1" 200 5120'),
    ]
