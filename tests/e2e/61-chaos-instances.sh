#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 61-chaos-instances: instance faults from `doppel serve` through the provisioner, on a
# shadow pool with `run:` (a managed demo app): a kill fault makes the provisioner restart
# the instance (new pid, restarts + 1) while the primary keeps answering 200; a pause fault
# stops the instance (/proc state T) until the kill switch resumes it; a cpu_burn fault
# burns CPU in the instance's cgroup (or process group) while on and none after. Then, as
# the config sets chaos.allow_primary_faults, faults on the primary path: a latency fault
# adds its latency to the client's response time, an abort answers the client with its
# status (as often as its probability says, within binomial bounds), a reset closes the
# client's connection, and kinds that do not fit the primary path are refused by name.
# (Without the flag the API refuses primary faults: 60-chaos.sh.)
. tests/lib/e2e.sh

if ! have_doppel_serve; then
    skip "chaos instances" "this build has no doppel serve"
    exit 0
fi
DEMO="$(cd "$E2E_BUILD" && pwd)/demo-app"
TOKEN='e2e-chaos-inst-token-7d1'
AUTH="Authorization: Bearer $TOKEN"
printf '%s' "$TOKEN" | sha256sum | awk '{ print $1 }' >"$E2E_TMP/tokens"
instances() { curl -s -m 5 "http://127.0.0.1:$A/v1/instances"; }
shadow() { instances | jq -r ".instances[] | select(.labels.pool == \"v2\") | .$1"; }
post() {   # JSON -> sets CODE, EXP; body in $E2E_TMP/body
    CODE="$(curl -s -m 5 -o "$E2E_TMP/body" -w '%{http_code}' -H "$AUTH" \
        -H 'Content-Type: application/json' --data-binary "$1" "http://127.0.0.1:$A/v1/experiments")"
    EXP="$(jq -r '.id // empty' "$E2E_TMP/body" 2>/dev/null)"
}
kill_switch() { curl -s -m 5 -o /dev/null -X DELETE -H "$AUTH" "http://127.0.0.1:$A/v1/experiments"; }
pstate() { awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null; }
await_shadow_ready() {
    local i
    for ((i = 0; i < 100; i++)); do
        [ "$(shadow state)" = ready ] && return 0
        sleep 0.1
    done
    return 1
}
# CPU ticks used by the processes of the instance's cgroup directories and its process
# group (the helper of a cpu_burn fault joins the one or the other).
cpu_ticks() {   # PID CGROUPS
    local pids pg
    pg="$(awk '{ print $5 }' "/proc/$1/stat" 2>/dev/null)"
    pids="$(
        tr ':' '\n' <<<"$2" | while read -r d; do [ -n "$d" ] && cat "$d/cgroup.procs" 2>/dev/null; done
        [ -n "$pg" ] && ps -e -o pid=,pgid= | awk -v g="$pg" '$2 == g { print $1 }'
    )"
    sort -u <<<"$pids" | while read -r p; do
        [ -n "$p" ] && awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null
    done | awk '{ n += $1 } END { print n + 0 }'
}

spawn_backend P --name prim --echo
await_port P || { not_ok "backend starts"; exit 1; }
L="$(free_port)"; A="$(free_port)"
write_config() {   # FILE ALLOW_PRIMARY
    cat >"$1" <<YAML
workers: 2
admin: { listen: 127.0.0.1:$A, tokens_file: $E2E_TMP/tokens }
limits: { drain_timeout: 1s }
provision: { state_dir: $E2E_TMP/state, sample_interval: 200ms }
chaos: { allow_primary_faults: $2 }
services:
  - name: api
    listen: 127.0.0.1:$L
    primary: { upstreams: [127.0.0.1:$P] }
    shadows:
      - name: v2
        timeout: 1s
        run:
          command: $DEMO
          args: [--port, "{port}", --version, v2]
          ready: { path: / }
          restart: { backoff: 50ms }
    mirror: { percent: 100 }
YAML
}
C="$E2E_TMP/doppel.yaml"
write_config "$C" true
start_doppel "$C" "http://127.0.0.1:$A/readyz" || { not_ok "doppel starts a managed shadow"; exit 1; }
await_shadow_ready || { not_ok "the managed shadow becomes ready"; exit 1; }
ok "doppel starts a managed shadow"

# ---- kill --------------------------------------------------------------------------------

