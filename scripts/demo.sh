#!/usr/bin/env bash
# demo.sh: the `make run` demo, used by scripts/run.sh when no CRM credentials
# are configured. Starts crmsim (both CRMs, simulated) with the sample object
# pair of tests/crmsim/fixtures/demo.json, starts `synkro serve` wired to it,
# creates and enables the sample mapping (docs/demo-mapping.json) through the
# admin API, brings the sample Salesforce projects over, and prints how to
# edit a record on either side and watch it sync. Ctrl-C (SIGINT/SIGTERM)
# stops synkro, then crmsim. It does not start or stop PostgreSQL (run.sh
# does) and never prints the admin token.
#
# Environment:
#   DATABASE_URL            the database synkro uses (required)
#   SYNKRO_DEMO_FRESH_DB=1  instead, (re)create the database synkro_demo in the
#                           same cluster and use it, so every demo starts clean
#   SYNKRO_ADMIN_TOKEN      admin API token (required, at least 16 characters)
#   SYNKRO_LISTEN           synkro's address (default 127.0.0.1:8080; port 0 = any free one)
#   SYNKRO_BIN, CRMSIM_BIN  the binaries (default build/synkro, crmsim beside it)
#   SYNKRO_DEMO_DIR         logs and state (default .data/demo): synkro.log,
#                           crmsim.log, crmsim-fixtures.json, and demo.env,
#                           written once everything is set up (SIM_URL,
#                           SYNKRO_URL, MAPPING_ID, HUBSPOT_SAMPLE_ID)
#   SYNKRO_DEMO_SAMPLE_WAIT seconds to wait for the first sample project to
#                           reach HubSpot before printing the banner (default 8)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=${SYNKRO_BIN:-$root/build/synkro}
crmsim=${CRMSIM_BIN:-$(dirname "$bin")/crmsim}
dir=${SYNKRO_DEMO_DIR:-$root/.data/demo}
fixture_template=$root/tests/crmsim/fixtures/demo.json
mapping_doc=$root/docs/demo-mapping.json

# The sample: what demo.json and demo-mapping.json define.
sf_object=Project__c
hs_object=p12345678_projects
sample_ids=(a0P000000000001EAA a0P000000000002EAA a0P000000000003EAA)
hs_token=pat-sim-token

say() { echo "demo: $*" >&2; }
die() { say "$*"; exit 1; }

