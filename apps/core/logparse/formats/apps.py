"""Application and database text logs: Python logging, Java (log4j/logback/Spring Boot), Go
(stdlib, zap console), PostgreSQL (stderr and csvlog), MySQL/MariaDB, Redis, and the generic
"timestamp, maybe level, maybe [component], message" shape most other programs print."""

from __future__ import annotations

import csv
import re

from ..levels import REDIS_MARKS, normalize_level, split_leading_level
from .spec import Fields, regex_parser

_ISO = r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?"
_LEVEL_WORD = (
    r"(?:TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|SEVERE|CRITICAL|CRIT|FATAL|ALERT|EMERG|PANIC"
    r"|trace|debug|info|notice|warn|warning|error|err|critical|crit|fatal|panic"
    r"|Trace|Debug|Info|Notice|Warn|Warning|Error|Critical|Fatal)"
)

# Python `%(asctime)s - %(name)s - %(levelname)s - %(message)s`
parse_python = regex_parser(
    r"(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) - (?P<logger>\S{1,256}) - (?P<level>[A-Z]{4,8}) - (?P<message>.*)",
    level=normalize_level,
    attrs=("logger",),
)

# logging.basicConfig() default `%(levelname)s:%(name)s:%(message)s`
parse_python_basic = regex_parser(
    r"(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL):(?P<logger>[\w.\-]{1,256}):(?P<message>.*)",
    level=normalize_level,
    attrs=("logger",),
)

# Spring Boot 2 `2024-01-15 14:02:11.123  ERROR 1234 --- [nio-8080-exec-1] c.e.Foo   : msg`
# Spring Boot 3 `2024-01-15T14:02:11.123Z ERROR 1234 --- [app] [nio-8080-exec-1] c.e.Foo : msg`
parse_spring_boot = regex_parser(
    r"(?P<ts>" + _ISO + r")\s+(?P<level>[A-Z]{4,5})\s+(?P<pid>\d+) --- "
    r"(?:\[(?P<service>[^\]]{0,64})\] )?\[\s*(?P<thread>[^\]]{0,128})\]\s+(?P<logger>\S{1,256})\s*:\s(?P<message>.*)",
    level=normalize_level,
    attrs=("thread", "logger"),
)


def _log4j_post(d: Fields, _m: re.Match[str]) -> Fields:
    level2 = d.pop("level2")
    thread2 = d["attrs"].pop("thread2", None)
    if level2 is not None:
        d["level"] = normalize_level(level2)
    if thread2 is not None:
        d["attrs"]["thread"] = thread2
    return d


# log4j/logback: `2024-01-15 14:02:11,123 [main] ERROR com.example.Foo - msg`
#                `2024-01-15 14:02:11,123 ERROR [main] com.example.Foo: msg`
#                `14:02:11.123 [main] ERROR com.example.Foo - msg` (logback's default: no date)
parse_log4j = regex_parser(
    r"(?P<ts>"
    + _ISO
    + r"|\d\d:\d\d:\d\d(?:[.,]\d{1,9})?)\s+(?:\[(?P<thread>[^\]]{0,128})\]\s+(?P<level>[A-Z]{4,5})"
    r"|(?P<level2>[A-Z]{4,5})\s+\[(?P<thread2>[^\]]{0,128})\])\s+"
    r"(?P<logger>[\w.$]{1,256})(?::\d+)?(?:\s+-|:)\s(?P<message>.*)",
    level=normalize_level,
    attrs=("thread", "thread2", "logger"),
    post=_log4j_post,
)


def _leading_level(d: Fields, _m: re.Match[str]) -> Fields:
    d["level"], d["message"] = split_leading_level(d["message"])
    return d


# Go `log`: `2024/01/15 14:02:11[.123456] [file.go:12: ]msg`
parse_go_stdlib = regex_parser(
    r"(?P<ts>\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(?:\.\d{1,6})?) (?:(?P<caller>[\w./\-]{1,256}\.go:\d+): )?(?P<message>.*)",
    attrs=("caller",),
    post=_leading_level,
)

# zap console: `2024-01-15T14:02:11.123Z\tERROR\t[logger\t]pkg/file.go:12\tmsg[\t{"k": "v"}]`
_ZAP_TAIL = re.compile(r'\t(\{"[^\t]*\})$')


def _zap_post(d: Fields, _m: re.Match[str]) -> Fields:
    msg = d["message"]
    tail = _ZAP_TAIL.search(msg) if msg.endswith("}") else None
    if tail:
        d["message"] = msg[: tail.start()]
        d["attrs"]["fields"] = tail.group(1)[:2048]
    return d


parse_zap_console = regex_parser(
    r"(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?)\t(?P<level>[A-Za-z]{4,6})\t"
    r"(?:(?P<logger>[^\t:]{1,128})\t)?(?:(?P<caller>[^\t\s]{1,256}:\d+)\t)?(?P<message>.*)",
    level=normalize_level,
    attrs=("logger", "caller"),
    post=_zap_post,
)

# PostgreSQL stderr, log_line_prefix '%m [%p] ' (default) with optional `%q%u@%d `.
_PG_JOIN = frozenset(("DETAIL", "HINT", "CONTEXT", "STATEMENT", "QUERY", "LOCATION"))


def _postgres_post(d: Fields, _m: re.Match[str]) -> Fields:
    word = d.pop("level")
    d["level"] = normalize_level(word)
    attrs = d["attrs"]
    attrs["severity"] = word
    if word in _PG_JOIN:
        d["join"] = True
    return d


