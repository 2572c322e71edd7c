#!/usr/bin/env bash
# scale.sh: `make bench-scale`, the scale-out benchmark: 1, 2 and 3 `synkro serve` instances on
# one PostgreSQL database against crmsim with a per-call latency (100 ms by default). Per instance
# count, on a fresh database and a fresh crmsim:
#   (i) import  an import of SYNKRO_BENCH_IMPORT_RECORDS Salesforce records (crmsim fixture
#               records, so no outbound messages start them) through POST /api/mappings/{id}/
#               imports; until every record is linked (its HubSpot id written back to Salesforce)
#   (b) burst   SYNKRO_BENCH_BURST_RECORDS edits of linked pairs, half on each side, as fast as
#               crmsim takes them, delivered at once when all are made (SYNKRO_BENCH_BURST_HOLD);
#               until the other side holds every value
# and prints, per instance count: the import's time and records/s, the burst's records/s, API calls
# per record (crmsim's counters, echoes included), the 429s crmsim answered, the work share of each
# instance (records of its "sync batch" log lines over both phases), the CPU ms per record of
# synkro (all instances), PostgreSQL and crmsim in each phase, the share of the machine's cores
# they used together (and the records/s the cores would allow at that CPU per record: whether a
# phase was bound by this machine's CPU or by the CRMs' latency), the burst's batches that wrote to
# a CRM (how many, their median claim_ms and ms from the "sync batch" lines, and the rounds of
# batches they make: the burst's time is about rounds x cycle), and the ratios against one
# instance; each instance count's API calls of each phase by route are kept in
# <out>/instances-K/calls-import.txt and calls-burst.txt. HubSpot webhooks go to the first
# instance, Salesforce outbound messages to the second (or the first when alone): the work reaches
# the others only through the database.
# A benchmark reports: it exits 0 whatever the figures, non-zero only when it could not run.
# Stops everything it started (trap), also on failure or Ctrl-C.
#
# Environment:
#   SYNKRO_BENCH_INSTANCES="1 2 3"      instance counts measured (the first is the baseline)
#   SYNKRO_BENCH_IMPORT_RECORDS=10000   records imported
#   SYNKRO_BENCH_BURST_RECORDS=2000     edits of the burst (at most the imported records)
#   SYNKRO_BENCH_LATENCY_MS=100         per-call latency of crmsim's CRM paths; "0" for none
#   SYNKRO_BENCH_HS_RATE=190            HubSpot's burst limit (requests per 10 s) in crmsim and in
#                                       each synkro (HUBSPOT_RATE_LIMIT_PER_10S); raise it to see
#                                       the scaling with the limit not binding
#   SYNKRO_BENCH_SF_ECHOES=0            0: the outbound message's flow leaves out synkro's integration
#                                       user (docs/DEPLOY.md 5.5), so synkro's own Salesforce writes
#                                       send no message; 1: a flow without that entry condition, every
#                                       write comes back and synkro drops the echoes by their values
#   SYNKRO_BENCH_TIMEOUT=900            seconds one phase may take to converge
#   SYNKRO_BENCH_SETTLE_TIMEOUT=180     seconds to wait for the queue to drain after a phase
#   SYNKRO_BENCH_CONNS=8                connections of the burst load generator
#   SYNKRO_BENCH_POLL_MS=50             how often crmsim is read for a phase's end (a count under its
#                                       lock); a phase's time is late by up to one interval, which
#                                       weighs more on a short phase (was 250: up to 5% of a 5 s burst)
#   SYNKRO_BENCH_BURST_HOLD=1           crmsim holds the burst's webhooks and outbound messages
#                                       until every edit is made, then sends them at once, and the
#                                       burst is timed from then (0: timed from the first edit,
#                                       delivered as they come)
#   SYNKRO_BENCH_PG_STATEMENTS=0        1: PostgreSQL loads pg_stat_statements, and each instance
#                                       count's burst writes its 20 costliest statements (total
#                                       time, and planning time apart) to
#                                       <out>/instances-K/burst-statements.txt, and the tables'
#                                       inserts, updates and HOT updates to tables.txt,
#                                       and the scans of each change_events index to indexes.txt,
#                                       and the WAL it wrote (pg_stat_wal) to wal.txt
#   SYNKRO_PG_OPTIONS="-c ..."          more PostgreSQL settings (scripts/pg.sh; e.g. auto_explain);
#                                       PostgreSQL's log is kept as <out>/postgres.log
#   SYNKRO_BENCH_BUILD_DIR=build-bench  where synkro and crmsim are built (release)
#   SYNKRO_BENCH_OUT=dir                results (default <build dir>/results/scale-<time>)
#   SYNKRO_BENCH_NO_BUILD=1             use the binaries already in the build dir
#   SYNKRO_BENCH_WERROR=0               build without -Werror
#   synkro's own variables (SYNKRO_WORKERS, SYNKRO_WORKER_BATCH, ...) pass through.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

