#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# capture.sh: what capture costs. Run from the project root after `make`:
#   bench/replay/capture.sh                 # REPS=5 DURATION=10
#   REPS=3 DURATION=5 bench/replay/capture.sh
# 1. Format throughput: bench/replay/capture_write.c encodes and writes N records shaped like
#    a mirrored API call (8 request headers, a 200 with a BODY-byte body), then reads them
#    back: records/s and MB/s, median of REPS.
# 2. Gateway CPU per mirrored request, capture off vs on: two `doppel serve` (1 worker each,
#    both pinned to SUT_CPU), one without capture and one with, side by side in front of the
#    same build/tests/backend primary and shadow, mirror 100 % of GETs; two `doppel replay`
#    (LOAD_CPU) send each a fixed RATE (default 5000/s, so both do the same work per second)
#    at the same time for DURATION seconds over CONNS connections. The cost is each doppel's
#    CPU time (every thread's, the capture writer's included, in ns from
#    /proc/PID/task/*/schedstat) over the requests it answered. Running the pair at once
#    (not one after the other) puts both in the same moment of a noisy machine; medians over
#    REPS, and the sorted per-repetition differences to show the spread. Capture writes 2
#    records per request (primary and shadow) to a scratch directory.
# 3. The tap alone (bench/replay/tap_cost.c): CPU per request of the worker side (anonymized
#    head, encode, queue) and of the whole process (writer thread included), outside the
#    gateway, for one primary and one shadow record per request; median of REPS.
# The peer is the same gateway without capture, measured in the same run. Every process is
# bounded by `timeout` and stopped on exit.
set -u -o pipefail
cd "$(dirname "$0")/../.."
REPS="${REPS:-5}"; DURATION="${DURATION:-10}"; CONNS="${CONNS:-32}"; RATE="${RATE:-5000}"
QUEUE="${QUEUE:-4096}"   # capture.queue of the gateway with capture on
N="${N:-200000}"; BODY="${BODY:-512}"; LOAD_CPU="${LOAD_CPU:-0}"; SUT_CPU="${SUT_CPU:-1}"
BUILD="${BUILD:-build}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/doppel-bench-capture.XXXXXX")"
. bench/lib/side_by_side.sh
trap sbs_cleanup EXIT

make --no-print-directory -s "$BUILD/doppel" "$BUILD/tests/backend" "$BUILD/libdoppel.a"
cc -O2 -std=c11 -D_GNU_SOURCE -Isrc -pthread -o "$BUILD/bench_capture_write" \
    bench/replay/capture_write.c "$BUILD/libdoppel.a" \
    $(pkg-config --libs libuv yaml-0.1 libcjson openssl) -lhttp_parser -lm

echo "machine: $(nproc) cores, $(uname -srm); $(date -u '+%Y-%m-%d %H:%M UTC'); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== format: $N records of ~$((BODY + 560)) bytes, median of $REPS"
for r in $(seq "$REPS"); do
    "$BUILD/bench_capture_write" "$WORK" "$N" "$BODY"
done >"$WORK/fmt.tsv"
for ph in write read; do
    rs="$(awk -v p=$ph '$1 == p {print $4}' "$WORK/fmt.tsv" | median)"
    mb="$(awk -v p=$ph '$1 == p {print $6}' "$WORK/fmt.tsv" | median)"
    echo "$ph: $rs records/s, $mb MB/s"
done

cc -O2 -std=c11 -D_GNU_SOURCE -Isrc -pthread -o "$BUILD/bench_tap_cost" bench/replay/tap_cost.c \
    "$BUILD/libdoppel.a" $(pkg-config --libs libuv yaml-0.1 libcjson openssl) -lhttp_parser -lm
echo "== tap alone: $N requests (a primary and a shadow record each), median of $REPS"
for r in $(seq "$REPS"); do "$BUILD/bench_tap_cost" "$WORK" "$N"; rm -f "$WORK"/tap-*; done >"$WORK/tap.tsv"
echo "anonymized head: $(awk '{print $2}' "$WORK/tap.tsv" | median) us; worker side: $(awk '{print $5}' "$WORK/tap.tsv" | median) us/request; whole process: $(awk '{print $8}' "$WORK/tap.tsv" | median) us/request"

sbs_backend PRIM prim
sbs_backend SHAD shad

start_gateway() {   # on|off -> "timeout_pid doppel_pid listen_port"
    local mode="$1" L A cfg
    L="$(free_port)"; A="$(free_port)"; cfg="$WORK/$mode.yaml"
    rm -rf "$WORK/cap"
    {
        echo "workers: 1"
        echo "admin: { listen: 127.0.0.1:$A }"
        [ "$mode" = on ] && echo "capture: { path: $WORK/cap/c-%Y%m%d-%H.dcap, max_file: 1GiB, queue: $QUEUE }"
        echo "services:"
        echo "  - name: bench"
        echo "    listen: 127.0.0.1:$L"
        echo "    primary: { upstreams: [127.0.0.1:$PRIM] }"
        echo "    shadows: [ { name: s1, upstreams: [127.0.0.1:$SHAD], max_inflight: 1024 } ]"
        echo "    mirror: { percent: 100, methods: [GET] }"
    } >"$cfg"
    echo "$(sbs_serve "$mode" "$BUILD/doppel" "$cfg" "$A") $L"
}

# One repetition: the two gateways run side by side on SUT_CPU, each fed RATE by its own
# replay at the same time, so whatever slows the machine in that window slows both.
one_pair() {   # -> "off-figures on-figures"
    local off on
    read -r -a off <<<"$(start_gateway off)"
    read -r -a on <<<"$(start_gateway on)"
    sbs_pair "${off[2]}" "${on[2]}" "${off[1]}" "${on[1]}"
    sbs_stop "${off[1]}" "${on[1]}"
}

echo "== gateway: CPU per mirrored request, capture off and on side by side, $REPS x ${DURATION}s at $RATE req/s each"
for r in $(seq "$REPS"); do
    pair="$(one_pair)"
    echo "rep $r: off $(cut -d' ' -f1-4 <<<"$pair") | on $(cut -d' ' -f5- <<<"$pair")" \
        "  (requests worker_us writer_us total_us)" >&2
    echo "$pair"
done >"$WORK/gw.tsv"
col() { awk -v c="$1" '{print $c}' "$WORK/gw.tsv" | median; }
echo "capture off: $(col 4) us/req of process CPU (worker $(col 2))"
echo "capture on:  $(col 8) us/req of process CPU (worker $(col 6), capture writer $(col 7))"
echo "capture cost: $(awk '{print $8 - $4}' "$WORK/gw.tsv" | median) us per mirrored request" \
    "(median of per-repetition differences; worker $(awk '{print $6 - $2}' "$WORK/gw.tsv" | median)," \
    "writer $(col 7))"
echo "differences, sorted: $(awk '{printf "%.2f\n", $8 - $4}' "$WORK/gw.tsv" | sort -g | tr '\n' ' ')"
