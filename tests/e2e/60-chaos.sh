#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 60-chaos: fault experiments on the shadow path of `doppel serve`, from the outside. Each
# fault kind is started with POST /v1/experiments and measured where doppel measures the
# shadow (its latency histogram, status classes, drop reasons) or where the shadow sees it
# (the backend's connection count), while the primary's answers stay 200 and its latency
# stays that of the run without faults. Then the kill switch (DELETE /v1/experiments)
# removes every fault at once, and hostile API input gets 400 with a message. Real
# processes on loopback only.
. tests/lib/e2e.sh

PY=/usr/bin/python3
TOKEN='e2e-chaos-token-51c2'
AUTH="Authorization: Bearer $TOKEN"

if ! have_doppel_serve; then
    skip "chaos" "this build has no doppel serve"
    exit 0
fi

spawn_backend P --name prim
spawn_backend S --name s1
spawn_backend SB --name s2 --body-size 20000
await_port P && await_port S && await_port SB || { not_ok "backends start"; exit 1; }
L="$(free_port)"; A="$(free_port)"
printf '%s' "$TOKEN" | sha256sum | awk '{ print $1 }' >"$E2E_TMP/tokens"
cat >"$E2E_TMP/chaos.yaml" <<EOF
workers: 2
admin: { listen: 127.0.0.1:$A, tokens_file: $E2E_TMP/tokens }
limits: { drain_timeout: 1s }
services:
  - name: api
    listen: 127.0.0.1:$L
    primary: { upstreams: [127.0.0.1:$P] }
    shadows:
      - { name: s1, upstreams: [127.0.0.1:$S], timeout: 500ms, health: { fail_threshold: 1000 } }
      - { name: s2, upstreams: [127.0.0.1:$SB], timeout: 2s, health: { eject_time: 1ms } }
    mirror: { percent: 100 }
EOF
start_doppel "$E2E_TMP/chaos.yaml" "http://127.0.0.1:$A/readyz" || { not_ok "doppel starts"; exit 1; }

# ---- helpers ---------------------------------------------------------------------------

snap() { curl -s -m 5 "http://127.0.0.1:$A/metrics" >"$E2E_TMP/m.$1"; }
val() {   # SNAP SERIES -> value (0 when absent)
    awk -v k="$2" '$1 == k { v = $2 } END { print v + 0 }' "$E2E_TMP/m.$1"
}
dur() { echo "doppel_request_duration_seconds_$2{service=\"api\",pool=\"$1\",route=\"default\"}"; }
cls() { echo "doppel_requests_total{service=\"api\",pool=\"$1\",route=\"default\",class=\"$2\"}"; }
drop() { echo "doppel_mirror_dropped_total{service=\"api\",route=\"default\",shadow=\"$1\",reason=\"$2\"}"; }
delta() { echo $(($(val "$2" "$3") - $(val "$1" "$3"))); }   # BEFORE AFTER SERIES
# Mean latency (s) of the copies to POOL between two snapshots.
mean_s() {   # BEFORE AFTER POOL
    awk -v s0="$(val "$1" "$(dur "$3" sum)")" -v s1="$(val "$2" "$(dur "$3" sum)")" \
        -v c0="$(val "$1" "$(dur "$3" count)")" -v c1="$(val "$2" "$(dur "$3" count)")" \
        'BEGIN { if (c1 > c0) printf "%.4f\n", (s1 - s0) / (c1 - c0); else print "nan" }'
}

# Sends N GETs to PATH one after the other; sets PRIM_OK (answers that were 200) and
# PRIM_P50 (median total time, ms).
load() {   # N PATH
    curl -s -m 30 -o /dev/null -w '%{http_code} %{time_total}\n' \
        "http://127.0.0.1:$L$2?i=[1-$1]" >"$E2E_TMP/load"
    PRIM_OK="$(awk '$1 == 200' "$E2E_TMP/load" | wc -l)"
    PRIM_P50="$(sort -k2 -n "$E2E_TMP/load" | awk '{ t[NR] = $2 } END { printf "%.3f\n", t[int((NR + 1) / 2)] * 1000 }')"
}

