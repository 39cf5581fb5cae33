"""Elasticsearch `_bulk`: NDJSON action/source pairs in, a per-item response out.

Only `index` and `create` carry log documents; `update` and `delete` make no sense on a log
stream and are answered per item with a 400, as Elasticsearch answers an item it refuses. A
source line that is not a JSON object fails its item only; an unreadable action line fails the
whole request (Elasticsearch does the same). The service is the document's `service.name` /
`service`, else the index name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from .bodies import iter_lines, loads
from .fields import record_from_object
from .record import Limits, Malformed, StreamRecord

ACTIONS = ("index", "create", "update", "delete")
VERSION = "8.17.0"


@dataclass(slots=True)
class BulkItem:
    action: str
    index: str
    id: str | None
    record: int | None = None  # position in `Bulk.records`; None when the item failed
    error_type: str = ""
    error: str = ""


@dataclass(slots=True)
class Bulk:
    records: list[StreamRecord] = field(default_factory=list)
    items: list[BulkItem] = field(default_factory=list)

    @property
    def errors(self) -> bool:
        return any(item.record is None for item in self.items)


def decode(body: bytes, *, default_index: str, received_at: datetime, limits: Limits) -> Bulk:
    bulk = Bulk()
    lines = iter_lines(body)
    for number, line in lines:
        action, meta = _action(line, number, limits)
        index = meta.get("_index") or default_index
        doc_id = meta.get("_id")
        item = BulkItem(action=action, index=str(index), id=str(doc_id) if doc_id else None)
        bulk.items.append(item)
        if action == "delete":
            item.error_type, item.error = "illegal_argument_exception", "delete is not supported"
            continue
        source = next(lines, None)
        if source is None:
            raise Malformed(f"line {number}: the {action} action has no source line after it")
        if action == "update":
            item.error_type, item.error = "illegal_argument_exception", "update is not supported"
            continue
        try:
            document = loads(source[1], limits)
        except Malformed as exc:
            item.error_type, item.error = "document_parsing_exception", exc.message
            continue
        if not isinstance(document, dict):
            item.error_type = "document_parsing_exception"
            item.error = f"line {source[0]}: the document is not a JSON object"
            continue
        item.record = len(bulk.records)
        bulk.records.append(
            record_from_object(
                document,
                received_at=received_at,
                default_service=item.index,
                limits=limits,
                resource={"elasticsearch.index": item.index} if item.index else None,
            )
        )
    return bulk


def _action(line: bytes, number: int, limits: Limits) -> tuple[str, dict]:
    try:
        value = loads(line, limits)
    except Malformed as exc:
        raise Malformed(f"line {number}: malformed action/metadata line: {exc.message}") from None
    if not isinstance(value, dict) or len(value) != 1:
        raise Malformed(f"line {number}: expected one action ({', '.join(ACTIONS)})")
    ((action, meta),) = value.items()
    if action not in ACTIONS:
        raise Malformed(f"line {number}: unknown action [{action}]")
    if not isinstance(meta, dict):
        raise Malformed(f"line {number}: the {action} action's metadata is not an object")
    return action, meta


def response(bulk: Bulk, *, took_ms: int, id_prefix: str) -> dict:
    """The body Elasticsearch answers a bulk request with. Generated ids are `id_prefix` and
    the item's position, so a retried batch gets the same ids back."""
    items = []
    for position, item in enumerate(bulk.items):
        doc_id = item.id or f"{id_prefix}{position:05d}"
        if item.record is None:
            items.append(
                {
                    item.action: {
                        "_index": item.index,
                        "_id": doc_id,
                        "status": 400,
                        "error": {"type": item.error_type, "reason": item.error},
                    }
                }
            )
            continue
        items.append(
            {
                item.action: {
                    "_index": item.index,
                    "_id": doc_id,
                    "_version": 1,
                    "result": "created",
                    "_shards": {"total": 1, "successful": 1, "failed": 0},
                    "_seq_no": item.record,
                    "_primary_term": 1,
                    "status": 201,
                }
            }
        )
    return {"took": took_ms, "errors": bulk.errors, "items": items}


def error_body(error_type: str, reason: str, status: int) -> dict:
    cause = {"type": error_type, "reason": reason}
    return {"error": {"root_cause": [cause], **cause}, "status": status}


def info(*, name: str, cluster_uuid: str) -> dict:
    """`GET /`: what an Elasticsearch 8 node says about itself (clients check the header)."""
    return {
        "name": name,
        "cluster_name": "aiops",
        "cluster_uuid": cluster_uuid,
        "version": {
            "number": VERSION,
            "build_flavor": "default",
            "build_type": "docker",
            "build_hash": "0000000000000000000000000000000000000000",
            "build_date": "2024-12-11T12:08:05.663969764Z",
            "build_snapshot": False,
            "lucene_version": "9.12.0",
            "minimum_wire_compatibility_version": "7.17.0",
            "minimum_index_compatibility_version": "7.0.0",
        },
        "tagline": "You Know, for Search",
    }


def dumps(value: dict) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
