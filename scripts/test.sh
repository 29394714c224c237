#!/usr/bin/env bash
# Every test: set up what is missing, build (release), then unit and integration tests on
# SQLite and on a throwaway PostgreSQL cluster, then end-to-end tests in headless Chromium.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh" test
"$ROOT/scripts/build.sh"

step "bundle check (what a shopper downloads)"
"$ROOT/scripts/check-bundle.sh"

step "format check"
cargo fmt --all --check || fail "code is not formatted: run cargo fmt --all"

pgroot="$(mktemp -d /tmp/live-pg.XXXXXX)"
chmod 755 "$pgroot" # the cluster runs as the postgres user when we are root
pgdir="$pgroot/cluster"
trap '"$ROOT/scripts/pg-cluster.sh" stop "$pgdir"; rm -rf "$pgroot"' EXIT
step "PostgreSQL: throwaway cluster"
eval "$("$ROOT/scripts/pg-cluster.sh" start "$pgdir")"
export REQUIRE_POSTGRES=1
# The cluster tests start and stop their own redis-server (Debian's, from setup.sh).
export REQUIRE_REDIS=1
ok "$TEST_POSTGRES_URL"

step "unit and integration tests (SQLite and PostgreSQL)"
cargo test --workspace --release --quiet || fail "cargo tests failed"

step "end-to-end tests (headless Chromium, desktop and 390x844 WeChat)"
(cd "$ROOT/end2end" && npx playwright test) || fail "end-to-end tests failed"
step "small cluster benchmark (3 nodes x 1,000 viewers, checked for counts, not timings)"
REFERENCE=0 DURATION=5 "$ROOT/scripts/bench-live.sh" cluster 3000 || fail "the small cluster run failed"
step "small draw benchmark (300 entrants, the proof re-run; counts, not timings)"
PREBUILT=1 "$ROOT/scripts/bench-draw.sh" 300 3 | tee /dev/stderr | grep -q '"verified":true' || fail "the small draw run failed"
step "small video benchmarks (glass-to-glass and card sync with 3 samples; HLS players direct and 500 through nginx; 5 WHEP viewers and the 503 limit; counts, not timings)"
PREBUILT=1 SAMPLES=3 "$ROOT/scripts/bench-video.sh" || fail "the small glass-to-glass run failed"
PREBUILT=1 "$ROOT/scripts/bench-hls.sh" smoke || fail "the small HLS run failed"
PREBUILT=1 "$ROOT/scripts/bench-whep.sh" smoke || fail "the small WebRTC (WHEP) run failed"
step "all tests passed"
