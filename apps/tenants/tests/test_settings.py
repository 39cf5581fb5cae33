"""Settings come from the environment and fail loudly; production settings pass check --deploy."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]

PRODUCTION_ENV = {
    "DJANGO_DEBUG": "false",
    "SECRET_KEY": "x" * 60 + "-production-like-secret-key-for-the-deploy-check",
    "DATABASE_URL": "postgresql://aiops:pw@db.internal:5432/aiops",
    "ALLOWED_HOSTS": "aiops.example.com",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "BEHIND_TLS_PROXY": "true",
    "EMAIL_HOST": "smtp.example.com",  # without it, mail goes to the console: check --deploy says so
}


def run_manage(*args, env):
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV}
    clean.pop("DJANGO_SETTINGS_MODULE", None)
    clean.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set for Playwright tests only
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env, "DJANGO_SETTINGS_MODULE": "aiops.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_variables():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DJANGO_DEBUG", "maybe", "is not a boolean"),
        ("Q_WORKERS", "two", "is not an integer"),
        ("Q_WORKERS", "0", "must be at least 1"),
        ("MIGRATE_PROCESSES", "0", "must be at least 1"),
        ("DATABASE_URL", "mysql://x@y/z", "must be a postgresql:// URL"),
        ("SECRET_KEY", "", "SECRET_KEY is required"),
    ],
)
def test_bad_values_fail_loudly(variable, value, message):
    result = run_manage("check", env={**PRODUCTION_ENV, variable: value})
    assert result.returncode != 0
    assert message in result.stderr


def test_migrate_processes_sets_the_parallel_executor_s_pool():
    result = run_manage("diffsettings", env={**PRODUCTION_ENV, "MIGRATE_PROCESSES": "5"})
    assert result.returncode == 0, result.stderr
    assert re.search(r"^TENANT_MULTIPROCESSING_MAX_PROCESSES = 5\b", result.stdout, re.M)


def test_secret_file_variant(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("y" * 64 + "-from-a-file-secret\n")
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}
    result = run_manage("check", env={**env, "SECRET_KEY_FILE": str(secret)})
    assert result.returncode == 0, result.stderr


def test_q_cluster_bounds(settings):
    q = settings.Q_CLUSTER
    assert q["retry"] > q["timeout"]
    assert 0 < q["max_attempts"] < 10
    assert q.get("orm") == "default" or q.get("redis")


def test_docker_compose_matches_the_settings():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"web", "worker", "db", "redis"} <= set(services)
    assert services["worker"]["command"] == ["python", "manage.py", "qcluster"]
    env = services["web"]["environment"]
    assert env["DATABASE_URL"].startswith("postgresql://")
    assert env["REDIS_URL"].startswith("redis://")
    assert (ROOT / services["web"]["build"]["dockerfile"]).is_file()
    # every variable compose sets is one the settings read
    settings_source = (ROOT / "aiops" / "settings.py").read_text()
    for name in env:
        assert f'"{name}"' in settings_source, name


def test_security_headers_and_csp(client, personas):
    response = client.get("/login/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response["X-Content-Type-Options"] == "nosniff"
    body = response.content.decode()
    assert "<script>" not in body  # no inline scripts: htmx and app.js are files
    assert '"allowEval": false' in body and '"selfRequestsOnly": true' in body
