#!/usr/bin/env bash
# Live HLS delivery benchmark: a synthetic broadcast (loadgen publish, WHIP) into a fresh release
# server, then simulated hls.js players (loadgen hls) against three targets, one JSON line each:
#   direct       straight at the node;
#   cache        through nginx with proxy_cache in front of the node
#                (scripts/nginx-hls-cache.conf.template): the node's own request rates show that
#                its load does not grow with the players;
#   nginx-files  nginx serving the same files from disk (the node writes its live playlists
#                beside the segments in APP_MEDIA_DIR), the anchor: `direct/nginx-files` is the
#                ratio of requests per second.
# and a summary line.
#   ./scripts/bench-hls.sh         PLAYERS (default 2000) for DURATION (default 60 s) per target
#   ./scripts/bench-hls.sh smoke   the test suite's check, counts not timings (under 2 minutes):
#                                  20 players direct for 15 s and 500 through the cache for
#                                  20 s; no HTTP errors, every player got segments, and the
#                                  node saw about one request per segment and rendition and a
#                                  bounded playlist rate through the cache.
# Env: PLAYERS, DURATION, RAMP (s to start all players, default 10; smoke 3 and 5),
#      BANDWIDTH_KBPS (per-player caps, round-robin, e.g. "300,1000,5000"; default 0 = none),
#      NGINX_WORKERS (default 2), SIZE (published picture, default 1280x720; smoke 640x360),
#      KBPS (published video bitrate, default 2000; smoke 800), PER_PROCESS (players per
#      load-generator process, default 8000), PREBUILT=1 (use the binaries in target/release),
#      TARGETS (default "direct cache nginx-files"; full mode only), LOADGEN and SERVER (the
#      binaries, default target/release/{loadgen,server}; with PREBUILT=1 nothing is built),
#      DIST_DIR (the built client, default dist/),
#      REQUIRE_METRICS=0 (a server without the live_hls_* counters: no origin figures or checks).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
mode=full
[ "${1:-}" = smoke ] && { mode=smoke; shift; }
workers="${NGINX_WORKERS:-2}"
per_process="${PER_PROCESS:-8000}"
caps="${BANDWIDTH_KBPS:-0}"
if [ "$mode" = smoke ]; then
  size="${SIZE:-640x360}"; kbps="${KBPS:-800}"
else
  size="${SIZE:-1280x720}"; kbps="${KBPS:-2000}"
  players="${PLAYERS:-2000}"; duration="${DURATION:-60}"; ramp="${RAMP:-10}"
fi
S_MAXAGE=1 # the node's live playlists: Cache-Control: public, max-age=0, s-maxage=1

export PATH="$PATH:/usr/sbin" # Debian's nginx, for users whose PATH lacks sbin
command -v nginx >/dev/null || as_root apt-get install -y -qq nginx-light >/dev/null \
  || { as_root apt-get update -qq >/dev/null && as_root apt-get install -y -qq nginx-light >/dev/null; } \
  || fail "could not install nginx-light"
broadcast_bench_setup

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
nofile="$(ulimit -n)"
echo "1024 65535" > /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true

work="$(mktemp -d /tmp/hls-bench.XXXXXX)"
chmod 755 "$work"
mkdir -p "$work/media"
pids_to_stop=()
cleanup() {
  set +e
  # The publisher first, politely: it ends its broadcast with a WHIP DELETE.
  [ -n "${pubpid:-}" ] && stop_publisher "$pubpid"
  for f in "$work"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
  for p in "${pids_to_stop[@]}"; do kill "$p" 2>/dev/null; done
  sleep 0.3
  rm -rf "$work"
}
trap cleanup EXIT

# The pids of an nginx started with pid file $1: master and workers, comma-separated.
nginx_pids() { local m; m="$(cat "$1")"; echo "$m,$(pgrep -P "$m" | paste -sd, -)"; }

