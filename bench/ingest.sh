#!/usr/bin/env bash
# ingest.sh: `make bench-ingest`, the webhook ingest benchmark, in one run:
#   deps (wrk, PostgreSQL, pgbench) -> release build in build-bench/ -> throwaway PostgreSQL
#   (fsync on) -> `synkro serve` on a free port -> phases, each with wrk (or pgbench) at the same
#   concurrency, side by side:
#     (a) GET /healthz                      the HTTP ceiling
#     (b) pgbench, 1-row INSERT commits     the database commit ceiling
#     (c) HubSpot, 1 event per request      (d) HubSpot, 100 events per request
#     (e1) Salesforce, 1 notification       (e100) Salesforce, 100 notifications
#   Every webhook request is distinct, valid and (HubSpot) freshly signed; each ingest phase has
#   a short warm-up whose rate sizes the main run's pre-generated requests.
# After each ingest phase it VERIFIES that the rows stored equal the acknowledged events (plus
# the events of requests still in flight when wrk stopped, each looked up individually); any
# mismatch, lost or partial request, repeated request or 4xx exits non-zero. Stops everything it
# started (trap), also on failure or Ctrl-C. Results and logs stay in $BENCH_OUT.
#
# Environment:
#   BENCH_SECONDS=10 BENCH_WARMUP_SECONDS=2 BENCH_CONNECTIONS=64 BENCH_THREADS=2 (wrk/pgbench -j)
#   BENCH_MARGIN=2           pre-generated requests = warm-up rate x seconds x margin, where the
#   BENCH_MIN_EVENTS_PER_S=20000  rate is at least this many events/s (a run that still runs out
#                            is repeated once with twice as many: duplicates would skew it)
#   BENCH_PHASES="a b c d e1 e100"  subset to run (ratios need a, b, c)
#   BENCH_PROFILE=1          perf record -a during each main ingest phase: top symbols per process
#   BENCH_PROFILE=synkro     perf record of synkro only, with call graphs (inclusive costs)
#   BENCH_OUT=dir            results (default build-bench/results/<time>)
#   BENCH_KEEP_TMP=1         keep the temporary directory (database, request files)
#   BENCH_WERROR=0           build-bench/ without -Werror (default: the project's -Werror)
#   BENCH_BUILD_DIR=dir      build (or, with BENCH_NO_BUILD=1, take) synkro and gen_requests in
#                            dir (default build-bench): e.g. another commit's build, for a
#                            before/after comparison in one session
#   SYNKRO_HTTP_THREADS, SYNKRO_INGEST_WRITERS, SYNKRO_INGEST_BATCH_MAX, SYNKRO_DB_POOL_SIZE and
#   every other synkro variable are passed through to `synkro serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

