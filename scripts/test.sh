#!/usr/bin/env bash
# The whole test suite: lint, format, type check, migrations check, then pytest on real PostgreSQL + Redis.
# Usage: make test        (or: scripts/test.sh [pytest args...])
#        make test-fast   (or: scripts/test.sh --fast [pytest args...]): the same checks, pytest
#                         without the browser, multi-process, storm and bench tests (the inner loop)
set -euo pipefail
cd "$(dirname "$0")/.."

fast=()
if [ "${1:-}" = --fast ]; then
  shift
  fast=(-m "not browser and not multiprocess and not storm and not bench and not cluster")
fi

PG_HOST="${PG_HOST:-127.0.0.1}"; PG_PORT="${PG_PORT:-5432}"
REDIS_HOST="${REDIS_HOST:-127.0.0.1}"; REDIS_PORT="${REDIS_PORT:-6379}"

scripts/bootstrap.sh dev

reachable() { .venv/bin/python - "$1" "$2" <<'PY'
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2).close()
except OSError:
    sys.exit(1)
PY
}

# PostgreSQL and Redis are required: try to start the local ones, then fail loudly.
if ! reachable "$PG_HOST" "$PG_PORT" && command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "PostgreSQL not reachable; trying to start the local cluster" >&2
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  sleep 2
fi
if ! reachable "$REDIS_HOST" "$REDIS_PORT" && command -v redis-server >/dev/null 2>&1; then
  echo "Redis not reachable; trying to start a local one" >&2
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no || true
  sleep 1
fi
reachable "$PG_HOST" "$PG_PORT" || { echo "FAIL: PostgreSQL is required at $PG_HOST:$PG_PORT" >&2; exit 2; }
reachable "$REDIS_HOST" "$REDIS_PORT" || { echo "FAIL: Redis is required at $REDIS_HOST:$REDIS_PORT" >&2; exit 2; }

export DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@$PG_HOST:$PG_PORT/neighborbid}"
export REDIS_URL="${TEST_REDIS_URL:-redis://$REDIS_HOST:$REDIS_PORT/0}"
export SECRET_KEY="test-secret-key-not-for-production"
export DEBUG=0
export ALLOWED_HOSTS="testserver,127.0.0.1,localhost"
export NEIGHBORBID_REQUIRE_SERVICES=1
export DB_POOL_MAX_SIZE="${DB_POOL_MAX_SIZE:-40}"
export BUS_PREFIX="${BUS_PREFIX:-nbtest}"

# The database named in DATABASE_URL must exist (makemigrations --check reads its history);
# pytest itself creates and drops test_<name>.
.venv/bin/python - <<'PY'
import os
from urllib.parse import urlparse

import psycopg

url = urlparse(os.environ["DATABASE_URL"])
name = url.path.lstrip("/")
with psycopg.connect(host=url.hostname, port=url.port or 5432, user=url.username, password=url.password,
                     dbname="postgres", autocommit=True) as conn:
    if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
        conn.execute(f'CREATE DATABASE "{name}"')
PY

# One command per line: under `set -e` a failure inside an `a && b && c` list (other than the
# last command) does not stop the script, and a ruff error used to be printed and ignored.
echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy  # files and strictness: [tool.mypy] in pyproject.toml
echo "== import contracts"
.venv/bin/lint-imports --no-cache  # [tool.importlinter] in pyproject.toml: the layers between the apps
echo "== migrations"
.venv/bin/python manage.py makemigrations --check --dry-run
# The browser tests inject axe-core (pinned in package.json / package-lock.json) into the pages.
if [ ${#fast[@]} -eq 0 ] && [ ! -f node_modules/axe-core/axe.min.js ]; then
  echo "== npm ci (axe-core for the accessibility tests)"
  command -v npm >/dev/null 2>&1 || { echo "FAIL: npm is required for the browser tests (axe-core)" >&2; exit 2; }
  npm ci --ignore-scripts --no-audit --no-fund
fi
echo "== pytest"
.venv/bin/python -m pytest "${fast[@]}" "$@"
# The whole suite runs with REALTIME FANOUT = "hub" (the default); the live door's own tests
# run once more with the auction states on the Channels layer (docs/realtime.md).
if [ ${#fast[@]} -eq 0 ] && [ $# -eq 0 ]; then
  echo "== pytest, REALTIME_FANOUT=channels (the live door's tests again)"
  REALTIME_FANOUT=channels .venv/bin/python -m pytest -q tests/realtime/test_consumer.py tests/realtime/test_bid_door.py \
    tests/realtime/test_multiprocess.py tests/realtime/test_session_revocation.py tests/chat/test_multiprocess.py
fi
