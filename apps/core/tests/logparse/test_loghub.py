"""The explicit loghub header override on the four loghub systems, checked against loghub's own
structured CSVs (../shared/data/loghub; skipped when the folder is missing)."""

from __future__ import annotations

import csv
from itertools import islice, pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.core.logparse.loghub import compile_log_format
from apps.core.logparse.parser import lines_from_text, parse_lines
from apps.core.logparse.record import Line
from conftest import examples

from .conftest import LOGHUB, one

SYSTEMS = {
    "HDFS": ("<Date> <Time> <Pid> <Level> <Component>: <Content>", "2008-11-09T20:36:15+00:00"),
    "Apache": (r"\[<Time>\] \[<Level>\] <Content>", "2005-12-04T04:47:44+00:00"),
    "OpenSSH": (
        r"<Date> <Day> <Time> <Component> sshd\[<Pid>\]: <Content>",
        "2024-12-10T06:55:46+00:00",
    ),
    "Zookeeper": (
        r"<Date> <Time> - <Level>  \[<Node>:<Component>@<Id>\] - <Content>",
        "2015-07-29T17:41:44.747000+00:00",
    ),
}
N = 50


@pytest.mark.skipif(not LOGHUB.is_dir(), reason="loghub sample data not available")
@pytest.mark.parametrize("system", SYSTEMS)
def test_log_format_override_matches_loghub_structured(system):
    log_format, first_ts = SYSTEMS[system]
    raw = (LOGHUB / system / f"{system}_2k.log").read_text(encoding="utf-8", errors="replace")
    with (LOGHUB / system / f"{system}_2k.log_structured.csv").open(
        encoding="utf-8", newline=""
    ) as fh:
        rows = list(islice(csv.DictReader(fh), N))
    lines = list(islice(lines_from_text(raw), N))
    recs = list(parse_lines(lines, source=system, log_format=log_format, default_year=2024))
    assert [(r.line, r.end_line) for r in recs] == [(i, i) for i in range(1, N + 1)]
    assert recs[0].ts.isoformat() == first_ts
    for rec, row in zip(recs, rows, strict=True):
        assert rec.fmt == "loghub"
        assert rec.parsed
        assert rec.message.strip() == row["Content"]  # logparser strips each line
        if "Level" in row:
            assert rec.attrs["level_raw"] == row["Level"]
            assert rec.level is not None
        if "Component" in row:
            assert rec.service == row["Component"]
        if "Pid" in row:
            assert rec.pid == row["Pid"]


@pytest.mark.skipif(not LOGHUB.is_dir(), reason="loghub sample data not available")
@pytest.mark.parametrize(
    ("system", "fmt"),
    [
        # the header learnt from the file wins a tie with the catalogue's bare shape ("generic")
        ("HDFS", "inferred"),
        ("Apache", "apache-error"),
        ("OpenSSH", "syslog"),
        ("Zookeeper", "inferred"),
    ],
)
def test_loghub_systems_are_detected_without_override(system, fmt):
    raw = (LOGHUB / system / f"{system}_2k.log").read_text(encoding="utf-8", errors="replace")
    recs = list(islice(parse_lines(lines_from_text(raw), default_year=2024), 200))
    assert {r.fmt for r in recs} == {fmt}
    assert all(r.ts is not None and not r.ts_inherited for r in recs)


def test_override_maps_fields():
    rec = one(
        "2024-01-15 14:02:11,123 web-1 4242 WARN Pool: pool exhausted",
        log_format="<Date> <Time> <Host> <Pid> <Level> <Component>: <Content>",
    )
    assert rec.ts.isoformat() == "2024-01-15T14:02:11.123000+00:00"
    assert (rec.host, rec.pid, rec.level, rec.service, rec.message) == (
        "web-1",
        "4242",
        "WARN",
        "Pool",
        "pool exhausted",
    )


def test_override_non_matching_lines_continue_the_record():
    recs = list(
        parse_lines(
            [
                Line(1, "081109 203615 148 INFO dfs.X: hi"),
                Line(2, "  more"),
                Line(3, "no header here"),
            ],
            log_format="<Date> <Time> <Pid> <Level> <Component>: <Content>",
        )
    )
    assert [(r.line, r.end_line) for r in recs] == [(1, 3)]


def test_override_is_linear_on_hostile_lines():
    # Five lazy groups: Python's engine would try every split of the spaces; RE2 does not.
    line = "a " * 100_000
    recs = list(
        parse_lines(
            [Line(1, line)], log_format="<Date> <Time> <Pid> <Level> <Component>: <Content>"
        )
    )
    assert len(recs) == 1
    assert recs[0].parsed is False


def test_override_needs_content():
    with pytest.raises(ValueError, match="Content"):
        list(parse_lines([Line(1, "x")], log_format="<Date> <Time>"))


