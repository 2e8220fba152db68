#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 30-admin: the admin listener of `doppel serve` from the outside: /metrics (checked by
# promtool), /healthz, /readyz, GET /v1 and /v1/services, PATCH /v1/services/{name} with its
# bearer-token rules, error envelopes and limits, changes that take effect on live traffic
# (mirror percent, a drained primary), and the JSON access log. The malformed-input cases
# run against the sanitizer build too when there is one. Real processes on loopback only.
. tests/lib/e2e.sh

PY=/usr/bin/python3
TOKEN='e2e-admin-token-7f3a'

# Checks a JSON body with a Python expression over `j` (the parsed body).
json_check() {   # NAME FILE EXPR
    check "$1" $PY -c "import json, sys
j = json.load(open(sys.argv[1]))
assert ($3), json.dumps(j)[:400]" "$2"
}

# Does REQUEST with curl; the body goes to $E2E_TMP/body, headers to $E2E_TMP/head, the
# status code is printed.
req() {   # METHOD PATH [CURL ARGS...]
    local m="$1" p="$2"
    shift 2
    curl -s -m 5 -X "$m" -o "$E2E_TMP/body" -D "$E2E_TMP/head" -w '%{http_code}' "$@" \
        "http://127.0.0.1:$A$p"
}

envelope() {   # NAME CODE -> checks $E2E_TMP/body is the error envelope with this code
    json_check "$1: error envelope with code $2" "$E2E_TMP/body" \
        "set(j) == {'error'} and j['error']['code'] == '$2' and isinstance(j['error']['message'], str) and j['error']['message']"
}

write_config() {   # FILE BUILD-LABEL
    cat >"$1" <<EOF
workers: 2
admin: { listen: 127.0.0.1:$A${TOKENS:+, tokens_file: $TOKENS}${ADMIN_EXTRA:+, $ADMIN_EXTRA} }
log: { access_log: json, access_log_path: $E2E_TMP/access.$2.log }
services:
  - name: api
    listen: 127.0.0.1:$L
    primary: { upstreams: [127.0.0.1:$P1, 127.0.0.1:$P2] }
    shadows: [ { name: s1, upstreams: [127.0.0.1:$S] } ]
    mirror: { percent: 100 }
    routes:
      - { name: items, path_prefix: /items }
EOF
}

# GETs: metrics, health, the endpoint table, the services.
reads() {   # LABEL
    local l="$1" code
    code="$(req GET /metrics)"
    expect_eq "$l GET /metrics is 200" "$code" "200"
    check "$l /metrics has Content-Type text/plain; version=0.0.4" \
        grep -qi '^content-type: text/plain; version=0.0.4' "$E2E_TMP/head"
    check "$l /metrics passes promtool check metrics" bash -c "promtool check metrics <'$E2E_TMP/body'"
    check "$l /metrics has doppel_up 1" grep -qx 'doppel_up 1' "$E2E_TMP/body"
    expect_eq "$l GET /healthz is 200" "$(req GET /healthz)" "200"
    expect_eq "$l GET /readyz is 200" "$(req GET /readyz)" "200"
    expect_eq "$l GET /v1 is 200" "$(req GET /v1)" "200"
    json_check "$l GET /v1 lists every endpoint" "$E2E_TMP/body" \
        "{(e['method'], e['path']) for e in j['endpoints']} >= {('GET', '/metrics'), ('GET', '/healthz'), ('GET', '/readyz'), ('GET', '/v1'), ('GET', '/v1/services'), ('GET', '/v1/services/{name}'), ('PATCH', '/v1/services/{name}')} and all(isinstance(e['auth'], bool) and e['summary'] for e in j['endpoints']) and [e['auth'] for e in j['endpoints'] if e['method'] == 'PATCH'] == [True]"
    expect_eq "$l GET /v1/services is 200" "$(req GET /v1/services)" "200"
    json_check "$l GET /v1/services describes the service" "$E2E_TMP/body" \
        "len(j['services']) == 1 and j['services'][0]['name'] == 'api' and j['services'][0]['listen'].endswith(':$L')"
    json_check "$l GET /v1/services lists pools, upstreams and weights" "$E2E_TMP/body" \
        "[(p['name'], p['shadow'], [(u['address'], u['weight']) for u in p['upstreams']]) for p in j['services'][0]['pools']] == [('primary', False, [('127.0.0.1:$P1', 1), ('127.0.0.1:$P2', 1)]), ('s1', True, [('127.0.0.1:$S', 1)])]"
    json_check "$l GET /v1/services lists routes with mirror percent and stats" "$E2E_TMP/body" \
        "sorted((r['name'], r['path_prefix'], r['mirror_percent']) for r in j['services'][0]['routes']) == [('default', '/', 100), ('items', '/items', 100)] and all(set(r['stats']) == {'primary', 's1'} and 'requests' in r['stats']['primary'] for r in j['services'][0]['routes'])"
    expect_eq "$l GET /v1/services/api is 200" "$(req GET /v1/services/api)" "200"
    json_check "$l GET /v1/services/api is the one service" "$E2E_TMP/body" "j['name'] == 'api'"
    expect_eq "$l GET /v1/services/nope is 404" "$(req GET /v1/services/nope)" "404"
    envelope "$l GET /v1/services/nope" not_found
}

