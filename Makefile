.PHONY: run test test-fast lint format audit
run:  ## install, migrate, seed demo data, serve on http://127.0.0.1:8000 with the worker
	scripts/run.sh
test:  ## the whole suite (ruff, migrations check, pytest on PostgreSQL + Redis)
	scripts/test.sh
lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
format:
	.venv/bin/ruff check --fix . && .venv/bin/ruff format .
audit:
	.venv/bin/python manage.py audit_ledger
