"""Receivers through the whole middleware stack (Django's test client); real clients are in
test_clients.py."""

import base64
import gzip
import io
import json
from datetime import UTC, datetime

import cramjam
import pytest
from django.core.handlers.wsgi import WSGIRequest
from django.test import RequestFactory
from django_tenants.utils import tenant_context
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

from apps.ingestion.tokens import services as tokens
from apps.streams import views
from apps.streams.models import SpoolBatch
from apps.streams.protocols import loki

from .conftest import spooled

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
NDJSON = (
    b'{"timestamp":"2024-01-15T14:02:11Z","message":"db down","level":"error",'
    b'"service":"api","trace_id":"' + TRACE.encode() + b'"}\n'
    b'{"timestamp":"2024-01-15T14:02:12Z","message":"recovered","level":"info","service":"api"}\n'
)

ENDPOINTS = [
    ("post", "/ingest/otlp/v1/logs", "application/x-protobuf"),
    ("post", "/ingest/loki/api/v1/push", "application/json"),
    ("get", "/ingest/es/", ""),
    ("post", "/ingest/es/_bulk", "application/x-ndjson"),
    ("put", "/ingest/es/logs/_bulk", "application/x-ndjson"),
    ("post", "/ingest/hec/services/collector/event", ""),
    ("post", "/ingest/http", "application/x-ndjson"),
]


def post(client, path, body, token=None, content_type="application/octet-stream", **extra):
    if token is not None:
        extra.setdefault("HTTP_AUTHORIZATION", f"Bearer {token.text}")
    return client.generic("POST", path, body, content_type=content_type, **extra)


@pytest.mark.parametrize(("method", "path", "content_type"), ENDPOINTS)
@pytest.mark.parametrize("authorization", [None, "Bearer aiops_nope", "Basic Zm9vOmJhcg=="])
def test_every_endpoint_refuses_a_bad_token(
    client, alpha_token, method, path, content_type, authorization
):
    extra = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = client.generic(method.upper(), path, b"{}", content_type=content_type, **extra)
    assert response.status_code == 401
    with tenant_context(alpha_token.tenant):
        assert not SpoolBatch.objects.exists()


@pytest.mark.parametrize(("method", "path", "content_type"), ENDPOINTS)
def test_every_endpoint_refuses_a_revoked_token(client, alpha_token, method, path, content_type):
    tokens.revoke_token(token=alpha_token.row)
    response = client.generic(
        method.upper(), path, b"{}", content_type=content_type, **alpha_token.bearer
    )
    assert response.status_code == 401


def test_http_ndjson_lands_in_the_tokens_tenant_and_project_only(client, alpha_token, beta_token):
    response = post(client, "/ingest/http", NDJSON, alpha_token, "application/x-ndjson")
    assert response.status_code == 200
    assert response.json() == {"records": 2, "duplicate": False}
    first, second = spooled(alpha_token)
    assert (first.service, first.level_name, first.message, first.trace_id) == (
        "api",
        "ERROR",
        "db down",
        TRACE,
    )
    assert first.ts == datetime(2024, 1, 15, 14, 2, 11, tzinfo=UTC)
    assert second.message == "recovered"
    assert spooled(beta_token) == []


def test_a_retried_batch_is_stored_once(client, alpha_token):
    for _ in range(3):
        response = post(client, "/ingest/http", NDJSON, alpha_token, "application/x-ndjson")
        assert response.status_code == 200
    assert response.json() == {"records": 2, "duplicate": True}
    # the same content gzip-compressed is the same batch too
    response = post(
        client, "/ingest/http", gzip.compress(NDJSON), alpha_token, "application/x-ndjson",
        HTTP_CONTENT_ENCODING="gzip",
    )  # fmt: skip
    assert response.json()["duplicate"] is True
    assert len(spooled(alpha_token)) == 2


