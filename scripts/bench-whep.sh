#!/usr/bin/env bash
# WebRTC playback (WHEP): how many viewers one node holds before packet loss exceeds 1%.
# A fresh release server (SQLite, demo data, APP_WHEP_MAX_VIEWERS high, the HLS ladder cut to
# the copied source so ffmpeg costs little) ingests a synthetic broadcast (loadgen publish,
# WHIP); `loadgen whep` then plays it with steps of str0m WHEP viewers (ICE, DTLS, SRTP), each
# step a fresh set joining at JOIN_RATE a second and watching DURATION s, and reads the node's
# CPU (utime + stime from /proc/PID/stat) and RSS (VmRSS) over the window in which all of a
# step's viewers are in, and where the kernel dropped datagrams (the node's sockets or the
# viewers'). One JSON line per step, the summary, then a table.
#   ./scripts/bench-whep.sh         STEPS (default 50,100,200,400,800,1600) until loss > 1%,
#                                   a viewer fails to connect or the viewers get fewer than
#                                   MIN_FPS frames a second (the node fell behind real time)
#   ./scripts/bench-whep.sh smoke   counts, not timings (about 40 s): 5 viewers for 3 s all
#                                   connect, get key frames, frames and audio, and leave; then
#                                   7 viewers at a limit of 5: 2 refused with 503
# Env: STEPS, DURATION (s each step's viewers watch after the last joined, default 20),
#      JOIN_RATE (viewers/s, default 100), MAX_LOSS (default 0.01), MIN_FPS (default 28.5 of
#      the broadcast's 30), KEEP_GOING=1 (all steps),
#      SIZE (published picture, default 1280x720; smoke 640x360), KBPS (its bitrate, default
#      2000; smoke 800), LADDER (APP_MEDIA_LADDER, default "source"),
#      PIN (default 1 with 2+ cores: the server and its ffmpeg on SERVER_CPUS, default 0, the
#      publisher and the viewers on LOADGEN_CPUS, default 1, via taskset; 0: no pinning),
#      SOURCE_IPS (viewer source addresses 127.0.1.x, default 0 = 127.0.0.1),
#      PREBUILT=1 (use the binaries as they are), LOADGEN and SERVER (the binaries, default
#      target/release/{loadgen,server}), DIST_DIR (the built client, default dist/).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
mode=full
[ "${1:-}" = smoke ] && { mode=smoke; shift; }
if [ "$mode" = smoke ]; then
  size="${SIZE:-640x360}"; kbps="${KBPS:-800}"
else
  size="${SIZE:-1280x720}"; kbps="${KBPS:-2000}"
fi
steps="${STEPS:-50,100,200,400,800,1600}"
duration="${DURATION:-20}"; join_rate="${JOIN_RATE:-100}"; max_loss="${MAX_LOSS:-0.01}"
# Real time too: 95% of the broadcast's 30 frames a second (a late node delays, not drops).
min_fps="${MIN_FPS:-28.5}"
ladder="${LADDER:-source}"
broadcast_bench_setup

