#!/usr/bin/env bash
# test_soak_verdict.sh: the verdict of `make bench-soak` (bench/soak_verdict.sh) on synthetic sample
# files: a flat series with a warm-up step and spikes at the sweeps is FLAT (and the same figures fitted
# whole, as the verdict did before, are GROWING, so the exclusions are what make it flat), a steady
# leak of memory, descriptors or connections is GROWING, a run with too few samples after its warm-up
# says TOO SHORT, and bad settings exit 2. Needs only bash and awk.
set -euo pipefail
src=${SYNKRO_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
verdict=$src/bench/soak_verdict.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

# gen FILE SECONDS RSS_LEAK_KB_H FDS_PER_SWEEP CONNS_LEAK_H [STATES=1]: a sample every 30 s of a run
# with a sweep every 300 s (the first at 280 s) that ends 2 s later; RSS climbs 20 -> 25 MB over the
# first 180 s, jitters by +/- 150 kB, reads 3 MB higher in a sweep; the sweeper's first sweep opens
# 3 descriptors that stay. STATES=0 writes every sample as "run" (no sweep marks).
gen() {
  awk -v secs="$2" -v leak="$3" -v fdsweep="$4" -v cleak="$5" -v states="${6:-1}" 'BEGIN {
    sweeps = 0; done = 0
    for (t = 0; t <= secs; t += 30) {
      while (280 + sweeps * 300 + 2 <= t) sweeps++
      insweep = sweeps > 0 && t - (280 + (sweeps - 1) * 300 + 2) < 20
      rss = (t < 180 ? 20480 + t / 180 * 5120 : 25600) + ((t / 30) % 3 - 1) * 150 + leak * t / 3600
      if (insweep) rss += 3072
      fds = 173 + (sweeps > 0 ? 3 : 0) + fdsweep * sweeps
      conns = 9 + int(cleak * t / 3600)
      q = 5 + (t / 30) % 10; done += 600
      printf "%d %d %d %d %d %d %d %s\n", t, rss, fds, conns, q, done, sweeps, (insweep && states) ? "sweep" : "run"
    }
    printf "%d %d %d %d 0 %d %d end\n", secs + 35, 24000, 176, 9, done, sweeps
  }' >"$1"
}

expect() { # NAME NEEDLE FILE [VAR=VALUE...]: the verdict of FILE contains NEEDLE
  local name=$1 needle=$2 file=$3 out
  shift 3
  out=$(env "$@" bash "$verdict" "$file" 20 2>&1) || true
  if grep -qF -- "$needle" <<<"$out"; then
    passed=$((passed + 1))
    echo "ok: $name"
  else
    failed=$((failed + 1))
    echo "FAIL: $name: no '$needle' in:" >&2
    echo "$out" >&2
  fi
}

gen "$tmp/flat" 3600 0 0 0
expect "flat with a warm-up and sweep spikes is FLAT" "verdict: FLAT" "$tmp/flat"
expect "the warm-up is printed (20% of an hour is later than the first sweep)" \
  "warm-up: the first 720 s left out (20% of the run" "$tmp/flat"
expect "the sweep samples are counted out" "12 sample(s) taken in or right after a sweep left out" "$tmp/flat"
expect "the RSS slope is per hour with its window" "MB/h" "$tmp/flat"
expect "the fit window starts after the warm-up" "over 720-3570 s" "$tmp/flat"
gen "$tmp/flat10" 600 0 0 0
expect "ten flat minutes: the warm-up runs to the end of the first sweep" \
  "warm-up: the first 330 s left out (to the end of sweep 1" "$tmp/flat10"
expect "ten flat minutes are FLAT" "verdict: FLAT" "$tmp/flat10"
gen "$tmp/flat10_unmarked" 600 0 0 0 0
expect "the same ten minutes fitted whole (the old verdict) are GROWING" "verdict: GROWING (rss, fds)" \
  "$tmp/flat10_unmarked" SYNKRO_SOAK_WARMUP_S=0
expect "the warm-up alone does not make the unmarked sweep samples flat" "verdict: GROWING (rss" \
  "$tmp/flat10_unmarked" SYNKRO_SOAK_WARMUP_S=330

gen "$tmp/leak" 3600 10240 0 0
expect "a steady leak of 10 MB/h is GROWING" "verdict: GROWING (rss)" "$tmp/leak"
gen "$tmp/slowleak" 3600 4096 0 0
expect "4 MB/h is GROWING against 2 MB/h" "verdict: GROWING (rss)" "$tmp/slowleak"
expect "and FLAT against a tolerance of 5 MB/h" "verdict: FLAT" "$tmp/slowleak" SYNKRO_SOAK_TOL_RSS_MB_H=5
gen "$tmp/fdleak" 3600 0 1 0
expect "a descriptor kept per sweep is GROWING" "verdict: GROWING (fds)" "$tmp/fdleak"
gen "$tmp/connleak" 3600 0 0 6
expect "a connection kept every 10 minutes is GROWING" "verdict: GROWING (db_conns)" "$tmp/connleak"

gen "$tmp/short" 90 0 0 0
expect "too few samples after the warm-up" "verdict: TOO SHORT" "$tmp/short"
expect "a warm-up that never ended says so" "1 sweep(s) of the mapping were to end it; 0 ended" "$tmp/short"

head -n -1 "$tmp/flat" | cut -d' ' -f1-6 >"$tmp/old"
expect "six-column samples of older runs are read" "warm-up: the first 720 s" "$tmp/old" SYNKRO_SOAK_WARMUP_SWEEPS=0

for bad in SYNKRO_SOAK_WARMUP_S=abc SYNKRO_SOAK_TOL_RSS_MB_H=-1 SYNKRO_SOAK_WARMUP_PCT=100; do
  rc=0
  env "$bad" bash "$verdict" "$tmp/flat" >/dev/null 2>&1 || rc=$?
  if [[ $rc -eq 2 ]]; then
    passed=$((passed + 1))
    echo "ok: $bad exits 2"
  else
    failed=$((failed + 1))
    echo "FAIL: $bad exited $rc, expected 2" >&2
  fi
done
rc=0
bash "$verdict" "$tmp/none" >/dev/null 2>&1 || rc=$?
if [[ $rc -eq 2 ]]; then passed=$((passed + 1)); echo "ok: a missing file exits 2"; else
  failed=$((failed + 1)); echo "FAIL: a missing file exited $rc" >&2; fi

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
