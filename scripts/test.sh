#!/usr/bin/env bash
# test.sh: what `make test` does after deps: builds the test build (Debug,
# ASan+UBSan, -Werror), starts a throwaway PostgreSQL cluster in a temporary
# directory on a free port, runs ctest, and removes the cluster even when
# tests fail or the run is interrupted.
#   SYNKRO_TEST_FILTER=regex  runs only the matching tests (ctest -R)
#   SYNKRO_TEST_BUILD=dir     builds into dir instead of build-test (parallel work trees)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

build=${SYNKRO_TEST_BUILD:-build-test}
scripts/build.sh test "$build"

tmp=$(mktemp -d /tmp/synkro-test.XXXXXX)
cleanup() {
  scripts/pg.sh stop "$tmp/pg" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# fsync off: the throwaway cluster's durability is not under test here
SYNKRO_PG_FSYNC=off scripts/pg.sh start "$tmp/pg" >/dev/null
port=$(cat "$tmp/pg/port")
user=$([[ $(id -u) -eq 0 ]] && echo postgres || id -un)
export SYNKRO_TEST_PG_DIR="$tmp/pg"
export SYNKRO_TEST_PG_CTL="$root/scripts/pg.sh"
export SYNKRO_TEST_ADMIN_URL="postgresql://$user@localhost:$port/postgres?host=$tmp/pg/sock"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

args=(--test-dir "$build" --output-on-failure --timeout 900)
[[ -n "${SYNKRO_TEST_FILTER:-}" ]] && args+=(-R "$SYNKRO_TEST_FILTER")
ctest "${args[@]}"
