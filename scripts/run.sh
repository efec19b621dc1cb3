#!/usr/bin/env bash
# Set up and serve NeighborBid on http://127.0.0.1:8000 (server + settlement loop).
# Another port: PORT=8001 make run  (or PORT=8001 scripts/run.sh).
# Without DATABASE_URL / REDIS_URL: SQLite (db.sqlite3) and the in-process event bus.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
export DEBUG="${DEBUG:-1}"
# the demo's listings come back every 10 minutes, so 우리 동네 never runs dry (auctions/worker.py)
export DEMO_TOP_UP_SECONDS="${DEMO_TOP_UP_SECONDS:-600}"
py=.venv/bin/python
# Web Push keys: generated once into var/vapid.env (gitignored), kept across runs (docs/operations.md)
if [ -z "${VAPID_PRIVATE_KEY:-}" ]; then
  mkdir -p var
  [ -s var/vapid.env ] || DEBUG=1 $py manage.py vapid_keys > var/vapid.env
  set -a; . var/vapid.env; set +a
fi
$py manage.py migrate --noinput
$py manage.py seed_demo
if [ -n "${REDIS_URL:-}" ]; then
  # With Redis the worker is its own process; its events reach the server through Redis.
  $py manage.py run_worker &
  worker=$!
  trap 'kill $worker 2>/dev/null || true' EXIT INT TERM
fi
# Without REDIS_URL the server runs the settlement loop itself (auctions/embedded.py): the
# in-process bus does not cross processes, so a separate worker's events would never reach the pages.
port="${PORT:-8000}"
echo "NeighborBid: http://127.0.0.1:$port  (admin: http://127.0.0.1:$port/admin/)"
$py -m daphne -b 127.0.0.1 -p "$port" neighborbid.asgi:application
