#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 11-limits: what `doppel serve` answers itself. Client-side limits (431 for a head over
# max_header_bytes, 413 for a body over max_body_bytes, 408 for a request slower than
# client_timeout, max_connections), malformed requests (400 and the process stays up) and
# failing primaries (dead: 502, hanging: 504, resetting: 502, garbage: 502), each with the
# metric that counts it. The client-side part runs against the sanitizer build too, where a
# crash or a sanitizer report is a failure. Real processes on loopback only.
. tests/lib/e2e.sh

if ! have_doppel_serve; then
    skip "limits tests" "this build has no doppel serve"
    exit 0
fi

# raw_fmt PORT FORMAT [SECS]: like raw_http, but the bytes are a printf format, so they may
# hold NUL (\x00) and other bytes a shell string cannot.
raw_fmt() {
    timeout -k 1 "${3:-3}" bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 7
        printf "$2" >&3
        cat <&3' _ "$1" "$2"
}

# raw_file PORT FILE [SECS]: like raw_http, for bytes too many for one argument.
raw_file() {
    timeout -k 1 "${3:-3}" bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 7
        cat "$2" >&3
        cat <&3' _ "$1" "$2"
}

# The status code of a raw response (first line), or "none".
status_of() { head -1 | tr -d '\r' | awk '/^HTTP\/1\.[01] [0-9][0-9][0-9]/ {print $2; found=1} END {if (!found) print "none"}'; }

# A metric's value from the admin listener: metric NAME LABELS (a substring of the labels).
metric() {
    curl -s -m 5 "http://127.0.0.1:$A/metrics" | grep -F "$1{" | grep -F "$2" | awk '{print $2}' | head -1
}

# write_config FILE: the services of this file, each in front of its own backend.
write_config() {
    cat >"$1" <<EOF
workers: 2
admin: { listen: 127.0.0.1:$A }
log: { level: warn }
services:
  - name: lim
    listen: 127.0.0.1:$LIM_L
    limits: { max_header_bytes: 4KiB, max_body_bytes: 100KiB, client_timeout: 1s }
    primary: { upstreams: [127.0.0.1:$OK] }
  - name: conns
    listen: 127.0.0.1:$CONNS_L
    limits: { max_connections: 5 }
    primary: { upstreams: [127.0.0.1:$OK] }
  - name: dead
    listen: 127.0.0.1:$DEAD_L
    primary: { upstreams: [127.0.0.1:$DEAD_PORT], timeout: 1s }
  - name: hang
    listen: 127.0.0.1:$HANG_L
    primary: { upstreams: [127.0.0.1:$HANG], timeout: 1s }
  - name: reset
    listen: 127.0.0.1:$RESET_L
    primary: { upstreams: [127.0.0.1:$RESET], timeout: 1s }
  - name: garbage
    listen: 127.0.0.1:$GARBAGE_L
    primary: { upstreams: [127.0.0.1:$GARBAGE], timeout: 1s }
EOF
}

# ---- client-side limits -------------------------------------------------------------------

