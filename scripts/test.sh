#!/usr/bin/env bash
# make test: the same set-up as make run (see dev-env.sh), what the tests need besides
# (Chromium for the browser tests, pdftotext for the PDF tests, Alertmanager for the alerts-in
# test, rsyslog and logger for the syslog tests; apt when root), then the whole suite against
# the private cluster.
set -euo pipefail
. "$(dirname "$0")/dev-env.sh"
ensure_packages chromium chromium pdftotext poppler-utils redis-server redis-server \
  prometheus-alertmanager prometheus-alertmanager rsyslogd rsyslog logger bsdutils
export DJANGO_SETTINGS_MODULE=aiops.settings_test
python -m pytest "$@"
