#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# doppel replay and doppel stress, end to end on loopback with the real binary against
# build/tests/capserver, a server with a known capacity (one simulated worker, a fixed
# service time, FIFO) that can stall once:
#   - open loop: during a 1 s stall the sender keeps its schedule (send lag small) and
#     the reported latencies include the stall;
#   - a fixed rate is met (count exact, achieved rate within 5 %);
#   - stress finds the knee of a 50 req/s server within 10 % and its --output feeds
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
    if out="$($PY -c "import json,sys; j=json.load(open(sys.argv[1])); r=($3)
print(json.dumps(j, separators=(',', ':'))[:1500]); sys.exit(0 if r is True else 1)" "$2" 2>&1)"
    then ok "$1"; else not_ok "$1" "$3 is false: $out"; fi
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

spawn_cap STALL --service-us 500 --stall-after 100 --stall-ms 1000
spawn_cap FAST --service-us 100
spawn_cap KNEE --service-us 20000
await_port STALL && await_port FAST && await_port KNEE || { not_ok "test servers start"; exit 1; }

# ---- open loop against a stall ---------------------------------------------------------------
# 200/s for 3 s; request 100 (t = 0.5 s) holds the single worker 1 s more. A closed-loop
# sender would stop sending during the stall; an open-loop one keeps its schedule and the
# ~200 requests due during the stall carry the wait in their latency (1 s down to 0). The
# send-lag bounds are loose (a busy 2-core machine deschedules the sender for tens of ms)
# but far below the stall a closed-loop sender would show.
runx "replay against a stalling server runs" 0 "$D" replay url:/ --target "http://127.0.0.1:$STALL" \
    --rate 200/s --loop --duration 3s --connections 512 --json
cp "$T/out" "$T/stall.json"
jcheck "stall: every request answered" "$T/stall.json" \
    "j['scheduled'] == 600 and j['responses'] == 600 and j['errors']['total'] == 0"
jcheck "stall: the max latency includes the 1 s stall" "$T/stall.json" \
    "j['latency_ms']['max'] >= 990"
jcheck "stall: p99 shows the stall (>= 900 ms)" "$T/stall.json" "j['latency_ms']['p99'] >= 900"
jcheck "stall: the median stays near the service time (< 50 ms)" "$T/stall.json" \
    "j['latency_ms']['p50'] < 50"
jcheck "stall: sends stay on schedule (p99 lag < 100 ms, max < 400 ms; the stall is 1000)" \
    "$T/stall.json" "j['send_lag_ms']['p99'] < 100 and j['send_lag_ms']['max'] < 400"

# ---- overload: the target falls far behind ---------------------------------------------------
# 100,000 requests due within 1 s at a server that answers 50/s over 4 connections: due
# requests wait in the source, not in memory; those not sent within --timeout (1 s) of
# their time are counted as overflow. Memory stays near the process's own size: 8.5 MB
# here, where a queue of built requests reached 24 MB.
runx "replay far beyond the target's capacity runs" 0 /usr/bin/time -f '%M' -o "$T/rss" "$D" \
    replay url:/ --target "http://127.0.0.1:$KNEE" --rate 100000/s --loop --duration 1s \
    --connections 4 --timeout 1s --json
jcheck "overload: every due request is either answered or counted" "$T/out" \
    "j['scheduled'] == 100000 and j['responses'] + j['errors']['total'] == 100000 and j['errors']['overflow'] > 90000"
if grep -qa __asan_init "$D"; then
    skip "overload: peak memory" "a sanitizer build's memory says nothing about the replayer's"
else
    check "overload: peak memory stays under 16 MB ($(cat "$T/rss" 2>/dev/null) kB)" \
        test "$(cat "$T/rss" 2>/dev/null || echo 999999)" -lt 16000
fi

# ---- rate accuracy ---------------------------------------------------------------------------
runx "replay at a fixed rate runs" 0 "$D" replay url:/ --target "http://127.0.0.1:$FAST" \
    --rate 1000/s --loop --duration 2s --json
cp "$T/out" "$T/rate.json"
jcheck "rate: exactly rate x duration requests scheduled" "$T/rate.json" "j['scheduled'] == 2000"
jcheck "rate: achieved within 5 % of 1000/s" "$T/rate.json" "abs(j['achieved_rps'] - 1000) <= 50"
jcheck "rate: no errors" "$T/rate.json" "j['errors']['total'] == 0 and j['status']['2xx'] == 2000"

