#!/usr/bin/env bash
# Runs the benchmarks on another x86-64 Linux machine that has neither Debian's packages nor
# a package registry (a lent many-core machine, say): this Debian 12 machine packs Debian's
# PostgreSQL 15, redis-server/redis-cli and nginx + nchan with their libraries (rpath'd to
# /opt/kit/lib) and the release binaries; the other machine unpacks them and runs the
# benchmark scripts with PGBIN, NCHAN_MODULE and PREBUILT=1 pointing at them.
#   scripts/bench-kit.sh pack DIR                  here: DIR/kit.tar.xz, server.xz, loadgen.xz
#   scripts/bench-kit.sh run DIR [smoke|live|rush] there, as root, from a checkout of the repo:
#       smoke  3 nodes x 1,000 viewers (counts only)
#       live   smoke, then 50,000 viewers over 3 nodes with the references, then 100,000
#              over 6 nodes if less than BUDGET_100K seconds (default 300) have passed
#       rush   smoke, then ./scripts/bench-rush.sh 50000 10000 (DATABASES, TARGETS... pass on)
#       rush2  ./scripts/bench-rush.sh 50000 10000 on two cores (`taskset -c 0,1`: server,
#              databases and load generator share them, as on the 2-core machines), no smoke;
#              CORES=0-3 pins to those instead
# Results are printed and, with OUT set, kept in $OUT.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

