#!/usr/bin/env bash
# Static client serving: the Wasm bundle requested over and over (16 keep-alive connections,
# `Accept-Encoding: br, gzip`) from our server (files and their brotli/gzip forms held in
# memory) and from tower-http's ServeDir over the same dist/, plain and compressing per
# request. Server and load generator share the machine's cores. Prints one JSON line each.
#   ./scripts/bench-static.sh [SECONDS] [CONNECTIONS]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
secs="${1:-10}"; conns="${2:-16}"
[ -f dist/index.html ] || "$ROOT/scripts/build.sh"
build_release
work="$(mktemp -d /tmp/live-bench.XXXXXX)"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
wasm="/$(basename "$(ls dist/*_bg.wasm | head -n1)")"
wait_port() { for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.1; done; return 1; }

APP_BIND=127.0.0.1:3200 DATABASE_URL="sqlite://$work/s.db" APP_LOG=warn APP_DIST_DIR="$ROOT/dist" \
  "$ROOT/target/release/server" >"$work/server.log" 2>&1 & pids+=($!)
"$ROOT/target/release/loadgen" serve-dir --dir "$ROOT/dist" --bind 127.0.0.1:3201 2>/dev/null & pids+=($!)
"$ROOT/target/release/loadgen" serve-dir --dir "$ROOT/dist" --bind 127.0.0.1:3202 --compress 2>/dev/null & pids+=($!)
for p in 3200 3201 3202; do wait_port "$p"; done
for target in "ours 3200" "servedir 3201" "servedir-compress 3202"; do
  set -- $target
  printf '%s ' "$1"
  "$ROOT/target/release/loadgen" static --url "http://127.0.0.1:$2" --path "$wasm" \
    --connections "$conns" --duration "$secs"
done
