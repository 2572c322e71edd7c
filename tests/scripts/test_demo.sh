#!/usr/bin/env bash
# test_demo.sh: the `make run` demo (scripts/demo.sh) end to end, non-interactively:
# against a throwaway database it starts crmsim + synkro, and must create and
# enable the sample mapping and print the banner; then a Salesforce edit made
# through crmsim's /_sim/ API must be accepted by synkro and reach crmsim's
# HubSpot within 15 s, and a HubSpot edit must reach Salesforce the same way;
# SIGTERM must stop synkro and crmsim cleanly. Needs the sync workers for the
# "reaches the other CRM" checks. Database: a new one in the cluster of
# SYNKRO_TEST_ADMIN_URL (scripts/test.sh), else its own via scripts/pg.sh.
set -euo pipefail
src=${SYNKRO_SOURCE_DIR:?}
bin=${SYNKRO_BIN:?}
crmsim=${CRMSIM_BIN:-${SYNKRO_BUILD_DIR:?}/crmsim}
cd "$src"

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
check() { # check NAME COMMAND...
  local name=$1
  shift
  if "$@"; then ok "$name"; else bad "$name"; fi
}

tmp=$(mktemp -d /tmp/synkro-demo-test.XXXXXX)
chmod 755 "$tmp"
db=""
own_pg=""
demo_pid=""
token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')