limits() {   # label
    local T="$1" out t0 big
    big="$(head -c 6000 /dev/zero | tr '\0' 'a')"
    out="$(raw_http "$LIM_L" "GET /h HTTP/1.1"$'\r\n'"Host: t"$'\r\n'"X-Big: $big"$'\r\n\r\n' | status_of)"
    expect_eq "$T head over max_header_bytes (6000 > 4 KiB): 431" "$out" "431"
    out="$(raw_http "$LIM_L" "GET /$big HTTP/1.1"$'\r\n'"Host: t"$'\r\n\r\n' | status_of)"
    check "$T request line over max_header_bytes: 431 or 414 ($out)" grep -qxE '431|414' <<<"$out"
    out="$(raw_http "$LIM_L" "GET /h HTTP/1.1"$'\r\n'"Host: t"$'\r\n'"X-Small: $(head -c 3000 /dev/zero | tr '\0' b)"$'\r\n'"Connection: close"$'\r\n\r\n' | status_of)"
    expect_eq "$T head under max_header_bytes (3000 < 4 KiB) is served" "$out" "200"
    # The head declares 10 MB and no body byte follows. A gateway that waited for the body
    # would answer 408 after client_timeout (1 s); 413 shows it answered from the head.
    out="$(raw_http "$LIM_L" $'POST /too-big HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000\r\n\r\n' 3)"
    expect_eq "$T Content-Length over max_body_bytes: 413 at once" "$(status_of <<<"$out")" "413"
    check "$T the 413 closes the connection" grep -qx 'Connection: close' <(tr -d '\r' <<<"$out")
    check "$T the primary never sees a 413'd request" bash -c "! grep -q '\"url\":\"/too-big\"' '$OK_REC'"
    out="$(raw_http "$LIM_L" $'POST /at-limit HTTP/1.1\r\nHost: t\r\nContent-Length: 102400\r\nConnection: close\r\n\r\n'"$(head -c 102400 /dev/zero | tr '\0' c)" | status_of)"
    expect_eq "$T body of exactly max_body_bytes is served" "$out" "200"
    # A chunked body that grows past the limit: 4 chunks of 40000 bytes (160000 > 102400).
    local chunk i
    chunk="$(head -c 40000 /dev/zero | tr '\0' d)"
    {
        printf 'POST /chunked-big HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n'
        for i in 1 2 3 4; do printf '9c40\r\n%s\r\n' "$chunk"; done
        printf '0\r\n\r\n'
    } >"$E2E_TMP/chunked-big"
    out="$(raw_file "$LIM_L" "$E2E_TMP/chunked-big" 3 | status_of)"
    expect_eq "$T chunked body growing over max_body_bytes: 413" "$out" "413"
    # Slow client: the head never completes; client_timeout is 1 s. The bound 0.9..2.9 s
    # allows for a loaded machine; raw_http's own limit is 4 s, so a gateway that never
    # answers fails here as "none".
    t0="$(date +%s%N)"
    out="$(raw_http "$LIM_L" $'GET /slow HTTP/1.1\r\nHost: t\r\n' 4 | status_of)"
    local ms=$((($(date +%s%N) - t0) / 1000000))
    expect_eq "$T head not finished within client_timeout: 408" "$out" "408"
    check "$T the 408 comes after about client_timeout (1 s, took $ms ms)" test "$ms" -ge 900 -a "$ms" -lt 2900
    out="$(raw_http "$LIM_L" $'POST /slow-body HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc' 4 | status_of)"
    expect_eq "$T body not finished within client_timeout: 408" "$out" "408"
    out="$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$LIM_L/after-limits")"
    expect_eq "$T a normal request works after the limits" "$out" "200"
    check "$T rejections are counted (431)" test "$(metric doppel_gateway_rejected_total 'service="lim",status="431"')" -ge 1
    check "$T rejections are counted (413)" test "$(metric doppel_gateway_rejected_total 'service="lim",status="413"')" -ge 2
    check "$T rejections are counted (408)" test "$(metric doppel_gateway_rejected_total 'service="lim",status="408"')" -ge 2
}

max_connections() {   # label
    local T="$1" fds=() fd i closed=0 open=0 out
    for i in $(seq 8); do
        exec {fd}<>"/dev/tcp/127.0.0.1/$CONNS_L" || { not_ok "$T connection $i opens"; return; }
        fds+=("$fd")
    done
    # Wait (<= 5 s, a loaded machine may be slow to accept) until the three extra ones are
    # counted, then look at all eight.
    for i in $(seq 50); do
        [ "$(metric doppel_connections_refused_total 'service="conns"')" = "3" ] && break
        sleep 0.1
    done
    sleep 0.2
    # A closed connection reads as EOF at once (read -t 0 succeeds); an idle open one has
    # nothing to read.
    for fd in "${fds[@]}"; do
        if read -r -t 0 -u "$fd"; then closed=$((closed + 1)); else open=$((open + 1)); fi
    done
    expect_eq "$T max_connections 5: of 8 idle connections 3 are closed at once" "$closed $open" "3 5"
    expect_eq "$T refused connections are counted" "$(metric doppel_connections_refused_total 'service="conns"')" "3"
    expect_eq "$T open connections are 5" "$(metric doppel_connections_active 'service="conns"')" "5"
    out="$(curl -s -m 3 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$CONNS_L/over")"
    expect_eq "$T a ninth client is refused while 5 are open" "$out" "000"
    for fd in "${fds[@]}"; do exec {fd}>&-; done
    for i in $(seq 30); do
        [ "$(metric doppel_connections_active 'service="conns"')" = "0" ] && break
        sleep 0.1
    done
    out="$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$CONNS_L/after")"
    expect_eq "$T a client is served once the idle ones left" "$out" "200"
}

# ---- malformed requests -------------------------------------------------------------------

