#!/usr/bin/env bash
# e2e.sh: `make bench-e2e`, the end-to-end sync benchmark, in one run:
#   release build (synkro + crmsim) -> throwaway PostgreSQL (fsync on) -> crmsim with a per-call
#   latency of 50-150 ms on every CRM path (fault rules with latency only), HubSpot webhooks and
#   Salesforce outbound messages pointed at synkro -> `synkro serve` against crmsim -> a mapping
#   created and enabled through the admin API -> phases:
#     (0) link   every Salesforce record edited once: synkro creates its HubSpot twin and links
#                the pair (set-up; reported, no target)
#     (a) burst  N Salesforce edits as fast as crmsim takes them; until HubSpot holds all
#     (b) burst  N HubSpot edits; until Salesforce holds all
#     (c) steady SYNKRO_BENCH_STEADY_RATE edits/s for SYNKRO_BENCH_STEADY_SECONDS, alternating sides
#   Per phase: records/s (N / time from the first edit until the other CRM holds every value),
#   HubSpot and Salesforce API calls per synced record (crmsim's counters, taken after the queue
#   and crmsim's deliveries settled, so echo handling is included), synkro's
#   synkro_sync_latency_seconds p50/p99 (event received -> written; bucket resolution), the
#   end-to-end latency of (c) measured here (user edit -> write request in the other CRM, from
#   crmsim's request log), and synkro's peak RSS (VmRSS sampled every 200 ms; VmHWM at the end).
#   A table puts each figure next to its target; PASS/MISS per target. A benchmark reports: it
#   exits 0 whatever the figures, and non-zero only when it could not run.
# Until the sync engine exists (no `sync_engine` in server/serve.c) it runs in ingest-only mode:
# it checks that synkro accepts crmsim's webhooks and outbound messages and queues the events.
# Stops everything it started (trap), also on failure or Ctrl-C.
#
# Environment:
#   SYNKRO_BENCH_RECORDS=10000        records per burst (and linked pairs)
#   SYNKRO_BENCH_STEADY_SECONDS=60 SYNKRO_BENCH_STEADY_RATE=100
#   SYNKRO_BENCH_LATENCY_MS=50-150    per-call latency of crmsim's CRM paths (uniform, 5 steps);
#                                     "0" for none
#   SYNKRO_BENCH_PHASES="a b c"       phases to measure ((0) always runs)
#   SYNKRO_BENCH_SF_ECHOES=0          0: the outbound message's flow leaves out synkro's integration
#                                     user (docs/DEPLOY.md 5.5), so synkro's own Salesforce writes
#                                     send no message; 1: a flow without that entry condition, every
#                                     write comes back and synkro drops the echoes by their values
#   SYNKRO_BENCH_TIMEOUT=900          seconds one phase may take to converge
#   SYNKRO_BENCH_SETTLE_TIMEOUT=180   seconds to wait for the queue to drain after a phase
#   SYNKRO_BENCH_CONNS=8              connections of the burst load generator
#   SYNKRO_BENCH_BUILD_DIR=build-bench  where synkro and crmsim are built (release)
#   SYNKRO_BENCH_OUT=dir              results (default <build dir>/results/e2e-<time>)
#   SYNKRO_BENCH_KEEP_TMP=1           keep the temporary directory
#   SYNKRO_BENCH_WERROR=0             build without -Werror
#   SYNKRO_BENCH_NO_BUILD=1           use the binaries already in the build dir
#   SYNKRO_BENCH_INGEST_ONLY=1        force ingest-only mode
#   SYNKRO_BENCH_HS_RATE=N            HubSpot's burst limit (requests per 10 s) in crmsim and in
#                                     synkro (HUBSPOT_RATE_LIMIT_PER_10S); default: HubSpot's 190
#   SYNKRO_BENCH_HISTORY_AB=R         the record history's cost instead of the phases: after (0),
#                                     R rounds of [history on (SYNKRO_HISTORY_RETENTION=30), off
#                                     (=0)], synkro restarted on the same port for each, each
#                                     running the bursts of SYNKRO_BENCH_PHASES (a, b; c is
#                                     skipped); prints records/s per run, the medians of on and
#                                     off and their ratio (interleaved, so the machine's drift
#                                     falls on both)
#   synkro's own variables (SYNKRO_WORKERS, SYNKRO_WORKER_BATCH, ...) pass through.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

