#!/usr/bin/env bash
# NeighborBid past one machine, on one machine (issue 23; docs/operations.md "The loopback cluster"):
#   nginx (least_conn, WebSocket upgrade, X-Request-ID)      127.0.0.1:18080
#   3 Daphne processes + 1 worker                             127.0.0.1:18001-18003
#   PostgreSQL primary + streaming standby (slot nb_standby)  127.0.0.1:15432 / 15433
#   Redis primary + replica, 3 sentinels (service nbredis)    127.0.0.1:16379 / 16380, 26379-26381
# The app reads writes and money from the primary, read-only pages from the standby, and finds the
# Redis primary through Sentinel (REDIS_URL=redis+sentinel://...). Everything lives under DIR
# (default var/cluster): data, logs (DIR/log), pid files (DIR/run) and app.env, the environment the
# processes run with (`set -a; . var/cluster/app.env; set +a` to run manage.py against the cluster).
#
# Usage: scripts/cluster.sh start|stop|status|failover|restart-web PORT [DIR]
#        scripts/cluster.sh nginx-conf DIR LISTEN_PORT WEB_PORT...  (the same nginx config, for benches)
#        (make cluster / make cluster-stop)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

cmd=${1:-start}
if [ "$cmd" = nginx-conf ]; then  # nginx-conf DIR LISTEN_PORT WEB_PORT...: render DIR/nginx/nginx.conf
  DIR=${2:?nginx-conf DIR LISTEN_PORT WEB_PORT...}
  nginx_args=("${@:3}")
elif [ "$cmd" = restart-web ]; then
  web_port=${2:?restart-web needs a port}
  DIR=${3:-${CLUSTER_DIR:-var/cluster}}
else
  DIR=${2:-${CLUSTER_DIR:-var/cluster}}
fi
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

NGINX_PORT=18080
WEB_PORTS=(18001 18002 18003)
PG_PRIMARY_PORT=15432
PG_STANDBY_PORT=15433
REDIS_PRIMARY_PORT=16379
REDIS_REPLICA_PORT=16380
SENTINEL_PORTS=(26379 26380 26381)
REDIS_SERVICE=nbredis
RUN=$DIR/run
LOG=$DIR/log

die() { echo "cluster: $*" >&2; exit 1; }
say() { echo "cluster: $*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {  # port seconds what
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    port_open "$1" && return 0
    sleep 0.1
  done
  die "$3 did not listen on 127.0.0.1:$1 within $2 s (logs: $LOG)"
}

# A killed process can stay a zombie for a while (its parent, this script, is gone, and PID 1 may
# reap late): kill -0 succeeds on it, so a zombie counts as dead here.
pid_alive() { [ -n "$1" ] && [ -r "/proc/$1/stat" ] && ! awk '{ exit ($3 == "Z") ? 0 : 1 }' "/proc/$1/stat" 2>/dev/null; }
alive() { pid_alive "$(cat "$RUN/$1.pid" 2>/dev/null)"; }

# Start a long-running process in its own session; its pid goes to RUN/<name>.pid.
spawn() {  # name command...
  local name=$1
  shift
  if alive "$name"; then
    return 0
  fi
  setsid "$@" >>"$LOG/$name.log" 2>&1 < /dev/null &
  echo $! >"$RUN/$name.pid"
}

