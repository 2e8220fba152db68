#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark of `doppel analyze degrade` against two peers on the labeled degradation
# series, scored in the same run by the shared scorer:
#   doppel          build/doppel analyze degrade (streaming, C)
#   predict_linear  bench/analyzer/peer_predict_linear.py (Prometheus-style line, 0/1)
#   holt            bench/analyzer/peer_holt.py (Holt's trend, ETS(A,A,N) Gaussian error)
# Usage (from the project root, after `make bin`):
#   bench/analyzer/degrade.sh [OUTDIR]
# Environment: SHARED (default ../shared), SERIES (default $SHARED/data/degrade-public),
# JOBS (default 2), PYTHON (default python3; the scorer and peers need only the standard
# library). Writes OUTDIR/<name>.txt (the scorer's report) and OUTDIR/<name>.json and
# prints one markdown table of the headline figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
SHARED="${SHARED:-../shared}"
SERIES="${SERIES:-$SHARED/data/degrade-public}"
JOBS="${JOBS:-2}"
PY="${PYTHON:-python3}"
OUT="${1:-build/bench/degrade}"
SCORER="$SHARED/tools/degrade_score.py"
[ -x build/doppel ] || { echo "degrade.sh: build/doppel missing (run make bin)" >&2; exit 2; }
[ -f "$SCORER" ] || { echo "degrade.sh: $SCORER not found (set SHARED)" >&2; exit 2; }
mkdir -p "$OUT"

declare -A CMD=(
  [doppel]="$PWD/build/doppel analyze degrade --input {input} --threshold {threshold} --horizon {horizon} --output {output}"
  [predict_linear]="$PY $PWD/bench/analyzer/peer_predict_linear.py {input} {output} {threshold} {horizon}"
  [holt]="$PY $PWD/bench/analyzer/peer_holt.py {input} {output} {threshold} {horizon}"
)
echo "# degrade benchmark: $(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc), $(uname -srm)"
echo "# series: $SERIES, scorer: $SCORER, -j $JOBS"
for name in doppel predict_linear holt; do
    rc=0
    "$PY" "$SCORER" --series "$SERIES" -j "$JOBS" --cmd "${CMD[$name]}" --name "$name" \
        --json "$OUT/$name.json" >"$OUT/$name.txt" 2>&1 || rc=$?
    [ "$rc" -eq 0 ] || echo "# $name: scorer exit $rc (errors or causality failures, see $OUT/$name.txt)"
done

"$PY" - "$OUT" <<'PYEOF'
import json, sys
out = sys.argv[1]
print()
print("| predictor | point | warned >= 10 min | late | missed | median lead min | FA/day negatives | early FA/day | FA/day all | cost | Brier skill | s/series median |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for name in ("doppel", "predict_linear", "holt"):
    S = json.load(open("%s/%s.json" % (out, name)))["summary"]
    for tag in ("fixed", "best"):
        P = S[tag]
        lead = "-" if P["median_lead_s"] is None else "%.1f" % (P["median_lead_s"] / 60)
        print("| %s | p*=%.2f (%s) | %d/%d %.1f %% | %d | %d | %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |" % (
            name, P["p"], tag, P["detected"], P["breach_series"], 100.0 * P["detected"] / P["breach_series"],
            P["late"], P["missed"], lead, P["fa_per_day"], P["early_fa_per_day"], P["fa_all_per_day"],
            P["cost"], S["calibration"]["brier_skill"], S["time"]["per_series_median_s"]))
PYEOF
grep -h "causality" "$OUT"/*.txt | sed 's/^/# /'