N=${SYNKRO_BENCH_RECORDS:-10000}
AB=${SYNKRO_BENCH_HISTORY_AB:-0}
STEADY_S=${SYNKRO_BENCH_STEADY_SECONDS:-60}
STEADY_RATE=${SYNKRO_BENCH_STEADY_RATE:-100}
LATENCY=${SYNKRO_BENCH_LATENCY_MS:-50-150}
PHASES=${SYNKRO_BENCH_PHASES:-a b c}
TIMEOUT=${SYNKRO_BENCH_TIMEOUT:-900}
SETTLE_TIMEOUT=${SYNKRO_BENCH_SETTLE_TIMEOUT:-180}
CONNS=${SYNKRO_BENCH_CONNS:-8}
build_dir=${SYNKRO_BENCH_BUILD_DIR:-build-bench}
[[ $build_dir == /* ]] || build_dir=$root/$build_dir
out=${SYNKRO_BENCH_OUT:-$build_dir/results/e2e-$(date +%Y%m%d-%H%M%S)}

log() { echo "bench-e2e: $*" >&2; }
die() {
  echo "bench-e2e: ERROR: $*" >&2
  exit 1
}
# shellcheck source=bench/bench_lib.sh
. "$root/bench/bench_lib.sh"
# shellcheck source=bench/sync_lib.sh
. "$root/bench/sync_lib.sh"
for v in N STEADY_S STEADY_RATE TIMEOUT SETTLE_TIMEOUT CONNS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v (${!v}) must be a positive integer"
done
[[ $LATENCY =~ ^[0-9]+(-[0-9]+)?$ ]] || die "SYNKRO_BENCH_LATENCY_MS must be N or MIN-MAX"
[[ $AB =~ ^[0-9]+$ ]] || die "SYNKRO_BENCH_HISTORY_AB must be a number of rounds"

engine=1
grep -q sync_engine server/serve.c 2>/dev/null || engine=0
[[ ${SYNKRO_BENCH_INGEST_ONLY:-0} == 1 ]] && engine=0

# ---- 1. packages and build ----
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
[[ -x $build_dir/synkro ]] || die "$build_dir/synkro was not built"
[[ $build_dir == /* ]] || build_dir=$root/$build_dir
bin=$build_dir/synkro
sim_bin=$build_dir/crmsim
load=$build_dir/e2e_load       # built by CMake (SYNKRO_BENCH)
floor=$build_dir/latency_floor
for b in "$sim_bin" "$load" "$floor"; do [[ -x $b ]] || die "$b was not built"; done

mkdir -p "$out"
tmp=$(mktemp -d /tmp/synkro-bench-e2e.XXXXXX)
synkro_pid=""
sim_pid=""
rss_pid=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$rss_pid" ]]; then kill "$rss_pid" 2>/dev/null || true; fi
  stop_pid "$synkro_pid"
  stop_pid "$sim_pid"
  scripts/pg.sh stop "$tmp/pg" >/dev/null 2>&1 || true
  if [[ ${SYNKRO_BENCH_KEEP_TMP:-0} == 1 ]]; then log "kept $tmp"; else rm -rf "$tmp"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 2. PostgreSQL, crmsim, synkro ----
log "starting a throwaway PostgreSQL in $tmp/pg (fsync=on)"
db=synkro_bench_e2e
bench_pg_start "$tmp/pg" "$db"
psqlc() { bench_psql -d "$db" -tA "$@"; }

log "starting crmsim"
"$sim_bin" --listen 127.0.0.1:0 --port-file "$tmp/crmsim.port" >"$out/crmsim.out" 2>"$out/crmsim.log" &
sim_pid=$!
for i in $(seq 1 100); do
  [[ -s $tmp/crmsim.port ]] && break
  kill -0 "$sim_pid" 2>/dev/null || die "crmsim exited at start: $(tail -5 "$out/crmsim.log")"
  [[ $i -eq 100 ]] && die "crmsim not ready after 10 s"
  sleep 0.1
done
sim=http://127.0.0.1:$(cat "$tmp/crmsim.port")

admin=bench-e2e-admin-token-0123456789
hs_secret=bench-e2e-hubspot-client-secret-0123456789
sf_token=bench-e2e-endpoint-token-0123456789
export DATABASE_URL="postgresql://$pg_user@localhost:$pg_port/$db?host=$pg_sock"
export HUBSPOT_API_BASE=$sim HUBSPOT_ACCESS_TOKEN=pat-sim-token HUBSPOT_CLIENT_SECRET=$hs_secret
export HUBSPOT_PORTAL_ID=12345678
export SALESFORCE_LOGIN_URL=$sim SALESFORCE_CLIENT_ID=sim-sf-client-id
export SALESFORCE_CLIENT_SECRET=sim-sf-client-secret SALESFORCE_REFRESH_TOKEN=sim-sf-refresh-token
export SALESFORCE_ORG_ID=00D000000000001 SYNKRO_SF_ENDPOINT_TOKEN=$sf_token
export SYNKRO_SECRET_KEY=${SYNKRO_SECRET_KEY:-bench-e2e-secret-key-0123456789abcdef0123456789}
export SYNKRO_ADMIN_TOKEN=$admin LOG_LEVEL=${LOG_LEVEL:-warn}
HS_RATE=${SYNKRO_BENCH_HS_RATE:-190}
SF_ECHOES=${SYNKRO_BENCH_SF_ECHOES:-0}
[[ $HS_RATE =~ ^[1-9][0-9]*$ ]] || die "SYNKRO_BENCH_HS_RATE must be a positive number"
export HUBSPOT_RATE_LIMIT_PER_10S=$HS_RATE
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
tuning="WORKERS=$(setting SYNKRO_WORKERS) MAPPING_WORKERS=$(setting SYNKRO_MAPPING_WORKERS)"
tuning+=" WORKER_BATCH=$(setting SYNKRO_WORKER_BATCH)"
tuning+=" HTTP_THREADS=$(setting SYNKRO_HTTP_THREADS) DB_POOL_SIZE=$(setting SYNKRO_DB_POOL_SIZE)"
tuning+=" HUBSPOT_RATE_LIMIT_PER_10S=$(setting HUBSPOT_RATE_LIMIT_PER_10S)"
log "synkro at $base (pid $synkro_pid), crmsim at $sim (pid $sim_pid); $tuning"

# RSS sampler: "epoch_ms rss_kb" every 200 ms while synkro runs
rss_file=$tmp/rss
(
  while kill -0 "$synkro_pid" 2>/dev/null; do
    r=$(awk '/^VmRSS:/{ print $2 }' "/proc/$synkro_pid/status" 2>/dev/null || true)
    [[ -n "$r" ]] && echo "$(date +%s%3N) $r"
    sleep 0.2
  done
) >"$rss_file" &
rss_pid=$!

# ---- 3. crmsim: settings, fixture, latency ----
sf_obj=Bench_Project__c
hs_obj=2-7100001
simcall POST /_sim/config "{\"hubspot_client_secret\":\"$hs_secret\",
  \"hubspot_webhook_url\":\"$base/webhooks/hubspot\",\"request_log_size\":10000,
  \"hubspot_rate_limit_max\":$HS_RATE,
  \"salesforce_api_usage_max\":100000000}" >/dev/null
# the fixture: a HubSpot custom object and a Salesforce object with identity fields, N Salesforce
# records, and the outbound message rule pointing at synkro
bench_fixture "$N" "$base/webhooks/salesforce?token=$sf_token" "$sf_obj" "$hs_obj" \
  "$(bench_flow_skip_user "$SF_ECHOES")" >"$tmp/fixture.json"
simcall POST /_sim/fixtures "@$tmp/fixture.json" >/dev/null
lat_desc=none
if [[ $LATENCY != 0 ]]; then
  lo=${LATENCY%-*}
  hi=${LATENCY#*-}
  # K rules, the first matching whose rate roll succeeds applies: rule i fires with probability
  # 1/(K-i) given the earlier ones did not, so each latency step is equally likely
  for i in 0 1 2 3 4; do
    ms=$((lo + (hi - lo) * i / 4))
    simcall POST /_sim/faults "{\"match\":\"* /\",\"rate\":$(awk -v i="$i" 'BEGIN { print 1 / (5 - i) }'),\"latency_ms\":$ms}" >/dev/null
  done
  lat_desc="$lo-$hi ms per CRM call (5 equally likely steps)"
fi
log "crmsim: $N $sf_obj records, latency $lat_desc"

# ---- 4. the mapping ----
mapping=$(bench_mapping "$sf_obj" "$hs_obj")
read -r code body <<<"$(api POST /api/mappings "$mapping")"
[[ $code == 201 ]] || die "creating the mapping answered $code: $body"
mapping_id=$(jq -r .id <<<"$body")
read -r code body <<<"$(api POST "/api/mappings/$mapping_id/enable")"
[[ $code == 200 ]] || die "enabling the mapping answered $code: $body"
log "mapping $mapping_id enabled"

# ---- measurement helpers ----
# "le=count ..." of synkro_sync_latency_seconds, summed over label sets
hist_snapshot() {
  curl -sf "$base/metrics" | awk '
    /^synkro_sync_latency_seconds_bucket/ {
      le = $0; sub(/.*le="/, "", le); sub(/".*/, "", le)
      if (!(le in c)) order[n++] = le
      c[le] += $NF }
    END { for (i = 0; i < n; i++) printf "%s=%s ", order[i], c[order[i]]; print "" }'
}
# quantile Q (0..1) between two hist snapshots: "BOUND ESTIMATE", the upper bound (seconds) of
# the first bucket that holds it and a linear interpolation inside that bucket (as Prometheus'
# histogram_quantile); "- -" without observations
hist_quantile() {
  awk -v a="$1" -v b="$2" -v q="$3" 'BEGIN {
    n = split(b, y, " "); split(a, x, " ")
    for (i = 1; i <= n; i++) { split(y[i], kv, "="); le[i] = kv[1]; cb[i] = kv[2] + 0 }
    for (i in x) { split(x[i], kv, "="); ca[kv[1]] = kv[2] + 0 }
    for (i = 1; i <= n; i++) { d[i] = cb[i] - ca[le[i]]; if (le[i] == "+Inf") total = d[i] }
    if (total <= 0) { print "- -"; exit }
    rank = q * total; lo = 0; below = 0
    for (i = 1; i <= n; i++) {
      if (le[i] == "+Inf") { print "+Inf", lo; exit }
      if (d[i] >= rank) {
        est = lo + (le[i] - lo) * (d[i] > below ? (rank - below) / (d[i] - below) : 1)
        printf "%s %.3f\n", le[i], est; exit }
      lo = le[i]; below = d[i]
    }
    print "+Inf", lo }'
}
hist_count() {
  awk -v a="$1" -v b="$2" 'BEGIN {
    n = split(b, y, " "); split(a, x, " "); t = 0
    for (i = 1; i <= n; i++) if (y[i] ~ /^\+Inf=/) { split(y[i], kv, "="); t += kv[2] }
    for (i in x) if (x[i] ~ /^\+Inf=/) { split(x[i], kv, "="); t -= kv[2] }
    print t }'
}
rss_peak_between() { # from_ms to_ms -> peak VmRSS in MB over the window
  awk -v a="$1" -v b="$2" '$1 >= a && $1 <= b && $2 > m { m = $2 } END { printf "%.1f", m / 1024 }' "$rss_file"
}
failed_events() { psqlc -c "SELECT count(*) FROM change_events WHERE status = 'failed'"; }