# ---- two threads share one schedule -------------------------------------------------------------
runx "replay --threads 2 runs" 0 "$D" replay url:/ --target "http://127.0.0.1:$FAST" \
    --rate 1000/s --loop --duration 2s --threads 2 --json
jcheck "threads: one schedule, every request once, rate within 5 %" "$T/out" \
    "j['scheduled'] == 2000 and j['status']['2xx'] == 2000 and abs(j['achieved_rps'] - 1000) <= 50"
runx "replay --threads with --record is a usage error" 2 "$D" replay url:/ \
    --target "http://127.0.0.1:$FAST" --threads 2 --record "$T/x.dcap"

# ---- stress finds the knee -------------------------------------------------------------------
# capserver --service-us 20000 serves at most 50 req/s: below that a request waits only for
# its own 20 ms, above it the queue grows by (rate - 50)/s, so a 3 s step at 55/s ends with
# ~15 requests (300 ms) queued and p99 breaks 250 ms: the knee is 50/s. Slow service and
# long steps keep the scheduling hiccups of a busy 2-core machine (tens of ms) far below
# the SLO, so they do not pass for the knee.
runx "stress runs to the knee" 0 "$D" stress --target "http://127.0.0.1:$KNEE" --from url:/ \
    --start 40/s --step 5/s --every 3s --slo-p99 250ms --max-rate 80/s \
    --pid "$KNEE_PID" --output "$T/steps.csv" --json
cp "$T/out" "$T/stress.json"
jcheck "stress: knee within 10 % of the known 50 req/s" "$T/stress.json" \
    "j['knee_rps'] is not None and abs(j['knee_rps'] - 50) <= 5"
jcheck "stress: the SLO broke at the last step" "$T/stress.json" \
    "j['slo_broken'] is True and j['steps'][-1]['p99_ms'] > 250"
jcheck "stress: --pid sampled the target's memory" "$T/stress.json" \
    "all(s['memory_mb'] > 0 for s in j['steps'])"
expect_eq "stress: --output has the capacity header" "$(head -1 "$T/steps.csv")" \
    "load_rps,latency_p99_ms,cpu_cores,memory_mb"
runx "stress --output feeds doppel analyze capacity" 0 "$D" analyze capacity \
    --input "$T/steps.csv" --target-p99 250 --forecast-peak 1000 --json
# the capacity model (p99 = base / (1 - load / capacity)) is a fit, not the knee: loose bound
jcheck "capacity: the fitted capacity is near the server's" "$T/out" \
    "abs(j['model']['capacity_rps'] - 50) <= 15"

# ---- replay of a capture file ---------------------------------------------------------------
# 101 recorded requests 20 ms apart (2 s): GET /users/<i>, every fourth POST /orders.
start_backend REC --record "$T/rec.jsonl" || { not_ok "recording backend starts"; exit 1; }
"$E2E_BUILD/tests/mkcapture" --out "$T/c1.dcap" --count 101 --interval-ms 20 \
    || not_ok "mkcapture writes a capture"
runx "replay of a capture at 4x runs" 0 "$D" replay "$T/c1.dcap" \
    --target "http://127.0.0.1:$REC/v2" --speed 4x --header "X-Replay: yes" \
    --remove-header x-seq --json
cp "$T/out" "$T/speed.json"
jcheck "speed: every recorded request answered" "$T/speed.json" \
    "j['scheduled'] == 101 and j['status']['2xx'] == 101 and j['errors']['total'] == 0"
jcheck "speed: 4x asks 200/s (2 s of records in 0.5 s)" "$T/speed.json" \
    "abs(j['asked_rps'] - 200) < 1"
jcheck "speed: achieved within 5 % of 200/s" "$T/speed.json" "abs(j['achieved_rps'] - 200) <= 10"
$PY - "$T/rec.jsonl" >"$T/rec.txt" 2>&1 <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
h = [dict((k.lower(), v) for k, v in r["headers"]) for r in rows]
print("n", len(rows))
print("posts", sum(1 for r in rows if r["method"] == "POST" and r["url"] == "/v2/orders"))
print("prefixed", all(r["url"].startswith("/v2/") for r in rows))
print("host", all(x["host"].startswith("127.0.0.1:") for x in h))
print("added", all(x.get("x-replay") == "yes" for x in h))
print("removed", all("x-seq" not in x for x in h))
# responses complete out of order over several connections: compare as sets
want = sorted('{"item":%d}' % i for i in range(3, 101, 4))
print("bodies", sorted(r.get("body") for r in rows if r["method"] == "POST") == want)
PYEOF
expect_eq "capture replay: the target saw the recorded stream, rewritten" "$(tr '\n' ' ' <"$T/rec.txt")" \
    'n 101 posts 25 prefixed True host True added True removed True bodies True '
