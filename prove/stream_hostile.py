"""Hostile stream payloads against the receivers under gunicorn.

    python prove/stream_hostile.py   (or `make prove PROVE=stream_hostile`)

Every receiver (OTLP protobuf and JSON, Loki protobuf+snappy and JSON, Elasticsearch bulk,
Splunk HEC, /ingest/http) gets decompression bombs (gzip, deflate, snappy; 1 GiB of zeros
and more), JSON nested 100,000 deep, Loki labels far over the limits, invalid protobuf and
snappy, invalid UTF-8, NaN and huge numbers, bodies over 20 MiB, lying Content-Length, and
batches whose last record is broken after valid ones.

Pass: no 5xx; every payload of the must-refuse kinds gets a 4xx; a refused request leaves
nothing in the spool (no batch, no record) and an accepted one is stored whole (its batch's
record count equals the records written); the server stays healthy and its workers' memory
bounded (peak RSS reported).
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import sys
import time
import zlib
from collections import Counter
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    os.environ.setdefault("AIOPS_TEST_DB", "test_prove_streams")
    from prove.common import run_module

    sys.exit(run_module(__file__, "stream_hostile"))

import pytest
from django_tenants.utils import tenant_context

from prove.common import OUT, write_result
from prove.stream_common import Gunicorn, make_token, post

pytestmark = pytest.mark.django_db(transaction=True)

GiB = 1 << 30
MiB = 1 << 20


def gzip_bomb(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip container
    chunk = b"\0" * MiB
    out = [compressor.compress(chunk) for _ in range(size // MiB)]
    return b"".join(out) + compressor.flush()


def deflate_bomb(size: int) -> bytes:
    compressor = zlib.compressobj(9)
    chunk = b"{" * MiB
    return b"".join(compressor.compress(chunk) for _ in range(size // MiB)) + compressor.flush()


def snappy_bomb(size: int) -> bytes:
    """Raw snappy whose header claims `size` bytes and whose copies expand to them."""
    import cramjam  # what the Loki receiver decodes with

    return bytes(cramjam.snappy.compress_raw(b"\0" * size))


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def snappy_header_lie() -> bytes:
    """A snappy block that claims 4 GiB uncompressed and holds 4 bytes."""
    return varint(4 * GiB - 1) + b"\x0cabcd"


def deep(n: int) -> bytes:
    return b"[" * n + b"]" * n


def loki_json(labels: dict, lines: list[str]) -> bytes:
    values = [[str(time.time_ns()), line] for line in lines]
    return json.dumps({"streams": [{"stream": labels, "values": values}]}).encode()


def otlp_json(message: str) -> dict:
    record = {
        "timeUnixNano": str(time.time_ns()),
        "severityText": "ERROR",
        "body": {"stringValue": message},
    }
    return {
        "resourceLogs": [{"resource": {"attributes": []}, "scopeLogs": [{"logRecords": [record]}]}]
    }


def cases() -> list[tuple[str, str, str, bytes, dict, bool]]:
    """(kind, name, path, body, headers, must be refused)."""
    ndjson = {"Content-Type": "application/x-ndjson"}
    js = {"Content-Type": "application/json"}
    proto = {"Content-Type": "application/x-protobuf"}
    good = b'{"msg":"fine","level":"info"}\n'
    bomb = gzip_bomb(GiB)
    out = [
        # decompression bombs, every encoding and receiver
        (
            "bomb",
            "gzip 1 GiB /ingest/http",
            "/ingest/http",
            bomb,
            {**ndjson, "Content-Encoding": "gzip"},
            True,
        ),
        (
            "bomb",
            "gzip 1 GiB OTLP JSON",
            "/ingest/otlp/v1/logs",
            bomb,
            {**js, "Content-Encoding": "gzip"},
            True,
        ),
        (
            "bomb",
            "gzip 1 GiB OTLP protobuf",
            "/ingest/otlp/v1/logs",
            bomb,
            {**proto, "Content-Encoding": "gzip"},
            True,
        ),
        (
            "bomb",
            "gzip 1 GiB Loki",
            "/ingest/loki/api/v1/push",
            bomb,
            {**js, "Content-Encoding": "gzip"},
            True,
        ),
        (
            "bomb",
            "gzip 1 GiB ES bulk",
            "/ingest/es/_bulk",
            bomb,
            {**ndjson, "Content-Encoding": "gzip"},
            True,
        ),
        (
            "bomb",
            "gzip 1 GiB HEC",
            "/ingest/hec/services/collector/event",
            bomb,
            {"Content-Encoding": "gzip"},
            True,
        ),
        (
            "bomb",
            "deflate 256 MiB /ingest/http",
            "/ingest/http",
            deflate_bomb(256 * MiB),
            {**ndjson, "Content-Encoding": "deflate"},
            True,
        ),
        (
            "bomb",
            "gzip of gzip (nested)",
            "/ingest/http",
            gzip.compress(gzip_bomb(64 * MiB)),
            {**ndjson, "Content-Encoding": "gzip, gzip"},
            True,
        ),
        (
            "bomb",
            "snappy 64 MiB Loki protobuf",
            "/ingest/loki/api/v1/push",
            snappy_bomb(64 * MiB),
            proto,
            True,
        ),
        (
            "bomb",
            "snappy header claims 4 GiB",
            "/ingest/loki/api/v1/push",
            snappy_header_lie(),
            proto,
            True,
        ),
        (
            "too-large",
            "25 MiB plain body",
            "/ingest/http",
            b'{"msg":"x"}\n' * (25 * MiB // 12),
            ndjson,
            True,
        ),
        # deep JSON, every JSON receiver
        ("deep-json", "100k deep /ingest/http", "/ingest/http", deep(100_000), js, True),
        (
            "deep-json",
            "100k deep in NDJSON line 2",
            "/ingest/http",
            good + b'{"a":' * 100_000 + b"1" + b"}" * 100_000 + b"\n",
            ndjson,
            True,
        ),
        ("deep-json", "100k deep OTLP JSON", "/ingest/otlp/v1/logs", deep(100_000), js, True),
        ("deep-json", "100k deep Loki JSON", "/ingest/loki/api/v1/push", deep(100_000), js, True),
        (
            "deep-json",
            "100k deep ES bulk source",
            "/ingest/es/_bulk",
            b'{"index":{}}\n' + deep(100_000) + b"\n",
            ndjson,
            True,
        ),
        (
            "deep-json",
            "100k deep HEC event",
            "/ingest/hec/services/collector/event",
            b'{"event":' + deep(100_000) + b"}",
            {},
            True,
        ),
        (
            "deep-json",
            "deep attribute value OTLP",
            "/ingest/otlp/v1/logs",
            json.dumps(otlp_json("x"))
            .replace(
                '"attributes": []',
                '"attributes": [{"key":"k","value":'
                + '{"arrayValue":{"values":[' * 5000
                + "]}}" * 5000
                + "}]",
            )
            .encode(),
            js,
            True,
        ),
        # huge labels
        (
            "labels",
            "label value 1 MiB",
            "/ingest/loki/api/v1/push",
            loki_json({"app": "x" * MiB}, ["a"]),
            js,
            True,
        ),
        (
            "labels",
            "label name 4 KiB",
            "/ingest/loki/api/v1/push",
            loki_json({"n" * 4096: "v"}, ["a"]),
            js,
            True,
        ),
        (
            "labels",
            "10,000 labels",
            "/ingest/loki/api/v1/push",
            loki_json({f"l{i}": "v" for i in range(10_000)}, ["a"]),
            js,
            True,
        ),
        (
            "labels",
            "structured metadata 1 MiB",
            "/ingest/loki/api/v1/push",
            json.dumps(
                {
                    "streams": [
                        {
                            "stream": {"app": "x"},
                            "values": [[str(time.time_ns()), "line", {"k": "v" * MiB}]],
                        }
                    ]
                }
            ).encode(),
            js,
            True,
        ),
        # invalid protobuf / snappy
        ("protobuf", "random bytes OTLP", "/ingest/otlp/v1/logs", os.urandom(4096), proto, True),
        (
            "protobuf",
            "truncated varint OTLP",
            "/ingest/otlp/v1/logs",
            b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
            proto,
            True,
        ),
        (
            "protobuf",
            "length past the end OTLP",
            "/ingest/otlp/v1/logs",
            b"\x0a\x80\x80\x80\x80\x08abc",
            proto,
            True,
        ),
        (
            "protobuf",
            "random bytes Loki (not snappy)",
            "/ingest/loki/api/v1/push",
            os.urandom(4096),
            proto,
            True,
        ),
        (
            "protobuf",
            "snappy of random bytes Loki",
            "/ingest/loki/api/v1/push",
            bytes(__import__("cramjam").snappy.compress_raw(os.urandom(4096))),
            proto,
            True,
        ),
        # a known field with another wire type is an unknown field to protobuf: a valid, empty request
        (
            "protobuf",
            "wrong wire type OTLP",
            "/ingest/otlp/v1/logs",
            b"\x0d\x00\x00\x00\x00",
            proto,
            False,
        ),
        # invalid UTF-8
        (
            "utf-8",
            "invalid UTF-8 in a JSON string",
            "/ingest/http",
            b'{"msg":"caf\xe9 \xff\xfe"}\n',
            ndjson,
            False,
        ),
        (
            "utf-8",
            "invalid UTF-8 text lines",
            "/ingest/http",
            b"GET / \xc3\x28 200\nok \xf0\x28\x8c\xbc\n",
            {"Content-Type": "text/plain"},
            False,
        ),
        (
            "utf-8",
            "invalid UTF-8 OTLP JSON",
            "/ingest/otlp/v1/logs",
            json.dumps(otlp_json("MARK")).encode().replace(b"MARK", b"\xff\xfe\xfd"),
            js,
            False,
        ),
        (
            "utf-8",
            "invalid UTF-8 in a Loki label",
            "/ingest/loki/api/v1/push",
            loki_json({"app": "MARK"}, ["x"]).replace(b"MARK", b"\xc0\xaf"),
            js,
            False,
        ),
        (
            "utf-8",
            "lone surrogate escape",
            "/ingest/http",
            b'{"msg":"\\ud800 half"}\n',
            ndjson,
            False,
        ),
        ("utf-8", "NUL bytes", "/ingest/http", b'{"msg":"a\\u0000b"}\nc\x00d\n', ndjson, False),
        # numbers
        (
            "numbers",
            "NaN and Infinity",
            "/ingest/http",
            b'{"msg":"n","v":NaN,"w":-Infinity}\n',
            ndjson,
            False,
        ),
        (
            "numbers",
            "a 100,000-digit integer",
            "/ingest/http",
            b'{"msg":"big","v":' + b"9" * 100_000 + b"}\n",
            ndjson,
            True,
        ),
        ("numbers", "1e999999", "/ingest/http", b'{"msg":"e","v":1e999999}\n', ndjson, False),
        # half-valid batches: nothing of them may be stored
        (
            "half",
            "NDJSON: 3 good lines, then broken JSON",
            "/ingest/http",
            good * 3 + b'{"msg": broken\n',
            ndjson,
            True,
        ),
        (
            "half",
            "HEC: 3 good events, then one without event",
            "/ingest/hec/services/collector/event",
            b'{"event":"ok"}' * 3 + b'{"time":1}',
            {},
            True,
        ),
        (
            "half",
            "ES bulk: action without source at the end",
            "/ingest/es/_bulk",
            b'{"index":{}}\n{"message":"ok"}\n' * 3 + b'{"index":{}}\n',
            ndjson,
            True,
        ),
        (
            "half",
            "Loki: good stream, then a bad timestamp",
            "/ingest/loki/api/v1/push",
            json.dumps(
                {
                    "streams": [
                        {"stream": {"app": "a"}, "values": [[str(time.time_ns()), "ok"]]},
                        {"stream": {"app": "b"}, "values": [["yesterday", "bad"]]},
                    ]
                }
            ).encode(),
            js,
            True,
        ),
        (
            "half",
            "OTLP JSON: good record, then a bad time",
            "/ingest/otlp/v1/logs",
            json.dumps(
                {
                    "resourceLogs": [
                        {
                            "scopeLogs": [
                                {
                                    "logRecords": [
                                        otlp_json("ok")["resourceLogs"][0]["scopeLogs"][0][
                                            "logRecords"
                                        ][0],
                                        {
                                            "timeUnixNano": "yesterday",
                                            "body": {"stringValue": "bad"},
                                        },
                                    ]
                                }
                            ]
                        }
                    ]
                }
            ).encode(),
            js,
            True,
        ),
        (
            "encoding",
            "unknown Content-Encoding",
            "/ingest/http",
            good,
            {**ndjson, "Content-Encoding": "br"},
            True,
        ),
        (
            "encoding",
            "gzip header, garbage after",
            "/ingest/http",
            b"\x1f\x8b\x08\x00" + os.urandom(200),
            {**ndjson, "Content-Encoding": "gzip"},
            True,
        ),
        (
            "encoding",
            "truncated gzip",
            "/ingest/http",
            gzip.compress(good * 100)[:-20],
            {**ndjson, "Content-Encoding": "gzip"},
            True,
        ),
    ]
    return out


def send_early_answered(port: int, path: str, token: str, body: bytes, headers: dict) -> int:
    """POST a body the server may refuse before reading it (a 413 on Content-Length): keep
    sending until the server closes, then read its answer."""
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {token}",
             f"Content-Length: {len(body)}", "Connection: close"]  # fmt: skip
    lines += [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        try:
            for start in range(0, len(body), 1 << 16):
                sock.sendall(body[start : start + (1 << 16)])
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before the body was read: the answer is waiting
        try:
            first = sock.recv(64).split(b"\r\n")[0]
        except (ConnectionResetError, TimeoutError):
            return 0
    parts = first.split()
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def bulk_items_refused(answer: bytes) -> bool:
    """An Elasticsearch bulk answer whose every item failed with a 4xx (how ES refuses
    documents: 200 with `errors: true`)."""
    try:
        data = json.loads(answer)
    except ValueError:
        return False
    items = [next(iter(item.values())) for item in data.get("items", [])]
    return (
        bool(items) and data.get("errors") is True and all(400 <= i["status"] < 500 for i in items)
    )


def raw_request(port: int, head: bytes, body: bytes) -> int:
    """A hand-written request (lying Content-Length); the status, or 0 when the server just
    closed the connection (what a WSGI server may do with a body that never comes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(head + body)
        sock.shutdown(socket.SHUT_WR)
        try:
            first = sock.recv(64).split(b"\r\n")[0]
        except TimeoutError:
            return 0
    parts = first.split()
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def rss_mib(pids: list[int]) -> float:
    peak = 0.0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
        except OSError:
            continue
    return peak


def test_stream_hostile():
    from apps.streams import spool
    from apps.streams.models import SpoolBatch
    from conftest import ensure_tenant

    tenant = ensure_tenant("alpha")
    token, project = make_token("alpha", "prove-stream-hostile", "hostile")
    web = Gunicorn(workers=2, threads=2)

    def spool_state() -> tuple[int, int, list[tuple[int, int]]]:
        with tenant_context(tenant):
            batches = SpoolBatch.objects.filter(project_id=project.pk)
            payloads = list(batches.values_list("payload", flat=True))
            records = sum(len(spool.read(payload)) for payload in payloads)
            whole = [
                (b.record_count, len(spool.read(b.payload))) for b in batches.order_by("-pk")[:1]
            ]
            return batches.count(), records, whole

    outcomes: Counter[str] = Counter()
    problems: list[str] = []
    log: list[str] = []
    started = time.monotonic()
    try:
        items = cases()
        for kind, name, path, body, headers, must_refuse in items:
            before = spool_state()
            try:
                status, _, answer = post(web.port, path, body, token, timeout=120, **headers)
            except OSError as exc:
                status, answer = 0, str(exc).encode()
                if isinstance(exc, BrokenPipeError | ConnectionResetError):
                    status = send_early_answered(web.port, path, token, body, headers)
            after = spool_state()
            new_batches, new_records = after[0] - before[0], after[1] - before[1]
            verdict = f"{status}"
            if status >= 500 or status == 0:
                problems.append(f"{name}: HTTP {status} {answer[:100]!r}")
            elif must_refuse and not 400 <= status < 500:
                if path.endswith("_bulk") and status == 200 and bulk_items_refused(answer):
                    verdict = "200, every item 4xx"
                    if new_records:
                        problems.append(f"{name}: every item refused but {new_records} stored")
                else:
                    problems.append(f"{name}: accepted ({status}), must be refused")
            if 400 <= status < 500 and (new_batches or new_records):
                problems.append(
                    f"{name}: refused but {new_batches} batches, {new_records} records stored"
                )
            latest = after[2][0] if after[2] else (0, 0)  # (record_count, records written)
            partial = new_batches != 1 or new_records != latest[0] or latest[0] != latest[1]
            if 200 <= status < 300 and new_records and partial:
                problems.append(
                    f"{name}: accepted but stored {new_batches} batches / {new_records} records"
                )
            if 200 <= status < 300:
                verdict += f" ({new_records} stored)"
            outcomes[f"{kind}: {status}"] += 1
            log.append(f"{kind:10} {name:50} {len(body):>12,} B → {verdict} {answer[:80]!r}")
        # a lying Content-Length: says more than comes, then says less
        head = (
            f"POST /ingest/http HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/x-ndjson\r\nContent-Length: {n}\r\nConnection: close\r\n\r\n"
        )
        before = spool_state()
        short = raw_request(web.port, head.replace("{n}", "100000").encode(), b'{"msg":"short"}\n')
        long_ = raw_request(
            web.port, head.replace("{n}", "5").encode(), b'{"msg":"longer than said"}\n'
        )
        after = spool_state()
        log.append(f"content-length says 100000, sends 16 → {short}; says 5, sends 26 → {long_}")
        if short >= 500 or long_ >= 500:
            problems.append(f"lying Content-Length: HTTP {short} / {long_}")
        if 200 <= short < 300 or after[0] != before[0]:
            # a body cut short is a dropped connection: storing it, then the shipper's retry of
            # the whole body, would store its first records twice
            problems.append(f"a body shorter than its Content-Length was taken ({short})")
        if after[1] - before[1] and after[2][0][0] != after[2][0][1]:
            problems.append("lying Content-Length: a batch stored in part")
        healthy = web._healthy()
        if not healthy:
            problems.append("the server is not healthy afterwards")
        peak = rss_mib(web.workers())
    finally:
        web.stop()
    elapsed = time.monotonic() - started
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "stream-hostile.log").write_text("\n".join(log) + "\n")
    for line in log:
        print("  " + line)
    families = Counter(kind for kind, *_ in items)
    write_result(
        "stream_hostile",
        what="hostile payloads to every stream receiver under gunicorn (bombs, deep JSON,"
        " huge labels, invalid protobuf/snappy/UTF-8, half-valid batches)",
        how_many=f"{len(items) + 2} requests in {len(families) + 1} families, {elapsed:.0f} s;"
        f" worker peak RSS {peak:.0f} MiB",
        broke="0" if not problems else f"{len(problems)}: " + "; ".join(problems[:4]),
        ok=not problems,
        outcomes=dict(outcomes),
        problems=problems,
    )
    assert not problems, problems
