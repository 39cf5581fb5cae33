"""JSON field discovery (formats/jsonfields.py): real lines in, time/level/message/service out.

Each line is copied from the public source in its comment (docs, READMEs, the tool's own tests);
where a line was shortened or its error added, the comment says so.
"""

from __future__ import annotations

import json
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.core.logparse.formats.jsonfields import fields_from_object
from apps.core.logparse.parser import lines_from_text, parse_lines
from conftest import examples

from .conftest import one

PINO_STACK = "Error: myerror\\n    at Object.<anonymous> (/app/example.js:16:7)"

# (line, expected record fields; "ts" ISO-8601 UTC, "attrs" a subset)
CASES = [
    # MongoDB 4.4+ structured log, https://www.mongodb.com/docs/manual/reference/log-messages/
    (
        '{"t":{"$date":"2020-05-20T20:10:08.731+00:00"},"s":"W","c":"CONTROL","id":22120,"ctx":"initandlisten","msg":"Access control is not enabled for the database.","tags":["startupWarnings"]}',
        {
            "ts": "2020-05-20T20:10:08.731000+00:00",
            "level": "WARN",
            "message": "Access control is not enabled for the database.",
            "service": "CONTROL",
        },
    ),
    # MongoDB canonical extended JSON date ({"$numberLong": ms}) and a debug level D2
    (
        '{"t":{"$date":{"$numberLong":"1589998208731"}},"s":"D2","c":"QUERY","msg":"Beginning planning"}',
        {"ts": "2020-05-20T18:10:08.731000+00:00", "level": "DEBUG"},
    ),
    # pino: logger.error(err) — shape from pino test/error.test.js (err.type/message/stack, msg)
    (
        '{"level":50,"time":1531171074631,"pid":657,"hostname":"h","err":{"type":"Error","message":"myerror","stack":"'
        + PINO_STACK
        + '"},"msg":"myerror"}',
        {
            "ts": "2018-07-09T21:17:54.631000+00:00",
            "level": "ERROR",
            "message": "myerror",
            "attrs": {"err.type": "Error", "stack": PINO_STACK.replace("\\n", "\n")},
        },
    ),
    # pino: logger.error({ err }, 'charge failed') — the cause joins the message (issue 16)
    (
        '{"level":50,"time":1531171074631,"msg":"charge failed","err":{"type":"Error","message":"x509: certificate has expired","stack":"Error: x509: certificate has expired\\n    at TLSSocket.onConnect"}}',
        {"level": "ERROR", "message": "charge failed: x509: certificate has expired"},
    ),
    # ECS (ecs-logging-java), https://betterstack.com/community/guides/logging/ "error fields"
    (
        '{"@timestamp":"2023-04-19T19:22:45.516Z","ecs.version":"1.2.0","log.level":"ERROR","message":"An exception has been caught.","process.thread.name":"main","log.logger":"org.example.Main","error.type":"java.lang.ArrayIndexOutOfBoundsException","error.message":"Index 10 out of bounds for length 3","error.stack_trace":"java.lang.ArrayIndexOutOfBoundsException: Index 10 out of bounds for length 3\\n\\tat org.example.Main.main(Main.java:19)\\n"}',
        {
            "ts": "2023-04-19T19:22:45.516000+00:00",
            "level": "ERROR",
            "message": "An exception has been caught. Index 10 out of bounds for length 3",
            "service": "org.example.Main",
            "attrs": {"error.type": "java.lang.ArrayIndexOutOfBoundsException"},
        },
    ),
    # ECS nested objects, as in elastic apm-server's decoder tests
    (
        '{"log":{"level":"warn","logger":"a.B"},"message":"m","error":{"stack_trace":"s"},"trace":{"id":"t1"}}',
        {"level": "WARN", "message": "m: s", "trace_id": "t1", "service": "a.B"},
    ),
    # OTLP JSON log record, opentelemetry-proto examples/logs.json (snake/camel case alike)
    (
        '{"timeUnixNano":"1544712660300000000","observedTimeUnixNano":"1544712660300000000","severityNumber":10,"severityText":"Information","traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","body":{"stringValue":"Example log record"}}',
        {
            "ts": "2018-12-13T14:51:00.300000+00:00",
            "level": "INFO",
            "message": "Example log record",
            "trace_id": "5B8EFFF798038103D269B633813FC60C",
        },
    ),
    (
        '{"timestamp":"2018-12-13T14:51:00.3Z","severity_number":17,"body":"payment failed","resource":{"service.name":"payments"}}',
        {"level": "ERROR", "service": "payments"},
    ),
    # OTel attributes with the exception semantic conventions (flattened by the file exporter)
    (
        '{"severity_text":"ERROR","body":"request failed","attributes.exception.type":"TimeoutError","attributes.exception.message":"upstream timed out after 30s"}',
        {"level": "ERROR", "message": "request failed: upstream timed out after 30s"},
    ),
    # Serilog compact JSON (CLEF), github.com/serilog/serilog-formatting-compact README
    (
        '{"@t":"2016-10-12T04:46:58.0554314Z","@mt":"Hello, {@User}","User":{"Name":"nblumhardt","Id":101}}',
        {"ts": "2016-10-12T04:46:58.055431+00:00", "level": "INFO", "message": "Hello, {@User}"},
    ),
    (
        '{"@t":"2016-10-12T04:46:58.0684369Z","@mt":"Number {N:x8}","@r":["0000002a"],"N":42}',
        {"message": "Number 42", "attrs": {"@mt": "Number {N:x8}"}},
    ),
    (
        '{"@t":"2016-10-12T04:46:58.0904378Z","@mt":"Something failed","@l":"Error","@x":"System.DivideByZeroException: Attempted to divide by zero.\\r\\n   at Program.Main()"}',
        {
            "level": "ERROR",
            "message": "Something failed: System.DivideByZeroException: Attempted to divide by zero.",
        },
    ),
    # log4j2 JsonLayout, https://logging.apache.org/log4j/2.x/manual/json-template-layout.html
    (
        '{"instant":{"epochSecond":1493121664,"nanoOfSecond":118000000},"thread":"main","level":"INFO","loggerName":"HelloWorld","message":"Hello, world!","endOfBatch":false}',
        {"ts": "2017-04-25T12:01:04.118000+00:00", "level": "INFO", "service": "HelloWorld"},
    ),
    # python-json-logger with exc_info (the traceback's last line is the error)
    (
        '{"asctime":"2024-01-15 14:02:11,123","levelname":"ERROR","name":"pay","message":"charge failed","exc_info":"Traceback (most recent call last):\\n  File \\"pay.py\\", line 3, in charge\\nssl.SSLCertVerificationError: certificate verify failed"}',
        {"message": "charge failed: ssl.SSLCertVerificationError: certificate verify failed"},
    ),
    # zap with zap.Error(err): the `error` string key (zap README line, error added)
    (
        '{"level":"error","ts":1705327331.123,"caller":"api/handler.go:42","msg":"failed to fetch URL","url":"http://example.com","attempt":3,"error":"dial tcp: i/o timeout"}',
        {
            "ts": "2024-01-15T14:02:11.123000+00:00",
            "message": "failed to fetch URL: dial tcp: i/o timeout",
        },
    ),
    # Monolog JsonFormatter (Laravel): a word beats the 100–600 number; the number alone works
    (
        '{"message":"Disk almost full","context":{},"level":300,"level_name":"WARNING","channel":"app","datetime":"2024-01-15T14:02:11.123456+00:00","extra":{}}',
        {"level": "WARN", "ts": "2024-01-15T14:02:11.123456+00:00"},
    ),
    ('{"message":"db down","level":400,"channel":"app"}', {"level": "ERROR"}),
    # Monolog puts the exception in context.exception
    (
        '{"message":"charge failed","context":{"exception":{"class":"RuntimeException","message":"card declined"}},"level_name":"ERROR"}',
        {"message": "charge failed: card declined"},
    ),
    # numeric levels without a telling name: the value's range picks the scale
    ('{"level":3,"msg":"syslog severity 3"}', {"level": "ERROR"}),
    ('{"level":6,"msg":"syslog severity 6"}', {"level": "INFO"}),
    ('{"level":40,"msg":"bunyan 40"}', {"level": "WARN"}),
    ('{"lvl":"60","msg":"bunyan 60 as text"}', {"level": "FATAL"}),
    ('{"priority":"2","msg":"journald priority"}', {"level": "FATAL"}),
    # epochs in s, ms, µs, ns and as digit strings: one instant
    ('{"ts":1705327331,"msg":"s"}', {"ts": "2024-01-15T14:02:11+00:00"}),
    ('{"time":1705327331123,"msg":"ms"}', {"ts": "2024-01-15T14:02:11.123000+00:00"}),
    ('{"timestamp":1705327331123456,"msg":"us"}', {"ts": "2024-01-15T14:02:11.123456+00:00"}),
    ('{"time":"1705327331123000000","msg":"ns"}', {"ts": "2024-01-15T14:02:11.123000+00:00"}),
    # names that only resemble a role: taken when the value has the shape
    (
        '{"eventTimestamp":"2024-01-15T14:02:11Z","logSeverity":"warning","log_message":"slow"}',
        {"ts": "2024-01-15T14:02:11+00:00", "level": "WARN", "message": "slow"},
    ),
    (
        '{"created_at":"2024-01-15T14:02:11Z","text":"user signed in from a new device"}',
        {"ts": "2024-01-15T14:02:11+00:00", "message": "user signed in from a new device"},
    ),
    # -- negatives: look like a role, are not one ---------------------------------------------
    (
        '{"msg":"served","error":false,"errors":0,"stack":"prod","response_time":0.25}',
        {"message": "served", "level": None, "attrs": {"stack": "prod", "response_time": 0.25}},
    ),
    ('{"msg":"ok","error":null,"err":""}', {"message": "ok", "level": None}),
    ('{"msg":"hi","s":"some words that are no level"}', {"level": None}),
    ('{"msg":"x","duration_time":12.5,"ts":1705327331}', {"ts": "2024-01-15T14:02:11+00:00"}),
    # the error already said by the message is not repeated
    ('{"msg":"dial tcp: i/o timeout","error":"i/o timeout"}', {"message": "dial tcp: i/o timeout"}),
]


