#!/bin/sh
# docker-compose.yml `postgres-standby`: on the first start, copy the primary with
# pg_basebackup -R (standby.signal + primary_conninfo) through the slot nb_standby; then run
# PostgreSQL as a hot standby. scripts/cluster.sh does the same on loopback (deploy/cluster/pg.sh).
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until pg_isready -h "$PRIMARY_HOST" -U "$POSTGRES_USER"; do sleep 1; done
  mkdir -p "$PGDATA" && chown postgres "$PGDATA" && chmod 700 "$PGDATA"
  su-exec postgres pg_basebackup -h "$PRIMARY_HOST" -U "$POSTGRES_USER" -D "$PGDATA" -R -S nb_standby -c fast -X stream
fi
exec su-exec postgres postgres -c hot_standby=on