psql_bin() {
  local d
  if command -v psql >/dev/null; then command -v psql; return; fi
  for d in /usr/lib/postgresql/*/bin; do [[ -x "$d/psql" ]] && { echo "$d/psql"; return; }; done
  echo "psql not found" >&2
  exit 1
}

# shellcheck disable=SC2317 # the EXIT trap
cleanup() {
  if [[ -n "$demo_pid" ]] && kill -0 "$demo_pid" 2>/dev/null; then
    kill -TERM "$demo_pid" 2>/dev/null || true
    wait "$demo_pid" 2>/dev/null || true
  fi
  if [[ -n "$db" ]]; then
    PGOPTIONS="-c client_min_messages=warning" "$(psql_bin)" "$SYNKRO_TEST_ADMIN_URL" -qtA \
      -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  [[ -n "$own_pg" ]] && scripts/pg.sh stop "$own_pg" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

# ---- a throwaway database ----
if [[ -n "${SYNKRO_TEST_ADMIN_URL:-}" ]]; then
  db="synkro_demo_test_$$"
  "$(psql_bin)" "$SYNKRO_TEST_ADMIN_URL" -qtA -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db" >/dev/null
  database_url=$(sed -E "s#^(postgres(ql)?://[^/]*)/[^?]*#\\1/$db#" <<<"$SYNKRO_TEST_ADMIN_URL")
else
  own_pg="$tmp/pg"
  database_url=$(SYNKRO_PG_FSYNC=off scripts/pg.sh start "$own_pg")
fi

# ---- the demo, as run.sh starts it (no CRM credentials in its environment) ----
env -u HUBSPOT_ACCESS_TOKEN -u HUBSPOT_REFRESH_TOKEN -u SALESFORCE_CLIENT_ID \
  -u SALESFORCE_CLIENT_SECRET -u SALESFORCE_REFRESH_TOKEN -u SYNKRO_DEMO_FRESH_DB \
  DATABASE_URL="$database_url" SYNKRO_ADMIN_TOKEN="$token" SYNKRO_LISTEN=127.0.0.1:0 \
  SYNKRO_BIN="$bin" CRMSIM_BIN="$crmsim" SYNKRO_DEMO_DIR="$tmp/demo" SYNKRO_DEMO_SAMPLE_WAIT=15 \
  scripts/demo.sh >"$tmp/demo.out" 2>"$tmp/demo.err" &
demo_pid=$!

for ((i = 0; i < 1200; i++)); do
  [[ -s "$tmp/demo/demo.env" ]] && break
  kill -0 "$demo_pid" 2>/dev/null || break
  sleep 0.1
done
if [[ ! -s "$tmp/demo/demo.env" ]]; then
  bad "the demo sets up (stderr below)"
  cat "$tmp/demo.err" >&2
  tail -20 "$tmp/demo/synkro.log" >&2 2>/dev/null || true
  echo "$passed passed, $failed failed"
  exit 1
fi
ok "the demo sets up"
SIM_URL="" SYNKRO_URL="" MAPPING_ID="" HUBSPOT_SAMPLE_ID=""
# shellcheck disable=SC1091 # written by demo.sh
source "$tmp/demo/demo.env"
sf_id=a0P000000000001EAA
hs_type=p12345678_projects
auth=(-H "Authorization: Bearer $token")

banner_has() { grep -qF -- "$1" "$tmp/demo.out"; }
check "the banner shows the URLs" banner_has "$SYNKRO_URL"
check "the banner shows crmsim" banner_has "SIM=$SIM_URL"
check "the banner shows a Salesforce edit" banner_has "_sim/salesforce/Project__c/records/$sf_id"
check "the banner shows a HubSpot edit" banner_has "_sim/hubspot/$hs_type/records/"
# the console line: a one-time sign-in link that works once (302 with the session cookie)
link=$(grep -o "$SYNKRO_URL/signin?code=[0-9a-f]*" "$tmp/demo.out" | head -1 || true)
link_signs_in() {
  [[ -n "$link" ]] &&
    curl -sS -o /dev/null -D - "$link" | grep -qi '^set-cookie: synkro_session=[0-9a-f]\{64\};' &&
    [[ $(curl -sS -o /dev/null -w '%{http_code}' "$link") == 401 ]]
}
check "the banner shows a console sign-in link that works once" link_signs_in
banner_has_api() { banner_has "/api/events" && banner_has "/api/conflicts"; }
check "the banner shows events and conflicts" banner_has_api
no_token() { ! grep -qF -- "$token" "$tmp/demo.out" "$tmp/demo.err" "$tmp/demo/synkro.log"; }
check "the admin token is never printed" no_token

mapping_enabled() {
  curl -fsS "${auth[@]}" "$SYNKRO_URL/api/mappings/$MAPPING_ID" | grep -q '"state": *"enabled"'
}
check "the sample mapping is created and enabled" mapping_enabled

# events_of SOURCE RECORD_ID: how many events synkro holds for that record
events_of() {
  local body
  body=$(curl -fsS "${auth[@]}" "$SYNKRO_URL/api/events?source=$1&record_id=$2&limit=500" || true)
  { grep -o '"idempotency_key"' <<<"$body" || true; } | wc -l
}
# wait_for SECONDS COMMAND...: true once COMMAND succeeds
wait_for() {
  local s=$1 i
  shift
  for ((i = 0; i < s * 5; i++)); do
    "$@" && return 0
    sleep 0.2
  done
  return 1
}
more_events() { [[ $(events_of "$1" "$2") -gt $3 ]]; }
hs_has() { # hs_has SF_ID TEXT: the HubSpot record of that Salesforce id contains TEXT
  curl -sS -H 'Authorization: Bearer pat-sim-token' \
    "$SIM_URL/crm/v3/objects/$hs_type/$1?idProperty=salesforce_id&properties=name,status,budget" |
    grep -qF -- "$2"
}
sf_has() { curl -sS "$SIM_URL/_sim/salesforce/Project__c/records" | grep -qF -- "$1"; }

# ---- Salesforce -> HubSpot ----
before=$(events_of salesforce "$sf_id")
sf_name="Website relaunch $$"
curl -fsS -o /dev/null -X PATCH -H 'Content-Type: application/json' \
  --data-binary "{\"Name\":\"$sf_name\",\"Budget__c\":52000}" \
  "$SIM_URL/_sim/salesforce/Project__c/records/$sf_id"
check "a Salesforce edit is accepted into /api/events" wait_for 10 more_events salesforce "$sf_id" "$before"
check "the sample projects reached HubSpot before the banner" test -n "$HUBSPOT_SAMPLE_ID"
check "the Salesforce edit reaches HubSpot within 15 s" wait_for 15 hs_has "$sf_id" "\"name\":\"$sf_name\""

# ---- HubSpot -> Salesforce ----
hs_id=$(curl -sS -H 'Authorization: Bearer pat-sim-token' \
  "$SIM_URL/crm/v3/objects/$hs_type/$sf_id?idProperty=salesforce_id" |
  grep -o '"hs_object_id":"[0-9]*' | cut -d'"' -f4 || true)
hs_name="Website relaunch (HubSpot) $$"
if [[ -n "$hs_id" ]]; then
  curl -fsS -o /dev/null -X PATCH -H 'Content-Type: application/json' \
    --data-binary "{\"properties\":{\"name\":\"$hs_name\",\"status\":\"done\"}}" \
    "$SIM_URL/_sim/hubspot/$hs_type/records/$hs_id"
else
  # no synced copy to edit: create a HubSpot project instead, so that ingest is still checked
  hs_id=$(curl -fsS -X POST -H 'Content-Type: application/json' \
    --data-binary "{\"properties\":{\"name\":\"$hs_name\",\"status\":\"done\"}}" \
    "$SIM_URL/_sim/hubspot/$hs_type/records" | grep -o '"hs_object_id":"[0-9]*' | cut -d'"' -f4 || true)
fi
check "a HubSpot edit is accepted into /api/events" wait_for 10 more_events hubspot "$hs_id" 0
check "the HubSpot edit reaches Salesforce within 15 s" wait_for 15 sf_has "\"Name\":\"$hs_name\""

# ---- Ctrl-C (run.sh forwards it as SIGTERM) ----
kill -TERM "$demo_pid"
rc=0
for ((i = 0; i < 300; i++)); do
  kill -0 "$demo_pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$demo_pid" 2>/dev/null; then
  bad "SIGTERM stops the demo within 30 s"
else
  wait "$demo_pid" || rc=$?
  demo_pid=""
  check "SIGTERM stops the demo with status 0" test "$rc" -eq 0
fi
down() { ! curl -fsS --max-time 2 -o /dev/null "$1" 2>/dev/null; }
check "synkro is stopped" down "$SYNKRO_URL/healthz"
check "crmsim is stopped" down "$SIM_URL/_sim/health"
check "synkro shut down cleanly" grep -q '"msg":"stopped"' "$tmp/demo/synkro.log"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
