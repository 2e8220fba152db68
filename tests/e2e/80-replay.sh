#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# doppel replay and doppel stress, end to end on loopback with the real binary against
# build/tests/capserver, a server with a known capacity (one simulated worker, a fixed
# service time, FIFO) that can stall once:
#   - open loop: during a 500 ms stall the sender keeps its schedule (send lag small) and
#     the reported latencies include the stall;
#   - a fixed rate is met (count exact, achieved rate within 5 %);
#   - stress finds the knee of a 400 req/s server within 10 % and its --output feeds
#     `doppel analyze capacity` as is;
#   - usage errors exit 2 with a message; a refused target counts connect errors, exit 0.
# Every process is bounded by timeout and stopped by the EXIT trap.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/e2e.sh

D="$E2E_BUILD/doppel"
T="$E2E_TMP"
PY=/usr/bin/python3

runx() {    # name, expected exit code, command... (stdout in $T/out, stderr in $T/err)
    local name="$1" want="$2"; shift 2
    timeout 60 "$@" >"$T/out" 2>"$T/err"; local rc=$?
    if [ "$rc" -eq "$want" ]; then ok "$name"; else
        not_ok "$name" "exit $rc, wanted $want: $(head -c 400 "$T/err")"; fi
}
# jcheck NAME FILE PYTHON-EXPR: ok when the expression over the JSON document j is true.
jcheck() {
    local out
    if out="$($PY -c "import json,sys; j=json.load(open(sys.argv[1])); r=($3); print(r)
sys.exit(0 if r is True else 1)" "$2" 2>&1)"; then ok "$1"; else
        not_ok "$1" "$3 is false: $(head -c 600 "$2")"$'\n'"$out"; fi
}
spawn_cap() {
    e2e_spawn "$1" "$E2E_BUILD/tests/capserver" "${@:2}"
}

# ---- usage --------------------------------------------------------------------------------
runx "stress --help exits 0" 0 "$D" stress --help
runx "replay --help exits 0" 0 "$D" replay --help
runx "stress without --target is a usage error" 2 "$D" stress --start 10/s --step 10/s --slo-p99 1s
runx "stress with a bad rate is a usage error" 2 "$D" stress --target http://127.0.0.1:1 \
    --start fast --step 10/s --slo-p99 1s
runx "stress with https is a usage error" 2 "$D" stress --target https://127.0.0.1:1 \
    --start 10/s --step 10/s --slo-p99 1s
runx "stress with a bad --from is a usage error" 2 "$D" stress --target http://127.0.0.1:1 \
    --from ftp:x --start 10/s --step 10/s --slo-p99 1s
runx "replay without a source is a usage error" 2 "$D" replay --target http://127.0.0.1:1
runx "replay with --speed and --rate is a usage error" 2 "$D" replay url:/ \
    --target http://127.0.0.1:1 --speed 2x --rate 10/s

# ---- a refused target ----------------------------------------------------------------------
DEAD="$(free_port)"
runx "replay to a refused port runs to its end" 0 "$D" replay url:/ --target "http://127.0.0.1:$DEAD" \
    --rate 100/s --loop --max-requests 20 --json
jcheck "a refused port gives one connect error per request" "$T/out" \
    "j['errors']['connect'] == 20 and j['responses'] == 0"

spawn_cap STALL --service-us 500 --stall-after 100 --stall-ms 500
spawn_cap FAST --service-us 100
spawn_cap KNEE --service-us 2500
await_port STALL && await_port FAST && await_port KNEE || { not_ok "test servers start"; exit 1; }

# ---- open loop against a stall ---------------------------------------------------------------
# 200/s for 2 s; request 100 (t = 0.5 s) holds the single worker 500 ms more. A closed-loop
# sender would stop sending during the stall; an open-loop one keeps its schedule and the
# ~100 requests due during the stall carry the wait in their latency.
runx "replay against a stalling server runs" 0 "$D" replay url:/ --target "http://127.0.0.1:$STALL" \
    --rate 200/s --loop --duration 2s --connections 256 --json
cp "$T/out" "$T/stall.json"
jcheck "stall: every request answered" "$T/stall.json" \
    "j['scheduled'] == 400 and j['responses'] == 400 and j['errors']['total'] == 0"
jcheck "stall: the max latency includes the 500 ms stall" "$T/stall.json" \
    "j['latency_ms']['max'] >= 490"
jcheck "stall: p99 shows the stall (>= 400 ms)" "$T/stall.json" "j['latency_ms']['p99'] >= 400"
jcheck "stall: the median stays at the service time (< 20 ms)" "$T/stall.json" \
    "j['latency_ms']['p50'] < 20"
jcheck "stall: sends stay on schedule (p99 lag < 20 ms, max < 50 ms)" "$T/stall.json" \
    "j['send_lag_ms']['p99'] < 20 and j['send_lag_ms']['max'] < 50"

# ---- rate accuracy ---------------------------------------------------------------------------
runx "replay at a fixed rate runs" 0 "$D" replay url:/ --target "http://127.0.0.1:$FAST" \
    --rate 1000/s --loop --duration 2s --json
cp "$T/out" "$T/rate.json"
jcheck "rate: exactly rate x duration requests scheduled" "$T/rate.json" "j['scheduled'] == 2000"
jcheck "rate: achieved within 5 % of 1000/s" "$T/rate.json" "abs(j['achieved_rps'] - 1000) <= 50"
jcheck "rate: no errors" "$T/rate.json" "j['errors']['total'] == 0 and j['status']['2xx'] == 2000"

# ---- stress finds the knee -------------------------------------------------------------------
# capserver --service-us 2500 serves at most 400 req/s: below that a request waits only for
# its own 2.5 ms, above it the queue grows by (rate - 400)/s, so a 1.5 s step at 440/s ends
# with ~60 requests (150 ms) queued and p99 breaks 50 ms.
runx "stress runs to the knee" 0 "$D" stress --target "http://127.0.0.1:$KNEE" --from url:/ \
    --start 200/s --step 40/s --every 1500ms --slo-p99 50ms --max-rate 600/s \
    --pid "$KNEE_PID" --output "$T/steps.csv" --json
cp "$T/out" "$T/stress.json"
jcheck "stress: knee within 10 % of the known 400 req/s" "$T/stress.json" \
    "j['knee_rps'] is not None and abs(j['knee_rps'] - 400) <= 40"
jcheck "stress: the SLO broke at the last step" "$T/stress.json" \
    "j['slo_broken'] is True and j['steps'][-1]['p99_ms'] > 50"
jcheck "stress: --pid sampled the target's memory" "$T/stress.json" \
    "all(s['memory_mb'] > 0 for s in j['steps'])"
expect_eq "stress: --output has the capacity header" "$(head -1 "$T/steps.csv")" \
    "load_rps,latency_p99_ms,cpu_cores,memory_mb"
runx "stress --output feeds doppel analyze capacity" 0 "$D" analyze capacity \
    --input "$T/steps.csv" --target-p99 50 --forecast-peak 1000 --json
jcheck "capacity: the fitted capacity is near the server's" "$T/out" \
    "abs(j['model']['capacity_rps'] - 400) <= 80"

stop_pids "$STALL_PID" "$FAST_PID" "$KNEE_PID" || not_ok "test servers exit 0"