# --record: every exchange, the target's response in the shadow slot (pool "replay")
runx "replay --record writes a capture" 0 "$D" replay "$T/c1.dcap" --target "http://127.0.0.1:$REC" \
    --rate 1000/s --max-requests 8 --record "$T/out.dcap" --json
"$E2E_BUILD/tests/mkcapture" --dump "$T/out.dcap" >"$T/dump.txt" 2>&1
expect_eq "record: one record per exchange" "$(wc -l <"$T/dump.txt" | tr -d ' ')" 8
# the backend answers "backend POST /orders\n": 21 bytes
expect_eq "record: request, pool, status, body" "$(grep '^4 ' "$T/dump.txt" | cut -d' ' -f1-7)" \
    "4 POST /orders replay 200 0 21"
# replay -> --record -> replay the recording: the recording carries its requests (the answers
# are not answer-only records), so it replays the same requests, and each record keeps the
# exchange id of the original's (gateway-style ids, worker 1 in the top byte: not positions).
# The original also holds one answer-only shadow record per request, which replay skips.
"$E2E_BUILD/tests/mkcapture" --out "$T/g0.dcap" --count 40 --interval-ms 5 \
    --first-id 72057594037927937 --shadow s1 || not_ok "mkcapture writes a gateway capture"
for gen in 0 1; do
    runx "replay generation $gen with --record" 0 "$D" replay "$T/g$gen.dcap" \
        --target "http://127.0.0.1:$FAST" --rate 1000/s --record "$T/g$((gen + 1)).dcap" --json
    jcheck "generation $gen: 40 requests sent and answered" "$T/out" \
        "j['scheduled'] == 40 and j['sent'] == 40 and j['status']['2xx'] == 40"
done
for f in g0 g1 g2; do
    "$D" capture cat --json "$T/$f.dcap" >"$T/$f.jsonl" 2>"$T/err" || not_ok "capture cat $f" "$(cat "$T/err")"
done
$PY - "$T/g0.jsonl" "$T/g1.jsonl" "$T/g2.jsonl" >"$T/gen.txt" 2>&1 <<'PYEOF'
import json, sys
gens = [[json.loads(l) for l in open(p)] for p in sys.argv[1:]]
req = lambda rs: sorted((r["id"], r["method"], r["target"]) for r in rs if not r["answer_only"])
print(len(gens[0]), len(req(gens[0])), len(gens[1]), req(gens[1]) == req(gens[0]),
      req(gens[2]) == req(gens[0]), gens[0][0]["id"],
      all(r["shadow"]["pool"] == "replay" for r in gens[1] + gens[2]))
PYEOF
expect_eq "record: the recording replays the same requests with the original's ids" \
    "$(cat "$T/gen.txt")" "80 40 40 True True 0100000000000001 True"
"$D" capture inspect "$T/g1.dcap" >"$T/out" 2>&1
if grep -q "ids 0100000000000001 to 0100000000000028" "$T/out"; then ok "inspect shows the id range"; else
    not_ok "inspect shows the id range" "$(cat "$T/out")"; fi
runx "replay of a capture at a fixed rate runs" 0 "$D" replay "$T/c1.dcap" \
    --target "http://127.0.0.1:$FAST" --rate 500/s --loop --max-requests 400 --json
jcheck "rate: 400 requests of the recorded mix at 500/s" "$T/out" \
    "j['scheduled'] == 400 and abs(j['asked_rps'] - 500) < 1 and abs(j['achieved_rps'] - 500) <= 25"
runx "replay --method filters" 0 "$D" replay "$T/c1.dcap" --target "http://127.0.0.1:$FAST" \
    --rate 1000/s --method POST --json
jcheck "filter: only the 25 POSTs are sent" "$T/out" "j['scheduled'] == 25 and j['filtered'] == 76"
runx "replay --loop at 4x runs for --duration" 0 "$D" replay "$T/c1.dcap" \
    --target "http://127.0.0.1:$FAST" --speed 4x --loop --duration 2s --json
# a pass lasts 0.5 s plus one mean gap (5 ms): 2 s hold 3 whole passes and most of a fourth
jcheck "loop: passes continue back to back" "$T/out" \
    "400 <= j['scheduled'] <= 404 and j['errors']['total'] == 0"