# nginx serving $work/media as /hls/ with the node's headers, on port $1; name $2 (pid, logs);
# $3: access log path or "off".
start_nginx_files() {
  local port="$1" name="$2" log="$3"
  cat >"$work/$name.conf" <<CONF
user root;
worker_processes $workers;
worker_rlimit_nofile $nofile;
pid $work/$name.pid;
error_log $work/$name-error.log warn;
events { worker_connections $((nofile / 2)); multi_accept on; }
http {
  access_log $log;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_timeout 75s; keepalive_requests 100000;
  client_body_temp_path $work/$name-body; proxy_temp_path $work/$name-proxy;
  fastcgi_temp_path $work/$name-fastcgi; uwsgi_temp_path $work/$name-uwsgi; scgi_temp_path $work/$name-scgi;
  types { application/vnd.apple.mpegurl m3u8; video/iso.segment m4s; video/mp4 mp4; video/mp2t ts; }
  server {
    listen 127.0.0.1:$port backlog=4096 reuseport;
    location ~ ^/hls/(.+\.m3u8)\$ {
      alias $work/media/\$1;
      add_header Cache-Control "public, max-age=0, s-maxage=$S_MAXAGE";
    }
    location ~ ^/hls/(.+)\$ {
      alias $work/media/\$1;
      add_header Cache-Control "public, max-age=31536000, immutable";
    }
  }
}
CONF
  nginx -c "$work/$name.conf" -p "$work" 2>>"$work/$name-error.log" \
    || fail "nginx ($name) did not start: $(cat "$work/$name-error.log")"
  wait_port "$port" || fail "nginx ($name) did not start: $(cat "$work/$name-error.log")"
}

# nginx with proxy_cache (the template) on port $1 in front of $2 (host:port).
start_nginx_cache() {
  local port="$1" upstream="$2"
  mkdir -p "$work/cache"
  sed -e "s|@USER@|root|g" -e "s|@WORKERS@|$workers|g" -e "s|@NOFILE@|$nofile|g" \
      -e "s|@CONNECTIONS@|$((nofile / 2))|g" -e "s|@PREFIX@|$work|g" \
      -e "s|@CACHE_DIR@|$work/cache|g" -e "s|@LISTEN@|127.0.0.1:$port|g" \
      -e "s|@UPSTREAM@|$upstream|g" "$ROOT/scripts/nginx-hls-cache.conf.template" >"$work/nginx-cache.conf"
  ! grep -n '@[A-Z_]*@' "$work/nginx-cache.conf" || fail "unfilled placeholder in the cache config"
  nginx -t -q -c "$work/nginx-cache.conf" -p "$work" 2>>"$work/nginx-cache-error.log" \
    || fail "the cache config is not valid: $(cat "$work/nginx-cache-error.log")"
  nginx -c "$work/nginx-cache.conf" -p "$work" 2>>"$work/nginx-cache-error.log" \
    || fail "nginx (cache) did not start: $(cat "$work/nginx-cache-error.log")"
  wait_port "$port" || fail "nginx (cache) did not start: $(cat "$work/nginx-cache-error.log")"
}

# Waits (up to $2 s) until the multivariant playlist $1 answers and its first media playlist
# lists at least 3 segments.
wait_hls() {
  python3 - "$1" "${2:-90}" <<'PY'
import sys, time, urllib.request, urllib.parse
url, limit = sys.argv[1], float(sys.argv[2])
end = time.time() + limit
def get(u):
    with urllib.request.urlopen(u, timeout=5) as r:
        return r.read().decode()
while time.time() < end:
    try:
        text = get(url)
        if "#EXT-X-STREAM-INF" in text:  # multivariant: its first variant
            lines = [l.strip() for l in text.splitlines() if l.strip()]
            media = next(l for i, l in enumerate(lines)
                         if not l.startswith("#") and lines[i - 1].startswith("#EXT-X-STREAM-INF"))
            text = get(urllib.parse.urljoin(url, media))
        if text.count("#EXTINF") >= 3:
            sys.exit(0)
    except Exception:
        pass
    time.sleep(0.5)
sys.exit(1)
PY
}