pid0="$(shadow pid)"; r0="$(shadow restarts)"
post '{"name":"k","faults":[{"kind":"kill","scope":{"pool":"v2"}}]}'
expect_eq "kill: POST /v1/experiments is 201" "$CODE" "201"
codes="$(curl -s -m 10 -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$L/x?i=[1-20]" | sort | uniq -c | awk '{ print $2 ":" $1 }' | tr '\n' ' ')"
expect_eq "kill: the primary answers 200 meanwhile" "$codes" "200:20 "
for ((i = 0; i < 100; i++)); do
    [ "$(shadow restarts)" = $((r0 + 1)) ] && [ "$(shadow state)" = ready ] && break
    sleep 0.1
done
pid1="$(shadow pid)"
expect_eq "kill: the provisioner restarted the instance (restarts $r0 -> $r0 + 1)" "$(shadow restarts)" "$((r0 + 1))"
check "kill: the instance has a new pid ($pid0 -> $pid1)" test "$pid1" != "$pid0" -a "$pid1" -gt 0
check "kill: the old process is gone" bash -c "! kill -0 $pid0 2>/dev/null"
kill_switch

# ---- pause -------------------------------------------------------------------------------

await_shadow_ready
pid="$(shadow pid)"
post '{"name":"p","faults":[{"kind":"pause","scope":{"pool":"v2"}}]}'
expect_eq "pause: POST /v1/experiments is 201" "$CODE" "201"
for ((i = 0; i < 30; i++)); do [ "$(pstate "$pid")" = T ] && break; sleep 0.1; done
expect_eq "pause: the instance is stopped (/proc state T)" "$(pstate "$pid")" "T"
kill_switch
for ((i = 0; i < 30; i++)); do [ "$(pstate "$pid")" != T ] && break; sleep 0.1; done
check "pause: after the kill switch it runs again (state $(pstate "$pid"))" test "$(pstate "$pid")" = S -o "$(pstate "$pid")" = R
expect_eq "pause: the same process (no restart)" "$(shadow pid)" "$pid"

# ---- cpu_burn ----------------------------------------------------------------------------

pid="$(shadow pid)"; cg="$(shadow cgroup)"
echo "# cpu_burn: instance $pid, cgroup '${cg:-none: process group}'"
t0="$(cpu_ticks "$pid" "$cg")"; sleep 1; t1="$(cpu_ticks "$pid" "$cg")"
post '{"name":"b","faults":[{"kind":"cpu_burn","scope":{"pool":"v2"}}]}'
expect_eq "cpu_burn: POST /v1/experiments is 201" "$CODE" "201"
sleep 0.3
t2="$(cpu_ticks "$pid" "$cg")"; sleep 1; t3="$(cpu_ticks "$pid" "$cg")"
kill_switch
sleep 0.3
t4="$(cpu_ticks "$pid" "$cg")"; sleep 1; t5="$(cpu_ticks "$pid" "$cg")"
hz="$(getconf CLK_TCK)"
# One CPU burnt for 1 s is $hz ticks; on a shared 2-core machine at least a fifth of it.
check "cpu_burn: the instance's group used CPU while on ($((t3 - t2)) ticks in 1 s, idle $((t1 - t0)))" \
    test $((t3 - t2)) -ge $((hz / 5))
check "cpu_burn: none after the kill switch ($((t5 - t4)) ticks in 1 s)" test $((t5 - t4)) -le $((hz / 20))

# ---- faults on the primary path (allow_primary_faults: true) ----------------------------

# Sends N GETs one after the other; the codes go to $E2E_TMP/codes, the median total time
# (ms) to P50.
load() {   # N
    curl -s -m 30 -o /dev/null -w '%{http_code} %{time_total}\n' "http://127.0.0.1:$L/x?i=[1-$1]" \
        >"$E2E_TMP/codes" 2>/dev/null
    P50="$(sort -k2 -n "$E2E_TMP/codes" | awk '{ t[NR] = $2 } END { printf "%.1f\n", t[int((NR + 1) / 2)] * 1000 }')"
}
count() { awk -v c="$1" '$1 == c' "$E2E_TMP/codes" | wc -l; }
in_range() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'; }
affected() {   # EXPERIMENT ID KIND
    curl -s -m 5 "http://127.0.0.1:$A/metrics" | awk -v k="doppel_chaos_affected_requests_total{experiment=\"$1\",id=\"$2\",fault=\"0\",kind=\"$3\",service=\"api\",pool=\"primary\"}" \
        '$1 == k { v = $2 } END { print v + 0 }'
}

