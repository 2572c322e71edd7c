#!/usr/bin/env bash
# soak.sh: `make bench-soak`, the long-run benchmark: is synkro flat under steady work?
#   release build (synkro, crmsim, e2e_load) -> throwaway PostgreSQL -> crmsim (a small per-call
#   latency), webhooks and outbound messages pointed at synkro -> `synkro serve` -> a mapping
#   created and enabled -> every record linked once -> then, for SYNKRO_SOAK_SECONDS, steady
#   edits on both sides (e2e_load steady: crmsim sends the webhooks and outbound messages, so this
#   is ingest and sync at once) while every SYNKRO_SOAK_INTERVAL seconds one row is printed:
#   synkro's RSS, its open file descriptors, its PostgreSQL connections (pg_stat_activity),
#   the queue depth (pending + processing events), the events done so far, the sweeps of the
#   mapping finished so far (synkro_sweep_runs_total, read every second) and the sample's state:
#   "sweep" when a sweep held its lock (pg_locks) at the sample or ended less than
#   SYNKRO_SOAK_SWEEP_SETTLE seconds before it, "end" once the load has stopped, else "run".
#   At the end: bench/soak_verdict.sh (its header: the warm-up left out, the fit of the "run"
#   samples after it, slopes per hour and FLAT/GROWING against tolerances per hour); the steady
#   load's own report (edits seen written, end-to-end latency). A benchmark reports: it exits 0
#   whatever the figures, non-zero only when it could not run. Stops everything it started (trap).
#
# Environment:
#   SYNKRO_SOAK_SECONDS=600        how long the steady load runs
#   SYNKRO_SOAK_INTERVAL=30        seconds between samples
#   SYNKRO_SOAK_RATE=20            edits per second (alternating sides)
#   SYNKRO_SOAK_RECORDS=200        linked pairs the edits go round
#   SYNKRO_SOAK_LATENCY_MS=20      per-call latency of crmsim's CRM paths ("0": none)
#   SYNKRO_SOAK_SWEEP_SETTLE=20    seconds after a sweep ends during which a sample is "sweep"
#   SYNKRO_SOAK_WARMUP_S, SYNKRO_SOAK_WARMUP_SWEEPS, SYNKRO_SOAK_WARMUP_PCT, SYNKRO_SOAK_TOL_RSS_MB_H,
#   SYNKRO_SOAK_TOL_FDS_H, SYNKRO_SOAK_TOL_CONNS_H: the verdict's (bench/soak_verdict.sh)
#   SYNKRO_BENCH_BUILD_DIR=build-bench, SYNKRO_BENCH_NO_BUILD=1, SYNKRO_BENCH_WERROR=0,
#   SYNKRO_BENCH_OUT=dir (default <build dir>/results/soak-<time>), SYNKRO_BENCH_KEEP_TMP=1
#   synkro's own variables (SYNKRO_WORKERS, ...) pass through.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