head -c 2000 /dev/urandom >"$T/garbage.dcap"
runx "replay of a missing file fails" 1 "$D" replay "$T/none.dcap" --target "http://127.0.0.1:$FAST"
if grep -q "none.dcap" "$T/err"; then ok "a missing file is named"; else
    not_ok "a missing file is named" "$(cat "$T/err")"; fi
timeout 30 "$D" replay "$T/garbage.dcap" --target "http://127.0.0.1:$FAST" >"$T/out" 2>"$T/err"
rc=$?
if [ "$rc" -eq 1 ] || [ "$rc" -eq 0 ]; then ok "replay of a garbage file does not crash (exit $rc)"; else
    not_ok "replay of a garbage file does not crash" "exit $rc: $(head -c 300 "$T/err")"; fi

# ---- loadgen along a rate curve ---------------------------------------------------------------
# 50/s rising linearly to 150/s over 2 s: the area, and so the request count, is 200
# (/usr/bin/python3 -c "from scipy.integrate import quad; print(quad(lambda t: 50+50*t, 0, 2)[0])"
# -> 200.0).
printf 't_s,rps\n0,50\n2,150\n' >"$T/curve.csv"
runx "loadgen along a rate curve runs" 0 "$D" loadgen --from "capture:$T/c1.dcap" \
    --target "http://127.0.0.1:$FAST" --rate-curve "$T/curve.csv" --json
jcheck "loadgen: the curve's area in requests, all answered" "$T/out" \
    "200 <= j['scheduled'] <= 201 and j['status']['2xx'] == j['scheduled']"
jcheck "loadgen: the mean asked rate is the curve's (100/s)" "$T/out" "abs(j['asked_rps'] - 100) <= 2"
printf 't_s,rps\n0,50\n2,150\n1,10\n' >"$T/badcurve.csv"
runx "loadgen: a curve going back in time is a usage error" 2 "$D" loadgen --from url:/ \
    --target "http://127.0.0.1:$FAST" --rate-curve "$T/badcurve.csv"
if grep -q "badcurve.csv:4:" "$T/err"; then ok "loadgen: the bad curve row is named file:line"; else
    not_ok "loadgen: the bad curve row is named file:line" "$(cat "$T/err")"; fi
runx "loadgen: --rate and --rate-curve exclude each other" 2 "$D" loadgen --from url:/ \
    --target "http://127.0.0.1:$FAST" --rate 10/s --rate-curve "$T/curve.csv"

# ---- learn -> loadgen reproduces the endpoint mix ----------------------------------------------
# The capture's mix is 75 % GET /users/{id}, 25 % POST /orders. 400 requests drawn from the
# learned model: the POST share is binomial, sd sqrt(0.25 * 0.75 / 400) = 0.022, so 0.25 +- 0.07
# (3 sd). The same seed twice gives the same requests.
start_backend MIX --record "$T/mix.jsonl" || { not_ok "mix backend starts"; exit 1; }
runx "learn a model from the capture" 0 "$D" learn "$T/c1.dcap" -o "$T/model.json"
for run in 1 2; do
    runx "loadgen --model run $run" 0 "$D" loadgen --model "$T/model.json" \
        --target "http://127.0.0.1:$MIX" --rate 1000/s --max-requests 400 --seed 7 --json
done
$PY - "$T/mix.jsonl" >"$T/mix.txt" 2>&1 <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
a, b = rows[:400], rows[400:]
post = sum(1 for r in a if r["method"] == "POST" and r["url"] == "/orders") / 400
users = sum(1 for r in a if r["method"] == "GET" and r["url"].startswith("/users/")) / 400
key = lambda rs: sorted((r["method"], r["url"], r.get("body")) for r in rs)
print(len(rows), abs(post - 0.25) <= 0.07, abs(post + users - 1) < 1e-9, key(a) == key(b))
PYEOF
expect_eq "loadgen: the learned mix within 3 sd, same seed same requests" "$(cat "$T/mix.txt")" \
    "800 True True True"
printf '{"version": 1, "endpoints": 7}' >"$T/badmodel.json"
runx "loadgen: a malformed model is an input error" 2 "$D" loadgen --model "$T/badmodel.json" \
    --target "http://127.0.0.1:$MIX" --rate 10/s --max-requests 1
if grep -q "badmodel.json" "$T/err"; then ok "loadgen: the bad model file is named"; else
    not_ok "loadgen: the bad model file is named" "$(cat "$T/err")"; fi

stop_pids "$MIX_PID"
stop_pids "$STALL_PID" "$FAST_PID" "$KNEE_PID" "$REC_PID" || not_ok "test servers exit 0"
