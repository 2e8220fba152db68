#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 00-tools: the programs the other end-to-end tests stand on, tested first on their own:
# the test backend (build/tests/backend) and the demo service (build/demo-app), each from
# the plain and the sanitizer build. Plain curl and raw bytes over /dev/tcp, loopback only.
. tests/lib/e2e.sh

# Headers of a curl response, with CRs removed.
heads() { tr -d '\r' <"$1"; }

backend_basics() {   # label
    local L="$1" P out
    start_backend P --name alpha || { not_ok "$L backend starts"; return; }
    out="$(curl -s -D "$E2E_TMP/h" -m 5 "http://127.0.0.1:$P/hello?x=1")"
    expect_eq "$L backend answers with its name and the request line" "$out" "alpha GET /hello?x=1"
    check "$L backend sends X-Backend" grep -qx 'X-Backend: alpha' <(heads "$E2E_TMP/h")
    out="$(curl -s -o /dev/null -o /dev/null -m 5 -w "%{num_connects} " "http://127.0.0.1:$P/a" \
        "http://127.0.0.1:$P/b")"
    expect_eq "$L backend keeps the connection alive" "$out" "1 0 "
    # Pipelined: the first request is held 300 ms, the later ones must still come after it.
    out="$(raw_http "$P" $'GET /1 HTTP/1.1\r\nHost: t\r\nX-Delay-Ms: 300\r\n\r\nGET /2 HTTP/1.1\r\nHost: t\r\n\r\nGET /3 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' |
        grep -a '^alpha' | tr -d '\r' | tr '\n' ' ')"
    expect_eq "$L backend answers pipelined requests in order" "$out" "alpha GET /1 alpha GET /2 alpha GET /3 "
    out="$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H 'X-Status: 503' "http://127.0.0.1:$P/")"
    expect_eq "$L backend honours X-Status" "$out" "503"
    check "$L backend prints stats on SIGUSR1" backend_stats_match P 'requests=7 conns=4 '
    stop_pid "$P_PID"
    expect_eq "$L backend exits 0 on SIGTERM" "$?" "0"
}

backend_bodies() {   # label
    local L="$1" P out t sum
    start_backend P --record "$E2E_TMP/rec.$L.jsonl" || { not_ok "$L backend starts"; return; }
    out="$(curl -s -m 5 -H 'Transfer-Encoding: chunked' -H 'X-First: 1' -H 'X-Second: 2' \
        --data-binary 'chunked body' "http://127.0.0.1:$P/c")"
    expect_eq "$L backend reads a chunked request body" "$out" "backend POST /c"
    head -c 300000 /dev/urandom >"$E2E_TMP/big"
    sum="$(sha256sum "$E2E_TMP/big" | cut -d' ' -f1)"
    t="$(curl -s -m 5 -o /dev/null -v --expect100-timeout 5 -H 'Expect: 100-continue' \
        --data-binary @"$E2E_TMP/big" -w '%{time_total}' "http://127.0.0.1:$P/big" 2>"$E2E_TMP/v")"
    check "$L backend sends 100 Continue" grep -q '^< HTTP/1.1 100 Continue' "$E2E_TMP/v"
    check "$L backend sends 100 Continue without waiting" awk -v t="$t" 'BEGIN{exit !(t < 2)}'
    stop_pid "$P_PID"
    local rec="$E2E_TMP/rec.$L.jsonl"
    check "$L backend records a chunked body verbatim" grep -q \
        '"method":"POST","url":"/c".*\["X-First","1"\],\["X-Second","2"\].*"body_len":12,.*"body":"chunked body","peer":"127.0.0.1:[0-9]*"' "$rec"
    check "$L backend records the sha256 of a large body" grep -q \
        "\"url\":\"/big\".*\"body_len\":300000,\"body_sha256\":\"$sum\",\"peer\"" "$rec"
}

backend_echo_and_tunnel() {   # label
    local L="$1" P C req out
    spawn_backend P --echo
    spawn_backend C --chunked --body-size 10000
    await_port P && await_port C || { not_ok "$L backends start"; return; }
    req=$'POST /e?q=1 HTTP/1.1\r\nHost: t\r\nX-Mixed-Case: A b\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello'
    out="$(raw_http "$P" "$req")"
    expect_eq "$L backend --echo returns the request byte for byte" "${out#*$'\r\n\r\n'}" "$req"
    out="$( (printf 'GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\nraw-1'
        sleep 0.2; printf " raw-2"; sleep 0.2) |
        timeout 0.9 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"; exec 4<&0; cat <&4 >&3 & cat <&3' _ "$P" | tr -d '\r')"
    check "$L backend answers a WebSocket upgrade with 101" grep -q '^HTTP/1.1 101' <<<"$out"
    check "$L backend computes Sec-WebSocket-Accept" grep -qx 'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=' <<<"$out"
    expect_eq "$L backend echoes tunnel bytes" "$(tail -1 <<<"$out")" "raw-1 raw-2"
    out="$(curl -s -m 5 -D "$E2E_TMP/h" "http://127.0.0.1:$C/" | wc -c)"
    check "$L backend --chunked sends Transfer-Encoding: chunked" grep -qix 'transfer-encoding: chunked' <(heads "$E2E_TMP/h")
    expect_eq "$L backend --body-size sets the body length" "$out" "10000"
    stop_pids "$P_PID" "$C_PID"
}