SECONDS_TOTAL=${SYNKRO_SOAK_SECONDS:-600}
INTERVAL=${SYNKRO_SOAK_INTERVAL:-30}
RATE=${SYNKRO_SOAK_RATE:-20}
N=${SYNKRO_SOAK_RECORDS:-200}
LATENCY=${SYNKRO_SOAK_LATENCY_MS:-20}
SETTLE=${SYNKRO_SOAK_SWEEP_SETTLE:-20}
build_dir=${SYNKRO_BENCH_BUILD_DIR:-build-bench}
[[ $build_dir == /* ]] || build_dir=$root/$build_dir
out=${SYNKRO_BENCH_OUT:-$build_dir/results/soak-$(date +%Y%m%d-%H%M%S)}

log() { echo "bench-soak: $*" >&2; }
die() {
  echo "bench-soak: ERROR: $*" >&2
  exit 1
}
# shellcheck source=bench/bench_lib.sh
. "$root/bench/bench_lib.sh"
for v in SECONDS_TOTAL INTERVAL RATE N; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v (${!v}) must be a positive integer"
done
[[ $LATENCY =~ ^[0-9]+$ ]] || die "SYNKRO_SOAK_LATENCY_MS must be a number of ms"
[[ $SETTLE =~ ^[0-9]+$ ]] || die "SYNKRO_SOAK_SWEEP_SETTLE must be a number of seconds"

# ---- build ----
SYNKRO_EXTRA_PKGS="jq" scripts/deps.sh
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
PSQL=$([[ -x "$pg_bin/psql" ]] && echo "$pg_bin/psql" || command -v psql)
werror=$([[ ${SYNKRO_BENCH_WERROR:-1} == 0 ]] && echo OFF || echo ON)
if [[ ${SYNKRO_BENCH_NO_BUILD:-0} != 1 ]]; then
  log "building synkro, crmsim and e2e_load (release) in $build_dir/"
  cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DSYNKRO_SANITIZE=OFF -DSYNKRO_TESTS=OFF \
    -DSYNKRO_CRMSIM=ON -DSYNKRO_BENCH=ON -DSYNKRO_WERROR="$werror" >/dev/null
  scripts/build.sh release "$build_dir" >/dev/null
fi
bin=$build_dir/synkro
sim_bin=$build_dir/crmsim
load=$build_dir/e2e_load
for b in "$bin" "$sim_bin" "$load"; do [[ -x $b ]] || die "$b was not built"; done

mkdir -p "$out"
tmp=$(mktemp -d /tmp/synkro-bench-soak.XXXXXX)
synkro_pid="" sim_pid="" load_pid=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_pid "$load_pid"
  stop_pid "$synkro_pid"
  stop_pid "$sim_pid"
  scripts/pg.sh stop "$tmp/pg" >/dev/null 2>&1 || true
  if [[ ${SYNKRO_BENCH_KEEP_TMP:-0} == 1 ]]; then log "kept $tmp"; else rm -rf "$tmp"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- PostgreSQL, crmsim, synkro ----
db=synkro_bench_soak
bench_pg_start "$tmp/pg" "$db"
psqlc() { bench_psql -d "$db" -tA "$@"; }

"$sim_bin" --listen 127.0.0.1:0 --port-file "$tmp/crmsim.port" >"$out/crmsim.out" 2>"$out/crmsim.log" &
sim_pid=$!
for i in $(seq 1 100); do
  [[ -s $tmp/crmsim.port ]] && break
  kill -0 "$sim_pid" 2>/dev/null || die "crmsim exited at start"
  [[ $i -eq 100 ]] && die "crmsim not ready after 10 s"
  sleep 0.1
done
sim=http://127.0.0.1:$(cat "$tmp/crmsim.port")

admin=bench-soak-admin-token-0123456789
hs_secret=bench-soak-hubspot-client-secret-0123456789
sf_token=bench-soak-endpoint-token-0123456789
export DATABASE_URL="postgresql://$pg_user@localhost:$pg_port/$db?host=$pg_sock"
export HUBSPOT_API_BASE=$sim HUBSPOT_ACCESS_TOKEN=pat-sim-token HUBSPOT_CLIENT_SECRET=$hs_secret
export HUBSPOT_PORTAL_ID=12345678 HUBSPOT_RATE_LIMIT_PER_10S=5000
export SALESFORCE_LOGIN_URL=$sim SALESFORCE_CLIENT_ID=sim-sf-client-id
export SALESFORCE_CLIENT_SECRET=sim-sf-client-secret SALESFORCE_REFRESH_TOKEN=sim-sf-refresh-token
export SALESFORCE_ORG_ID=00D000000000001 SYNKRO_SF_ENDPOINT_TOKEN=$sf_token
export SYNKRO_SECRET_KEY=${SYNKRO_SECRET_KEY:-bench-soak-secret-key-0123456789abcdef0123456789}
export SYNKRO_ADMIN_TOKEN=$admin LOG_LEVEL=${LOG_LEVEL:-warn}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
export SYNKRO_LISTEN=127.0.0.1:$port SYNKRO_PUBLIC_BASE_URL=$base
"$bin" serve >"$out/synkro.log" 2>&1 &
synkro_pid=$!
for i in $(seq 1 300); do
  kill -0 "$synkro_pid" 2>/dev/null || die "synkro exited at start: $(tail -5 "$out/synkro.log")"
  [[ $(curl -s -o /dev/null -w '%{http_code}' "$base/readyz" || true) == 200 ]] && break
  [[ $i -eq 300 ]] && die "synkro not ready after 30 s"
  sleep 0.1
done

simcall() { # METHOD PATH [BODY]
  curl -sf -X "$1" -H 'Content-Type: application/json' ${3:+--data-binary "$3"} "$sim$2" >/dev/null ||
    die "crmsim $1 $2 failed"
}
api() { # METHOD PATH [BODY] -> "status body"
  local code
  code=$(curl -s -o "$tmp/api.ans" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $admin" \
    -H 'Content-Type: application/json' ${3:+--data-binary "$3"} "$base$2") || true
  echo "$code $(cat "$tmp/api.ans")"
}
sf_obj=Soak_Project__c
hs_obj=2-7100002
simcall POST /_sim/config "{\"hubspot_client_secret\":\"$hs_secret\",
  \"hubspot_webhook_url\":\"$base/webhooks/hubspot\",\"request_log_size\":10000,
  \"hubspot_rate_limit_max\":5000,\"salesforce_api_usage_max\":1000000000}"
awk -v n="$N" -v url="$base/webhooks/salesforce?token=$sf_token" -v sf="$sf_obj" -v hs="$hs_obj" 'BEGIN {
  printf "{\"hubspot\":{\"schemas\":[{\"name\":\"soak_projects\",\"objectTypeId\":\"%s\",", hs
  printf "\"primaryDisplayProperty\":\"name\",\"requiredProperties\":[\"name\"],\"properties\":["
  printf "{\"name\":\"name\",\"type\":\"string\"},"
  printf "{\"name\":\"salesforce_id\",\"type\":\"string\",\"hasUniqueValue\":true},"
  printf "{\"name\":\"stamp\",\"type\":\"string\"}]}]},"
  printf "\"salesforce\":{\"describes\":[{\"name\":\"%s\",\"label\":\"Soak Project\",", sf
  printf "\"keyPrefix\":\"a0C\",\"fields\":["
  printf "{\"name\":\"Name\",\"type\":\"string\",\"length\":80,\"nillable\":false},"
  printf "{\"name\":\"HubSpot_Id__c\",\"type\":\"string\",\"length\":30,\"externalId\":true,\"unique\":true},"
  printf "{\"name\":\"Stamp__c\",\"type\":\"string\",\"length\":80}]}],"
  printf "\"outbound_rules\":[{\"object\":\"%s\",\"url\":\"%s\",", sf, url
  printf "\"fields\":[\"Name\",\"Stamp__c\",\"HubSpot_Id__c\"]}],"
  printf "\"records\":{\"%s\":[", sf
  for (i = 0; i < n; i++) printf "%s{\"Name\":\"Soak %d\",\"Stamp__c\":\"seed\"}", i ? "," : "", i
  printf "]}}}\n" }' >"$tmp/fixture.json"
simcall POST /_sim/fixtures "@$tmp/fixture.json"
[[ $LATENCY == 0 ]] || simcall POST /_sim/faults "{\"match\":\"* /\",\"latency_ms\":$LATENCY}"

mapping="{\"name\":\"Soak\",\"salesforce_object\":\"$sf_obj\",\"hubspot_object\":\"$hs_obj\",
 \"rules\":{\"salesforce_to_hubspot\":{\"create\":true,\"update\":true,\"delete\":\"none\"},
           \"hubspot_to_salesforce\":{\"create\":true,\"update\":true,\"delete\":\"none\"},
           \"conflict_winner\":\"salesforce\"},
 \"identity\":{\"hubspot_property\":\"salesforce_id\",\"salesforce_field\":\"HubSpot_Id__c\"},
 \"fields\":[{\"salesforce\":\"Name\",\"hubspot\":\"name\",\"rule\":\"two_way\"},
             {\"salesforce\":\"Stamp__c\",\"hubspot\":\"stamp\",\"rule\":\"two_way\"}]}"
read -r code body <<<"$(api POST /api/mappings "$mapping")"
[[ $code == 201 ]] || die "creating the mapping answered $code: $body"
mapping_id=$(jq -r .id <<<"$body")
read -r code body <<<"$(api POST "/api/mappings/$mapping_id/enable")"
[[ $code == 200 ]] || die "enabling the mapping answered $code: $body"

# ---- link every pair ----
curl -sf "$sim/_sim/salesforce/$sf_obj/records" | jq -r '.records[].Id' >"$tmp/sf_ids"
"$load" update --sim "$sim" --side sf --object "$sf_obj" --field Stamp__c --ids "$tmp/sf_ids" \
  --tag l --conns 4 >/dev/null
w=$("$load" wait --sim "$sim" --side sf --object "$sf_obj" --field HubSpot_Id__c --prefix "" \
  --expect "$N" --timeout 600 --interval-ms 500)
log "linking $N pairs: $w"
"$load" pairs --sim "$sim" --object "$hs_obj" --property salesforce_id >"$tmp/pairs"
[[ $(wc -l <"$tmp/pairs") -ge 2 ]] || die "no linked pairs"

# ---- the soak ----
# the sweeps of the mapping finished so far (the counter exists from the first one on)
sweeps_done() { curl -s "$base/metrics" | awk '/^synkro_sweep_runs_total/ { s += $NF } END { print s + 0 }'; }
sweeps=$(sweeps_done)
sweep_ended=-1000000 # elapsed s when the counter last moved
sample() { # ELAPSED STATE -> "elapsed_s rss_kb fds db_conns queue_depth done sweeps state"
  local rss fds conns queue ndone held state=$2
  rss=$(awk '/^VmRSS:/{ print $2 }' "/proc/$synkro_pid/status")
  fds=$(ls "/proc/$synkro_pid/fd" | wc -l)
  # a sweep holds the advisory lock (LOCK_KEY_SWEEP, mapping id) on its connection while it runs
  read -r conns queue ndone held <<<"$(psqlc -F ' ' -c "SELECT
     (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()),
     count(*) FILTER (WHERE status IN ('pending', 'processing')), count(*) FILTER (WHERE status = 'done'),
     (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 1937204080
        AND objsubid = 2 AND granted) FROM change_events")"
  if [[ $state == run ]] && { [[ $held -gt 0 ]] || [[ $(($1 - sweep_ended)) -lt $SETTLE ]]; }; then
    state=sweep
  fi
  echo "$1 $rss $fds $conns $queue $ndone $sweeps $state"
}
log "soak: $RATE edits/s for ${SECONDS_TOTAL}s, a sample every ${INTERVAL}s ($(nproc) cores; crmsim latency ${LATENCY} ms)"
"$load" steady --sim "$sim" --pairs "$tmp/pairs" --sf-object "$sf_obj" --hs-object "$hs_obj" \
  --sf-field Stamp__c --hs-field stamp --tag s --rate "$RATE" --seconds "$SECONDS_TOTAL" \
  --interval-ms 1000 --settle 30 >"$tmp/steady.out" 2>"$out/steady.err" &
load_pid=$!
samples=$out/samples.txt
fmt='{ printf "%8s %10s %6s %9s %12s %10s %7s %6s\n", $1, $2, $3, $4, $5, $6, $7, $8 }'
printf "%8s %10s %6s %9s %12s %10s %7s %6s\n" elapsed_s rss_kB fds db_conns queue_depth "done" sweeps state
: >"$samples"
t0=$(date +%s)
next=0
while :; do
  now=$(($(date +%s) - t0))
  s=$(sweeps_done)
  if [[ $s != "$sweeps" ]]; then
    sweeps=$s
    sweep_ended=$now
  fi
  if [[ $now -ge $next ]]; then
    row=$(sample "$now" "$([[ $now -le $SECONDS_TOTAL ]] && echo run || echo end)")
    echo "$row" >>"$samples"
    awk "$fmt" <<<"$row"
    next=$((next + INTERVAL))
  fi
  kill -0 "$load_pid" 2>/dev/null || break
  [[ $now -gt $((SECONDS_TOTAL + 120)) ]] && break
  sleep 1
done
wait "$load_pid" 2>/dev/null || true
load_pid=""
row=$(sample $(($(date +%s) - t0)) end)
echo "$row" >>"$samples"
awk "$fmt" <<<"$row" | sed 's/$/   (load finished)/'

# ---- the verdict ----
{
  echo "synkro soak: $(date -u +%FT%TZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), ${SECONDS_TOTAL}s at $RATE edits/s over $N pairs, crmsim latency ${LATENCY} ms"
  echo "steady load: $(cat "$tmp/steady.out")"
  bench/soak_verdict.sh "$samples" "$RATE"
  echo "samples: $samples"
} | tee "$out/summary.txt"
log "results: $out"
