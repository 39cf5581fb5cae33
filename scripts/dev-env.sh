#!/usr/bin/env bash
# Prepares everything `make run`, `make test` and `make bench` need, then exports the
# environment. Source it:  . scripts/dev-env.sh
#   - .venv with a Python >= 3.12 (python3.13/python3.12 on PATH, else pyenv's)
#   - pinned requirements (re-installed only when requirements*.txt change)
#   - a private PostgreSQL cluster under .pg/ unless DATABASE_URL is set
#     (initdb/pg_ctl from the machine's PostgreSQL, else the pgserver wheel's bundled binaries),
#     on a port of its own: 54329 or the next free one when it is created (AIOPS_PG_PORT
#     chooses), kept in .pg/port so each checkout on a machine has its own cluster
#   - as root on Debian/Ubuntu, missing system packages installed with apt (PostgreSQL here;
#     scripts/test.sh adds what the tests need: Chromium, poppler-utils)
set -euo pipefail

AIOPS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$AIOPS_ROOT"

say() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31mError:\033[0m %s\n' "$*" >&2; exit 1; }

# ensure_packages <command> <apt package> [<command> <package> ...]: installs, as root with
# apt, the packages whose command is missing; otherwise says what to install. Never fails.
ensure_packages() {
  local need=()
  while [ $# -ge 2 ]; do
    command -v "$1" >/dev/null 2>&1 || need+=("$2")
    shift 2
  done
  [ ${#need[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${need[*]} (apt)"
    { apt-get -o DPkg::Lock::Timeout=300 update -qq \
      && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
        --no-install-recommends "${need[@]}"; } >&2 \
      || say "apt-get could not install ${need[*]}; the tests that need them will say so"
  else
    say "missing: ${need[*]} (install them with your package manager)"
  fi
}

python_ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }

find_python() {
  local candidate
  for candidate in python3.13 python3.12 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && python_ok "$candidate"; then
      command -v "$candidate"; return 0
    fi
  done
  local root="${PYENV_ROOT:-$HOME/.pyenv}"
  command -v pyenv >/dev/null 2>&1 && root="$(pyenv root)"
  for candidate in $(ls -d "$root"/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -rV); do
    if python_ok "$candidate"; then echo "$candidate"; return 0; fi
  done
  return 1
}

# --- virtualenv and requirements ---------------------------------------------------------------
if [ ! -x .venv/bin/python ] || ! python_ok .venv/bin/python; then
  PY="$(find_python)" || die "Python 3.12 or newer is required: install python3.12 (or pyenv install 3.12) and run again."
  say "creating .venv with $PY"
  rm -rf .venv
  "$PY" -m venv .venv
fi
REQ_HASH="$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)"
if [ "$(cat .venv/.requirements.sha 2>/dev/null || true)" != "$REQ_HASH" ]; then
  say "installing pinned requirements"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt >&2
  echo "$REQ_HASH" > .venv/.requirements.sha
fi
export PATH="$AIOPS_ROOT/.venv/bin:$PATH"

# --- PostgreSQL ------------------------------------------------------------------------------------
find_pg_bin() {
  if [ -n "${AIOPS_PG_BIN:-}" ]; then echo "$AIOPS_PG_BIN"; return 0; fi
  [ -n "${AIOPS_USE_PGSERVER:-}" ] && { pgserver_bin; return $?; }
  if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v pg_ctl)")"; return 0
  fi
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin /usr/local/pgsql/bin /opt/homebrew/opt/postgresql*/bin 2>/dev/null | sort -rV); do
    if [ -x "$dir/pg_ctl" ] && [ -x "$dir/initdb" ]; then echo "$dir"; return 0; fi
  done
  pgserver_bin
}

# No system PostgreSQL: the pgserver wheel bundles the server binaries (Python 3.12 wheels).
pgserver_bin() {
  local dir
  if ! .venv/bin/python -c 'import pgserver' >/dev/null 2>&1; then
    say "no PostgreSQL binaries found; installing the pgserver wheel (bundled PostgreSQL)"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check pgserver >&2 || return 1
  fi
  dir="$(.venv/bin/python -c 'import pgserver, pathlib; print(pathlib.Path(pgserver.__file__).parent / "pginstall" / "bin")')"
  [ -x "$dir/pg_ctl" ] && echo "$dir" && return 0
  return 1
}

# The port of a new cluster: AIOPS_PG_PORT, else 54329 or the next one nobody listens on.
port_free() {
  .venv/bin/python - "$1" <<'PYEOF' 2>/dev/null
import socket, sys
with socket.socket() as sock:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", int(sys.argv[1])))
PYEOF
}

pick_pg_port() {
  local port
  if [ -n "${AIOPS_PG_PORT:-}" ]; then echo "$AIOPS_PG_PORT"; return 0; fi
  for port in $(seq 54329 54428); do
    if port_free "$port"; then echo "$port"; return 0; fi
  done
  return 1
}

# Who listens on a TCP port (for the message when our cluster cannot have it).
port_holder() {
  local pid
  pid="$( (ss -Hltnp "sport = :$1" 2>/dev/null || true) | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)"
  [ -z "$pid" ] && command -v lsof >/dev/null 2>&1 \
    && pid="$(lsof -nP -t -iTCP:"$1" -sTCP:LISTEN 2>/dev/null | head -1)"
  if [ -n "$pid" ]; then
    echo "process $pid ($(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null | cut -c1-160 || ps -o args= -p "$pid"))"
  else
    echo "another process (run 'ss -ltnp' as root to see which)"
  fi
}

if [ -z "${DATABASE_URL:-}" ] && [ -z "${AIOPS_NO_DB:-}" ]; then  # AIOPS_NO_DB: lint, test-core
  ensure_packages initdb postgresql  # only when PostgreSQL's tools are nowhere on PATH
  PGBIN="$(find_pg_bin)" || die "PostgreSQL was not found: install it (e.g. 'apt-get install postgresql') or set DATABASE_URL to a PostgreSQL database."
  PGDIR="${AIOPS_PG_DIR:-$AIOPS_ROOT/.pg}"
  AS_PG=()
  if [ "$(id -u)" = "0" ]; then
    # PostgreSQL refuses to run as root: run the cluster as the postgres user.
    id -u postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    mkdir -p "$PGDIR"
    if ! runuser -u postgres -- test -w "$PGDIR" 2>/dev/null; then
      chown -R postgres "$PGDIR"
    fi
    if ! runuser -u postgres -- test -w "$PGDIR" 2>/dev/null; then
      # The checkout is not reachable by the postgres user (e.g. under /root): keep the cluster
      # in a per-checkout directory it can reach.
      PGDIR="/var/tmp/aiops-pg-$(echo "$AIOPS_ROOT" | sha256sum | cut -c1-12)"
      mkdir -p "$PGDIR" && chown -R postgres "$PGDIR"
    fi
    AS_PG=(runuser -u postgres --)
  fi
  mkdir -p "$PGDIR"
  if [ -f "$PGDIR/data/PG_VERSION" ]; then
    # An existing cluster keeps its port (one made before .pg/port existed has 54329).
    PGPORT_PRIVATE="$(cat "$PGDIR/port" 2>/dev/null || echo 54329)"
  else
    PGPORT_PRIVATE="$(pick_pg_port)" || die "no free port in 54329-54428 for PostgreSQL: set AIOPS_PG_PORT"
    say "initialising a private PostgreSQL cluster in $PGDIR (port $PGPORT_PRIVATE)"
    "${AS_PG[@]}" "$PGBIN/initdb" -D "$PGDIR/data" -U postgres --auth=trust -E UTF8 --locale=C >"$PGDIR/initdb.log" 2>&1 \
      || die "initdb failed; see $PGDIR/initdb.log"
    cat >>"$PGDIR/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PGPORT_PRIVATE
unix_socket_directories = '$PGDIR'
max_connections = 200
shared_buffers = 256MB
CONF
    echo "$PGPORT_PRIVATE" | "${AS_PG[@]}" tee "$PGDIR/port" >/dev/null
  fi
  if ! grep -q '^# aiops: bulk ingest' "$PGDIR/data/postgresql.conf" 2>/dev/null; then
    # Bulk ingest: a 1M-line upload writes ~0.8 GB of WAL; with the 1 GB default a checkpoint
    # lands mid-COPY and every index page is logged whole again after it (~10% of the COPY).
    "${AS_PG[@]}" tee -a "$PGDIR/data/postgresql.conf" >/dev/null <<CONF
# aiops: bulk ingest (later lines win over initdb's)
max_wal_size = 4GB
checkpoint_timeout = 15min
CONF
    "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" reload >/dev/null 2>&1 || true
  fi
  if ! "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" status >/dev/null 2>&1; then
    port_free "$PGPORT_PRIVATE" || die "port $PGPORT_PRIVATE of the PostgreSQL cluster in $PGDIR is taken by $(port_holder "$PGPORT_PRIVATE"). Stop it, or move this cluster: set 'port = N' in $PGDIR/data/postgresql.conf and write N to $PGDIR/port."
    say "starting PostgreSQL on 127.0.0.1:$PGPORT_PRIVATE"
    "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 60 start >/dev/null \
      || die "PostgreSQL did not start; see $PGDIR/server.log"
  fi
  export AIOPS_PG_BIN="$PGBIN" AIOPS_PG_DATA="$PGDIR/data"
  export DATABASE_URL="postgresql://postgres@127.0.0.1:$PGPORT_PRIVATE/aiops"
  .venv/bin/python - <<PYEOF
import psycopg
with psycopg.connect("postgresql://postgres@127.0.0.1:$PGPORT_PRIVATE/postgres", autocommit=True) as conn:
    if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'aiops'").fetchone():
        conn.execute("CREATE DATABASE aiops")
PYEOF
fi
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-aiops.settings}"
