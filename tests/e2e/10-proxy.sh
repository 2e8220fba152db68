#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 10-proxy: `doppel serve` as a reverse proxy, end to end. The real binary sits in front of
# build/tests/backend on loopback; clients are curl and raw bytes over /dev/tcp. What a
# client gets through the gateway must be what the backend sent (status line, end-to-end
# headers, body bytes), what the backend gets must be what the client sent (bodies, Host,
# end-to-end headers) minus hop-by-hop headers plus the forwarding headers, and the
# connection rules of HTTP/1.1 (keep-alive, pipelining, close, HTTP/1.0, 100-continue,
# Upgrade) must hold. Each backend records what it received (--record) so the tests read
# the server's side too.
. tests/lib/e2e.sh

if ! have_doppel_serve; then
    skip "proxy tests" "this build has no doppel serve"
    exit 0
fi

# Headers of a curl -D dump, with CRs removed.
heads() { tr -d '\r' <"$1"; }

# The response with the Connection header line removed: it is hop-by-hop, so the gateway
# writes its own (after Content-Length, where the backend writes it before).
norm() { grep -av '^Connection: ' | sha256sum | cut -d' ' -f1; }

# Lines of the backend record FILE whose url is URL.
rec_url() { grep -F "\"url\":\"$2\"," "$1"; }

# One doppel fronts every backend of this file, one service each (one start instead of
# eight). new_config starts the config with a fresh admin port; add_service NAME PRIMARY
# [SHADOW] appends a service and sets NAME_L to its client port.
CONF="$E2E_TMP/proxy.yaml"
new_config() {
    A="$(free_port)" || return 1
    cat >"$CONF" <<EOF
workers: 2
admin: { listen: 127.0.0.1:$A }
log: { level: warn }
services:
EOF
}
add_service() {
    local name="$1" primary="$2" shadow="${3:-}" port
    port="$(free_port)" || return 1
    printf -v "${name}_L" '%s' "$port"
    cat >>"$CONF" <<EOF
  - name: $name
    listen: 127.0.0.1:$port
    primary: { upstreams: [127.0.0.1:$primary], timeout: 10s }
EOF
    if [ -n "$shadow" ]; then
        cat >>"$CONF" <<EOF
    shadows:
      - name: v2
        upstreams: [127.0.0.1:$shadow]
    mirror: { percent: 100, methods: [GET] }
EOF
    fi
}

# ---- responses are the backend's, byte for byte -------------------------------------------

corpus() {
    local req i=0 d g P="$PLAIN" L="$plain_L"
    local reqs=(
        $'GET /a?x=1&y=%20 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'
        $'GET /items/7 HTTP/1.1\r\nHost: t\r\nX-Status: 404\r\nConnection: close\r\n\r\n'
        $'GET /boom HTTP/1.1\r\nHost: t\r\nX-Status: 503\r\nConnection: close\r\n\r\n'
        $'POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello'
        $'DELETE /d/1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'
        $'HEAD /h HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'
        $'GET /old HTTP/1.0\r\n\r\n'
        $'PUT /u HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n'
    )
    # absolute-form (RFC 7230 5.3.2): forwarded in origin form, the answer is the one the
    # backend gives to that.
    d="$(raw_http "$P" $'GET /abs/x?q=1 HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n' | norm)"
    g="$(raw_http "$L" $'GET http://example.test/abs/x?q=1 HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n' | norm)"
    expect_eq "absolute-form target is forwarded in origin form" "$g" "$d"
    for req in "${reqs[@]}"; do
        i=$((i + 1))
        d="$(raw_http "$P" "$req" | norm)"
        g="$(raw_http "$L" "$req" | norm)"
        expect_eq "corpus request $i (${req%% HTTP*}): the response is the backend's" "$g" "$d"
    done
}