malformed() {   # label
    local T="$1" name fmt out
    local -a cases=(
        "garbage bytes|\\x01\\x02\\x03\\xff\\xfegarbage\\r\\n\\r\\n"
        "bad chunk size|POST /c HTTP/1.1\\r\\nHost: t\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\nzz\\r\\nabc\\r\\n0\\r\\n\\r\\n"
        "chunk size overflow|POST /c HTTP/1.1\\r\\nHost: t\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\nfffffffffffffffffff\\r\\nabc\\r\\n"
        "bad request line|GET\\r\\n\\r\\n"
        "bad HTTP version|GET / HTTP/x.y\\r\\nHost: t\\r\\n\\r\\n"
        "NUL in the request line|GET /a\\x00b HTTP/1.1\\r\\nHost: t\\r\\n\\r\\n"
        "NUL in a header value|GET / HTTP/1.1\\r\\nHost: t\\r\\nX-A: a\\x00b\\r\\n\\r\\n"
        "header without colon|GET / HTTP/1.1\\r\\nHost: t\\r\\nNoColonHere\\r\\n\\r\\n"
        "space before colon|GET / HTTP/1.1\\r\\nHost : t\\r\\n\\r\\n"
        "bad Content-Length|POST / HTTP/1.1\\r\\nHost: t\\r\\nContent-Length: 12abc\\r\\n\\r\\n"
        "two Content-Lengths|POST / HTTP/1.1\\r\\nHost: t\\r\\nContent-Length: 3\\r\\nContent-Length: 4\\r\\n\\r\\nabcd"
        "Content-Length and chunked|POST / HTTP/1.1\\r\\nHost: t\\r\\nContent-Length: 3\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n3\\r\\nabc\\r\\n0\\r\\n\\r\\n"
        "unknown transfer coding|POST / HTTP/1.1\\r\\nHost: t\\r\\nTransfer-Encoding: gzip\\r\\n\\r\\nabc"
        "control bytes in a header name|GET / HTTP/1.1\\r\\nHost: t\\r\\nX\\x01Y: 1\\r\\n\\r\\n"
        "two Host headers|GET / HTTP/1.1\\r\\nHost: a.example\\r\\nHost: b.example\\r\\n\\r\\n"
        "HTTP/1.1 without Host|GET / HTTP/1.1\\r\\nX-A: 1\\r\\n\\r\\n"
    )
    local c
    for c in "${cases[@]}"; do
        name="${c%%|*}"
        fmt="${c#*|}"
        out="$(raw_fmt "$LIM_L" "$fmt" 3 | status_of)"
        check "$T malformed ($name): 400 ($out)" grep -qxE '400|431' <<<"$out"
    done
    out="$(raw_fmt "$LIM_L" 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n' 3 | status_of)"
    expect_eq "$T CONNECT is refused, not tunnelled: 501" "$out" "501"
    # 20000 bytes of request line (5 x the head cap): 431 (or 414), never a crash.
    out="$(raw_http "$LIM_L" "GET /$(head -c 20000 /dev/zero | tr '\0' x) HTTP/1.1"$'\r\n\r\n' | status_of)"
    check "$T malformed (huge request line): 431 ($out)" grep -qxE '431|414|400' <<<"$out"
    # Random bytes, several seeds: whatever the parser makes of them, no crash.
    local i
    for i in 1 2 3; do
        head -c 3000 /dev/urandom >"$E2E_TMP/rnd"
        timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && cat "$2" >&3 && cat <&3 >/dev/null' _ "$LIM_L" "$E2E_TMP/rnd"
    done
    check "$T doppel is still running after malformed input" kill -0 "$DOPPEL_PID"
    out="$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$LIM_L/after-malformed")"
    expect_eq "$T a normal request works after malformed input" "$out" "200"
    check "$T malformed requests are counted (400)" test "$(metric doppel_gateway_rejected_total 'service="lim",status="400"')" -ge 16
}

# ---- failing primaries --------------------------------------------------------------------

