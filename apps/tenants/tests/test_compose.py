"""docker-compose.yml, docker/Dockerfile, .env.example and .dockerignore, checked without a
container engine (there is none on our machines): the compose file is parsed and its values
are run through the real settings (`check --deploy`), the Dockerfile's collectstatic step runs
as written, and the worker's health check runs against a real cluster on a real Redis.
The web side (gunicorn, DEBUG off, static files, its health check) is test_production.py.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from apps.tenants.tests.processes import running

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
APP_SERVICES = ("migrate", "web", "worker")
SETTINGS_SOURCE = (ROOT / "aiops" / "settings.py").read_text()
SETTINGS_VARIABLES = set(re.findall(r'env(?:bool|int|list)?\("([A-Z0-9_]+)"', SETTINGS_SOURCE))
# Settings variables compose leaves to their defaults, each for a reason.
NOT_IN_COMPOSE = {
    "DJANGO_DEBUG": "off by default, and off is production",
    "STATIC_ROOT": "set in the Dockerfile, where collectstatic runs",
    "DB_CONN_MAX_AGE": "tuning",
    "MIGRATE_PROCESSES": "tuning",
    "Q_TIMEOUT": "tuning",
    "Q_MAX_ATTEMPTS": "tuning",
    "MAX_REQUEST_MB": "ingest bound",
    "MAX_PASTE_MB": "ingest bound",
    "EMAIL_TIMEOUT": "tuning",
}
# ingest, stream and alert delivery bounds and timings: tuning, documented in docs/configuration.md
INGEST_BOUND = re.compile(r"^(INGEST|STREAM|ALERTS)_(?!EGRESS_ALLOW)")
VARIABLE = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def interpolate(value: str, dotenv: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error}, from a .env's values."""

    def one(match: re.Match) -> str:
        name, op, arg = match.groups()
        current = dotenv.get(name, "")
        if op and op.endswith("?") and not current:
            raise KeyError(f"{name}: {arg}")
        return current or (arg if op and op.endswith("-") else "")

    return VARIABLE.sub(one, value)


def dotenv_example(*uncomment: str) -> dict[str, str]:
    """.env.example's assignments; also the commented ones of the sections whose heading
    contains one of `uncomment`."""
    values, section = {}, ""
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.startswith("# ---"):
            section = line
            continue
        if any(word in section for word in uncomment):
            line = line.removeprefix("# ")
        if match := re.match(r"^([A-Z0-9_]+)=(.*)$", line):
            values[match[1]] = match[2]
    return values


def service_env(service: str, dotenv: dict[str, str]) -> dict[str, str]:
    return {k: interpolate(str(v), dotenv) for k, v in SERVICES[service]["environment"].items()}


