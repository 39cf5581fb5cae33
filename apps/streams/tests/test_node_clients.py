"""Node shippers against the app under gunicorn: winston with winston-loki (Loki push,
protobuf + snappy) and the OpenTelemetry JS logs SDK with its OTLP/HTTP exporter (OTLP JSON,
a chunked body with no Content-Length). What each sends arrives once, with its service, level,
time and trace id.

The clients are pinned in `node/package.json` and `node/package-lock.json` and installed there
by this module's set-up (`npm ci`, once, when the lock file changed); `node_modules` is not
committed. Without Node the module is skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from .conftest import make_token, spooled

NODE_DIR = Path(__file__).parent / "node"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        shutil.which("node") is None or shutil.which("npm") is None, reason="Node.js and npm"
    ),
]


@pytest.fixture(scope="module")
def node_clients() -> Path:
    """`npm ci` in the test-only folder, unless its node_modules matches the lock file."""
    lock = NODE_DIR / "package-lock.json"
    installed = NODE_DIR / "node_modules" / ".package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        result = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_DIR, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
    return NODE_DIR


@pytest.fixture
def token():
    return make_token("alpha", "alpha-marker", "node clients")


def run_node(script: str, **env: str) -> dict:
    result = subprocess.run(
        ["node", script],
        cwd=NODE_DIR,
        env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def close_to_now(ts: datetime | None) -> bool:
    return ts is not None and abs(datetime.now(UTC) - ts) < timedelta(minutes=2)


def settle(token, mark: str, count: int) -> list:
    """The spooled records with `mark`, once `count` are there and a moment has passed in
    which nothing more arrived (a duplicate would)."""
    deadline = time.monotonic() + 20
    while len(records := spooled(token, message__contains=mark)) < count:
        assert time.monotonic() < deadline, [r.message for r in records]
        time.sleep(0.2)
    time.sleep(0.5)
    return spooled(token, message__contains=mark)


def test_winston_loki_protobuf_snappy(node_clients, gunicorn, token):
    mark, trace_id = uuid.uuid4().hex[:12], uuid.uuid4().hex
    sent = run_node(
        "winston_loki.mjs", BASE=gunicorn.url, TOKEN=token.text, MARK=mark, TRACE_ID=trace_id
    )
    assert sent == {"contentType": "application/x-protobuf", "errors": []}
    records = settle(token, mark, 3)
    got = sorted((r.service, r.level_name, r.message, r.trace_id) for r in records)
    # without a winston format, winston-loki's line is `${message} ${the rest of info as JSON}`
    # (the level, here): stored as sent, as Loki would
    assert got == sorted(
        [
            ("storefront", "ERROR", f'cart checkout failed {mark} {{"level":"error"}}', trace_id),
            ("storefront", "WARN", f'slow price lookup {mark} {{"level":"warn"}}', trace_id),
            ("storefront", "DEBUG", f'render done {mark} {{"level":"debug"}}', ""),
        ]
    )
    assert all(close_to_now(r.ts) for r in records)
    pushes = [line for line in gunicorn.requests() if "/ingest/loki/api/v1/push" in line]
    assert pushes and all(" 204 " in line for line in pushes), pushes


def test_opentelemetry_js_exporter_chunked_json(node_clients, gunicorn, token):
    mark, trace_id, span_id = uuid.uuid4().hex[:12], uuid.uuid4().hex, uuid.uuid4().hex[:16]
    sent = run_node(
        "otel_logs.mjs", BASE=gunicorn.url, TOKEN=token.text, MARK=mark,
        TRACE_ID=trace_id, SPAN_ID=span_id,
    )  # fmt: skip
    assert sent == {"exports": 1, "failed": []}
    records = settle(token, mark, 2)
    assert [(r.service, r.level_name, r.message) for r in records] == [
        ("search-api", "ERROR", f"index shard unavailable {mark}"),
        ("search-api", "INFO", f"query served {mark}"),
    ]
    assert [(r.trace_id, r.span_id) for r in records] == [(trace_id, span_id), ("", "")]
    assert all(close_to_now(r.ts) for r in records)
    assert records[0].attributes["shard.id"] == 7  # typed, as sent
    assert records[0].attributes["index.name"] == "products"
    assert records[0].attributes["otel.scope.name"] == "tests"
    # the body came chunked, without a Content-Length, and was read whole
    exports = [line for line in gunicorn.requests() if "/ingest/otlp/v1/logs" in line]
    assert len(exports) == 1 and " 200 te=chunked cl=-" in exports[0], exports