def test_text_lines_take_the_service_parameter(client, alpha_token):
    body = b"ERROR payment failed\nINFO ok\n"
    response = post(client, "/ingest/http?service=billing", body, alpha_token, "text/plain")
    assert response.status_code == 200
    assert [(r.service, r.level_name) for r in spooled(alpha_token)] == [
        ("billing", "ERROR"),
        ("billing", "INFO"),
    ]


def test_basic_auth_with_the_token_as_password(client, alpha_token):
    credentials = base64.b64encode(f"anyone:{alpha_token.text}".encode()).decode()
    response = post(
        client, "/ingest/http", NDJSON, content_type="application/x-ndjson",
        HTTP_AUTHORIZATION=f"Basic {credentials}",
    )  # fmt: skip
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "encoding", "status"),
    [
        (b"x" * 2048, "", 413),
        (gzip.compress(b"x" * (10 * 1024 * 1024)), "gzip", 413),  # a bomb: 10 MiB from ~10 KiB
        (b"garbage", "gzip", 400),
        (b"data", "br", 415),
        (b'{"a":' * 40 + b"1" + b"}" * 40, "", 400),  # deeper than max_json_depth
    ],
)
def test_limits_and_encodings(client, alpha_token, settings, body, encoding, status):
    settings.STREAM_LIMITS = {"max_body_bytes": 1024, "max_json_depth": 32}
    extra = {"HTTP_CONTENT_ENCODING": encoding} if encoding else {}
    response = post(client, "/ingest/http", body, alpha_token, "application/json", **extra)
    assert response.status_code == status
    assert spooled(alpha_token) == []


def test_malformed_is_400_and_stores_nothing(client, alpha_token):
    response = post(client, "/ingest/http", b"[1, 2]", alpha_token, "application/json")
    assert response.status_code == 400
    assert "neither a JSON object" in response.json()["error"]
    assert spooled(alpha_token) == []


def chunked_request(token, *, terminated: bool) -> WSGIRequest:
    """The WSGI environ gunicorn builds for `Transfer-Encoding: chunked`: no CONTENT_LENGTH,
    and (gunicorn) an input stream that ends, flagged `wsgi.input_terminated`."""
    environ = dict(
        RequestFactory().post("/ingest/http", b"", content_type="application/x-ndjson").environ
    )
    environ.pop("CONTENT_LENGTH", None)
    environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    environ["HTTP_AUTHORIZATION"] = f"Bearer {token.text}"
    environ["wsgi.input"] = io.BytesIO(NDJSON)
    if terminated:
        environ["wsgi.input_terminated"] = True
    return WSGIRequest(environ)


def test_chunked_body_is_read_from_a_terminated_input(alpha_token):
    assert chunked_request(alpha_token, terminated=True).read() == b""  # what Django sees
    response = views.http_lines(chunked_request(alpha_token, terminated=True))
    assert response.status_code == 200, response.content
    assert len(spooled(alpha_token)) == 2


def test_a_body_shorter_than_its_content_length_is_refused(alpha_token):
    """A dropped connection: the shipper never saw an answer and will send the whole body
    again, so storing the part that came would store its first records twice."""
    environ = dict(
        RequestFactory().post("/ingest/http", b"", content_type="application/x-ndjson").environ
    )
    environ["CONTENT_LENGTH"] = str(len(NDJSON) + 1000)
    environ["HTTP_AUTHORIZATION"] = f"Bearer {alpha_token.text}"
    environ["wsgi.input"] = io.BytesIO(NDJSON)  # ends early, as gunicorn's input does
    response = views.http_lines(WSGIRequest(environ))
    assert response.status_code == 400
    assert "ended after" in json.loads(response.content)["error"]
    assert spooled(alpha_token) == []


def test_chunked_body_without_a_terminated_input_is_411(alpha_token):
    response = views.http_lines(chunked_request(alpha_token, terminated=False))
    assert response.status_code == 411
    assert spooled(alpha_token) == []


# --- OTLP ---------------------------------------------------------------------------------------


