"""Real shipper clients against a running server: what each one sends arrives in the spool
once, with its service, level, time and trace id.

The clients are the libraries teams run (requirements-dev.txt pins them): the OpenTelemetry
Python SDK with its OTLP/HTTP exporter (and the logging handler upstream now recommends, from
opentelemetry-instrumentation-logging), python-logging-loki, the official `elasticsearch`
client's bulk helper, and curl (also with a chunked body, against gunicorn).
"""

from __future__ import annotations

import base64
import gzip
import logging
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from .conftest import make_token, spooled

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def marker() -> str:
    return uuid.uuid4().hex[:12]


def close_to_now(ts: datetime | None) -> bool:
    return ts is not None and abs(datetime.now(UTC) - ts) < timedelta(minutes=2)


@pytest.fixture
def token(live_server):
    return make_token("alpha", "alpha-marker", "real clients")


def test_opentelemetry_sdk_otlp_http_exporter(live_server, token):
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.instrumentation.logging.handler import LoggingHandler
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    mark = marker()
    exporter = OTLPLogExporter(
        endpoint=f"{live_server.url}/ingest/otlp/v1/logs",
        headers={"Authorization": f"Bearer {token.text}"},
    )
    provider = LoggerProvider(resource=Resource.create({"service.name": "checkout"}))
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    handler = LoggingHandler(level=logging.INFO, logger_provider=provider, log_code_attributes=True)
    logger = logging.getLogger(f"otel-{mark}")
    logger.propagate = False
    logger.addHandler(handler)
    tracer = TracerProvider().get_tracer("tests")
    try:
        with tracer.start_as_current_span("charge") as span:
            logger.error("payment failed %s", mark, extra={"order_id": "o-17", "attempt": 2})
            trace_id = format(span.get_span_context().trace_id, "032x")
        logger.info("retry scheduled %s", mark)
        assert provider.force_flush(10_000)
    finally:
        logger.removeHandler(handler)
        provider.shutdown()

    records = spooled(token, message__endswith=mark)
    assert [(r.service, r.level_name, r.message) for r in records] == [
        ("checkout", "ERROR", f"payment failed {mark}"),
        ("checkout", "INFO", f"retry scheduled {mark}"),
    ]
    assert records[0].trace_id == trace_id
    assert records[1].trace_id == ""
    assert all(close_to_now(r.ts) for r in records)
    # the record's own attributes are kept as they came, typed
    assert records[0].attributes["order_id"] == "o-17"
    assert records[0].attributes["attempt"] == 2
    assert (
        records[0].attributes["code.function.name"] == "test_opentelemetry_sdk_otlp_http_exporter"
    )