INSTANCES=${SYNKRO_BENCH_INSTANCES:-1 2 3}
N=${SYNKRO_BENCH_IMPORT_RECORDS:-10000}
B=${SYNKRO_BENCH_BURST_RECORDS:-2000}
LATENCY=${SYNKRO_BENCH_LATENCY_MS:-100}
HS_RATE=${SYNKRO_BENCH_HS_RATE:-190}
SF_ECHOES=${SYNKRO_BENCH_SF_ECHOES:-0}
TIMEOUT=${SYNKRO_BENCH_TIMEOUT:-900}
SETTLE_TIMEOUT=${SYNKRO_BENCH_SETTLE_TIMEOUT:-180}
CONNS=${SYNKRO_BENCH_CONNS:-8}
POLL_MS=${SYNKRO_BENCH_POLL_MS:-50}
HOLD=${SYNKRO_BENCH_BURST_HOLD:-1}
build_dir=${SYNKRO_BENCH_BUILD_DIR:-build-bench}
[[ $build_dir == /* ]] || build_dir=$root/$build_dir
out=${SYNKRO_BENCH_OUT:-$build_dir/results/scale-$(date +%Y%m%d-%H%M%S)}

log() { echo "bench-scale: $*" >&2; }
die() {
  echo "bench-scale: ERROR: $*" >&2
  exit 1
}
# shellcheck source=bench/bench_lib.sh
. "$root/bench/bench_lib.sh"
# shellcheck source=bench/sync_lib.sh
. "$root/bench/sync_lib.sh"
for v in N B HS_RATE TIMEOUT SETTLE_TIMEOUT CONNS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v (${!v}) must be a positive integer"
done
[[ $LATENCY =~ ^[0-9]+$ ]] || die "SYNKRO_BENCH_LATENCY_MS must be a number of milliseconds"
[[ $B -le $N ]] || die "SYNKRO_BENCH_BURST_RECORDS ($B) must not exceed SYNKRO_BENCH_IMPORT_RECORDS ($N)"
for k in $INSTANCES; do [[ $k =~ ^[1-9]$ ]] || die "instance counts are 1..9 ($k)"; done

# ---- packages and build ----
SYNKRO_EXTRA_PKGS="jq" scripts/deps.sh
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
PSQL=$([[ -x "$pg_bin/psql" ]] && echo "$pg_bin/psql" || command -v psql)
werror=$([[ ${SYNKRO_BENCH_WERROR:-1} == 0 ]] && echo OFF || echo ON)
if [[ ${SYNKRO_BENCH_NO_BUILD:-0} == 1 ]]; then
  log "using the existing binaries in $build_dir/ (SYNKRO_BENCH_NO_BUILD=1)"
else
  log "building synkro and crmsim (release) in $build_dir/ (SYNKRO_WERROR=$werror)"
  cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DSYNKRO_SANITIZE=OFF -DSYNKRO_TESTS=OFF \
    -DSYNKRO_CRMSIM=ON -DSYNKRO_BENCH=ON -DSYNKRO_WERROR="$werror" >/dev/null
  scripts/build.sh release "$build_dir" >/dev/null
fi
bin=$build_dir/synkro
sim_bin=$build_dir/crmsim
load=$build_dir/e2e_load
for b in "$bin" "$sim_bin" "$load"; do [[ -x $b ]] || die "$b was not built"; done

mkdir -p "$out"
tmp=$(mktemp -d /tmp/synkro-bench-scale.XXXXXX)
pids=()
sim_pid=""
stop_all() {
  local p
  for p in "${pids[@]}"; do stop_pid "$p"; done
  pids=()
  stop_pid "$sim_pid"
  sim_pid=""
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_all
  scripts/pg.sh stop "$tmp/pg" >/dev/null 2>&1 || true
  cp "$tmp/pg/log" "$out/postgres.log" 2>/dev/null || true
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "starting a throwaway PostgreSQL in $tmp/pg (fsync=on)"
PG_STATEMENTS=${SYNKRO_BENCH_PG_STATEMENTS:-0}
[[ $PG_STATEMENTS == 1 ]] && export SYNKRO_PG_OPTIONS="${SYNKRO_PG_OPTIONS:-} -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track_planning=on"
bench_pg_start "$tmp/pg"
psql_db() { bench_psql -tA "$@"; }

admin=bench-scale-admin-token-0123456789
hs_secret=bench-scale-hubspot-client-secret-0123456789
sf_token=bench-scale-endpoint-token-0123456789
sf_obj=Bench_Project__c
hs_obj=2-7100001
export HUBSPOT_ACCESS_TOKEN=pat-sim-token HUBSPOT_CLIENT_SECRET=$hs_secret HUBSPOT_PORTAL_ID=12345678
export SALESFORCE_CLIENT_ID=sim-sf-client-id SALESFORCE_CLIENT_SECRET=sim-sf-client-secret
export SALESFORCE_REFRESH_TOKEN=sim-sf-refresh-token SALESFORCE_ORG_ID=00D000000000001
export SYNKRO_SF_ENDPOINT_TOKEN=$sf_token SYNKRO_ADMIN_TOKEN=$admin
export SYNKRO_SECRET_KEY=${SYNKRO_SECRET_KEY:-bench-scale-secret-key-0123456789abcdef0123456789}
export HUBSPOT_RATE_LIMIT_PER_10S=$HS_RATE LOG_LEVEL=info

# settle: crmsim has nothing left to deliver and no event is pending/processing, 3 s in a row
settle() {
  local stable=0 p q
  for _ in $(seq 1 "$SETTLE_TIMEOUT"); do
    p=$("$load" pending --sim "$sim" | sed 's/pending=//')
    # 0 or 1: whether any event is open (a count of the whole open queue under load costs
    # PostgreSQL ~0.2 s a call, which the CPU figures would charge to the records)
    q=$(psql_db -d "$db" -c "SELECT count(*) FROM (SELECT 1 FROM change_events WHERE status IN ('pending', 'processing') LIMIT 1) x")
    if [[ $p == 0 && $q == 0 ]]; then
      stable=$((stable + 1))
      [[ $stable -ge 3 ]] && return 0
    else
      stable=0
    fi
    sleep 1
  done
  log "WARNING: not settled after ${SETTLE_TIMEOUT}s (crmsim pending $p, queue $q)"
  return 1
}
# the records of the "sync batch" lines of one instance's log
synced_records() {
  grep -F '"msg":"sync batch"' "$1" | sed -E 's/.*"records":([0-9]+).*/\1/' |
    awk '{ s += $1 } END { print s + 0 }'
}
# LOG FROM: "batches median_claim_ms median_ms" of the batches that wrote to a CRM in the lines
# after line FROM (claim_ms: the pick and take; ms: the batch's reads, writes and settling)
write_batches() {
  tail -n "+$(($2 + 1))" "$1" | grep -F '"msg":"sync batch"' | grep -F '"claim_ms":' |
    grep -vF '"hubspot_writes":0,"salesforce_writes":0,' |
    sed -E 's/.*"claim_ms":([0-9]+),"ms":([0-9]+).*/\1 \2/' || true # none: an idle instance
}
median() { sort -n | awk 'NF { v[++n] = $1 } END { print n ? v[int((n + 1) / 2)] : "-" }'; }
batch_stats() { # LOG: "batches small(<5 records)"
  grep -F '"msg":"sync batch"' "$1" | sed -E 's/.*"records":([0-9]+).*/\1/' |
    awk '{ n++; if ($1 < 5) s++ } END { print n + 0, s + 0 }'
}

declare -A IMP_MS IMP_RPS IMP_CPR BUR_RPS BUR_CPR R429 SHARE SMALL IMP_CPU BUR_CPU IMP_USE BUR_USE \
  BUR_BATCHES
# "synkro postgres crmsim" CPU ms so far (every instance summed)
cpu_snapshot() { echo "$(cpu_ms "${pids[@]}") $(cpu_ms $(pg_pids)) $(cpu_ms "$sim_pid")"; }
cpu_per_record() { # BEFORE AFTER N: "synkro/postgres/crmsim" CPU ms per record
  awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { split(a, x, " "); split(b, y, " ")
    printf "%.2f/%.2f/%.2f", (y[1] - x[1]) / n, (y[2] - x[2]) / n, (y[3] - x[3]) / n }'
}
# BEFORE AFTER WALL_MS N: "share of all cores used / records per second the cores allow at that
# CPU per record": whether the phase was bound by the machine's CPU or by the CRMs' latency
cpu_use() {
  awk -v a="$1" -v b="$2" -v ms="$3" -v n="$4" -v cores="$(nproc)" 'BEGIN { split(a, x, " ")
    split(b, y, " "); used = (y[1] - x[1]) + (y[2] - x[2]) + (y[3] - x[3])
    if (ms <= 0 || used <= 0) { print "-"; exit }
    printf "%.0f%% / %.0f", 100 * used / (ms * cores), n * 1000 * cores / used }'
}

