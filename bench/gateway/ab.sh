#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ab.sh: two builds of the gateway side by side, CPU per request at a fixed rate. From the
# project root, after `make`:
#   bench/gateway/ab.sh A_DOPPEL B_DOPPEL           # e.g. a worktree's build/doppel, build/doppel
#   BODY=16384 REPS=9 bench/gateway/ab.sh A B       # 16 KiB responses
#   MODE=proxy bench/gateway/ab.sh A B              # no shadow
# Both `doppel serve` (1 worker each) run at once pinned to SUT_CPU, in front of the same
# build/tests/backend primary (and shadow, MODE=mirror: 100 % of GETs, no anonymization, as
# the shared harness's scenario c), each fed RATE requests/s (default 5000) over CONNS
# connections by its own `doppel replay` on LOAD_CPU, for DURATION seconds, REPS times.
# Prints each repetition's CPU µs per request (every thread of the process, from
# /proc/PID/task/*/schedstat) for A and B, and the median of B − A with the sorted
# differences. The closed-loop throughput of the shared harness moves too much between runs
# on these machines to see a change of a few per cent; this does (see bench/lib).
set -u -o pipefail
cd "$(dirname "$0")/../.."
if [ $# -ne 2 ]; then
    sed -n '3,7p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
A_BIN="$(realpath "$1")"; B_BIN="$(realpath "$2")"
REPS="${REPS:-5}"; DURATION="${DURATION:-5}"; RATE="${RATE:-5000}"; CONNS="${CONNS:-32}"
BODY="${BODY:-}"; MODE="${MODE:-mirror}"; LOAD_CPU="${LOAD_CPU:-0}"; SUT_CPU="${SUT_CPU:-1}"
BUILD="${BUILD:-build}"
case "$MODE" in mirror|proxy) ;; *) echo "ab.sh: MODE is mirror or proxy" >&2; exit 2 ;; esac
for b in "$A_BIN" "$B_BIN"; do [ -x "$b" ] || { echo "ab.sh: $b is not an executable" >&2; exit 2; }; done
WORK="$(mktemp -d "${TMPDIR:-/tmp}/doppel-bench-ab.XXXXXX")"
. bench/lib/side_by_side.sh
trap sbs_cleanup EXIT
make --no-print-directory -s "$BUILD/doppel" "$BUILD/tests/backend"

sbs_backend PRIM prim ${BODY:+--body-size "$BODY"}
sbs_backend SHAD shad ${BODY:+--body-size "$BODY"}

start_gateway() {   # NAME BIN -> "timeout_pid doppel_pid listen_port"
    local L A cfg="$WORK/$1.yaml"
    L="$(free_port)"; A="$(free_port)"
    {
        echo "workers: 1"
        echo "admin: { listen: 127.0.0.1:$A }"
        echo "services:"
        echo "  - name: bench"
        echo "    listen: 127.0.0.1:$L"
        echo "    primary: { upstreams: [127.0.0.1:$PRIM] }"
        if [ "$MODE" = mirror ]; then
            echo "    shadows: [ { name: s1, upstreams: [127.0.0.1:$SHAD], max_inflight: 1024 } ]"
            echo "    mirror: { percent: 100, methods: [GET], anonymize: { drop_headers: [], hash_client_ip: false } }"
        fi
    } >"$cfg"
    echo "$(sbs_serve "$1" "$2" "$cfg" "$A") $L"
}

echo "machine: $(nproc) cores, $(uname -srm); $(date -u '+%Y-%m-%d %H:%M UTC'); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "A: $A_BIN"
echo "B: $B_BIN"
echo "== $MODE, backend body ${BODY:-default} bytes, $REPS x ${DURATION}s at $RATE req/s each, side by side"
for r in $(seq "$REPS"); do
    read -r -a a <<<"$(start_gateway a "$A_BIN")"
    read -r -a b <<<"$(start_gateway b "$B_BIN")"
    pair="$(sbs_pair "${a[2]}" "${b[2]}" "${a[1]}" "${b[1]}")"
    sbs_stop "${a[1]}" "${b[1]}"
    read -r an _ _ at bn _ _ bt <<<"$pair"
    printf 'rep %d: A %.3f us/req (%d requests)  B %.3f us/req (%d requests)  B - A %.3f\n' \
        "$r" "$at" "$an" "$bt" "$bn" "$(awk -v a="$at" -v b="$bt" 'BEGIN {print b - a}')" >&2
    echo "$at $bt"
done >"$WORK/ab.tsv"
echo "A: $(awk '{print $1}' "$WORK/ab.tsv" | median) us/req, B: $(awk '{print $2}' "$WORK/ab.tsv" | median) us/req (medians)"
echo "B - A: $(awk '{print $2 - $1}' "$WORK/ab.tsv" | median) us per request (median of per-repetition differences)"
echo "differences, sorted: $(awk '{printf "%.2f\n", $2 - $1}' "$WORK/ab.tsv" | sort -g | tr '\n' ' ')"