# settle [sim-only]: crmsim has nothing left to deliver and (unless sim-only) synkro no
# pending/processing event, three checks in a row one second apart (or SETTLE_TIMEOUT)
settle() {
  local stable=0 p q=0
  for _ in $(seq 1 "$SETTLE_TIMEOUT"); do
    p=$("$load" pending --sim "$sim" | sed 's/pending=//')
    [[ ${1:-} == sim-only ]] ||
      q=$(psqlc -c "SELECT count(*) FROM change_events WHERE status IN ('pending', 'processing')")
    if [[ $p == 0 && $q == 0 ]]; then
      stable=$((stable + 1))
      [[ $stable -ge 3 ]] && return 0
    else
      stable=0
    fi
    sleep 1
  done
  log "WARNING: not settled after ${SETTLE_TIMEOUT}s (crmsim pending $p, synkro pending/processing $q)"
  return 1
}

declare -A RPS HSC SFC P50 P99 E2E RSS NOTE
# phase_begin / phase_end KEY RECORDS: the counters around one phase
phase_begin() {
  "$load" routes --sim "$sim" >"$tmp/routes.before"
  PB_CALLS=$(calls_snapshot)
  PB_HIST=$(hist_snapshot)
  PB_FAILED=$(failed_events)
  PB_T=$(now_ms)
}
phase_end() {
  local key=$1 n=$2 calls hist failed t
  settle || NOTE[$key]+=" not-settled"
  calls=$(calls_snapshot)
  "$load" routes --sim "$sim" >"$tmp/routes.after"
  # API calls of the phase by route, most first (all of them in the results directory)
  awk 'NR == FNR { b[$1 " " $2 " " $3] = $4; next }
       { k = $1 " " $2 " " $3; d = $4 - b[k]; if (d > 0) print d, k }' \
    "$tmp/routes.before" "$tmp/routes.after" | sort -rn >"$out/routes-$key.txt"
  NOTE[$key]+=" top_routes($(head -5 "$out/routes-$key.txt" | awk '{ printf "%s%s %s %s x%s", (NR > 1 ? "; " : ""), $2, $3, $4, $1 }'))"
  hist=$(hist_snapshot)
  failed=$(failed_events)
  t=$(now_ms)
  read -r h0 s0 _ _ _ <<<"$PB_CALLS"
  read -r h1 s1 h429 hne sne <<<"$calls"
  HSC[$key]=$(awk -v a="$h0" -v b="$h1" -v n="$n" 'BEGIN { printf "%.4f", (b - a) / n }')
  SFC[$key]=$(awk -v a="$s0" -v b="$s1" -v n="$n" 'BEGIN { printf "%.4f", (b - a) / n }')
  local q50 q99
  q50=$(hist_quantile "$PB_HIST" "$hist" 0.50)
  q99=$(hist_quantile "$PB_HIST" "$hist" 0.99)
  P50[$key]=${q50% *}
  P99[$key]=${q99% *}
  NOTE[$key]+=" latency_interpolated(p50~${q50#* }s p99~${q99#* }s)"
  RSS[$key]=$(rss_peak_between "$PB_T" "$t")
  NOTE[$key]+=" calls(hs=$((h1 - h0)) sf=$((s1 - s0)) hs429_total=$h429 hs_non2xx_total=$hne sf_non2xx_total=$sne)"
  NOTE[$key]+=" latency_samples=$(hist_count "$PB_HIST" "$hist") failed_events=+$((failed - PB_FAILED))"
}

