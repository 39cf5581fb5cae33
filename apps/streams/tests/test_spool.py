"""The spool's packing of a request's records (no database): what goes in comes out."""

from __future__ import annotations

import subprocess
import sys
import zlib
from datetime import UTC, datetime

import pytest

from apps.streams import spool
from apps.streams.protocols import DEFAULT_LIMITS, Malformed, StreamRecord
from apps.streams.protocols.record import make_record

SEEN = datetime(2026, 12, 7, 4, 0, 0, 123456, tzinfo=UTC)


def record(n: int, resource: dict, **fields) -> StreamRecord:
    values = {
        "time": datetime(2026, 12, 7, 3, 59, 59, n, tzinfo=UTC),
        "observed_time": SEEN,
        "service": "checkout",
        "level": "WARN",
        "message": f"retry {n} of 3 to ledger",
        "attributes": {"attempt": n, "peer": {"host": "ledger-2", "port": 5432}, "ok": False},
        "resource": resource,
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "span_id": "00f067aa0ba902b7",
        **fields,
    }
    return StreamRecord(**values)


def test_records_come_back_as_they_went_in_sharing_their_resources():
    web = {"service.name": "checkout", "host.name": "web-1", "k8s.pod.uid": "a1"}
    worker = {"service.name": "ledger", "host.name": "worker-3"}
    records = [
        record(0, web),
        record(1, web, level=None, time=None, trace_id="", span_id=""),
        record(2, dict(web), message='ünïcode ✓ and "quotes"\n\ttabs', truncated=True),
        record(3, worker, attributes={}, level="FATAL"),
    ]
    payload = spool.pack(records)
    resources, _ = spool.unpack(payload)
    assert resources == [web, worker]  # an equal resource right after is stored once
    back = spool.read(payload)
    assert [r.seq for r in back] == [0, 1, 2, 3]
    assert [r.ts for r in back] == [records[0].time, None, records[2].time, records[3].time]
    assert {r.observed_ts for r in back} == {SEEN}  # to the microsecond
    assert [r.level_name for r in back] == ["WARN", "", "WARN", "FATAL"]
    assert back[2].message == records[2].message and back[2].truncated
    assert back[0].attributes == records[0].attributes and back[3].attributes == {}
    assert [r.resource for r in back] == [web, web, web, worker]
    assert (back[0].trace_id, back[0].span_id, back[1].trace_id) == (
        records[0].trace_id,
        records[0].span_id,
        "",
    )
    assert [spool.host_of(resource) for resource in resources] == ["web-1", "worker-3"]


def test_a_naive_time_is_read_as_utc():
    naive = record(0, {}, time=datetime(2026, 1, 2, 3, 4, 5))
    (back,) = spool.read(spool.pack([naive]))
    assert back.ts == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_what_cannot_be_stored_is_malformed_at_the_receiver():
    with pytest.raises(Malformed):
        spool.pack([record(0, {}, attributes={"ratio": float("nan")})])
    with pytest.raises(Malformed):
        spool.pack([record(0, {}, message="lone \udc80 surrogate")])
    # the decoders' make_record cleans both, so a decoded record always packs
    clean = make_record(
        time=None,
        observed_time=SEEN,
        service="s",
        level=None,
        message="lone \udc80 surrogate\x00",
        attributes={"ratio": float("nan")},
        limits=DEFAULT_LIMITS,
    )
    (back,) = spool.read(spool.pack([clean]))
    assert back.message == "lone ? surrogate" and back.attributes == {"ratio": "nan"}


@pytest.mark.parametrize(
    "payload",
    [b"", b"\x02" + zlib.compress(b"{}"), b"\x01not zlib", b"\x01" + zlib.compress(b"[1, 2]")],
)
def test_a_payload_this_code_did_not_write_is_unreadable(payload):
    with pytest.raises(spool.Unreadable):
        spool.unpack(payload)


def test_the_spool_encoding_imports_no_django():
    code = (
        "import sys\nimport apps.streams.spool\n"
        "assert not [m for m in sys.modules if m == 'django' or m.startswith('django.')]\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}
    )
    assert result.returncode == 0, result.stderr
