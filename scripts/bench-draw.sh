#!/usr/bin/env bash
# Lucky-draw benchmark (docs/BENCHMARKS.md): ENTRANTS shoppers enter one draw over HTTP, the
# host closes it, a watcher waits for the winners' event; the server's floor (`orders/ready`)
# measured in the same run on the same server. Prints one JSON line per database.
#   ./scripts/bench-draw.sh [ENTRANTS] [WINNERS]        (default 50000 10)
#   CONNECTIONS=200 DATABASES="sqlite postgres"
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
entrants="${1:-50000}"; winners="${2:-10}"
conns="${CONNECTIONS:-200}"; databases="${DATABASES:-sqlite}"
build_release
work="$(mktemp -d /tmp/draw-bench.XXXXXX)"; chmod 755 "$work"
cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null
  "$ROOT/scripts/pg-cluster.sh" stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
port="$(free_port)"
for db in $databases; do
  case "$db" in
    sqlite) url="sqlite://$work/draw.db" ;;
    postgres)
      [ -n "${TEST_POSTGRES_URL:-}" ] || eval "$("$ROOT/scripts/pg-cluster.sh" start "$work/pg")"
      psql "$TEST_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS draw_bench WITH (FORCE)" -c "CREATE DATABASE draw_bench" >/dev/null
      url="${TEST_POSTGRES_URL%/*}/draw_bench" ;;
    *) fail "unknown database $db" ;;
  esac
  APP_BIND="127.0.0.1:$port" DATABASE_URL="$url" APP_DEMO_DATA=true APP_RATE_LIMIT_SCALE=1000000 \
    APP_LOG="${APP_LOG:-warn}" APP_DIST_DIR="$work/no-dist" APP_UPLOAD_DIR="$work/uploads" \
    "$ROOT/target/release/server" >"$work/server-$db.log" 2>&1 &
  pid=$!
  wait_port "$port" || fail "the server did not start: $(cat "$work/server-$db.log")"
  printf '{"database":"%s",' "$db"
  "$ROOT/target/release/loadgen" draw --url "http://127.0.0.1:$port" --entrants "$entrants" \
    --winners "$winners" --connections "$conns" | sed 's/^{//'
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
done
