#!/usr/bin/env bash
# Glass-to-glass latency of live video through the embedded pipeline, measured in headless
# Chromium (publisher canvas with a time code -> WHIP -> ffmpeg HLS -> hls.js viewer).
#   SAMPLES=30 ./scripts/bench-video.sh
# PREBUILT=1: use the client and server as built (the test command's small run, SAMPLES=3).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
if [ "${PREBUILT:-0}" != 1 ]; then
  "$ROOT/scripts/setup.sh" test >/dev/null
  "$ROOT/scripts/build.sh" >/dev/null
fi
cd end2end && npx playwright test --config=bench.config.ts glass-to-glass 2>&1 | grep -E '^\{|passed|failed'
