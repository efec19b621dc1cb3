.PHONY: run test test-fast lint typecheck format audit lock cluster cluster-stop
run:  ## install, migrate, seed demo data, serve on http://127.0.0.1:8000 with the worker
	scripts/run.sh
test:  ## the whole suite (ruff, mypy, migrations check, pytest on PostgreSQL + Redis)
	scripts/test.sh
test-fast:  ## the inner loop: the same checks, pytest without browser, multi-process, storm and bench tests
	scripts/test.sh --fast
lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
typecheck:  ## mypy alone (settings need a SECRET_KEY; any value will do)
	SECRET_KEY=$${SECRET_KEY:-typecheck-only} .venv/bin/mypy
lock:  ## requirements*.txt -> requirements*.lock (hashed, resolved against PyPI)
	scripts/lock.sh
format:
	.venv/bin/ruff check --fix . && .venv/bin/ruff format .
audit:
	.venv/bin/python manage.py audit_ledger
cluster:  ## nginx + 3 Daphne + worker, PostgreSQL primary + standby, Redis + Sentinel, on loopback (http://127.0.0.1:18080)
	scripts/cluster.sh start
cluster-stop:  ## stop everything `make cluster` started (its data stays in var/cluster)
	scripts/cluster.sh stop
