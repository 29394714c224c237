# Shared helpers for the project scripts (sourced, not run).
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TRUNK_VERSION="0.21.14"
# The client build's Node tools (wasm-opt from binaryen): app/package.json.
NODE_BIN="$ROOT/app/node_modules/.bin"
# Where the benchmarks find PostgreSQL 15 and nchan: Debian's by default; another machine
# (one without Debian's packages, say) points these at its own builds.
PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"
NCHAN_MODULE="${NCHAN_MODULE:-/usr/lib/nginx/modules/ngx_nchan_module.so}"
# The benchmarks build the release binaries first, unless PREBUILT=1 (binaries carried in).
build_release() {
  [ "${PREBUILT:-0}" = 1 ] && [ -x "$ROOT/target/release/server" ] && [ -x "$ROOT/target/release/loadgen" ] && return 0
  cargo build --release -p server -p loadgen --quiet
}

step() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
ok()   { printf '    \033[32mok\033[0m %s\n' "$*"; }
fail() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# Runs a command as root (directly, or through sudo on a developer machine).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else fail "need root to run: $* (install sudo or run as root)"; fi
}

# The wasm-bindgen version pinned in Cargo.lock; the CLI must be exactly this version.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}

# True when rustup provides the wasm32 standard library (a normal developer machine).
have_rustup_wasm_target() {
  command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown
}

# Exports what the client build needs. Either rustup's wasm32 target, or Debian's rustc with
# std built from source (-Z build-std) and wasm-ld (see ../shared/TOOLCHAIN.md).
wasm_build_env() {
  export PATH="$NODE_BIN:$HOME/.cargo/bin:$PATH"
  # The client gets its own target dir so the two toolchains never invalidate each other.
  export CARGO_TARGET_DIR="$ROOT/target/wasm"
  if have_rustup_wasm_target; then
    return 0
  fi
  [ -x /usr/bin/wasm-ld-22 ] && [ -d /usr/lib/rustlib/src/rust/library ] \
    || fail "no wasm32 toolchain: run ./scripts/setup.sh"
  export PATH="/usr/bin:$PATH"
  export RUSTC_BOOTSTRAP=1
  export CARGO_UNSTABLE_BUILD_STD=std,panic_abort
  export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=/usr/bin/wasm-ld-22
}

# What the benchmarks of a live broadcast need: sets LOADGEN and SERVER (the binaries, default
# target/release/{loadgen,server}) and dist (the built client, DIST_DIR, default dist/), checks
# the client, ffmpeg and curl are there, builds unless PREBUILT=1 and checks the binaries.
broadcast_bench_setup() {
  LOADGEN="${LOADGEN:-$ROOT/target/release/loadgen}"
  SERVER="${SERVER:-$ROOT/target/release/server}"
  dist="${DIST_DIR:-$ROOT/dist}"
  [ -d "$dist" ] && ls "$dist"/*.html >/dev/null 2>&1 \
    || fail "$dist is missing: build the client first (./scripts/build.sh)"
  [ -x /usr/bin/ffmpeg ] || fail "/usr/bin/ffmpeg is needed (Debian package ffmpeg)"
  command -v curl >/dev/null || fail "curl is needed"
  [ "${PREBUILT:-0}" = 1 ] || build_release
  [ -x "$SERVER" ] || fail "no server binary at $SERVER"
  [ -x "$LOADGEN" ] || fail "no load generator at $LOADGEN"
}

# Ends a `loadgen publish` (pid $1) politely: SIGTERM, so it sends its WHIP DELETE; KILL after 5 s.
stop_publisher() {
  kill -0 "$1" 2>/dev/null || return 0
  kill -TERM "$1"
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
}

# A free TCP port on loopback.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# True when something accepts connections on loopback port $1.
listening() { python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.2); sys.exit(s.connect_ex(('127.0.0.1',$1)))"; }
# Waits up to 10 s for loopback port $1 to accept connections.
wait_port() { for _ in $(seq 100); do listening "$1" && return 0; sleep 0.1; done; return 1; }

# A throwaway redis-server (Debian's) on a free loopback port, nothing saved, pid and log in
# $1; prints its port.
start_redis() {
  local dir="$1" port; port="$(free_port)"
  command -v redis-server >/dev/null || fail "redis-server is not installed: run ./scripts/setup.sh test"
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
    --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --maxclients 10000 >/dev/null
  wait_port "$port" || fail "redis-server did not start: $(cat "$dir/redis.log" 2>/dev/null)"
  echo "$port"
}