# run K: one measurement with K instances
routes_snapshot() { # crmsim's API calls so far by "METHOD route", as "count route" lines
  simcall GET "/_sim/stats?limit=0" |
    jq -r '.callsByRoute | to_entries[] | "\([.value[]] | add) \(.key)"' | sort -k2
}
routes_delta() { # BEFORE AFTER: the calls made between two routes_snapshot files, most first
  awk 'NR == FNR { before[substr($0, index($0, " ") + 1)] = $1; next }
       { k = substr($0, index($0, " ") + 1); d = $1 - before[k]; if (d > 0) printf "%6d  %s\n", d, k }' \
    "$1" "$2" | sort -rn
}

burst_pg_stats() { # DIR: what PostgreSQL did in the burst (SYNKRO_BENCH_PG_STATEMENTS=1)
  local dir=$1 stat
  for stat in \
    "burst-statements.txt|SELECT round(total_exec_time)::int AS total_ms,
      round(total_plan_time)::int AS plan_ms, calls,
      round((total_exec_time / greatest(calls, 1))::numeric, 3) AS mean_ms, rows,
      left(regexp_replace(query, '\s+', ' ', 'g'), 160) FROM pg_stat_statements
      ORDER BY total_exec_time DESC LIMIT 20" \
    "tables.txt|SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_dead_tup
      FROM pg_stat_user_tables ORDER BY n_tup_upd DESC LIMIT 8" \
    "indexes.txt|SELECT indexrelname, idx_scan, idx_tup_read, pg_relation_size(indexrelid) / 8192
      AS pages FROM pg_stat_user_indexes WHERE relname = 'change_events' ORDER BY idx_scan DESC" \
    "wal.txt|SELECT wal_records, wal_fpi, pg_size_pretty(wal_bytes) AS wal, wal_write, wal_sync
      FROM pg_stat_wal"; do
    psql_db -d "$db" -F ' | ' -c "${stat#*|}" >"$dir/${stat%%|*}"
  done
}

