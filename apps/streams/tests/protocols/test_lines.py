import json
from datetime import UTC, datetime

import pytest

from apps.streams.protocols import lines
from apps.streams.protocols.record import Limits, Malformed

NOW = datetime(2024, 1, 15, 14, 5, tzinfo=UTC)
LIMITS = Limits()


def decode(body, content_type="", service=""):
    return lines.decode(
        body, content_type=content_type, default_service=service, received_at=NOW, limits=LIMITS
    )


def summary(records):
    return [(r.service, r.level, r.message, r.time) for r in records]


T = datetime(2024, 1, 15, 14, 2, 11, tzinfo=UTC)
VECTOR_NDJSON = (
    b'{"timestamp":"2024-01-15T14:02:11Z","message":"db down","level":"error","service":"api","host":"h1"}\n'
    b'{"timestamp":"2024-01-15T14:02:11Z","message":"ok","level":"info","service":"api","host":"h1"}\n'
)


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (
            VECTOR_NDJSON,
            "application/x-ndjson",
            [("api", "ERROR", "db down", T), ("api", "INFO", "ok", T)],
        ),
        (VECTOR_NDJSON, "", [("api", "ERROR", "db down", T), ("api", "INFO", "ok", T)]),
        # Fluent Bit `http` output, format json: an array, the time as `date` in epoch seconds
        (
            b'[{"date":1705327331.0,"log":"WARN disk 91%","container_name":"db"}]',
            "application/json",
            [("db", "WARN", "WARN disk 91%", T)],
        ),
        (b'[{"date":1705327331.0,"log":"x"}]', "", [("svc", None, "x", T)]),
        (
            b'{"msg":"single object","lvl":"debug"}',
            "application/json",
            [("svc", "DEBUG", "single object", None)],
        ),
        (b'["a string item"]', "application/json", [("svc", None, "a string item", None)]),
        # text lines, CRLF, blank lines skipped; a level word at the start is read
        (
            b"ERROR: boom\r\n\r\nplain line\n",
            "text/plain",
            [("svc", "ERROR", "ERROR: boom", None), ("svc", None, "plain line", None)],
        ),
        # mixed: JSON objects where they parse, text where they do not
        (
            b'{"message":"json"}\n{broken\n',
            "",
            [("svc", None, "json", None), ("svc", None, "{broken", None)],
        ),
        (b"\xff\xfeinvalid utf-8\n", "", [("svc", None, "\ufffd\ufffdinvalid utf-8", None)]),
        (b"", "", []),
    ],
)
def test_shapes(body, content_type, expected):
    assert summary(decode(body, content_type, service="svc")) == expected


def test_object_without_a_message_keeps_the_whole_object_as_text():
    (record,) = decode(b'{"user":"ann","action":"login"}\n')
    assert json.loads(record.message) == {"user": "ann", "action": "login"}
    assert record.attributes == {"user": "ann", "action": "login"}


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'{"a":1}\nnot json\n', "application/x-ndjson"),
        (b"[1]\n", "application/x-ndjson"),
    ],
)
def test_malformed(body, content_type):
    with pytest.raises(Malformed):
        decode(body, content_type)
