#!/usr/bin/env bash
# Makes a Debian 12 machine ready to build, run and test the app. Idempotent: every step
# checks first and skips what is already there.
#   ./scripts/setup.sh        what building and running needs
#   ./scripts/setup.sh test   also Chromium, PostgreSQL 15 and the end-to-end test packages
set -euo pipefail
source "$(dirname "$0")/lib.sh"
want_test=0
[ "${1:-}" = "test" ] && want_test=1

step "Rust toolchain"
command -v cargo >/dev/null || fail "cargo not found: install Rust with rustup (https://rustup.rs), then re-run"
ok "$(cargo --version)"

step "Debian packages"
pkgs=()
if ! have_rustup_wasm_target; then
  # rustup's wasm32 target is missing. Try to add it (works where the rustup server is
  # reachable); otherwise use Debian's rustc and build std from source.
  if ! dpkg -s rustc-web >/dev/null 2>&1 && command -v rustup >/dev/null \
     && timeout 45 rustup target add wasm32-unknown-unknown >/dev/null 2>&1; then
    ok "rustup target wasm32-unknown-unknown added"
  else
    pkgs+=(rustc-web cargo-web rust-web-src lld-22)
  fi
fi
command -v node >/dev/null || pkgs+=(nodejs npm)
# Live video: ffmpeg packages HLS (and ffprobe checks it in the tests).
pkgs+=(ffmpeg)
if [ $want_test -eq 1 ]; then
  # Redis: the tests run server nodes sharing live rooms, counters and limits through it.
  pkgs+=(chromium chromium-driver postgresql-15 redis-server)
  # nginx: the HLS smoke run puts a proxy cache in front of a node (scripts/bench-hls.sh);
  # with its RTMP module, the restream tests' destination (server/tests/restream.rs).
  pkgs+=(nginx-light libnginx-mod-rtmp)
  # A CJK font for Chromium: Chinese pages and their screenshots render readable glyphs,
  # not boxes (WenQuanYi Micro Hei: 1.6 MB, against 56 MB for Noto CJK).
  pkgs+=(fonts-wqy-microhei)
fi
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "    installing: ${missing[*]}"
  as_root apt-get update -qq || fail "apt-get update failed: check the network and /etc/apt/sources.list"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null \
    || fail "apt-get install ${missing[*]} failed"
fi
ok "${pkgs[*]:-nothing extra needed}"

step "trunk $TRUNK_VERSION"
if command -v trunk >/dev/null && trunk --version | grep -q " $TRUNK_VERSION"; then
  ok "already installed"
else
  echo "    cargo install trunk@$TRUNK_VERSION --locked (about 8 minutes on 2 cores)"
  cargo install "trunk@$TRUNK_VERSION" --locked --quiet || fail "installing trunk failed; see the cargo output above"
  ok "installed"
fi

wbg="$(wasm_bindgen_version)"
[ -n "$wbg" ] || fail "wasm-bindgen not found in Cargo.lock"
step "wasm-bindgen-cli $wbg (must equal the wasm-bindgen crate in Cargo.lock)"
if command -v wasm-bindgen >/dev/null && wasm-bindgen --version | grep -q " $wbg$"; then
  ok "already installed"
else
  # Not --locked: its lock file names a webpki-roots release the registry no longer serves.
  cargo install "wasm-bindgen-cli@$wbg" --force --quiet || fail "installing wasm-bindgen-cli $wbg failed"
  ok "installed"
fi

# Each Node package folder installed when its lock file is newer than what is installed:
# app/ (what the client build uses: wasm-opt, hls.js, WeChat's JS-SDK) and end2end/ (Playwright).
for dir in app end2end; do
  step "Node packages ($dir/package.json)"
  if [ -f "$ROOT/$dir/node_modules/.package-lock.json" ] \
     && [ "$ROOT/$dir/node_modules/.package-lock.json" -nt "$ROOT/$dir/package-lock.json" ]; then
    ok "up to date"
  else
    (cd "$ROOT/$dir" && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci in $dir/ failed"
    ok "installed"
  fi
done

if [ $want_test -eq 1 ]; then
  step "Chromium, PostgreSQL, Redis and nginx"
  [ -x /usr/sbin/nginx ] || command -v nginx >/dev/null || fail "nginx missing after install"
  [ -f /usr/lib/nginx/modules/ngx_rtmp_module.so ] || fail "nginx's RTMP module missing after install (libnginx-mod-rtmp)"
  [ -x /usr/bin/chromium ] || fail "/usr/bin/chromium missing after install"
  [ -x /usr/lib/postgresql/15/bin/initdb ] || fail "PostgreSQL 15 binaries missing after install"
  command -v redis-server >/dev/null || fail "redis-server missing after install"
  # The package starts a system-wide instance; tests start their own on free ports.
  if command -v systemctl >/dev/null && systemctl is-active --quiet redis-server 2>/dev/null; then
    as_root systemctl disable --now redis-server >/dev/null 2>&1 || true
  fi
  # Likewise nginx on port 80 (only the system instance, by its own pid file).
  if command -v systemctl >/dev/null && systemctl is-active --quiet nginx 2>/dev/null; then
    as_root systemctl disable --now nginx >/dev/null 2>&1 || true
  elif [ -s /run/nginx.pid ] && kill -0 "$(cat /run/nginx.pid)" 2>/dev/null; then
    as_root /usr/sbin/nginx -s quit 2>/dev/null || true
  fi
  ok "$(/usr/bin/chromium --version 2>/dev/null | head -n1); PostgreSQL $(/usr/lib/postgresql/15/bin/postgres --version | awk '{print $3}'); $(redis-server --version | awk '{print $1, $2, $3}')"
fi
step "setup complete"
