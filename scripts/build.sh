#!/usr/bin/env bash
# Release build: the Wasm client into dist/ (Trunk) and the server binary.
#   ./scripts/build.sh       release client (small, panics abort) and release server
#   ./scripts/build.sh dev   development client: debug assertions, so a panic names the
#                            reactive value and where it was created (bigger and slower)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
client_mode="--release"
[ "${1:-}" = "dev" ] && client_mode=""

# Three bundles: the shoppers' app (dist/), the live room (dist/live-app/) and the studio
# (dist/studio-app/), so a shopper waiting for a session downloads neither of the others. The
# shoppers' build first: a Trunk build empties its dist folder.
step "client: trunk build ${client_mode:-(development)} (dist/, dist/live-app/, dist/studio-app/)"
(
  wasm_build_env
  # shellcheck disable=SC2086 # empty for the development build
  trunk build $client_mode 2>&1 | grep -vE '^\s*$' | tail -n 5
  # shellcheck disable=SC2086
  trunk build app/live.html $client_mode --dist dist/live-app --public-url /live-app/ 2>&1 \
    | grep -vE '^\s*$' | tail -n 5
  # shellcheck disable=SC2086
  trunk build app/studio.html $client_mode --dist dist/studio-app --public-url /studio-app/ 2>&1 \
    | grep -vE '^\s*$' | tail -n 5
) || fail "client build failed"
ls dist/*_bg.wasm >/dev/null 2>&1 || fail "client build produced no .wasm in dist/"
ls dist/live-app/*_bg.wasm >/dev/null 2>&1 || fail "live room build produced no .wasm in dist/live-app/"
ls dist/studio-app/*_bg.wasm >/dev/null 2>&1 || fail "studio build produced no .wasm in dist/studio-app/"
ok "$(du -k dist/*_bg.wasm | awk '{print $1 " KiB shoppers wasm"}'), $(du -k dist/live-app/*_bg.wasm | awk '{print $1 " KiB live room wasm"}'), $(du -k dist/studio-app/*_bg.wasm | awk '{print $1 " KiB studio wasm"}')"
# WeChat's JS-SDK, served from this site (never WeChat's CDN): the pinned npm package
# `weixin-js-sdk` (app/package.json) is CommonJS; wrapped so a <script> defines `wx`.
sdk="$ROOT/app/node_modules/weixin-js-sdk/index.js"
[ -f "$sdk" ] || fail "missing $sdk: run scripts/setup.sh"
mkdir -p dist/public/vendor
{ echo '(function(){var module={exports:{}};'; cat "$sdk"; echo ';window.wx=module.exports;})();'; } >dist/public/vendor/jweixin.js

step "server: cargo build --release"
# wechat-sim: the local WeChat Pay server the browser tests pay through (never deployed).
cargo build --release -p server -p wechat-sim --quiet || fail "server build failed"
ok "target/release/server"