[[ -n "${DATABASE_URL:-}" ]] || die "DATABASE_URL is not set"
SYNKRO_ADMIN_TOKEN=${SYNKRO_ADMIN_TOKEN:-}
[[ ${#SYNKRO_ADMIN_TOKEN} -ge 16 ]] || die "SYNKRO_ADMIN_TOKEN is not set (at least 16 characters)"
[[ -x "$bin" ]] || die "$bin is missing: run make build"
[[ -x "$crmsim" ]] || die "$crmsim is missing: run make build (it builds crmsim too)"

# ---- processes ----
# synkro and crmsim run in their own sessions (setsid), so that a Ctrl-C in the
# terminal reaches only run.sh and this script, which stop them in order:
# synkro first (it may still be writing to crmsim), then crmsim.

synkro_pid=""
crmsim_pid=""

# TERM, then KILL after 20 s; answers the child's exit status.
# shellcheck disable=SC2317 # called from the EXIT trap
stop_child() {
  local pid=$1 i rc=0
  [[ -n "$pid" ]] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 200; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || rc=$?
  return "$rc"
}

# shellcheck disable=SC2317 # the EXIT trap
cleanup() {
  local rc=$?
  trap - EXIT
  trap '' INT TERM # a second Ctrl-C must not orphan the children
  if [[ -n "$synkro_pid" ]]; then
    say "stopping synkro"
    stop_child "$synkro_pid" || rc=$?
  fi
  if [[ -n "$crmsim_pid" ]]; then
    say "stopping crmsim"
    stop_child "$crmsim_pid" || true
  fi
  rm -f "$dir/admin-header"
  exit "$rc"
}
trap cleanup EXIT
# A signal ends the demo normally: the exit status is then synkro's own.
trap 'exit 0' INT TERM

# ---- helpers ----

# A port below the kernel's ephemeral range (so no outgoing connection holds it).
free_port() { scripts/free_port.sh || die "no free port found"; }

# admin METHOD PATH [curl args...]: the body goes to $dir/response.json, the
# HTTP status to stdout. The token is read from a file, never from argv.
admin() {
  local method=$1 path=$2
  shift 2
  curl -sS --max-time 30 -o "$dir/response.json" -w '%{http_code}' -X "$method" \
    -H @"$dir/admin-header" "$@" "$synkro_url$path" || echo 000
}

# The first top-level "id" number of $dir/response.json (stored documents
# start with it).
response_id() { grep -o '"id": *[0-9]*' "$dir/response.json" | head -1 | grep -o '[0-9]*$' || true; }

show_response() { say "synkro answered: $(head -c 2000 "$dir/response.json")"; }

psql_bin() {
  local d
  if command -v psql >/dev/null; then command -v psql; return; fi
  for d in /usr/lib/postgresql/*/bin; do
    [[ -x "$d/psql" ]] && { echo "$d/psql"; return; }
  done
  die "psql not found (install postgresql-client-15)"
}

# ---- setup ----

mkdir -p "$dir"
(umask 077; printf 'Authorization: Bearer %s\n' "$SYNKRO_ADMIN_TOKEN" >"$dir/admin-header")
rm -f "$dir/demo.env" "$dir/crmsim.port"

if [[ "${SYNKRO_DEMO_FRESH_DB:-0}" == 1 ]]; then
  [[ "$DATABASE_URL" =~ ^postgres(ql)?://[^/]*/[^?]* ]] || die "SYNKRO_DEMO_FRESH_DB needs a postgresql:// URL"
  PGOPTIONS="-c client_min_messages=warning" "$(psql_bin)" "$DATABASE_URL" -qtA -v ON_ERROR_STOP=1 \
    -c "DROP DATABASE IF EXISTS synkro_demo WITH (FORCE)" -c "CREATE DATABASE synkro_demo" >/dev/null
  DATABASE_URL=$(sed -E 's#^(postgres(ql)?://[^/]*)/[^?]*#\1/synkro_demo#' <<<"$DATABASE_URL")
  say "fresh demo database synkro_demo (your synkro database is not touched)"
fi

listen=${SYNKRO_LISTEN:-127.0.0.1:8080}
listen_host=${listen%:*}
listen_port=${listen##*:}
auto_port=0
[[ "$listen_port" == 0 ]] && auto_port=1
case "$listen_host" in
  "" | 0.0.0.0 | "[::]") url_host=127.0.0.1 ;;
  *) url_host=$listen_host ;;
esac
endpoint_token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')

# crmsim calls synkro at synkro_url: the fixture is rendered with it.
start_crmsim() {
  rm -f "$dir/crmsim.port"
  sed -e "s|{{SYNKRO_URL}}|$synkro_url|g" -e "s|{{SF_ENDPOINT_TOKEN}}|$endpoint_token|g" \
    "$fixture_template" >"$dir/crmsim-fixtures.json"
  setsid "$crmsim" --listen 127.0.0.1:0 --port-file "$dir/crmsim.port" \
    --fixtures "$dir/crmsim-fixtures.json" >"$dir/crmsim.log" 2>&1 &
  crmsim_pid=$!
  for ((i = 0; i < 100; i++)); do
    [[ -s "$dir/crmsim.port" ]] && break
    if ! kill -0 "$crmsim_pid" 2>/dev/null; then
      crmsim_pid=""
      tail -5 "$dir/crmsim.log" >&2
      die "crmsim did not start"
    fi
    sleep 0.1
  done
  [[ -s "$dir/crmsim.port" ]] || die "crmsim did not start within 10 s (see $dir/crmsim.log)"
  sim_url="http://127.0.0.1:$(cat "$dir/crmsim.port")"
}

# synkro, with both CRM clients pointed at crmsim and crmsim's defaults as
# credentials; logs go to a file so that the banner stays readable. Returns 1
# when it could not listen on a port picked here (another one is tried).
start_synkro() {
  env -u HUBSPOT_REFRESH_TOKEN -u HUBSPOT_CLIENT_ID -u SALESFORCE_USERNAME -u SALESFORCE_JWT_KEY_FILE \
    SYNKRO_LISTEN="$listen_host:$listen_port" \
    DATABASE_URL="$DATABASE_URL" \
    SYNKRO_PUBLIC_BASE_URL="$synkro_url" \
    HUBSPOT_API_BASE="$sim_url" \
    HUBSPOT_ACCESS_TOKEN="$hs_token" \
    HUBSPOT_CLIENT_SECRET=sim-client-secret \
    HUBSPOT_PORTAL_ID=12345678 \
    SALESFORCE_LOGIN_URL="$sim_url" \
    SALESFORCE_CLIENT_ID=sim-sf-client-id \
    SALESFORCE_CLIENT_SECRET=sim-sf-client-secret \
    SALESFORCE_REFRESH_TOKEN=sim-sf-refresh-token \
    SALESFORCE_ORG_ID=00D000000000001 \
    SYNKRO_SF_ENDPOINT_TOKEN="$endpoint_token" \
    setsid "$bin" serve >"$dir/synkro.log" 2>&1 &
  synkro_pid=$!
  for ((i = 0; i < 600; i++)); do
    if ! kill -0 "$synkro_pid" 2>/dev/null; then
      wait "$synkro_pid" 2>/dev/null || true
      synkro_pid=""
      if [[ $auto_port -eq 1 ]] && grep -q '"cannot start the HTTP server"' "$dir/synkro.log"; then
        return 1
      fi
      grep -v '^ \|^$' "$dir/synkro.log" | tail -20 >&2
      die "synkro exited during start (log: $dir/synkro.log)"
    fi
    curl -fsS --max-time 2 "$synkro_url/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "synkro was not ready within 60 s (log: $dir/synkro.log)"
}

for attempt in 1 2 3 4 5; do
  [[ $auto_port -eq 1 ]] && listen_port=$(free_port)
  synkro_url="http://$url_host:$listen_port"
  start_crmsim
  start_synkro && break
  stop_child "$crmsim_pid" || true
  crmsim_pid=""
  [[ $attempt -eq 5 ]] && die "synkro found no free port (log: $dir/synkro.log)"
done
say "crmsim (HubSpot + Salesforce, simulated) at $sim_url"
say "synkro ready at $synkro_url (log: $dir/synkro.log)"

# The mapping: created as a draft, then enabled. In a database that already
# maps Project__c (a DATABASE_URL of your own), that mapping is used.
mapping_id=""
status=$(admin POST /api/mappings -H 'Content-Type: application/json' --data-binary @"$mapping_doc")
case "$status" in
  201) mapping_id=$(response_id) ;;
  409)
    status=$(admin GET /api/mappings)
    mapfile -t ids < <(grep -o '"id": *[0-9]*' "$dir/response.json" | grep -o '[0-9]*$')
    for id in "${ids[@]}"; do
      [[ $(admin GET "/api/mappings/$id") == 200 ]] || continue
      if grep -q '"salesforce_object": *"Project__c"' "$dir/response.json"; then mapping_id=$id; break; fi
    done
    [[ -n "$mapping_id" ]] && say "this database already maps Project__c: using mapping $mapping_id"
    ;;
