"""Property tests: arbitrary text never raises, and every line lands in exactly one record."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.core.logparse.formats import FORMATS
from apps.core.logparse.parser import lines_from_text, parse_lines
from apps.core.logparse.record import Line
from conftest import examples

from .test_multiline import BLOCK_CASES, STOP_CASES

# Real format lines, stack-trace pieces and noise, so the joins and fallbacks get exercised.
SNIPPETS = [ex for f in FORMATS for ex in f.examples] + [
    "\tat com.example.Foo.bar(Foo.java:12)",
    "Caused by: java.io.IOException: x",
    "Traceback (most recent call last):",
    '  File "a.py", line 1, in <module>',
    "ValueError: bad",
    "panic: boom",
    "goroutine 1 [running]:",
    "main.main()",
    "exit status 2",
    "    at fn (/app/x.js:1:2)",
    "Jan 15 14:02:11 web-1 kernel: [  518.050606] Call Trace:",
    "Jan 15 14:02:11 web-1 kernel: [  518.050607]  dump_header+0x4a/0x1f0",
    "Jan 15 14:02:11 web-1 kernel: [  518.050608] active_anon:239 inactive_anon:6955",
    "[  518.050609] [  pid  ]   uid  tgid total_vm      rss",
    "[  518.050610]  <TASK>",
    "",
    "   ",
    "{",
    '{"log":"x","stream":"stdout"}',
    "api-1  | ",
    # JSON can spell half a surrogate pair, which no UTF-8 text (nor PostgreSQL) can hold
    '{"level":"error","msg":"half \\ud800 a pair","svc":"\\uDBFF"}',
    '{"message":"\\udfff","host":"h\\ud83d","k":{"\\ud800":"\\ud83d\\udd25"}}',
]
line_text = st.one_of(
    st.sampled_from(SNIPPETS),
    st.text(
        alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)),
        max_size=200,
    ),
    st.builds(lambda a, b: a[: len(a) // 2] + b, st.sampled_from(SNIPPETS), st.text(max_size=30)),
)


def check_partition(lines: list[Line], records) -> None:
    expected = 1
    for rec in records:
        assert rec.line == expected, (rec.line, expected)
        assert rec.end_line >= rec.line
        assert rec.raw == "\n".join(ln.text for ln in lines[rec.line - 1 : rec.end_line])
        assert rec.truncated == any(ln.truncated for ln in lines[rec.line - 1 : rec.end_line])
        assert rec.ts is None or rec.ts.utcoffset().total_seconds() == 0
        storable = (
            rec.message,
            rec.service or "",
            rec.host or "",
            json.dumps(rec.attrs or {}, ensure_ascii=False),
        )
        for text in storable:
            text.encode("utf-8")  # raises on a lone surrogate
        expected = rec.end_line + 1
    assert expected == len(lines) + 1


@pytest.mark.fuzz
@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(line_text, st.booleans()), max_size=40))
def test_every_line_is_in_exactly_one_record(items):
    lines = [
        Line(i, text.replace("\r", "").replace("\n", ""), trunc)
        for i, (text, trunc) in enumerate(items, 1)
    ]
    check_partition(lines, list(parse_lines(lines, source="s")))


@pytest.mark.fuzz
@settings(max_examples=examples(100), deadline=None)
@given(st.text(max_size=2000))
def test_arbitrary_pasted_text_never_raises(text):
    lines = list(lines_from_text(text))
    assert "".join(ln.text for ln in lines) == text.replace("\r", "").replace("\n", "")
    check_partition(lines, list(parse_lines(lines)))


@pytest.mark.fuzz
@settings(max_examples=examples(50), deadline=None)
@given(st.sampled_from([f.name for f in FORMATS]), st.lists(line_text, max_size=20))
def test_any_declared_format_never_raises(fmt, texts):
    lines = [Line(i, t) for i, t in enumerate(texts, 1)]
    check_partition(lines, list(parse_lines(lines, detected=fmt)))


def test_long_lines_are_bounded():
    # 256 KB lines of adversarial shapes: every regex must stay linear.
    shapes = [
        "2024-01-15 14:02:11 " + "[" * 262_000,
        "a=" + 'b="' * 87_000,
        "{" + '"a":' * 65_000,
        "Jan 15 14:02:11 " + "h" * 262_000,
        "api-1" + " " * 262_000 + "x",
        "  Warning  BackOff  " + "1m " * 87_000,
        '1.2.3.4 - - [15/Jan/2024:14:02:11 +0000] "' + "\\" * 262_000,
        "081109 203615 148 INFO " + "a." * 131_000,
        '{"a":' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"log":"' + "\\n" * 100_000 + '","stream":"stdout"}',
        "2024-01-15T14:02:11Z stdout F " * 9_000,
    ]
    lines = [Line(i, s, True) for i, s in enumerate(shapes, 1)]
    start = time.perf_counter()
    records = list(parse_lines(lines))
    assert time.perf_counter() - start < 2.0
    check_partition(lines, records)


# every physical line of the real multi-line cases, to be shuffled into new neighbourhoods
BLOCK_LINES = sorted(
    {ln for _name, text, _spans in BLOCK_CASES + STOP_CASES for ln in text.splitlines()}
)


@pytest.mark.fuzz
@settings(max_examples=examples(200), deadline=None)
@given(
    st.lists(st.sampled_from(BLOCK_LINES), max_size=60), st.sampled_from([None, "syslog", "dmesg"])
)
def test_joining_never_loses_or_duplicates_a_line(texts, fmt):
    lines = [Line(i, t) for i, t in enumerate(texts, 1)]
    check_partition(lines, list(parse_lines(lines, detected=fmt)))