def otlp_request(message="card declined"):
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    attribute = resource_logs.resource.attributes.add(key="service.name")
    attribute.value.string_value = "checkout"
    log = resource_logs.scope_logs.add().log_records.add()
    log.time_unix_nano = 1705327331_000000000
    log.severity_number = 17
    log.body.string_value = message
    log.trace_id = bytes.fromhex(TRACE)
    return request


def test_otlp_protobuf_answers_an_empty_export_response(client, alpha_token):
    response = post(
        client, "/ingest/otlp/v1/logs", otlp_request().SerializeToString(), alpha_token,
        "application/x-protobuf",
    )  # fmt: skip
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-protobuf"
    ExportLogsServiceResponse.FromString(response.content)
    (record,) = spooled(alpha_token)
    assert (record.service, record.level_name, record.trace_id) == ("checkout", "ERROR", TRACE)


def test_otlp_json_and_its_errors(client, alpha_token):
    body = {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "web"}}]
                },
                "scopeLogs": [
                    {
                        "logRecords": [
                            {
                                "timeUnixNano": "1705327331000000000",
                                "severityNumber": 13,
                                "body": {"stringValue": "slow"},
                                "traceId": TRACE,
                            }
                        ]
                    }
                ],
            }
        ]
    }
    response = post(
        client, "/ingest/otlp/v1/logs", json.dumps(body).encode(), alpha_token, "application/json"
    )
    assert (response.status_code, response.json()) == (200, {})
    (record,) = spooled(alpha_token)
    assert (record.service, record.level_name, record.trace_id) == ("web", "WARN", TRACE)
    response = post(client, "/ingest/otlp/v1/logs", b"{", alpha_token, "application/json")
    assert response.status_code == 400
    assert response.json()["code"] == 3
    response = post(client, "/ingest/otlp/v1/logs", b"\xff", alpha_token, "application/x-protobuf")
    assert response.status_code == 400
    assert response.content.startswith(b"\x08\x03\x12")  # google.rpc.Status, INVALID_ARGUMENT


# --- Loki ---------------------------------------------------------------------------------------


def test_loki_protobuf_snappy_answers_204(client, alpha_token):
    request = loki.PushRequest()
    stream = request.streams.add(labels='{service_name="cart", level="warn"}')
    entry = stream.entries.add(line="cart is slow")
    entry.timestamp.seconds = 1705327331
    entry.structuredMetadata.add(name="trace_id", value=TRACE)
    body = bytes(cramjam.snappy.compress_raw(request.SerializeToString()))
    response = post(client, "/ingest/loki/api/v1/push", body, alpha_token, "application/x-protobuf")
    assert response.status_code == 204
    (record,) = spooled(alpha_token)
    assert (record.service, record.level_name, record.trace_id) == ("cart", "WARN", TRACE)


def test_loki_json_gzip_and_label_limit(client, alpha_token):
    body = {"streams": [{"stream": {"app": "a"}, "values": [["1705327331000000000", "x"]]}]}
    response = post(
        client, "/ingest/loki/api/v1/push", gzip.compress(json.dumps(body).encode()), alpha_token,
        "application/json", HTTP_CONTENT_ENCODING="gzip",
    )  # fmt: skip
    assert response.status_code == 204
    body["streams"][0]["stream"]["big"] = "x" * 5000
    response = post(
        client,
        "/ingest/loki/api/v1/push",
        json.dumps(body).encode(),
        alpha_token,
        "application/json",
    )
    assert response.status_code == 400
    assert b"longer than 2048 bytes" in response.content


# --- Elasticsearch -----------------------------------------------------------------------------------


