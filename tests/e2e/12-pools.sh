#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 12-pools: the primary pool end to end. Weighted round robin between two primaries,
# passive health (a dead primary is ejected after fail_threshold connect failures; retries
# hide those failures from GET clients, never from POST clients), the active health check
# (a primary whose check path answers 500 gets no traffic), and keep-alive reuse of upstream
# connections. One doppel (two workers) fronts one service per case; every backend records
# what it received, so the counts are read on the server side.
. tests/lib/e2e.sh

if ! have_doppel_serve; then
    skip "pool tests" "this build has no doppel serve"
    exit 0
fi

# A metric's value from the admin listener: metric NAME LABELS (a substring of the labels).
metric() {
    curl -s -m 5 "http://127.0.0.1:$A/metrics" | grep -F "$1{" | grep -F "$2" | awk '{print $2}' | head -1
}

# Requests in the backend record FILE whose url starts with PREFIX.
count_url() { grep -c "\"url\":\"$2" "$1"; }

# urls PORT PREFIX N: "http://127.0.0.1:PORT/PREFIX[1-N]" for curl's URL globbing.
urls() { echo "http://127.0.0.1:$1/$2[1-$3]"; }

REC="$E2E_TMP/rec"
mkdir -p "$REC"
start_backend W1 --name w1 --record "$REC/w1" &&
    start_backend W3 --name w3 --record "$REC/w3" &&
    start_backend LIVE --name live --record "$REC/live" &&
    start_backend LIVE2 --name live2 --record "$REC/live2" &&
    start_backend SICK --name sick --status 500 --record "$REC/sick" &&
    start_backend HEALTHY --name healthy --record "$REC/healthy" &&
    start_backend KA --name ka --record "$REC/ka" ||
    { not_ok "backends start"; exit 1; }
# A port free_port found may be taken by another program before doppel binds it: then
# the start is tried again with new ports (at most 3 times).
for try in 1 2 3; do
    A="$(free_port)" WRR_L="$(free_port)" PASSIVE_L="$(free_port)" NOPOST_L="$(free_port)"
    ACTIVE_L="$(free_port)" KA_L="$(free_port)" DEAD1="$(free_port)" DEAD2="$(free_port)"
    cat >"$E2E_TMP/pools.yaml" <<EOF
workers: 2
admin: { listen: 127.0.0.1:$A }
log: { level: warn }
services:
  - name: wrr
    listen: 127.0.0.1:$WRR_L
    primary:
      upstreams:
        - { address: 127.0.0.1:$W1, weight: 1 }
        - { address: 127.0.0.1:$W3, weight: 3 }
  - name: passive
    listen: 127.0.0.1:$PASSIVE_L
    primary:
      upstreams: [127.0.0.1:$DEAD1, 127.0.0.1:$LIVE]
      retries: 1
      health: { fail_threshold: 2, eject_time: 5s }
  - name: nopost
    listen: 127.0.0.1:$NOPOST_L
    primary:
      upstreams: [127.0.0.1:$DEAD2, 127.0.0.1:$LIVE2]
      retries: 1
      health: { fail_threshold: 1000, eject_time: 5s }
  - name: active
    listen: 127.0.0.1:$ACTIVE_L
    primary:
      upstreams: [127.0.0.1:$SICK, 127.0.0.1:$HEALTHY]
      health: { check: { path: /healthz, interval: 200ms, timeout: 1s } }
  - name: ka
    listen: 127.0.0.1:$KA_L
    primary: { upstreams: [127.0.0.1:$KA] }
EOF
    start_doppel "$E2E_TMP/pools.yaml" "http://127.0.0.1:$A/healthz" && break
    [ "$try" = 3 ] && { not_ok "doppel starts"; exit 1; }
done

# ---- weighted round robin -----------------------------------------------------------------

