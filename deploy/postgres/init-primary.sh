#!/bin/sh
# docker-compose.yml `postgres`, first start only (docker-entrypoint-initdb.d): let the standby
# stream from this primary (password auth over the compose network) through the slot nb_standby.
set -eu
echo "host replication ${POSTGRES_USER} all scram-sha-256" >> "$PGDATA/pg_hba.conf"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -c "SELECT pg_create_physical_replication_slot('nb_standby')"
