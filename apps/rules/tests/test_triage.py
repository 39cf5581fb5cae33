"""`triage` on the sample bundles and on healthy logs: the right cause, its first line, no noise."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from apps.rules.triage import to_json, triage

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "samples"
LOGHUB = ROOT.parent / "shared" / "data" / "loghub"
BUNDLES = sorted(p for p in SAMPLES.iterdir() if p.is_dir() and (p / "README.md").exists())


def expected(bundle: Path) -> tuple[str, str, int]:
    readme = (bundle / "README.md").read_text()
    category = re.search(r"Root-cause category: `([a-z0-9-]+)`", readme).group(1)
    path, line = re.search(r"First evidence: `([^`:]+):(\d+)`", readme).groups()
    return category, path, int(line)


@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda p: p.name)
def test_sample_root_cause_and_first_line(bundle):
    category, path, line = expected(bundle)
    doc = to_json(triage([SAMPLES / f"{bundle.name}.zip"], analyze=True))
    rc = doc["root_cause"]
    assert rc is not None
    assert rc["category"] == category
    first = rc["evidence"][0]
    assert first["file"].endswith(path)
    assert first["line"] == line == rc["lines"][0]
    # every finding cites lines, and the local analysis cites evidence too
    assert all(f["lines"] for f in doc["findings"])
    assert doc["analysis"]["status"] in {"ok", "insufficient_evidence"}
    assert any(c["evidence"] for c in doc["analysis"]["claims"])


@pytest.mark.skipif(not LOGHUB.exists(), reason="shared loghub data not present")
@pytest.mark.parametrize("system", ["HDFS", "Apache", "OpenSSH", "Zookeeper"])
def test_healthy_logs_raise_nothing_above_warning(system):
    doc = to_json(triage([LOGHUB / system / f"{system}_2k.log"], analyze=False))
    loud = [f for f in doc["findings"] if f["severity"] in ("error", "critical")]
    assert loud == []
    assert doc["root_cause"] is None


def test_cli_runs_without_a_database(tmp_path):
    log = tmp_path / "app.log"
    log.write_text(
        "2024-01-15 14:02:11,123 INFO api: started\n"
        "2024-01-15 14:02:12,001 ERROR api: write failed: No space left on device\n"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "SECRET_KEY")
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "triage", str(log), "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["findings"][0]["category"] == "disk-full"
    assert doc["findings"][0]["lines"] == [2]
    assert doc["root_cause"]["category"] == "disk-full"
    assert doc["root_cause"]["lines"][0] == 2
    assert set(doc["findings"][0]) >= {"rule", "category", "severity", "lines"}


def test_logparse_cli_jsonl_contract(tmp_path):
    log = tmp_path / "app.log"
    log.write_text(
        "2024-01-15 14:02:11,123 ERROR api: boom 1\n"
        "Traceback (most recent call last):\n"
        '  File "a.py", line 1, in <module>\n'
        "ValueError: bad\n"
        "2024-01-15 14:02:12,123 ERROR api: boom 2\n"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "SECRET_KEY")
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "logparse", str(log), "--jsonl", "--stats"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(e["line"], e["end_line"]) for e in events] == [(1, 4), (5, 5)]
    for key in ("ts", "level", "service", "message", "template", "template_id", "group"):
        assert key in events[0]
    assert events[0]["level"] == "ERROR"
    assert events[0]["ts"].startswith("2024-01-15T14:02:11.123")
    assert "lines/s" in result.stderr


def test_file_only_commands_ignore_server_settings(tmp_path):
    """A shell set up for the server (DATABASE_URL, production settings, no SECRET_KEY, the
    database unreachable) still runs `logparse` and `triage` on files."""
    log = tmp_path / "app.log"
    log.write_text("2024-01-15T14:02:11Z ERROR api: write failed: No space left on device\n")
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DJANGO_DEBUG")}
    env |= {
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none",
        "DJANGO_SETTINGS_MODULE": "aiops.settings",
    }
    for command in (["logparse", str(log), "--stats"], ["triage", str(log), "--json"]):
        result = subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, (command, result.stderr[-2000:])