# Copies to POOL that ended (answered or dropped) in SNAP.
finished() {   # SNAP POOL
    awk -v c="$(dur "$2" count)" -v d="shadow=\"$2\"" '
        $1 == c || (index($1, "doppel_mirror_dropped_total{") == 1 && index($1, d)) { n += $2 }
        END { print n + 0 }' "$E2E_TMP/m.$1"
}

# Waits (<= 5 s) until N more copies to POOL ended than in SNAP.
settle() {   # SNAP POOL N
    local i base
    base="$(finished "$1" "$2")"
    for ((i = 0; i < 50; i++)); do
        snap now
        [ $(($(finished now "$2") - base)) -ge "$3" ] && return 0
        sleep 0.1
    done
    echo "# $2: $(($(finished now "$2") - base)) of $3 copies ended after 5 s"
    return 1
}

post() {   # JSON -> sets CODE, BODY file $E2E_TMP/body
    CODE="$(curl -s -m 5 -o "$E2E_TMP/body" -w '%{http_code}' -H "$AUTH" \
        -H 'Content-Type: application/json' --data-binary "$1" "http://127.0.0.1:$A/v1/experiments")"
}
start_exp() {   # LABEL JSON -> sets EXP (id)
    post "$2"
    expect_eq "$1: POST /v1/experiments is 201" "$CODE" "201"
    EXP="$(sed -n 's/^{"id":"\([a-z0-9]*\)".*/\1/p' "$E2E_TMP/body")"
}
stop_exp() {   # ID
    curl -s -m 5 -o /dev/null -X DELETE -H "$AUTH" "http://127.0.0.1:$A/v1/experiments/$1"
}

BASE_P50=""
# The primary keeps answering 200, as fast as without faults (3x + 5 ms at the median:
# the machine is shared, the faults add 100 ms and more where they act). One stall of the
# machine can move the median of a short run, so a run over the bound is measured once
# more, faults still on, and the better median counts: a fault that really reached the
# primary would slow both.
primary_ok() {   # LABEL N
    local p50="$PRIM_P50"
    expect_eq "$1: every primary answer is 200" "$PRIM_OK" "$2"
    if ! awk -v a="$p50" -v b="$BASE_P50" 'BEGIN { exit !(a <= 3 * b + 5) }'; then
        load 50 /x
        p50="$(awk -v a="$p50" -v b="$PRIM_P50" 'BEGIN { print (a < b ? a : b) }')"
    fi
    check "$1: primary median ${p50} ms like without faults (${BASE_P50} ms)" \
        awk -v a="$p50" -v b="$BASE_P50" 'BEGIN { exit !(a <= 3 * b + 5) }'
}

in_range() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'; }

# ---- baseline --------------------------------------------------------------------------

snap b0; load 100 /x; settle b0 s1 100; snap b1
BASE_P50="$PRIM_P50"
BASE_S1="$(mean_s b0 b1 s1)"; BASE_S2="$(mean_s b0 b1 s2)"
expect_eq "baseline: every primary answer is 200" "$PRIM_OK" "100"
echo "# baseline: primary p50 $BASE_P50 ms, s1 mean $(mean_s b0 b1 s1) s, s2 mean $(mean_s b0 b1 s2) s"

echo "# t=${SECONDS}s"
# ---- latency (response direction, pool s1 only) ----------------------------------------

start_exp latency '{"name":"lat","faults":[{"kind":"latency","latency":"100ms","direction":"response","scope":{"pool":"s1"}}]}'
snap l0; load 50 /x; settle l0 s1 50; snap l1
m1="$(mean_s l0 l1 s1)"; m2="$(mean_s l0 l1 s2)"
check "latency: s1 copies take 100 ms more (mean $m1 s, base $BASE_S1 s)" \
    in_range "$m1" 0.100 "$(awk -v b="$BASE_S1" 'BEGIN { print b + 0.160 }')"
expect_eq "latency: s2 is out of scope (no s2 copy affected)" \
    "$(val l1 "doppel_chaos_affected_requests_total{experiment=\"lat\",id=\"$EXP\",fault=\"0\",kind=\"latency\",service=\"api\",pool=\"s2\"}")" "0"
primary_ok latency 50
expect_eq "latency: affected requests counted" \
    "$(val l1 "doppel_chaos_affected_requests_total{experiment=\"lat\",id=\"$EXP\",fault=\"0\",kind=\"latency\",service=\"api\",pool=\"s1\"}")" "50"