def test_es_info_carries_the_product_header(client, alpha_token):
    response = client.get("/ingest/es/", **alpha_token.bearer)
    assert response.status_code == 200
    assert response["X-Elastic-Product"] == "Elasticsearch"
    assert response.json()["version"]["number"].startswith("8.")
    assert client.get("/ingest/es/").status_code == 401


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_es_bulk_per_item_response(client, alpha_token, method):
    body = (
        b'{"index":{}}\n{"@timestamp":"2024-01-15T14:02:11Z","message":"boom","log.level":"error"}\n'
        b'{"delete":{"_id":"1"}}\n'
    )
    response = client.generic(
        method,
        "/ingest/es/payments/_bulk",
        body,
        content_type="application/x-ndjson",
        **alpha_token.bearer,
    )
    assert response.status_code == 200
    assert response["X-Elastic-Product"] == "Elasticsearch"
    answer = response.json()
    assert answer["errors"] is True
    assert answer["items"][0]["index"]["status"] == 201
    assert answer["items"][0]["index"]["_index"] == "payments"
    assert answer["items"][1]["delete"]["status"] == 400
    (record,) = spooled(alpha_token)
    assert (record.service, record.level_name, record.message) == ("payments", "ERROR", "boom")
    # a retry gets the same ids back and stores nothing new
    again = client.generic(
        method,
        "/ingest/es/payments/_bulk",
        body,
        content_type="application/x-ndjson",
        **alpha_token.bearer,
    ).json()
    assert again["items"][0]["index"]["_id"] == answer["items"][0]["index"]["_id"]
    assert len(spooled(alpha_token)) == 1


def test_es_bad_action_line_is_an_elasticsearch_error(client, alpha_token):
    response = post(client, "/ingest/es/_bulk", b"nonsense\n", alpha_token, "application/x-ndjson")
    assert response.status_code == 400
    assert response["X-Elastic-Product"] == "Elasticsearch"
    assert response.json()["error"]["type"] == "parse_exception"


# --- Splunk HEC ----------------------------------------------------------------------------------------


def test_hec_splunk_scheme_and_codes(client, alpha_token):
    body = b'{"event":"ERROR a","time":1705327331}{"event":{"message":"b","level":"info"},"sourcetype":"api"}'
    response = post(
        client, "/ingest/hec/services/collector/event", body, content_type="",
        HTTP_AUTHORIZATION=f"Splunk {alpha_token.text}",
    )  # fmt: skip
    assert (response.status_code, response.json()) == (200, {"text": "Success", "code": 0})
    assert [(r.service, r.level_name, r.message) for r in spooled(alpha_token)] == [
        ("", "ERROR", "ERROR a"),
        ("api", "INFO", "b"),
    ]
    response = post(client, "/ingest/hec/services/collector/event", b"", content_type="")
    assert (response.status_code, response.json()["code"]) == (401, 2)
    response = post(
        client, "/ingest/hec/services/collector/event", b'{"host":"x"}', content_type="",
        HTTP_AUTHORIZATION=f"Splunk {alpha_token.text}",
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json() == {
        "text": "Event field is required",
        "code": 12,
        "invalid-event-number": 0,
    }


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        # NUL bytes and a lone surrogate: PostgreSQL refuses both in text and jsonb
        (
            rb'{"message":"a\u0000b \ud800","attrs":{"k\u0000":"v\u0000","n":1e999}}',
            "application/json",
        ),
        (b"line with a NUL \x00 byte\n\xff\xfe invalid utf-8\n", "text/plain"),
    ],
)
def test_hostile_text_is_stored_not_a_500(client, alpha_token, body, content_type):
    response = post(client, "/ingest/http", body, alpha_token, content_type)
    assert response.status_code == 200, response.content
    for record in spooled(alpha_token):
        assert "\x00" not in record.message
        assert "\x00" not in str(record.attributes)


def test_invalid_utf8_in_protobuf_is_400(client, alpha_token):
    request = otlp_request("abc")
    body = request.SerializeToString().replace(b"abc", b"a\xffc")
    response = post(client, "/ingest/otlp/v1/logs", body, alpha_token, "application/x-protobuf")
    assert response.status_code == 400
    assert spooled(alpha_token) == []
