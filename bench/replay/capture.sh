#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# capture.sh: what capture costs. Run from the project root after `make`:
#   bench/replay/capture.sh                 # REPS=5 DURATION=10
#   REPS=3 DURATION=5 bench/replay/capture.sh
# 1. Format throughput: bench/replay/capture_write.c encodes and writes N records shaped like
#    a mirrored API call (8 request headers, a 200 with a BODY-byte body), then reads them
#    back: records/s and MB/s, median of REPS.
# 2. Gateway CPU per mirrored request, capture off vs on: `doppel serve` (1 worker, pinned to
#    SUT_CPU) in front of build/tests/backend as primary and as shadow, mirror 100 % of GETs;
#    wrk (LOAD_CPU) drives DURATION seconds per run at CONNS connections. The cost is doppel's
#    CPU time (utime + stime of every thread, the capture writer's included, from
#    /proc/PID/stat) over the requests wrk completed. Off and on alternate in each repetition
#    so drift hits both; medians over REPS. Capture writes 2 records per request (primary and
#    shadow) to a scratch directory.
# 3. The tap alone (bench/replay/tap_cost.c): CPU per request of the worker side (anonymized
#    head, encode, queue) and of the whole process (writer thread included), outside the
#    gateway, for one primary and one shadow record per request; median of REPS.
# The peer is the same gateway without capture, measured in the same run. Every process is
# bounded by `timeout` and stopped on exit.
set -u -o pipefail
cd "$(dirname "$0")/../.."
REPS="${REPS:-5}"; DURATION="${DURATION:-10}"; CONNS="${CONNS:-32}"
N="${N:-200000}"; BODY="${BODY:-512}"; LOAD_CPU="${LOAD_CPU:-0}"; SUT_CPU="${SUT_CPU:-1}"
BUILD="${BUILD:-build}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/doppel-bench-capture.XXXXXX")"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
. tests/lib/e2e.sh >/dev/null 2>&1 || true   # free_port

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

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

start_backend_pinned() {   # VAR NAME
    local out="$WORK/$2.out"
    timeout 600 taskset -c "$LOAD_CPU" "$BUILD/tests/backend" --port 0 --name "$2" >"$out" 2>/dev/null &
    PIDS+=($!)
    for _ in $(seq 50); do grep -q '^port' "$out" && break; sleep 0.1; done
    printf -v "$1" '%s' "$(awk '/^port/ {print $2}' "$out")"
}
start_backend_pinned PRIM prim
start_backend_pinned SHAD shad

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

one_run() {   # on|off -> "requests us_per_req"
    local mode="$1" L A cfg pid tpid t0 t1 reqs
    L="$(free_port)"; A="$(free_port)"; cfg="$WORK/$mode.yaml"
    rm -rf "$WORK/cap"
    {
        echo "workers: 1"
        echo "admin: { listen: 127.0.0.1:$A }"
        [ "$mode" = on ] && echo "capture: { path: $WORK/cap/c-%Y%m%d-%H.dcap, max_file: 1GiB }"
        echo "services:"
        echo "  - name: bench"
        echo "    listen: 127.0.0.1:$L"
        echo "    primary: { upstreams: [127.0.0.1:$PRIM] }"
        echo "    shadows: [ { name: s1, upstreams: [127.0.0.1:$SHAD], max_inflight: 1024 } ]"
        echo "    mirror: { percent: 100, methods: [GET] }"
    } >"$cfg"
    timeout 600 taskset -c "$SUT_CPU" "$BUILD/doppel" serve -c "$cfg" 2>"$WORK/$mode.log" &
    tpid=$!
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$A/readyz" && break; sleep 0.1; done
    pid="$(pgrep -P "$tpid")"   # doppel itself, under timeout
    timeout 30 taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d1 "http://127.0.0.1:$L/api/v1/users/1" >/dev/null
    t0="$(cpu_ticks "$pid")"
    reqs="$(timeout $((DURATION + 30)) taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"$DURATION" \
        "http://127.0.0.1:$L/api/v1/users/1" | awk '/requests in/ {print $1}')"
    t1="$(cpu_ticks "$pid")"
    kill -TERM "$pid"; wait "$tpid" 2>/dev/null
    echo "$reqs $(awk -v d=$((t1 - t0)) -v n="$reqs" -v hz="$(getconf CLK_TCK)" \
        'BEGIN {printf "%.3f", d / hz * 1e6 / n}')"
}

echo "== gateway: CPU per mirrored request, capture off vs on, $REPS x ${DURATION}s, $CONNS conns"
for r in $(seq "$REPS"); do
    off="$(one_run off)"; on="$(one_run on)"
    echo "rep $r: off $off | on $on" >&2
    echo "$off $on"
done >"$WORK/gw.tsv"
off_us="$(awk '{print $2}' "$WORK/gw.tsv" | median)"; on_us="$(awk '{print $4}' "$WORK/gw.tsv" | median)"
off_rps="$(awk -v d="$DURATION" '{print $1 / d}' "$WORK/gw.tsv" | median)"
on_rps="$(awk -v d="$DURATION" '{print $3 / d}' "$WORK/gw.tsv" | median)"
diff="$(awk '{print $4 - $2}' "$WORK/gw.tsv" | median)"
echo "capture off: $off_us us/req ($off_rps req/s)"
echo "capture on:  $on_us us/req ($on_rps req/s)"
echo "capture cost: $diff us per mirrored request (median of per-repetition differences)"
