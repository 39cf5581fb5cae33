#!/usr/bin/env bash
# make bench: throughput and quality numbers, printed (nothing asserted). Needs the same set-up
# as make test; drain3 (benchmark-only) comes from requirements-bench.txt.
set -euo pipefail
export DJANGO_DEBUG="${DJANGO_DEBUG:-true}"
. "$(dirname "$0")/dev-env.sh"
python -m pip install --quiet --disable-pip-version-check -r requirements-bench.txt >&2
python manage.py migrate_schemas --shared --noinput -v 0
python manage.py migrate_schemas --noinput -v 0
python manage.py bootstrap
echo "== ingestion: logparse, rules and end-to-end ingest on 1,000,000 mixed lines"
python bench/ingest_bench.py "$@"
echo
echo "== grouping accuracy on ../shared/data/loghub (GA/PA/FGA/FTA) and speed vs drain3"
python bench/grouping_bench.py
echo; echo "== parsing: time, level and message recovered on 60+ real log formats (tests' corpus)"
python bench/formats_bench.py
echo -e "\n== detection quality on our incident corpus (real public excerpts, apps/core/tests/corpus)"
python bench/incident_bench.py
echo; echo "== workspace: server time of the incident pages"
python bench/workspace_bench.py
echo; echo "== streams: the OpenTelemetry exporter at the receivers, gunicorn + a draining worker"
python bench/stream_bench.py
echo; echo "== correlation: origin service and deploy at fault on the multi-service corpus"
python bench/correlation_bench.py
