#!/usr/bin/env bash
# What each rendition of the bitrate ladder costs: for each APP_MEDIA_LADDER given, a fresh
# release server packages a synthetic 30 fps broadcast (loadgen publish, WHIP) and the CPU time
# of its ffmpeg is read from /proc over a measured window. One JSON line per ladder, then the
# cost of each rung over the copied source alone (cores; 1.0 = one core busy).
#   ./scripts/bench-ladder.sh                      the default ladders below
#   ./scripts/bench-ladder.sh "source" "source,480p:1000k"
# Env: SIZE (published picture, default 1280x720), KBPS (its bitrate, default 2500),
#      WARMUP (s before measuring, default 10), WINDOW (s measured, default 30),
#      PREBUILT=1 (use target/release/{server,loadgen} as they are).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ladders=("$@")
[ ${#ladders[@]} -gt 0 ] || ladders=("source" "source,240p:300k" "source,360p:600k" \
  "source,480p:1000k" "source,720p:2500k" "source,480p:1000k,240p:300k")
size="${SIZE:-1280x720}"; kbps="${KBPS:-2500}"; warmup="${WARMUP:-10}"; window="${WINDOW:-30}"
[ -d dist ] && ls dist/*.html >/dev/null 2>&1 || fail "dist/ is missing: build the client first (./scripts/build.sh)"
build_release
work="$(mktemp -d /tmp/ladder-bench.XXXXXX)"
cleanup() {
  [ -n "${pubpid:-}" ] && kill "$pubpid" 2>/dev/null
  [ -n "${spid:-}" ] && kill "$spid" 2>/dev/null
  sleep 0.5; rm -rf "$work"
}
trap cleanup EXIT

# CPU seconds (user + system) of the ffmpeg processes whose parent is $1.
ffmpeg_cpu() {
  python3 - "$1" <<'PY'
import os, sys
parent, hz, total = sys.argv[1], os.sysconf("SC_CLK_TCK"), 0
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        stat = open(f"/proc/{pid}/stat").read()
        comm, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        if comm == "ffmpeg" and rest[1] == parent:
            total += int(rest[11]) + int(rest[12])
    except (OSError, ValueError, IndexError):
        pass
print(total / hz)
PY
}

results=()
for ladder in "${ladders[@]}"; do
  port="$(free_port)"; rm -rf "$work/media" "$work"/bench.db*
  APP_BIND="127.0.0.1:$port" DATABASE_URL="sqlite://$work/bench.db" APP_DEMO_DATA=true \
    APP_RATE_LIMIT_SCALE=1000 APP_MEDIA_DIR="$work/media" APP_LOG=warn APP_DIST_DIR="$ROOT/dist" \
    APP_MEDIA_LADDER="$ladder" target/release/server >"$work/server.log" 2>&1 &
  spid=$!
  wait_port "$port" || fail "server did not start: $(cat "$work/server.log")"
  read -r sid whip token <<<"$(target/release/loadgen hls-setup --url "http://127.0.0.1:$port" \
    | python3 -c 'import json,sys; o=json.load(sys.stdin); print(o["session_id"], o["whip_url"], o["token"])')"
  target/release/loadgen publish --whip "$whip" --token "$token" --seconds $((warmup + window + 20)) \
    --size "$size" --kbps "$kbps" --audio true >"$work/publish.json" 2>"$work/publish.log" &
  pubpid=$!
  sleep "$warmup"
  master="$(curl -fsS "http://127.0.0.1:$port/hls/$sid/live.m3u8")" || fail "no live playlist for $ladder: $(tail -n 5 "$work/server.log")"
  c0="$(ffmpeg_cpu "$spid")"; t0="$(date +%s.%N)"
  sleep "$window"
  c1="$(ffmpeg_cpu "$spid")"; t1="$(date +%s.%N)"
  line="$(python3 - "$ladder" "$c0" "$c1" "$t0" "$t1" "$master" "$size" "$kbps" <<'PY'
import json, sys
ladder, c0, c1, t0, t1, master, size, kbps = sys.argv[1:]
variants = [l.split(":", 1)[1] for l in master.splitlines() if l.startswith("#EXT-X-STREAM-INF:")]
def attr(v, k):
    return next((a.split("=", 1)[1] for a in v.split(",") if a.startswith(k + "=")), None)
print(json.dumps({"scenario": "ladder", "ladder": ladder, "source": f"{size} H.264 {kbps} kbit/s 30 fps",
                  "ffmpeg_cores": round((float(c1) - float(c0)) / (float(t1) - float(t0)), 3),
                  "variants": [{"resolution": attr(v, "RESOLUTION"), "bandwidth": int(attr(v, "BANDWIDTH") or 0)} for v in variants]}))
PY
)"
  echo "$line"; results+=("$line")
  kill "$pubpid" 2>/dev/null; wait "$pubpid" 2>/dev/null || true; pubpid=""
  kill "$spid"; wait "$spid" 2>/dev/null || true; spid=""
done
python3 - "${results[@]}" <<'PY'
import json, sys
runs = [json.loads(a) for a in sys.argv[1:]]
base = next((r["ffmpeg_cores"] for r in runs if r["ladder"] == "source"), None)
if base is not None:
    print(json.dumps({"summary": {r["ladder"]: {"cores": r["ffmpeg_cores"], "over_source": round(r["ffmpeg_cores"] - base, 3)} for r in runs}}))
PY