backend_faults() {   # label
    local L="$1" R G H D out rc t
    spawn_backend R --reset
    spawn_backend G --garbage
    spawn_backend H --hang
    spawn_backend D --delay-ms 300 --close
    await_port R && await_port G && await_port H && await_port D || { not_ok "$L backends start"; return; }
    out="$(raw_http "$R" $'GET / HTTP/1.1\r\nHost: t\r\n\r\n' 2>/dev/null)"
    expect_eq "$L backend --reset sends nothing" "$(grep -c HTTP <<<"$out")" "0"
    check "$L backend --reset resets the connection" backend_stats_match R 'resets=1'
    out="$(raw_http "$G" $'GET / HTTP/1.1\r\nHost: t\r\n\r\n' | head -c 8 | od -An -c | tr -d ' ')"
    check "$L backend --garbage answers with non-HTTP bytes" test -n "$out" -a "${out#HTTP}" = "$out"
    curl -s -m 0.5 -o /dev/null "http://127.0.0.1:$H/"; rc=$?
    expect_eq "$L backend --hang never answers" "$rc" "28"
    check "$L backend --hang still reads the request" backend_stats_match H 'requests=1 '
    t="$(curl -s -m 5 -o /dev/null -o /dev/null -w "%{time_total} %{num_connects} " "http://127.0.0.1:$D/" "http://127.0.0.1:$D/")"
    check "$L backend --delay-ms delays the answer" awk -v t="$t" 'BEGIN{split(t,a," "); exit !(a[1] >= 0.3 && a[1] < 2)}'
    expect_eq "$L backend --close closes after each answer" "$(cut -d' ' -f2,4 <<<"$t")" "1 1"
    stop_pids "$R_PID" "$G_PID" "$H_PID" "$D_PID"
}

# backend_stats_match VAR PATTERN: SIGUSR1 to backend VAR; true once its stats line matches.
backend_stats_match() {
    local pid="${1}_PID" log="${1}_LOG" i
    kill -USR1 "${!pid}" || return 1
    for ((i = 0; i < 100; i++)); do
        grep -q "^stats .*$2" "${!log}" && return 0
        sleep 0.03
    done
    tail -1 "${!log}"
    return 1
}

# exits_within SECS PID: true when PID ends within SECS.
exits_within() {
    local i
    for ((i = 0; i < $1 * 20; i++)); do pid_alive "$2" || return 0; sleep 0.05; done
    return 1
}

backend_limits() {   # label
    local L="$1" M T E1 E2 a b
    spawn_backend M --max-requests 2
    spawn_backend T --lifetime 0.3
    spawn_backend E1 --error-rate 0.5 --seed 3
    spawn_backend E2 --error-rate 0.5 --seed 3
    await_port M && await_port T && await_port E1 && await_port E2 || { not_ok "$L backends start"; return; }
    curl -s -m 5 -o /dev/null -o /dev/null "http://127.0.0.1:$M/1" "http://127.0.0.1:$M/2"
    check "$L backend exits after --max-requests" exits_within 3 "$M_PID"
    check "$L backend exits after --lifetime" exits_within 3 "$T_PID"
    a="$(curl -s -m 5 -o /dev/null -w '%{http_code} ' "http://127.0.0.1:$E1/[1-40]")"
    b="$(curl -s -m 5 -o /dev/null -w '%{http_code} ' "http://127.0.0.1:$E2/[1-40]")"
    expect_eq "$L backend --error-rate is reproducible with --seed" "$a" "$b"
    check "$L backend --error-rate mixes 200 and 500" bash -c "grep -q 200 <<<'$a' && grep -q 500 <<<'$a'"
    stop_pids "$E1_PID" "$E2_PID"
    "${E2E_BACKEND}" --status 42 >/dev/null 2>&1; expect_eq "$L backend rejects a bad flag value" "$?" "2"
}