# --- The origin: the release server with a synthetic broadcast.
port="$(free_port)"
step "server (SQLite, demo data) and a synthetic broadcast ($size, $kbps kbit/s)"
APP_BIND="127.0.0.1:$port" DATABASE_URL="sqlite://$work/bench.db" APP_DEMO_DATA=true \
  APP_RATE_LIMIT_SCALE=1000 APP_MEDIA_DIR="$work/media" APP_LOG=warn APP_DIST_DIR="$dist" \
  "$SERVER" >"$work/server.log" 2>&1 &
spid=$!; pids_to_stop+=("$spid")
wait_port "$port" || fail "server did not start: $(cat "$work/server.log")"
setup="$("$LOADGEN" hls-setup --url "http://127.0.0.1:$port")" || fail "hls-setup failed"
# The live playlist: the path the studio is given (hls_url), else /hls/SID/live.m3u8.
read -r sid whip token live <<<"$(python3 -c '
import json, sys
o = json.loads(sys.argv[1])
h = o.get("hls_url") or ""
path = h if h.startswith("/") else "/hls/%s/live.m3u8" % o["session_id"]
print(o["session_id"], o["whip_url"], o["token"], path)' "$setup")"
# Long enough for every run; ended early (SIGTERM, WHIP DELETE) by the cleanup.
pub_secs=600
[ "$mode" = full ] && pub_secs=$(( 120 + 3 * (duration + ramp + 60) ))
"$LOADGEN" publish --whip "$whip" --token "$token" --seconds "$pub_secs" --size "$size" \
  --kbps "$kbps" --audio true >"$work/publish.json" 2>"$work/publish.log" &
pubpid=$!
node_pids="$spid"
metrics_url="http://127.0.0.1:$port/metrics"
if ! wait_hls "http://127.0.0.1:$port$live" 90; then
  [ -f "$work/publish.log" ] && cat "$work/publish.log" >&2
  [ -f "$work/server.log" ] && tail -n 20 "$work/server.log" >&2
  fail "no live HLS at http://127.0.0.1:$port$live after 90 s"
fi
if [ "${REQUIRE_METRICS:-1}" = 1 ]; then
  curl -fsS "$metrics_url" | grep -q '^live_hls_requests_total' \
    || fail "$metrics_url has no live_hls_requests_total (the node's HLS counters are needed)"
else
  metrics_url="" # a node without the HLS counters: no origin figures, no origin checks
fi
ok "live: http://127.0.0.1:$port$live"

# One run: target name, playlist URL, players, duration, ramp, server pids, proxy pids.
run_hls() {
  local name="$1" url="$2" n="$3" d="$4" r="$5" spids="$6" ppids="${7:-}"
  local procs=$(( (n + per_process - 1) / per_process ))
  local out
  out="$("$LOADGEN" hls --url "$url" --players "$n" --duration "$d" --ramp "$r" \
    --bandwidth-kbps "$caps" --processes "$procs" ${metrics_url:+--metrics "$metrics_url"} --pids "$spids" \
    ${ppids:+--proxy-pids "$ppids"})" || fail "loadgen hls ($name) failed"
  python3 -c 'import json,sys; print(json.dumps({"target": sys.argv[1], **json.loads(sys.argv[2])}))' "$name" "$out"
}

# Counts, not timings: what the smoke run and the test suite check.
check() {
  python3 - "$1" "$S_MAXAGE" "${REQUIRE_METRICS:-1}" <<'PY'
import json, sys
o, s_maxage, need_node = json.loads(sys.argv[1]), float(sys.argv[2]), sys.argv[3] == "1"
bad = []
if o["errors"]["total"]:
    bad.append(f'{o["errors"]["total"]} errors: {o["errors"]["by_kind"]}')
if o["players_with_segments"] != o["players"]:
    bad.append(f'{o["players_without_segments"]} of {o["players"]} players got no segment')
node = o.get("node") or {}
if not need_node:
    pass
elif "error" in node or not node:
    bad.append(f'no node figures: {node.get("error", "no --metrics")}')
elif o["target"] == "cache":
    ladder = o.get("ladder") or {}
    playlists = len(ladder.get("variants", [])) + len(ladder.get("audio", [])) + 1
    inits = 2 * playlists + 4
    if node["segment_requests"] > 1.5 * node["segments_landed"] + inits:
        bad.append(f'the node served {node["segment_requests"]} segment requests for '
                   f'{node["segments_landed"]} segments landed (+{inits} for init segments): '
                   'the cache does not collapse them')
    limit = 2 * playlists / s_maxage + 2
    if node["playlist_per_s"] > limit:
        bad.append(f'the node served {node["playlist_per_s"]} playlist requests/s through the '
                   f'cache, over {limit} ({playlists} playlists, s-maxage={s_maxage:g})')
for b in bad:
    print(f'{o["target"]}: {b}', file=sys.stderr)
sys.exit(1 if bad else 0)
PY
}

