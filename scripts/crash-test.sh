#!/usr/bin/env bash
# Flash-sale crash safety, many rounds: each round starts the release server, runs a rush of
# 400 buyers on 150 units, kill -9s the server in the middle, restarts it on the same
# database and checks the invariants (server/tests/crash.rs), on SQLite and on PostgreSQL.
#   ./scripts/crash-test.sh [ROUNDS]      (default 20)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
rounds="${1:-20}"
work="$(mktemp -d /tmp/crash-test.XXXXXX)"; chmod 755 "$work"
trap '"$ROOT/scripts/pg-cluster.sh" stop "$work/pg" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
eval "$("$ROOT/scripts/pg-cluster.sh" start "$work/pg")"
export TEST_POSTGRES_URL REQUIRE_POSTGRES=1 CRASH_ROUNDS="$rounds"
cargo test --release -p server --test crash -- --nocapture --test-threads 1
