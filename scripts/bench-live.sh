#!/usr/bin/env bash
# Live-room fan-out benchmark: our release server and, as the reference, nginx + nchan, each
# fresh, each with N SSE viewers on loopback while products are presented at a fixed rate.
#   ./scripts/bench-live.sh [N ...]           one node (SQLite) against nchan with 2 workers
#                                             (default: 10000 25000 50000)
#   ./scripts/bench-live.sh cluster [N ...]   3 nodes on Redis + PostgreSQL (scripts/cluster.sh)
#                                             against nchan with 3 workers in Redis mode
#                                             (nchan_redis_url), and one node beside them
#                                             (default: 50000)
# Env: RATE (publishes/s, default 2), DURATION (s, default 30), NODES (cluster, default 3),
#      REFERENCE=0 (skip nchan and the single node: the small run of the test command),
#      PER_PROCESS (viewers per load-generator process, default 15000),
#      NODE_THREADS (cluster: tokio worker threads per node; default: one per core),
#      RAMP_TIMEOUT (s the viewers may take to open before the run goes on, default 1200).
# Prints one JSON line per run and a ratio line (ours / nchan) per N; the cluster nodes' logs
# are left in /tmp/live-bench-logs.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
mode=single
[ "${1:-}" = cluster ] && { mode=cluster; shift; }
counts=("$@")
if [ ${#counts[@]} -eq 0 ]; then
  if [ "$mode" = cluster ]; then counts=(50000); else counts=(10000 25000 50000); fi
fi
rate="${RATE:-2}"; duration="${DURATION:-30}"; nodes="${NODES:-3}"; reference="${REFERENCE:-1}"
per_process="${PER_PROCESS:-15000}"
if [ "$reference" = 1 ]; then
  command -v nginx >/dev/null && [ -f "$NCHAN_MODULE" ] || {
    as_root apt-get install -y -qq nginx-light libnginx-mod-nchan >/dev/null || fail "could not install nginx + libnginx-mod-nchan"; }
fi
[ "$mode" = single ] || command -v redis-server >/dev/null || "$ROOT/scripts/setup.sh" test
build_release

# Every connection is a file descriptor in the server and one in the load generator.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
nofile="$(ulimit -n)"
# More source ports for many loopback connections (best effort).
echo "1024 65535" > /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true

work="$(mktemp -d /tmp/live-bench.XXXXXX)"
chmod 755 "$work" # PostgreSQL (cluster mode) runs as the postgres user when we are root
cleanup() {
  [ -n "${spid:-}" ] && kill "$spid" 2>/dev/null
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null
  [ -f "$work/redis.pid" ] && kill "$(cat "$work/redis.pid")" 2>/dev/null
  [ -d "$work/cluster" ] && "$ROOT/scripts/cluster.sh" stop "$work/cluster"
  rm -rf "$work"
}
trap cleanup EXIT
processes_for() { local p=$(( ($1 + per_process - 1) / per_process )); [ "$p" -ge 1 ] || p=1; echo "$p"; }

# nginx + nchan on a free port; prints "URL PIDS". $1 workers, $2 Redis URL or empty.
start_nchan() {
  local workers="$1" redis="$2" port; port="$(free_port)"
  local http_redis="" use_redis=""
  [ -n "$redis" ] && { http_redis="nchan_redis_url \"$redis\";"; use_redis="nchan_use_redis on;"; }
  cat >"$work/nginx.conf" <<CONF
load_module $NCHAN_MODULE;
user root;
worker_processes $workers;
worker_rlimit_nofile $nofile;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections $nofile; multi_accept on; }
http {
  access_log off;
  client_body_temp_path $work/body;
  $http_redis
  server {
    listen 127.0.0.1:$port backlog=4096 reuseport;
    location = /sub { nchan_subscriber eventsource; nchan_channel_id \$arg_id; nchan_eventsource_ping_interval 15; $use_redis }
    location = /pub { nchan_publisher; nchan_channel_id \$arg_id; $use_redis }
  }
}
CONF
  nginx -c "$work/nginx.conf" -p "$work" 2>>"$work/nginx-error.log"
  wait_port "$port" || fail "nginx did not start: $(cat "$work/nginx-error.log")"
  local master; master="$(cat "$work/nginx.pid")"
  echo "http://127.0.0.1:$port $master,$(pgrep -P "$master" | paste -sd, -)"
}
stop_nchan() { kill "$(cat "$work/nginx.pid")" 2>/dev/null || true; sleep 1; rm -f "$work/nginx.pid"; }

ratio_line() {
  python3 - "$1" "$2" <<'PY'
import json, sys
o, r = json.loads(sys.argv[1]), json.loads(sys.argv[2])
def ratio(a, b):
    return None if not b else round(a / b, 2)
print(json.dumps({"connections": o["connections_requested"], "ratio_ours_over_nchan": {
    "bytes_per_connection": ratio(o["bytes_per_connection"], r["bytes_per_connection"]),
    "latency_p50": ratio(o["latency_ms"]["p50"] or 0, r["latency_ms"]["p50"] or 0),
    "latency_p99": ratio(o["latency_ms"]["p99"] or 0, r["latency_ms"]["p99"] or 0),
    "events_per_s": ratio(o["events_per_s"], r["events_per_s"]),
}}))
PY
}

single() {
  local n="$1"
  if [ $((n + 200)) -gt "$nofile" ]; then
    echo "{\"connections_requested\":$n,\"skipped\":\"open-file limit is $nofile (hard); $n connections need about $((n + 200)) in one server process: use the cluster mode.\"}"
    return
  fi
  local port; port="$(free_port)"
  APP_BIND="127.0.0.1:$port" DATABASE_URL="sqlite://$work/bench-$n.db" APP_DEMO_DATA=true APP_RATE_LIMIT_SCALE=100000 \
    APP_LOG=warn APP_DIST_DIR="$work/none" "$ROOT/target/release/server" >"$work/server-$n.log" 2>&1 &
  spid=$!
  wait_port "$port" || fail "server did not start: $(cat "$work/server-$n.log")"
  ours="$("$ROOT/target/release/loadgen" viewers --url "http://127.0.0.1:$port" --connections "$n" \
    --processes "$(processes_for "$n")" --rate "$rate" --duration "$duration" ${RAMP_TIMEOUT:+--ramp-timeout "$RAMP_TIMEOUT"} --pids "$spid")"
  echo "$ours"
  kill "$spid"; wait "$spid" 2>/dev/null || true; spid=""
}