# The loghub benchmark settings' headers (logpai/logparser benchmark/*_benchmark.py) on real
# lines of their systems (logpai/loghub *_2k.log).
LINUX = r"<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>"
MAC = r"<Month>  <Date> <Time> <User> <Component>\[<PID>\]( \(<Address>\))?: <Content>"
HEADER_CASES = [
    (
        LINUX,
        "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0",
        {"service": "sshd(pam_unix)", "pid": "19939", "message": "authentication failure; logname= uid=0"},
    ),
    (  # the optional [PID] absent
        LINUX,
        "Jun  9 06:06:20 combo kernel: Linux version 2.6.5-1.358 (bhcompile@bugs.build.redhat.com)",
        {"service": "kernel", "pid": None, "message": "Linux version 2.6.5-1.358 (bhcompile@bugs.build.redhat.com)"},
    ),
    (
        MAC,
        "Jul  1 09:00:55 calvisitor-10-105-160-95 kernel[0]: IOThunderboltSwitch<0>(0x0)::listenerCallback - Thunderbolt HPD packet for route = 0x0 port = 11 unplug = 0",
        {"service": "kernel", "pid": "0", "message": "IOThunderboltSwitch<0>(0x0)::listenerCallback - Thunderbolt HPD packet for route = 0x0 port = 11 unplug = 0"},
    ),
    (  # the optional ( \(<Address>\))? present
        MAC,
        "Nov 20 21:56:01 herzog com.apple.xpc.launchd[1] (com.apple.preference.displays.MirrorDisplays): Service only ran for 0 seconds. Pushing respawn out by 10 seconds.",
        {"service": "com.apple.xpc.launchd", "pid": "1", "message": "Service only ran for 0 seconds. Pushing respawn out by 10 seconds.", "attrs": {"Address": "com.apple.preference.displays.MirrorDisplays"}},
    ),
    (  # escaped bars (HealthApp)
        r"<Time>\|<Component>\|<Pid>\|<Content>",
        "20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579",
        {"service": "Step_LSC", "pid": "30002312", "message": "onStandStepChanged 3579"},
    ),
    (  # a run of spaces is any whitespace (Windows CBS)
        "<Date> <Time>, <Level>                  <Component>    <Content>",
        "2016-09-28 04:30:30, Info                  CBS    Loaded Servicing Stack v6.1.7601.23505",
        {"level": "INFO", "service": "CBS", "message": "Loaded Servicing Stack v6.1.7601.23505"},
    ),
]  # fmt: skip


@pytest.mark.parametrize(("log_format", "line", "expected"), HEADER_CASES)
def test_loghub_header_syntax(log_format, line, expected):
    rec = one(line, log_format=log_format)
    assert rec.fmt == "loghub" and rec.parsed
    for key, want in expected.items():
        if key == "attrs":
            assert {k: rec.attrs.get(k) for k in want} == want
        else:
            assert getattr(rec, key) == want


@pytest.mark.parametrize(
    ("log_format", "reason"),
    [
        ("[<Level>] <Content>", r"inside \[ \]"),
        (r"<Date> (<Time> <Content>", "not a valid header"),
        (r"<Date> (?=x)<Time> <Content>", "not supported"),
        (r"<Date> (<Time>) \1 <Content>", "not supported"),
        ("<Date> <Date> <Content>", "twice"),
        ("<Date> <Time>", "Content"),
        ("<Da te> <Content>", "not a field name"),
    ],
)
def test_headers_that_do_not_compile_say_why(log_format, reason):
    with pytest.raises(ValueError, match=reason):
        compile_log_format(log_format)


_header_lines = st.sampled_from([line for _, line, _ in HEADER_CASES[:2]]) | st.text(max_size=60)


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(_header_lines, min_size=1, max_size=15))
def test_nothing_is_lost_with_a_header(texts):
    texts = [t.replace("\r", " ").replace("\n", " ") for t in texts]
    lines = [Line(i, t) for i, t in enumerate(texts, 1)]
    recs = list(parse_lines(lines, log_format=LINUX, default_year=2024))
    assert recs[0].line == 1 and recs[-1].end_line == len(texts)
    assert all(a.end_line + 1 == b.line for a, b in pairwise(recs))
    assert "\n".join(r.raw for r in recs) == "\n".join(texts)


# A given header's misses, by what became of each line: (lines, expected counts).
SYSLOG_HEADER = r"<Month> <Day> <Time> <Host> <Component>(\[<PID>\])?: <Content>"
UNMATCHED_CASES = [
    ("every line matches", ["Dec  3 10:12:14 h sshd[1]: a", "Dec  3 10:12:15 h cron: b"], {}),
    ("a blank line is no miss", ["Dec  3 10:12:14 h sshd[1]: a", "", "Dec  3 10:12:15 h c: b"], {}),
    (
        "an indented line joins the record before",
        ["Dec  3 10:12:14 h sshd[1]: a", "    at Foo.bar(Foo.java:1)"],
        {"joined to the record before": 1},
    ),
    (
        "a line of another format is read as that format",
        [
            "Dec  3 10:12:14 h sshd[1]: a",
            '{"time":"2026-12-03T10:12:15Z","level":"error","msg":"x"}',
        ],
        {"read as json": 1},
    ),
    ("a first line without a header is plain text", ["no header here"], {"kept as plain text": 1}),
]


@pytest.mark.parametrize(
    ("lines", "expected"), [c[1:] for c in UNMATCHED_CASES], ids=[c[0] for c in UNMATCHED_CASES]
)
def test_a_given_header_counts_the_lines_it_does_not_match(lines, expected):
    unmatched: dict[str, int] = {}
    records = list(
        parse_lines(
            lines_from_text("\n".join(lines) + "\n"),
            log_format=SYSLOG_HEADER,
            unmatched=unmatched,
        )
    )
    assert unmatched == expected
    assert records[-1].end_line == len(lines)  # every line kept, in one record or another
