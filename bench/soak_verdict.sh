#!/usr/bin/env bash
# soak_verdict.sh SAMPLES [RATE]: the verdict of `make bench-soak` (bench/soak.sh) on its samples file,
# also run by itself on a kept samples.txt and by tests/scripts/test_soak_verdict.sh on synthetic ones.
# Owns the fit and the verdict only; must not start, stop or sample anything.
#
# A sample line: "elapsed_s rss_kB fds db_conns queue_depth done sweeps state", where sweeps is the
# number of sweeps of the mapping finished so far (synkro_sweep_runs_total) and state is "run", "sweep"
# (a sweep was running or ended less than SYNKRO_SOAK_SWEEP_SETTLE seconds before: its working set
# and the burst of events it queued are in RSS only while they run) or "end" (after the load stopped).
# Lines of six columns (older runs) count as "run" with no sweeps seen.
#
# Fitted: the "run" samples after the warm-up. The warm-up (allocator arenas, caches and libpq buffers
# filling, the sweeper's HTTP handle opening its connections at its first sweep) lasts until
# SYNKRO_SOAK_WARMUP_SWEEPS (1) sweeps of the mapping have ended (synkro's own first sweep runs when it
# starts, before the soak's mapping exists: this is its second) or SYNKRO_SOAK_WARMUP_PCT (20) % of the
# run, whichever is later; SYNKRO_SOAK_WARMUP_S=N sets it to N seconds instead. Per series: the
# least-squares slope per hour with its standard error, the fit window, and FLAT/GROWING against a
# tolerance per hour: SYNKRO_SOAK_TOL_RSS_MB_H (2 MB/h), SYNKRO_SOAK_TOL_FDS_H (2/h),
# SYNKRO_SOAK_TOL_CONNS_H (2/h), queue depth RATE x 60 per hour (a backlog of one more minute of edits
# each hour). Fewer than 3 samples in the window: TOO SHORT. Last line: "verdict: FLAT" when every
# series is FLAT, else "verdict: GROWING (...)" or "verdict: TOO SHORT". Exits 0 whatever the verdict;
# 2 on bad arguments or settings.
set -euo pipefail
samples=${1:-}
rate=${2:-${SYNKRO_SOAK_RATE:-20}}
die() {
  echo "soak_verdict: $*" >&2
  exit 2
}
[[ -n $samples && -r $samples ]] || die "usage: soak_verdict.sh SAMPLES [RATE] (cannot read '$samples')"
warmup_s=${SYNKRO_SOAK_WARMUP_S:-auto}
warmup_sweeps=${SYNKRO_SOAK_WARMUP_SWEEPS:-1}
warmup_pct=${SYNKRO_SOAK_WARMUP_PCT:-20}
tol_rss=${SYNKRO_SOAK_TOL_RSS_MB_H:-2}
tol_fds=${SYNKRO_SOAK_TOL_FDS_H:-2}
tol_conns=${SYNKRO_SOAK_TOL_CONNS_H:-2}
[[ $warmup_s == auto || $warmup_s =~ ^[0-9]+$ ]] || die "SYNKRO_SOAK_WARMUP_S ($warmup_s): seconds or auto"
[[ $warmup_sweeps =~ ^[0-9]+$ ]] || die "SYNKRO_SOAK_WARMUP_SWEEPS ($warmup_sweeps): a count"
[[ $warmup_pct =~ ^[0-9]+$ && $warmup_pct -lt 100 ]] || die "SYNKRO_SOAK_WARMUP_PCT ($warmup_pct): 0-99"
for v in tol_rss tol_fds tol_conns rate; do
  [[ ${!v} =~ ^[0-9]+([.][0-9]+)?$ ]] || die "$v (${!v}) must be a number"
done

