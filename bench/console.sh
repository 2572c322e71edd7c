#!/usr/bin/env bash
# console.sh: `make bench-console`, the console's data at scale ("Fast at scale", issue 12):
#   release build (synkro + bench/console_data) -> throwaway PostgreSQL -> `synkro serve` on it
#   (which migrates; no sync workers, CRM clients pointed at a closed port so nothing changes the
#   data) -> console_data fills the database (1,000,000 events over the last 24 h, 100,000 links,
#   100,000 conflicts, 1,000,000 history rows when migration 0009's sync_history exists), VACUUM
#   ANALYZE, then times each console endpoint over HTTP (median and p95 of 20 calls) against the
#   300 ms goal and /healthz's median, and prints a table.
# A benchmark reports: it exits 0 whatever the figures, non-zero only when it could not run.
# Stops everything it started (trap), also on failure or Ctrl-C.
#
# Environment:
#   SYNKRO_BENCH_BUILD_DIR=build-bench   where synkro and console_data are built (release)
#   SYNKRO_BENCH_NO_BUILD=1              use the binaries already in the build dir
#   SYNKRO_BENCH_CALLS=20                calls per endpoint
#   SYNKRO_BENCH_OUT=dir                 results (default <build dir>/results/console-<time>)
#   SYNKRO_BENCH_KEEP_TMP=1              keep the temporary directory
#   SYNKRO_BENCH_WERROR=0                build without -Werror
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

CALLS=${SYNKRO_BENCH_CALLS:-20}
build_dir=${SYNKRO_BENCH_BUILD_DIR:-build-bench}
[[ $build_dir == /* ]] || build_dir=$root/$build_dir
out=${SYNKRO_BENCH_OUT:-$build_dir/results/console-$(date +%Y%m%d-%H%M%S)}

log() { echo "bench-console: $*" >&2; }
die() {
  echo "bench-console: ERROR: $*" >&2
  exit 1
}
# shellcheck source=bench/bench_lib.sh
. "$root/bench/bench_lib.sh"
[[ $CALLS =~ ^[1-9][0-9]*$ ]] || die "SYNKRO_BENCH_CALLS ($CALLS) must be a positive integer"

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
PSQL=$([[ -x "$pg_bin/psql" ]] && echo "$pg_bin/psql" || command -v psql)
werror=$([[ ${SYNKRO_BENCH_WERROR:-1} == 0 ]] && echo OFF || echo ON)
if [[ ${SYNKRO_BENCH_NO_BUILD:-0} == 1 ]]; then
  log "using the existing binaries in $build_dir/ (SYNKRO_BENCH_NO_BUILD=1)"
else
  log "building synkro and console_data (release) in $build_dir/"
  cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DSYNKRO_SANITIZE=OFF -DSYNKRO_TESTS=OFF \
    -DSYNKRO_BENCH=ON -DSYNKRO_WERROR="$werror" >/dev/null
  cmake --build "$build_dir" -j"$(nproc)" --target synkro console_data >/dev/null
fi
bin=$build_dir/synkro
measure=$build_dir/console_data
[[ -x $bin && -x $measure ]] || die "missing $bin or $measure"
mkdir -p "$out"

tmp=$(mktemp -d /tmp/synkro-bench-console.XXXXXX)
chmod 755 "$tmp"
synkro_pid=
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_pid "$synkro_pid"
  scripts/pg.sh stop "$tmp/pg" >/dev/null 2>&1 || true
  if [[ ${SYNKRO_BENCH_KEEP_TMP:-0} == 1 ]]; then log "kept $tmp"; else rm -rf "$tmp"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "starting a throwaway PostgreSQL in $tmp/pg"
db=synkro_bench_console
bench_pg_start "$tmp/pg" "$db"

admin=bench-console-admin-token-0123456789
closed=http://127.0.0.1:9 # CRM clients exist (their budgets show) but never reach a CRM
export DATABASE_URL="postgresql://$pg_user@localhost:$pg_port/$db?host=$pg_sock"
export HUBSPOT_API_BASE=$closed HUBSPOT_ACCESS_TOKEN=pat-bench-console
export SALESFORCE_LOGIN_URL=$closed SALESFORCE_CLIENT_ID=bench-console SALESFORCE_CLIENT_SECRET=bench-console-secret
export SALESFORCE_REFRESH_TOKEN=bench-refresh-token
export SYNKRO_ADMIN_TOKEN=$admin LOG_LEVEL=${LOG_LEVEL:-warn} SYNKRO_WORKERS=0 SYNKRO_SWEEP_INTERVAL=0
for attempt in 1 2 3 4 5; do
  port=$(free_port)
  base=http://127.0.0.1:$port
  export SYNKRO_LISTEN=127.0.0.1:$port
  "$bin" serve >"$out/synkro.log" 2>&1 &
  synkro_pid=$!
  for i in $(seq 1 300); do
    kill -0 "$synkro_pid" 2>/dev/null || break
    [[ $(curl -s -o /dev/null -w '%{http_code}' "$base/readyz" || true) == 200 ]] && break 2
    [[ $i -eq 300 ]] && die "synkro not ready after 30 s"
    sleep 0.1
  done
  [[ $attempt -eq 5 ]] && die "synkro did not start: $(tail -5 "$out/synkro.log")"
done
log "synkro serving on $base (migrated: $("$bin" migrate --status 2>/dev/null | tail -1 || true))"

"$measure" --db "$DATABASE_URL" --url "$base" --token "$admin" --calls "$CALLS" | tee "$out/table.md"
log "results in $out (table.md, synkro.log)"
