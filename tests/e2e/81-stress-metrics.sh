#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 81-stress-metrics: doppel stress reading the target's CPU and memory per step from a
# running doppel's admin /metrics (--metrics URL --instance ID) instead of /proc: doppel
# serve manages a primary and a shadow (`run:` with build/demo-app), stress loads the
# shadow directly for three short steps and its CSV carries cpu_cores > 0 (and below the
# core count: the CPU counter's increase over a step divided by the step's duration) and
# memory_mb > 0 on every step and still feeds `doppel analyze capacity`. Against fixed
# /metrics files, stress takes the counter when it is there and the instant
# doppel_instance_cpu_percent only when it is not. Usage errors exit 2; a /metrics that
# does not answer or lacks the instance exits 1 with a message.
# Every process is bounded by timeout and stopped by the EXIT trap.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/e2e.sh

D="$E2E_BUILD/doppel"
T="$E2E_TMP"
runx() {    # name, expected exit code, command... (stdout in $T/out, stderr in $T/err)
    local name="$1" want="$2"; shift 2
    timeout 60 "$@" >"$T/out" 2>"$T/err"; local rc=$?
    if [ "$rc" -eq "$want" ]; then ok "$name"; else
        not_ok "$name" "exit $rc, wanted $want: $(head -c 400 "$T/err")"; fi
}

DEAD="$(free_port)"
runx "--instance without --metrics is a usage error" 2 "$D" stress \
    --target "http://127.0.0.1:$DEAD" --start 10/s --step 10/s --slo-p99 1s --instance x
runx "--metrics that is not http:// is a usage error" 2 "$D" stress \
    --target "http://127.0.0.1:$DEAD" --start 10/s --step 10/s --slo-p99 1s \
    --metrics ftp://x/metrics --instance x
runx "--pid with --metrics is a usage error" 2 "$D" stress \
    --target "http://127.0.0.1:$DEAD" --start 10/s --step 10/s --slo-p99 1s \
    --metrics "http://127.0.0.1:$DEAD/metrics" --instance x --pid 1

if ! have_doppel_serve; then
    skip "stress --metrics against managed instances" "this build has no doppel serve"
    exit 0
fi
DEMO="$(cd "$E2E_BUILD" && pwd)/demo-app"
L="$(free_port)"; A="$(free_port)"
C="$T/doppel.yaml"
cat >"$C" <<YAML
workers: 1
admin: { listen: 127.0.0.1:$A }
provision: { state_dir: $T/state, sample_interval: 1s }
services:
  - name: api
    listen: 127.0.0.1:$L
    primary:
      run:
        command: $DEMO
        args: [--port, "{port}", --version, v1, --latency-ms, "0"]
        ready: { path: / }
    shadows:
      - name: v2
        run:
          args: [--port, "{port}", --version, v2, --latency-ms, "0"]
    mirror: { percent: 100 }
YAML
if ! start_doppel "$C" "http://127.0.0.1:$A/readyz"; then
    not_ok "doppel starts managed instances"
    exit 0
fi
for ((i = 0; i < 50; i++)); do
    st="$(timeout 10 "$D" status --admin "127.0.0.1:$A" --json)"
    [ "$(jq -r '.instances[] | select(.labels.role == "shadow") | .state' <<<"$st")" = ready ] && break
    sleep 0.1
done
ID="$(jq -r '.instances[] | select(.labels.role == "shadow") | .id' <<<"$st")"
PORT="$(jq -r '.instances[] | select(.labels.role == "shadow") | .port' <<<"$st")"
check "the shadow is ready (id '$ID', port '$PORT')" test -n "$ID" -a "$PORT" != null
M="http://127.0.0.1:$A/metrics"

runx "stress --metrics --instance runs three steps" 0 "$D" stress \
    --target "http://127.0.0.1:$PORT" --start 2000/s --step 1000/s --max-rate 4000/s --every 1500ms \
    --slo-p99 2s --max-errors 1 --metrics "$M" --instance "$ID" --output "$T/steps.csv"
expect_eq "three steps in the CSV" "$(tail -n +2 "$T/steps.csv" | wc -l)" "3"
check "every step has cpu_cores > 0 and memory_mb > 0 ($(tr '\n' ' ' <"$T/steps.csv"))" \
    awk -F, 'NR > 1 { n++; if (!($3 > 0 && $4 > 0)) bad++ } END { exit !(n == 3 && !bad) }' "$T/steps.csv"