awk -v warmup_s="$warmup_s" -v wsweeps="$warmup_sweeps" -v wpct="$warmup_pct" -v tol_rss="$tol_rss" \
  -v tol_fds="$tol_fds" -v tol_conns="$tol_conns" -v rate="$rate" '
  NF >= 6 && $1 ~ /^[0-9]+$/ {
    n++; t[n] = $1; for (c = 2; c <= 5; c++) v[c, n] = $c
    sw[n] = NF >= 7 ? $7 : 0; st[n] = NF >= 8 ? $8 : "run"
    if (st[n] == "sweep") insweep++
    if (st[n] != "end") run_end = $1
  }
  END {
    if (n == 0) { print "no samples"; print "verdict: TOO SHORT"; exit 0 }
    # the warm-up: the end of the first sample that is not in a sweep once wsweeps sweeps ended
    pct_end = run_end * wpct / 100
    if (warmup_s != "auto") { w = warmup_s + 0; why = "set by SYNKRO_SOAK_WARMUP_S" }
    else {
      sweep_end = -1
      if (wsweeps == 0) sweep_end = 0
      else for (i = 1; i <= n; i++) if (sw[i] >= wsweeps) {
        for (j = i; j <= n && st[j] == "sweep"; j++);
        sweep_end = j <= n ? t[j] : t[n] + 1
        break
      }
      if (sweep_end < 0) {
        w = t[n] + 1
        why = sprintf("%d sweep(s) of the mapping were to end it; %d ended", wsweeps, sw[n])
      } else if (sweep_end > pct_end) {
        w = sweep_end
        why = sprintf("to the end of sweep %d of the mapping, later than %d%% of the run (%d s)", wsweeps, wpct, pct_end)
      } else {
        w = pct_end
        why = sprintf("%d%% of the run, later than the end of sweep %d of the mapping (%d s)", wpct, wsweeps, sweep_end)
      }
    }
    printf "warm-up: the first %d s left out (%s); %d sample(s) taken in or right after a sweep left out\n", w, why, insweep
    split("rss fds db_conns queue_depth", name, " ")
    unit[2] = "MB/h"; unit[3] = "/h"; unit[4] = "/h"; unit[5] = "/h"
    scale[2] = 1 / 1024; scale[3] = scale[4] = scale[5] = 1
    tol[2] = tol_rss; tol[3] = tol_fds; tol[4] = tol_conns; tol[5] = rate * 60
    grow = short = ""
    for (c = 2; c <= 5; c++) {
      m = 0; sx = sy = sxx = sxy = 0; lo = hi = -1
      for (i = 1; i <= n; i++) {
        if (t[i] < w || st[i] != "run") continue
        y = v[c, i] * scale[c]; m++; sx += t[i]; sy += y; sxx += t[i] * t[i]; sxy += t[i] * y
        if (lo < 0) { lo = t[i]; first = y }
        hi = t[i]; last = y; ys[m] = y; xs[m] = t[i]
      }
      d = m * sxx - sx * sx
      if (m < 3 || d <= 0) {
        printf "  %-12s TOO SHORT: %d sample(s) after the warm-up and outside sweeps (3 needed)\n", name[c - 1], m
        short = short (short == "" ? "" : ", ") name[c - 1]
        continue
      }
      b = (m * sxy - sx * sy) / d; a = (sy - b * sx) / m
      ss = 0
      for (k = 1; k <= m; k++) { r = ys[k] - a - b * xs[k]; ss += r * r }
      se = sqrt(ss / (m - 2) / (sxx - sx * sx / m))
      verdict = b * 3600 <= tol[c] ? "FLAT" : "GROWING"
      if (verdict == "GROWING") grow = grow (grow == "" ? "" : ", ") name[c - 1]
      fmt = c == 2 ? "%.1f" : "%d"
      printf "  %-12s slope %+9.2f %-4s (+/- %.2f) over %d-%d s (%d samples; " fmt " -> " fmt ")   %s (tolerance %g %s)\n",
        name[c - 1], b * 3600, unit[c], se * 3600, lo, hi, m, first, last, verdict, tol[c], unit[c]
    }
    if (grow != "") print "verdict: GROWING (" grow ")"
    else if (short != "") print "verdict: TOO SHORT (" short ")"
    else print "verdict: FLAT"
  }' "$samples"