auth_errors() {   # LABEL
    local l="$1" code
    code="$(req PATCH /v1/services/api -d '{"mirror":{"percent":5}}')"
    expect_eq "$l PATCH without token is 401" "$code" "401"
    envelope "$l PATCH without token" unauthenticated
    check "$l 401 carries WWW-Authenticate: Bearer" grep -qi '^www-authenticate: bearer' "$E2E_TMP/head"
    code="$(req PATCH /v1/services/api -H 'Authorization: Basic dTpw' -d '{"mirror":{"percent":5}}')"
    expect_eq "$l PATCH with another scheme is 401" "$code" "401"
    code="$(req PATCH /v1/services/api -H 'Authorization: Bearer wrong-token' -d '{"mirror":{"percent":5}}')"
    expect_eq "$l PATCH with a wrong token is 403" "$code" "403"
    envelope "$l PATCH with a wrong token" permission_denied
}

bad_bodies() {   # LABEL
    local l="$1" a=(-H "Authorization: Bearer $TOKEN") code
    code="$(req PATCH /v1/services/api "${a[@]}" -d '{"mirror":{"percent":')"
    expect_eq "$l malformed JSON is 400" "$code" "400"
    envelope "$l malformed JSON" invalid_argument
    code="$(req PATCH /v1/services/api "${a[@]}" -d '{"mirror":{"percent":5},"colour":1}')"
    expect_eq "$l unknown field is 400" "$code" "400"
    envelope "$l unknown field" invalid_argument
    code="$(req PATCH /v1/services/api "${a[@]}" -d '{"mirror":{"percent":12.345}}')"
    expect_eq "$l percent 12.345 is 400" "$code" "400"
    envelope "$l percent 12.345" invalid_argument
    code="$(req PATCH /v1/services/api "${a[@]}" -d '{"mirror":{"percent":101}}')"
    expect_eq "$l percent 101 is 400" "$code" "400"
    code="$(req PATCH /v1/services/api "${a[@]}" -d '[1,2]')"
    expect_eq "$l a JSON array is 400" "$code" "400"
    code="$(req PATCH /v1/services/nope "${a[@]}" -d '{"mirror":{"percent":5}}')"
    expect_eq "$l unknown service is 404" "$code" "404"
    envelope "$l unknown service" not_found
    code="$(req PATCH /v1/services/api "${a[@]}" -d "{\"upstreams\":{\"primary\":[\"127.0.0.1:$P1\",\"127.0.0.1:$P1\"]}}")"
    expect_eq "$l a pool naming one upstream twice is 400" "$code" "400"
    envelope "$l a pool naming one upstream twice" invalid_argument
    code="$(req DELETE /v1/services/api "${a[@]}")"
    expect_eq "$l DELETE on a service is 405" "$code" "405"
    envelope "$l DELETE on a service" method_not_allowed
    check "$l the 405 says Allow: GET, PATCH" grep -qix 'allow: GET, PATCH' <(tr -d '\r' <"$E2E_TMP/head")
    code="$(req POST /metrics)"
    expect_eq "$l POST /metrics is 405" "$code" "405"
    check "$l the 405 says Allow: GET" grep -qix 'allow: GET' <(tr -d '\r' <"$E2E_TMP/head")
    head -c 70000 /dev/zero | tr '\0' ' ' >"$E2E_TMP/huge"
    code="$(req PATCH /v1/services/api "${a[@]}" --data-binary @"$E2E_TMP/huge")"
    expect_eq "$l body over 64 KiB is 413" "$code" "413"
    envelope "$l body over 64 KiB" too_large
    # The same, chunked (no Content-Length to judge by up front).
    code="$(req PATCH /v1/services/api "${a[@]}" -H 'Transfer-Encoding: chunked' --data-binary @"$E2E_TMP/huge")"
    expect_eq "$l chunked body over 64 KiB is 413" "$code" "413"
    expect_eq "$l still serving after the bad bodies" "$(req GET /healthz)" "200"
}

# Counts the requests the shadow recorded.
shadow_count() { cat "$E2E_TMP/shadow.jsonl" 2>/dev/null | wc -l; }

