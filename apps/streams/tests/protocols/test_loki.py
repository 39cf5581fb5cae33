import json
import logging
from datetime import UTC, datetime

import cramjam
import pytest
from logging_loki.emitter import LokiEmitterV0, LokiEmitterV1

from apps.streams.protocols import bodies, loki
from apps.streams.protocols.record import LabelTooLong, Limits, Malformed, Unsupported

NOW = datetime(2024, 1, 15, 14, 5, tzinfo=UTC)
LIMITS = Limits()
T_NS = 1705327331_123456000
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def decode(body, content_type="application/json", limits=LIMITS):
    return loki.decode(body, content_type=content_type, received_at=NOW, limits=limits)


def push_request(*streams):
    request = loki.PushRequest()
    for labels, entries in streams:
        stream = request.streams.add(labels=labels)
        for nanos, line, metadata in entries:
            entry = stream.entries.add(line=line)
            entry.timestamp.seconds, entry.timestamp.nanos = divmod(nanos, 1_000_000_000)
            for name, value in metadata.items():
                entry.structuredMetadata.add(name=name, value=value)
    return request


def test_protobuf_snappy_as_promtail_and_winston_loki_send_it():
    request = push_request(
        (
            '{app="checkout", level="error", env="prod"}',
            [(T_NS, "payment failed", {"trace_id": TRACE}), (T_NS + 1, "retrying", {})],
        ),
        ('{job="varlogs"}', [(T_NS, "plain line", {})]),
    )
    wire = bytes(cramjam.snappy.compress_raw(request.SerializeToString()))
    body = bodies.decode_content_encoding(wire, "snappy", LIMITS)
    records = decode(body, "application/x-protobuf")
    assert [(r.service, r.level, r.message) for r in records] == [
        ("checkout", "ERROR", "payment failed"),
        ("checkout", "ERROR", "retrying"),
        ("varlogs", None, "plain line"),
    ]
    first = records[0]
    assert first.time == datetime(2024, 1, 15, 14, 2, 11, 123456, tzinfo=UTC)
    assert first.observed_time == NOW
    assert first.trace_id == TRACE
    assert first.resource == {"app": "checkout", "level": "error", "env": "prod"}
    assert first.attributes == {"trace_id": TRACE}


def test_protobuf_classes_match_loki_wire_format():
    """Field numbers as in Loki's push.proto: a hand-encoded message parses."""
    entry = b"\x0a\x04\x08\x01\x10\x02" + b"\x12\x02hi" + b"\x1a\x06\x0a\x01k\x12\x01v"
    stream = b'\x0a\x09{job="x"}' + b"\x12" + bytes([len(entry)]) + entry
    request = loki.PushRequest.FromString(b"\x0a" + bytes([len(stream)]) + stream)
    (parsed,) = request.streams
    assert parsed.labels == '{job="x"}'
    assert parsed.entries[0].line == "hi"
    assert parsed.entries[0].timestamp.seconds == 1
    assert parsed.entries[0].timestamp.nanos == 2
    assert parsed.entries[0].structuredMetadata[0].name == "k"


def test_json_values_with_pino_loki_structured_metadata():
    body = {
        "streams": [
            {
                "stream": {"application": "cart", "level": "warn"},
                "values": [
                    [
                        str(T_NS),
                        '{"msg":"slow query"}',
                        {"traceId": TRACE, "span_id": "00f067aa0ba902b7"},
                    ],
                    [str(T_NS), "second"],
                ],
            }
        ]
    }
    records = decode(json.dumps(body).encode())
    assert [(r.service, r.level, r.message, r.trace_id) for r in records] == [
        ("cart", "WARN", '{"msg":"slow query"}', TRACE),
        ("cart", "WARN", "second", ""),
    ]
    assert records[0].span_id == "00f067aa0ba902b7"


