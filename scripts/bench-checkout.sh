#!/usr/bin/env bash
# Checkout benchmark: the release server on SQLite and on PostgreSQL, each with a fresh
# database and the demo data, driven by `loadgen checkout`. Prints one JSON line per run.
#   ./scripts/bench-checkout.sh [BUYERS] [CONCURRENCY]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
buyers="${1:-1000}"; conc="${2:-200}"
build_release
work="$(mktemp -d /tmp/live-bench.XXXXXX)"; chmod 755 "$work"
trap '[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; "$ROOT/scripts/pg-cluster.sh" stop "$work/pg" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
eval "$("$ROOT/scripts/pg-cluster.sh" start "$work/pg")"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"

run() { # $1 = label, $2 = DATABASE_URL
  APP_BIND="127.0.0.1:$port" DATABASE_URL="$2" APP_DEMO_DATA=true APP_RATE_LIMIT_SCALE=100000 APP_LOG=warn \
    APP_DIST_DIR="$work/no-dist" "$ROOT/target/release/server" >"$work/server-$1.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  printf '%s ' "$1"
  "$ROOT/target/release/loadgen" checkout --url "http://127.0.0.1:$port" --buyers "$buyers" --concurrency "$conc"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
}
run sqlite "sqlite://$work/bench.db"
run postgres "${TEST_POSTGRES_URL}"