SECS=${BENCH_SECONDS:-10}
WARM=${BENCH_WARMUP_SECONDS:-2}
CONNS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
MARGIN=${BENCH_MARGIN:-2}
MIN_EPS=${BENCH_MIN_EVENTS_PER_S:-20000}
PHASES=${BENCH_PHASES:-a b c d e1 e100}
PROFILE=${BENCH_PROFILE:-0}
build_dir=${BENCH_BUILD_DIR:-build-bench}
[[ $build_dir == /* ]] || build_dir=$root/$build_dir
out=${BENCH_OUT:-$build_dir/results/$(date +%Y%m%d-%H%M%S)}

log() { echo "bench: $*" >&2; }
die() {
  echo "bench: ERROR: $*" >&2
  exit 1
}
# shellcheck source=bench/bench_lib.sh
. "$root/bench/bench_lib.sh"
for v in SECS WARM CONNS THREADS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "BENCH_${v/SECS/SECONDS} must be a positive integer"
done

# ---- 1. packages and build ----
extra="wrk"
[[ $PROFILE == 1 ]] && ! command -v perf >/dev/null && extra+=" linux-perf"
SYNKRO_EXTRA_PKGS="$extra" scripts/deps.sh
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [[ ! -x "$pg_bin/pgbench" ]] && ! command -v pgbench >/dev/null; then
  SYNKRO_EXTRA_PKGS="postgresql-contrib" scripts/deps.sh
fi
PGBENCH=$([[ -x "$pg_bin/pgbench" ]] && echo "$pg_bin/pgbench" || command -v pgbench)
PSQL=$([[ -x "$pg_bin/psql" ]] && echo "$pg_bin/psql" || command -v psql)

# BENCH_WERROR=0 configures build-bench/ with SYNKRO_WERROR=OFF (scripts/build.sh keeps that
# cached option), so that a new compiler warning elsewhere in the tree does not stop a
# measurement; the default is the project's (warnings are errors).
werror=$([[ ${BENCH_WERROR:-1} == 0 ]] && echo OFF || echo ON)
if [[ ${BENCH_NO_BUILD:-0} != 1 ]]; then
  log "building the release binary in $build_dir/ (SYNKRO_WERROR=$werror)"
  cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DSYNKRO_SANITIZE=OFF -DSYNKRO_TESTS=OFF \
    -DSYNKRO_BENCH=ON -DSYNKRO_WERROR="$werror" >/dev/null
  scripts/build.sh release "$build_dir" >/dev/null
fi
bin=$build_dir/synkro
[[ -x $bin ]] || die "$bin was not built"
gen=$build_dir/gen_requests # built by CMake (SYNKRO_BENCH)
[[ -x $gen ]] || { echo "bench-ingest: $gen was not built" >&2; exit 1; }

mkdir -p "$out"
tmp=$(mktemp -d /tmp/synkro-bench.XXXXXX)
synkro_pid=""
perf_pid=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$perf_pid" ]]; then kill -INT "$perf_pid" 2>/dev/null || true; fi
  if [[ -n "$synkro_pid" ]] && kill -0 "$synkro_pid" 2>/dev/null; then
    kill -TERM "$synkro_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$synkro_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$synkro_pid" 2>/dev/null || true
  fi
  scripts/pg.sh stop "$tmp/pg" >/dev/null 2>&1 || true
  if [[ ${BENCH_KEEP_TMP:-0} == 1 ]]; then log "kept $tmp"; else rm -rf "$tmp"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 2. PostgreSQL (fsync on: real commits) and synkro ----
log "starting a throwaway PostgreSQL in $tmp/pg (fsync=on)"
db=synkro_bench
bench_pg_start "$tmp/pg" "$db"
psqlc() { bench_psql -d "$db" -tA "$@"; }
postmaster_pid=$(head -1 "$tmp/pg/data/postmaster.pid")

hs_secret=bench-hubspot-client-secret-0123456789
org18=00D5g000004SbsbEAC
export DATABASE_URL="postgresql://$pg_user@localhost:$pg_port/$db?host=$pg_sock"
export SALESFORCE_ORG_ID=${org18:0:15} HUBSPOT_CLIENT_SECRET=$hs_secret HUBSPOT_PORTAL_ID=62515
export LOG_LEVEL=${LOG_LEVEL:-warn}
sf_path=/webhooks/salesforce${SYNKRO_SF_ENDPOINT_TOKEN:+?token=$SYNKRO_SF_ENDPOINT_TOKEN}
hs_path=/webhooks/hubspot

# a free port can be taken between the check and the bind: up to 5 ports
for attempt in 1 2 3 4 5; do
  port=$(free_port)
  base=http://127.0.0.1:$port
  export SYNKRO_LISTEN=127.0.0.1:$port SYNKRO_PUBLIC_BASE_URL=$base
  "$bin" config check >"$out/config.txt" 2>&1 || { cat "$out/config.txt" >&2; die "bad configuration"; }
  "$bin" serve >"$out/synkro.log" 2>&1 &
  synkro_pid=$!
  for i in $(seq 1 300); do
    kill -0 "$synkro_pid" 2>/dev/null || break
    [[ $(curl -s -o /dev/null -w '%{http_code}' "$base/readyz" || true) == 200 ]] && break 2
    [[ $i -eq 300 ]] && die "synkro not ready after 30 s"
    sleep 0.1
  done
  wait "$synkro_pid" 2>/dev/null || true
  synkro_pid=""
  grep -q "cannot listen" "$out/synkro.log" && [[ $attempt -lt 5 ]] && continue
  tail -20 "$out/synkro.log" >&2
  die "synkro exited at start"
done
setting() { grep -E "^ *$1[ =:]" "$out/config.txt" | head -1 | sed -E "s/^ *$1[ =:]+ *//; s/ .*//"; }
tuning="HTTP_THREADS=$(setting SYNKRO_HTTP_THREADS) INGEST_WRITERS=$(setting SYNKRO_INGEST_WRITERS)"
tuning+=" INGEST_BATCH_MAX=$(setting SYNKRO_INGEST_BATCH_MAX) DB_POOL_SIZE=$(setting SYNKRO_DB_POOL_SIZE)"
pg_conf=$(psqlc -F' ' -c "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings
  WHERE name IN ('fsync','synchronous_commit','wal_sync_method','shared_buffers','max_wal_size')")
log "synkro $("$bin" version 2>/dev/null | head -1) at $base (pid $synkro_pid); $tuning"

# ---- measurement helpers ----
clk=$(getconf CLK_TCK)
ncpu=$(nproc)
# utime+stime of one process (+ its reaped children when $2 is 1), in ticks
proc_ticks() {
  awk -v kids="${2:-0}" '{ sub(/^.*\) /, ""); t = $12 + $13; if (kids) t += $14 + $15; print t }' \
    "/proc/$1/stat" 2>/dev/null || echo 0
}
# "synkro_ticks postgres_ticks busy_ticks all_ticks" (postgres: postmaster, its live children
# and the children it reaped)
cpu_snapshot() {
  local s p c
  s=$(proc_ticks "$synkro_pid")
  p=$(proc_ticks "$postmaster_pid" 1)
  for c in $(ps -o pid= --ppid "$postmaster_pid" 2>/dev/null); do p=$((p + $(proc_ticks "$c"))); done
  awk -v s="$s" -v p="$p" '/^cpu /{ busy = $2+$3+$4+$7+$8+$9; all = busy+$5+$6; print s, p, busy, all; exit }' /proc/stat
}
# "batch_sum batch_count commit_sum commit_count le1 le2 ... (batch size buckets)"
metrics_snapshot() {
  curl -sf "$base/metrics" | awk '
    /^synkro_ingest_batch_size_sum /{ bs = $2 } /^synkro_ingest_batch_size_count /{ bc = $2 }
    /^synkro_ingest_commit_seconds_sum /{ cs = $2 } /^synkro_ingest_commit_seconds_count /{ cc = $2 }
    /^synkro_ingest_batch_size_bucket/{ b = b " " $2 }
    END { printf "%s %s %s %s%s\n", bs+0, bc+0, cs+0, cc+0, b }'
}
# upper bounds of synkro_ingest_batch_size buckets (db/ingest_writer.c)
batch_les=(1 2 5 10 20 50 100 200 500 1000 2000 5000 +Inf)
# batch summary between two metric snapshots: "commits mean_batch p50_le p90_le mean_commit_ms"
batch_summary() {
  awk -v a="$1" -v b="$2" -v les="${batch_les[*]}" 'BEGIN {
    n = split(a, x, " "); split(b, y, " "); split(les, le, " ")
    commits = y[2] - x[2]
    if (commits <= 0) { print "0 - - - -"; exit }
    mean = (y[1] - x[1]) / commits; ms = 1000 * (y[3] - x[3]) / (y[4] - x[4])
    p50 = p90 = "-"
    for (i = 5; i <= n; i++) {
      c = y[i] - x[i]
      if (p50 == "-" && c >= 0.5 * commits) p50 = le[i - 4]
      if (p90 == "-" && c >= 0.9 * commits) p90 = le[i - 4]
    }
    printf "%d %.1f %s %s %.2f\n", commits, mean, p50, p90, ms }'
}
# CPU between two cpu snapshots: shares of all cores, then CPU microseconds per event (unit)
cpu_summary() { # before after client_cpu_seconds units
  awk -v a="$1" -v b="$2" -v cl="$3" -v u="$4" -v hz="$clk" 'BEGIN {
    split(a, x, " "); split(b, y, " ")
    all = y[4] - x[4]; if (all <= 0) all = 1
    st = y[1] - x[1]; pt = y[2] - x[2]; ct = cl * hz
    s = 100 * st / all; p = 100 * pt / all; c = 100 * ct / all; busy = 100 * (y[3] - x[3]) / all
    o = busy - s - p - c; if (o < 0) o = 0
    if (u < 1) u = 1
    printf "synkro %3.0f%% postgres %3.0f%% client %3.0f%% other %3.0f%% idle %3.0f%% | us/event: synkro %.1f postgres %.1f client %.1f\n", s, p, c, o, 100 - busy, st * 1e6 / hz / u, pt * 1e6 / hz / u, ct * 1e6 / hz / u }'
}
wal_lsn() { psqlc -c "SELECT pg_current_wal_lsn()"; }
# "pid ppid ticks comm" of every process (comm without spaces)
procs_snapshot() {
  # cat, not awk FILE...: mawk stops at a file that vanished, cat goes on
  cat /proc/[0-9]*/stat 2>/dev/null |
    awk '{ c = $0; sub(/^[0-9]+ \(/, "", c); sub(/\) [A-Za-z] .*$/, "", c); gsub(/[ \t]/, "_", c)
           r = $0; sub(/^.*\) /, "", r); split(r, f, " "); print $1, f[2], f[12] + f[13], c }' || true
}
# the busiest other processes between two procs snapshots (not synkro, not our cluster, not the
# load generator), as "comm share%, ..." of all cores over all_ticks
others_summary() { # before after all_ticks
  awk -v all="$3" -v me="$synkro_pid" -v pm="$postmaster_pid" -v self="$$" '
    NR == FNR { t0[$1] = $3; next }
    { if ($1 == me || $1 == pm || $2 == pm || $4 == "wrk" || $4 == "pgbench" || $1 == self) next
      d = $3 - ($1 in t0 ? t0[$1] : 0); if (d > 0) by[$4] += d }
    END { n = 0; for (c in by) if (100 * by[c] / all >= 1) { out[++n] = sprintf("%.0f %s", 100 * by[c] / all, c) }
          for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (out[j] + 0 > out[i] + 0) { t = out[i]; out[i] = out[j]; out[j] = t }
          s = ""; for (i = 1; i <= n && i <= 4; i++) { split(out[i], w, " "); s = s (i > 1 ? ", " : "") w[2] " " w[1] "%" }
          print (s == "" ? "-" : s) }' <(echo "$1") <(echo "$2")
}
ticks_between() { awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " "); print y[4] - x[4] }'; }
wal_per_unit() { # lsn_before lsn_after units
  psqlc -c "SELECT round(pg_wal_lsn_diff('$2', '$1') / greatest($3, 1))"
}

