#!/usr/bin/env bash
# test_config_check.sh: `synkro config check` as people meet it (the real binary): an invalid value
# is shown as given and marked INVALID (never the default it fell back to), an empty value is the
# default (what `NAME=` in an env file means), no CRM credentials warn but exit 0, and a flow that
# stores tokens without SYNKRO_SECRET_KEY exits 2 naming it.
set -euo pipefail
bin=${SYNKRO_BIN:?}
db=DATABASE_URL=postgresql://synkro@localhost:5432/synkro
passed=0
failed=0
check() { # check NAME WANT_STATUS NEEDLE VAR=VALUE...
  local name=$1 want=$2 needle=$3 out rc=0
  shift 3
  out=$(env -i PATH="$PATH" "$db" "$@" "$bin" config check 2>&1) || rc=$?
  if [[ $rc -ne $want ]]; then
    failed=$((failed + 1)); echo "FAIL: $name: exit $rc, expected $want:" >&2; echo "$out" >&2
  elif ! grep -qF -- "$needle" <<<"$out"; then
    failed=$((failed + 1)); echo "FAIL: $name: no '$needle' in:" >&2; echo "$out" >&2
  else
    passed=$((passed + 1)); echo "ok: $name"
  fi
}
check "an invalid value is shown as given" 2 "SYNKRO_HTTP_THREADS=abc  # INVALID" SYNKRO_HTTP_THREADS=abc
check "and named with the reason" 2 "SYNKRO_HTTP_THREADS: 'abc' is not an integer" SYNKRO_HTTP_THREADS=abc
check "an empty value is the default" 0 "HUBSPOT_PORTAL_ID=0  # empty, default" HUBSPOT_PORTAL_ID=
check "no CRM credentials warn" 0 "HUBSPOT_ACCESS_TOKEN: no HubSpot API credentials" HUBSPOT_PORTAL_ID=
check "and the configuration is still valid" 0 "configuration is valid" LOG_LEVEL=
check "the Salesforce refresh flow needs SYNKRO_SECRET_KEY" 2 \
  "SYNKRO_SECRET_KEY: is not set, but the Salesforce refresh-token flow" \
  SALESFORCE_CLIENT_ID=cid SALESFORCE_CLIENT_SECRET=secret-123 SALESFORCE_REFRESH_TOKEN=refresh-123
check "the HubSpot OAuth flow needs SYNKRO_SECRET_KEY" 2 \
  "SYNKRO_SECRET_KEY: is not set, but the HubSpot OAuth refresh flow" \
  HUBSPOT_CLIENT_ID=hcid HUBSPOT_REFRESH_TOKEN=hs-refresh-123
check "with the key both flows are valid" 0 "configuration is valid" \
  SALESFORCE_CLIENT_ID=cid SALESFORCE_CLIENT_SECRET=secret-123 SALESFORCE_REFRESH_TOKEN=refresh-123 \
  HUBSPOT_CLIENT_ID=hcid HUBSPOT_REFRESH_TOKEN=hs-refresh-123 \
  SYNKRO_SECRET_KEY=0123456789abcdef0123456789abcdef
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