primaries() {   # label
    local T="$1" out body t0 ms
    out="$(curl -s -m 5 -D "$E2E_TMP/h.dead" -w '%{http_code}' -o "$E2E_TMP/b.dead" "http://127.0.0.1:$DEAD_L/x")"
    body="$(cat "$E2E_TMP/b.dead")"
    expect_eq "$T primary dead: 502" "$out" "502"
    expect_eq "$T primary dead: the body is one line" "$(wc -l <"$E2E_TMP/b.dead")" "1"
    check "$T primary dead: the body names the cause ($body)" grep -qi 'refused' <<<"$body"
    check "$T primary dead: counted as refused" test "$(metric doppel_upstream_errors_total 'service="dead",pool="primary",route="default",kind="refused"')" -ge 1
    out="$(curl -s -m 5 -o /dev/null -w '%{http_code}' -d 'a body' "http://127.0.0.1:$DEAD_L/post")"
    expect_eq "$T primary dead: 502 for a POST with a body too" "$out" "502"
    # 4 MB still arriving when the 502 is written: the client must read the 502, not a reset.
    head -c 4000000 /dev/zero >"$E2E_TMP/4mb"
    out="$(curl -s -m 10 -o /dev/null -w '%{http_code}' --data-binary @"$E2E_TMP/4mb" "http://127.0.0.1:$DEAD_L/big-post")"
    expect_eq "$T primary dead: 502 reaches a client still sending a 4 MB body" "$out" "502"
    # timeout: 1s; the bound 0.9..3.5 s allows for a loaded machine.
    t0="$(date +%s%N)"
    out="$(curl -s -m 6 -o "$E2E_TMP/b.hang" -w '%{http_code}' "http://127.0.0.1:$HANG_L/x")"
    ms=$((($(date +%s%N) - t0) / 1000000))
    expect_eq "$T primary hanging: 504" "$out" "504"
    check "$T primary hanging: the 504 comes after the 1 s timeout (took $ms ms)" test "$ms" -ge 900 -a "$ms" -lt 3500
    check "$T primary hanging: the body names the cause ($(cat "$E2E_TMP/b.hang"))" grep -qi 'time' "$E2E_TMP/b.hang"
    check "$T primary hanging: counted as timeout" test "$(metric doppel_upstream_errors_total 'service="hang",pool="primary",route="default",kind="timeout"')" -ge 1
    out="$(curl -s -m 5 -o "$E2E_TMP/b.reset" -w '%{http_code}' "http://127.0.0.1:$RESET_L/x")"
    expect_eq "$T primary resetting: 502" "$out" "502"
    expect_eq "$T primary resetting: the body is one line" "$(wc -l <"$E2E_TMP/b.reset")" "1"
    check "$T primary resetting: the body names the cause ($(cat "$E2E_TMP/b.reset"))" grep -qi 'reset' "$E2E_TMP/b.reset"
    check "$T primary resetting: counted as reset" test "$(metric doppel_upstream_errors_total 'service="reset",pool="primary",route="default",kind="reset"')" -ge 1
    out="$(curl -s -m 5 -o "$E2E_TMP/b.garbage" -w '%{http_code}' "http://127.0.0.1:$GARBAGE_L/x")"
    expect_eq "$T primary answering garbage: 502" "$out" "502"
    expect_eq "$T primary answering garbage: the body is one line" "$(wc -l <"$E2E_TMP/b.garbage")" "1"
    check "$T primary answering garbage: the body names the cause ($(cat "$E2E_TMP/b.garbage"))" grep -qi 'bad_response' "$E2E_TMP/b.garbage"
    check "$T primary answering garbage: counted as bad_response" test "$(metric doppel_upstream_errors_total 'service="garbage",pool="primary",route="default",kind="bad_response"')" -ge 1
    check "$T 502s are counted" test "$(metric doppel_gateway_rejected_total 'service="dead",status="502"')" -ge 2
    check "$T 504s are counted" test "$(metric doppel_gateway_rejected_total 'service="hang",status="504"')" -ge 1
    out="$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$LIM_L/after-failures")"
    expect_eq "$T a healthy service is unaffected" "$out" "200"
}

# run_suite BUILD LABEL full|input: one doppel from BUILD in front of the backends; "input"
# runs only what feeds the client side bad or oversized bytes (for the sanitizer build).
run_suite() {
    local build="$1" T="[$2]" rc
    local try
    # A port free_port found may be taken by another program before doppel binds it: then
    # the start is tried again with new ports (at most 3 times).
    for try in 1 2 3; do
        A="$(free_port)" LIM_L="$(free_port)" CONNS_L="$(free_port)" DEAD_L="$(free_port)"
        HANG_L="$(free_port)" RESET_L="$(free_port)" GARBAGE_L="$(free_port)"
        DEAD_PORT="$(free_port)"
        write_config "$E2E_TMP/limits.$2.yaml"
        E2E_BUILD="$build" start_doppel "$E2E_TMP/limits.$2.yaml" "http://127.0.0.1:$A/healthz" &&
            break
        [ "$try" = 3 ] && { not_ok "$T doppel starts"; return; }
    done
    limits "$T"
    malformed "$T"
    if [ "$3" = full ]; then
        max_connections "$T"
        primaries "$T"
    fi
    stop_pid "$DOPPEL_PID"
    rc=$?
    expect_eq "$T doppel exits 0 on SIGTERM" "$rc" "0"
    check "$T no sanitizer report in the log" bash -c "! grep -E 'Sanitizer|runtime error' '$DOPPEL_LOG'"
}

OK_REC="$E2E_TMP/rec.ok"
start_backend OK --name ok --record "$OK_REC" &&
    start_backend HANG --hang &&
    start_backend RESET --reset &&
    start_backend GARBAGE --garbage ||
    { not_ok "backends start"; exit 1; }

run_suite "$E2E_BUILD" "$(basename "$E2E_BUILD")" full
if [ -n "${DOPPEL_ASAN_BUILD:-}" ]; then
    run_suite "$DOPPEL_ASAN_BUILD" "$(basename "$DOPPEL_ASAN_BUILD")" input
fi