esac
[[ -n "$mapping_id" ]] || { show_response; die "could not create the demo mapping (HTTP $status)"; }
status=$(admin POST "/api/mappings/$mapping_id/enable")
[[ "$status" == 200 ]] || { show_response; die "could not enable mapping $mapping_id (HTTP $status)"; }
say "mapping $mapping_id (Salesforce $sf_object <-> HubSpot $hs_object) enabled"

# The sample projects exist only in Salesforce: import them. A synkro without
# imports gets them the way a user would send them, by saving each record in
# Salesforce (its outbound message carries it to synkro).
status=$(admin POST "/api/mappings/$mapping_id/imports" -H 'Content-Type: application/json' \
  --data-binary '{"direction":"salesforce_to_hubspot"}')
case "$status" in
  2??) samples="import started (progress: GET /api/imports)" ;;
  404)
    for id in "${sample_ids[@]}"; do
      curl -fsS --max-time 10 -o /dev/null -X PATCH -H 'Content-Type: application/json' \
        --data-binary '{}' "$sim_url/_sim/salesforce/$sf_object/records/$id"
    done
    samples="saved once in Salesforce, so that they sync to HubSpot"
    ;;
  *)
    show_response
    samples="not imported (HTTP $status); edit one to sync it"
    ;;
esac

# The HubSpot id of the first sample, once synkro has written it there.
hs_lookup="$sim_url/crm/v3/objects/$hs_object/${sample_ids[0]}?idProperty=salesforce_id"
hs_sample_id=""
wait_s=${SYNKRO_DEMO_SAMPLE_WAIT:-8}
say "waiting up to ${wait_s} s for the sample projects to reach HubSpot"
for ((i = 0; i < wait_s * 5; i++)); do
  hs_sample_id=$(curl -sS --max-time 5 -H "Authorization: Bearer $hs_token" "$hs_lookup" 2>/dev/null |
    grep -o '"hs_object_id": *"[0-9]*"' | grep -o '[0-9][0-9]*' || true)
  [[ -n "$hs_sample_id" ]] && break
  sleep 0.2
