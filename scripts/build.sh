#!/usr/bin/env bash
# Release build: the Wasm client into dist/ (Trunk) and the server binary.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

step "client: trunk build --release (dist/)"
(
  wasm_build_env
  trunk build --release 2>&1 | grep -vE '^\s*$' | tail -n 5
) || fail "client build failed"
ls dist/*_bg.wasm >/dev/null 2>&1 || fail "client build produced no .wasm in dist/"
ok "$(du -k dist/*_bg.wasm | awk '{print $1 " KiB wasm"}')"

step "server: cargo build --release"
cargo build --release -p server --quiet || fail "server build failed"
ok "target/release/server"
