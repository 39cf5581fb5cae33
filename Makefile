# The verbs a newcomer needs. Each one sets up what it needs first (venv, deps, PostgreSQL).
.PHONY: run test lint bench css prove

run:   ## serve the app and a worker on http://127.0.0.1:8000 with demo data
	@bash scripts/run.sh

test:  ## run every test (unit, PostgreSQL, worker, browser)
	@bash scripts/test.sh $(ARGS)

lint:  ## ruff lint + format check
	@bash -c '. scripts/dev-env.sh && ruff check . && ruff format --check .'

bench: ## throughput and grouping benchmarks (prints numbers, asserts nothing)
	@bash scripts/bench.sh

PROVE ?= faults jobs_faults hostile xss xss_reports load isolation migrations bruteforce ssrf

prove: ## attack the running system (faults, outage, hostile input, XSS, load, isolation, SSRF, brute force); docs/prove.md table
	@bash -c '. scripts/dev-env.sh && rc=0; \
	  for s in $(PROVE); do python prove/$$s.py || rc=1; done; \
	  python prove/report.py || rc=1; exit $$rc'

css:   ## rebuild static/css/app.css (needs Node; the built file is committed)
	npm install --no-audit --no-fund && npm run build:css