def _log_record(level=logging.ERROR):
    record = logging.LogRecord("payments", level, "/app/pay.py", 12, "card declined", (), None)
    record.created = T_NS / 1e9
    record.tags = {"service": "payments", "trace_id": TRACE}
    return record


def test_python_logging_loki_legacy_shape():
    """The payload python-logging-loki's default emitter builds (labels string + entries)."""
    emitter = LokiEmitterV0("http://unused", tags={"env": 'say "hi"'})
    payload = emitter.build_payload(_log_record(), "card declined")
    assert "labels" in payload["streams"][0]  # the legacy shape indeed
    (record,) = decode(json.dumps(payload).encode())
    assert record.service == "payments"
    assert record.level == "ERROR"
    assert record.message == "card declined"
    assert record.trace_id == TRACE
    assert record.time == datetime(2024, 1, 15, 14, 2, 11, 123456, tzinfo=UTC)
    assert record.resource["env"] == 'say "hi"'
    assert record.resource["severity"] == "error"
    assert record.resource["logger"] == "payments"


def test_python_logging_loki_v1_shape():
    emitter = LokiEmitterV1("http://unused")
    (record,) = decode(json.dumps(emitter.build_payload(_log_record(), "x")).encode())
    assert (record.service, record.level, record.trace_id) == ("payments", "ERROR", TRACE)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ("{}", {}),
        ('{a="b"}', {"a": "b"}),
        ('{ a = "b" , c="d" }', {"a": "b", "c": "d"}),
        (
            r'{msg="say \"hi\"", path="C:\\temp", nl="a\nb"}',
            {"msg": 'say "hi"', "path": "C:\\temp", "nl": "a\nb"},
        ),
        ('{a="b",}', {"a": "b"}),
        ('{a="}"}', {"a": "}"}),
    ],
)
def test_label_strings(labels, expected):
    assert loki.parse_labels(labels, LIMITS) == expected


@pytest.mark.parametrize("labels", ['a="b"', "{a=b}", '{a="b" c="d"}', '{1a="b"}', '{a="b}'])
def test_bad_label_strings(labels):
    with pytest.raises(Malformed):
        loki.parse_labels(labels, LIMITS)


@pytest.mark.parametrize(
    "stream",
    [
        {"stream": {"a": "x" * 2049}, "values": [[str(T_NS), "x"]]},
        {"stream": {"a" * 1025: "x"}, "values": [[str(T_NS), "x"]]},
        {"stream": {f"l{i}": "x" for i in range(31)}, "values": [[str(T_NS), "x"]]},
        {
            "labels": '{a="' + "x" * 2049 + '"}',
            "entries": [{"ts": "2024-01-15T14:02:11Z", "line": "x"}],
        },
        {"stream": {"a": "b"}, "values": [[str(T_NS), "x", {"big": "x" * 70_000}]]},
    ],
)
def test_label_limits(stream):
    with pytest.raises(LabelTooLong):
        decode(json.dumps({"streams": [stream]}).encode())


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"nope": []}, "streams"),
        ({"streams": [1]}, "not an object"),
        ({"streams": [{"foo": 1}]}, "neither"),
        ({"streams": [{"stream": {}, "values": [["abc", "x"]]}]}, "nanoseconds"),
        ({"streams": [{"stream": {}, "values": [[str(T_NS)]]}]}, "expected"),
        ({"streams": [{"stream": {}, "values": [[str(T_NS), 5]]}]}, "string"),
        (
            {"streams": [{"labels": "{}", "entries": [{"ts": "yesterday", "line": "x"}]}]},
            "RFC 3339",
        ),
    ],
)
def test_malformed_json(body, message):
    with pytest.raises(Malformed, match=message):
        decode(json.dumps(body).encode())


def test_malformed_protobuf_and_unknown_type():
    with pytest.raises(Malformed):
        decode(b"\xff\xff\xff", "application/x-protobuf")
    with pytest.raises(Unsupported):
        decode(b"x", "text/plain")
