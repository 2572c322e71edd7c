#!/usr/bin/env bash
# test_heap_symbols.sh: the synkro binary calls glibc's mallopt (the SYNKRO_MALLOC_ARENAS cap) and
# malloc_trim (base/heap.c's trim). A preprocessor test in base/heap.c that runs before any libc
# header defines __GLIBC__ compiles both out without a warning; the soak then found 15 malloc
# arenas in a process capped at 2 and RSS growing after every sweep. Skipped without glibc or nm.
set -euo pipefail
bin=${SYNKRO_BIN:?}
command -v nm >/dev/null || { echo "skip: no nm"; exit 77; }
libc=$(ldd --version 2>&1 || true) # not piped into grep -q: pipefail would see ldd's SIGPIPE
grep -qi 'glibc\|gnu libc' <<<"$libc" || { echo "skip: not glibc"; exit 77; }
syms=$(nm -D --undefined-only "$bin")
failed=0
for s in mallopt malloc_trim; do
  if grep -qE "^ *U $s(@|$)" <<<"$syms"; then
    echo "ok: synkro calls $s"
  else
    echo "FAIL: synkro does not call $s (base/heap.c compiled it out?)" >&2
    failed=1
  fi
done
exit "$failed"
