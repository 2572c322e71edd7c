#!/usr/bin/env bash
# bench_lib.sh: shell functions every benchmark shares (bench/console.sh, e2e.sh, ingest.sh,
# scale.sh, soak.sh), sourced after they define log/die and PSQL: the throwaway PostgreSQL they run
# on, psql on it, stopping a process, a free port.
# Must not: stop the cluster (each script's exit trap does, with scripts/pg.sh stop), or set
# anything but functions and the pg_* variables bench_pg_start names.

# bench_pg_start DIR [DB]: starts a throwaway PostgreSQL in DIR (scripts/pg.sh, fsync on: real
# commits; SYNKRO_PG_OPTIONS adds settings), sets pg_port, pg_sock and pg_user, and creates DB when
# one is named.
bench_pg_start() {
  local dir=$1 db=${2:-}
  SYNKRO_PG_FSYNC=on scripts/pg.sh start "$dir" >/dev/null || die "PostgreSQL did not start in $dir"
  pg_port=$(cat "$dir/port")
  pg_sock=$dir/sock
  pg_user=$([[ $(id -u) -eq 0 ]] && echo postgres || id -un)
  [[ -z $db ]] || bench_psql -d postgres -c "CREATE DATABASE $db"
}

# bench_psql ARGS...: psql on the cluster bench_pg_start started, stopping at the first error.
bench_psql() { "$PSQL" -X -q -v ON_ERROR_STOP=1 -h "$pg_sock" -p "$pg_port" -U "$pg_user" "$@"; }

stop_pid() { # PID: TERM, up to 10 s, then KILL
  local p=$1
  [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null || return 0
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
}

free_port() { scripts/free_port.sh || die "no free port found"; }