large_bodies() {
    local sd sg P="$BIG" C="$BIGC" L="$big_L"
    sd="$(curl -s -m 10 "http://127.0.0.1:$P/big" | sha256sum)"
    sg="$(curl -s -m 10 -D "$E2E_TMP/h.cl" "http://127.0.0.1:$L/big" | sha256sum)"
    expect_eq "5 MB Content-Length response arrives intact" "$sg" "$sd"
    check "5 MB response keeps its Content-Length" grep -qx 'Content-Length: 5000000' <(heads "$E2E_TMP/h.cl")
    L="$bigc_L"
    sd="$(curl -s -m 10 "http://127.0.0.1:$C/big" | sha256sum)"
    sg="$(curl -s -m 10 -D "$E2E_TMP/h.ch" "http://127.0.0.1:$L/big" | sha256sum)"
    expect_eq "5 MB chunked response arrives intact" "$sg" "$sd"
    check "chunked response stays chunked for an HTTP/1.1 client" grep -qix 'Transfer-Encoding: chunked' <(heads "$E2E_TMP/h.ch")
    # An HTTP/1.0 client cannot read chunked: the body ends with the connection instead.
    sg="$(curl -s -m 10 --http1.0 -D "$E2E_TMP/h.10" "http://127.0.0.1:$L/big" | sha256sum)"
    expect_eq "5 MB chunked response reaches an HTTP/1.0 client intact" "$sg" "$sd"
    check "HTTP/1.0 client gets no chunked coding" bash -c "! grep -qi '^transfer-encoding' <(tr -d '\r' <'$E2E_TMP/h.10')"
}

request_bodies() {
    local rec="$REC_FILE" sum out L="$rec_L"
    head -c 5000000 /dev/urandom >"$E2E_TMP/up"
    sum="$(sha256sum "$E2E_TMP/up" | cut -d' ' -f1)"
    out="$(curl -s -m 10 -o /dev/null -w '%{http_code}' --data-binary @"$E2E_TMP/up" "http://127.0.0.1:$L/up-cl")"
    expect_eq "5 MB POST with Content-Length answered" "$out" "200"
    check "5 MB POST with Content-Length reaches the backend intact" grep -q \
        "\"body_len\":5000000,\"body_sha256\":\"$sum\"" <(rec_url "$rec" /up-cl)
    out="$(curl -s -m 10 -o /dev/null -w '%{http_code}' -H 'Transfer-Encoding: chunked' \
        --data-binary @"$E2E_TMP/up" "http://127.0.0.1:$L/up-ch")"
    expect_eq "5 MB chunked POST answered" "$out" "200"
    check "5 MB chunked POST reaches the backend intact" grep -q \
        "\"body_len\":5000000,\"body_sha256\":\"$sum\"" <(rec_url "$rec" /up-ch)
    out="$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H 'Transfer-Encoding: chunked' \
        --data-binary 'small chunked body' "http://127.0.0.1:$L/small-ch")"
    check "small chunked POST reaches the backend verbatim" grep -q \
        '"body_len":18,.*"body":"small chunked body"' <(rec_url "$rec" /small-ch)
    out="$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X POST -H 'Content-Length: 0' "http://127.0.0.1:$L/empty")"
    expect_eq "empty POST answered" "$out" "200"
}

# ---- connection handling ------------------------------------------------------------------