wrr() {
    local out n1 n3
    # 400 requests, each on its own connection (Connection: close), so both workers serve.
    out="$(curl -s -m 30 -H 'Connection: close' -w '%{http_code}\n' -o /dev/null "$(urls "$WRR_L" w/ 400)" |
        sort | uniq -c | awk '{print $2 "x" $1}')"
    expect_eq "wrr: all 400 requests answered" "$out" "200x400"
    n1="$(count_url "$REC/w1" /w/)" n3="$(count_url "$REC/w3" /w/)"
    expect_eq "wrr: the two primaries served all 400" "$((n1 + n3))" "400"
    # With weights 1 and 3, the weight-1 primary's count must lie where a Binomial(400, 1/4)
    # lies with probability 99.9 %:
    #   /usr/bin/python3 -c 'from scipy.stats import binom; print(binom.ppf(0.0005, 400, 0.25), binom.ppf(0.9995, 400, 0.25))'
    #   -> 72.0 129.0
    # Smooth WRR is in fact exact per worker (1 in every 4 picks), so a count outside these
    # bounds means the weights are not applied, whatever the spread over workers.
    check "wrr: weight 1 of 4 gets 72..129 of 400 (got $n1; weight 3 got $n3)" test "$n1" -ge 72 -a "$n1" -le 129
}

# ---- passive health and retries -----------------------------------------------------------

passive() {
    local out n200 n502 t0 refused
    out="$(curl -s -m 30 -H 'Connection: close' -w '%{http_code}\n' -o /dev/null "$(urls "$PASSIVE_L" p/ 20)" |
        sort | uniq -c | awk '{print $2 "x" $1}')"
    expect_eq "passive: every GET succeeds although one primary is dead (retries: 1)" "$out" "200x20"
    expect_eq "passive: the live primary served all 20" "$(count_url "$REC/live" /p/)" "20"
    refused="$(metric doppel_upstream_errors_total 'service="passive",pool="primary",route="default",kind="refused"')"
    # Each worker ejects the dead one after fail_threshold (2) failed attempts, every one of
    # them retried on the live primary and counted through the retry hook: 1..4 in all.
    check "passive: retried connect failures are counted as upstream errors (1..4: ${refused:-0})" \
        test "${refused:-0}" -ge 1 -a "${refused:-0}" -le 4
    t0=$SECONDS
    # Retries hide the dead primary from GETs, not from POSTs (see no_post_retry, where half
    # the POSTs fail): so POSTs that all succeed show the dead one is no longer picked. Each
    # worker ejects it after 2 failures, which its first 3 GETs are enough for (smooth round
    # robin alternates); the ejection lasts eject_time (5 s), much longer than these POSTs.
    out="$(curl -s -m 30 -H 'Connection: close' -d 'post' -w '%{http_code}\n' -o /dev/null "$(urls "$PASSIVE_L" ep/ 10)" |
        sort | uniq -c | awk '{print $2 "x" $1}')"
    expect_eq "passive: after the first failures the dead primary is ejected (every POST succeeds)" "$out" "200x10"
    expect_eq "passive: the live primary served those POSTs" "$(count_url "$REC/live" /ep/)" "10"
    # After eject_time the dead primary is tried again: some POSTs fail (each worker
    # alternates between the two hosts until 2 new failures eject it again).
    [ $((SECONDS - t0)) -lt 6 ] && sleep $((6 - (SECONDS - t0)))
    curl -s -m 30 -H 'Connection: close' -d 'post' -w '%{http_code}\n' -o /dev/null \
        "$(urls "$PASSIVE_L" rp/ 10)" >"$E2E_TMP/readmit.codes"
    n200="$(grep -c '^200$' "$E2E_TMP/readmit.codes")" n502="$(grep -c '^502$' "$E2E_TMP/readmit.codes")"
    check "passive: after eject_time the dead primary is tried again ($n502 POSTs of 10 got 502)" \
        test "$n502" -ge 1 -a "$((n200 + n502))" -eq 10
}