# burst KEY SIDE OBJECT FIELD IDS TAG TARGET_SIDE TARGET_OBJECT TARGET_FIELD
burst() {
  local key=$1 side=$2 obj=$3 field=$4 ids=$5 tag=$6 tside=$7 tobj=$8 tfield=$9 n res w t0
  n=$(wc -l <"$ids")
  phase_begin
  t0=$(now_ms)
  res=$("$load" update --sim "$sim" --side "$side" --object "$obj" --field "$field" --ids "$ids" \
    --tag "$tag" --conns "$CONNS") || log "($key) some edits failed: $res"
  log "($key) $res"
  w=$("$load" wait --sim "$sim" --side "$tside" --object "$tobj" --field "$tfield" --prefix "$tag" \
    --expect "$n" --since-ms "$t0" --timeout "$TIMEOUT" --interval-ms 500)
  log "($key) converged: $w"
  local ms=${w#*elapsed_ms=}
  ms=${ms%% *}
  if [[ $w == reached=1* ]]; then
    RPS[$key]=$(awk -v n="$n" -v ms="$ms" 'BEGIN { printf "%.0f", n * 1000 / (ms > 0 ? ms : 1) }')
  else
    RPS[$key]="-"
    NOTE[$key]+=" NOT-CONVERGED(${w#reached=0 })"
  fi
  NOTE[$key]+=" records=$n wall_ms=$ms"
  phase_end "$key" "$n"
}

# ---- 5. ingest-only mode: until the sync engine exists ----
if [[ $engine == 0 ]]; then
  log "no sync engine in server/serve.c: ingest-only check (webhooks and outbound messages queued)"
  curl -sf "$sim/_sim/salesforce/$sf_obj/records" | jq -r '.records[].Id' >"$tmp/sf_ids"
  res=$("$load" update --sim "$sim" --side sf --object "$sf_obj" --field Stamp__c --ids "$tmp/sf_ids" \
    --tag i --conns "$CONNS")
  log "Salesforce edits: $res"
  for i in $(seq 1 20); do
    simcall POST "/_sim/hubspot/$hs_obj/records" "{\"properties\":{\"name\":\"Probe $i\",\"stamp\":\"p$i\"}}" >/dev/null
  done
  settle sim-only || true
  sf_rows=$(psqlc -c "SELECT count(DISTINCT record_id) FROM change_events WHERE source = 'salesforce' AND object_type = '$sf_obj'")
  hs_rows=$(psqlc -c "SELECT count(DISTINCT record_id) FROM change_events WHERE source = 'hubspot' AND object_type = '$hs_obj'")
  statuses=$(psqlc -c "SELECT string_agg(status || '=' || n, ' ') FROM (SELECT status, count(*) n FROM change_events GROUP BY 1 ORDER BY 1) s")
  read -r code body <<<"$(api GET "/api/events?source=salesforce&limit=1")"
  listed=$(jq -r '.events | length' <<<"$body" 2>/dev/null || echo "?")
  deliv=$("$load" pending --sim "$sim")
  {
    echo "synkro e2e benchmark, INGEST-ONLY (no sync engine yet): $(date -u +%FT%TZ)"
    echo "  Salesforce records edited: $N; records with queued events: $sf_rows"
    echo "  HubSpot records created:   20; records with queued events: $hs_rows"
    echo "  change_events by status: $statuses"
    echo "  GET /api/events?source=salesforce&limit=1: HTTP $code, $listed listed; crmsim $deliv"
    echo "  crmsim deliveries: $(curl -sf "$sim/_sim/stats?limit=0" | jq -c .deliveries)"
    echo "  synkro peak RSS: $(awk '/^VmHWM:/{ printf "%.1f MB", $2 / 1024 }' "/proc/$synkro_pid/status")"
    echo "results: $out"
  } | tee "$out/summary.txt"
  [[ $sf_rows -eq $N && $hs_rows -eq 20 ]] || die "not every edit reached synkro's queue"
  exit 0
fi

# ---- 6. phases ----
# (0) link every pair: one edit per Salesforce record; synkro creates the HubSpot twins
curl -sf "$sim/_sim/salesforce/$sf_obj/records" | jq -r '.records[].Id' >"$tmp/sf_ids"
log "(0) linking $N pairs (one Salesforce edit each)"
burst 0 sf "$sf_obj" Stamp__c "$tmp/sf_ids" l hs "$hs_obj" stamp
w=$("$load" wait --sim "$sim" --side sf --object "$sf_obj" --field HubSpot_Id__c --prefix "" \
  --expect "$N" --timeout "$TIMEOUT" --interval-ms 500)
log "(0) HubSpot ids written back to Salesforce: $w"
settle || true
"$load" pairs --sim "$sim" --object "$hs_obj" --property salesforce_id >"$tmp/pairs"
pairs=$(wc -l <"$tmp/pairs")
[[ $pairs -eq $N ]] || log "WARNING: $pairs linked pairs, expected $N"
cut -d' ' -f1 "$tmp/pairs" >"$tmp/pair_sf"
cut -d' ' -f2 "$tmp/pairs" >"$tmp/pair_hs"

label() {
  case $1 in
    0) echo "(0) link $N pairs (set-up)" ;;
    a) echo "(a) burst: Salesforce edits" ;;
    b) echo "(b) burst: HubSpot edits" ;;
    c) echo "(c) steady ${STEADY_RATE}/s x ${STEADY_S}s" ;;
  esac
}

