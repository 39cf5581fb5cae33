import json
from datetime import UTC, datetime

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue, KeyValueList
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from apps.streams.protocols import otlp
from apps.streams.protocols.record import Limits, Malformed, TooDeep, Unsupported

NOW = datetime(2024, 1, 15, 14, 5, tzinfo=UTC)
LIMITS = Limits()
TRACE = bytes.fromhex("5b8efff798038103d269b633813fc60c")
SPAN = bytes.fromhex("eee19b7ec3c1b174")
T_NS = 1705327331_123456789  # 2024-01-15T14:02:11.123456789Z


def kv(key, **value):
    return KeyValue(key=key, value=AnyValue(**value))


def request(*records, service="checkout"):
    return ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                resource=Resource(
                    attributes=[
                        kv("service.name", string_value=service),
                        kv("host.name", string_value="web-1"),
                    ]
                ),
                scope_logs=[
                    ScopeLogs(
                        scope={"name": "payments.charge", "version": "1.2"},
                        log_records=list(records),
                    )
                ],
            )
        ]
    )


ERROR_RECORD = LogRecord(
    time_unix_nano=T_NS,
    observed_time_unix_nano=T_NS + 1_000_000,
    severity_number=17,  # SEVERITY_NUMBER_ERROR
    severity_text="ERROR",
    body=AnyValue(string_value="payment failed: card declined"),
    attributes=[
        kv("code.function.name", string_value="charge"),
        kv("retry", int_value=3),
        kv("ratio", double_value=0.5),
        kv("ok", bool_value=False),
        kv("tags", array_value={"values": [AnyValue(string_value="a"), AnyValue(int_value=1)]}),
    ],
    trace_id=TRACE,
    span_id=SPAN,
)


def decode_protobuf(req, **kwargs):
    return otlp.decode(
        req.SerializeToString(),
        content_type="application/x-protobuf",
        received_at=NOW,
        limits=kwargs.get("limits", LIMITS),
    )


def test_protobuf_record_maps_every_field():
    (record,) = decode_protobuf(request(ERROR_RECORD))
    assert record.time == datetime(2024, 1, 15, 14, 2, 11, 123457, tzinfo=UTC)
    assert record.observed_time.replace(microsecond=0) == datetime(
        2024, 1, 15, 14, 2, 11, tzinfo=UTC
    )
    assert record.service == "checkout"
    assert record.level == "ERROR"
    assert record.message == "payment failed: card declined"
    assert record.trace_id == TRACE.hex()
    assert record.span_id == SPAN.hex()
    assert record.resource == {"service.name": "checkout", "host.name": "web-1"}
    assert record.attributes == {
        "otel.scope.name": "payments.charge",
        "otel.scope.version": "1.2",
        "code.function.name": "charge",
        "retry": 3,
        "ratio": 0.5,
        "ok": False,
        "tags": ["a", 1],
        "otel.severity_text": "ERROR",
    }


@pytest.mark.parametrize(
    ("severity_number", "severity_text", "level"),
    [
        (1, "", "TRACE"),
        (5, "", "DEBUG"),
        (9, "INFO", "INFO"),
        (13, "", "WARN"),
        (21, "", "FATAL"),
        (0, "warning", "WARN"),  # no number: the text decides
        (0, "", None),
    ],
)
def test_levels(severity_number, severity_text, level):
    log = LogRecord(
        severity_number=severity_number, severity_text=severity_text, body={"string_value": "x"}
    )
    (record,) = decode_protobuf(request(log))
    assert record.level == level


def test_no_time_no_observed_time_uses_the_receive_time():
    (record,) = decode_protobuf(request(LogRecord(body={"string_value": "x"})))
    assert record.time is None
    assert record.observed_time == NOW
    assert record.trace_id == ""


def test_structured_body_is_kept_and_its_message_used():
    body = AnyValue(
        kvlist_value=KeyValueList(
            values=[kv("message", string_value="db timeout"), kv("ms", int_value=5000)]
        )
    )
    (record,) = decode_protobuf(request(LogRecord(body=body)))
    assert record.message == "db timeout"
    assert record.attributes["body"] == {"message": "db timeout", "ms": 5000}


def test_bytes_values_are_base64():
    log = LogRecord(attributes=[kv("blob", bytes_value=b"\x00\x01")])
    (record,) = decode_protobuf(request(log))
    assert record.attributes["blob"] == "AAE="


def test_json_encoding_with_hex_ids():
    """OTLP/JSON as the OTel JS exporter and the Collector send it: camelCase, hex ids,
    64-bit integers as strings, enums as numbers."""
    document = json_format.MessageToDict(request(ERROR_RECORD))
    document = json.loads(json.dumps(document))
    log = document["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    log["traceId"], log["spanId"] = TRACE.hex(), SPAN.hex()
    log["severityNumber"] = 17
    assert log["timeUnixNano"] == str(T_NS)
    (record,) = otlp.decode(
        json.dumps(document).encode(),
        content_type="application/json; charset=utf-8",
        received_at=NOW,
        limits=LIMITS,
    )
    (expected,) = decode_protobuf(request(ERROR_RECORD))
    assert record == expected


def test_json_with_a_bad_trace_id_keeps_the_record():
    body = {
        "resourceLogs": [
            {"scopeLogs": [{"logRecords": [{"body": {"stringValue": "x"}, "traceId": "zz"}]}]}
        ]
    }
    (record,) = otlp.decode(
        json.dumps(body).encode(), content_type="application/json", received_at=NOW, limits=LIMITS
    )
    assert (record.message, record.trace_id, record.service) == ("x", "", "")


def test_several_resources_and_records():
    req = request(ERROR_RECORD, LogRecord(body={"string_value": "second"}))
    req.resource_logs.append(request(LogRecord(body={"string_value": "other"}), service="cart")
                             .resource_logs[0])  # fmt: skip
    records = decode_protobuf(req)
    assert [(r.service, r.message) for r in records] == [
        ("checkout", "payment failed: card declined"),
        ("checkout", "second"),
        ("cart", "other"),
    ]


def test_empty_request_is_no_records():
    assert decode_protobuf(ExportLogsServiceRequest()) == []


@pytest.mark.parametrize(
    ("body", "content_type", "error"),
    [
        (b"\xff\xff\xff\xff", "application/x-protobuf", Malformed),
        (b"\x0a\x05abc", "application/x-protobuf", Malformed),  # truncated submessage
        (b"{not json", "application/json", Malformed),
        (b"[]", "application/json", Malformed),
        (b'{"resourceLogs": "nope"}', "application/json", Malformed),
        (b"hello", "text/plain", Unsupported),
        (b"hello", "", Unsupported),
    ],
)
def test_malformed(body, content_type, error):
    with pytest.raises(error):
        otlp.decode(body, content_type=content_type, received_at=NOW, limits=LIMITS)


def test_deeply_nested_attribute_is_too_deep():
    value = AnyValue(string_value="leaf")
    for _ in range(20):
        value = AnyValue(array_value={"values": [value]})
    log = LogRecord(attributes=[KeyValue(key="deep", value=value)])
    with pytest.raises(TooDeep):
        decode_protobuf(request(log), limits=Limits(max_json_depth=10))


def test_responses():
    body, content_type = otlp.response(json_body=False)
    assert content_type == "application/x-protobuf"
    ExportLogsServiceResponse().ParseFromString(body)
    assert otlp.response(json_body=True) == (b"{}", "application/json")
    status, _ = otlp.error_status("bad thing", json_body=False)
    assert status == b"\x08\x03\x12\x09bad thing"
