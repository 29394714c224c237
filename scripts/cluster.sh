#!/usr/bin/env bash
# Several server nodes on this machine in distributed mode: a throwaway Redis (Debian's
# redis-server) and PostgreSQL, and N release nodes sharing live rooms, counters and limits.
#   ./scripts/cluster.sh [N]          builds, starts N nodes (default 3) on one port with
#                                     SO_REUSEPORT (PORT, default 3000), prints the URL, runs
#                                     until Ctrl-C, then stops everything it started
#   scripts/cluster.sh start N DIR    no build; starts in the background and prints
#                                     `export CLUSTER_URLS=... CLUSTER_PIDS=... REDIS_URL=...`
#                                     (SEPARATE_PORTS=1: node i gets its own port)
#   scripts/cluster.sh stop DIR       stops what `start` started in DIR
# Nodes inherit APP_* settings from the environment (APP_RATE_LIMIT_SCALE, APP_LOG...).
# Video: each node has its own media directory (DIR/media-i), as on separate machines; the
# WHIP publish stays on the node that took it and the others fetch its HLS from it (their
# origin shield finds it through Redis; APP_NODE_BIND gives each node an address of its own
# when they share a port). docs/ARCHITECTURE.md, "Several nodes".
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

start() {
  local n="$1" dir="$2"
  [ -x "$ROOT/target/release/server" ] || fail "no release server: run ./scripts/build.sh"
  mkdir -p "$dir"
  chmod 755 "$dir" # PostgreSQL runs as the postgres user when we are root
  local rport; rport="$(start_redis "$dir")"
  local pgenv; pgenv="$("$ROOT/scripts/pg-cluster.sh" start "$dir/pg")" || fail "PostgreSQL did not start"
  eval "$pgenv"
  local db="${TEST_POSTGRES_URL%/*}/live"
  "$PGBIN/psql" "$TEST_POSTGRES_URL" -qc "CREATE DATABASE live" >/dev/null \
    || fail "could not create the cluster's database"
  local base_port="${PORT:-3000}" urls=() pids=()
  [ "${SEPARATE_PORTS:-0}" = 1 ] || [ -n "${PORT:-}" ] || base_port="$(free_port)"
  for i in $(seq 1 "$n"); do
    local port="$base_port" reuse=true node_bind=""
    if [ "${SEPARATE_PORTS:-0}" = 1 ]; then port="$(free_port)"; reuse=false; else node_bind="127.0.0.1:$(free_port)"; fi
    mkdir -p "$dir/media-$i"
    APP_BIND="127.0.0.1:$port" APP_REUSE_PORT="$reuse" APP_NODE_BIND="$node_bind" DATABASE_URL="$db" \
      REDIS_URL="redis://127.0.0.1:$rport/" APP_DEMO_DATA="$([ "$i" = 1 ] && echo true || echo false)" \
      APP_MEDIA_DIR="$dir/media-$i" APP_UPLOAD_DIR="$dir/uploads" \
      APP_PUBLIC_URL="${APP_PUBLIC_URL:-http://127.0.0.1:$port}" \
      "$ROOT/target/release/server" >"$dir/node-$i.log" 2>&1 &
    local pid=$!
    echo "$pid" >>"$dir/nodes.pid"
    for _ in $(seq 100); do grep -qs "is running on" "$dir/node-$i.log" && break; sleep 0.1; done
    grep -q "is running on" "$dir/node-$i.log" || fail "node $i did not start: $(tail -n 5 "$dir/node-$i.log")"
    urls+=("http://127.0.0.1:$port"); pids+=("$pid")
  done
  echo "export REDIS_URL=redis://127.0.0.1:$rport/ CLUSTER_DATABASE_URL=$db"
  echo "export CLUSTER_URLS=$(IFS=,; echo "${urls[*]}") CLUSTER_PIDS=$(IFS=,; echo "${pids[*]}")"
}

stop() {
  local dir="$1"
  if [ -f "$dir/nodes.pid" ]; then
    while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$dir/nodes.pid"
    while read -r pid; do
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    done <"$dir/nodes.pid"
  fi
  [ -f "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
  "$ROOT/scripts/pg-cluster.sh" stop "$dir/pg"
  rm -rf "$dir"
}

case "${1:-}" in
  start) [ $# -eq 3 ] || fail "usage: cluster.sh start N DIR"; start "$2" "$3" ;;
  stop) [ $# -eq 2 ] || fail "usage: cluster.sh stop DIR"; stop "$2" ;;
  ""|[0-9]*)
    n="${1:-3}"
    "$ROOT/scripts/setup.sh" test
    "$ROOT/scripts/build.sh"
    dir="$(mktemp -d /tmp/live-cluster.XXXXXX)"
    trap 'step "stopping"; stop "$dir"' EXIT
    trap 'exit 0' INT TERM
    step "starting Redis, PostgreSQL and $n nodes"
    eval "$(PORT="${PORT:-3000}" start "$n" "$dir")"
    ok "Redis $REDIS_URL, PostgreSQL $CLUSTER_DATABASE_URL, node pids $CLUSTER_PIDS (logs in $dir)"
    step "$n nodes share ${CLUSTER_URLS%%,*}  (Ctrl-C to stop)"
    echo "Demo host sign-in: sunjing@demo.live / xiaoxiaobao-demo"
    while sleep 3600; do :; done
    ;;
  *) fail "usage: cluster.sh [N] | start N DIR | stop DIR" ;;
esac