cport="$(free_port)"
if [ "$mode" = smoke ]; then
  direct="$(run_hls direct "http://127.0.0.1:$port$live" 20 15 "${RAMP:-3}" "$node_pids")"
  echo "$direct"
  start_nginx_cache "$cport" "127.0.0.1:$port"
  cache="$(run_hls cache "http://127.0.0.1:$cport$live" 500 20 "${RAMP:-5}" "$node_pids" "$(nginx_pids "$work/nginx-cache.pid")")"
  echo "$cache"
  status=0
  check "$direct" || status=1
  check "$cache" || status=1
  [ "$status" = 0 ] || fail "the HLS smoke run failed (see above)"
  if [ -n "$metrics_url" ]; then
    ok "HLS smoke: no errors, every player got segments, the cache collapsed the node's requests"
  else
    ok "HLS smoke: no errors, every player got segments (the node's counters were not checked)"
  fi
  exit 0
fi

results=()
for target in ${TARGETS:-direct cache nginx-files}; do
  case "$target" in
    direct)
      line="$(run_hls direct "http://127.0.0.1:$port$live" "$players" "$duration" "$ramp" "$node_pids")" ;;
    cache)
      start_nginx_cache "$cport" "127.0.0.1:$port"
      line="$(run_hls cache "http://127.0.0.1:$cport$live" "$players" "$duration" "$ramp" "$node_pids" "$(nginx_pids "$work/nginx-cache.pid")")"
      kill "$(cat "$work/nginx-cache.pid")"; rm -f "$work/nginx-cache.pid" ;;
    nginx-files)
      fport="$(free_port)"
      start_nginx_files "$fport" nginx-files off
      line="$(run_hls nginx-files "http://127.0.0.1:$fport$live" "$players" "$duration" "$ramp" "$(nginx_pids "$work/nginx-files.pid")")"
      kill "$(cat "$work/nginx-files.pid")"; rm -f "$work/nginx-files.pid" ;;
    *) fail "unknown target $target (direct, cache, nginx-files)" ;;
  esac
  echo "$line"
  results+=("$line")
done
[ -f "$work/publish.log" ] && ! kill -0 "${pubpid:-0}" 2>/dev/null && echo "warning: the publisher ended early: $(cat "$work/publish.log" "$work/publish.json")" >&2
python3 - "${results[@]}" <<'PY'
import json, sys
runs = {o["target"]: o for o in map(json.loads, sys.argv[1:])}
def pick(o):
    n = o.get("node") or {}
    return {"requests_per_s": o["requests"]["per_s"], "mbit_per_s": o["mbit_per_s"],
            "segment_p99_ms": o["segment_latency_ms"]["p99"], "stalls_per_player_minute": o["stalls_per_player_minute"],
            "errors": o["errors"]["total"], "server_cores": (o.get("server") or {}).get("cores"),
            "proxy_cores": (o.get("proxy") or {}).get("cores"),
            "node_playlist_per_s": n.get("playlist_per_s"), "node_segment_per_s": n.get("segment_per_s"),
            "node_landed_per_s": n.get("landed_per_s")}
summary = {"players": next(iter(runs.values()))["players"] if runs else 0,
           "targets": {k: pick(v) for k, v in runs.items()}}
if "direct" in runs and "nginx-files" in runs and runs["nginx-files"]["requests"]["per_s"]:
    summary["direct/nginx-files"] = round(runs["direct"]["requests"]["per_s"] / runs["nginx-files"]["requests"]["per_s"], 3)
print(json.dumps({"summary": summary}))
PY