# Sends N requests through the gateway; prints "served-by-p1 served-by-p2".
spread() {   # N
    curl -s -m 20 "http://127.0.0.1:$L/s/[1-$1]" -o - | tr '\n' ' ' >"$E2E_TMP/spread"
    echo "$(grep -o 'p1 GET' "$E2E_TMP/spread" | wc -l) $(grep -o 'p2 GET' "$E2E_TMP/spread" | wc -l)"
}

changes() {   # LABEL
    local l="$1" a=(-H "Authorization: Bearer $TOKEN") code before after i
    code="$(req PATCH /v1/services/api "${a[@]}" -d '{"mirror":{"percent":0}}')"
    expect_eq "$l PATCH mirror percent 0 with the token is 200" "$code" "200"
    json_check "$l the answer shows percent 0 on every route" "$E2E_TMP/body" \
        "j['name'] == 'api' and all(r['mirror_percent'] == 0 for r in j['routes'])"
    before="$(shadow_count)"
    curl -s -m 10 -o /dev/null "http://127.0.0.1:$L/after/[1-20]"
    sleep 0.3   # a copy would reach the shadow within this
    expect_eq "$l after percent 0 the shadow receives nothing" "$(shadow_count)" "$before"
    code="$(req PATCH /v1/services/api "${a[@]}" -d '{"mirror":{"percent":100,"route":"items"}}')"
    expect_eq "$l PATCH one route's percent is 200" "$code" "200"
    curl -s -m 10 -o /dev/null "http://127.0.0.1:$L/items/[1-5]"
    curl -s -m 10 -o /dev/null "http://127.0.0.1:$L/other/[1-5]"
    for i in $(seq 50); do [ "$(shadow_count)" -ge $((before + 5)) ] && break; sleep 0.1; done
    sleep 0.2
    expect_eq "$l only the route set to 100 is mirrored" "$(($(shadow_count) - before))" "5"
    # Weights: both primaries share the traffic, then one is drained with weight 0.
    check "$l both primaries get traffic ($(spread 20))" bash -c "read a b <<<'$(spread 20)'; [ \$a -gt 0 ] && [ \$b -gt 0 ]"
    code="$(req PATCH /v1/services/api "${a[@]}" -d "{\"weights\":{\"primary\":{\"127.0.0.1:$P2\":0}}}")"
    expect_eq "$l PATCH weight 0 is 200" "$code" "200"
    json_check "$l the answer shows the weight 0" "$E2E_TMP/body" \
        "[(u['address'], u['weight']) for u in j['pools'][0]['upstreams']] == [('127.0.0.1:$P1', 1), ('127.0.0.1:$P2', 0)]"
    expect_eq "$l a drained primary gets no traffic (p1 p2)" "$(spread 30)" "30 0"
    code="$(req PATCH /v1/services/api "${a[@]}" -d "{\"weights\":{\"primary\":{\"127.0.0.1:$P2\":1001}}}")"
    expect_eq "$l weight 1001 is 400" "$code" "400"
    code="$(req PATCH /v1/services/api "${a[@]}" -d "{\"weights\":{\"primary\":{\"127.0.0.1:1\":1}}}")"
    expect_eq "$l weight of an address outside the pool is 404" "$code" "404"
    envelope "$l weight of an address outside the pool" not_found
}

access_log() {   # LABEL BUILD-LABEL
    local l="$1" f="$E2E_TMP/access.$2.log" i
    curl -s -m 5 -o /dev/null "http://127.0.0.1:$L/logged?q=1"
    # A target with a quote, a backslash and bytes that are not UTF-8 must still give JSON.
    raw_http "$L" $'GET /odd"\\\xff\xfe?x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' >/dev/null
    curl -s -m 5 -o /dev/null "http://127.0.0.1:$L/last"
    for i in $(seq 30); do grep -q '/last' "$f" 2>/dev/null && break; sleep 0.1; done
    check "$l access log: every line is one JSON object" $PY -c "import json, sys
lines = open(sys.argv[1], 'rb').read().splitlines()
assert lines, 'empty'
for x in lines: assert isinstance(json.loads(x), dict), x" "$f"
    check "$l access log: one line per request, with its fields" $PY -c "import json, sys
recs = [json.loads(x) for x in open(sys.argv[1], 'rb').read().splitlines()]
hit = [r for r in recs if r.get('path') == '/logged']  # the query is not logged
assert len(hit) == 1, hit
r = hit[0]
assert set(r) == {'id', 'service', 'route', 'client', 'method', 'path', 'status', 'error', 'latency_us', 'bytes_in', 'bytes_out'}, sorted(r)
assert (r['service'], r['route'], r['client'], r['method'], r['status']) == ('api', 'default', '127.0.0.1', 'GET', 200), r
assert isinstance(r['latency_us'], int) and 0 < r['latency_us'] < 5000000, r
assert isinstance(r['bytes_out'], int) and r['bytes_out'] > 0 and r['id'], r
assert len(set(x['id'] for x in recs)) == len(recs), 'ids repeat'
odd = [r for r in recs if r['path'].startswith('/odd')]
assert [r['path'] for r in odd] == ['/odd\"\\\\\ufffd\ufffd'], odd" "$f"
}

