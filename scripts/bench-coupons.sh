#!/usr/bin/env bash
# Live-coupon claim rush (docs/BENCHMARKS.md): CLAIMS shoppers tap Claim on one coupon with a
# quota of QUOTA, released over RELEASE_MS on an open loop, latency from each claim's due time.
# For each database (SQLite; PostgreSQL; Redis mode: one node with REDIS_URL, the claim gate a
# Redis script, PostgreSQL behind), against the server's own floor (`orders/ready`: same
# cookie, CSRF and rate-limit checks, same schedule) measured in the same run on a fresh
# server. Checks exactly min(QUOTA, CLAIMS) claimed, in the answers and in the database (the
# studio's list), every other answer "all gone", no errors. Prints one JSON line per run.
#   ./scripts/bench-coupons.sh [CLAIMS] [QUOTA]          (default 50000 1000)
#   RELEASE_MS=2000 CONNECTIONS=2000 DATABASES="sqlite" (or "sqlite postgres redis")
#   TARGETS="floor claims" APP_LOG=warn (e.g. warn,shop_backend::buying::coupons=debug)
#   PREBUILT=1 (use the release binaries as they are)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
claims="${1:-50000}"; quota="${2:-1000}"
release="${RELEASE_MS:-2000}"; conns="${CONNECTIONS:-2000}"
databases="${DATABASES:-sqlite}"; targets="${TARGETS:-floor claims}"
build_release
work="$(mktemp -d /tmp/coupon-bench.XXXXXX)"; chmod 755 "$work"
cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null
  [ -f "$work/redis.pid" ] && kill "$(cat "$work/redis.pid")" 2>/dev/null
  "$ROOT/scripts/pg-cluster.sh" stop "$work/pg" >/dev/null 2>&1 || true
  [ -n "${KEEP_LOGS:-}" ] && cp "$work"/server-*.log "$KEEP_LOGS"/ 2>/dev/null; rm -rf "$work"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
port="$(free_port)"

run() { # $1 = database label (sqlite, postgres, redis: PostgreSQL + the Redis gate), $2 = target
  local url redis_env=()
  case "$1" in
    sqlite) url="sqlite://$work/coupons-$2.db" ;;
    postgres|redis)
      [ -n "${TEST_POSTGRES_URL:-}" ] || eval "$("$ROOT/scripts/pg-cluster.sh" start "$work/pg")"
      psql "$TEST_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS coupon_bench WITH (FORCE)" -c "CREATE DATABASE coupon_bench" >/dev/null
      url="${TEST_POSTGRES_URL%/*}/coupon_bench" ;;
    *) fail "unknown database $1" ;;
  esac
  if [ "$1" = redis ]; then
    [ -n "${redis_port:-}" ] || redis_port="$(start_redis "$work")"
    redis-cli -p "$redis_port" flushall >/dev/null
    redis_env=(REDIS_URL="redis://127.0.0.1:$redis_port")
  fi
  env "${redis_env[@]}" APP_BIND="127.0.0.1:$port" DATABASE_URL="$url" APP_DEMO_DATA=true APP_RATE_LIMIT_SCALE=1000000 \
    APP_LOG="${APP_LOG:-warn}" APP_DIST_DIR="$work/no-dist" APP_UPLOAD_DIR="$work/uploads" \
    "$ROOT/target/release/server" >"$work/server-$1-$2.log" 2>&1 &
  pid=$!
  wait_port "$port" || fail "the server did not start: $(cat "$work/server-$1-$2.log")"
  printf '{"database":"%s",' "$1"
  "$ROOT/target/release/loadgen" coupons --url "http://127.0.0.1:$port" --claims "$claims" --quota "$quota" \
    --release-ms "$release" --connections "$conns" --target "$2" | sed 's/^{//'
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
}
for db in $databases; do
  for target in $targets; do run "$db" "$target"; done
done