# One UDP socket per viewer on each side.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
pin_server=(); pin_loadgen=()
if [ "${PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  pin_server=(taskset -c "${SERVER_CPUS:-0}")
  pin_loadgen=(taskset -c "${LOADGEN_CPUS:-1}")
fi

work="$(mktemp -d /tmp/whep-bench.XXXXXX)"
cleanup() {
  set +e
  # The publisher first, politely: it ends its broadcast with a WHIP DELETE.
  [ -n "${pubpid:-}" ] && stop_publisher "$pubpid"
  [ -n "${spid:-}" ] && kill "$spid" 2>/dev/null
  sleep 0.3
  rm -rf "$work"
}
trap cleanup EXIT

# Starts the node with a WHEP limit of $1 and a broadcast of $2 s; sets port, sid, spid, pubpid.
start_node() {
  port="$(free_port)"
  APP_BIND="127.0.0.1:$port" DATABASE_URL="sqlite://$work/bench.db" APP_DEMO_DATA=true \
    APP_RATE_LIMIT_SCALE=1000 APP_MEDIA_DIR="$work/media" APP_LOG=warn APP_DIST_DIR="$dist" \
    APP_MEDIA_LADDER="$ladder" APP_WHEP_MAX_VIEWERS="$1" \
    "${pin_server[@]}" "$SERVER" >"$work/server.log" 2>&1 &
  spid=$!
  wait_port "$port" || fail "server did not start: $(cat "$work/server.log")"
  local whip token
  read -r sid whip token <<<"$("$LOADGEN" hls-setup --url "http://127.0.0.1:$port" \
    | python3 -c 'import json,sys; o=json.load(sys.stdin); print(o["session_id"], o["whip_url"], o["token"])')" \
    || fail "hls-setup failed"
  "${pin_loadgen[@]}" "$LOADGEN" publish --whip "$whip" --token "$token" --seconds "$2" \
    --size "$size" --kbps "$kbps" --audio true >"$work/publish.json" 2>"$work/publish.log" &
  pubpid=$!
  # Live once the packager has written its playlist (the session's RTP feed is then up).
  for _ in $(seq 90); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/hls/$sid/live.m3u8" 2>/dev/null && break
    kill -0 "$pubpid" 2>/dev/null || fail "the publisher ended: $(cat "$work/publish.log" "$work/publish.json")"
    sleep 1
  done
  curl -fsS -o /dev/null "http://127.0.0.1:$port/hls/$sid/live.m3u8" \
    || fail "no broadcast after 90 s: $(tail -n 20 "$work/server.log")"
  sleep 2
}

stop_node() {
  stop_publisher "$pubpid"; wait "$pubpid" 2>/dev/null || true; pubpid=""
  kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null || true; spid=""
  rm -rf "$work/media" "$work"/bench.db*
}

# loadgen whep against the node, the step lines on stdout (summary last); extra flags after.
run_whep() {
  "${pin_loadgen[@]}" "$LOADGEN" whep --url "http://127.0.0.1:$port/whep/$sid" --pids "$spid" \
    --source-ips "${SOURCE_IPS:-0}" --max-loss "$max_loss" --min-fps "$min_fps" "$@"
}