parse_postgres = regex_parser(
    r"(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,6})?(?: [A-Z]{2,5}| ?[+-]\d\d(?::?\d\d)?)?)"
    r" \[(?P<pid>\d+)(?:-\d+)?\] (?:(?P<user>[\w\-.]{0,64})@(?P<db>[\w\-.]{0,64}) )?"
    r"(?P<level>DEBUG[1-5]?|INFO|NOTICE|WARNING|ERROR|LOG|FATAL|PANIC|DETAIL|HINT|CONTEXT|STATEMENT|QUERY|LOCATION):  ?(?P<message>.*)",
    attrs=("user", "db"),
    post=_postgres_post,
)

# PostgreSQL csvlog: 23+ columns, the first a `%m` timestamp.
_PG_CSV_START = re.compile(r'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} [A-Z]{2,5},(?:"|,)')


def parse_postgres_csv(text: str) -> Fields | None:
    if not _PG_CSV_START.match(text):
        return None
    try:
        row = next(csv.reader([text], strict=False))
    except (csv.Error, StopIteration):
        return None
    if len(row) < 14:
        return None
    row += [""] * (26 - len(row))
    severity = row[11]
    attrs = {
        k: v
        for k, v in (
            ("user", row[1]),
            ("db", row[2]),
            ("sqlstate", row[12]),
            ("detail", row[14][:1024]),
            ("hint", row[15][:512]),
            ("query", row[19][:1024]),
            ("application", row[22]),
            ("severity", severity),
        )
        if v
    }
    return {
        "ts": row[0],
        "level": normalize_level(severity),
        "message": row[13],
        "service": None,
        "host": None,
        "pid": row[3] or None,
        "trace_id": None,
        "attrs": attrs,
    }


# MySQL 8 `2024-01-15T14:02:11.123456Z 0 [ERROR] [MY-010334] [Server] msg`, 5.7 without the
# code, MariaDB `2024-01-15 14:02:11 0 [ERROR] mysqld: msg`, old `240115 14:02:11 [ERROR] msg`.
parse_mysql = regex_parser(
    r"(?P<ts>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)?|\d{6} [ \d]\d:\d\d:\d\d)"
    r"\s+(?:(?P<thread>\d+) )?\[(?P<level>Note|Warning|Warn|ERROR|Error|System|Info|Debug)\]"
    r"(?: \[(?P<code>MY-\d+)\])?(?: \[(?P<subsystem>\w{1,32})\])? (?P<message>.*)",
    level=normalize_level,
    attrs=("thread", "code", "subsystem"),
)


def _redis_post(d: Fields, _m: re.Match[str]) -> Fields:
    d["level"] = REDIS_MARKS.get(d["level"])
    return d


# Redis `1:M 15 Jan 2024 14:02:11.123 # msg` (role X sentinel, C child, S replica, M master)
parse_redis = regex_parser(
    r"(?P<pid>\d+):(?P<role>[XCSM]) (?P<ts>\d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d\.\d{1,6}) (?P<level>[.\-*#]) (?P<message>.*)",
    attrs=("role",),
    post=_redis_post,
)

# The generic shape: `[ts] [LEVEL] [component] message` with optional brackets, separators
# (`-`, `|`, `:`), a pid (HDFS `081109 203615 148 INFO dfs.DataNode: msg`) and a `component:`.
# Zone abbreviations after a time (`2024-01-15 14:02:11 UTC`). A closed list: `[A-Z]{3,4}`
# would read the level of `… 14:02:11,123 ERROR app: boom` as a zone named "ERRO".
_TZ_ABBR = (
    r"(?:UTC|GMT|EST|EDT|CST|CDT|MST|MDT|PST|PDT|AKST|AKDT|HST|CET|CEST|EET|EEST|WET|WEST"
    r"|BST|IST|JST|KST|MSK|AEST|AEDT|ACST|AWST|NZST|NZDT|HKT|SGT)"
)
_GENERIC_TS = (
    r"(?P<ts>" + _ISO + r"(?: " + _TZ_ABBR + r"(?![A-Za-z]))?"
    r"|\d{4}/\d\d/\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?"
    r"|\d{6} \d{6}"
    r"|(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d\d:\d\d:\d\d(?:\.\d{1,6})?"
    r"|\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d(?: [+-]\d{4})?"
    r"|\d\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d(?:\.\d{1,6})?"
    r"|[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d{1,6})? \d{4}"
    r"|\d{10}(?:\.\d{1,9})?"
    r")"
)
parse_generic = regex_parser(
    r"\[?" + _GENERIC_TS + r"\]?[ \t|,:\-]{0,4}"
    r"(?:\[?(?P<pid>\d{1,10})\]? )?"
    r"(?:[\[<(]?(?P<level>" + _LEVEL_WORD + r") {0,8}[\]>)]?(?![\w.])[ \t|:\-]{0,4}"
    r"(?:\[(?P<component>[^\[\]]{0,256}(?:\[[^\[\]]{0,64}\][^\[\]]{0,256}){0,4})\][ \t|:\-]{0,4}|(?P<component2>[\w.$\-/]{1,128}): )?)?"
    r"(?P<message>.*)",
    level=normalize_level,
    attrs=("component", "component2"),
    post=lambda d, m: _generic_post(d, m),
)

# `[Consumer clientId=c1, groupId=g1] msg`: a name then key=value pairs is the message's own
# context (Kafka's logIdent), not a component column
_CONTEXT_TAG = re.compile(r"[\w.$\-]+ [\w.]+=")


def _generic_post(d: Fields, m: re.Match[str]) -> Fields:
    attrs = d["attrs"]
    component = attrs.get("component")
    if component is not None and _CONTEXT_TAG.match(component):
        del attrs["component"]
        d["message"] = m.string[m.start("component") - 1 :]
    c2 = attrs.pop("component2", None)
    if c2 is not None:
        attrs["component"] = c2
    if d["level"] is None:
        d["level"], d["message"] = split_leading_level(d["message"])
    return d
