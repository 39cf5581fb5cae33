#!/usr/bin/env bash
# make test: the same set-up as make run, then the whole suite against the private cluster.
set -euo pipefail
. "$(dirname "$0")/dev-env.sh"
export DJANGO_SETTINGS_MODULE=aiops.settings_test
python -m pytest "$@"
