#!/usr/bin/env bash
# make run: set up (see dev-env.sh), migrate, load the demo, then serve the app and a worker.
set -euo pipefail
export DJANGO_DEBUG="${DJANGO_DEBUG:-true}"
. "$(dirname "$0")/dev-env.sh"
PORT="${PORT:-8000}"

python manage.py migrate_schemas --shared --noinput -v 0
python manage.py migrate_schemas --noinput -v 0
python manage.py bootstrap --demo
python manage.py load_samples --tenant demo --project checkout

python manage.py qcluster &
WORKER=$!
trap 'kill $WORKER 2>/dev/null; wait $WORKER 2>/dev/null; exit 0' INT TERM EXIT
echo
echo "  AI Ops Assistant is running:  http://127.0.0.1:$PORT/"
echo "  Sign in as demo / demo-password   (platform admin: admin / admin-password at /admin/)"
echo "  Ctrl-C stops the app and the worker (the database keeps its data in .pg/)."
echo
python manage.py runserver "127.0.0.1:$PORT"