pack() {
  local dir="$1" k; k="$(mktemp -d /tmp/bench-kit.XXXXXX)"
  command -v patchelf >/dev/null || as_root apt-get install -y -qq patchelf >/dev/null || fail "could not install patchelf"
  [ -x /usr/lib/postgresql/15/bin/postgres ] && command -v redis-server >/dev/null \
    || fail "PostgreSQL 15 and redis-server first: ./scripts/setup.sh test"
  # nginx + nchan (./scripts/bench-live.sh installs them) only for the live-room runs.
  local nchan=1; [ -f "$NCHAN_MODULE" ] && command -v nginx >/dev/null || { nchan=0; step "no nginx + nchan here: a kit for rush2 only"; }
  mkdir -p "$dir" "$k/bin" "$k/lib" "$k/usr/lib/postgresql/15/bin" "$k/usr/lib/postgresql/15/lib" "$k/usr/share/postgresql" "$k/zoneinfo"
  for b in postgres initdb pg_ctl psql; do cp "/usr/lib/postgresql/15/bin/$b" "$k/usr/lib/postgresql/15/bin/"; done
  for f in /usr/lib/postgresql/15/lib/*.so; do case "$(basename "$f")" in llvmjit*) ;; *) cp "$f" "$k/usr/lib/postgresql/15/lib/" ;; esac; done
  cp -r /usr/share/postgresql/15 "$k/usr/share/postgresql/"
  cp /usr/bin/redis-server /usr/bin/redis-cli "$k/bin/"
  ln -s ../usr/lib/postgresql/15/bin/psql "$k/bin/psql"
  if [ "$nchan" = 1 ]; then cp /usr/sbin/nginx "$k/bin/"; cp "$NCHAN_MODULE" "$k/lib/"; fi
  cp -r /usr/share/zoneinfo/UTC /usr/share/zoneinfo/Etc /usr/share/zoneinfo/GMT "$k/zoneinfo/"
  local elfs; elfs="$(find "$k/bin" "$k/usr/lib/postgresql/15" "$k/lib" -type f)"
  # Every library but glibc's own travels along.
  for e in $elfs; do ldd "$e" 2>/dev/null | awk '$3 ~ /^\// {print $3}'; done | sort -u | while read -r l; do
    case "$(basename "$l")" in libc.so*|libm.so*|libresolv.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*) ;; *) cp -L "$l" "$k/lib/" ;; esac
  done
  for e in $elfs "$k"/lib/*.so*; do patchelf --force-rpath --set-rpath /opt/kit/lib "$e" 2>/dev/null || true; done
  strip --strip-unneeded "$k"/bin/redis-* "$k/bin/nginx" "$k"/usr/lib/postgresql/15/bin/* 2>/dev/null || true
  tar -C "$k" -cJf "$dir/kit.tar.xz" . && rm -rf "$k"
  build_release
  for b in server loadgen; do strip -o "$dir/$b" "target/release/$b" && xz -T0 -f "$dir/$b"; done
  ok "$(du -sh "$dir" | cut -f1) in $dir: carry it with the checkout, then: scripts/bench-kit.sh run $dir live"
}

run() {
  local dir="$1" what="$2" t0; t0="$(date +%s)"
  local out="${OUT:-/tmp/bench-kit-out}"; mkdir -p "$out"
  el() { echo $(( $(date +%s) - t0 )); }
  echo "== machine: $(nproc) cores, open files (hard) $(ulimit -Hn), $(ldd --version | head -1)"
  # Python's tarfile and lzma: the machine may have no xz.
  python3 - "$dir" <<'PY' || fail "could not unpack the kit"
import lzma, os, shutil, sys, tarfile
d = sys.argv[1]
if not os.path.exists('/opt/kit/bin/redis-server'):
    os.makedirs('/opt/kit', exist_ok=True)
    with tarfile.open(f'{d}/kit.tar.xz') as t: t.extractall('/opt/kit')
os.makedirs('target/release', exist_ok=True)
for b in ('server', 'loadgen'):
    with lzma.open(f'{d}/{b}.xz') as f, open(f'target/release/{b}', 'wb') as o: shutil.copyfileobj(f, o)
    os.chmod(f'target/release/{b}', 0o755)
PY
  chmod 755 /opt/kit /opt/kit/*
  export PATH="/opt/kit/bin:$PATH" PGBIN=/opt/kit/usr/lib/postgresql/15/bin \
    NCHAN_MODULE=/opt/kit/lib/ngx_nchan_module.so PREBUILT=1 LC_ALL=C.UTF-8 LANG=C.UTF-8 TZ=UTC
  [ -e /usr/share/zoneinfo/UTC ] || { mkdir -p /usr/share/zoneinfo && cp -r /opt/kit/zoneinfo/* /usr/share/zoneinfo/; }
  mkdir -p /var/lib/nginx /var/log/nginx
  id postgres >/dev/null 2>&1 || useradd -r -M -s /bin/sh postgres
  echo "== $("$PGBIN/postgres" --version); $(redis-server --version | cut -d' ' -f1-3); $(command -v nginx >/dev/null && nginx -v 2>&1 || echo "no nginx")"
  if [ "$what" = rush2 ]; then
    echo "== flash sale on cores ${CORES:-0,1} ($(el) s; $(grep -m1 'model name' /proc/cpuinfo))"
    taskset -c "${CORES:-0,1}" ./scripts/bench-rush.sh 50000 10000 2>&1 | tee -a "$out/rush2.txt"
    echo "== done ($(el) s)"; return
  fi
  echo "== smoke ($(el) s)"
  REFERENCE=0 DURATION=5 ./scripts/bench-live.sh cluster 3000 2>&1 | tee "$out/smoke.txt"
  [ "${PIPESTATUS[0]}" = 0 ] || fail "smoke run failed"
  case "$what" in
    smoke) ;;
    live)
      echo "== 50,000 viewers over 3 nodes, with nchan and one node ($(el) s)"
      RAMP_TIMEOUT=150 DURATION=30 ./scripts/bench-live.sh cluster 50000 2>&1 | tee "$out/live50k.txt"
      if [ "$(el)" -lt "${BUDGET_100K:-300}" ]; then
        echo "== 100,000 viewers over 6 nodes ($(el) s)"
        RAMP_TIMEOUT=120 NODES=6 REFERENCE=0 DURATION=30 ./scripts/bench-live.sh cluster 100000 2>&1 | tee "$out/live100k.txt"
      fi ;;
    rush)
      echo "== flash sale ($(el) s)"
      ./scripts/bench-rush.sh 50000 10000 2>&1 | tee "$out/rush.txt" ;;
    *) fail "run DIR smoke|live|rush|rush2" ;;
  esac
  echo "== done ($(el) s)"
}

case "${1:-}" in
  pack) [ $# -eq 2 ] || fail "usage: bench-kit.sh pack DIR"; pack "$2" ;;
  run) [ $# -ge 2 ] || fail "usage: bench-kit.sh run DIR [smoke|live|rush|rush2]"; run "$2" "${3:-live}" ;;
  *) fail "usage: bench-kit.sh pack DIR | run DIR [smoke|live|rush|rush2]" ;;
esac