@pytest.mark.parametrize(("line", "expected"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_json_fields(line, expected):
    json.loads(line)  # the table holds valid JSON
    rec = one(line)
    assert rec.fmt == "json"
    for key, want in expected.items():
        if key == "attrs":
            for k, v in want.items():
                assert rec.attrs.get(k) == v, (k, rec.attrs)
        elif key == "ts":
            assert rec.ts is not None and rec.ts.isoformat() == want
        else:
            assert getattr(rec, key) == want, (key, getattr(rec, key))


def test_stack_is_kept_whole_as_an_attribute():
    stack = "java.lang.IllegalStateException: boom\n" + "\tat a.B.c(B.java:1)\n" * 50
    fields = fields_from_object({"message": "failed", "stack_trace": stack})
    assert fields["attrs"]["stack"] == stack
    assert fields["message"] == "failed: java.lang.IllegalStateException: boom"
    assert fields["level"] == "ERROR"  # an error and no stated level


def test_message_key_is_learnt_per_layout_not_per_line():
    # No key is named like a message: the first line of the layout decides which one is.
    text = "\n".join(
        [
            '{"ts":"2024-01-15T14:02:11Z","note":"user signed in","agent":"curl"}',
            '{"ts":"2024-01-15T14:02:12Z","note":"x","agent":"Mozilla/5.0 (X11; Linux x86_64)"}',
        ]
    )
    recs = list(parse_lines(lines_from_text(text)))
    assert [r.message for r in recs] == ["user signed in", "x"]


_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30)
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_keys = st.sampled_from(
    ["msg", "message", "level", "lvl", "s", "t", "ts", "time", "err", "error", "stack", "log",
     "service", "resource", "@mt", "@x", "severity_number", "exc_info", "name", "c", "body"]
) | st.text(max_size=10)  # fmt: skip


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(st.dictionaries(_keys, _values, max_size=8), min_size=1, max_size=10))
def test_json_lines_never_raise_and_nothing_is_lost(objects):
    lines = [json.dumps(o) for o in objects]
    recs = list(parse_lines(lines_from_text("\n".join(lines))))
    # every line in exactly one record, in order, its text kept whole
    assert recs[0].line == 1 and recs[-1].end_line == len(lines)
    assert all(a.end_line + 1 == b.line for a, b in pairwise(recs))
    assert "\n".join(r.raw for r in recs) == "\n".join(lines)
    for rec in recs:
        assert isinstance(rec.message, str)
        assert rec.level is None or rec.level in (
            "TRACE",
            "DEBUG",
            "INFO",
            "WARN",
            "ERROR",
            "FATAL",
        )
