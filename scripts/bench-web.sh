#!/usr/bin/env bash
# What a phone downloads and how fast the pages paint, on the release build:
#  - bundle sizes per entry (the shoppers' app, the live room, the studio), raw and brotli as
#    the server sends them (`Accept-Encoding: br`), and hls.js (loaded only when a live stage
#    opens);
#  - Lighthouse 12.2.3 (scripts/lighthouse/, installed here on first use) against Debian's
#    Chromium, mobile preset (simulated slow 4G, 4x CPU slowdown), on `/`, `/s/{id}` and
#    `/i/{code}`: performance score, LCP, TBT, CLS, FCP, the median run of RUNS by score.
#   ./scripts/bench-web.sh [RUNS]        (default 3)
# Prints a table and writes target/bench-web.json.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
runs="${1:-3}"
[ -f dist/index.html ] && [ -f dist/live-app/index.html ] && [ -f dist/studio-app/index.html ] \
  || "$ROOT/scripts/build.sh"
[ -x target/release/server ] || "$ROOT/scripts/build.sh"
command -v chromium >/dev/null || fail "Chromium missing: run scripts/setup.sh --test"

lh="$ROOT/scripts/lighthouse"
if [ ! -x "$lh/node_modules/.bin/lighthouse" ] \
   || [ "$lh/package-lock.json" -nt "$lh/node_modules/.package-lock.json" ]; then
  step "installing Lighthouse (scripts/lighthouse/package-lock.json)"
  (cd "$lh" && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci in scripts/lighthouse failed"
fi

work="$(mktemp -d /tmp/live-web.XXXXXX)"
server_pid=""
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"' EXIT
port="$(free_port)"
base="http://127.0.0.1:$port"
APP_BIND="127.0.0.1:$port" DATABASE_URL="sqlite://$work/app.db" APP_DEMO_DATA=true APP_LOG=warn \
  APP_DIST_DIR="$ROOT/dist" APP_UPLOAD_DIR="$work/uploads" APP_MEDIA_DIR="$work/media" "$ROOT/target/release/server" >"$work/server.log" 2>&1 &
server_pid=$!
wait_port "$port" || { cat "$work/server.log"; fail "server did not start"; }

# The demo session, and an invite made by a shopper who reserved it.
sid="$(curl -fsS "$base/api/sessions/list" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[0].id))')"
jar="$work/jar"
curl -fsS -c "$jar" -b "$jar" -X POST "$base/api/sessions/reserve" -d "session_id=$sid" >/dev/null
code="$(curl -fsS -c "$jar" -b "$jar" -X POST "$base/api/invites/create" -d "session_id=$sid" \
  | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).code))')"
[ -n "$code" ] || fail "could not make an invite"

size() { # raw and brotli bytes of URL path $1, as served
  local raw br
  raw="$(curl -fsS -o /dev/null -w '%{size_download}' "$base$1")"
  br="$(curl -fsS -o /dev/null -w '%{size_download}' -H 'Accept-Encoding: br' "$base$1")"
  echo "$raw $br"
}
entry_sizes() { # the wasm and js a shell at page $1 loads (Trunk's hashed names)
  local html; html="$(curl -fsS "$base$1")"
  grep -oE "/[a-z-]*/?[a-z]+-[0-9a-f]{8,16}(_bg\.wasm|\.js)" <<<"$html" | sort -u
}
sizes_json="["
printf '\n%-22s %10s %10s\n' "file" "raw" "brotli"
# The demo session is scheduled: its page loads the shoppers' bundle; "My orders" always the
# live room's.
for page in "/s/$sid" "/orders" "/studio"; do
  total_raw=0; total_br=0
  for f in $(entry_sizes "$page"); do
    read -r raw br < <(size "$f")
    printf '%-22s %10d %10d\n' "$(basename "$f")" "$raw" "$br"
    total_raw=$((total_raw + raw)); total_br=$((total_br + br))
  done
  case "$page" in /studio) name=studio ;; /orders) name="live room" ;; *) name=shoppers ;; esac
  printf '%-22s %10d %10d\n' "= $name wasm+js" "$total_raw" "$total_br"
  sizes_json+="{\"entry\":\"$name\",\"raw\":$total_raw,\"brotli\":$total_br},"
done
read -r raw br < <(size /public/vendor/hls.min.js)
printf '%-22s %10d %10d\n' "hls.min.js" "$raw" "$br"
sizes_json+="{\"entry\":\"hls.js (live stage only)\",\"raw\":$raw,\"brotli\":$br}]"

step "Lighthouse 12.2.3, mobile, median of $runs"
results="["
for page in "/" "/s/$sid" "/i/$code"; do
  for i in $(seq "$runs"); do
    # Lighthouse now and then loses the trace (NO_NAVSTART): such a run is tried again.
    for attempt in 1 2 3; do
      rm -rf "$work/chrome-$i"
      CHROME_PATH=/usr/bin/chromium "$lh/node_modules/.bin/lighthouse" "$base$page" \
        --only-categories=performance --output=json --output-path="$work/lh-$i.json" --quiet \
        --chrome-flags="--headless=new --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync --user-data-dir=$work/chrome-$i" \
        && break
      [ "$attempt" = 3 ] && fail "lighthouse failed on $page three times"
    done
  done
  line="$(node - "$page" "$work" "$runs" <<'EOF'
const fs = require("fs");
const [page, dir, runs] = process.argv.slice(2);
const all = [];
for (let i = 1; i <= Number(runs); i++) {
  const r = JSON.parse(fs.readFileSync(`${dir}/lh-${i}.json`, "utf8"));
  const a = r.audits;
  all.push({
    page, score: Math.round(r.categories.performance.score * 100),
    lcp_ms: Math.round(a["largest-contentful-paint"].numericValue),
    fcp_ms: Math.round(a["first-contentful-paint"].numericValue),
    tbt_ms: Math.round(a["total-blocking-time"].numericValue),
    cls: Number(a["cumulative-layout-shift"].numericValue.toFixed(3)),

  });
}
all.sort((x, y) => x.score - y.score || y.lcp_ms - x.lcp_ms);
console.log(JSON.stringify(all[Math.floor(all.length / 2)]));
EOF
)"
  echo "$line"
  results+="$line,"
done
results="${results%,}]"
mkdir -p target
echo "{\"sizes\":$sizes_json,\"lighthouse\":$results}" >target/bench-web.json
ok "target/bench-web.json"
