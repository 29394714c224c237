#!/usr/bin/env bash
# Glass-to-glass latency of live video through the embedded pipeline, measured in headless
# Chromium (publisher canvas with a time code -> WHIP -> ffmpeg HLS -> hls.js viewer).
#   SAMPLES=30 ./scripts/bench-video.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh" test >/dev/null
"$ROOT/scripts/build.sh" >/dev/null
cd end2end && npx playwright test --config=bench.config.ts 2>&1 | grep -E '^\{|passed|failed'
