#!/usr/bin/env bash
# run.sh: what `make run` does after deps and build. When DATABASE_URL is
# unset it starts a project-local PostgreSQL under .data/pg (kept between
# runs), then runs `synkro serve` in the foreground. Ctrl-C stops synkro
# first, then the local database, cleanly.
# Without CRM credentials (none of HUBSPOT_ACCESS_TOKEN, HUBSPOT_REFRESH_TOKEN,
# SALESFORCE_CLIENT_ID/_SECRET/_REFRESH_TOKEN, SALESFORCE_USERNAME,
# SALESFORCE_JWT_KEY_FILE in the environment) it runs the demo instead:
# scripts/demo.sh, synkro against crmsim with a sample mapping. Either way a
# one-time console sign-in link is printed (synkro console-link).
# SYNKRO_DEMO=auto (default) | 1 (always the demo) | 0 (never).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=${SYNKRO_BIN:-$root/build/synkro}

started_pg=""
# shellcheck disable=SC2317 # the EXIT trap
cleanup() {
  if [[ -n "$started_pg" ]]; then
    echo "run: stopping the local PostgreSQL" >&2
    scripts/pg.sh stop "$started_pg" || true
  fi
}
trap cleanup EXIT

if [[ -z "${DATABASE_URL:-}" ]]; then
  export DATABASE_URL
  DATABASE_URL=$(scripts/pg.sh start "$root/.data/pg")
  started_pg="$root/.data/pg"
  echo "run: local PostgreSQL at $DATABASE_URL (data in .data/pg)" >&2
fi

# An admin token, so the admin API works out of the box: made once, kept in
# .data/admin-token (mode 600), never printed to the log.
if [[ -z "${SYNKRO_ADMIN_TOKEN:-}" ]]; then
  mkdir -p "$root/.data"
  if [[ ! -s "$root/.data/admin-token" ]]; then
    (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$root/.data/admin-token")
  fi
  export SYNKRO_ADMIN_TOKEN
  SYNKRO_ADMIN_TOKEN=$(cat "$root/.data/admin-token")
  echo "run: admin API token is in .data/admin-token (curl -H \"Authorization: Bearer \$(cat .data/admin-token)\" ...)" >&2
fi

crm_credentials=(HUBSPOT_ACCESS_TOKEN HUBSPOT_REFRESH_TOKEN SALESFORCE_CLIENT_ID
  SALESFORCE_CLIENT_SECRET SALESFORCE_REFRESH_TOKEN SALESFORCE_USERNAME SALESFORCE_JWT_KEY_FILE)
demo=0
case "${SYNKRO_DEMO:-auto}" in
  auto)
    demo=1
    for v in "${crm_credentials[@]}"; do
      if [[ -n "${!v:-}" ]]; then demo=0; fi
    done
    ;;
  1 | on | true) demo=1 ;;
  0 | off | false) demo=0 ;;
  *) echo "run: SYNKRO_DEMO must be auto, 1 or 0" >&2; exit 2 ;;
esac
cmd=("$bin" serve)
if [[ $demo -eq 1 ]]; then
  echo "run: no CRM credentials configured: starting the demo (synkro + crmsim, simulated CRMs)" >&2
  # the local cluster gets a fresh demo database; a DATABASE_URL of your own is used as is
  if [[ -n "$started_pg" ]]; then export SYNKRO_DEMO_FRESH_DB=1; fi
  export SYNKRO_BIN="$bin"
  cmd=(scripts/demo.sh)
fi

# Without the demo (whose banner has its own), a one-time console sign-in link once synkro
# answers (synkro console-link; exit 3 means not reachable yet).
if [[ $demo -eq 0 ]]; then
  (
    for ((i = 0; i < 100; i++)); do
      sleep 0.3
      rc=0
      out=$("$bin" console-link 2>/dev/null) || rc=$?
      if [[ $rc -eq 0 ]]; then
        echo "run: console sign-in link (once, within 10 minutes): ${out%%$'\n'*}" >&2
        echo "run: later, run $bin console-link again, or sign in with the admin token" >&2
        break
      fi
      [[ $rc -eq 3 ]] || break
    done
  ) &
fi

# Run synkro (or the demo) as a child (not exec) so the trap can stop the
# database after it exits; forward Ctrl-C/SIGTERM to it and wait for its
# clean shutdown.
"${cmd[@]}" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null || true' INT TERM
status=0
wait "$child" || status=$?
# wait returns early when a trapped signal arrives: wait again for the exit
while kill -0 "$child" 2>/dev/null; do status=0; wait "$child" || status=$?; done
exit "$status"
