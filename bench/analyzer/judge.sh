#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/analyzer/judge.sh: the canary judge against its peer, run on demand (not in make test).
#   1. accuracy on the labeled public trials (../shared/data/judge-public) for
#      `doppel analyze judge` and for the Kayenta-style peer (bench/analyzer/kayenta_peer.py),
#      scored by ../shared/tools/judge_score.py;
#   2. false alarms on simulated A/A trials (bench/analyzer/aa_sim.py), and per-class rates
#      on simulated trials of every class (bench/analyzer/judge_classes.py);
#   3. time on 10^6 vs 10^6 latency samples: doppel's judge alone (--timing), doppel end to
#      end, and the peer end to end; median of RUNS runs.
# Environment: TRIALS (trial directory), RUNS (default 5), AA_TRIALS (default 300),
# CLASS_TRIALS (default 700; 0 skips the class simulation).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
TRIALS="${TRIALS:-../shared/data/judge-public}"
SCORER=../shared/tools/judge_score.py
RUNS="${RUNS:-5}"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
make --no-print-directory bin >/dev/null

echo "machine: $(nproc) cores, $(uname -srm); $(date -u +%Y-%m-%dT%H:%MZ); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "== accuracy: doppel analyze judge"
$PY "$SCORER" --trials "$TRIALS" -j 2 --name doppel --json "$OUT/doppel.json" \
    --judge 'build/doppel analyze judge --json --baseline {baseline} --canary {canary}' | tail -22
echo
echo "== accuracy: PEER kayenta_peer.py (Kayenta-style Mann-Whitney, raw samples)"
$PY "$SCORER" --trials "$TRIALS" -j 2 --name kayenta-peer --json "$OUT/peer.json" \
    --judge "$PY bench/analyzer/kayenta_peer.py {baseline} {canary}" | tail -22
echo
echo "== false alarms on simulated A/A trials"
$PY bench/analyzer/aa_sim.py --trials "${AA_TRIALS:-300}" \
    --judge 'build/doppel analyze judge --json --baseline {baseline} --canary {canary}'
if [ "${CLASS_TRIALS:-700}" -gt 0 ]; then
    echo
    echo "== simulated trials of every class"
    $PY bench/analyzer/judge_classes.py --trials "${CLASS_TRIALS:-700}" \
        --judge 'build/doppel analyze judge --json --baseline {baseline} --canary {canary}'
fi

echo
echo "== time: 10^6 vs 10^6 latency samples (canary +3 %, lognormal sigma 0.5), median of $RUNS"
$PY - "$OUT" <<'PYEOF'
import sys, numpy as np
rng = np.random.default_rng(1)
for side, med in (("b", 100.0), ("c", 103.0)):
    v = rng.lognormal(np.log(med), 0.5, 1000000)
    with open("%s/%s.csv" % (sys.argv[1], side), "w") as f:
        f.write("metric,value\n")
        f.write("".join("latency_ms,%.3f\n" % x for x in v))
PYEOF
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
for i in $(seq "$RUNS"); do
    build/doppel analyze judge --timing --json --baseline "$OUT/b.csv" --canary "$OUT/c.csv" \
        2>>"$OUT/timing" >/dev/null
done
echo "doppel judge alone (ms):   $(sed -n 's/.*judge \([0-9.]*\) ms/\1/p' "$OUT/timing" | tr '\n' ' ')-> median $(sed -n 's/.*judge \([0-9.]*\) ms/\1/p' "$OUT/timing" | median)"
echo "doppel CSV reading (ms):   median $(sed -n 's/.*read \([0-9.]*\) ms.*/\1/p' "$OUT/timing" | median)"
for who in doppel peer; do
    : >"$OUT/wall"
    for i in $(seq "$RUNS"); do
        if [ "$who" = doppel ]; then
            cmd=(build/doppel analyze judge --json --baseline "$OUT/b.csv" --canary "$OUT/c.csv")
        else
            cmd=("$PY" bench/analyzer/kayenta_peer.py "$OUT/b.csv" "$OUT/c.csv")
        fi
        /usr/bin/time -f %e -o "$OUT/t1" "${cmd[@]}" >/dev/null
        cat "$OUT/t1" >>"$OUT/wall"
    done
    echo "$who end to end (s):    $(tr '\n' ' ' <"$OUT/wall")-> median $(median <"$OUT/wall")"
done