metric() { curl -fsS "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

if [ "$mode" = smoke ]; then
  step "smoke: 5 WHEP viewers for 3 s, then 7 at a limit of 5 ($size, $kbps kbit/s)"
  start_node 5 120
  out="$(run_whep --steps 5,7 --duration 3 --join-rate 50 --baseline 1 --pause 2 --keep-going true)" \
    || fail "loadgen whep failed"
  echo "$out"
  sleep 1
  python3 - "$out" "$(metric live_whep_viewers)" "$(metric live_whep_viewers_total)" \
    "$(metric live_whep_refused_total)" <<'PY' || fail "the WHEP smoke run failed (see above)"
import json, sys
lines = [json.loads(l) for l in sys.argv[1].splitlines() if l.strip()]
now, total, refused = (float(x or -1) for x in sys.argv[2:5])
steps = [l for l in lines if l.get("viewers") in (5, 7) and "connected" in l]
bad = []
if len(steps) != 2:
    bad.append(f"expected two steps, got {len(steps)}")
else:
    a, b = steps
    if a["connected"] != 5 or a["errors"] or a["not_connected"] or a["refused_503"]:
        bad.append(f"5 viewers: {a['connected']} connected, {a['refused_503']} refused, "
                   f"{a['not_connected']} not connected, {a['errors']} errors ({a['first_error']})")
    if a["keyframes"] < 5 or a["frames"] < 5 * 30 or a["audio_packets"] < 5 * 50:
        bad.append(f"5 viewers got {a['keyframes']} key frames, {a['frames']} frames, "
                   f"{a['audio_packets']} audio packets")
    if a["deleted"] != 5:
        bad.append(f"{a['deleted']} of 5 viewers left with DELETE 200")
    if b["connected"] != 5 or b["refused_503"] != 2:
        bad.append(f"7 viewers at a limit of 5: {b['connected']} connected, {b['refused_503']} refused")
if now != 0 or total != 10 or refused != 2:
    bad.append(f"/metrics: live_whep_viewers {now:g} (0), live_whep_viewers_total {total:g} (10), "
               f"live_whep_refused_total {refused:g} (2)")
for m in bad:
    print("whep smoke:", m, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
  ok "WHEP smoke: 5 viewers connected, played and left; 2 of 7 refused with 503 at the limit"
  exit 0
fi

last="${steps##*,}"
step "server ${pin_server[*]:-(not pinned)}, viewers ${pin_loadgen[*]:-(not pinned)}; broadcast $size at $kbps kbit/s; steps $steps"
# Long enough for every step (each: join + DURATION + pause); ended early by the cleanup.
n_steps="$(tr ',' '\n' <<<"$steps" | wc -l)"
start_node 100000 $(( 60 + n_steps * (duration + 10) + (last * n_steps) / join_rate ))
flags=(--steps "$steps" --duration "$duration" --join-rate "$join_rate")
[ "${KEEP_GOING:-0}" = 1 ] && flags+=(--keep-going true)
run_whep "${flags[@]}" | tee "$work/whep.jsonl" || fail "loadgen whep failed"
kill -0 "$pubpid" 2>/dev/null || echo "warning: the publisher ended early: $(cat "$work/publish.log" "$work/publish.json")" >&2
python3 - "$work/whep.jsonl" "$(nproc)" "${pin_server[*]:-}" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
steps = [l for l in lines if l.get("viewers") and "connected" in l]
summary = next((l for l in lines if l.get("summary")), {})
idle = next((l["server"] for l in lines if l.get("viewers") == 0), {})
print(f"\nmachine: {sys.argv[2]} cores; server pinned: {sys.argv[3] or 'no'}; "
      f"idle node (broadcast, no viewer): {idle.get('cores')} cores + ffmpeg "
      f"{idle.get('children_cores')}, RSS {idle.get('rss_kib_peak', 0) / 1024:.0f} MiB")
print("| viewers | connected | loss | worst viewer | fps/viewer | first key frame p50/p95 ms "
      "| server cores | server RSS MiB | per viewer: millicores, KiB | loadgen cores | machine busy (softirq; others) | UDP drops: server (one socket), viewers |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for s in steps:
    sv, pv, fk, m = s["server"] or {}, s["per_viewer"], s["first_keyframe_ms"], s.get("machine") or {}
    ds, dl = s["udp_drops"]["server"], s["udp_drops"]["loadgen"]
    print(f"| {s['viewers']} | {s['connected']} | {s['loss'] * 100:.2f}% | {s['worst_viewer_loss'] * 100:.2f}% "
          f"| {s['fps_per_viewer']} | {fk['p50']} / {fk['p95']} | {sv.get('cores')} "
          f"| {sv.get('rss_kib_peak', 0) / 1024:.0f} | {pv['server_millicores']}, {pv['server_rss_kib']} "
          f"| {s['loadgen_cores']} | {m.get('busy_cores')} ({m.get('softirq_cores')}; {m.get('other_cores')}) "
          f"| {ds['total']} ({ds['most_on_one_socket']}), {dl['total']} |")
busy = [s["viewers"] for s in steps if ((s.get("machine") or {}).get("other_cores") or 0) > 0.1]
if busy:
    print(f"\nwarning: other processes used more than 0.1 of a core during the steps of {busy} viewers: "
          "those figures are not the node's alone (run again on a quiet machine)")
print(f"\none node holds {summary.get('holds')} WHEP viewers with loss <= {summary.get('max_loss')}"
      f" and >= {summary.get('min_fps')} frames/s each"
      + (f" (stopped: {summary['stopped']})" if summary.get("stopped") else ""))
PY
