from datetime import UTC, datetime

import pytest

from apps.streams.protocols import syslog
from apps.streams.protocols.record import Limits

NOW = datetime(2024, 1, 15, 14, 5, tzinfo=UTC)
LIMITS = Limits()
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def parse(data, received_at=NOW):
    return syslog.parse_message(data, received_at=received_at, limits=LIMITS)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # RFC 5424 as `logger --rfc5424` sends it
        (
            b'<11>1 2024-01-15T14:02:11.123456+00:00 web-1 checkout 4242 - [timeQuality tzKnown="1" isSynced="0"] payment failed',
            (
                "checkout",
                "ERROR",
                "payment failed",
                datetime(2024, 1, 15, 14, 2, 11, 123456, tzinfo=UTC),
                "web-1",
            ),
        ),
        # RFC 5424 example 1 of the RFC (BOM before the message, no structured data)
        (
            b"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xef\xbb\xbf'su root' failed for lonvick on /dev/pts/8",
            (
                "su",
                "FATAL",
                "'su root' failed for lonvick on /dev/pts/8",
                datetime(2003, 10, 11, 22, 14, 15, 3000, tzinfo=UTC),
                "mymachine.example.com",
            ),
        ),
        # all nil values, no message
        (b"<14>1 - - - - - -", ("", "INFO", "", None, None)),
        # RFC 3164 as `logger --rfc3164 -n host` sends it
        (
            b"<13>Jan 15 14:02:11 web-1 my-app[123]: disk nearly full",
            (
                "my-app",
                "INFO",
                "disk nearly full",
                datetime(2024, 1, 15, 14, 2, 11, tzinfo=UTC),
                "web-1",
            ),
        ),
        # RFC 3164 without a host (local senders), single-digit day padded with a space
        (
            b"<28>Jan  5 09:00:00 cron: job started",
            ("cron", "WARN", "job started", datetime(2024, 1, 5, 9, 0, tzinfo=UTC), None),
        ),
        # RFC 3339 stamp in a BSD-style message (rsyslog's RSYSLOG_ForwardFormat)
        (
            b"<30>2024-01-15T14:02:11.5+01:00 db1 postgres[77]: FATAL: too many connections",
            (
                "postgres",
                "INFO",
                "FATAL: too many connections",
                datetime(2024, 1, 15, 13, 2, 11, 500000, tzinfo=UTC),
                "db1",
            ),
        ),
        # no PRI at all: kept whole
        (b"just some text\n", ("", None, "just some text", None, None)),
    ],
)
def test_messages(data, expected):
    record = parse(data)
    assert (
        record.service,
        record.level,
        record.message,
        record.time,
        record.resource.get("host.name"),
    ) == expected


def test_rfc5424_structured_data_and_trace_id():
    record = parse(
        b'<165>1 2024-01-15T14:02:11Z h app - ID7 [exampleSDID@32473 iut="3" eventSource="App\\"lication"]'
        b'[otel trace_id="' + TRACE.encode() + b'" span_id="00f067aa0ba902b7"] boom'
    )
    assert record.attributes["syslog.structured_data"] == {
        "exampleSDID@32473": {"iut": "3", "eventSource": 'App"lication'},
        "otel": {"trace_id": TRACE, "span_id": "00f067aa0ba902b7"},
    }
    assert record.attributes["syslog.msgid"] == "ID7"
    assert record.resource["syslog.facility"] == "local4"
    assert (record.trace_id, record.span_id, record.message) == (TRACE, "00f067aa0ba902b7", "boom")


def test_december_stamp_received_in_january_is_last_year():
    record = parse(
        b"<13>Dec 31 23:59:59 h app: x", received_at=datetime(2024, 1, 1, 0, 0, 5, tzinfo=UTC)
    )
    assert record.time == datetime(2023, 12, 31, 23, 59, 59, tzinfo=UTC)


def test_framer_octet_counting_and_lf_across_chunks():
    framer = syslog.Framer()
    one = b"<13>1 - h app - - - first"
    stream = (
        f"{len(one)} ".encode()
        + one
        + b"<13>Jan 15 14:02:11 h app: second\r\n"
        + b"11 <13>third\n!"
    )
    frames = []
    for i in range(len(stream)):  # one byte at a time: every split point
        frames += framer.feed(stream[i : i + 1])
    frames += framer.flush()
    assert frames == [one, b"<13>Jan 15 14:02:11 h app: second", b"<13>third\n!"]


def test_framer_bounds_oversized_frames():
    framer = syslog.Framer(max_frame=10)
    frames = framer.feed(b"20 " + b"a" * 20 + b"x" * 30 + b"\nok\n")
    assert frames == [b"a" * 10, b"x" * 10, b"ok"]
    assert framer.feed(b"y" * 25) == [b"y" * 10]
    assert framer.feed(b"yyy\nnext\n") == [b"next"]


def test_flush_returns_an_unterminated_last_frame():
    framer = syslog.Framer()
    assert framer.feed(b"<13>no newline") == []
    assert framer.flush() == [b"<13>no newline"]
