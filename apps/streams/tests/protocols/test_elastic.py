import json
from datetime import UTC, datetime

import pytest

from apps.streams.protocols import elastic
from apps.streams.protocols.record import Limits, Malformed

NOW = datetime(2024, 1, 15, 14, 5, tzinfo=UTC)
LIMITS = Limits()
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def ndjson(*lines):
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def decode(body, default_index=""):
    return elastic.decode(body, default_index=default_index, received_at=NOW, limits=LIMITS)


def test_filebeat_style_ecs_documents():
    body = ndjson(
        {"create": {"_index": "logs-checkout-default"}},
        {
            "@timestamp": "2024-01-15T14:02:11.123Z",
            "message": "payment failed",
            "log": {"level": "error", "logger": "pay"},
            "service": {"name": "checkout", "version": "1.4"},
            "trace": {"id": TRACE},
            "span": {"id": "00f067aa0ba902b7"},
            "host": {"name": "web-1"},
        },
        {"index": {"_index": "app", "_id": "abc"}},
        {"timestamp": 1705327331, "msg": "started", "level": "info", "service": "worker"},
    )
    bulk = decode(body)
    first, second = bulk.records
    assert first.time == datetime(2024, 1, 15, 14, 2, 11, 123000, tzinfo=UTC)
    assert (first.service, first.level, first.message) == ("checkout", "ERROR", "payment failed")
    assert (first.trace_id, first.span_id) == (TRACE, "00f067aa0ba902b7")
    # read fields leave the attributes; the rest stays structured
    assert first.attributes == {
        "log": {"logger": "pay"},
        "service": {"name": "checkout", "version": "1.4"},
        "host": {"name": "web-1"},
    }
    assert first.resource == {"elasticsearch.index": "logs-checkout-default"}
    assert (second.service, second.level, second.message) == ("worker", "INFO", "started")
    assert second.time == datetime(2024, 1, 15, 14, 2, 11, tzinfo=UTC)
    assert not bulk.errors


def test_index_name_is_the_service_when_the_document_has_none():
    bulk = decode(ndjson({"index": {}}, {"message": "x"}), default_index="payments")
    assert bulk.records[0].service == "payments"
    assert bulk.items[0].index == "payments"


def test_update_delete_and_bad_documents_fail_per_item():
    body = (
        ndjson(
            {"delete": {"_index": "a", "_id": "1"}},
            {"update": {"_index": "a", "_id": "2"}},
            {"doc": {"x": 1}},
            {"index": {"_index": "a"}},
        )
        + b"not json\n"
        + ndjson({"index": {"_index": "a"}}, [1, 2], {"index": {"_index": "a"}}, {"message": "ok"})
    )
    bulk = decode(body)
    assert [r.message for r in bulk.records] == ["ok"]
    assert [(i.action, i.record is None) for i in bulk.items] == [
        ("delete", True),
        ("update", True),
        ("index", True),
        ("index", True),
        ("index", False),
    ]
    answer = elastic.response(bulk, took_ms=3, id_prefix="b1-")
    assert answer["errors"] is True
    assert answer["items"][0] == {
        "delete": {
            "_index": "a",
            "_id": "1",
            "status": 400,
            "error": {"type": "illegal_argument_exception", "reason": "delete is not supported"},
        }
    }
    assert answer["items"][2]["index"]["error"]["type"] == "document_parsing_exception"
    assert answer["items"][4] == {
        "index": {
            "_index": "a",
            "_id": "b1-00004",
            "_version": 1,
            "result": "created",
            "_shards": {"total": 1, "successful": 1, "failed": 0},
            "_seq_no": 0,
            "_primary_term": 1,
            "status": 201,
        }
    }


def test_crlf_and_no_final_newline():
    body = b'{"index":{"_index":"a"}}\r\n{"message":"x"}'
    assert [r.message for r in decode(body).records] == ["x"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json\n", "malformed action"),
        (b'{"index":{},"create":{}}\n', "one action"),
        (b'{"upsert":{}}\n{}\n', "unknown action"),
        (b'{"index":"a"}\n{}\n', "not an object"),
        (b'{"index":{}}\n', "no source line"),
    ],
)
def test_bad_action_lines_fail_the_request(body, message):
    with pytest.raises(Malformed, match=message):
        decode(body)


def test_info_and_error_bodies():
    info = elastic.info(name="aiops", cluster_uuid="u")
    assert info["version"]["number"].startswith("8.")
    assert info["tagline"] == "You Know, for Search"
    assert elastic.error_body("parse_exception", "bad", 400) == {
        "error": {
            "root_cause": [{"type": "parse_exception", "reason": "bad"}],
            "type": "parse_exception",
            "reason": "bad",
        },
        "status": 400,
    }
