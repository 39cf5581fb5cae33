"""`triage` on the sample bundles and on healthy logs: the right cause, its first line, no noise."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from apps.core.correlate.deploys import parse_deploys
from apps.core.triage import to_json, triage

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
    if system == "OpenSSH":  # a server under brute force: named, at low confidence
        assert doc["root_cause"]["category"] == "auth-failures"
        assert doc["root_cause"]["confidence"] < 0.5
    else:
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


# The window opens at the first real symptom (README: first evidence and its time), and the
# analysis names what changed just before it, citing the line.
SAMPLE_ONSETS = {
    "checkout-db-connections": ("2024-03-14T10:01:03", "postgresql.log", "application_name="),
    "tls-cert-expired": ("2024-03-14T12:00:00", "orders-service.jsonl", "is after"),
    "worker-oom-crashloop": ("2024-03-14T11:20:41", "gunicorn.log", "POST /v1/score/batch"),
    "pricing-deploy-panic": ("2024-03-14T14:02:31", "pricing.log", "v2.14.0 (commit 41fa09b)"),
    "inventory-db-disk-full": (
        "2024-03-14T08:51:07",
        "postgresql.log",
        "temporary file: path",
    ),
}


@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda p: p.name)
def test_sample_window_and_trigger(bundle):
    from datetime import datetime, timedelta

    onset, trigger_file, trigger_text = SAMPLE_ONSETS[bundle.name]
    doc = to_json(triage([SAMPLES / f"{bundle.name}.zip"], analyze=True))
    rc = doc["root_cause"]
    window = next(w for w in doc["incidents"] if rc["category"] in w["categories"])
    start = datetime.fromisoformat(window["start"]).replace(tzinfo=None)
    assert abs(start - datetime.fromisoformat(onset)) <= timedelta(minutes=1)
    trigger = rc["trigger"]
    assert trigger is not None
    first = trigger["lines"][0]
    assert first["file"].endswith(trigger_file) and trigger_text in first["text"]
    summary = doc["analysis"]["summary"]
    assert "Likely trigger:" in summary
    # no "new message pattern" for the traffic that was there from the first line
    assert not [
        f for f in doc["findings"] if f["rule"] == "detect.new-template" and " 200 " in f["title"]
    ]


HEALTHY_WITH_RESTARTS = (
    """\
2024-03-14 09:00:00 INFO Starting worker v1.2.3
2024-03-14 09:00:01 INFO Listening on :8080
"""
    + "".join(
        f"2024-03-14 09:{m:02d}:{s:02d} INFO GET /item/{m * 60 + s} 200\n"
        for m in range(1, 30)
        for s in range(0, 60, 7)
    )
    + """\