stop_exp "$EXP"

echo "# t=${SECONDS}s"
# ---- abort with a status, on one route -------------------------------------------------

start_exp abort '{"name":"ab","faults":[{"kind":"abort","status":503,"scope":{"pool":"s1","route":"/ab"}}]}'
snap a0; load 30 /ab; settle a0 s1 30; load 20 /x; settle a0 s1 50; snap a1
expect_eq "abort: every /ab copy to s1 is recorded as 503" "$(delta a0 a1 "$(cls s1 5xx)")" "30"
expect_eq "abort: copies outside the route are not" "$(delta a0 a1 "$(cls s1 2xx)")" "20"
expect_eq "abort: s2 is not touched" "$(delta a0 a1 "$(cls s2 5xx)")" "0"
primary_ok abort 20
stop_exp "$EXP"

echo "# t=${SECONDS}s"
# ---- probability: abort 30 % of 400 copies ---------------------------------------------

start_exp probability '{"name":"p30","faults":[{"kind":"abort","status":500,"probability":0.3,"scope":{"pool":"s1"}}]}'
snap p0; load 400 /x; settle p0 s1 400; snap p1
n="$(delta p0 p1 "$(cls s1 5xx)")"
# /usr/bin/python3 -c 'from scipy.stats import binom; print(binom.ppf(1e-6, 400, 0.3), binom.isf(1e-6, 400, 0.3))'
# printed 78.0 165.0
check "probability: $n of 400 copies aborted, within binomial bounds [78, 165]" in_range "$n" 78 165
primary_ok probability 400
stop_exp "$EXP"

echo "# t=${SECONDS}s"
# ---- reset -----------------------------------------------------------------------------

start_exp reset '{"name":"rst","faults":[{"kind":"reset","direction":"response","scope":{"pool":"s1"}}]}'
snap r0; load 50 /x; settle r0 s1 50; snap r1
n="$(delta r0 r1 "$(drop s1 reset)")"; e="$(delta r0 r1 "$(drop s1 connect_failed)")"
expect_eq "reset: every copy ends as a reset ($e dropped while ejected)" "$n" "50"
expect_eq "reset: no s1 copy completed" "$(delta r0 r1 "$(dur s1 count)")" "0"
primary_ok reset 50
stop_exp "$EXP"

echo "# t=${SECONDS}s"
# ---- hang: the shadow's 500 ms timeout ends each copy ----------------------------------

start_exp hang '{"name":"hang","faults":[{"kind":"hang","scope":{"pool":"s1"}}]}'
snap h0; load 20 /x; settle h0 s1 20; snap h1
expect_eq "hang: every copy times out" "$(delta h0 h1 "$(drop s1 timeout)")" "20"
primary_ok hang 20
stop_exp "$EXP"

echo "# t=${SECONDS}s"
# ---- bandwidth: 20000-byte answers at 100 kB/s take 200 ms -----------------------------

start_exp bandwidth '{"name":"bw","faults":[{"kind":"bandwidth","rate":100000,"direction":"response","scope":{"pool":"s2"}}]}'
snap w0; load 20 /x; settle w0 s2 20; snap w1
m2="$(mean_s w0 w1 s2)"
check "bandwidth: s2 copies take bytes/rate (mean $m2 s, 0.2 s expected, base $BASE_S2 s)" \
    in_range "$m2" 0.190 "$(awk -v b="$BASE_S2" 'BEGIN { print b + 0.300 }')"
primary_ok bandwidth 20
stop_exp "$EXP"

echo "# t=${SECONDS}s"
# ---- slicer on the request: 64-byte slices 10 ms apart ---------------------------------

start_exp slicer '{"name":"sl","faults":[{"kind":"slicer","slice_size":64,"slice_delay":"10ms","direction":"request","scope":{"pool":"s1"}}]}'
snap s0; load 20 /x; settle s0 s1 20; snap s1
m1="$(mean_s s0 s1 s1)"
# The copy's head is 200..300 bytes: 4 or 5 slices, 3 or 4 pauses of 10 ms. libuv times a
# timer from the loop's cached clock, so one pause may end a little early: 25 ms at least.
check "slicer: s1 copies arrive in slices (mean $m1 s)" in_range "$m1" 0.025 "$(awk -v b="$BASE_S1" 'BEGIN { print b + 0.080 }')"
primary_ok slicer 20
stop_exp "$EXP"