demo_app_tests() {   # label
    local L="$1" V1 V2 S E out t
    spawn_demo_app V1 --version v1 --latency-ms 0 --error-rate 0
    spawn_demo_app V2 --version v2 --latency-ms 0 --error-rate 0
    spawn_demo_app S --latency-ms 300 --latency-dist const
    spawn_demo_app E --latency-ms 0 --error-rate 1
    await_port V1 && await_port V2 && await_port S && await_port E || { not_ok "$L demo-apps start"; return; }
    expect_eq "$L demo-app v1 reports its version" "$(curl -s -m 5 "http://127.0.0.1:$V1/")" '{"service":"demo","version":"v1"}'
    expect_eq "$L demo-app v2 reports its version" "$(curl -s -m 5 "http://127.0.0.1:$V2/")" '{"service":"demo","version":"v2"}'
    check "$L demo-app v1 items carry price" grep -q '^{"id":7,"name":"item-7","price":' <(curl -s -m 5 "http://127.0.0.1:$V1/api/items/7")
    check "$L demo-app v2 items carry price_cents" grep -q '^{"id":7,"name":"item-7","price_cents":' <(curl -s -m 5 "http://127.0.0.1:$V2/api/items/7")
    expect_eq "$L demo-app POST echoes the id" "$(curl -s -m 5 -w ' %{http_code}' -d '{"id":41}' "http://127.0.0.1:$V1/api/items")" '{"id":41,"created":true} 201'
    expect_eq "$L demo-app unknown path is 404" "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$V1/nope")" "404"
    t="$(curl -s -m 5 -o /dev/null -w '%{time_total}' "http://127.0.0.1:$S/api/items/1")"
    check "$L demo-app honours --latency-ms (300 ms, took ${t}s)" awk -v t="$t" 'BEGIN{exit !(t >= 0.29 && t < 1.0)}'
    t="$(curl -s -m 5 -o /dev/null -w '%{time_total}' "http://127.0.0.1:$S/healthz")"
    check "$L demo-app answers /healthz at once" awk -v t="$t" 'BEGIN{exit !(t < 0.25)}'
    # 20 requests of 300 ms each on 20 parallel connections of one curl: ~0.3 s if the app
    # overlaps them, >= 6 s if it serialized them
    local t0 t1
    t0="$(date +%s%N)"
    curl -s --no-progress-meter -m 10 -Z --parallel-max 20 -o "$E2E_TMP/par_#1" \
        "http://127.0.0.1:$S/?n=[1-20]"
    t1="$(date +%s%N)"
    check "$L demo-app overlaps slow requests (20 x 300 ms in $(((t1 - t0) / 1000000)) ms)" \
        test $(((t1 - t0) / 1000000)) -lt 3000
    check "$L demo-app answered all 20" test "$(cat "$E2E_TMP"/par_* | grep -o '"version":"v1"' | wc -l)" -eq 20
    expect_eq "$L demo-app --error-rate 1 fails every request" "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$E/")" "500"
    expect_eq "$L demo-app --error-rate spares /healthz" "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$E/healthz")" "200"
    stop_pids "$V1_PID" "$V2_PID" "$S_PID" "$E_PID" || not_ok "$L demo-app exits 0 on SIGTERM"
    "${E2E_DEMO_APP}" --version v3 >/dev/null 2>&1; expect_eq "$L demo-app rejects an unknown version" "$?" "2"
}

demo_app_smoke() {   # label
    local L="$1" V
    start_demo_app V --version v2 --latency-ms 0 || { not_ok "$L demo-app starts"; return; }
    expect_eq "$L demo-app answers" "$(curl -s -m 5 "http://127.0.0.1:$V/healthz")" '{"status":"ok"}'
    stop_pid "$V_PID"
    expect_eq "$L demo-app exits 0 on SIGTERM" "$?" "0"
}

# The whole suite runs on the sanitizer build when there is one (it finds more), and a smoke
# test on the plain build, which the other end-to-end tests use.
run_suite() {   # build full|smoke
    local build="$1" label="[$(basename "$1")]"
    E2E_BACKEND="$build/tests/backend"
    E2E_DEMO_APP="$build/demo-app"
    if [ ! -x "$E2E_BACKEND" ]; then
        not_ok "$label backend is built" "missing $E2E_BACKEND"
    elif [ "$2" = full ]; then
        backend_basics "$label"
        backend_bodies "$label"
        backend_echo_and_tunnel "$label"
        backend_faults "$label"
        backend_limits "$label"
    else
        backend_basics "$label"
    fi
    if [ ! -x "$E2E_DEMO_APP" ]; then
        not_ok "$label demo-app is built" "missing $E2E_DEMO_APP"
    elif [ "$2" = full ]; then
        demo_app_tests "$label"
    else
        demo_app_smoke "$label"
    fi
}

if [ -n "${DOPPEL_ASAN_BUILD:-}" ]; then
    run_suite "$DOPPEL_ASAN_BUILD" full
    run_suite "${DOPPEL_BUILD:-build}" smoke
else
    run_suite "${DOPPEL_BUILD:-build}" full
fi