NPROC="$(nproc)"
check "every step's cpu_cores is below the $NPROC cores" \
    awk -F, -v c="$NPROC" 'NR > 1 { n++; if (!($3 < c)) bad++ } END { exit !(n == 3 && !bad) }' \
    "$T/steps.csv"
if grep -q "^doppel_instance_cpu_seconds_total{.*instance=\"$ID\"} [0-9]*\.[0-9]*\$" \
    <(curl -s -m 5 "$M"); then ok "/metrics has the instance's CPU seconds counter"; else
    not_ok "/metrics has the instance's CPU seconds counter" "$(curl -s -m 5 "$M" | grep cpu)"; fi
# The CSV must be read as is; whether a limit shows depends on the machine (a fast shadow
# keeps its latency flat at these rates, which capacity reports with exit 1).
timeout 60 "$D" analyze capacity --input "$T/steps.csv" --target-p99 2000 --forecast-peak 1000 \
    >"$T/out" 2>"$T/err"
rc=$?
check "the CSV feeds doppel analyze capacity (exit $rc: $(head -c 300 "$T/err"))" \
    bash -c "[ $rc = 0 ] || { [ $rc = 1 ] && grep -q 'latency does not grow with load' '$T/err'; }"
runx "an instance absent from /metrics exits 1" 1 "$D" stress \
    --target "http://127.0.0.1:$PORT" --start 50/s --step 50/s --max-rate 50/s --every 200ms \
    --slo-p99 2s --metrics "$M" --instance no-such-instance
check "the message names the instance" grep -q 'no series with instance="no-such-instance"' "$T/err"
runx "a /metrics that does not answer exits 1" 1 "$D" stress \
    --target "http://127.0.0.1:$PORT" --start 50/s --step 50/s --max-rate 50/s --every 200ms \
    --slo-p99 2s --metrics "http://127.0.0.1:$DEAD/metrics" --instance "$ID"
check "the message says the metrics endpoint is unreachable" \
    grep -q "cannot connect to the metrics endpoint at 127.0.0.1:$DEAD" "$T/err"
# Fixed /metrics answers: 50 % instant CPU and 1 MiB, without and with a CPU counter. A
# counter that does not move means no CPU used in the step: 0 cores, not the instant 0.5.
mkdir -p "$T/fake/old" "$T/fake/new"
printf '%s\n' 'doppel_instance_cpu_percent{instance="x"} 50' \
    'doppel_instance_rss_bytes{instance="x"} 1048576' >"$T/fake/old/metrics"
{ cat "$T/fake/old/metrics"; echo 'doppel_instance_cpu_seconds_total{instance="x"} 12.5'; } \
    >"$T/fake/new/metrics"
F="$(free_port)"
timeout 120 /usr/bin/python3 -m http.server "$F" --bind 127.0.0.1 --directory "$T/fake" \
    >/dev/null 2>&1 &
E2E_PIDS+=("$!")
FAKE_PID=$!
if wait_for_url "http://127.0.0.1:$F/old/metrics" 10 '^200$'; then
    for v in old new; do
        runx "stress with a fixed /metrics ($v) runs" 0 "$D" stress \
            --target "http://127.0.0.1:$PORT" --start 50/s --step 50/s --max-rate 100/s \
            --every 300ms --slo-p99 2s --max-errors 1 --json \
            --metrics "http://127.0.0.1:$F/$v/metrics" --instance x
        cp "$T/out" "$T/fake-$v.json"
    done
    check "without the counter each step's CPU is the instant value (0.5 cores)" \
        jq -e '[.steps[] | .cpu_cores == 0.5 and .memory_mb == 1] | length == 2 and all' \
        "$T/fake-old.json"
    check "with the counter each step's CPU is its increase (0 cores)" \
        jq -e '[.steps[] | .cpu_cores == 0 and .memory_mb == 1] | length == 2 and all' \
        "$T/fake-new.json"
else
    not_ok "a fixed /metrics is served"
fi
stop_pid "$FAKE_PID"
curl -s -m 5 "$M" >"$T/metrics.txt"
