#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark of `doppel analyze forecast` on the public M4 Hourly subset (horizon 48) against
# R's forecast package in the same run: accuracy (sMAPE, MASE, OWA by the M4 scorer),
# interval coverage (share of test values inside the 80 % and 95 % intervals) and CPU
# milliseconds per series (median over RUNS runs, one thread).
#   bench/analyzer/m4.sh            # from the project root; RUNS=3 PEERS="stlf_msts" default
#   RUNS=5 PEERS="stlf_msts stlf ets" bench/analyzer/m4.sh
# Needs: a built build/doppel, python3 (the scorer is standard library), Rscript with the
# forecast package for the peers (Debian: r-base-core r-cran-forecast).
# Data and scorer are the shared ones beside the project (override with M4_DATA, M4_SCORE).
set -eu -o pipefail
cd "$(dirname "$0")/../.."
DATA="${M4_DATA:-../shared/data/m4-hourly-public}"
SCORE="${M4_SCORE:-../shared/tools/m4_score.py}"
PY="${PYTHON:-python3}"
RUNS="${RUNS:-3}"
PEERS="${PEERS:-stlf_msts}"
H=48
TRAIN="$DATA/Hourly-train.csv"; TEST="$DATA/Hourly-test.csv"
OUT="$(mktemp -d)"; trap 'rm -rf "$OUT"' EXIT
[ -x build/doppel ] || { echo "build/doppel is missing: run make bin" >&2; exit 2; }
NS=$(($(grep -c . "$TRAIN") - 1))

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# coverage BOUNDS: share of test values inside each interval.
coverage() {
    "$PY" - "$1" "$TEST" <<'PYEOF'
import csv, sys
test = {r[0]: [float(x) for x in r[1:] if x.strip()] for r in list(csv.reader(open(sys.argv[2])))[1:]}
b = {(r[0], r[1]): [float(x) for x in r[2:]] for r in list(csv.reader(open(sys.argv[1])))[1:]}
out = []
for lvl in ("80", "95"):
    n = k = 0
    for sid, y in test.items():
        lo, hi = b[(sid, "lo" + lvl)], b[(sid, "hi" + lvl)]
        for i, v in enumerate(y):
            n += 1
            k += lo[i] <= v <= hi[i]
    out.append("%.3f" % (k / n))
print(" ".join(out))
PYEOF
}

# report NAME FORECASTS BOUNDS CPU_MS
report() {
    local s
    s=$("$PY" "$SCORE" "$2" --train "$TRAIN" --test "$TEST" --require-all --json)
    "$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); print("| %s | %.3f | %.3f | %.3f | %s | %s | %s |" % (sys.argv[2], d["sMAPE"], d["MASE"], d["OWA"], *sys.argv[3].split(), sys.argv[4]))' \
        "$s" "$1" "$(coverage "$3")" "$4"
}

echo "# M4 Hourly public subset: $NS series, horizon $H, $RUNS runs, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "# machine: $(nproc) cores, $(uname -srm)"
echo
echo "| method | sMAPE | MASE | OWA | cover 80 | cover 95 | CPU ms/series (median) |"
echo "|---|---|---|---|---|---|---|"
times=()
for r in $(seq "$RUNS"); do
    t=$( { /usr/bin/time -f "%U %S" build/doppel analyze forecast --wide --input "$TRAIN" \
        --horizon $H --jobs 1 --output "$OUT/doppel.csv" --bounds "$OUT/doppel-b.csv"; } 2>&1 )
    times+=("$(echo "$t" | tail -1 | awk -v n="$NS" '{printf "%.2f", ($1 + $2) * 1000 / n}')")
done
report "doppel analyze forecast (--jobs 1)" "$OUT/doppel.csv" "$OUT/doppel-b.csv" \
    "$(printf '%s\n' "${times[@]}" | median)"
t=$( { /usr/bin/time -f "%e" build/doppel analyze forecast --wide --input "$TRAIN" --horizon $H \
    --output "$OUT/doppel-par.csv"; } 2>&1 | tail -1)
cmp -s "$OUT/doppel.csv" "$OUT/doppel-par.csv" || echo "# WARNING: parallel output differs"
for p in $PEERS; do
    command -v Rscript >/dev/null || { echo "# Rscript missing: peer $p skipped"; continue; }
    times=()
    for r in $(seq "$RUNS"); do
        c=$(Rscript bench/analyzer/m4_peer.R "$p" "$TRAIN" $H "$OUT/$p.csv" "$OUT/$p-b.csv" |
            awk '/cpu_seconds/ {print $2}')
        times+=("$(awk -v c="$c" -v n="$NS" 'BEGIN {printf "%.2f", c * 1000 / n}')")
        [ "$p" = ets ] && break # minutes per run: once is enough
    done
    report "R forecast: $p" "$OUT/$p.csv" "$OUT/$p-b.csv" "$(printf '%s\n' "${times[@]}" | median)"
done
echo
echo "# doppel wall time with --jobs $(nproc): ${t} s for $NS series (output identical to --jobs 1)"