2024-03-14 09:30:00 INFO Reloading configuration
2024-03-14 09:30:01 INFO Restarting worker
2024-03-14 09:30:02 INFO Starting worker v1.2.4
"""
    + "".join(f"2024-03-14 09:31:{s:02d} INFO GET /item/{s} 200\n" for s in range(0, 60, 3))
)


def test_healthy_restarts_are_not_claimed_as_a_trigger(tmp_path):
    log = tmp_path / "app.log"
    log.write_text(HEALTHY_WITH_RESTARTS)
    report = triage([log], analyze=True)
    doc = to_json(report)
    assert doc["root_cause"] is None and report.trigger is None
    assert "trigger" not in json.dumps(doc["analysis"] or {}).lower()


# --- correlation across services and deploys (issue 20) -----------------------------------


def _two_services(tmp_path: Path) -> tuple[list[Path], Path]:
    """A database that starts refusing, an API (in a directory named for it) that follows."""
    (tmp_path / "orders-api").mkdir()
    db, api = tmp_path / "postgres.log", tmp_path / "orders-api" / "app.log"
    db_lines, api_lines = [], []
    for i in range(60):
        t = f"2024-05-01 10:{i // 6:02d}:{(i % 6) * 10:02d}"
        db_lines.append(f"{t}.000 UTC [42] app@shop LOG:  duration: 1.2 ms  statement: SELECT 1")
        api_lines.append(f"{t},500 INFO handled GET /api/orders in 12ms")
    for i in range(30):
        t = f"2024-05-01 10:10:{i * 2:02d}"
        db_lines.append(f"{t}.100 UTC [43] app@shop FATAL:  sorry, too many clients already")
        api_lines.append(f"{t},900 ERROR could not connect to postgres: too many clients")
    db.write_text("\n".join(db_lines) + "\n")
    api.write_text("\n".join(api_lines) + "\n")
    deploys = tmp_path / "deploys.jsonl"
    deploys.write_text(
        '{"service": "orders-api", "version": "v7", "ts": "2024-05-01T09:00:00Z"}\n'
        '{"service": "postgres", "version": "16.3", "started_at": "2024-05-01T10:09:30Z",'
        ' "environment": "prod", "commit": "abc123", "url": "https://ci.example/1"}\n'
        '{"service": "orders-api", "version": "v6", "ts": "2024-05-01T10:20:00Z"}\n'
    )
    return [db, api], deploys


def test_triage_names_the_origin_service_and_the_order(tmp_path):
    paths, _ = _two_services(tmp_path)
    doc = to_json(triage(paths, analyze=False))
    assert doc["root_cause"]["service"] == "postgres"
    assert [(s["name"], s["role"]) for s in doc["services"]] == [
        ("postgres", "origin"),
        ("orders-api", "affected"),  # from its directory: app.log says nothing
    ]
    first = doc["services"][0]
    assert first["first_error_line"] == 61
    assert first["onset"].startswith("2024-05-01T10:10:00.1")
    assert doc["correlation"]["confidence"] == "medium"  # 0.8 s apart: the blame alone
    assert "deploys" not in doc  # only with --deploys


def test_triage_cli_deploys_contract(tmp_path):
    paths, deploys = _two_services(tmp_path)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "SECRET_KEY")
    }
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "triage",
            *map(str, paths),
            "--deploys",
            str(deploys),
            "--json",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["root_cause"]["service"] == "postgres"
    for service in doc["services"]:
        assert set(service) >= {"name", "first_error_line", "onset", "role"}
        assert service["role"] in ("origin", "affected")
    assert [(d["service"], d["version"], d["suspect"]) for d in doc["deploys"]] == [
        ("orders-api", "v7", False),
        ("postgres", "16.3", True),
        ("orders-api", "v6", False),  # after the onset
    ]
    assert doc["deploys"][1]["ts"] == "2024-05-01T10:09:30+00:00"
    assert set(doc["deploys"][0]) >= {"service", "version", "ts", "suspect"}


def test_triage_cli_rejects_a_missing_deploys_file(tmp_path):
    paths, _ = _two_services(tmp_path)
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "triage", str(paths[0]), "--deploys", str(tmp_path / "no")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "--deploys" in result.stderr


MULTI = [b for b in BUNDLES if "Origin service:" in (b / "README.md").read_text()]


@pytest.mark.parametrize("bundle", MULTI, ids=lambda p: p.name)
def test_multi_service_sample_origin_and_deploy(bundle):
    readme = (bundle / "README.md").read_text()
    origin = re.search(r"Origin service: `([^`]+)`", readme).group(1)
    fault = re.search(r"Deploy at fault: `?([^`\n]+)`?", readme).group(1)
    deploys_path = SAMPLES / f"{bundle.name}.deploys.jsonl"
    deploys = parse_deploys(deploys_path.read_text())[0] if deploys_path.exists() else []
    doc = to_json(triage([SAMPLES / f"{bundle.name}.zip"], analyze=False, deploys=deploys))
    assert doc["root_cause"]["service"] == origin
    assert doc["services"][0] == {**doc["services"][0], "name": origin, "role": "origin"}
    suspects = [f"{d['service']} {d['version']}" for d in doc["deploys"] if d["suspect"]]
    assert suspects == ([] if fault == "none" else [fault])


def test_there_are_two_multi_service_samples():
    assert len(MULTI) >= 2