keepalive_and_pipelining() {
    local rec="$KA_FILE" out peers L="$ka_L"
    out="$(curl -s -m 5 -o /dev/null -o /dev/null -o /dev/null -o /dev/null -o /dev/null \
        -w '%{num_connects} ' "http://127.0.0.1:$L/ka/[1-5]")"
    expect_eq "client keeps one connection for 5 requests" "$out" "1 0 0 0 0 "
    expect_eq "backend saw the 5 requests" "$(grep -c '"url":"/ka/' "$rec")" "5"
    peers="$(grep '"url":"/ka/' "$rec" | grep -o '"peer":"[^"]*"' | sort -u | wc -l)"
    expect_eq "the 5 requests reused one upstream connection" "$peers" "1"
    # Three requests in one write; the first is held 300 ms by the backend, yet the answers
    # must come in request order.
    out="$(raw_http "$L" $'GET /1 HTTP/1.1\r\nHost: t\r\nX-Delay-Ms: 300\r\n\r\nGET /2 HTTP/1.1\r\nHost: t\r\n\r\nGET /3 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' 5 |
        tr -d '\r' | grep -a -e '^HTTP/' -e '^ka ' | tr '\n' ' ')"
    expect_eq "pipelined requests answered in order" "$out" \
        "HTTP/1.1 200 OK ka GET /1 HTTP/1.1 200 OK ka GET /2 HTTP/1.1 200 OK ka GET /3 "
    # Pipelined with a body in the middle.
    out="$(raw_http "$L" $'POST /b1 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabcGET /b2 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' 5 |
        tr -d '\r' | grep -a '^ka ' | tr '\n' ' ')"
    expect_eq "pipelined request after a body answered in order" "$out" "ka POST /b1 ka GET /b2 "
    # Connection: close from the client: the answer says so and the gateway closes (raw_http
    # returns when the peer closes; 124 would mean it waited for its 3 s timeout).
    out="$(raw_http "$L" $'GET /c HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' 3 | tr -d '\r')"
    expect_eq "Connection: close: the gateway closes after the response" "$?" "0"
    check "Connection: close: the response says close" grep -qx 'Connection: close' <<<"$out"
    out="$(curl -s -m 5 -o /dev/null -o /dev/null -H 'Connection: close' -w '%{num_connects} ' \
        "http://127.0.0.1:$L/c1" "http://127.0.0.1:$L/c2")"
    expect_eq "Connection: close: the next request needs a new connection" "$out" "1 1 "
    # HTTP/1.0: closed after the response unless the client asks for keep-alive.
    out="$(raw_http "$L" $'GET /ten HTTP/1.0\r\nHost: t\r\n\r\n' 3 | tr -d '\r')"
    expect_eq "HTTP/1.0 request: the gateway closes after the response" "$?" "0"
    check "HTTP/1.0 request answered" grep -qx 'ka GET /ten' <<<"$out"
    check "HTTP/1.0 request gets a length-delimited body" grep -qx 'Content-Length: 12' <<<"$out"
    out="$(curl -s -m 5 --http1.0 -H 'Connection: keep-alive' -o /dev/null -o /dev/null \
        -w '%{num_connects} ' "http://127.0.0.1:$L/k1" "http://127.0.0.1:$L/k2")"
    expect_eq "HTTP/1.0 keep-alive client keeps its connection" "$out" "1 0 "
    # HEAD: the length of the GET, no body; the connection is still in step afterwards.
    out="$(raw_http "$L" $'HEAD /h HTTP/1.1\r\nHost: t\r\n\r\nGET /after-head HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' 5 |
        tr -d '\r')"
    local len
    len="$(curl -s -m 5 -I "http://127.0.0.1:$KA/h" | tr -d '\r' | grep -i '^content-length:')"
    check "HEAD keeps the backend's Content-Length ($len)" grep -qx "$len" <<<"$(sed -n '1,/^$/p' <<<"$out")"
    expect_eq "HEAD has no body (the next response follows its head)" \
        "$(grep -a -e '^HTTP/' -e '^ka ' <<<"$out" | tr '\n' ' ')" "HTTP/1.1 200 OK HTTP/1.1 200 OK ka GET /after-head "
}

no_body_statuses() {
    local code out L="$nobody_L"
    for code in 204 304; do
        # The next response must start right after the head: no body, no chunk terminator.
        out="$(raw_http "$L" "GET /s HTTP/1.1"$'\r\n'"Host: t"$'\r\n'"X-Status: $code"$'\r\n\r\n'"GET /next HTTP/1.1"$'\r\n'"Host: t"$'\r\n'"Connection: close"$'\r\n\r\n' 3 |
            tr -d '\r')"
        expect_eq "$code passes through" "$(head -1 <<<"$out" | cut -d' ' -f1,2)" "HTTP/1.1 $code"
        expect_eq "$code has no body: the next response follows its head" \
            "$(sed -n '/^$/{n;p;q}' <<<"$out")" "HTTP/1.1 200 OK"
        check "$code has no chunked coding" bash -c "! grep -qi '^transfer-encoding' <<<'$out'"
    done
}