declare -A RPS EPS P50 P99 NON2XX BATCH CPU ROWS WAL OTHERS
declare -A R
failures=0
fail() {
  echo "bench: VERIFY FAILED: $*" >&2
  failures=$((failures + 1))
}

# run_wrk NAME SECONDS MODE ARG: one wrk run; its BENCHRESULT fields land in R[]; sets
# LAST_BATCH and LAST_S0, LAST_S1, LAST_CL, LAST_L0, LAST_L1 (cpu, client seconds, WAL)
run_wrk() {
  local name=$1 secs=$2 mode=$3 arg=$4 f=$out/$1.wrk m0 m1 line kv
  m0=$(metrics_snapshot)
  LAST_L0=$(wal_lsn)
  LAST_P0=$(procs_snapshot)
  LAST_S0=$(cpu_snapshot)
  if [[ $PROFILE == 1 && $name != w* ]]; then
    perf record -a -F 999 -o "$out/$name.perf.data" -- sleep "$secs" >/dev/null 2>&1 &
    perf_pid=$!
  elif [[ $PROFILE == synkro && $name != w* ]]; then
    perf record -F 499 --call-graph dwarf,16384 -p "$synkro_pid" -o "$out/$name.perf.data" \
      -- sleep "$secs" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  local TIMEFORMAT='%3U %3S'
  { time wrk -t "$THREADS" -c "$CONNS" -d "${secs}s" --latency -s "$root/bench/ingest.lua" \
    "$base/" -- "$mode" "$arg" >"$f" 2>&1; } 2>"$f.time"
  LAST_S1=$(cpu_snapshot)
  LAST_P1=$(procs_snapshot)
  LAST_L1=$(wal_lsn)
  m1=$(metrics_snapshot)
  if [[ -n "$perf_pid" ]]; then
    wait "$perf_pid" || true
    perf_pid=""
    if [[ $PROFILE == 1 ]]; then
      perf report -i "$out/$name.perf.data" --no-children --sort comm,dso,sym --stdio \
        --percent-limit 0.5 2>/dev/null | grep -v '^#' | grep -v '^$' >"$out/$name.perf.txt" || true
      perf report -i "$out/$name.perf.data" --no-children --sort comm --stdio 2>/dev/null |
        grep -v '^#' | grep -v '^$' >"$out/$name.perf-comm.txt" || true
    else
      perf report -i "$out/$name.perf.data" --children --sort sym --stdio -g none \
        --percent-limit 1 2>/dev/null | grep -v '^#' | grep -v '^$' >"$out/$name.perf.txt" || true
    fi
    rm -f "$out/$name.perf.data"
  fi
  LAST_CL=$(awk '{ print $1 + $2 }' "$f.time")
  LAST_BATCH=$(batch_summary "$m0" "$m1")
  line=$(grep '^BENCHRESULT ' "$f" | tail -1) || { cat "$f" >&2; die "wrk printed no result ($name)"; }
  R=()
  for kv in ${line#BENCHRESULT }; do R[${kv%%=*}]=${kv#*=}; done
}

record_phase() { # key events_per_request
  local key=$1 e=$2 secs
  secs=$(awk -v d="${R[duration_us]}" 'BEGIN { print d / 1e6 }')
  RPS[$key]=$(awk -v n="${R[requests]}" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
  EPS[$key]=$(awk -v n="${R[acked]}" -v e="$e" -v s="$secs" 'BEGIN { printf "%.0f", n * e / s }')
  P50[$key]=$(awk -v u="${R[p50_us]}" 'BEGIN { printf "%.2f", u / 1000 }')
  P99[$key]=$(awk -v u="${R[p99_us]}" 'BEGIN { printf "%.2f", u / 1000 }')
  NON2XX[$key]=${R[non2xx]}
  BATCH[$key]=$LAST_BATCH
  CPU[$key]=$(cpu_summary "$LAST_S0" "$LAST_S1" "$LAST_CL" $((R[acked] * e)))
  OTHERS[$key]=$(others_summary "$LAST_P0" "$LAST_P1" "$(ticks_between "$LAST_S0" "$LAST_S1")")
  WAL[$key]=$(wal_per_unit "$LAST_L0" "$LAST_L1" $((R[acked] * e)))
}

# gen KIND TAG PHASE_NO REQUESTS EVENTS PATH
gen() {
  "$gen" --kind "$1" --tag "$2" --phase "$3" --requests "$4" --events "$5" --threads "$THREADS" \
    --host "127.0.0.1:$port" --base-url "$base" --path "$6" --secret "$hs_secret" --org "$org18" \
    --out "$tmp/$2"
}

# verify KEY KIND EVENTS PHASE_NO OBJECT_TYPE: rows stored == acknowledged events + events of
# in-flight requests found stored (each all-or-nothing)
verify() {
  local key=$1 kind=$2 e=$3 pn=$4 ot=$5 src expr rows pend stored_pend=0 stored_reqs=0 n npend=0
  src=$kind
  if [[ $kind == hubspot ]]; then
    expr="(${pn}::bigint * 1000000000000 + g * $e + j)::text"
  else
    expr="'a01' || lpad('$pn', 2, '0') || lpad((g * $e + j)::text, 13, '0')"
  fi
  # requests in flight when wrk stopped are still being committed: wait until the phase's row
  # count and synkro's commit count stay unchanged for 0.75 s
  local sql="SELECT count(*) FROM change_events WHERE source = '$src' AND object_type = '$ot'"
  local prev="" cur stable=0
  for _ in $(seq 1 240); do
    sleep 0.25
    cur="$(psqlc -c "$sql") $(metrics_snapshot | cut -d' ' -f2)"
    if [[ $cur == "$prev" ]]; then
      stable=$((stable + 1))
      [[ $stable -ge 3 ]] && break
    else
      stable=0
    fi
    prev=$cur
  done
  [[ $stable -ge 3 ]] || fail "$key: the row count did not settle within 60 s after the run"
  rows=${cur%% *}
  pend=${R[pending]}
  if [[ $pend != - ]]; then
    npend=$(tr ',' '\n' <<<"$pend" | wc -l)
    for n in $(psqlc -c "SELECT (SELECT count(*) FROM change_events c WHERE c.source = '$src'
        AND c.object_type = '$ot' AND c.record_id IN (SELECT $expr FROM generate_series(0, $e - 1) j))
        FROM unnest('{$pend}'::bigint[]) g"); do
      if [[ $n -eq $e ]]; then
        stored_pend=$((stored_pend + n))
        stored_reqs=$((stored_reqs + 1))
      elif [[ $n -ne 0 ]]; then
        fail "$key: a request in flight at the end has $n of its $e events stored"
      fi
    done
  fi
  local acked_events=$((R[acked] * e)) expected
  expected=$((acked_events + stored_pend))
  ROWS[$key]="rows=$rows acked_events=$acked_events inflight_stored=$stored_pend ($stored_reqs of $npend unanswered requests)"
  [[ $rows -eq $expected ]] ||
    fail "$key: $rows rows stored, expected $expected (acknowledged $acked_events + in flight $stored_pend)"
  [[ ${R[acked]} -gt 0 ]] || fail "$key: no request was acknowledged (${R[statuses]})"
  [[ ${R[wraps]} -eq 0 ]] ||
    fail "$key: wrk ran out of pre-generated requests (${R[wraps]} wraps); raise BENCH_MARGIN"
  [[ ${R[unknown]} -eq 0 ]] || fail "$key: ${R[unknown]} responses without a known X-Request-Id"
  [[ $((R[acked] + R[non2xx] + npend)) -eq ${R[sent]} ]] ||
    fail "$key: sent ${R[sent]} != acked ${R[acked]} + non-2xx ${R[non2xx]} + unanswered $npend"
  [[ $((R[acked] + R[non2xx])) -eq ${R[requests]} ]] ||
    fail "$key: wrk counted ${R[requests]} responses, Lua $((R[acked] + R[non2xx]))"
  if grep -Eq '(^|,)4[0-9][0-9]:' <<<"${R[statuses]}"; then
    fail "$key: client errors (${R[statuses]}): the benchmark's requests are invalid"
  fi
}

phase_label() {
  case $1 in
    a) echo "(a) GET /healthz" ;;
    b) echo "(b) pgbench 1-row INSERT" ;;
    c) echo "(c) HubSpot 1 event/req" ;;
    d) echo "(d) HubSpot 100 events/req" ;;
    e1) echo "(e1) Salesforce 1 notif/req" ;;
    e100) echo "(e100) Salesforce 100/req" ;;
  esac
}

