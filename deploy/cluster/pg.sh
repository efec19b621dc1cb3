#!/usr/bin/env bash
# A PostgreSQL primary and a streaming standby on loopback, for `make cluster` and the standby tests
# (issue 23; docs/operations.md "Reads from a standby" and "Primary failover by hand").
#
#   deploy/cluster/pg.sh start   DIR   # initdb + pg_basebackup -R -S nb_standby the first time, then start both
#   deploy/cluster/pg.sh stop    DIR   # fast shutdown of both; nothing left running
#   deploy/cluster/pg.sh status  DIR   # up/down of each, and the standby's replay lag
#   deploy/cluster/pg.sh promote DIR   # the runbook's step 1: the standby becomes a primary
#
# Data under DIR/pg-primary and DIR/pg-standby. Ports: PG_PRIMARY_PORT (15432) and PG_STANDBY_PORT
# (15433); the tests choose others so they never meet the cluster. Trust auth on 127.0.0.1 only,
# TCP only (no Unix socket: two pairs on one machine never share a socket directory).
# Run as root, the servers run as the `postgres` OS user (initdb refuses root); DIR is made theirs.
set -euo pipefail

cmd=${1:-}
DIR=${2:-}
if [ -z "$cmd" ] || [ -z "$DIR" ]; then
  echo "usage: $0 start|stop|status|promote DIR" >&2
  exit 2
fi
PRIMARY_PORT=${PG_PRIMARY_PORT:-15432}
STANDBY_PORT=${PG_STANDBY_PORT:-15433}
DB_NAME=${PG_DATABASE:-neighborbid}
SLOT=nb_standby

BIN=${PG_BINDIR:-}
if [ -z "$BIN" ]; then
  if command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; then
    BIN=$(pg_config --bindir)
  else
    BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  fi
fi
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
  echo "pg.sh: no PostgreSQL server binaries (initdb) found; apt-get install postgresql-15" >&2
  exit 1
fi

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
PRIMARY=$DIR/pg-primary
STANDBY=$DIR/pg-standby
LOGS=$DIR/pg-logs

as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

is_up() { # DATADIR: does a live postmaster own it?
  [ -f "$1/PG_VERSION" ] && as_pg "$BIN/pg_ctl" -D "$1" status >/dev/null 2>&1
}

sql() { # PORT SQL...: one value, no decoration
  local port=$1
  shift
  "$BIN/psql" -X -q -At -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "$*"
}

start_server() { # DATADIR PORT NAME
  if is_up "$1"; then
    echo "$3: already running on :$2"
    return
  fi
  # -w: wait until it accepts connections (a standby: until it accepts read-only ones)
  as_pg "$BIN/pg_ctl" -D "$1" -l "$LOGS/$3.log" -w -t 20 -o "-p $2" start >/dev/null
  echo "$3: started on :$2"
}

init_primary() {
  echo "primary: initdb $PRIMARY"
  as_pg "$BIN/initdb" -D "$PRIMARY" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$LOGS/initdb.log"
  cat >>"$PRIMARY/postgresql.conf" <<CONF

# --- deploy/cluster/pg.sh ---
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
wal_level = replica
max_wal_senders = 5
max_replication_slots = 5
hot_standby = on
# the standby answers queries while replaying; its long reads are not cancelled by vacuum on the primary
hot_standby_feedback = on
fsync = ${PG_FSYNC:-on}
CONF
  # trust for 127.0.0.1 only, replication included (a loopback demo; production uses passwords/certs)
  cat >"$PRIMARY/pg_hba.conf" <<HBA
host all         all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
HBA
}

init_standby() {
  echo "standby: pg_basebackup from :$PRIMARY_PORT, slot $SLOT"
  if [ -z "$(sql "$PRIMARY_PORT" "SELECT 1 FROM pg_replication_slots WHERE slot_name = '$SLOT'")" ]; then
    sql "$PRIMARY_PORT" "SELECT pg_create_physical_replication_slot('$SLOT')" >/dev/null
  fi
  # -R writes standby.signal and primary_conninfo; -S streams through the slot (the primary keeps
  # the WAL the standby still needs, even while it is stopped)
  as_pg "$BIN/pg_basebackup" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -D "$STANDBY.tmp" \
    -R -S "$SLOT" -X stream -c fast >"$LOGS/basebackup.log" 2>&1
  mv "$STANDBY.tmp" "$STANDBY"
}

start() {
  mkdir -p "$LOGS"
  if [ "$(id -u)" = 0 ]; then
    chown postgres: "$DIR" "$LOGS"
    chmod 755 "$DIR"
  fi
  if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -w "$DIR"; then
    echo "pg.sh: the postgres user cannot write $DIR (a parent directory closed to others?)" >&2
    exit 1
  fi
  rm -rf "$STANDBY.tmp" # a basebackup cut short last time
  if [ ! -f "$PRIMARY/PG_VERSION" ]; then
    rm -rf "$PRIMARY"
    init_primary
  fi
  start_server "$PRIMARY" "$PRIMARY_PORT" primary
  if [ -z "$(sql "$PRIMARY_PORT" "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" ]; then
    sql "$PRIMARY_PORT" "CREATE DATABASE \"$DB_NAME\"" >/dev/null
    echo "primary: created database $DB_NAME"
  fi
  if [ ! -f "$STANDBY/PG_VERSION" ]; then
    init_standby
  fi
  start_server "$STANDBY" "$STANDBY_PORT" standby
}

stop() {
  local dir
  for dir in "$STANDBY" "$PRIMARY"; do
    if is_up "$dir"; then
      as_pg "$BIN/pg_ctl" -D "$dir" -m fast -w -t 20 stop >/dev/null
      echo "$(basename "$dir"): stopped"
    fi
  done
}

status() {
  local rc=0
  if is_up "$PRIMARY"; then
    echo "primary: up on :$PRIMARY_PORT (wal $(sql "$PRIMARY_PORT" "SELECT pg_current_wal_lsn()"))"
  else
    echo "primary: down"
    rc=1
  fi
  if is_up "$STANDBY"; then
    local row
    # lag: 0 when everything received is replayed (an idle primary writes nothing), else the age of
    # the last replayed transaction; bytes: received but not yet replayed
    row=$(sql "$STANDBY_PORT" "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn(),
      CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
           ELSE round(extract(epoch FROM now() - pg_last_xact_replay_timestamp())::numeric, 3) END,
      pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())" | tr '|' ' ')
    read -r recovering replay lag bytes <<<"$row"
    if [ "$recovering" = t ]; then
      echo "standby: up on :$STANDBY_PORT, replaying (replay $replay, lag ${lag:-?} s, ${bytes:-?} bytes behind)"
    else
      echo "standby: up on :$STANDBY_PORT, PROMOTED (a primary now: not following :$PRIMARY_PORT)"
    fi
  else
    echo "standby: down"
    rc=1
  fi
  return $rc
}

promote() {
  if ! is_up "$STANDBY"; then
    echo "pg.sh: the standby is not running (start it first)" >&2
    exit 1
  fi
  as_pg "$BIN/pg_ctl" -D "$STANDBY" -w -t 20 promote >/dev/null
  echo "standby: promoted; it accepts writes on :$STANDBY_PORT"
  echo "next: DATABASE_URL=postgres://postgres@127.0.0.1:$STANDBY_PORT/$DB_NAME, restart web + worker, manage.py audit_ledger"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  promote) promote ;;
  *)
    echo "usage: $0 start|stop|status|promote DIR" >&2
    exit 2
    ;;
esac