cluster() {
  local n="$1" dir="$work/cluster"
  if [ $((n / nodes + 200)) -gt "$nofile" ]; then
    echo "{\"connections_requested\":$n,\"skipped\":\"$nodes nodes hold at most $nodes x $nofile open files: add nodes (NODES=)\"}"
    return
  fi
  local env; env="$(env ${NODE_THREADS:+TOKIO_WORKER_THREADS=$NODE_THREADS} APP_RATE_LIMIT_SCALE=100000 \
    APP_LOG=warn APP_DIST_DIR="$work/none" SEPARATE_PORTS=1 \
    "$ROOT/scripts/cluster.sh" start "$nodes" "$dir")" || fail "the cluster did not start"
  eval "$env"
  ours="$("$ROOT/target/release/loadgen" viewers --urls "$CLUSTER_URLS" --connections "$n" \
    --processes "$(processes_for "$n")" --rate "$rate" --duration "$duration" ${RAMP_TIMEOUT:+--ramp-timeout "$RAMP_TIMEOUT"} \
    --pids "$CLUSTER_PIDS,$(cat "$dir/redis.pid")")"
  echo "$ours"
  # The nodes' logs outlive the run (what went wrong, if anything did).
  mkdir -p /tmp/live-bench-logs && cp "$dir"/node-*.log "$dir"/redis.log /tmp/live-bench-logs/
  "$ROOT/scripts/cluster.sh" stop "$dir"
  unset REDIS_URL CLUSTER_DATABASE_URL
  # Correctness of the small run (counts, not timings): everyone held, every event delivered.
  python3 - "$ours" <<'PY' || fail "cluster run lost viewers or events (see the line above)"
import json, sys
o = json.loads(sys.argv[1])
n = o["connections_requested"]
ok = o["connections_held"] == n and o["errors"] == 0 and o["publish_errors"] == 0 \
    and o["events_delivered"] >= n * o["published"] and o["client_requests"]["per_event"] == 0
sys.exit(0 if ok else 1)
PY
  [ "$reference" = 1 ] || return 0

  local rport; rport="$(start_redis "$work")"
  local url pids; read -r url pids <<<"$(start_nchan "$nodes" "redis://127.0.0.1:$rport")"
  ref="$("$ROOT/target/release/loadgen" viewers --target nchan --url "$url" --connections "$n" \
    --processes "$(processes_for "$n")" --rate "$rate" --duration "$duration" ${RAMP_TIMEOUT:+--ramp-timeout "$RAMP_TIMEOUT"} --pids "$pids,$(cat "$work/redis.pid")")"
  echo "$ref"
  stop_nchan; kill "$(cat "$work/redis.pid")"; rm -f "$work/redis.pid"
  ratio_line "$ours" "$ref"
  # One node beside them, as many viewers as one process may hold.
  local one=$(( n < nofile - 500 ? n : nofile - 500 ))
  echo "{\"single_node\":$one}"
  single "$one"
}

for n in "${counts[@]}"; do
  if [ "$mode" = cluster ]; then cluster "$n"; continue; fi
  single "$n"
  read -r url pids <<<"$(start_nchan 2 "")"
  ref="$("$ROOT/target/release/loadgen" viewers --target nchan --url "$url" --connections "$n" \
    --processes "$(processes_for "$n")" --rate "$rate" --duration "$duration" ${RAMP_TIMEOUT:+--ramp-timeout "$RAMP_TIMEOUT"} --pids "$pids")"
  echo "$ref"
  stop_nchan
  ratio_line "$ours" "$ref"
done
