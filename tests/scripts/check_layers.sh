#!/usr/bin/env bash
# check_layers.sh: the include rules of docs/ARCHITECTURE.md ("Layers"), checked on a source tree.
#   tests/scripts/check_layers.sh [root]     (default: the repository)
# Exit 0 when every rule holds, 1 with one line per violation otherwise.
#
# Rules:
#  1. Layers, bottom to top: base -> db -> crm -> model -> sync -> handlers -> server. A file may
#     include headers of its own layer and of layers below it, never of a layer above.
#  2. No include cycle between modules (a module is a .c with its .h and its _internal.h:
#     "sync/sync_batch" is sync_batch.c, sync_batch.h and sync_batch_internal.h).
#  3. A header named *_internal.h is included only by files of its own folder.
#  4. No SQL text outside db/ (and migrations/): no string literal holding a SQL statement keyword
#     (SELECT, INSERT INTO, UPDATE .. SET, DELETE FROM, BEGIN, COMMIT, ROLLBACK, CREATE, ALTER,
#     pg_advisory). SOQL is built in crm/soql.c only, which is therefore exempt from the SELECT
#     rule.
# Must not: modify the tree.
set -uo pipefail
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root" || exit 2

layers=(base db crm model sync handlers server)
rank_of() {
  local i
  for i in "${!layers[@]}"; do
    [[ ${layers[$i]} == "$1" ]] && { echo "$i"; return; }
  done
  echo -1
}

bad=0
report() { echo "$1"; bad=1; }

files=()
for l in "${layers[@]}"; do
  [[ -d $l ]] || continue
  while IFS= read -r f; do files+=("$f"); done < <(find "$l" -name '*.[ch]' | sort)
done

edges=$(mktemp)
trap 'rm -f "$edges"' EXIT

for f in "${files[@]}"; do
  dir=${f%%/*}
  me=$(rank_of "$dir")
  mod=${f%.*}
  mod=${mod%_internal}
  while IFS= read -r inc; do
    idir=${inc%%/*}
    [[ $inc == */* ]] || continue
    them=$(rank_of "$idir")
    ((them < 0)) && continue
    if ((them > me)); then
      report "$f includes $inc: $dir (layer $me) must not include $idir (layer $them)"
    fi
    if [[ $inc == *_internal.h && $idir != "$dir" ]]; then
      report "$f includes $inc: an internal header is for its own folder only"
    fi
    imod=${inc%.h}
    imod=${imod%_internal}
    [[ $imod != "$mod" ]] && echo "$mod $imod" >>"$edges"
  done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
done

# rule 2: tsort prints the modules of each cycle on stderr
cycles=$(sort -u "$edges" | tsort 2>&1 >/dev/null | grep -v 'input contains a loop' | sed 's/^tsort: //')
if [[ -n $cycles ]]; then
  report "include cycle between modules:$(echo "$cycles" | tr '\n' ' ')"
fi

# rule 4: SQL only in db/
sql_re='"[^"]*\b(SELECT [^"]*FROM|INSERT INTO|UPDATE [a-z_]+ SET|DELETE FROM|CREATE (TABLE|INDEX|FUNCTION)|ALTER TABLE|pg_(try_)?advisory)'
stmt_re='"(BEGIN|COMMIT|ROLLBACK)"'
for f in "${files[@]}"; do
  [[ $f == db/* ]] && continue
  while IFS= read -r hit; do
    line=${hit%%:*}
    text=${hit#*:}
    if [[ $f == crm/soql.c && $text =~ \"[^\"]*SELECT ]]; then
      continue
    fi
    report "$f:$line: SQL outside db/: $(echo "$text" | sed 's/^[[:space:]]*//' | cut -c1-90)"
  done < <(grep -nE "$sql_re|$stmt_re" "$f")
done

exit $bad