# ---- 6b. the record history's cost: history on and off interleaved (SYNKRO_BENCH_HISTORY_AB) ----
# restart_synkro RETENTION: stops synkro and starts it again on the same address with
# SYNKRO_HISTORY_RETENTION=RETENTION (crmsim keeps delivering to it; nothing is in flight, each
# phase ends settled)
restart_synkro() {
  stop_pid "$synkro_pid"
  SYNKRO_HISTORY_RETENTION=$1 "$bin" serve >>"$out/synkro.log" 2>&1 &
  synkro_pid=$!
  for i in $(seq 1 300); do
    kill -0 "$synkro_pid" 2>/dev/null || die "synkro exited at restart: $(tail -5 "$out/synkro.log")"
    [[ $(curl -s -o /dev/null -w '%{http_code}' "$base/readyz" || true) == 200 ]] && return 0
    [[ $i -eq 300 ]] && die "synkro not ready after 30 s"
    sleep 0.1
  done
}
# "BATCH HISTORY": synkro_sync_batch_seconds_total of part batch and part history (seconds the
# workers spent in sync batches, and in storing their record history)
batch_seconds() {
  curl -sf "$base/metrics" | awk '
    /^synkro_sync_batch_seconds_total\{part="batch"\}/ { b = $NF }
    /^synkro_sync_batch_seconds_total\{part="history"\}/ { h = $NF }
    END { printf "%s %s\n", b + 0, h + 0 }'
}
median() { tr ' ' '\n' | grep -E '^[0-9.]+$' | sort -n | awk '{ v[NR] = $1 } END {
  if (NR == 0) { print "-"; exit } print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
if [[ $AB -gt 0 ]]; then
  declare -A AB_RUNS AB_CPU AB_SHARE
  : >"$out/history_ab.txt"
  for r in $(seq 1 "$AB"); do
    for h in 30 0; do
      mode=$([[ $h == 0 ]] && echo off || echo on)
      restart_synkro "$h"
      rows0=$(psqlc -c "SELECT count(*) FROM sync_history")
      for p in $PHASES; do
        c0=$(cpu_ms "$synkro_pid")
        d0=$(cpu_ms $(pg_pids))
        read -r bs0 hs0 <<<"$(batch_seconds)"
        case $p in
          a) burst "a$r$mode" sf "$sf_obj" Stamp__c "$tmp/pair_sf" "a$r$mode" hs "$hs_obj" stamp ;;
          b) burst "b$r$mode" hs "$hs_obj" stamp "$tmp/pair_hs" "b$r$mode" sf "$sf_obj" Stamp__c ;;
          *) log "phase ($p) is not run with SYNKRO_BENCH_HISTORY_AB"; continue ;;
        esac
        AB_RUNS[$p$mode]+=" ${RPS[$p$r$mode]}"
        # CPU per record of the phase (edits, sync, echoes, settle), synkro and PostgreSQL
        cs=$(awk -v a="$c0" -v b="$(cpu_ms "$synkro_pid")" -v n="$pairs" 'BEGIN { printf "%.3f", (b - a) / n }')
        cd=$(awk -v a="$d0" -v b="$(cpu_ms $(pg_pids))" -v n="$pairs" 'BEGIN { printf "%.3f", (b - a) / n }')
        AB_CPU[$p${mode}synkro]+=" $cs"
        AB_CPU[$p${mode}pg]+=" $cd"
        NOTE[$p$r$mode]+=" cpu_ms_per_record(synkro=$cs postgres=$cd)"
        # the workers' time in batches and the part that stored the history (same run, same
        # load: the share is steadier than records/s between runs on a shared machine)
        read -r bs1 hs1 <<<"$(batch_seconds)"
        share=$(awk -v b="$(awk -v x="$bs0" -v y="$bs1" 'BEGIN { print y - x }')" \
          -v h="$(awk -v x="$hs0" -v y="$hs1" 'BEGIN { print y - x }')" \
          'BEGIN { if (b > 0) printf "%.2f", h / b * 100; else print "-" }')
        [[ $mode == on ]] && AB_SHARE[$p]+=" $share"
        NOTE[$p$r$mode]+=" history_share_of_batch_time=${share}%"
      done
      rows=$(($(psqlc -c "SELECT count(*) FROM sync_history") - rows0))
      echo "round $r history $mode (SYNKRO_HISTORY_RETENTION=$h): history rows +$rows;$(for p in $PHASES; do [[ -n ${RPS[$p$r$mode]:-} ]] && printf ' (%s) %s records/s,%s' "$p" "${RPS[$p$r$mode]}" "$(grep -o ' cpu_ms_per_record([^)]*)' <<<"${NOTE[$p$r$mode]}")"; done)" |
        tee -a "$out/history_ab.txt"
    done
  done
  {
    echo "synkro record history cost: $(date -u +%FT%TZ), $(nproc) cores; crmsim latency $lat_desc"
    echo "synkro: $tuning; $N records per burst; $AB rounds of history on, off (interleaved)"
    cat "$out/history_ab.txt"
    printf '%-28s %14s %14s %10s %8s\n' phase on_median off_median on/off cost
    for p in $PHASES; do
      [[ $p == a || $p == b ]] || continue
      on=$(median <<<"${AB_RUNS[${p}on]:-}")
      off=$(median <<<"${AB_RUNS[${p}off]:-}")
      awk -v p="$(label "$p")" -v on="$on" -v off="$off" 'BEGIN {
        if (on == "-" || off == "-" || off + 0 == 0) { printf "%-28s %14s %14s %10s %8s\n", p, on, off, "-", "-"; exit }
        printf "%-28s %14s %14s %10.3f %7.1f%%  (target: cost under 5%%)\n", p, on, off, on / off, (1 - on / off) * 100 }'
    done
    echo "the workers' batch time spent storing the record history (history on; median, per run):"
    for p in $PHASES; do
      [[ $p == a || $p == b ]] || continue
      printf '%-28s %s%%  (runs:%s)\n' "$(label "$p")" "$(median <<<"${AB_SHARE[$p]:-}")" "${AB_SHARE[$p]:-}"
    done
    echo "CPU ms per record (medians; synkro / PostgreSQL), on vs off:"
    for p in $PHASES; do
      [[ $p == a || $p == b ]] || continue
      awk -v p="$(label "$p")" -v s1="$(median <<<"${AB_CPU[${p}onsynkro]:-}")" \
        -v s0="$(median <<<"${AB_CPU[${p}offsynkro]:-}")" -v d1="$(median <<<"${AB_CPU[${p}onpg]:-}")" \
        -v d0="$(median <<<"${AB_CPU[${p}offpg]:-}")" 'BEGIN {
        printf "%-28s synkro %s / %s (%+.0f%%)   PostgreSQL %s / %s (%+.0f%%)\n", p, s1, s0,
          (s0 > 0 ? (s1 / s0 - 1) * 100 : 0), d1, d0, (d0 > 0 ? (d1 / d0 - 1) * 100 : 0) }'
    done
    echo "details:"
    for k in "${!NOTE[@]}"; do echo "  $k:${NOTE[$k]}"; done | sort
  } | tee "$out/summary.txt"
  log "results: $out"
  exit 0
