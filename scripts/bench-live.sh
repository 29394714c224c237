#!/usr/bin/env bash
# Live-room fan-out benchmark: our release server and, as the reference, nginx + nchan, each
# fresh, each with N SSE viewers on loopback while products are presented at a fixed rate.
#   ./scripts/bench-live.sh [N ...]        default: 10000 25000 50000
# Env: RATE (publishes/s, default 2), DURATION (s, default 30).
# Prints one JSON line per run and a ratio line (ours / nchan) per N.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
counts=("$@"); [ ${#counts[@]} -gt 0 ] || counts=(10000 25000 50000)
rate="${RATE:-2}"; duration="${DURATION:-30}"
command -v nginx >/dev/null && [ -f /usr/lib/nginx/modules/ngx_nchan_module.so ] || {
  as_root apt-get install -y -qq nginx-light libnginx-mod-nchan >/dev/null || fail "could not install nginx + libnginx-mod-nchan"; }
cargo build --release -p server -p loadgen --quiet

# Every connection is a file descriptor in the server and one in the load generator.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
nofile="$(ulimit -n)"
# More source addresses and ports for many loopback connections (best effort).
echo "1024 65535" > /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true

work="$(mktemp -d /tmp/live-bench.XXXXXX)"
cleanup() { [ -n "${spid:-}" ] && kill "$spid" 2>/dev/null; [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pid_on_port() { ss -ltnp "sport = :$1" | grep -o 'pid=[0-9]*' | sed 's/pid=//' | sort -u | paste -sd, -; }
wait_port() { for _ in $(seq 100); do [ -n "$(pid_on_port "$1")" ] && return 0; sleep 0.1; done; return 1; }

for n in "${counts[@]}"; do
  if [ $((n + 200)) -gt "$nofile" ]; then
    echo "{\"connections_requested\":$n,\"skipped\":\"open-file limit is $nofile (hard); $n connections need about $((n + 200)) per process. Raise it with ulimit -Hn (needs CAP_SYS_RESOURCE) and rerun.\"}"
    continue
  fi
  port="$(free_port)"
  APP_BIND="127.0.0.1:$port" DATABASE_URL="sqlite://$work/bench-$n.db" APP_DEMO_DATA=true APP_RATE_LIMIT_SCALE=100000 \
    APP_LOG=warn APP_DIST_DIR="$work/none" "$ROOT/target/release/server" >"$work/server-$n.log" 2>&1 &
  spid=$!
  wait_port "$port" || fail "server did not start: $(cat "$work/server-$n.log")"
  ours="$("$ROOT/target/release/loadgen" viewers --url "http://127.0.0.1:$port" --connections "$n" --rate "$rate" --duration "$duration" --pids "$(pid_on_port "$port")")"
  echo "$ours"
  kill "$spid"; wait "$spid" 2>/dev/null || true; spid=""

  port="$(free_port)"
  cat >"$work/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_nchan_module.so;
user root;
worker_processes 2;
worker_rlimit_nofile $nofile;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections $nofile; multi_accept on; }
http {
  access_log off;
  client_body_temp_path $work/body;
  server {
    listen 127.0.0.1:$port backlog=4096;
    location = /sub { nchan_subscriber eventsource; nchan_channel_id \$arg_id; nchan_eventsource_ping_interval 15; }
    location = /pub { nchan_publisher; nchan_channel_id \$arg_id; }
  }
}
CONF
  nginx -c "$work/nginx.conf" -p "$work" 
  wait_port "$port" || fail "nginx did not start: $(cat "$work/nginx-error.log")"
  master="$(cat "$work/nginx.pid")"; pids="$master,$(pgrep -P "$master" | paste -sd, -)"
  ref="$("$ROOT/target/release/loadgen" viewers --target nchan --url "http://127.0.0.1:$port" --connections "$n" --rate "$rate" --duration "$duration" --pids "$pids")"
  echo "$ref"
  kill "$master"; sleep 1
  python3 - "$ours" "$ref" <<'PY'
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
done
