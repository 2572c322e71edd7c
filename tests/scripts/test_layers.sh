#!/usr/bin/env bash
# test_layers.sh: the tree keeps the layering rules of docs/ARCHITECTURE.md ("Layers"), and the
# checker (tests/scripts/check_layers.sh) really catches each kind of break: on a scratch copy of the
# sources it must refuse an upward include, an include cycle between modules, an internal header
# used from another folder, and SQL text outside db/.
set -euo pipefail
root=${SYNKRO_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
check=$root/tests/scripts/check_layers.sh

echo "== the tree"
tree_bad=0
bash "$check" "$root" || { echo "FAIL: the tree breaks the layering rules (above)" >&2; tree_bad=1; }

tmp=$(mktemp -d /tmp/synkro-layers.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fresh() {
  rm -rf "$tmp/src"
  mkdir -p "$tmp/src"
  (cd "$root" && cp -r base db crm model sync handlers server "$tmp/src/")
}

# expect_refused WHAT PATTERN: the checker fails on the scratch copy and names the break
expect_refused() {
  local what=$1 pattern=$2 out
  if out=$(bash "$check" "$tmp/src" 2>&1); then
    echo "FAIL: the checker accepted $what" >&2
    exit 1
  fi
  if ! grep -q -- "$pattern" <<<"$out"; then
    echo "FAIL: the checker refused $what without naming it; it said:" >&2
    echo "$out" >&2
    exit 1
  fi
  echo "refused as expected: $what"
}

fresh
echo '#include "server/serve.h"' >>"$tmp/src/db/pool.c"
expect_refused "db/pool.c including server/serve.h" "db/pool.c includes server/serve.h"

fresh
echo '#include "sync/sync_engine.h"' >>"$tmp/src/crm/crm_http.h"
expect_refused "crm/ including sync/" "crm/crm_http.h includes sync/sync_engine.h"

fresh
echo '#include "base/strbuf.h"' >>"$tmp/src/base/log.h"
echo '#include "base/log.h"' >>"$tmp/src/base/strbuf.h"
expect_refused "an include cycle base/log <-> base/strbuf" "include cycle"

fresh
printf '#ifndef X\n#define X\n#endif\n' >"$tmp/src/sync/zz_internal.h"
echo '#include "sync/zz_internal.h"' >>"$tmp/src/handlers/health.c"
expect_refused "an internal header used outside its folder" "internal header"

fresh
echo 'static const char q[] = "DELETE FROM change_events WHERE id = $1";' >>"$tmp/src/handlers/health.c"
expect_refused "SQL in handlers/" "SQL outside db/"

if ((tree_bad)); then
  exit 1
fi
echo "layering checks: ok"
