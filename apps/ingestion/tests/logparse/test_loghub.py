"""The explicit loghub header override on the four loghub systems, checked against loghub's own
structured CSVs (../shared/data/loghub; skipped when the folder is missing)."""

from __future__ import annotations

import csv
from itertools import islice

import pytest

from apps.ingestion.logparse.parser import lines_from_text, parse_lines
from apps.ingestion.logparse.record import Line

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
        ("HDFS", "generic"),
        ("Apache", "apache-error"),
        ("OpenSSH", "syslog"),
        ("Zookeeper", "generic"),
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
