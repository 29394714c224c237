#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster on a free loopback port, for the storage tests.
#   eval "$(scripts/pg-cluster.sh start DIR)"   prints `export TEST_POSTGRES_URL=...`
#   scripts/pg-cluster.sh stop DIR              stops it and removes DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cmd="${1:-}"; dir="${2:-}"
[ -n "$cmd" ] && [ -n "$dir" ] || fail "usage: pg-cluster.sh start|stop DIR"

# PostgreSQL refuses to run as root: as root, run it as the postgres user.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
  start)
    [ -x "$PGBIN/initdb" ] || fail "PostgreSQL 15 is not installed: run ./scripts/setup.sh test"
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    rm -rf "$dir"; mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
    as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust --no-sync >"$dir/../pg-initdb.log" 2>&1 \
      || { cat "$dir/../pg-initdb.log" >&2; fail "initdb failed"; }
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null \
      || { cat "$dir/server.log" >&2; fail "PostgreSQL did not start"; }
    echo "export TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    if [ -d "$dir/data" ]; then
      as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *) fail "usage: pg-cluster.sh start|stop DIR" ;;
esac