fi

for p in $PHASES; do
  case $p in
    a)
      log "(a) burst of $pairs Salesforce edits"
      burst a sf "$sf_obj" Stamp__c "$tmp/pair_sf" a hs "$hs_obj" stamp
      ;;
    b)
      log "(b) burst of $pairs HubSpot edits"
      burst b hs "$hs_obj" stamp "$tmp/pair_hs" b sf "$sf_obj" Stamp__c
      ;;
    c)
      log "(c) $STEADY_RATE edits/s for ${STEADY_S}s, alternating sides"
      phase_begin
      res=$("$load" steady --sim "$sim" --pairs "$tmp/pairs" --sf-object "$sf_obj" \
        --hs-object "$hs_obj" --sf-field Stamp__c --hs-field stamp --tag c --rate "$STEADY_RATE" \
        --seconds "$STEADY_S" --interval-ms 500 --settle 30)
      log "(c) $res"
      n=$((STEADY_RATE * STEADY_S))
      seen=${res#*seen=}
      seen=${seen%% *}
      RPS[c]=$(awk -v s="$seen" -v t="$STEADY_S" 'BEGIN { printf "%.0f", s / t }')
      e50=${res#*p50_ms=}
      e99=${res#*p99_ms=}
      E2E[c]="${e50%% *}/${e99%% *}"
      NOTE[c]+=" $res"
      phase_end c "$n"
      ;;
    *) die "unknown phase '$p' in SYNKRO_BENCH_PHASES" ;;
  esac
done
hwm=$(awk '/^VmHWM:/{ printf "%.1f", $2 / 1024 }' "/proc/$synkro_pid/status")

# ---- 7. report ----
# check NAME VALUE TARGET: VALUE < TARGET (or <=, $4) -> a table row with ratio and PASS/MISS
check() {
  local name=$1 v=$2 t=$3 op=${4:-'<'}
  awk -v n="$name" -v v="$v" -v t="$t" -v op="$op" 'BEGIN {
    if (v == "-" || v == "" || v == "+Inf") { printf "  %-44s %10s   target %s %-8s ratio    -   MISS (no figure)\n", n, v, op, t; exit }
    ok = (op == "<") ? v + 0 < t + 0 : v + 0 <= t + 0
    printf "  %-44s %10s   target %s %-8s ratio %5.2f  %s\n", n, v, op, t, v / t, ok ? "PASS" : "MISS" }'
}
{
  echo "synkro e2e sync benchmark: $(date -u +%FT%TZ), $(nproc) cores; crmsim latency $lat_desc"
  echo "synkro: $tuning; $N records per burst"
  echo "records/s = records / (first edit -> the other CRM holds every value; polled every 500 ms)"
  echo "calls/rec = crmsim API calls during the phase incl. echo handling / records"
  echo "lat p50/p99 = synkro_sync_latency_seconds (received -> written), upper bound of its bucket"
  echo "e2e p50/p99 = user edit -> write request in the other CRM (crmsim request log), ms"
  printf '%-32s %9s %10s %10s %12s %12s %12s %8s\n' phase records/s hs_calls/r sf_calls/r \
    lat_p50_s lat_p99_s e2e_ms rss_MB
  for p in 0 $PHASES; do
    printf '%-32s %9s %10s %10s %12s %12s %12s %8s\n' "$(label "$p")" "${RPS[$p]:--}" \
      "${HSC[$p]:--}" "${SFC[$p]:--}" "${P50[$p]:--}" "${P99[$p]:--}" "${E2E[$p]:--}" "${RSS[$p]:--}"
  done
  echo "details:"
  for p in 0 $PHASES; do echo "  $(label "$p"):${NOTE[$p]:-}"; done
  echo "targets:"
  for p in a b; do
    [[ " $PHASES " == *" $p "* ]] || continue
    check "$(label "$p"): HubSpot calls/record" "${HSC[$p]}" 0.02 '<='
    check "$(label "$p"): Salesforce calls/record" "${SFC[$p]}" 0.01 '<='
  done
  if [[ " $PHASES " == *" c "* ]]; then
    check "(c) p50 received->written (s, bucket bound)" "${P50[c]}" 0.25 '<='
    check "(c) p99 received->written (s, bucket bound)" "${P99[c]}" 1.0 '<=' 
  fi
  check "peak RSS of synkro, whole run (VmHWM, MB)" "$hwm" 64
  if [[ " $PHASES " == *" c "* && $LATENCY != 0 ]]; then
    echo "model of (c) for these settings (bench/latency_floor.c; the engine's rules, not a measurement):"
    "$floor" "$STEADY_RATE" "${LATENCY%-*}" "${LATENCY#*-}" "$HS_RATE" | sed 's/^/  /'
  fi
} | tee "$out/summary.txt"
log "results: $out"