run() {
  local k=$1 i port code body
  local dir=$out/instances-$k
  mkdir -p "$dir"
  db=synkro_bench_scale_$k
  psql_db -d postgres -c "CREATE DATABASE $db"
  export DATABASE_URL="postgresql://$pg_user@localhost:$pg_port/$db?host=$pg_sock"

  rm -f "$tmp/crmsim.port"
  "$sim_bin" --listen 127.0.0.1:0 --port-file "$tmp/crmsim.port" >"$dir/crmsim.out" 2>"$dir/crmsim.log" &
  sim_pid=$!
  for i in $(seq 1 100); do
    [[ -s $tmp/crmsim.port ]] && break
    kill -0 "$sim_pid" 2>/dev/null || die "crmsim exited at start"
    [[ $i -eq 100 ]] && die "crmsim not ready after 10 s"
    sleep 0.1
  done
  sim=http://127.0.0.1:$(cat "$tmp/crmsim.port")
  export HUBSPOT_API_BASE=$sim SALESFORCE_LOGIN_URL=$sim

  local urls=() attempt pid t
  for i in $(seq 1 "$k"); do
    for attempt in 1 2 3 4 5; do # a free port can be taken by another program before synkro binds it
      port=$(free_port)
      SYNKRO_LISTEN=127.0.0.1:$port SYNKRO_PUBLIC_BASE_URL=http://127.0.0.1:$port \
        "$bin" serve >"$dir/synkro-$i.log" 2>&1 &
      pid=$!
      for t in $(seq 1 300); do
        [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz" || true) == 200 ]] && break 2
        kill -0 "$pid" 2>/dev/null || break
        [[ $t -eq 300 ]] && die "synkro $i not ready after 30 s"
        sleep 0.1
      done
      wait "$pid" 2>/dev/null || true
      grep -q "cannot listen" "$dir/synkro-$i.log" && [[ $attempt -lt 5 ]] && continue
      die "synkro $i exited at start: $(tail -5 "$dir/synkro-$i.log")"
    done
    urls+=("http://127.0.0.1:$port")
    pids+=("$pid")
  done
  base=${urls[0]}
  local sf_url=${urls[$((k > 1 ? 1 : 0))]}

  simcall POST /_sim/config "{\"hubspot_client_secret\":\"$hs_secret\",
    \"hubspot_webhook_url\":\"$base/webhooks/hubspot\",\"hubspot_rate_limit_max\":$HS_RATE,
    \"salesforce_api_usage_max\":100000000}" >/dev/null
  bench_fixture "$N" "$sf_url/webhooks/salesforce?token=$sf_token" "$sf_obj" "$hs_obj" \
    "$(bench_flow_skip_user "$SF_ECHOES")" >"$tmp/fixture.json"
  simcall POST /_sim/fixtures "@$tmp/fixture.json" >/dev/null
  if [[ $LATENCY != 0 ]]; then
    simcall POST /_sim/faults "{\"match\":\"* /crm\",\"latency_ms\":$LATENCY}" >/dev/null
    simcall POST /_sim/faults "{\"match\":\"* /services\",\"latency_ms\":$LATENCY}" >/dev/null
  fi
  read -r code body <<<"$(api POST /api/mappings "$(bench_mapping "$sf_obj" "$hs_obj")")"
  [[ $code == 201 ]] || die "creating the mapping answered $code: $body"
  local mid
  mid=$(jq -r .id <<<"$body")
  read -r code body <<<"$(api POST "/api/mappings/$mid/enable")"
  [[ $code == 200 ]] || die "enabling the mapping answered $code: $body"

  # (i) the import
  local c0 c1 c2 t0 w ms h0 s0 q0 h1 s1 q1 h2 s2 q2
  c0=$(calls_snapshot)
  routes_snapshot >"$dir/routes-0.txt"
  local u0 u1 u2 t1
  u0=$(cpu_snapshot)
  t0=$(now_ms)
  read -r code body <<<"$(api POST "/api/mappings/$mid/imports" '{"direction":"salesforce_to_hubspot"}')"
  [[ $code == 202 ]] || die "starting the import answered $code: $body"
  w=$("$load" wait --sim "$sim" --side sf --object "$sf_obj" --field HubSpot_Id__c --prefix "" \
    --expect "$N" --since-ms "$t0" --timeout "$TIMEOUT" --interval-ms "$POLL_MS")
  log "$k instance(s): import: $w"
  ms=${w#*elapsed_ms=}
  ms=${ms%% *}
  IMP_MS[$k]=$([[ $w == reached=1* ]] && echo "$ms" || echo "-")
  IMP_RPS[$k]=$(awk -v n="$N" -v ms="$ms" 'BEGIN { printf "%.0f", n * 1000 / (ms > 0 ? ms : 1) }')
  settle || true
  u1=$(cpu_snapshot)
  t1=$(now_ms)
  IMP_CPU[$k]=$(cpu_per_record "$u0" "$u1" "$N")
  IMP_USE[$k]=$(cpu_use "$u0" "$u1" "$((t1 - t0))" "$N")
  c1=$(calls_snapshot)
  routes_snapshot >"$dir/routes-1.txt"
  routes_delta "$dir/routes-0.txt" "$dir/routes-1.txt" >"$dir/calls-import.txt"
  read -r h0 s0 q0 _ _ <<<"$c0"
  read -r h1 s1 q1 _ _ <<<"$c1"
  IMP_CPR[$k]=$(awk -v a="$((h1 + s1 - h0 - s0))" -v n="$N" 'BEGIN { printf "%.4f", a / n }')

  # (b) the burst: B edits, half on each side
  "$load" pairs --sim "$sim" --object "$hs_obj" --property salesforce_id >"$tmp/pairs"
  head -n $((B / 2)) "$tmp/pairs" | cut -d' ' -f1 >"$tmp/b_sf"
  sed -n "$((B / 2 + 1)),${B}p" "$tmp/pairs" | cut -d' ' -f2 >"$tmp/b_hs"
  local tag=s$k
  # crmsim holds the webhooks and outbound messages of the edits until all are made, then sends
  # them at once: the time measured is synkro's (ingest and sync), not the load generator's pace
  [[ $HOLD == 1 ]] && simcall POST /_sim/config \
    '{"webhook_flush_ms":600000,"outbound_flush_ms":600000}' >/dev/null
  local -a from=()
  for i in $(seq 1 "$k"); do from[i]=$(grep -c '' "$dir/synkro-$i.log" || true); done
  t0=$(now_ms)
  "$load" update --sim "$sim" --side sf --object "$sf_obj" --field Stamp__c --ids "$tmp/b_sf" \
    --tag "${tag}a" --conns "$CONNS" >/dev/null &
  local lp=$!
  "$load" update --sim "$sim" --side hs --object "$hs_obj" --field stamp --ids "$tmp/b_hs" \
    --tag "${tag}b" --conns "$CONNS" >/dev/null || log "some HubSpot edits failed"
  wait "$lp" || log "some Salesforce edits failed"
  if [[ $HOLD == 1 ]]; then
    simcall POST /_sim/config '{"webhook_flush_ms":100,"outbound_flush_ms":100}' >/dev/null
    log "$k instance(s): burst: $B edits made in $(($(now_ms) - t0)) ms; delivering them now"
    t0=$(now_ms)
    u1=$(cpu_snapshot) # the edits' own cost (crmsim) is left out when held
    t1=$(now_ms)
    [[ $PG_STATEMENTS == 1 ]] && psql_db -d "$db" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
      SELECT pg_stat_statements_reset(); SELECT pg_stat_reset_shared('wal')" >/dev/null
    simcall POST /_sim/deliveries/flush '{}' >/dev/null
  fi
  local wa wb
  wa=$("$load" wait --sim "$sim" --side hs --object "$hs_obj" --field stamp --prefix "${tag}a" \
    --expect "$(wc -l <"$tmp/b_sf")" --since-ms "$t0" --timeout "$TIMEOUT" --interval-ms "$POLL_MS")
  wb=$("$load" wait --sim "$sim" --side sf --object "$sf_obj" --field Stamp__c --prefix "${tag}b" \
    --expect "$(wc -l <"$tmp/b_hs")" --since-ms "$t0" --timeout "$TIMEOUT" --interval-ms "$POLL_MS")
  log "$k instance(s): burst: $wa; $wb"
  local ma=${wa#*elapsed_ms=} mb=${wb#*elapsed_ms=}
  ma=${ma%% *}
  mb=${mb%% *}
  ms=$((ma > mb ? ma : mb))
  if [[ $wa == reached=1* && $wb == reached=1* ]]; then
    BUR_RPS[$k]=$(awk -v n="$B" -v ms="$ms" 'BEGIN { printf "%.0f", n * 1000 / (ms > 0 ? ms : 1) }')
  else
    BUR_RPS[$k]="-"
  fi
  settle || true
  u2=$(cpu_snapshot)
  [[ $PG_STATEMENTS == 1 ]] && burst_pg_stats "$dir"
  c2=$(calls_snapshot)
  routes_snapshot >"$dir/routes-2.txt"
  routes_delta "$dir/routes-1.txt" "$dir/routes-2.txt" >"$dir/calls-burst.txt"
  read -r h2 s2 q2 _ _ <<<"$c2"
  BUR_CPR[$k]=$(awk -v a="$((h2 + s2 - h1 - s1))" -v n="$B" 'BEGIN { printf "%.4f", a / n }')
  BUR_CPU[$k]=$(cpu_per_record "$u1" "$u2" "$B")
  BUR_USE[$k]=$(cpu_use "$u1" "$u2" "$(($(now_ms) - t1))" "$B")
  R429[$k]=$((q2 - q0))

  for i in $(seq 1 "$k"); do # what each instance's claims found (synkro_queue_picks_total)
    curl -s "${urls[$((i - 1))]}/metrics" | grep '^synkro_queue_picks_total' >"$dir/picks-$i.txt" || true
  done
  stop_all
  local total=0 shares="" smalls="" n st
  for i in $(seq 1 "$k"); do total=$((total + $(synced_records "$dir/synkro-$i.log"))); done
  for i in $(seq 1 "$k"); do
    n=$(synced_records "$dir/synkro-$i.log")
    shares+="$(awk -v n="$n" -v t="$total" 'BEGIN { printf "%.0f%%", t ? 100 * n / t : 0 }') "
    st=$(batch_stats "$dir/synkro-$i.log")
    smalls+="${st% *}/${st#* } "
  done
  local wb_all
  wb_all=$(for i in $(seq 1 "$k"); do write_batches "$dir/synkro-$i.log" "${from[i]}"; done)
  BUR_BATCHES[$k]="$(grep -c . <<<"$wb_all" || true) $(cut -d' ' -f1 <<<"$wb_all" | median) $(cut -d' ' -f2 <<<"$wb_all" | median)"
  SHARE[$k]=${shares% }
  SMALL[$k]=${smalls% }
  psql_db -d postgres -c "DROP DATABASE $db"
}

for k in $INSTANCES; do
  log "---- $k instance(s) ----"
  run "$k"
done

first=${INSTANCES%% *}
ratio() { # VALUE BASE -> VALUE / BASE
  awk -v v="$1" -v b="$2" 'BEGIN { if (v == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", v / b }'
}
{
  echo "synkro scale-out benchmark: $(date -u +%FT%TZ), $(nproc) cores"
  echo "crmsim latency ${LATENCY} ms per CRM call; HubSpot limit $HS_RATE per 10 s (crmsim and each synkro)"
  echo "import: $N Salesforce records -> HubSpot; burst: $B edits of linked pairs (half per side)"
  if [[ $SF_ECHOES == 1 ]]; then
    echo "Salesforce: every synkro write sends an outbound message back (no flow entry condition)"
  else
    echo "Salesforce: the flow leaves out synkro's user (DEPLOY.md 5.5): its writes send no message"
  fi
  echo "calls/rec = crmsim API calls of the phase (echo handling included) / records"
  echo "share = records of each instance's sync batches (both phases); batches = batches/of <5 records"
  printf '%-9s %10s %10s %10s %10s %10s %6s  %s\n' instances import_ms import_r/s imp_calls/r \
    burst_r/s bur_calls/r 429s "share per instance; batches/small per instance"
  for k in $INSTANCES; do
    printf '%-9s %10s %10s %10s %10s %10s %6s  %s; %s\n' "$k" "${IMP_MS[$k]}" "${IMP_RPS[$k]}" \
      "${IMP_CPR[$k]}" "${BUR_RPS[$k]}" "${BUR_CPR[$k]}" "${R429[$k]}" "${SHARE[$k]}" "${SMALL[$k]}"
  done
  echo "CPU ms per record (synkro, all instances / PostgreSQL / crmsim; the burst's from its delivery"
  echo "when held, to the settled queue):"
  printf '%-9s %22s %22s\n' instances import burst
  for k in $INSTANCES; do printf '%-9s %22s %22s\n' "$k" "${IMP_CPU[$k]}" "${BUR_CPU[$k]}"; done
  echo "CPU used (share of all $(nproc) cores over the same span / records per second they would allow at"
  echo "that CPU per record: near 100% the phase is bound by this machine's CPU, not by the CRMs):"
  printf '%-9s %22s %22s\n' instances import burst
  for k in $INSTANCES; do printf '%-9s %22s %22s\n' "$k" "${IMP_USE[$k]}" "${BUR_USE[$k]}"; done
  echo "the burst's batches that wrote to a CRM (all instances): how many, and their median claim_ms"
  echo "(pick and take) and ms (reads, writes, settling); rounds = batches / (instances x"
  echo "SYNKRO_MAPPING_WORKERS): the burst takes about rounds x (claim_ms + ms), the last round whole"
  printf '%-9s %8s %9s %9s %8s\n' instances batches claim_ms batch_ms rounds
  for k in $INSTANCES; do
    read -r nb cm bm <<<"${BUR_BATCHES[$k]}"
    printf '%-9s %8s %9s %9s %8s\n' "$k" "$nb" "$cm" "$bm" \
      "$(awk -v b="$nb" -v s="$((k * ${SYNKRO_MAPPING_WORKERS:-2}))" 'BEGIN { printf "%.2f", b / s }')"
  done
  echo "ratios against $first instance(s):"
  printf '%-9s %12s %16s %12s %16s\n' instances import_time imp_calls/rec burst_r/s bur_calls/rec
  for k in $INSTANCES; do
    printf '%-9s %12s %16s %12s %16s\n' "$k" "$(ratio "${IMP_MS[$k]}" "${IMP_MS[$first]}")" \
      "$(ratio "${IMP_CPR[$k]}" "${IMP_CPR[$first]}")" "$(ratio "${BUR_RPS[$k]}" "${BUR_RPS[$first]}")" \
      "$(ratio "${BUR_CPR[$k]}" "${BUR_CPR[$first]}")"
  done
  echo "goals (issue 17): calls/record with 3 within 5% of 1 (ratio <= 1.05); import with 3 no slower"
  echo "than with 1 (ratio <= 1.00); with the limit not binding, burst r/s with 3 >= 2.5x of 1; 0 429s"
  echo "(the shared CRM budget, SYNKRO_CRM_BUDGET_SHARED, is what keeps 429s at 0 with several instances)"
} | tee "$out/summary.txt"
log "results: $out"