expect_continue() {
    local rec="$REC_FILE" out L="$rec_L"
    head -c 200000 /dev/urandom >"$E2E_TMP/exp"
    out="$(curl -s -m 10 -v --expect100-timeout 5 -H 'Expect: 100-continue' -o /dev/null -w '%{http_code}' \
        --data-binary @"$E2E_TMP/exp" "http://127.0.0.1:$L/exp" 2>"$E2E_TMP/v.exp")"
    expect_eq "Expect: 100-continue request answered" "$out" "200"
    expect_eq "client gets exactly one 100 Continue, before the response" \
        "$(grep -a '^< HTTP/' "$E2E_TMP/v.exp" | tr -d '\r' | tr '\n' ' ')" "< HTTP/1.1 100 Continue < HTTP/1.1 200 OK "
    check "the body after 100 Continue reaches the backend intact" grep -q \
        "\"body_len\":200000,\"body_sha256\":\"$(sha256sum "$E2E_TMP/exp" | cut -d' ' -f1)\"" <(rec_url "$rec" /exp)
}

# ---- headers ------------------------------------------------------------------------------

headers() {
    local out L="$echo_L"
    out="$(curl -s -m 5 -H 'Host: example.test:8443' -H 'Connection: foo, close' -H 'Foo: bar' \
        -H 'Keep-Alive: timeout=5' -H 'TE: trailers' -H 'Proxy-Connection: keep-alive' \
        -H 'X-End-To-End: kept' "http://127.0.0.1:$L/hop" | tr -d '\r')"
    check "Host is kept" grep -qx 'Host: example.test:8443' <<<"$out"
    check "end-to-end headers are kept" grep -qx 'X-End-To-End: kept' <<<"$out"
    local h
    for h in Connection Foo Keep-Alive TE Proxy-Connection; do
        check "hop-by-hop header $h is removed" bash -c "! grep -qi '^$h:' <<<'$out'"
    done
    check "X-Forwarded-For is added" grep -qx 'X-Forwarded-For: 127.0.0.1' <<<"$out"
    check "X-Forwarded-Proto is added" grep -qx 'X-Forwarded-Proto: http' <<<"$out"
    check "X-Request-Id is added when absent" grep -qE '^X-Request-Id: [0-9A-Za-z_-]{8,}$' <<<"$out"
    out="$(curl -s -m 5 -H 'X-Forwarded-For: 203.0.113.7, 10.0.0.1' -H 'X-Request-Id: req-abc-123' \
        -H 'X-Forwarded-Proto: https' "http://127.0.0.1:$L/fwd" | tr -d '\r')"
    check "X-Forwarded-For is appended to" grep -qx 'X-Forwarded-For: 203.0.113.7, 10.0.0.1, 127.0.0.1' <<<"$out"
    expect_eq "X-Forwarded-For appears once" "$(grep -ci '^x-forwarded-for:' <<<"$out")" "1"
    check "X-Request-Id is kept when present" grep -qx 'X-Request-Id: req-abc-123' <<<"$out"
    expect_eq "X-Request-Id appears once" "$(grep -ci '^x-request-id:' <<<"$out")" "1"
    check "X-Forwarded-Proto from the client is kept" grep -qx 'X-Forwarded-Proto: https' <<<"$out"
    out="$(curl -s -m 5 -H 'X-Forwarded-For: 203.0.113.7' -H 'X-Forwarded-For: 10.0.0.1' \
        "http://127.0.0.1:$L/fwd2" | tr -d '\r')"
    check "X-Forwarded-For over two lines: one chain, in order" \
        grep -qx 'X-Forwarded-For: 203.0.113.7, 10.0.0.1, 127.0.0.1' <<<"$out"
    local a b
    a="$(curl -s -m 5 "http://127.0.0.1:$L/id1" | tr -d '\r' | sed -n 's/^X-Request-Id: //p')"
    b="$(curl -s -m 5 "http://127.0.0.1:$L/id2" | tr -d '\r' | sed -n 's/^X-Request-Id: //p')"
    check "X-Request-Id differs between requests ('$a', '$b')" test -n "$a" -a -n "$b" -a "$a" != "$b"
}