# ---- 3. phases ----
phase_healthz() {
  log "(a) GET /healthz: warm-up ${WARM}s, run ${SECS}s"
  run_wrk wa "$WARM" get /healthz
  run_wrk a "$SECS" get /healthz
  record_phase a 1
  [[ ${R[non2xx]} -eq 0 ]] || fail "a: ${R[non2xx]} non-2xx answers to /healthz"
}

phase_pgbench() {
  log "(b) pgbench: $CONNS clients, -j $THREADS, single-row INSERT commits"
  psqlc -c "CREATE TABLE IF NOT EXISTS bench_pgbench (LIKE change_events INCLUDING ALL);
    CREATE SEQUENCE IF NOT EXISTS bench_pgbench_id_seq OWNED BY bench_pgbench.id;
    ALTER TABLE bench_pgbench ALTER COLUMN id SET DEFAULT nextval('bench_pgbench_id_seq')"
  local args=(-n -c "$CONNS" -j "$THREADS" -M prepared -f "$root/bench/pgbench_insert.sql"
    -h "$pg_sock" -p "$pg_port" -U "$pg_user")
  "$PGBENCH" "${args[@]}" -T "$WARM" "$db" >"$out/wb.pgbench" 2>&1 || { cat "$out/wb.pgbench" >&2; die "pgbench failed"; }
  psqlc -c CHECKPOINT
  local s0 s1 l0 l1 p0 p1 pm_kids txns TIMEFORMAT='%3U %3S' f=$out/b.pgbench
  l0=$(wal_lsn)
  p0=$(procs_snapshot)
  pm_kids=$(ps -o pid= --ppid "$postmaster_pid" | wc -l)
  s0=$(cpu_snapshot)
  { time "$PGBENCH" "${args[@]}" -T "$SECS" -l --log-prefix="$tmp/pgblog" "$db" >"$f" 2>&1; } 2>"$f.time" ||
    { cat "$f" >&2; die "pgbench failed"; }
  s1=$(cpu_snapshot)
  # pgbench's 64 backends are exiting now; a backend that exits between the two reads of
  # cpu_snapshot would be lost, so take the postgres figure once they are gone (their CPU is then
  # in the postmaster's reaped-children time), and the machine totals from the end of the run
  for _ in $(seq 1 50); do
    [[ $(ps -o pid= --ppid "$postmaster_pid" | wc -l) -le $pm_kids ]] && break
    sleep 0.1
  done
  s1="$(cut -d' ' -f1-2 <<<"$(cpu_snapshot)") $(cut -d' ' -f3- <<<"$s1")"
  p1=$(procs_snapshot)
  l1=$(wal_lsn)
  txns=$(awk '/^number of transactions actually processed:/{ print $6; exit }' "$f")
  CPU[b]=$(cpu_summary "$s0" "$s1" "$(awk '{ print $1 + $2 }' "$f.time")" "${txns:-0}")
  WAL[b]=$(wal_per_unit "$l0" "$l1" "${txns:-0}")
  OTHERS[b]=$(others_summary "$p0" "$p1" "$(ticks_between "$s0" "$s1")")
  RPS[b]=$(awk '/^tps = /{ v = $3 } END { printf "%.0f", v }' "$f")
  EPS[b]=${RPS[b]}
  read -r "P50[b]" "P99[b]" < <(cat "$tmp"/pgblog.* | awk '{ print $3 }' | sort -n | awk '
    { v[NR] = $1 } END { if (NR == 0) { print "- -"; exit }
      printf "%.2f %.2f\n", v[int(NR * 0.5 + 0.5)] / 1000, v[int(NR * 0.99 + 0.5)] / 1000 }')
  NON2XX[b]=$(awk '/^number of failed transactions:/{ print $5; exit }' "$f")
  NON2XX[b]=${NON2XX[b]:-0}
  BATCH[b]="- - - - -"
  rm -f "$tmp"/pgblog.*
}

object_type() { # KIND TAG PHASE_NO: where gen_requests puts a phase's events
  if [[ $1 == hubspot ]]; then echo "2-$((9000 + $3))"; else echo "Bench$2__c"; fi
}

# ingest_phase KEY KIND EVENTS PHASE_NO PATH: warm-up (its rate sizes the run), run, verify.
# A run that used up its pre-generated requests (duplicates!) is repeated once with twice as
# many, under new ids.
ingest_phase() {
  local key=$1 kind=$2 e=$3 pn=$4 path=$5 ceiling wn n rate margin=$MARGIN tag run_pn attempt
  ceiling=${RPS[a]:-20000}
  wn=$(awk -v r="$ceiling" -v e="$e" -v w="$WARM" -v c="$CONNS" \
    'BEGIN { n = r / e * w * 1.5 + 4 * c; if (n > 200000) n = 200000; printf "%d", n }')
  log "$(phase_label "$key"): warm-up ${WARM}s ($wn requests)"
  gen "$kind" "w$key" $((pn + 50)) "$wn" "$e" "$path"
  run_wrk "w$key" "$WARM" files "$tmp/w$key"
  rm -f "$tmp/w$key".*
  # requests/s to provision for: the warm-up's rate, but at least BENCH_MIN_EVENTS_PER_S / e
  # (a cold first warm-up can be several times slower than the run that follows)
  rate=$(awk -v n="${R[requests]}" -v d="${R[duration_us]}" -v e="$e" -v f="$MIN_EPS" \
    'BEGIN { r = n / (d / 1e6); if (r < f / e) r = f / e; printf "%.0f", r }')
  for attempt in 1 2; do
    tag=$key
    run_pn=$pn
    if [[ $attempt -eq 2 ]]; then
      # the first attempt's rate (inflated by its duplicates) is an upper bound
      tag=${key}r
      run_pn=$((pn + 20))
      rate=$(awk -v a="$rate" -v n="${R[requests]}" -v d="${R[duration_us]}" \
        'BEGIN { r = n / (d / 1e6); if (r < a) r = a; printf "%.0f", r }')
      margin=$(awk -v m="$margin" 'BEGIN { print 2 * m }')
    fi
    n=$(awk -v r="$rate" -v s="$SECS" -v m="$margin" -v c="$CONNS" 'BEGIN { printf "%d", r * s * m + 4 * c }')
    psqlc -c CHECKPOINT
    log "$(phase_label "$key"): generating $n requests ($e events each), run ${SECS}s"
    gen "$kind" "$tag" "$run_pn" "$n" "$e" "$path"
    run_wrk "$tag" "$SECS" files "$tmp/$tag"
    rm -f "$tmp/$tag".*
    [[ ${R[wraps]} -eq 0 ]] && break
    [[ $attempt -eq 1 ]] && log "$(phase_label "$key"): ran out of requests; again with twice as many"
  done
  record_phase "$key" "$e"
  verify "$key" "$kind" "$e" "$run_pn" "$(object_type "$kind" "$tag" "$run_pn")"
}

for p in $PHASES; do
  case $p in
    a) phase_healthz ;;
    b) phase_pgbench ;;
    c) ingest_phase c hubspot 1 3 "$hs_path" ;;
    d) ingest_phase d hubspot 100 4 "$hs_path" ;;
    e1) ingest_phase e1 salesforce 1 5 "$sf_path" ;;
    e100) ingest_phase e100 salesforce 100 6 "$sf_path" ;;
    *) die "unknown phase '$p' in BENCH_PHASES" ;;
  esac