def documented_variables() -> set[str]:
    return set(re.findall(r"^(?:# )?([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))


def run_manage(*args, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=180,
    )


# ----------------------------------------------------------------------------- compose file


def test_every_service_runs_what_it_should():
    assert set(SERVICES) == {"migrate", "web", "worker", "db", "redis"}
    migrate = " ".join(SERVICES["migrate"]["command"].split())
    assert "migrate_schemas --shared --noinput && python manage.py migrate_schemas" in migrate
    assert migrate.rstrip('"').endswith("python manage.py bootstrap --admin"), migrate
    assert "command" not in SERVICES["web"]  # the image's CMD: gunicorn aiops.wsgi
    assert SERVICES["worker"]["command"] == ["python", "manage.py", "qcluster"]
    db = SERVICES["db"]["command"]
    assert db[0] == "postgres"
    options = dict(option.split("=", 1) for option in db[2::2])
    assert db[1::2] == ["-c"] * len(options)
    # the same as the private cluster of scripts/dev-env.sh
    dev_env = (ROOT / "scripts" / "dev-env.sh").read_text()
    for name, value in options.items():
        assert re.search(rf"^{name} = {re.escape(value)}$", dev_env, re.M), (name, value)
    assert set(options) >= {
        "max_wal_size",
        "checkpoint_timeout",
        "shared_buffers",
        "max_connections",
    }
    assert SERVICES["redis"]["command"] == ["redis-server", "--appendonly", "yes"]
    for service in APP_SERVICES:
        assert (ROOT / SERVICES[service]["build"]["dockerfile"]).is_file()


def test_restart_policies_health_checks_and_dependencies():
    for name, service in SERVICES.items():
        expected = "no" if name == "migrate" else "unless-stopped"
        assert service["restart"] == expected, name
        if name != "migrate":
            check = service["healthcheck"]
            assert check["test"][0] == "CMD" and check["interval"] and check["retries"], name
    web_check = SERVICES["web"]["healthcheck"]["test"][-1]
    assert "http://127.0.0.1:8000/healthz" in web_check
    assert "Stat.get_all()" in SERVICES["worker"]["healthcheck"]["test"][-1]
    assert SERVICES["db"]["healthcheck"]["test"][1] == "pg_isready"
    assert SERVICES["redis"]["healthcheck"]["test"][1:] == ["redis-cli", "ping"]

    assert SERVICES["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    for name in ("web", "worker"):
        assert SERVICES[name]["depends_on"] == {
            "db": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }, name
    # the worker's shutdown (within 10 s of SIGTERM, test_qcluster.py) fits its grace period
    assert SERVICES["worker"]["stop_grace_period"] == "15s"


def test_volumes_keep_every_piece_of_state():
    assert SERVICES["db"]["volumes"] == ["pgdata:/var/lib/postgresql/data"]
    assert SERVICES["redis"]["volumes"] == ["redisdata:/data"]  # appendonly file survives
    for name in APP_SERVICES:
        assert SERVICES[name]["volumes"] == ["media:/data/media"]
        assert SERVICES[name]["environment"]["MEDIA_ROOT"] == "/data/media"
    assert set(COMPOSE["volumes"]) == {"media", "pgdata", "redisdata"}


def test_environment_matches_the_settings_and_env_example():
    web = SERVICES["web"]["environment"]
    assert web == SERVICES["worker"]["environment"]
    # every variable compose passes is read by the settings (or by bootstrap --admin)
    bootstrap = (ROOT / "apps/workspace/management/commands/bootstrap.py").read_text()
    for name in SERVICES["migrate"]["environment"]:
        assert name in SETTINGS_VARIABLES or f'"{name}"' in bootstrap, name
    # every settings variable is passed by compose, or left to its default on purpose
    for name in SETTINGS_VARIABLES - set(web):
        assert name in NOT_IN_COMPOSE or INGEST_BOUND.match(name), f"{name}: pass it or say why"
    # the admin's password reaches the one-shot migrate step only
    assert {"ADMIN_USERNAME", "ADMIN_EMAIL", "ADMIN_PASSWORD"} <= set(
        SERVICES["migrate"]["environment"]
    )
    assert not {"ADMIN_PASSWORD", "ADMIN_PASSWORD_FILE"} & set(web)
    # every variable compose reads from .env is documented in .env.example
    used = set(VARIABLE.findall((ROOT / "docker-compose.yml").read_text()))
    assert {name for name, _, _ in used} <= documented_variables()


def test_defaults_answer_on_localhost_and_127_0_0_1():
    env = service_env("web", {"SECRET_KEY": "s"})
    assert env["ALLOWED_HOSTS"].split(",") == ["localhost", "127.0.0.1", "[::1]"]
    assert set(env["CSRF_TRUSTED_ORIGINS"].split(",")) == {
        "http://localhost:8000",
        "http://127.0.0.1:8000",
    }
    assert env["DATABASE_URL"] == "postgresql://aiops:aiops@db:5432/aiops"
    with pytest.raises(KeyError, match="SECRET_KEY"):
        service_env("web", {})  # compose refuses to start without one


def test_check_deploy_with_the_compose_values():
    """Plain HTTP on localhost (the defaults): only the TLS warnings and the console mail
    backend (invitations land in the log until EMAIL_HOST is set). With the TLS and e-mail
    sections of .env.example: clean."""
    dotenv = dotenv_example()
    dotenv["SECRET_KEY"] = "compose-check-" + "s" * 50
    result = run_manage("check", "--deploy", env=service_env("web", dotenv))
    issues = set(re.findall(r"\((\w+\.[EW]\d+)\)", result.stderr + result.stdout))
    # HSTS, SSL redirect, session and CSRF cookies without Secure: what TLS settings turn on
    tls_warnings = {"security.W004", "security.W008", "security.W012", "security.W016"}
    assert issues == tls_warnings | {"mail.E001"}, result.stderr

    tls = dotenv_example("TLS", "e-mail")
    tls |= {
        "SECRET_KEY": dotenv["SECRET_KEY"],
        "ALLOWED_HOSTS": "aiops.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://aiops.example.com",
    }
    assert tls["SECURE_COOKIES"] == "true" and int(tls["SECURE_HSTS_SECONDS"]) >= 31536000
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=service_env("web", tls))
    assert result.returncode == 0, result.stdout + result.stderr


# ----------------------------------------------------------------------------- image


def dockerfile() -> str:
    return (ROOT / "docker" / "Dockerfile").read_text().replace("\\\n", " ")


def test_dockerfile_installs_poppler_runs_collectstatic_and_drops_root():
    text = dockerfile()
    install = next(line for line in text.splitlines() if "apt-get install" in line)
    assert "poppler-utils" in install.split()
    assert re.search(r"useradd [^\n]*--create-home", text)
    assert re.search(r"^USER aiops$", text, re.M)
    assert re.search(r"^RUN [^\n]*manage\.py collectstatic --noinput", text, re.M)
    assert "STATIC_ROOT=/app/staticfiles" in text


def test_dockerfile_collectstatic_step_works_as_written(tmp_path):
    """The RUN line, with its own variables only (no database, no Redis at build time)."""
    line = next(
        line for line in dockerfile().splitlines() if "collectstatic" in line and "RUN" in line
    )
    words = shlex.split(line.removeprefix("RUN "))
    assignments = dict(word.split("=", 1) for word in words if re.match(r"^[A-Z_]+=", word))
    command = [word for word in words if not re.match(r"^[A-Z_]+=", word)]
    assert command[:2] == ["python", "manage.py"]
    result = run_manage(
        *command[2:],
        env={
            **assignments,
            "DJANGO_SETTINGS_MODULE": "aiops.settings",
            "STATIC_ROOT": str(tmp_path),
        },
    )
    assert result.returncode == 0, result.stderr
    manifest = (tmp_path / "staticfiles.json").read_text()
    assert re.search(r'"css/app\.css": "css/app\.[0-9a-f]{12}\.css"', manifest)
    assert list(tmp_path.glob("css/app.*.css.gz")), "no compressed copy"


def test_dockerignore_keeps_local_state_out_of_the_image():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    required = {".git", ".venv", ".pg", "media", "staticfiles", "node_modules", ".artifacts"}
    assert required | {"prove/out", "bench/out", "**/__pycache__", ".env"} <= ignored
    assert "!.env.example" in ignored


# ----------------------------------------------------------------------------- worker health


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path):
    server = shutil.which("redis-server")
    if not server:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", tmp_path],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.1)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_health_check_follows_a_real_cluster_on_redis(redis_url, tmp_path):
    from conftest import test_database_url

    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "DJANGO_SETTINGS_MODULE": "aiops.settings_test",
        "REDIS_URL": redis_url,
        "Q_WORKERS": "1",
    }
    check = SERVICES["worker"]["healthcheck"]["test"][1:]

    def healthy() -> bool:
        result = subprocess.run(check, cwd=ROOT, env=env, capture_output=True, timeout=60)
        return result.returncode == 0

    assert not healthy()  # no cluster yet
    with running(
        [sys.executable, "manage.py", "qcluster"],
        env=env,
        cwd=ROOT,
        log=tmp_path / "qcluster.log",
        ready=healthy,
        poll=0.5,
    ) as proc:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
        time.sleep(3.5)  # the status the sentinel wrote expires after 3 s
        assert not healthy()
