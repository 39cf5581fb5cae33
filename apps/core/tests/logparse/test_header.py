"""The header learnt from a file's own lines (header.py): shapes, columns, the loghub spelling."""

from __future__ import annotations

from apps.core.logparse.detect import detect_format
from apps.core.logparse.header import infer

from .conftest import parse


def test_letter_level_and_month_day_time():
    lines = [
        "03-14 09:01:02.100  812  830 E Payments: charge failed: timeout",
        "03-14 09:01:02.250  812  831 I Payments: retrying",
        "03-14 09:01:03.000  812  830 W Ledger: slow write",
    ]
    header = infer(lines)
    assert header is not None
    assert header.loghub() == "<Date> <Time> <Pid> <Id> <Level> <Component>: <Content>"
    recs = parse("\n".join(lines), default_year=2023)
    assert [r.fmt for r in recs] == ["inferred"] * 3
    assert recs[0].ts.isoformat() == "2023-03-14T09:01:02.100000+00:00"
    assert (recs[0].level, recs[0].service, recs[0].message) == (
        "ERROR",
        "Payments",
        "charge failed: timeout",
    )


def test_bracketed_time_with_offset_leaves_no_leftovers():
    text = (
        "[2021-05-02 11:00:00 +0200] [77] [INFO] worker up\n"
        "[2021-05-02 11:00:05 +0200] [77] [ERROR] worker died\n"
        "[2021-05-02 11:00:09 +0200] [78] [INFO] new worker\n"
    )
    recs = parse(text)
    assert [r.message for r in recs] == ["worker up", "worker died", "new worker"]
    assert recs[1].level == "ERROR"
    assert recs[0].ts.isoformat() == "2021-05-02T09:00:00+00:00"


def test_two_digit_year_slashes():
    text = "19/04/01 10:00:00 INFO storage.Block: stored\n19/04/01 10:00:01 WARN net.Pool: full\n"
    recs = parse(text)
    assert recs[0].ts.isoformat() == "2019-04-01T10:00:00+00:00"
    assert [(r.level, r.message) for r in recs] == [("INFO", "stored"), ("WARN", "full")]


def test_wrapped_line_takes_inner_level_message_and_year():
    text = (
        "Jun  3 10:00:00 box app[1]: 2019-06-03T08:00:00Z 0 [Warning] disk nearly full\n"
        "Jun  3 10:00:01 box app[1]: 2019-06-03T08:00:01Z 0 [Note] started\n"
    )
    recs = parse(text, default_year=2030)
    assert recs[0].ts.isoformat() == "2019-06-03T10:00:00+00:00"
    assert [(r.level, r.message) for r in recs] == [
        ("WARN", "disk nearly full"),
        ("INFO", "started"),
    ]


def test_repeated_lines_and_plain_text_learn_nothing():
    assert infer(["2024/01/15 14:02:11 http: boom"] * 5) is None
    assert infer(["hello world", "another line", "third: one"]) is None
    assert detect_format(["hello world", "another line"]).name == "plain"
