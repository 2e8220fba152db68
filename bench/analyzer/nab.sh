#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Scores `doppel analyze detect` on the NAB public subset, beside a rolling z-score peer,
# and measures the detector's speed.
#   bench/analyzer/nab.sh [--no-peer] [--no-speed] [-- --param NAME=VALUE ...]
# Environment: NAB_CORPUS (default ../shared/data/nab-public), NAB_SCORER (default
# ../shared/tools/nab_score.py), OUT (default build/bench/nab), RUNS (speed runs, default 5),
# ZSCORE_WINDOW (rows in the peer's rolling window, default 1000).
# Writes OUT/<detector>/<category>/<file>.csv (the layout the scorer reads), OUT/<detector>.json
# and prints the three profiles' normalised scores and the median speed (points per second
# of CPU time and of wall time; the machines are shared and wall time varies).
set -eu -o pipefail
cd "$(dirname "$0")/../.."
CORPUS="${NAB_CORPUS:-../shared/data/nab-public}"
SCORER="${NAB_SCORER:-../shared/tools/nab_score.py}"
OUT="${OUT:-build/bench/nab}"
RUNS="${RUNS:-5}"
ZSCORE_WINDOW="${ZSCORE_WINDOW:-1000}"
PEER=1; SPEED=1
while [ $# -gt 0 ]; do
    case "$1" in
    --no-peer) PEER=0 ;;
    --no-speed) SPEED=0 ;;
    --) shift; break ;;
    *) echo "usage: $0 [--no-peer] [--no-speed] [-- --param NAME=VALUE ...]" >&2; exit 2 ;;
    esac
    shift
done
make --no-print-directory bin >/dev/null

run_doppel() {   # data file, result file, extra args
    local in="$1" out="$2"; shift 2
    build/doppel analyze detect --input "$in" --output "$out" "$@"
}

run_all() {      # detector name, then the command prefix for one file
    local name="$1"; shift
    rm -rf "${OUT:?}/$name"
    local f rel
    while IFS= read -r f; do
        rel="${f#"$CORPUS"/data/}"
        mkdir -p "$OUT/$name/$(dirname "$rel")"
        "$@" "$f" "$OUT/$name/$rel" &
        # two jobs at a time: the machines have two cores
        [ "$(jobs -rp | wc -l)" -lt 2 ] || wait -n
    done < <(find "$CORPUS/data" -name '*.csv' | sort)
    wait
}

score() {        # detector name
    python3 "$SCORER" --corpus "$CORPUS" --json "$OUT/$1.json" "$OUT/$1" >"$OUT/$1.txt"
    python3 - "$OUT/$1.json" "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
prof = d.get("profiles", d)
def get(p):
    v = prof[p]
    return v["normalized_score"]
print("%-10s standard %6.2f  reward_low_FP_rate %6.2f  reward_low_FN_rate %6.2f" % (
    sys.argv[2], get("standard"), get("reward_low_FP_rate"), get("reward_low_FN_rate")))
PY
}

mkdir -p "$OUT"
run_one() { run_doppel "$@" ${EXTRA[@]+"${EXTRA[@]}"}; }
EXTRA=("$@")
run_all doppel run_one
score doppel
if [ "$PEER" = 1 ]; then
    run_zscore() { python3 bench/analyzer/zscore_peer.py "$1" "$2" "$ZSCORE_WINDOW"; }
    run_all zscore run_zscore
    score zscore
fi
if [ "$SPEED" = 1 ]; then
    mkdir -p build/bench
    cc -O2 -D_GNU_SOURCE -Isrc -o build/bench/anomaly_speed bench/analyzer/anomaly_speed.c \
        build/libdoppel.a -lm
    for _ in $(seq "$RUNS"); do build/bench/anomaly_speed; done >"$OUT/speed.txt"
    for col in 1 6; do
        awk -v c="$col" '{print $c}' "$OUT/speed.txt" | sort -n | awk -v c="$col" '
            {v[NR] = $1}
            END {printf "speed      median %.3g points/s of %s time over %d runs (min %.3g, max %.3g)\n",
                 v[int((NR + 1) / 2)], c == 1 ? "CPU" : "wall", NR, v[1], v[NR]}'
    done
fi