done
[[ -n "$hs_sample_id" ]] && samples="synced to HubSpot"

# ---- the banner ----

rel_dir=${dir#"$root"/}
stops_pg=""
[[ "${SYNKRO_DEMO_FRESH_DB:-0}" == 1 ]] && stops_pg=" and the local PostgreSQL"
token_hint="\$(cat .data/admin-token)"
[[ -s "$root/.data/admin-token" && "$(cat "$root/.data/admin-token")" == "$SYNKRO_ADMIN_TOKEN" ]] ||
  token_hint="\$SYNKRO_ADMIN_TOKEN"
if [[ -n "$hs_sample_id" ]]; then
  hs_id_line="    HS_ID=$hs_sample_id"
else
  hs_id_line="    HS_ID=\$(curl -s -H 'Authorization: Bearer $hs_token' \"\$SIM/crm/v3/objects/$hs_object/${sample_ids[0]}?idProperty=salesforce_id\" | grep -o '\"hs_object_id\":\"[0-9]*' | cut -d'\"' -f4)"
fi
# A one-time console sign-in link (synkro console-link; the link is good once, for 10 minutes).
console_link=$(SYNKRO_API_URL="$synkro_url" "$bin" console-link 2>/dev/null | head -1 || true)
if [[ -n "$console_link" ]]; then
  console_line="    console  $console_link
             (signs you in once within 10 minutes; later: build/synkro console-link, or the token)"
else
  console_line="    console  $synkro_url/  (sign in with the admin token: $token_hint)"
fi
cat <<EOF

  synkro demo: Salesforce and HubSpot are simulated by crmsim on this machine.

$console_line

    synkro   $synkro_url      log: $rel_dir/synkro.log
    crmsim   $sim_url     log: $rel_dir/crmsim.log
    mapping  $mapping_id "Demo projects": Salesforce $sf_object <-> HubSpot projects (enabled)
    samples  ${#sample_ids[@]} Salesforce projects, $samples

  Try it from another terminal (copy and paste):

    SIM=$sim_url SYNKRO=$synkro_url
    AUTH="Authorization: Bearer $token_hint"

    # 1. Edit a project in Salesforce ...
    curl -s -X PATCH "\$SIM/_sim/salesforce/$sf_object/records/${sample_ids[0]}" \\
         -H 'Content-Type: application/json' -d '{"Status__c":"In Progress","Budget__c":52000}'
    #    ... and see it in HubSpot a moment later:
    curl -s -H 'Authorization: Bearer $hs_token' \\
         "\$SIM/crm/v3/objects/$hs_object/${sample_ids[0]}?idProperty=salesforce_id&properties=name,status,budget,start_date,active"

    # 2. Edit the same project in HubSpot ...
$hs_id_line
    curl -s -X PATCH "\$SIM/_sim/hubspot/$hs_object/records/\$HS_ID" \\
         -H 'Content-Type: application/json' -d '{"properties":{"status":"done","budget":"61000"}}'
    #    ... and see it in Salesforce:
    curl -s "\$SIM/_sim/salesforce/$sf_object/records/${sample_ids[0]}"

    # 3. What synkro did: events received, conflicts resolved, the mapping
    curl -s -H "\$AUTH" "\$SYNKRO/api/events?limit=20"
    curl -s -H "\$AUTH" "\$SYNKRO/api/conflicts"
    curl -s -H "\$AUTH" "\$SYNKRO/api/mappings/$mapping_id"

  Ctrl-C stops synkro, crmsim$stops_pg. To sync your real CRMs, set HUBSPOT_ACCESS_TOKEN
  and the SALESFORCE_* credentials (README.md, Configuration) and run make run again.

EOF

{
  echo "SIM_URL=$sim_url"
  echo "SYNKRO_URL=$synkro_url"
  echo "MAPPING_ID=$mapping_id"
  echo "HUBSPOT_SAMPLE_ID=$hs_sample_id"
} >"$dir/demo.env.tmp"
mv "$dir/demo.env.tmp" "$dir/demo.env"

# Run until synkro or crmsim exits, or a signal arrives (then cleanup).
status=0
wait -n "$synkro_pid" "$crmsim_pid" || status=$?
if ! kill -0 "$synkro_pid" 2>/dev/null; then
  synkro_pid=""
  say "synkro exited (status $status); last lines of $rel_dir/synkro.log:"
  tail -5 "$dir/synkro.log" >&2
else
  crmsim_pid=""
  say "crmsim exited (status $status); last lines of $rel_dir/crmsim.log:"
  tail -5 "$dir/crmsim.log" >&2
fi
exit 1