echo "# t=${SECONDS}s"
# ---- slow close: connections are held, then closed, never reused -----------------------

# The shadow backend's connection count: SIGUSR1 makes it print a new stats line.
conns() {
    local n i
    n="$(grep -c '^stats' "$S_LOG")"
    kill -USR1 "$S_PID"
    for ((i = 0; i < 200; i++)); do
        [ "$(grep -c '^stats' "$S_LOG")" -gt "$n" ] && break
        sleep 0.05
    done
    [ "$i" -lt 200 ] || echo "# the shadow backend printed no stats after SIGUSR1" >&2
    awk '/^stats/ { sub("conns=", "", $3); c = $3 } END { print c + 0 }' "$S_LOG"
}
c0="$(conns)"; snap c0; load 20 /x; settle c0 s1 20; c1="$(conns)"
echo "# slow close: $((c1 - c0)) new shadow connections for 20 copies without the fault"
start_exp slow_close '{"name":"sc","faults":[{"kind":"slow_close","delay":"300ms","scope":{"pool":"s1"}}]}'
# Earlier phases left idle connections (as many as copies were in flight at once): the
# first rounds use them up, each closed after its copy. Then every copy needs a new one.
for round in 1 2 3 4 5 6; do
    c2="$(conns)"; snap c2; load 20 /x; settle c2 s1 20; sleep 0.4; c3="$(conns)"
    [ $((c3 - c2)) -ge 18 ] && break
done
check "slow close: copies are not reused ($((c3 - c2)) new connections for 20 in round $round, $((c1 - c0)) without)" \
    test $((c3 - c2)) -ge 18 -a $((c1 - c0)) -le 15
primary_ok slow_close 20
stop_exp "$EXP"

echo "# t=${SECONDS}s"
# ---- kill switch -----------------------------------------------------------------------

start_exp "kill switch" '{"name":"k1","faults":[{"kind":"latency","latency":"100ms","scope":{"pool":"s1"}}]}'
K1="$EXP"
start_exp "kill switch" '{"name":"k2","duration":"1h","faults":[{"kind":"abort","status":502,"scope":{"pool":"s2"}},{"kind":"hang","scope":{"pool":"s1"},"probability":0.5}]}'
K2="$EXP"
expect_eq "kill switch: DELETE /v1/experiments stops both" \
    "$(curl -s -m 5 -X DELETE -H "$AUTH" "http://127.0.0.1:$A/v1/experiments")" '{"stopped":2}'
snap k0; load 50 /x; settle k0 s1 50; settle k0 s2 50; snap k1
m1="$(mean_s k0 k1 s1)"
check "kill switch: s1 latency back to normal (mean $m1 s, base $BASE_S1 s)" \
    in_range "$m1" 0 "$(awk -v b="$BASE_S1" 'BEGIN { print b + 0.050 }')"
expect_eq "kill switch: s1 copies all complete" "$(delta k0 k1 "$(dur s1 count)")" "50"
expect_eq "kill switch: no s2 copy aborted" "$(delta k0 k1 "$(cls s2 5xx)")" "0"
expect_eq "kill switch: no experiment active" "$(val k1 doppel_chaos_experiments_active)" "0"
expect_eq "kill switch: counted" "$(val k1 doppel_chaos_kill_switch_total)" "1"
primary_ok "kill switch" 50
curl -s -m 5 -o "$E2E_TMP/k2.json" "http://127.0.0.1:$A/v1/experiments/$K2"
check "kill switch: GET /v1/experiments/$K2 reports it ended by the kill switch, with events" \
    $PY -c "import json, sys
j = json.load(open(sys.argv[1]))
assert j['state'] == 'ended' and j['end_reason'] == 'kill switch', j
ev = [e['event'] for e in j['events']]
assert ev[0] == 'created' and ev[-1] == 'stopped' and ev.count('fault_on') == 2 and ev.count('fault_off') == 2, ev" \
    "$E2E_TMP/k2.json"
check "kill switch: fault events in /metrics" grep -q \
    "doppel_chaos_fault_events_total{experiment=\"k1\",id=\"$K1\",fault=\"0\",kind=\"latency\",event=\"stopped\"} 1" "$E2E_TMP/m.k1"
