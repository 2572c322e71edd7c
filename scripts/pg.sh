#!/usr/bin/env bash
# pg.sh: starts and stops a project-local or throwaway PostgreSQL cluster.
#   scripts/pg.sh start DIR   initdb when needed, start on a free port; prints
#                             the conninfo (socket in DIR/sock) on stdout
#   scripts/pg.sh stop DIR    fast shutdown
#   scripts/pg.sh url DIR     prints the conninfo of a running cluster
# As root the cluster belongs to the `postgres` user (PostgreSQL refuses to
# run as root). Logs go to DIR/log.
set -euo pipefail

pg_bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [[ -x "$d/pg_ctl" ]] && { echo "$d"; return; }
  done
  echo "pg.sh: PostgreSQL server binaries not found (install postgresql-15)" >&2
  exit 1
}

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

db_user() {
  if [[ $(id -u) -eq 0 ]]; then echo postgres; else id -un; fi
}

# A free port below the kernel's ephemeral range (scripts/free_port.sh says why: a restart on a
# port in that range can find it taken by an outgoing connection).
free_port() { "$(dirname "$0")/free_port.sh"; }

conninfo() {
  local dir=$1 port
  port=$(cat "$dir/port")
  echo "postgresql://$(db_user)@localhost:$port/synkro?host=$dir/sock"
}

cmd=${1:-}
dir=${2:-}
[[ -n "$cmd" && -n "$dir" ]] || { echo "usage: scripts/pg.sh start|stop|url DIR" >&2; exit 2; }
bin=$(pg_bindir)

case "$cmd" in
  start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [[ $(id -u) -eq 0 ]]; then
      chown postgres:postgres "$dir"
      chmod 700 "$dir"
      # postgres must be able to reach the directory
      p=$(dirname "$dir"); while [[ "$p" != "/" ]]; do chmod o+x "$p" 2>/dev/null || true; p=$(dirname "$p"); done
    fi
    if [[ ! -f "$dir/data/PG_VERSION" ]]; then
      as_owner mkdir -p "$dir/data" "$dir/sock"
      as_owner "$bin/initdb" -D "$dir/data" -U "$(db_user)" --auth=trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    as_owner mkdir -p "$dir/sock"
    restart=0; [[ -f "$dir/port" ]] && restart=1
    for attempt in 1 2 3 4 5; do
      # a restart keeps its port (the callers' conninfo names it): a few tries, a second apart,
      # before a new port is the only way left to start at all
      if [[ $restart -eq 1 && $attempt -le 3 ]]; then
        port=$(cat "$dir/port")
        [[ $attempt -gt 1 ]] && sleep 1
      else
        port=$(free_port)
      fi
      echo "$port" >"$dir/port.tmp"; mv "$dir/port.tmp" "$dir/port"
      if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
          -o "-p $port -k $dir/sock -c listen_addresses=localhost -c fsync=${SYNKRO_PG_FSYNC:-on} -c max_connections=200 ${SYNKRO_PG_OPTIONS:-}" start >/dev/null; then
        break
      fi
      [[ $attempt -eq 5 ]] && { tail -20 "$dir/log" >&2; exit 1; }
      echo "pg.sh: start on port $port failed (try $attempt of 5): $(grep -E 'FATAL|LOG:  could not' "$dir/log" | tail -1)" >&2
    done
    as_owner "$bin/psql" -h "$dir/sock" -p "$port" -U "$(db_user)" -d postgres -qtAc \
      "SELECT 1 FROM pg_database WHERE datname='synkro'" | grep -q 1 \
      || as_owner "$bin/createdb" -h "$dir/sock" -p "$port" -U "$(db_user)" synkro
    conninfo "$dir"
    ;;
  stop)
    if [[ -f "$dir/data/postmaster.pid" ]]; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null || true
    fi
    ;;
  url)
    conninfo "$dir"
    ;;
  *) echo "usage: scripts/pg.sh start|stop|url DIR" >&2; exit 2 ;;
esac
