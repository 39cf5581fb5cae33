# The verbs a newcomer needs. Each one sets up what it needs first (venv, deps, PostgreSQL).
.PHONY: run test test-core lint bench css prove

run:   ## serve the app and a worker on http://127.0.0.1:8000 with demo data
	@bash scripts/run.sh

test:  ## run every test (unit, PostgreSQL, worker, browser)
	@bash scripts/test.sh $(ARGS)

test-core:  ## the framework-free cores' tests: no database, no Django (under a minute)
	@AIOPS_NO_DB=1 bash -c '. scripts/dev-env.sh && python -m pytest -p no:django apps/core -q $(ARGS)'

lint:  ## ruff, the app ladder's import contract (.importlinter), mypy over the cores
	@AIOPS_NO_DB=1 bash -c '. scripts/dev-env.sh && ruff check . && ruff format --check . && lint-imports && mypy'

bench: ## throughput and grouping benchmarks (prints numbers, asserts nothing)
	@bash scripts/bench.sh

PROVE ?= faults jobs_faults alerts_faults stream_faults hostile stream_hostile stream_flood xss xss_reports load isolation migrations bruteforce ssrf

prove: ## attack the running system (faults, outage, hostile input, XSS, load, isolation, SSRF, brute force); docs/prove.md table
	@bash -c '. scripts/dev-env.sh && rc=0; \
	  for s in $(PROVE); do python prove/$$s.py || rc=1; done; \
	  python prove/report.py || rc=1; exit $$rc'

css:   ## rebuild static/css/app.css (needs Node; the built file is committed)
	npm install --no-audit --no-fund && npm run build:css