# The admin listener's own limits: a client that stalls mid-request or sits idle is closed
# after admin.idle_timeout; beyond admin.max_connections a new connection is answered 503.
conn_limits() {   # LABEL
    local l="$1" t0 t1 rc i idle=()
    t0="$(date +%s%N)"
    raw_http "$A" $'GET /metrics HTTP/1.1\r\nHost: t\r\n' 5 >/dev/null
    rc=$?
    t1="$(date +%s%N)"
    expect_eq "$l a stalled request's connection is closed by doppel (not by the client's timeout)" "$rc" "0"
    check "$l ... after idle_timeout 400ms, within 2 s (took $(((t1 - t0) / 1000000)) ms)" \
        test $(((t1 - t0) / 1000000)) -ge 300 -a $(((t1 - t0) / 1000000)) -lt 2000
    check "$l a request whose head arrives in two parts is answered" bash -c \
        'exec 3<>"/dev/tcp/127.0.0.1/$1"; printf "GET /healthz HTTP/1.1\r\nHo" >&3; sleep 0.1
         printf "st: t\r\nConnection: close\r\n\r\n" >&3; timeout 2 cat <&3 | grep -q "^HTTP/1.1 200"' _ "$A"
    # three idle connections fill max_connections 3
    for i in 1 2 3; do
        timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"; sleep 3' _ "$A" &
        idle+=($!)
    done
    sleep 0.15
    expect_eq "$l a 4th connection beyond max_connections is answered 503" "$(req GET /healthz)" "503"
    envelope "$l connection refusal" too_many_connections
    for i in $(seq 30); do [ "$(req GET /healthz)" = 200 ] && break; sleep 0.1; done
    expect_eq "$l once the idle ones are closed, requests are served again" "$(req GET /healthz)" "200"
    wait "${idle[@]}"
}

suite() {   # BUILD LABEL
    local build="$1" l="[$2]" C
    E2E_BUILD="$build"
    L="$(free_port)"; A="$(free_port)"; C="$E2E_TMP/admin.$2.yaml"
    : >"$E2E_TMP/shadow.jsonl"
    # First without a tokens file: every mutation is refused with 403.
    TOKENS="" write_config "$C" "$2"
    start_doppel "$C" "http://127.0.0.1:$A/readyz" || { not_ok "$l doppel starts"; return; }
    expect_eq "$l PATCH without tokens_file is 403" \
        "$(req PATCH /v1/services/api -H "Authorization: Bearer $TOKEN" -d '{"mirror":{"percent":5}}')" "403"
    envelope "$l PATCH without tokens_file" permission_denied
    stop_pid "$DOPPEL_PID"
    # Then with the SHA-256 of the token in the tokens file.
    printf '# e2e token\n%s\n' "$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)" >"$E2E_TMP/tokens"
    TOKENS="$E2E_TMP/tokens" write_config "$C" "$2"
    rm -f "$E2E_TMP/access.$2.log"
    start_doppel "$C" "http://127.0.0.1:$A/readyz" || { not_ok "$l doppel starts with tokens"; return; }
    reads "$l"
    auth_errors "$l"
    bad_bodies "$l"
    changes "$l"
    access_log "$l" "$2"
    stop_pid "$DOPPEL_PID"
    expect_eq "$l doppel exits 0 on SIGTERM" "$?" "0"
    ADMIN_EXTRA="idle_timeout: 400ms, max_connections: 3" TOKENS="" write_config "$C" "$2"
    start_doppel "$C" "http://127.0.0.1:$A/readyz" || { not_ok "$l doppel starts with limits"; return; }
    conn_limits "$l"
    stop_pid "$DOPPEL_PID"
    if grep -qE 'Sanitizer|runtime error' "$DOPPEL_LOG"; then
        not_ok "$l no sanitizer report" "$(grep -E -A5 'Sanitizer|runtime error' "$DOPPEL_LOG" | head -20)"
    else
        ok "$l no sanitizer report"
    fi
}

if ! have_doppel_serve; then
    skip "admin end-to-end" "this build has no doppel serve"
    exit 0
fi
start_backend P1 --name p1 || { not_ok "backends start"; exit 1; }
start_backend P2 --name p2 || exit 1
start_backend S --name shadow --record "$E2E_TMP/shadow.jsonl" || exit 1
suite "${DOPPEL_BUILD:-build}" plain
if [ -n "${DOPPEL_ASAN_BUILD:-}" ]; then
    suite "$DOPPEL_ASAN_BUILD" asan
fi
