#!/usr/bin/env bash
# Quick start: set up what is missing, build (release) and start the app on
# http://127.0.0.1:3000 with an embedded SQLite database in ./data and the demo data loaded.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh"
"$ROOT/scripts/build.sh"
export APP_DEMO_DATA="${APP_DEMO_DATA:-true}"
export DATABASE_URL="${DATABASE_URL:-sqlite://data/app.db}"
step "starting http://${APP_BIND:-127.0.0.1:3000}"
exec "$ROOT/target/release/server"