if command -v promtool >/dev/null; then
    check "/metrics with chaos counters passes promtool check metrics" \
        bash -c "promtool check metrics <'$E2E_TMP/m.k1'"
fi

echo "# t=${SECONDS}s"
# ---- hostile input ---------------------------------------------------------------------

bad() {   # LABEL WANT_STATUS WANT_CODE JSON
    post "$4"
    expect_eq "api: $1 -> $2" "$CODE" "$2"
    check "api: $1 has an error envelope '$3' with a message" \
        grep -qE "^\{\"error\":\{\"code\":\"$3\",\"message\":\"[^\"]+" "$E2E_TMP/body"
}
bad "not JSON" 400 invalid_argument '{"name": '
bad "not an object" 400 invalid_argument '[1,2,3]'
bad "no name" 400 invalid_argument '{"faults":[{"kind":"hang"}]}'
bad "no faults" 400 invalid_argument '{"name":"x","faults":[]}'
bad "unknown field" 400 invalid_argument '{"name":"x","faults":[{"kind":"hang"}],"extra":1}'
bad "unknown kind" 400 invalid_argument '{"name":"x","faults":[{"kind":"explode"}]}'
bad "probability 7" 400 invalid_argument '{"name":"x","faults":[{"kind":"hang","probability":7}]}'
bad "probability a string" 400 invalid_argument '{"name":"x","faults":[{"kind":"hang","probability":"1"}]}'
bad "latency not a duration" 400 invalid_argument '{"name":"x","faults":[{"kind":"latency","latency":12}]}'
bad "status 999" 400 invalid_argument '{"name":"x","faults":[{"kind":"abort","status":999}]}'
bad "name with a quote" 400 invalid_argument '{"name":"a\"b","faults":[{"kind":"hang"}]}'
bad "scope not an object" 400 invalid_argument '{"name":"x","faults":[{"kind":"hang","scope":"s1"}]}'
bad "deep nesting" 400 invalid_argument "{\"name\":\"x\",\"faults\":[{\"kind\":\"hang\",\"scope\":$(printf '[%.0s' $(seq 500))$(printf ']%.0s' $(seq 500))}]}"
bad "33 faults" 400 invalid_argument "{\"name\":\"x\",\"faults\":[$(printf '{"kind":"hang"},%.0s' $(seq 32)){\"kind\":\"hang\"}]}"
bad "a fault on the primary" 403 failed_precondition '{"name":"x","faults":[{"kind":"hang","scope":{"pool":"primary"}}]}'
bad "a latency fault on the primary without allow_primary_faults" 403 failed_precondition '{"name":"x","faults":[{"kind":"latency","latency":"10ms","scope":{"pool":"primary"}}]}'
bad "an instance fault without a provisioner" 403 failed_precondition '{"name":"x","faults":[{"kind":"kill"}]}'
expect_eq "api: POST without a token -> 401" "$(curl -s -m 5 -o /dev/null -w '%{http_code}' \
    --data '{}' "http://127.0.0.1:$A/v1/experiments")" "401"
expect_eq "api: DELETE with a wrong token -> 403" "$(curl -s -m 5 -o /dev/null -w '%{http_code}' \
    -X DELETE -H 'Authorization: Bearer nope' "http://127.0.0.1:$A/v1/experiments")" "403"
expect_eq "api: GET an unknown experiment -> 404" "$(curl -s -m 5 -o /dev/null -w '%{http_code}' \
    "http://127.0.0.1:$A/v1/experiments/e999")" "404"
expect_eq "api: PUT -> 405" "$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X PUT -H "$AUTH" \
    "http://127.0.0.1:$A/v1/experiments")" "405"
check "api: GET /v1 lists the experiment endpoints" bash -c \
    "curl -s -m 5 http://127.0.0.1:$A/v1 | grep -q '\"path\":\"/v1/experiments/{id}\"'"
expect_eq "api: nothing started by the bad requests" \
    "$(curl -s -m 5 "http://127.0.0.1:$A/v1/experiments" | $PY -c 'import json,sys; print(sum(e["state"] != "ended" for e in json.load(sys.stdin)["experiments"]))')" "0"

stop_pid "$DOPPEL_PID"
expect_eq "doppel exits 0 on SIGTERM" "$?" "0"
