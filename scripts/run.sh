#!/usr/bin/env bash
# run.sh: what `make run` does after deps and build. When DATABASE_URL is
# unset it starts a project-local PostgreSQL under .data/pg (kept between
# runs), then runs `synkro serve` in the foreground. Ctrl-C stops synkro
# first, then the local database, cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=${SYNKRO_BIN:-$root/build/synkro}

started_pg=""
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

# Run synkro as a child (not exec) so the trap can stop the database after
# it exits; forward Ctrl-C/SIGTERM to it and wait for its clean shutdown.
"$bin" serve &
child=$!
trap 'kill -TERM "$child" 2>/dev/null || true' INT TERM
status=0
wait "$child" || status=$?
# wait returns early when a trapped signal arrives: wait again for the exit
while kill -0 "$child" 2>/dev/null; do wait "$child" || status=$?; done
exit "$status"
