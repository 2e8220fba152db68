#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/chaos/run.sh: the cost of the fault layer on the shadow path, as CPU time of doppel
# per mirrored request (the gateway benchmark's noise-robust metric: /proc utime + stime of
# the doppel process over a wrk run, divided by the requests wrk completed). Variants, run
# interleaved so machine drift hits all alike (rep 1: plain, p0, nomatch, p0x8; rep 2: ...):
#   plain    no chaos section: the mirror only checks that no fault set is published
#   p0       one latency fault on the shadow pool with probability 0: evaluated on every
#            copy (scope match and one draw), never fires
#   nomatch  one latency fault whose scope (route prefix) matches no request
#   p0x8     eight probability-0 faults: the O(faults) slope
# Every copy goes to a healthy shadow (build/tests/backend), 100 % of GETs mirrored.
# From the project root, after `make`:
#   bench/chaos/run.sh                    REPS=5 DURATION=5 CONNS=32 (about 2 minutes)
#   REPS=1 DURATION=2 bench/chaos/run.sh  a quick look
# Pinning: doppel on SUT_CPU (1), wrk on LOAD_CPU (0), backends unpinned. Prints a table of
# medians and, with OUT=file, appends it there in Markdown. Every process it starts is
# bounded by timeout and stopped on exit.
set -u -o pipefail
cd "$(dirname "$0")/../.."
REPS="${REPS:-5}"; DURATION="${DURATION:-5}"; CONNS="${CONNS:-32}"
SUT_CPU="${SUT_CPU:-1}"; LOAD_CPU="${LOAD_CPU:-0}"
BUILD="${BUILD:-build}"
VARIANTS="${VARIANTS:-plain p0 nomatch p0x8}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/doppel-bench-chaos.XXXXXX")"
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    sleep 0.3
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
command -v wrk >/dev/null || { echo "bench/chaos: wrk is not installed" >&2; exit 1; }

free_port() {
    local p i
    for i in $(seq 50); do
        p=$((10000 + RANDOM % 22000))
        [ -z "$(ss -Htan "sport = :$p" 2>/dev/null)" ] && { echo "$p"; return 0; }
    done
    return 1
}

backend() {   # NAME VAR: starts a backend (not in a subshell, so cleanup knows its pid)
    timeout 3600 "$BUILD/tests/backend" --port 0 --name "$1" >"$WORK/$1.out" 2>/dev/null &
    PIDS+=($!)
    local i port=""
    for i in $(seq 100); do
        port="$(sed -n 's/^port \([0-9]*\)$/\1/p' "$WORK/$1.out")"
        [ -n "$port" ] && break
        sleep 0.05
    done
    printf -v "$2" '%s' "$port"
    [ -n "$port" ]
}

fault() {   # one fault, as a YAML flow map
    case "$1" in
    p0) echo "{ kind: latency, latency: 100ms, probability: 0, scope: { pool: s1 } }" ;;
    nomatch) echo "{ kind: latency, latency: 100ms, scope: { pool: s1, route: /nothing-here } }" ;;
    esac
}

config() {   # VARIANT LISTEN ADMIN PRIMARY SHADOW
    cat <<YAML
workers: 1
admin: { listen: 127.0.0.1:$3 }
services:
  - name: bench
    listen: 127.0.0.1:$2
    primary: { upstreams: [127.0.0.1:$4] }
    shadows: [ { name: s1, upstreams: [127.0.0.1:$5], timeout: 1s, max_inflight: 1024 } ]
    mirror: { percent: 100, methods: [GET], anonymize: { drop_headers: [], hash_client_ip: false } }
YAML
    [ "$1" = plain ] && return
    echo "chaos:"
    echo "  experiments:"
    echo "    - name: noop"
    echo "      faults:"
    local n=1 i
    [ "$1" = p0x8 ] && n=8
    for ((i = 0; i < n; i++)); do echo "        - $(fault "${1/x8/}")"; done
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

one_run() {   # VARIANT -> prints "requests us_per_req"
    local v="$1" L A tpid pid i t0 t1 out reqs
    L="$(free_port)"; A="$(free_port)"
    config "$v" "$L" "$A" "$PRIM" "$SHAD" >"$WORK/$v.yaml"
    timeout -k 3 $((DURATION + 60)) taskset -c "$SUT_CPU" "$BUILD/doppel" serve -c "$WORK/$v.yaml" \
        >"$WORK/doppel.log" 2>&1 </dev/null &
    tpid=$!
    PIDS+=($tpid)
    for i in $(seq 100); do curl -s -o /dev/null -m 1 "http://127.0.0.1:$A/readyz" && break; sleep 0.05; done
    pid="$(pgrep -P "$tpid" | head -1)" # timeout's child: doppel itself
    timeout 30 taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d1s "http://127.0.0.1:$L/w" >/dev/null 2>&1
    t0="$(cpu_ticks "$pid")"
    out="$(timeout $((DURATION + 30)) taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${DURATION}s" "http://127.0.0.1:$L/x" 2>&1)"
    t1="$(cpu_ticks "$pid")"
    reqs="$(awk '/requests in/ { print $1 }' <<<"$out")"
    kill -TERM "$pid"; wait "$tpid" 2>/dev/null
    awk -v r="${reqs:-0}" -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" \
        'BEGIN { if (r > 0) printf "%d %.2f\n", r, d / hz * 1e6 / r; else print "0 nan" }'
}

backend prim PRIM && backend shad SHAD || { echo "bench/chaos: backends did not start" >&2; exit 1; }
for rep in $(seq "$REPS"); do
    for v in $VARIANTS; do
        r="$(one_run "$v")"
        echo "$v $r" >>"$WORK/results"
        echo "rep $rep $v: requests=${r% *} us/req=${r#* }" >&2
    done
done

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
{
    echo "| variant | median CPU µs / request | median requests in ${DURATION} s | runs |"
    echo "|---|---|---|---|"
    for v in $VARIANTS; do
        us="$(awk -v v="$v" '$1 == v { print $3 }' "$WORK/results" | median)"
        rq="$(awk -v v="$v" '$1 == v { print $2 }' "$WORK/results" | median)"
        echo "| $v | $us | $rq | $REPS |"
    done
} >"$WORK/table.md"
cat "$WORK/table.md"
if [ -n "${OUT:-}" ]; then
    {
        echo
        echo "Run: \`REPS=$REPS DURATION=$DURATION CONNS=$CONNS bench/chaos/run.sh\`, $(date -u '+%Y-%m-%d %H:%M UTC'),"
        echo "nproc $(nproc), $(uname -srm), doppel on CPU $SUT_CPU, wrk on CPU $LOAD_CPU;"
        echo "raw: $(tr '\n' ';' <"$WORK/results")"
        echo
        cat "$WORK/table.md"
    } >>"$OUT"
fi
