"""What the prove scripts share: running themselves under pytest, results, digests.

Each script (faults, hostile, xss) is a pytest module run by `python prove/<name>.py`:
pytest-django gives it a test database (`AIOPS_TEST_DB`, default `test_prove_full`), the root
conftest gives it tenants, personas, a live server and Chromium. `make test` never collects
these files (its testpaths are `apps` and `tests`). Each writes one results row as JSON under
prove/out/results/, which `prove/report.py` turns into the table in docs/prove.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "prove" / "out"
RESULTS = OUT / "results"


def run_module(path: str, name: str) -> int:
    """Run one prove module under pytest and print its results row."""
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "aiops.settings_test"  # dev-env.sh sets aiops.settings
    os.environ.setdefault("AIOPS_TEST_DB", "test_prove_full")
    # The fake OpenAI-compatible server listens on 127.0.0.1; the egress policy refuses it unless
    # the operator allows it (workers inherit this). prove/ssrf.py sets its own, narrower list.
    os.environ.setdefault("LLM_EGRESS_ALLOW", "127.0.0.1")
    import pytest

    (RESULTS / f"{name}.json").unlink(missing_ok=True)
    # --create-db: a reused test database would miss new tenant-schema migrations
    code = pytest.main([path, "-q", "-s", "-p", "no:cacheprovider", "--create-db", *sys.argv[1:]])
    row = read_result(name)
    if row is None:
        print(f"prove {name}: no results written (pytest exit {code})")
        return code or 1
    print(format_row(row))
    return int(code)


def db_retry(fn, *, attempts: int = 60):
    """Run a query from the prove process, riding out a PostgreSQL restart (0.5 s apart)."""
    from django.db import InterfaceError, OperationalError, connection

    for attempt in range(attempts):
        try:
            return fn()
        except (OperationalError, InterfaceError):
            if attempt == attempts - 1:
                raise
            connection.close()
            time.sleep(0.5)
    return None


def pg_ctl_restart(pg_bin: str, pg_data: str, mode: str) -> float:
    """`pg_ctl restart -m mode` of the cluster in `pg_data` (as postgres when run as root);
    the seconds it took. Callers decide which cluster they may restart."""
    import subprocess

    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    logfile = str(Path(pg_data).parent / "server.log")
    started = time.monotonic()
    argv = [*as_pg, f"{pg_bin}/pg_ctl", "-D", pg_data, "-l", logfile, "-w", "-t", "60"]
    subprocess.run(
        [*argv, "restart", "-m", mode],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.monotonic() - started


def write_result(name: str, *, what: str, how_many: str, broke: str, ok: bool, **detail) -> dict:
    RESULTS.mkdir(parents=True, exist_ok=True)
    row = {
        "name": name,
        "what": what,
        "how_many": how_many,
        "broke": broke,
        "ok": ok,
        "when": time.strftime("%Y-%m-%d %H:%M", time.gmtime()) + " UTC",
        "detail": detail,
    }
    (RESULTS / f"{name}.json").write_text(json.dumps(row, indent=2, default=str))
    return row


def read_result(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def format_row(row: dict) -> str:
    verdict = "PASS" if row["ok"] else "FAIL"
    return f"[{verdict}] {row['what']} | {row['how_many']} | broke: {row['broke']}"


class LineDigest:
    """A running digest over (line number, sha256 of the line's text), in line order."""

    def __init__(self) -> None:
        self._outer = hashlib.sha256()
        self.lines = 0
        self.last = 0

    def add(self, number: int, text: str) -> None:
        if number <= self.last:
            raise ValueError(f"line {number} after {self.last}: duplicated or out of order")
        inner = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        self._outer.update(f"{number}:{inner}\n".encode())
        self.lines += 1
        self.last = number

    def hexdigest(self) -> str:
        return self._outer.hexdigest()


def file_line_digest(path: Path) -> LineDigest:
    """The digest of a file's physical lines as the decoder numbers them."""
    from apps.core.logparse.decode import iter_lines

    digest = LineDigest()
    with path.open("rb") as handle:
        for line in iter_lines(handle):
            digest.add(line.number, line.text)
    return digest


def source_line_digest(source) -> tuple[LineDigest, int]:
    """The same digest rebuilt from a source's stored events, and the number of events.

    Streams with a server-side cursor: a source may hold millions of events.
    """
    digest = LineDigest()
    events = 0
    rows = source.events.order_by("line").values_list("line", "end_line", "raw")
    for line, end_line, raw in rows.iterator(chunk_size=20_000):
        parts = raw.split("\n")
        if len(parts) != end_line - line + 1:
            raise ValueError(f"event at line {line}: {len(parts)} lines for {line}..{end_line}")
        for offset, text in enumerate(parts):
            digest.add(line + offset, text)
        events += 1
    return digest, events
