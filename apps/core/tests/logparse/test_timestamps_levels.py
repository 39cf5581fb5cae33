"""Timestamp and level normalisation tables."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from apps.core.logparse.levels import (
    Scheme,
    level_from_message,
    level_from_pri,
    level_from_status,
    normalize_level,
    split_leading_level,
)
from apps.core.logparse.parser import lines_from_text
from apps.core.logparse.timestamps import TimestampParser, parse_timestamp

from .conftest import parse

TS = [
    ("2024-01-15T14:02:11Z", "2024-01-15T14:02:11+00:00"),
    ("2024-01-15T14:02:11.123Z", "2024-01-15T14:02:11.123000+00:00"),
    ("2024-01-15T14:02:11.123456789Z", "2024-01-15T14:02:11.123456+00:00"),
    ("2024-01-15 14:02:11,123", "2024-01-15T14:02:11.123000+00:00"),
    ("2024-01-15T14:02:11+02:00", "2024-01-15T12:02:11+00:00"),
    ("2024-01-15T14:02:11-0500", "2024-01-15T19:02:11+00:00"),
    ("2024-01-15 14:02:11.123 UTC", "2024-01-15T14:02:11.123000+00:00"),
    ("2024-01-15 14:02:11 +01", "2024-01-15T13:02:11+00:00"),
    ("15/Jan/2024:14:02:11 +0000", "2024-01-15T14:02:11+00:00"),
    ("15/Jan/2024:14:02:11 +0530", "2024-01-15T08:32:11+00:00"),
    ("Jan 15 14:02:11", "2024-01-15T14:02:11+00:00"),
    ("Jan  5 14:02:11.250", "2024-01-05T14:02:11.250000+00:00"),
    ("2024/01/15 14:02:11", "2024-01-15T14:02:11+00:00"),
    ("2024/01/15 14:02:11.000123", "2024-01-15T14:02:11.000123+00:00"),
    ("081109 203615", "2008-11-09T20:36:15+00:00"),
    ("240115 14:02:11", "2024-01-15T14:02:11+00:00"),
    ("Sun Dec 04 04:47:44 2005", "2005-12-04T04:47:44+00:00"),
    ("Mon Jan 15 14:02:11.123456 2024", "2024-01-15T14:02:11.123456+00:00"),
    ("Mon, 15 Jan 2024 14:02:11 GMT", "2024-01-15T14:02:11+00:00"),
    ("15 Jan 2024 14:02:11.123", "2024-01-15T14:02:11.123000+00:00"),
    ("15-Jan-2024 14:02:11.123", "2024-01-15T14:02:11.123000+00:00"),
    (1705327331, "2024-01-15T14:02:11+00:00"),
    (1705327331.5, "2024-01-15T14:02:11.500000+00:00"),
    (1705327331123, "2024-01-15T14:02:11.123000+00:00"),
    (1705327331123456, "2024-01-15T14:02:11.123456+00:00"),
    (1705327331123456789, "2024-01-15T14:02:11.123457+00:00"),
    ("1705327331", "2024-01-15T14:02:11+00:00"),
    ("1705327331123", "2024-01-15T14:02:11.123000+00:00"),
    ("1705327331.250", "2024-01-15T14:02:11.250000+00:00"),
    # not timestamps
    ("", None),
    ("14:02:11", None),
    ("yesterday", None),
    ("2024-13-45T99:99:99", None),
    ("Feb 30 14:02:11", None),
    (None, None),
    (True, None),
    ("x" * 1000, None),
]


@pytest.mark.parametrize(("value", "expected"), TS, ids=[repr(v)[:40] for v, _ in TS])
def test_timestamp_table(value, expected):
    got = parse_timestamp(value, default_year=2024)
    assert (got.isoformat() if got else None) == expected
    if got is not None:
        assert got.tzinfo is UTC or got.utcoffset() == timedelta(0)


def test_naive_times_use_the_default_tz():
    tz = timezone(timedelta(hours=2))
    assert (
        parse_timestamp("2024-01-15 14:02:11", default_tz=tz).isoformat()
        == "2024-01-15T12:02:11+00:00"
    )
    assert parse_timestamp("Jan 15 14:02:11", default_year=2024, default_tz=tz).hour == 12
    # an explicit zone wins over the default
    assert parse_timestamp("2024-01-15T14:02:11Z", default_tz=tz).hour == 14


def test_syslog_year_rolls_over_december_to_january():
    tsp = TimestampParser(default_year=2023)
    stamps = ["Dec 31 23:59:58", "Dec 31 23:59:59", "Jan  1 00:00:00", "Jan  1 00:00:01"]
    years = [tsp.parse(s).year for s in stamps]
    assert years == [2023, 2023, 2024, 2024]


def test_syslog_year_is_never_in_the_future_without_a_default():
    ref = datetime(2024, 1, 3, tzinfo=UTC)
    tsp = TimestampParser(reference=ref)
    assert tsp.parse("Dec 30 10:00:00").year == 2023
    assert tsp.parse("Jan  2 10:00:00").year == 2024


def test_a_bare_time_of_day_is_dated_on_the_given_day_and_rolls_over_at_midnight():
    tsp = TimestampParser(default_date=date(2024, 1, 15))
    stamps = ["23:59:58.500", "23:59:59,999", "23:59:59.100", "00:00:00.001", "09:15:00"]
    assert [tsp.parse(s).isoformat() for s in stamps] == [
        "2024-01-15T23:59:58.500000+00:00",
        "2024-01-15T23:59:59.999000+00:00",
        "2024-01-15T23:59:59.100000+00:00",  # a little out of order: the same day
        "2024-01-16T00:00:00.001000+00:00",
        "2024-01-16T09:15:00+00:00",
    ]
    assert tsp.time_only == 5
    # the same string on another day is not served from a cache
    assert tsp.parse("23:59:58.500").day == 16
    assert tsp.parse("00:00:00.001").day == 17
    for bad in ("24:00:00", "14:60:00", "14:02", "14:02:11 tomorrow"):
        assert tsp.parse(bad) is None
    tz = timezone(timedelta(hours=2))
    assert (
        TimestampParser(default_date=date(2024, 1, 15), default_tz=tz).parse("01:00:00").isoformat()
        == "2024-01-14T23:00:00+00:00"
    )
    # never past the last representable day
    last = TimestampParser(default_date=date.max)
    assert [last.parse(s).date() for s in ("23:00:00", "01:00:00")] == [date.max, date.max]


def test_logback_default_pattern_gets_the_upload_s_day_and_says_so():
    from apps.core.ingest.pipeline import DateHints, SourceStats, parse_source

    text = (
        "23:59:58.000 [main] INFO  com.example.App - Started\n"
        "23:59:59.500 [http-1] ERROR c.e.OrderService - order failed\n"
        "java.lang.IllegalStateException: boom\n"
        "\tat com.example.Foo.bar(Foo.java:10)\n"
        "00:00:01.000 [main] WARN  com.example.App - after midnight\n"
    )
    stats = SourceStats(name="app.log")
    records = list(
        parse_source(
            lines_from_text(text),
            source="app.log",
            stats=stats,
            dates=DateHints(year=2024, day=date(2024, 1, 15)),
        )
    )
    assert stats.fmt == "log4j"
    assert [(r.line, r.end_line, r.level) for r in records] == [
        (1, 1, "INFO"),
        (2, 4, "ERROR"),
        (5, 5, "WARN"),
    ]
    assert [r.ts.isoformat() for r in records] == [
        "2024-01-15T23:59:58+00:00",
        "2024-01-15T23:59:59.500000+00:00",
        "2024-01-16T00:00:01+00:00",
    ]
    assert not any(r.ts_inherited for r in records)
    assert stats.warnings == [
        "3 timestamp(s) give a time of day only: dated 2024-01-15 to 2024-01-16"
        " (assumed: the day the upload's dated lines show, when it has some)"
    ]


def test_records_without_a_timestamp_inherit_the_previous_one():
    recs = parse(
        "2024-01-15 14:02:11,123 - a - INFO - one\nplain line\n\n2024-01-15 14:02:12,000 - a - INFO - two",
        detected="python",
    )
    assert recs[0].ts_inherited is False
    # line 2 and 3 join record 1 (python has headers); check inheritance with JSON instead
    recs = parse('{"time":"2024-01-15T14:02:11Z","msg":"a"}\n{"msg":"b"}\nplain')
    assert [r.ts_inherited for r in recs] == [False, True, True]
    assert recs[1].ts == recs[0].ts == recs[2].ts


LEVELS = [
    ("ERROR", None, "ERROR"),
    ("error", None, "ERROR"),
    ("err", None, "ERROR"),
    ("Warning", None, "WARN"),
    ("WARN", None, "WARN"),
    ("warnings", None, "WARN"),
    ("crit", None, "FATAL"),
    ("CRITICAL", None, "FATAL"),
    ("emerg", None, "FATAL"),
    ("alert", None, "FATAL"),
    ("panic", None, "FATAL"),
    ("notice", None, "INFO"),
    ("Normal", None, "INFO"),
    ("severe", None, "ERROR"),
    ("fine", None, "DEBUG"),
    ("finest", None, "TRACE"),
    ("DEBUG2", None, "DEBUG"),
    ("LOG", None, "INFO"),
    ("[info]", None, "INFO"),
    ("trace", None, "TRACE"),
    ("dpanic", None, "ERROR"),
    ("bogus", None, None),
    ("", None, None),
    (10, Scheme.BUNYAN, "TRACE"),
    (20, None, "DEBUG"),
    (30, None, "INFO"),
    (40, None, "WARN"),
    (50, None, "ERROR"),
    (60, None, "FATAL"),
    (40, Scheme.PYTHON, "ERROR"),
    (30, Scheme.PYTHON, "WARN"),
    (50, Scheme.PYTHON, "FATAL"),
    (0, Scheme.SYSLOG, "FATAL"),
    (3, Scheme.SYSLOG, "ERROR"),
    (4, Scheme.SYSLOG, "WARN"),
    (6, Scheme.SYSLOG, "INFO"),
    (7, Scheme.SYSLOG, "DEBUG"),
    ("3", Scheme.SYSLOG, "ERROR"),
    (1, Scheme.OTEL, "TRACE"),
    (9, Scheme.OTEL, "INFO"),
    (13, Scheme.OTEL, "WARN"),
    (17, Scheme.OTEL, "ERROR"),
    (24, Scheme.OTEL, "FATAL"),
    (99, Scheme.OTEL, None),
    (None, None, None),
    (float("inf"), None, None),
    (float("nan"), Scheme.OTEL, None),
]


@pytest.mark.parametrize(("value", "scheme", "expected"), LEVELS, ids=[repr(v[:2]) for v in LEVELS])
def test_level_table(value, scheme, expected):
    assert normalize_level(value, scheme) == expected


@pytest.mark.parametrize(
    ("pri", "expected"),
    [("34", "FATAL"), (11, "ERROR"), (165, "INFO"), (12, "WARN"), (15, "DEBUG"), ("x", None)],
)
def test_syslog_pri(pri, expected):
    assert level_from_pri(pri) == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [(200, "INFO"), ("301", "INFO"), (404, "WARN"), ("499", "WARN"), (502, "ERROR"), ("-", None)],
)
def test_http_status(status, expected):
    assert level_from_status(status) == expected


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("ERROR: cannot connect", "ERROR"),
        ("[WARN] disk almost full", "WARN"),
        ("FATAL something", "FATAL"),
        ("Error handling is fine", None),  # a capitalised word, not a level marker
        ("errors=0", None),
        ("Errors were found", None),
        ("", None),
    ],
)
def test_level_from_message(message, expected):
    assert level_from_message(message) == expected


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("PANIC:  could not write to file", ("FATAL", "could not write to file")),
        ("[ERROR] Worker exited", ("ERROR", "Worker exited")),
        ("WARNING - disk almost full", ("WARN", "disk almost full")),
        ("at=error code=H12 desc=x", ("ERROR", "at=error code=H12 desc=x")),  # a field: kept
        ("level=warn msg=slow", ("WARN", "level=warn msg=slow")),
        ("Error handling is fine", (None, "Error handling is fine")),
        ("status=500 path=/", (None, "status=500 path=/")),
        ("ERROR", ("ERROR", "ERROR")),  # nothing else: the word stays the message
    ],
)
def test_split_leading_level(message, expected):
    assert split_leading_level(message) == expected


@pytest.mark.parametrize(
    ("text", "level", "message"),
    [  # lines we wrote in the shapes of issue 16: the level sits in the wrapped message
        (
            "Dec  3 10:12:14 host1 myapp[12]: PANIC: could not write to file\n"
            "Dec  3 10:12:15 host1 myapp[12]: connection received: host=10.0.0.1",
            "FATAL",
            "could not write to file",
        ),
        (
            "2026-12-03T10:12:14.123456+00:00 heroku[router]: at=error code=H12 desc=x\n"
            "2026-12-03T10:12:16.123456+00:00 app[web.1]: Started GET /x",
            "ERROR",
            "at=error code=H12 desc=x",
        ),
    ],
)
def test_a_level_inside_the_message_when_the_header_has_none(text, level, message):
    first, second = parse(text)
    assert (first.level, first.message) == (level, message)
    assert second.level is None


# -- the year of year-less dates -----------------------------------------------------------
YEAR_CASES = [
    # (lines, default_year, expected years) — the line's own year wins over the given one
    (
        [
            'Jul 31 07:38:06 docker-1 dockerd[1008]: time="2020-07-31T07:38:06.9-04:00" level=info',
            "Jul 31 07:38:07 docker-1 kernel: [52217.760979] bash invoked oom-killer",
        ],
        2026,
        [2020, 2020],
    ),
    (  # Dec → Jan inside the file rolls the year over, from the year the file carries
        [
            "Dec 31 23:59:58 h app[1]: 2023-12-31 23:59:58,001 INFO tick",
            "Dec 31 23:59:59 h sshd[2]: Accepted publickey",
            "Jan  1 00:00:01 h sshd[2]: Accepted publickey",
        ],
        2026,
        [2023, 2023, 2024],
    ),
    (  # a date a day off (the sender's clock in another zone) still gives its year
        ['Jan  1 00:30:00 h app[1]: time="2023-12-31T23:30:00-01:00"'],
        2026,
        [2024],
    ),
    (  # no year anywhere: the given one, rolling over
        ["Dec 31 23:59:59 h a: x", "Jan  1 00:00:01 h a: y"],
        2021,
        [2021, 2022],
    ),
    (  # a date in the message that is not this line's date says nothing about its year
        ["Jul 31 07:38:06 h backup[1]: restoring snapshot 2019-03-02"],
        2021,
        [2021],
    ),
]


@pytest.mark.parametrize(("lines", "default_year", "years"), YEAR_CASES)
def test_a_year_found_in_the_file_wins(lines, default_year, years):
    recs = parse("\n".join(lines), default_year=default_year)
    assert [r.ts.year for r in recs] == years


def test_default_tz_applies_to_zone_less_times_only():
    tz = ZoneInfo("America/New_York")
    recs = parse(
        "2024-07-01 12:00:00,000 ERROR a: x\n2024-07-01T12:00:00Z ERROR a: y", default_tz=tz
    )
    assert [r.ts.hour for r in recs] == [16, 12]
