#!/usr/bin/env bash
# run.sh: the console's browser tests (ctest browser.console). Starts crmsim (both CRMs, with
# tests/browser/fixture.json) and the real synkro binary on a throwaway database of the
# PostgreSQL cluster scripts/test.sh started (SYNKRO_TEST_ADMIN_URL; its own via scripts/pg.sh
# otherwise), installs playwright-core and axe-core with `npm ci` (versions pinned in
# package-lock.json) into the build directory, and runs every tests/browser/*.spec.mjs with node's
# test runner in Debian's headless Chromium, one file after the other; then adminplane.spec.mjs
# alone against a second synkro (same database) with SYNKRO_ADMIN_LISTEN, the console on the
# admin plane's address and the public listener named by SYNKRO_PUBLIC_URL. Screenshots go to
# <build>/artifacts/screenshots/. Exits 77 (skipped, saying why) when Chromium, Node.js 20 or the
# npm packages cannot be had. Bounded: the specs get at most SYNKRO_BROWSER_TIMEOUT seconds
# (default 360).
#   SYNKRO_BROWSER_SPECS="wizard"   runs only the spec files whose names contain one of the words
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=${SYNKRO_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
build=${SYNKRO_BUILD_DIR:?SYNKRO_BUILD_DIR is the build directory (set by ctest)}
bin=${SYNKRO_BIN:-$build/synkro}
crmsim=${CRMSIM_BIN:-$build/crmsim}
cd "$src"

skip() { echo "SKIPPED: $*"; exit 77; }

# ---- Chromium, Node.js, the npm packages ----
chromium_bin=$(command -v chromium || true)
if [[ -z $chromium_bin && $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1; } || true
  chromium_bin=$(command -v chromium || true)
fi
[[ -n $chromium_bin ]] || skip "Debian's chromium is not installed (apt-get install chromium)"
command -v node >/dev/null || skip "Node.js is not installed (the tests need Node.js 20 and npm)"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
  skip "Node.js $(node --version) is older than 20, which playwright-core needs"
modules=$build/browser-node
if ! cmp -s "$here/package-lock.json" "$modules/package-lock.json" || [[ ! -d $modules/node_modules/playwright-core ]]; then
  mkdir -p "$modules"
  cp "$here/package.json" "$here/package-lock.json" "$modules/"
  (cd "$modules" && npm ci --no-audit --no-fund --prefer-offline --loglevel=error >npm.log 2>&1) ||
    { cat "$modules/npm.log" >&2; rm -f "$modules/package-lock.json"; skip "npm ci could not install playwright-core and axe-core (see above)"; }
fi

tmp=$(mktemp -d /tmp/synkro-browser-test.XXXXXX)
chmod 755 "$tmp"
db=""
own_pg=""
synkro_pid=""
crmsim_pid=""
psql_bin() {
  local d
  if command -v psql >/dev/null; then command -v psql; return; fi
  for d in /usr/lib/postgresql/*/bin; do [[ -x "$d/psql" ]] && { echo "$d/psql"; return; }; done
  echo "psql not found" >&2
  exit 1
}
# shellcheck disable=SC2317 # the EXIT trap
cleanup() {
  [[ -n $synkro_pid ]] && kill -TERM "$synkro_pid" 2>/dev/null && wait "$synkro_pid" 2>/dev/null
  [[ -n $crmsim_pid ]] && kill -TERM "$crmsim_pid" 2>/dev/null && wait "$crmsim_pid" 2>/dev/null
  if [[ -n $db ]]; then
    PGOPTIONS="-c client_min_messages=warning" "$(psql_bin)" "$SYNKRO_TEST_ADMIN_URL" -qtA \
      -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  [[ -n $own_pg ]] && scripts/pg.sh stop "$own_pg" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

# ---- a throwaway database ----
if [[ -n ${SYNKRO_TEST_ADMIN_URL:-} ]]; then
  db="synkro_browser_test_$$"
  "$(psql_bin)" "$SYNKRO_TEST_ADMIN_URL" -qtA -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db" >/dev/null
  database_url=$(sed -E "s#^(postgres(ql)?://[^/]*)/[^?]*#\\1/$db#" <<<"$SYNKRO_TEST_ADMIN_URL")
else
  own_pg="$tmp/pg"
  database_url=$(SYNKRO_PG_FSYNC=off scripts/pg.sh start "$own_pg")
fi

# ---- crmsim, then synkro pointed at it ----
"$crmsim" --listen 127.0.0.1:0 --port-file "$tmp/crmsim.port" --fixtures "$here/fixture.json" \
  >"$tmp/crmsim.log" 2>&1 &
crmsim_pid=$!
for ((i = 0; i < 100; i++)); do
  [[ -s $tmp/crmsim.port ]] && break
  kill -0 "$crmsim_pid" 2>/dev/null || break
  sleep 0.1
done
[[ -s $tmp/crmsim.port ]] || { cat "$tmp/crmsim.log" >&2; echo "FAIL: crmsim did not start" >&2; exit 1; }
sim_url="http://127.0.0.1:$(cat "$tmp/crmsim.port")"

admin=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
# start_synkro [VAR=value...]: starts synkro (extra environment as arguments) and waits for its
# port (and, with SYNKRO_ADMIN_LISTEN, the admin plane's: admin_port)
start_synkro() {
  : >"$tmp/synkro.out"
  env -u HUBSPOT_REFRESH_TOKEN -u HUBSPOT_CLIENT_ID -u SALESFORCE_USERNAME -u SALESFORCE_JWT_KEY_FILE \
    DATABASE_URL="$database_url" SYNKRO_LISTEN=127.0.0.1:0 SYNKRO_ADMIN_TOKEN="$admin" \
    HUBSPOT_API_BASE="$sim_url" HUBSPOT_ACCESS_TOKEN=pat-sim-token HUBSPOT_PORTAL_ID=12345678 \
    SALESFORCE_LOGIN_URL="$sim_url" SALESFORCE_CLIENT_ID=sim-sf-client-id \
    SALESFORCE_CLIENT_SECRET=sim-sf-client-secret SALESFORCE_REFRESH_TOKEN=sim-sf-refresh-token \
    SYNKRO_WORKERS=0 SYNKRO_SWEEP_INTERVAL=0 "$@" \
    "$bin" serve >"$tmp/synkro.out" 2>>"$tmp/synkro.err" &
  synkro_pid=$!
  port=""
  admin_port=""
  for ((i = 0; i < 300; i++)); do
    port=$(sed -n 's/.* listening on .*(port \([0-9]*\)).*/\1/p' "$tmp/synkro.out" | head -1)
    admin_port=$(sed -n 's/^admin plane .*(port \([0-9]*\)).*/\1/p' "$tmp/synkro.out" | head -1)
    [[ -n $port ]] && break
    kill -0 "$synkro_pid" 2>/dev/null || break
    sleep 0.1
  done
  [[ -n $port ]] || { tail -20 "$tmp/synkro.err" >&2; echo "FAIL: synkro did not start" >&2; exit 1; }
}
stop_synkro() {
  if kill -TERM "$synkro_pid" 2>/dev/null; then wait "$synkro_pid" 2>/dev/null || true; fi
  synkro_pid=""
}

# ---- the specs ----
# adminplane.spec.mjs runs apart, against a synkro with SYNKRO_ADMIN_LISTEN (started after the rest)
specs=()
admin_spec=""
for f in "$here"/*.spec.mjs; do
  name=$(basename "$f" .spec.mjs)
  if [[ -n ${SYNKRO_BROWSER_SPECS:-} ]] && ! grep -qw -- "$name" <<<"$SYNKRO_BROWSER_SPECS"; then continue; fi
  if [[ $name == adminplane ]]; then admin_spec=$f; else specs+=("$f"); fi
done
((${#specs[@]})) || [[ -n $admin_spec ]] || { echo "FAIL: no spec file matches SYNKRO_BROWSER_SPECS" >&2; exit 1; }
mkdir -p "$build/artifacts/screenshots"
rm -f "$build/artifacts/screenshots/FAILED-"*.png
rc=0
# run_specs URL [VAR=value...] -- spec...: the spec files against the synkro at URL
run_specs() {
  local url=$1
  shift
  local extra=()
  while [[ $1 != -- ]]; do extra+=("$1"); shift; done
  shift
  env SYNKRO_URL="$url" SIM_URL="$sim_url" SYNKRO_ADMIN_TOKEN="$admin" \
    CHROMIUM_BIN="$chromium_bin" BROWSER_NODE_MODULES="$modules/node_modules" \
    SCREENSHOT_DIR="$build/artifacts/screenshots" "${extra[@]}" \
    timeout -k 5 "${SYNKRO_BROWSER_TIMEOUT:-360}" \
    node --test --test-concurrency=1 --test-reporter=spec "$@" || rc=$?
}
if ((${#specs[@]})); then
  start_synkro
  run_specs "http://127.0.0.1:$port" -- "${specs[@]}"
  stop_synkro
fi
if ((rc == 0)) && [[ -n $admin_spec ]]; then
  echo "---- the admin plane on its own address (SYNKRO_ADMIN_LISTEN) ----"
  start_synkro SYNKRO_ADMIN_LISTEN=127.0.0.1:0
  [[ -n $admin_port ]] || { tail -20 "$tmp/synkro.err" >&2; echo "FAIL: synkro did not report its admin plane's port" >&2; exit 1; }
  run_specs "http://127.0.0.1:$admin_port" SYNKRO_PUBLIC_URL="http://127.0.0.1:$port" -- "$admin_spec"
fi
if ((rc != 0)); then
  echo "---- synkro's log (last 40 lines) ----" >&2
  tail -40 "$tmp/synkro.err" >&2
  ((rc == 124)) && echo "FAIL: the browser tests took longer than ${SYNKRO_BROWSER_TIMEOUT:-360} s" >&2
fi
exit "$rc"