# ---- Upgrade ------------------------------------------------------------------------------

upgrade() {
    local srec="$SHADOW_FILE" out i L="$ws_L"
    out="$( (printf 'GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\nraw-1'
        sleep 0.3; printf ' raw-2'; sleep 0.3; printf ' \x00\xffbin'; sleep 0.3) |
        timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"; exec 4<&0; cat <&4 >&3 & cat <&3' _ "$L" | tr -d '\r' | od -An -c | tr -s ' \n' ' ')"
    check "Upgrade: websocket answered with 101 through the gateway" grep -q 'H T T P / 1 . 1 1 0 1' <<<"$out"
    check "the 101 keeps Sec-WebSocket-Accept" grep -q 's 3 p P L M B i T x a Q 9 k Y G z z h Z R b K + x O o =' <<<"$out"
    check "tunnel bytes round-trip (text and binary)" grep -q 'r a w - 1 r a w - 2 \\0 377 b i n $' <<<"$out"
    # A plain GET is mirrored (the control); the upgrade never is.
    curl -s -m 5 -o /dev/null "http://127.0.0.1:$L/plain"
    for i in $(seq 50); do grep -q '"url":"/plain"' "$srec" 2>/dev/null && break; sleep 0.1; done
    check "a plain GET is mirrored to the shadow" grep -q '"url":"/plain"' "$srec"
    check "the upgrade request is never mirrored" bash -c "! grep -q '\"url\":\"/ws\"' '$srec'"
    out="$(curl -s -m 5 "http://127.0.0.1:$A/metrics" | grep '^doppel_mirror_decisions_total{.*decision="filtered_method"}')"
    check "the upgrade is counted as filtered" grep -q ' 1$' <<<"$out"
    # An Upgrade the backend declines, on a request with a body: the body is the request's
    # (the switch could only come after it), so it must reach the backend and be answered.
    out="$(raw_http "$rec_L" $'POST /h2c HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nContent-Length: 5\r\n\r\nhello' 3 |
        tr -d '\r')"
    expect_eq "declined Upgrade with a body: answered" "$(head -1 <<<"$out")" "HTTP/1.1 200 OK"
    # The bytes after an Upgrade request may be the other protocol's, so the gateway closes
    # after a declined one, and must say so in the answer.
    check "declined Upgrade: the answer says Connection: close" grep -qx 'Connection: close' <<<"$out"
    check "declined Upgrade with a body: the body reaches the backend" grep -q '"body_len":5,.*"body":"hello"' <(rec_url "$REC_FILE" /h2c)
}

REC_FILE="$E2E_TMP/rec.bodies" KA_FILE="$E2E_TMP/rec.ka" SHADOW_FILE="$E2E_TMP/rec.shadow"
start_backend PLAIN --name plain &&
    start_backend BIG --body-size 5000000 &&
    start_backend BIGC --chunked --body-size 5000000 &&
    start_backend RECB --record "$REC_FILE" &&
    start_backend KA --name ka --record "$KA_FILE" &&
    start_backend NOBODY --body-size 0 &&
    start_backend ECHO --echo &&
    start_backend WS --name prim &&
    start_backend SHADOW --name shadow --record "$SHADOW_FILE" ||
    { not_ok "backends start"; exit 1; }
# A port free_port found may be taken by another program before doppel binds it: then
# the start is tried again with new ports (at most 3 times).
for try in 1 2 3; do
    new_config &&
        add_service plain "$PLAIN" && add_service big "$BIG" && add_service bigc "$BIGC" &&
        add_service rec "$RECB" && add_service ka "$KA" && add_service nobody "$NOBODY" &&
        add_service echo "$ECHO" && add_service ws "$WS" "$SHADOW" &&
        start_doppel "$CONF" "http://127.0.0.1:$A/healthz" && break
    [ "$try" = 3 ] && { not_ok "doppel starts"; exit 1; }
done

corpus
large_bodies
request_bodies
keepalive_and_pipelining
no_body_statuses
expect_continue
headers
upgrade
stop_pid "$DOPPEL_PID"
expect_eq "doppel exits 0 on SIGTERM" "$?" "0"