load 30; base="$P50"
expect_eq "primary baseline: 30 answers 200" "$(count 200)" "30"
post '{"name":"plat","faults":[{"kind":"latency","latency":"200ms","scope":{"pool":"primary"}}]}'
expect_eq "primary latency: POST is 201" "$CODE" "201"
load 20
# The delay is a timer of at least 200 ms; on a shared machine up to 100 ms more.
check "primary latency: median $P50 ms = 200 ms + baseline $base ms (tolerance -5/+100 ms)" \
    in_range "$P50" "$(awk -v b="$base" 'BEGIN { print b + 195 }')" "$(awk -v b="$base" 'BEGIN { print b + 300 }')"
expect_eq "primary latency: every answer is still 200" "$(count 200)" "20"
expect_eq "primary latency: 20 requests counted as affected" "$(affected plat "$EXP" latency)" "20"
# A request body read while the request is held back reaches the primary whole, with a
# length and chunked (the primary echoes the request as it received it).
head -c 300000 /dev/urandom | base64 -w 0 >"$E2E_TMP/big"
curl -s -m 10 --data-binary @"$E2E_TMP/big" "http://127.0.0.1:$L/x" >"$E2E_TMP/echo1"
expect_eq "primary latency: a 400 KB body with a length arrives whole" \
    "$(tail -c "$(stat -c %s "$E2E_TMP/big")" "$E2E_TMP/echo1" | cmp -s - "$E2E_TMP/big" && echo same)" "same"
curl -s -m 10 -H 'Transfer-Encoding: chunked' --data-binary @"$E2E_TMP/big" "http://127.0.0.1:$L/x" >"$E2E_TMP/echo2"
dechunk() {   # the body of a chunked request as echoed
    /usr/bin/python3 -c '
import sys
raw = open(sys.argv[1], "rb").read()
rest, out = raw.split(b"\r\n\r\n", 1)[1], b""
while True:
    size, rest = rest.split(b"\r\n", 1)
    n = int(size, 16)
    if n == 0:
        break
    out, rest = out + rest[:n], rest[n + 2:]
sys.stdout.buffer.write(out)' "$1"
}
expect_eq "primary latency: a 400 KB chunked body arrives whole" \
    "$(dechunk "$E2E_TMP/echo2" | cmp -s - "$E2E_TMP/big" && echo same)" "same"
kill_switch
load 20
check "primary latency: gone after the kill switch (median $P50 ms, baseline $base ms)" \
    in_range "$P50" 0 "$(awk -v b="$base" 'BEGIN { print 3 * b + 50 }')"

post '{"name":"pab","faults":[{"kind":"abort","status":418,"scope":{"pool":"primary","route":"/x"}}]}'
expect_eq "primary abort: POST is 201" "$CODE" "201"
load 10
expect_eq "primary abort: the client gets the fault's status" "$(count 418)" "10"
body="$(curl -s -m 5 "http://127.0.0.1:$L/x")"
check "primary abort: a short body says it was a fault ($body)" grep -q 'fault injected' <<<"$body"
expect_eq "primary abort: other routes are not touched" \
    "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$L/y")" "200"
kill_switch

post '{"name":"pprob","faults":[{"kind":"abort","status":503,"probability":0.3,"scope":{"pool":"primary"}}]}'
expect_eq "primary probability: POST is 201" "$CODE" "201"
load 400
n="$(count 503)"
# /usr/bin/python3 -c 'from scipy.stats import binom; print(binom.ppf(1e-6, 400, 0.3), binom.isf(1e-6, 400, 0.3))'
# printed 78.0 165.0
check "primary probability: $n of 400 answers aborted, within binomial bounds [78, 165]" in_range "$n" 78 165
expect_eq "primary probability: the rest are 200" "$(count 200)" "$((400 - n))"
kill_switch

post '{"name":"prst","faults":[{"kind":"reset","scope":{"pool":"primary"}}]}'
expect_eq "primary reset: POST is 201" "$CODE" "201"
load 5
expect_eq "primary reset: the client's connection is closed without an answer" "$(count 000)" "5"
kill_switch
load 5
expect_eq "primary reset: answers again after the kill switch" "$(count 200)" "5"

post '{"name":"phang","faults":[{"kind":"hang","scope":{"pool":"primary"}}]}'
expect_eq "primary hang: refused (403 failed_precondition)" "$CODE $(jq -r .error.code "$E2E_TMP/body")" "403 failed_precondition"
check "primary hang: the message names the kind" grep -q "'hang'" "$E2E_TMP/body"
