# SPDX-License-Identifier: Apache-2.0
# side_by_side.sh: sourced by benchmarks that run two `doppel serve` at the same time on one
# core, each fed a fixed rate by its own `doppel replay`, and compare their CPU per request.
# Run one after the other, a gateway's CPU per request moves ±10 µs between runs on these
# shared VMs; side by side, both see the same moment of the machine and the difference of a
# pair is steady to a fraction of a µs (bench/results-capture.md).
#
# The caller sets WORK (a scratch directory), BUILD (the build with doppel and
# tests/backend), LOAD_CPU and SUT_CPU (cores for the load and the gateways), RATE, CONNS and
# DURATION, and traps EXIT to sbs_cleanup. It provides:
#   free_port                      a loopback port nobody listens on
#   median                         the median of the numbers on stdin
#   sbs_backend VAR NAME [ARGS]    build/tests/backend on LOAD_CPU; VAR=its port
#   thread_ns PID                  "name ns" per thread group of PID (doppel-w*, doppel-capture,
#                                  other), CPU time from /proc/PID/task/*/schedstat
#   sbs_serve NAME BIN CONFIG ADMIN_PORT
#                                  starts BIN serve -c CONFIG on SUT_CPU, waits for /readyz;
#                                  prints "timeout_pid doppel_pid"
#   sbs_stop PID...                TERM to each doppel and waits until they are gone
#   sbs_load PORT SECONDS          doppel replay at RATE over CONNS connections; its --json
#   sbs_per_request T0 T1 N        from two thread_ns files and N requests:
#                                  "N worker_us capture_us total_us"
#   sbs_pair A_PORT B_PORT A_PID B_PID
#                                  one repetition: warm-up, then both loads at once for
#                                  DURATION; prints "A-figures B-figures" (sbs_per_request)

SBS_PIDS=()

sbs_cleanup() {
    local p
    for p in "${SBS_PIDS[@]}"; do pkill -TERM -P "$p" 2>/dev/null; kill "$p" 2>/dev/null; done
    pkill -TERM -f "serve -c $WORK/" 2>/dev/null # gateways started in a subshell
    wait 2>/dev/null
    rm -rf "$WORK"
}

free_port() {
    local p
    for _ in $(seq 50); do
        p=$((10000 + RANDOM % 22000)) # below the kernel's ephemeral range
        [ -z "$(ss -Htan "sport = :$p" 2>/dev/null)" ] && { echo "$p"; return 0; }
    done
    return 1
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

sbs_backend() {
    local var="$1" name="$2" out="$WORK/$2.out"
    shift 2
    timeout 900 taskset -c "$LOAD_CPU" "$BUILD/tests/backend" --port 0 --name "$name" "$@" \
        >"$out" 2>/dev/null &
    SBS_PIDS+=($!)
    for _ in $(seq 50); do grep -q '^port' "$out" && break; sleep 0.1; done
    printf -v "$var" '%s' "$(awk '/^port/ {print $2}' "$out")"
}

# schedstat's first field is the thread's time on a CPU in ns (/proc/PID/stat counts 10 ms
# ticks).
thread_ns() {
    local t n
    for t in /proc/"$1"/task/*; do
        n="$(cat "$t/comm")"
        case "$n" in doppel-w*) n=doppel-w ;; doppel-capture) ;; *) n=other ;; esac
        echo "$n $(cut -d' ' -f1 "$t/schedstat")"
    done | awk '{a[$1] += $2} END {for (k in a) printf "%s %.0f\n", k, a[k]}' | sort
}

sbs_serve() {
    local name="$1" bin="$2" cfg="$3" admin="$4" tpid
    timeout 600 taskset -c "$SUT_CPU" "$bin" serve -c "$cfg" >/dev/null 2>"$WORK/$name.log" &
    tpid=$!
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$admin/readyz" && break; sleep 0.1; done
    echo "$tpid $(pgrep -P "$tpid")" # doppel itself runs under timeout
}

sbs_stop() {
    local p
    kill -TERM "$@" 2>/dev/null
    for p in "$@"; do
        while kill -0 "$p" 2>/dev/null; do sleep 0.05; done
    done
}

sbs_load() {
    timeout $(($2 + 30)) taskset -c "$LOAD_CPU" "$BUILD/doppel" replay url:/api/v1/users/1 \
        --target "http://127.0.0.1:$1" --rate "$RATE/s" --loop --duration "$2s" \
        --connections "$CONNS" --json 2>/dev/null
}

sbs_per_request() {
    join -a 2 -e 0 -o 0,1.2,2.2 "$1" "$2" | awk -v n="$3" '
        {us[$1] = ($3 - $2) / 1e3 / n; tot += us[$1]}
        END {printf "%d %.3f %.3f %.3f\n", n, us["doppel-w"], us["doppel-capture"], tot}'
}

sbs_pair() {
    local w
    sbs_load "$1" 1 >/dev/null & w=$!
    sbs_load "$2" 1 >/dev/null
    wait "$w"
    thread_ns "$3" >"$WORK/a.t0"; thread_ns "$4" >"$WORK/b.t0"
    sbs_load "$1" "$DURATION" >"$WORK/a.json" & w=$!
    sbs_load "$2" "$DURATION" >"$WORK/b.json"
    wait "$w"
    thread_ns "$3" >"$WORK/a.t1"; thread_ns "$4" >"$WORK/b.t1"
    echo "$(sbs_per_request "$WORK/a.t0" "$WORK/a.t1" "$(jq .responses "$WORK/a.json")")" \
        "$(sbs_per_request "$WORK/b.t0" "$WORK/b.t1" "$(jq .responses "$WORK/b.json")")"
}