no_post_retry() {
    local out n200 n502 nlive
    # fail_threshold 1000: the dead primary is never ejected, so round robin keeps picking
    # it (it is listed first, so each worker's first pick is the dead one).
    out="$(curl -s -m 30 -H 'Connection: close' -w '%{http_code}\n' -o /dev/null "$(urls "$NOPOST_L" g/ 20)" |
        sort | uniq -c | awk '{print $2 "x" $1}')"
    expect_eq "retries: GETs that meet the dead primary are retried on the live one" "$out" "200x20"
    curl -s -m 30 -H 'Connection: close' -d 'not idempotent' -w '%{http_code}\n' -o /dev/null \
        "$(urls "$NOPOST_L" post/ 20)" >"$E2E_TMP/post.codes"
    n200="$(grep -c '^200$' "$E2E_TMP/post.codes")" n502="$(grep -c '^502$' "$E2E_TMP/post.codes")"
    expect_eq "retries: each POST is answered 200 or 502" "$((n200 + n502))" "20"
    check "retries: POSTs that meet the dead primary get 502, not a retry ($n502 of 20)" test "$n502" -ge 1
    check "retries: the other POSTs reach the live primary ($n200 of 20)" test "$n200" -ge 1
    nlive="$(count_url "$REC/live2" /post/)"
    expect_eq "retries: the live primary saw exactly the POSTs answered 200" "$nlive" "$n200"
    # Each worker alternates between the hosts, so one of a few POSTs meets the dead one.
    local i
    for i in $(seq 10); do
        out="$(curl -s -m 5 -H 'Connection: close' -d x "http://127.0.0.1:$NOPOST_L/post-body/$i")"
        [[ "$out" == doppel:* ]] && break
    done
    check "retries: the POST's 502 names the cause ($out)" grep -q '^doppel: primary refused' <<<"$out"
}

# ---- active health check ------------------------------------------------------------------

active() {
    local i checks out
    # Wait until the sick primary has been checked twice (interval 200 ms).
    for i in $(seq 50); do
        checks="$(count_url "$REC/sick" /healthz)"
        [ "$checks" -ge 2 ] && break
        sleep 0.1
    done
    check "active: the check path is requested ($checks checks)" test "$checks" -ge 2
    check "active: the check is a GET of the configured path" grep -q '"method":"GET","url":"/healthz"' "$REC/sick"
    out="$(curl -s -m 30 -H 'Connection: close' -w '%{http_code}\n' -o /dev/null "$(urls "$ACTIVE_L" a/ 40)" |
        sort | uniq -c | awk '{print $2 "x" $1}')"
    expect_eq "active: every request succeeds (none reaches the 500 primary)" "$out" "200x40"
    expect_eq "active: the primary failing its check gets no traffic" "$(count_url "$REC/sick" /a/)" "0"
    expect_eq "active: the healthy primary gets it all" "$(count_url "$REC/healthy" /a/)" "40"
}

# ---- keep-alive to the upstream -----------------------------------------------------------

keepalive() {
    local out peers
    out="$(curl -s -m 30 -w '%{num_connects}\n' -o /dev/null "$(urls "$KA_L" k/ 100)" | sort | uniq -c | awk '{print $2 "x" $1}' | tr '\n' ' ')"
    expect_eq "keep-alive: one client connection for 100 requests" "$out" "0x99 1x1 "
    expect_eq "keep-alive: the backend saw the 100 requests" "$(count_url "$REC/ka" /k/)" "100"
    peers="$(grep '"url":"/k/' "$REC/ka" | grep -o '"peer":"[^"]*"' | sort -u | wc -l)"
    expect_eq "keep-alive: 100 requests from one client used one upstream connection" "$peers" "1"
    # 30 client connections, one request each: sequential requests reuse the idle upstream
    # connection of their worker, so at most one per worker (2) plus the one above.
    curl -s -m 30 -H 'Connection: close' -o /dev/null "$(urls "$KA_L" n/ 30)"
    peers="$(grep '"url":"/[kn]/' "$REC/ka" | grep -o '"peer":"[^"]*"' | sort -u | wc -l)"
    check "keep-alive: 30 client connections reuse upstream connections ($peers in all)" test "$peers" -le 3
}

wrr
passive
no_post_retry
active
keepalive
stop_pid "$DOPPEL_PID"
expect_eq "doppel exits 0 on SIGTERM" "$?" "0"
