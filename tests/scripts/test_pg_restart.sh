#!/usr/bin/env bash
# test_pg_restart.sh: scripts/pg.sh, which every test run and the benchmarks use to start their
# throwaway PostgreSQL. A cluster's port lies below the kernel's ephemeral range (an outgoing
# connection can take a port in that range as its local port while the cluster is stopped for an
# outage test; the restart then failed and the next try moved the cluster to a new port, so every
# later test's conninfo named a dead socket: 12 tests of a CI run failed that way). A restart keeps
# its port, waiting for it when something holds it for a moment, and takes a new one only when the
# port stays taken. Needs PostgreSQL's server binaries and perl (Debian's perl-base).
set -euo pipefail
src=${SYNKRO_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
pg=$src/scripts/pg.sh
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { echo "SKIP: no PostgreSQL server here"; exit 77; }
command -v perl >/dev/null || { echo "SKIP: no perl here"; exit 77; }

tmp=$(mktemp -d /tmp/synkro-pgrestart.XXXXXX)
holder=""
# shellcheck disable=SC2317 # the EXIT trap
cleanup() {
  [[ -n $holder ]] && kill "$holder" 2>/dev/null
  "$pg" stop "$tmp/pg" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
failed=0
check() { # check WHAT COND...
  local what=$1
  shift
  if "$@"; then echo "ok: $what"; else echo "FAILED: $what"; failed=1; fi
}

# hold PORT SECONDS: a listening socket on 127.0.0.1:PORT for SECONDS, in the background
hold() {
  perl -MIO::Socket::INET -e '
    my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $ARGV[0],
                                  Listen => 1, ReuseAddr => 0) or die "hold: $!\n";
    open(my $f, ">", $ARGV[2]); print $f "up\n"; close($f);
    sleep $ARGV[1];' "$1" "$2" "$tmp/held" &
  holder=$!
  for _ in $(seq 1 50); do [[ -s $tmp/held ]] && return 0; sleep 0.1; done
  echo "FAILED: could not hold port $1"
  exit 1
}

low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
SYNKRO_PG_FSYNC=off "$pg" start "$tmp/pg" >/dev/null
port=$(cat "$tmp/pg/port")
check "the port ($port) lies below the ephemeral range (from $low)" test "$port" -lt "$low"

# a restart while something holds the port for two seconds: same port, after a wait
"$pg" stop "$tmp/pg"
hold "$port" 2
SYNKRO_PG_FSYNC=off "$pg" start "$tmp/pg" >/dev/null 2>"$tmp/err1"
check "a restart keeps port $port when it is free again within the tries" \
  test "$(cat "$tmp/pg/port")" = "$port"
check "the failed tries say why" grep -q "start on port $port failed (try 1 of 5)" "$tmp/err1"
url=$("$pg" url "$tmp/pg")
psql=$(ls /usr/lib/postgresql/*/bin/psql | tail -1)
check "the cluster answers on the kept port" \
  bash -c "'$psql' '$url' -qtAc 'SELECT 1' | grep -qx 1"
wait "$holder" 2>/dev/null || true
holder=""

# a port that stays taken: the cluster still starts, on another port below the range
"$pg" stop "$tmp/pg"
rm -f "$tmp/held"
hold "$port" 30
SYNKRO_PG_FSYNC=off "$pg" start "$tmp/pg" >/dev/null 2>"$tmp/err2"
moved=$(cat "$tmp/pg/port")
check "a port that stays taken moves the cluster ($port -> $moved)" test "$moved" != "$port"
check "the new port lies below the ephemeral range" test "$moved" -lt "$low"

[[ $failed -eq 0 ]] || exit 1
echo "pg.sh restart: all checks passed"