done

# ---- 4. report ----
{
  echo "synkro ingest benchmark: $(date -u +%FT%TZ), $ncpu cores, wrk -t $THREADS -c $CONNS, ${SECS}s per phase"
  echo "synkro: $tuning"
  echo "postgres: $pg_conf"
  echo "batch = synkro_ingest_batch_size (events per group commit): commits, mean, p50/p90 bucket;"
  echo "cmt_ms = mean synkro_ingest_commit_seconds; wal_B = WAL bytes per event (pgbench: per row)"
  printf '%-28s %8s %9s %7s %7s %6s %7s %6s %5s %5s %6s %6s\n' phase req/s events/s p50_ms p99_ms \
    non2xx commits mean_bt p50bt p90bt cmt_ms wal_B
  for p in $PHASES; do
    read -r commits mean p50b p90b cms <<<"${BATCH[$p]}"
    printf '%-28s %8s %9s %7s %7s %6s %7s %6s %5s %5s %6s %6s\n' "$(phase_label "$p")" "${RPS[$p]}" \
      "${EPS[$p]}" "${P50[$p]}" "${P99[$p]}" "${NON2XX[$p]}" "$commits" "$mean" "$p50b" "$p90b" \
      "$cms" "${WAL[$p]:--}"
  done
  echo "cpu (share of all $ncpu cores; client = wrk or pgbench; other = the rest of the machine, incl."
  echo "kernel workers; busiest others in brackets):"
  for p in $PHASES; do printf '  %-28s %s [%s]\n' "$(phase_label "$p")" "${CPU[$p]}" "${OTHERS[$p]:--}"; done
  for p in $PHASES; do
    other=$(sed -E 's/.*other +([0-9]+)%.*/\1/' <<<"${CPU[$p]}")
    [[ $other =~ ^[0-9]+$ && $other -ge 15 ]] &&
      echo "  NOISY: other processes took $other% of the CPU during $(phase_label "$p") (busiest: ${OTHERS[$p]:--}); its figures are understated"
  done
  echo "verification (rows in change_events vs acknowledged events):"
  for p in $PHASES; do
    [[ -n "${ROWS[$p]:-}" ]] && printf '  %-28s %s\n' "$(phase_label "$p")" "${ROWS[$p]}"
  done
  ratio() { awk -v x="$1" -v y="$2" 'BEGIN { if (y > 0) printf "%.2f", x / y; else print "-" }'; }
  verdict() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN { ok = (op == "<") ? v < t : v >= t; print ok ? "met" : "NOT met" }'; }
  if [[ -n "${RPS[c]:-}" ]]; then
    echo "targets (reported, not asserted):"
    if [[ -n "${RPS[b]:-}" ]]; then
      r=$(ratio "${RPS[c]}" "${RPS[b]}")
      echo "  (c)/(b) req/s = $r  (target >= 1.5: $(verdict "$r" 1.5 '>='))"
    fi
    if [[ -n "${RPS[a]:-}" ]]; then
      r=$(ratio "${RPS[c]}" "${RPS[a]}")
      echo "  (c)/(a) req/s = $r  (target >= 0.3: $(verdict "$r" 0.3 '>='))"
    fi
    echo "  (c) p99 = ${P99[c]} ms  (target < 20: $(verdict "${P99[c]}" 20 '<'))"
    if [[ -n "${P99[b]:-}" && ${P99[b]} != - ]]; then
      # pgbench's own single-row commit latency, same concurrency (-c $CONNS): what one commit
      # costs the database here, without synkro
      r=$(ratio "${P99[c]}" "${P99[b]}")
      echo "  pgbench single-row commit latency (-c $CONNS): p50 ${P50[b]} ms, p99 ${P99[b]} ms"
      echo "  (c) p99 / pgbench p99 = $r  (target <= 1: $(verdict "$r" 1.0001 '<'))"
    fi
  fi
  for p in d e100; do
    [[ -n "${EPS[$p]:-}" ]] &&
      echo "  $(phase_label "$p") = ${EPS[$p]} events/s  (target > 100000: $(verdict "${EPS[$p]}" 100001 '>='))"
  done
  echo "results: $out"
} | tee "$out/summary.txt"

if ((failures > 0)); then
  die "$failures verification failure(s); see above"
fi