# Stop processes by their pid files: signal them all, then wait (at most 15 s) and kill what is left.
stop_pids() {  # signal name...
  local sig=$1 name pid pids=() i
  shift
  for name in "$@"; do
    pid=$(cat "$RUN/$name.pid" 2>/dev/null) || continue
    if pid_alive "$pid"; then
      kill -"$sig" -- "-$pid" 2>/dev/null || kill -"$sig" "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
    rm -f "$RUN/$name.pid"
  done
  for ((i = 0; i < 150; i++)); do
    local left=()
    for pid in "${pids[@]}"; do pid_alive "$pid" && left+=("$pid"); done
    [ ${#left[@]} -eq 0 ] && return 0
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true; done
}

# --- what the cluster needs ------------------------------------------------------------------
need_tools() {
  local missing=()
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
  ls /usr/lib/postgresql/*/bin/pg_basebackup >/dev/null 2>&1 || missing+=(postgresql)
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      say "installing ${missing[*]} (apt-get)"
      apt-get update -q >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
    else
      die "missing ${missing[*]}: install them (Debian: apt-get install ${missing[*]}) or run as root"
    fi
  fi
  NGINX=$(command -v nginx || echo /usr/sbin/nginx)
}

# --- Redis: a primary, a replica, three sentinels --------------------------------------------
start_redis() {
  mkdir -p "$DIR/redis"
  local port
  for port in "$REDIS_PRIMARY_PORT" "$REDIS_REPLICA_PORT"; do
    if ! port_open "$port"; then
      local extra=()
      [ "$port" = "$REDIS_REPLICA_PORT" ] && extra=(--replicaof 127.0.0.1 "$REDIS_PRIMARY_PORT")
      # Redis carries live events, rate limits and lockouts only: nothing to persist.
      spawn "redis-$port" redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$DIR/redis" "${extra[@]}"
    fi
    wait_port "$port" 10 "redis $port"
  done
  for port in "${SENTINEL_PORTS[@]}"; do
    if ! port_open "$port"; then
      # Sentinel rewrites its own file as it learns the topology: a fresh one per start.
      cat >"$DIR/redis/sentinel-$port.conf" <<EOF
port $port
bind 127.0.0.1
dir $DIR/redis
sentinel monitor $REDIS_SERVICE 127.0.0.1 $REDIS_PRIMARY_PORT 2
sentinel down-after-milliseconds $REDIS_SERVICE 1000
sentinel failover-timeout $REDIS_SERVICE 5000
sentinel parallel-syncs $REDIS_SERVICE 1
EOF
      spawn "sentinel-$port" redis-server "$DIR/redis/sentinel-$port.conf" --sentinel
    fi
    wait_port "$port" 10 "sentinel $port"
  done
}

# --- the app's environment -------------------------------------------------------------------
write_env() {
  [ -s "$DIR/secret" ] || .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(50))' >"$DIR/secret"
  if [ ! -s "$DIR/vapid.env" ]; then
    SECRET_KEY=x DEBUG=1 .venv/bin/python manage.py vapid_keys >"$DIR/vapid.env"
  fi
  local sentinels
  sentinels=$(printf '127.0.0.1:%s,' "${SENTINEL_PORTS[@]}")
  cat >"$DIR/app.env" <<EOF
# written by scripts/cluster.sh: the environment of the cluster's Daphne processes and worker
DATABASE_URL=postgres://postgres@127.0.0.1:$PG_PRIMARY_PORT/neighborbid
DATABASE_REPLICA_URL=postgres://postgres@127.0.0.1:$PG_STANDBY_PORT/neighborbid
REDIS_URL=redis+sentinel://${sentinels%,}/$REDIS_SERVICE/0
BUS_PREFIX=nbcluster
SECRET_KEY=$(cat "$DIR/secret")
DEBUG=0
ALLOWED_HOSTS=127.0.0.1,localhost
TRUSTED_PROXY_COUNT=1
DB_POOL_MAX_SIZE=10
EMBEDDED_WORKER=0
STATIC_ROOT=$DIR/static
MEDIA_ROOT=$DIR/media
LOG_FORMAT=json
LOG_LEVEL=${CLUSTER_LOG_LEVEL:-WARNING}
DEMO_TOP_UP_SECONDS=600
EOF
  cat "$DIR/vapid.env" >>"$DIR/app.env"
}

load_env() {
  set -a
  # shellcheck disable=SC1091
  . "$DIR/app.env"
  set +a
}

prepare_app() {
  ( load_env
    .venv/bin/python manage.py migrate --noinput >"$LOG/migrate.log" 2>&1 \
      || die "migrate failed (log: $LOG/migrate.log)"
    .venv/bin/python manage.py setup_roles >>"$LOG/migrate.log" 2>&1
    .venv/bin/python manage.py seed_demo >>"$LOG/migrate.log" 2>&1 || die "seed_demo failed (log: $LOG/migrate.log)"
    .venv/bin/python manage.py collectstatic --noinput >/dev/null )
}

start_web() {  # port
  local port=$1
  ( load_env
    spawn "daphne-$port" .venv/bin/python -m daphne -b 127.0.0.1 -p "$port" --application-close-timeout 10 \
      neighborbid.asgi:application )
}

start_workers() {
  local port
  for port in "${WEB_PORTS[@]}"; do
    port_open "$port" || start_web "$port"
  done
  ( load_env; spawn worker .venv/bin/python manage.py run_worker )
  for port in "${WEB_PORTS[@]}"; do
    wait_port "$port" 60 "daphne $port"
  done
}

# --- nginx: deploy/nginx/proxy.conf (the compose file's locations) around a loopback upstream --
# nginx.conf for `listen` in front of the Daphne `ports` (also used by bench/ws_bench.py --nginx).
# The bid door's upstream `bids` (hashed by auction): the ports in CLUSTER_BID_PORTS (space-separated),
# which then serve nothing else, or by default every web port.
render_nginx() {  # listen_port web_port...
  local listen=$1 servers="" bid_servers="" port
  shift
  local bid_ports=(${CLUSTER_BID_PORTS:-}) web_ports=()
  for port in "$@"; do
    [[ " ${bid_ports[*]} " == *" $port "* ]] || web_ports+=("$port")
  done
  if [ ${#bid_ports[@]} -eq 0 ]; then
    bid_ports=("$@")
  fi
  [ ${#web_ports[@]} -gt 0 ] || die "CLUSTER_BID_PORTS leaves no web port"
  for port in "${bid_ports[@]}"; do
    bid_servers+="        server 127.0.0.1:$port max_fails=1 fail_timeout=5s;"$'\n'
  done
  mkdir -p "$DIR/nginx" "$LOG"
  # nginx's workers run as another user (nobody) and buffer large bodies into these
  mkdir -p "$DIR/nginx/body" "$DIR/nginx/proxy" "$DIR/nginx/fastcgi" "$DIR/nginx/uwsgi" "$DIR/nginx/scgi"
  chmod 1777 "$DIR/nginx/body" "$DIR/nginx/proxy" "$DIR/nginx/fastcgi" "$DIR/nginx/uwsgi" "$DIR/nginx/scgi"
  for port in "${web_ports[@]}"; do
    servers+="        server 127.0.0.1:$port max_fails=1 fail_timeout=5s;"$'\n'
  done
  cat >"$DIR/nginx/nginx.conf" <<EOF
# rendered by scripts/cluster.sh; the proxied locations are deploy/nginx/proxy.conf, as in compose
worker_processes 1;
worker_shutdown_timeout 5s;  # a graceful stop closes open WebSockets after 5 s
daemon off;  # run by this script like the other processes (its pid file: RUN/nginx.pid)
pid $DIR/nginx/nginx.pid;
error_log $LOG/nginx-error.log warn;
events {
    worker_connections 16384;
}
worker_rlimit_nofile 40000;
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    server_tokens off;
    keepalive_timeout 65;
    client_body_temp_path $DIR/nginx/body;
    proxy_temp_path $DIR/nginx/proxy;
    fastcgi_temp_path $DIR/nginx/fastcgi;
    uwsgi_temp_path $DIR/nginx/uwsgi;
    scgi_temp_path $DIR/nginx/scgi;
    log_format main '\$remote_addr - [\$time_local] "\$request" \$status \$body_bytes_sent '
                    '\$request_time upstream=\$upstream_addr rid=\$request_id';
    access_log $LOG/nginx-access.log main;

    upstream web {
        least_conn;  # as in deploy/nginx.conf: no sticky sessions
$servers        keepalive 32;
    }
    upstream bids {
        hash \$auction consistent;  # the bid door: every bid socket of one auction to one process
$bid_servers    }
    map \$http_upgrade \$connection_upgrade {
        default upgrade;
        ''      '';
    }
    client_max_body_size 25m;

    server {
        listen 127.0.0.1:$listen default_server;
        server_name _;
        location = /nginx-healthz {
            access_log off;
            return 200 "ok\n";
        }
        location /media/ {
            alias $DIR/media/;
        }
        include $ROOT/deploy/nginx/proxy.conf;
    }
}
EOF
  "$NGINX" -t -q -c "$DIR/nginx/nginx.conf" -e "$LOG/nginx-error.log" 2>>"$LOG/nginx-error.log" \
    || die "nginx rejected its configuration (log: $LOG/nginx-error.log)"
}

start_nginx() {
  render_nginx "$NGINX_PORT" "${WEB_PORTS[@]}"
  spawn nginx "$NGINX" -c "$DIR/nginx/nginx.conf" -e "$LOG/nginx-error.log"
  wait_port "$NGINX_PORT" 10 nginx
}

wait_ready() {
  local i
  for ((i = 0; i < 600; i++)); do
    if .venv/bin/python - "$NGINX_PORT" <<'PY' 2>/dev/null; then
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/readyz", timeout=2).read()
PY
      return 0
    fi
    sleep 0.1
  done
  die "http://127.0.0.1:$NGINX_PORT/readyz did not answer 200 within 60 s (logs: $LOG)"
}

start() {
  local started=$SECONDS busy=() port
  need_tools
  # the venv as it is (a dev venv already holds everything the app needs), else the app's lock
  if ls .venv/.installed-*-dev >/dev/null 2>&1; then scripts/bootstrap.sh dev >/dev/null; else scripts/bootstrap.sh >/dev/null; fi
  mkdir -p "$RUN" "$LOG" "$DIR/media"
  # Ports held by something that is not ours: refuse, never fight over them.
  for port in "$NGINX_PORT" "${WEB_PORTS[@]}" "$PG_PRIMARY_PORT" "$PG_STANDBY_PORT" "$REDIS_PRIMARY_PORT" \
    "$REDIS_REPLICA_PORT" "${SENTINEL_PORTS[@]}"; do
    port_open "$port" && busy+=("$port")
  done
  if [ ${#busy[@]} -gt 0 ] && ! [ -d "$RUN" ]; then
    die "ports ${busy[*]} are in use by something else (another cluster? scripts/cluster.sh stop DIR)"
  fi
  say "PostgreSQL primary :$PG_PRIMARY_PORT + standby :$PG_STANDBY_PORT"
  deploy/cluster/pg.sh start "$DIR" >"$LOG/pg.log" 2>&1 || { cat "$LOG/pg.log" >&2; die "PostgreSQL did not start"; }
  say "Redis :$REDIS_PRIMARY_PORT + replica :$REDIS_REPLICA_PORT, sentinels ${SENTINEL_PORTS[*]}"
  start_redis
  write_env
  say "migrate, demo data, static files ($((SECONDS - started)) s)"
  prepare_app
  say "Daphne ${WEB_PORTS[*]} + worker ($((SECONDS - started)) s)"
  start_workers
  say "nginx :$NGINX_PORT"
  start_nginx
  wait_ready
  say "up in $((SECONDS - started)) s: http://127.0.0.1:$NGINX_PORT  (stop: make cluster-stop)"
}

stop() {
  local port left=()
  [ -d "$RUN" ] || mkdir -p "$RUN"
  stop_pids QUIT nginx  # graceful: open requests finish
  stop_pids TERM daphne-"${WEB_PORTS[0]}" daphne-"${WEB_PORTS[1]}" daphne-"${WEB_PORTS[2]}" worker
  stop_pids TERM sentinel-"${SENTINEL_PORTS[0]}" sentinel-"${SENTINEL_PORTS[1]}" sentinel-"${SENTINEL_PORTS[2]}" \
    redis-"$REDIS_PRIMARY_PORT" redis-"$REDIS_REPLICA_PORT"
  if [ -x deploy/cluster/pg.sh ]; then
    deploy/cluster/pg.sh stop "$DIR" >>"$LOG/pg.log" 2>&1 || true
  fi
  for port in "$NGINX_PORT" "${WEB_PORTS[@]}" "$PG_PRIMARY_PORT" "$PG_STANDBY_PORT" "$REDIS_PRIMARY_PORT" \
    "$REDIS_REPLICA_PORT" "${SENTINEL_PORTS[@]}"; do
    port_open "$port" && left+=("$port")
  done
  [ ${#left[@]} -eq 0 ] || die "still listening after stop: ${left[*]}"
  say "stopped (data kept in $DIR; rm -rf it for a fresh start)"
}

# The runbook "Primary failover by hand" (docs/operations.md), on the loopback cluster.
failover() {
  local bin port
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  # 1. fence: the old primary must never take another write (here it is stopped; on real hosts,
  #    make sure it is down or cut off before promoting)
  if [ -f "$DIR/pg-primary/postmaster.pid" ]; then
    runuser -u postgres -- "$bin/pg_ctl" -D "$DIR/pg-primary" -m fast -w stop >>"$LOG/pg.log" 2>&1 || true
  fi
  # 2. promote the standby: it finishes replaying what it received and takes writes
  deploy/cluster/pg.sh promote "$DIR" >>"$LOG/pg.log" 2>&1 || die "promote failed (log: $LOG/pg.log)"
  # 3. point the app at it: the new primary, and no standby until one is rebuilt from it
  sed -i -e "s#^DATABASE_URL=.*#DATABASE_URL=postgres://postgres@127.0.0.1:$PG_STANDBY_PORT/neighborbid#" \
    -e '/^DATABASE_REPLICA_URL=/d' "$DIR/app.env"
  # 4. restart the web processes one at a time (nginx sends new connections to the others), then
  #    the worker; the pools of the old processes pointed at the dead primary
  for port in "${WEB_PORTS[@]}"; do
    stop_pids TERM "daphne-$port"
    start_web "$port"
    wait_port "$port" 60 "daphne $port"
  done
  stop_pids TERM worker
  ( load_env; spawn worker .venv/bin/python manage.py run_worker )
  say "failed over: the primary is now :$PG_STANDBY_PORT (app.env); run manage.py audit_ledger"
}

status() {
  local name
  for name in nginx daphne-18001 daphne-18002 daphne-18003 worker redis-16379 redis-16380 \
    sentinel-26379 sentinel-26380 sentinel-26381; do
    if alive "$name"; then echo "$name: up (pid $(cat "$RUN/$name.pid"))"; else echo "$name: down"; fi
  done
  if port_open "${SENTINEL_PORTS[0]}"; then
    echo "redis primary (sentinel): $(redis-cli -p "${SENTINEL_PORTS[0]}" sentinel get-master-addr-by-name "$REDIS_SERVICE" | paste -sd:)"
  fi
  [ -x deploy/cluster/pg.sh ] && deploy/cluster/pg.sh status "$DIR" || true
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  failover) mkdir -p "$RUN" "$LOG"; failover ;;
  restart-web)  # bring one Daphne back after a fault test killed it
    mkdir -p "$RUN" "$LOG"
    start_web "$web_port"
    wait_port "$web_port" 60 "daphne $web_port"
    ;;
  nginx-conf)
    need_tools
    mkdir -p "$DIR/log"
    render_nginx "${nginx_args[@]}"
    echo "$DIR/nginx/nginx.conf"
    ;;
  *) die "usage: scripts/cluster.sh start|stop|status|failover|restart-web PORT [DIR]" ;;
esac
