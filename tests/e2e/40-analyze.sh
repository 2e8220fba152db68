#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# doppel analyze, end to end with the real binary (plain and ASan+UBSan): every subcommand
# on the shipped example inputs and on generated series (the answers a user relies on:
# verdicts, one output row per input row, causal degrade output), and hostile inputs (bad
# numbers, ragged rows, binary garbage, empty and missing files) give file:line messages
# and exit 2 or 1, never a crash.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/e2e.sh

runx() {    # name, expected exit code, command... (stdout in $E2E_TMP/out, stderr in err)
    local name="$1" want="$2"; shift 2
    timeout 60 "$@" >"$E2E_TMP/out" 2>"$E2E_TMP/err"; local rc=$?
    if [ "$rc" -eq "$want" ]; then ok "$name"; else
        not_ok "$name" "exit $rc, wanted $want: $(head -c 300 "$E2E_TMP/err")"; fi
}
has() {     # name, file, extended regex
    if grep -Eq -- "$3" "$2"; then ok "$1"; else not_ok "$1" "no /$3/ in: $(head -c 300 "$2")"; fi
}

T="$E2E_TMP"
# A baseline and a canary whose p99 doubled with the median unchanged (2 % of requests slow).
awk 'BEGIN { srand(7); print "metric,value";
    for (i = 0; i < 4000; i++) { printf "latency_ms,%.3f\n", 20 + 10 * rand(); }
    for (i = 0; i < 4000; i++) print "error,0" }' >"$T/base.csv"
awk 'BEGIN { srand(8); print "metric,value";
    for (i = 0; i < 4000; i++) { v = 20 + 10 * rand(); if (rand() < 0.03) v += 200; printf "latency_ms,%.3f\n", v; }
    for (i = 0; i < 4000; i++) print "error,0" }' >"$T/canary.csv"
awk 'BEGIN { srand(9); print "metric,value";
    for (i = 0; i < 4000; i++) { printf "latency_ms,%.3f\n", 20 + 10 * rand(); }
    for (i = 0; i < 4000; i++) print "error,0" }' >"$T/same.csv"
# A daily-seasonal hourly series with a spike at row 600.
awk 'BEGIN { print "timestamp,value";
    for (i = 0; i < 720; i++) { v = 100 + 30 * sin(2 * 3.14159265 * i / 24) + (i % 7);
        if (i == 600) v += 400; printf "%d,%.2f\n", 1700000000 + 3600 * i, v } }' >"$T/series.csv"
printf 'metric,value\nlatency_ms,12\nlatency_ms,abc\n' >"$T/badnum.csv"
head -c 3000 /dev/urandom >"$T/garbage.csv"
: >"$T/empty.csv"

for B in "$DOPPEL_BUILD" ${DOPPEL_ASAN_BUILD:-}; do
    D="$B/doppel"
    l="[$B]"
    runx "$l judge: a tail regression fails" 0 "$D" analyze judge --json --baseline "$T/base.csv" --canary "$T/canary.csv"
    has "$l judge: verdict fail in JSON" "$E2E_TMP/out" '"verdict":"fail"'
    runx "$l judge: two samples of one process pass" 0 "$D" analyze judge --json --baseline "$T/base.csv" --canary "$T/same.csv"
    has "$l judge: verdict pass in JSON" "$E2E_TMP/out" '"verdict":"pass"'
    runx "$l judge: the shipped config loads" 0 "$D" analyze judge --config examples/judge.yaml --baseline "$T/base.csv" --canary "$T/same.csv"
    runx "$l judge: a bad number is an input error" 2 "$D" analyze judge --baseline "$T/badnum.csv" --canary "$T/same.csv"
    has "$l judge: it names file:line" "$E2E_TMP/err" 'badnum.csv:3'
    runx "$l judge: a missing file fails" 2 "$D" analyze judge --baseline "$T/nope.csv" --canary "$T/same.csv"

    runx "$l detect: scores every row" 0 "$D" analyze detect --input "$T/series.csv" --output "$T/scores.csv"
    expect_eq "$l detect: one output row per input row" "$(wc -l <"$T/scores.csv")" "$(wc -l <"$T/series.csv")"
    has "$l detect: header" "$T/scores.csv" '^timestamp,value,anomaly_score$'
    top=$(awk -F, 'NR > 1 && $3 > m { m = $3; r = NR } END { print r }' "$T/scores.csv")
    expect_eq "$l detect: the spike scores highest" "$top" 602
    runx "$l detect: binary garbage is an input error" 2 "$D" analyze detect --input "$T/garbage.csv"
    runx "$l detect: an empty file is an input error" 2 "$D" analyze detect --input "$T/empty.csv"

    runx "$l forecast: 48 hours ahead" 0 "$D" analyze forecast --input "$T/series.csv" --horizon 48 --json
    has "$l forecast: daily period found" "$E2E_TMP/out" '"periods":[[:space:]]*\[24'
    runx "$l forecast: horizon must be a number" 2 "$D" analyze forecast --input "$T/series.csv" --horizon x

    runx "$l degrade: the shipped leak" 0 "$D" analyze degrade --input examples/analyze/degrade-memory.csv --threshold 691 --horizon 90m --output "$T/deg.csv"
    expect_eq "$l degrade: one output row per input row" "$(wc -l <"$T/deg.csv")" "$(wc -l <examples/analyze/degrade-memory.csv)"
    has "$l degrade: header" "$T/deg.csv" '^timestamp,value,breach_probability,time_to_breach_s$'
    # Causal: the output for the first 500 rows does not change when later rows are cut off.
    head -501 examples/analyze/degrade-memory.csv >"$T/deg-head.csv"
    "$D" analyze degrade --input "$T/deg-head.csv" --threshold 691 --horizon 90m --output "$T/deg-head-out.csv" 2>/dev/null
    expect_eq "$l degrade: rows depend only on rows up to them" "$(head -501 "$T/deg.csv" | md5sum)" "$(md5sum <"$T/deg-head-out.csv")"
    runx "$l degrade: garbage horizon" 2 "$D" analyze degrade --input examples/analyze/degrade-memory.csv --threshold 691 --horizon soon

    runx "$l capacity: the shipped ramp" 0 "$D" analyze capacity --input examples/analyze/capacity-ramp.csv --target-p99 250 --forecast-peak 1800 --json
    has "$l capacity: recommends instances" "$E2E_TMP/out" '"instances":[[:space:]]*[0-9]+'
    runx "$l rating: the shipped runs" 0 "$D" analyze rating --input examples/analyze/chaos-runs.json --json
    has "$l rating: grades api" "$E2E_TMP/out" '"grade":[[:space:]]*"[A-F]"'
    printf '{"services": [{"name": "x", "runs": [{"failed": "maybe"}]}]}' >"$T/badruns.json"
    runx "$l rating: a wrong type is an input error" 1 "$D" analyze rating --input "$T/badruns.json"
    runx "$l rating: garbage JSON" 1 "$D" analyze rating --input "$T/garbage.csv"
    runx "$l analyze: unknown analysis is a usage error" 2 "$D" analyze nope
done
exit 0