def test_python_logging_loki(live_server, token):
    import logging_loki

    mark = marker()
    trace_id = uuid.uuid4().hex
    handler = logging_loki.LokiHandler(
        url=f"{live_server.url}/ingest/loki/api/v1/push",
        tags={"service": "payments"},
        auth=("anyone", token.text),  # Basic only, the token as the password
        version="0",  # its default: the legacy labels/entries shape
    )
    failures: list[str] = []
    handler.handleError = lambda record: failures.append(str(sys.exc_info()[1]))
    logger = logging.getLogger(f"loki-{mark}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        logger.warning("card declined %s", mark, extra={"tags": {"trace_id": trace_id}})
        logger.error("charge failed %s", mark, extra={"tags": {"trace_id": trace_id}})
        logger.debug("state dump %s", mark)
    finally:
        logger.removeHandler(handler)
        handler.close()

    assert failures == []  # anything but 204 makes it raise
    records = spooled(token, message__endswith=mark)
    assert [(r.service, r.level_name, r.message) for r in records] == [
        ("payments", "WARN", f"card declined {mark}"),
        ("payments", "ERROR", f"charge failed {mark}"),
        ("payments", "DEBUG", f"state dump {mark}"),
    ]
    assert [r.trace_id for r in records] == [trace_id, trace_id, ""]
    assert all(close_to_now(r.ts) for r in records)
    assert records[0].resource["logger"] == f"loki-{mark}"


@pytest.mark.parametrize("auth", ["basic", "bearer"])
def test_elasticsearch_client_bulk_helper(live_server, token, auth):
    from elasticsearch import Elasticsearch, helpers

    mark = marker()
    trace_id = uuid.uuid4().hex
    credentials = (
        {"basic_auth": ("elastic", token.text)} if auth == "basic" else {"bearer_auth": token.text}
    )
    client = Elasticsearch(f"{live_server.url}/ingest/es", request_timeout=30, **credentials)
    stamp = datetime.now(UTC).replace(microsecond=0)
    actions = [
        {
            "_index": "logs-inventory",
            "_source": {
                "@timestamp": stamp.isoformat(),
                "message": f"stock sync {n} {mark}",
                "log": {"level": "error" if n == 0 else "info"},
                "service": {"name": "inventory"},
                "trace": {"id": trace_id},
            },
        }
        for n in range(250)
    ]
    try:
        # several chunks: the product header must be there from the first response on
        ok, errors = helpers.bulk(client, actions, chunk_size=100)
        assert (ok, errors) == (250, [])
        assert client.info()["version"]["number"].startswith("8.")
    finally:
        client.close()

    records = spooled(token, message__endswith=mark)
    assert len(records) == 250
    assert {r.service for r in records} == {"inventory"}
    assert [r.level_name for r in records[:2]] == ["ERROR", "INFO"]
    assert {r.trace_id for r in records} == {trace_id}
    assert {r.ts for r in records} == {stamp}


def curl(url: str, token: str, body: bytes, *extra: str) -> tuple[int, str]:
    result = subprocess.run(
        [
            *("curl", "-sS", "-o", "/dev/stderr", "-w", "%{http_code}"),
            *("-H", f"Authorization: Bearer {token}", "--data-binary", "@-", *extra, url),
        ],
        input=body,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return int(result.stdout), result.stderr.decode()


def ndjson(mark: str, trace_id: str) -> bytes:
    return (
        f'{{"ts":"2024-01-15T14:02:11Z","level":"error","service":"edge",'
        f'"msg":"upstream reset {mark}","trace_id":"{trace_id}"}}\n'
        f'{{"ts":"2024-01-15T14:02:12Z","level":"warn","service":"edge",'
        f'"msg":"retrying {mark}"}}\n'
    ).encode()


def check_edge_records(token, mark, trace_id):
    records = spooled(token, message__endswith=mark)
    assert [(r.service, r.level_name, r.message, r.trace_id) for r in records] == [
        ("edge", "ERROR", f"upstream reset {mark}", trace_id),
        ("edge", "WARN", f"retrying {mark}", ""),
    ]
    assert records[0].ts == datetime(2024, 1, 15, 14, 2, 11, tzinfo=UTC)


def test_curl_ndjson_and_its_retry(live_server, token):
    mark, trace_id = marker(), uuid.uuid4().hex
    url = f"{live_server.url}/ingest/http"
    body = ndjson(mark, trace_id)
    for _ in range(2):  # the second is a retry of the same batch: stored once
        status, answer = curl(url, token.text, body, "-H", "Content-Type: application/x-ndjson")
        assert status == 200, answer
    assert '"duplicate":true' in answer
    check_edge_records(token, mark, trace_id)
    status, _ = curl(url, "aiops_wrong", body)
    assert status == 401


# --- gunicorn: a chunked body, as the OTel JS exporter sends it ------------------------------------


def test_curl_chunked_body_under_gunicorn(gunicorn, token):
    mark, trace_id = marker(), uuid.uuid4().hex
    status, answer = curl(
        f"{gunicorn.url}/ingest/http",
        token.text,
        ndjson(mark, trace_id),
        *("-H", "Transfer-Encoding: chunked", "-H", "Content-Type: application/x-ndjson"),
    )
    assert status == 200, answer
    assert '"records":2' in answer
    check_edge_records(token, mark, trace_id)
    assert any(
        "POST /ingest/http" in line and " 200 te=chunked cl=-" in line
        for line in gunicorn.requests()
    ), gunicorn.requests()


def test_basic_auth_curl_with_gzip(live_server, token):
    mark, trace_id = marker(), uuid.uuid4().hex
    credentials = base64.b64encode(f"x:{token.text}".encode()).decode()
    result = subprocess.run(
        [
            *("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}"),
            *("-H", f"Authorization: Basic {credentials}", "-H", "Content-Encoding: gzip"),
            *("--data-binary", "@-", f"{live_server.url}/ingest/http"),
        ],
        input=gzip.compress(ndjson(mark, trace_id)),
        capture_output=True,
        timeout=60,
    )
    assert result.stdout == b"200", result.stderr
    check_edge_records(token, mark, trace_id)
