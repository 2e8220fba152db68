#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 20-mirror: what a shadow receives from `doppel serve`. A recording backend (--record) sits
# behind the gateway as the shadow, another as the primary, and the test compares the two
# records: the copy is the request the primary got, minus the dropped headers, with the
# configured values pseudonymized, the stripped query parameters gone and X-Doppel-Shadow
# added. Then the mirror's choices (methods, paths, header filter, routes, max_body, percent)
# are checked against the shadow's record and /metrics, and the primary's answer is checked
# to be byte-identical with and without a shadow. Real processes on loopback only.
. tests/lib/e2e.sh

PY=/usr/bin/python3   # Debian's interpreter (json is all these checks need)
KEY='e2e-mirror-test-key-0123'   # raw key: not hex, so it is used byte for byte
export DOPPEL_E2E_KEY="$KEY"

# Writes a config with one service "api" to FILE. MIRROR is the YAML of the service's
# mirror section body (indented 6), EXTRA is appended to the service (routes:, ...).
write_config() {   # FILE LISTEN ADMIN PRIMARY SHADOW|"" MIRROR [EXTRA]
    local f="$1" shadows=""
    [ -n "$5" ] && shadows="    shadows: [ { name: s1, upstreams: [127.0.0.1:$5] } ]"
    cat >"$f" <<EOF
workers: 2
admin: { listen: 127.0.0.1:$3 }
services:
  - name: api
    listen: 127.0.0.1:$2
    primary: { upstreams: [127.0.0.1:$4] }
$shadows
    mirror:
$6
${7:-}
EOF
}

metric() {   # ADMIN_PORT SERIES  -> value (empty when absent)
    curl -s -m 5 "http://127.0.0.1:$1/metrics" | awk -v k="$2" '$1 == k { print $2 }'
}

decision() {   # ADMIN_PORT ROUTE DECISION
    metric "$1" "doppel_mirror_decisions_total{service=\"api\",route=\"$2\",shadow=\"s1\",decision=\"$3\"}"
}

# Waits (<= SECS, default 5) until FILE has at least N lines; prints the count.
wait_lines() {   # FILE N [SECS]
    local end=$((SECONDS + ${3:-5})) n=0
    while :; do
        n="$(cat "$1" 2>/dev/null | wc -l)"
        [ "$n" -ge "$2" ] || [ "$SECONDS" -ge "$end" ] && break
        sleep 0.05
    done
    echo "$n"
}

pseudonym() {   # VALUE -> anon-<first 32 hex of HMAC-SHA256(KEY, VALUE)>, as docs/mirror-anonymize.md says
    echo "anon-$(printf %s "$1" | openssl dgst -sha256 -hmac "$KEY" | awk '{print $NF}' | cut -c1-32)"
}

# Record line N (1-based) of FILE, field F as JSON ("headers", "url", "body", ...).
rec() { sed -n "${2}p" "$1" | $PY -c "import json,sys; print(json.dumps(json.load(sys.stdin)['$3']))"; }
hdr() {   # FILE LINE NAME -> every value of header NAME in record line LINE, one per line
    sed -n "${2}p" "$1" | $PY -c "import json,sys
for k, v in json.load(sys.stdin)['headers']:
    if k.lower() == sys.argv[1].lower(): print(v)" "$3"
}

# ---- the anonymized copy --------------------------------------------------------------------
anonymized_copy() {
    local P S L A C out n
    start_backend P --name prim --record "$E2E_TMP/prim.jsonl" || { not_ok "backends start"; return; }
    start_backend S --name shad --record "$E2E_TMP/shad.jsonl" || return
    L="$(free_port)"; A="$(free_port)"; C="$E2E_TMP/anon.yaml"
    write_config "$C" "$L" "$A" "$P" "$S" "      percent: 100
      methods: [GET, POST]
      max_body: 1KiB
      anonymize:
        hash_headers: [x-user]
        hash_query: [email]
        strip_query: [token]
        key_env: DOPPEL_E2E_KEY"
    start_doppel "$C" "http://127.0.0.1:$A/readyz" || { not_ok "doppel starts (anonymize)"; return; }
    curl -s -m 5 -o /dev/null -H 'Cookie: session=s3cr3t' -H 'Authorization: Bearer abc' \
        -H 'X-User: alice@example.com' -H 'X-Other: Kept As Is' \
        "http://127.0.0.1:$L/items/7?email=alice@example.com&token=t0k&x=1&x=2"
    curl -s -m 5 -o /dev/null -H 'X-User: alice@example.com' "http://127.0.0.1:$L/again?token=1"
    n="$(wait_lines "$E2E_TMP/shad.jsonl" 2)"
    expect_eq "the shadow received both GETs" "$n" "2"
    expect_eq "cookie is not mirrored" "$(hdr "$E2E_TMP/shad.jsonl" 1 cookie)" ""
    expect_eq "authorization is not mirrored" "$(hdr "$E2E_TMP/shad.jsonl" 1 authorization)" ""
    expect_eq "the primary still got the cookie" "$(hdr "$E2E_TMP/prim.jsonl" 1 cookie)" "session=s3cr3t"
    out="$(hdr "$E2E_TMP/shad.jsonl" 1 x-forwarded-for)"
    check "X-Forwarded-For is a pseudonym ($out)" grep -qxE 'anon-[0-9a-f]{32}' <<<"$out"
    expect_eq "the primary sees the real client address" "$(hdr "$E2E_TMP/prim.jsonl" 1 x-forwarded-for)" "127.0.0.1"
    expect_eq "X-Forwarded-For is the keyed pseudonym of the client address" "$out" "$(pseudonym 127.0.0.1)"
    expect_eq "the same client gives the same pseudonym twice" "$(hdr "$E2E_TMP/shad.jsonl" 2 x-forwarded-for)" "$out"
    expect_eq "hash_headers: X-User becomes its pseudonym" "$(hdr "$E2E_TMP/shad.jsonl" 1 x-user)" \
        "$(pseudonym alice@example.com)"
    expect_eq "hash_query and strip_query rewrite the target, the rest kept" \
        "$(rec "$E2E_TMP/shad.jsonl" 1 url)" "\"/items/7?email=$(pseudonym alice@example.com)&x=1&x=2\""
    expect_eq "strip_query of the only parameter removes the '?'" "$(rec "$E2E_TMP/shad.jsonl" 2 url)" '"/again"'
    expect_eq "the copy carries X-Doppel-Shadow: 1" "$(hdr "$E2E_TMP/shad.jsonl" 1 x-doppel-shadow)" "1"
    out="$(hdr "$E2E_TMP/shad.jsonl" 1 x-request-id)"
    check "the copy carries an X-Request-Id ($out)" test -n "$out"
    expect_eq "the copy's X-Request-Id is the primary's" "$out" "$(hdr "$E2E_TMP/prim.jsonl" 1 x-request-id)"
    # Every other byte: the primary's request with the rules applied must be the copy.
    check "other headers are identical, in order" $PY - "$E2E_TMP/prim.jsonl" "$E2E_TMP/shad.jsonl" \
        "$(pseudonym alice@example.com)" "$(pseudonym 127.0.0.1)" <<'PYEOF'
import json, sys
p = [json.loads(l) for l in open(sys.argv[1])][0]
s = [json.loads(l) for l in open(sys.argv[2])][0]
want = []
for k, v in p["headers"]:
    lk = k.lower()
    if lk in ("cookie", "authorization"):
        continue
    if lk == "x-user":
        v = sys.argv[3]
    if lk == "x-forwarded-for":
        v = sys.argv[4]
    want.append([k, v])
got = [h for h in s["headers"] if h[0].lower() != "x-doppel-shadow"]
assert got == want, f"copy {got}\nwant {want}"
assert (s["method"], s["version"]) == (p["method"], p["version"])
PYEOF
    # A POST body is copied verbatim when POST is listed in methods.
    head -c 700 /dev/urandom | base64 -w0 >"$E2E_TMP/body"
    curl -s -m 5 -o /dev/null --data-binary @"$E2E_TMP/body" "http://127.0.0.1:$L/post"
    n="$(wait_lines "$E2E_TMP/shad.jsonl" 3)"
    expect_eq "POST is mirrored when listed" "$n" "3"
    expect_eq "the POST body reaches the shadow verbatim" "$(rec "$E2E_TMP/shad.jsonl" 3 body_sha256)" \
        "\"$(sha256sum "$E2E_TMP/body" | cut -d' ' -f1)\""
    # mirror.max_body is 1 KiB: a 2000-byte body goes to the primary only, and is counted.
    head -c 2000 /dev/zero | tr '\0' b >"$E2E_TMP/big"
    out="$(curl -s -m 5 --data-binary @"$E2E_TMP/big" "http://127.0.0.1:$L/big")"
    expect_eq "a body over max_body still reaches the primary" "$out" "prim POST /big"
    curl -s -m 5 -o /dev/null "http://127.0.0.1:$L/after-big"
    n="$(wait_lines "$E2E_TMP/shad.jsonl" 4)"
    expect_eq "a body over max_body is not mirrored" "$(tail -1 "$E2E_TMP/shad.jsonl" | grep -c '"url":"/after-big"')/$n" "1/4"
    expect_eq "body_too_large is counted" "$(decision "$A" default body_too_large)" "1"
    expect_eq "sampled is counted" "$(decision "$A" default sampled)" "4"
    # A chunked body with Expect: the copy has the body with a Content-Length, no Expect.
    curl -s -m 5 -o /dev/null -H 'Transfer-Encoding: chunked' -H 'Expect: 100-continue' \
        --data-binary 'chunky' "http://127.0.0.1:$L/chunked"
    # Addresses recorded by proxies in front of doppel are pseudonymized one by one, and a
    # client's own X-Request-Id is kept.
    curl -s -m 5 -o /dev/null -H 'X-Forwarded-For: 10.1.2.3, 10.9.9.9' -H 'X-Real-IP: 10.1.2.3' \
        -H 'X-Request-Id: client-id-1' "http://127.0.0.1:$L/xff"
    n="$(wait_lines "$E2E_TMP/shad.jsonl" 6)"
    expect_eq "a chunked body is copied" "$(rec "$E2E_TMP/shad.jsonl" 5 body)" '"chunky"'
    expect_eq "the chunked copy has Content-Length" "$(hdr "$E2E_TMP/shad.jsonl" 5 content-length)" "6"
    expect_eq "the copy has neither Transfer-Encoding nor Expect" \
        "$(hdr "$E2E_TMP/shad.jsonl" 5 transfer-encoding)$(hdr "$E2E_TMP/shad.jsonl" 5 expect)" ""
    expect_eq "each X-Forwarded-For element becomes its pseudonym" "$(hdr "$E2E_TMP/shad.jsonl" 6 x-forwarded-for)" \
        "$(pseudonym 10.1.2.3), $(pseudonym 10.9.9.9), $(pseudonym 127.0.0.1)"
    expect_eq "X-Real-IP becomes its pseudonym" "$(hdr "$E2E_TMP/shad.jsonl" 6 x-real-ip)" "$(pseudonym 10.1.2.3)"
    expect_eq "the client's X-Request-Id is kept, once" "$(hdr "$E2E_TMP/shad.jsonl" 6 x-request-id)" "client-id-1"
    stop_pid "$DOPPEL_PID"
    expect_eq "doppel exits 0 after SIGTERM" "$?" "0"
    # key_env: the same key in a second run gives the same pseudonyms.
    start_doppel "$C" "http://127.0.0.1:$A/readyz" || { not_ok "doppel restarts"; return; }
    curl -s -m 5 -o /dev/null -H 'X-User: alice@example.com' "http://127.0.0.1:$L/second-run"
    n="$(wait_lines "$E2E_TMP/shad.jsonl" 7)"
    expect_eq "key_env: same key, second run, same pseudonym" "$(hdr "$E2E_TMP/shad.jsonl" 7 x-user)" \
        "$(hdr "$E2E_TMP/shad.jsonl" 1 x-user)"
    stop_pid "$DOPPEL_PID"
    # Without a key each start draws its own, so pseudonyms do not carry over.
    sed -i '/key_env/d' "$C"
    start_doppel "$C" "http://127.0.0.1:$A/readyz" || { not_ok "doppel restarts without key"; return; }
    curl -s -m 5 -o /dev/null -H 'X-User: alice@example.com' "http://127.0.0.1:$L/random-key"
    n="$(wait_lines "$E2E_TMP/shad.jsonl" 8)"
    out="$(hdr "$E2E_TMP/shad.jsonl" 8 x-user)"
    check "without a key the pseudonym differs per start ($out)" \
        bash -c "[[ '$out' =~ ^anon-[0-9a-f]{32}$ ]] && [ '$out' != '$(pseudonym alice@example.com)' ]"
    stop_pid "$DOPPEL_PID"
    stop_pid "$P_PID"; stop_pid "$S_PID"
}

# ---- filters and routes -------------------------------------------------------------------
filters_and_routes() {
    local P S L A C n urls
    start_backend P --name prim || { not_ok "backends start"; return; }
    start_backend S --name shad --record "$E2E_TMP/filt.jsonl" || return
    L="$(free_port)"; A="$(free_port)"; C="$E2E_TMP/filt.yaml"
    write_config "$C" "$L" "$A" "$P" "$S" "      percent: 100
      path_prefixes: [/api, /all]
      header: { name: x-mirror, value: 'yes' }" "    routes:
      - { name: quiet, path_prefix: /api/quiet, mirror: { percent: 0 } }
      - { name: all, path_prefix: /all, mirror: { percent: 100 } }"
    start_doppel "$C" "http://127.0.0.1:$A/readyz" || { not_ok "doppel starts (filters)"; return; }
    local u="http://127.0.0.1:$L"
    curl -s -m 5 -o /dev/null -H 'X-Mirror: yes' "$u/api/a"             # mirrored
    curl -s -m 5 -o /dev/null -H 'X-Mirror: yes' "$u/other"             # filtered_path
    curl -s -m 5 -o /dev/null "$u/api/b"                                # filtered_header (absent)
    curl -s -m 5 -o /dev/null -H 'X-Mirror: no' "$u/api/c"              # filtered_header (value)
    curl -s -m 5 -o /dev/null -H 'X-Mirror: yes' -d 'x' "$u/api/d"      # filtered_method (default methods)
    curl -s -m 5 -o /dev/null -H 'X-Mirror: yes' "$u/api/quiet/e"       # route percent 0
    curl -s -m 5 -o /dev/null -H 'X-Mirror: yes' -I "$u/all/f"     # HEAD is a default method
    curl -s -m 5 -o /dev/null -H 'X-Mirror: yes' "$u/all/g"             # route percent 100
    n="$(wait_lines "$E2E_TMP/filt.jsonl" 3 3)"
    sleep 0.3   # a fourth line would show up here if something else was mirrored
    urls="$(cut -d'"' -f4,8 "$E2E_TMP/filt.jsonl" | LC_ALL=C sort | tr '\n' ' ')"
    expect_eq "only matching requests are mirrored (POST not by default)" "$urls" "GET\"/all/g GET\"/api/a HEAD\"/all/f "
    expect_eq "filtered_path counted" "$(decision "$A" default filtered_path)" "1"
    expect_eq "filtered_header counted" "$(decision "$A" default filtered_header)" "2"
    expect_eq "filtered_method counted" "$(decision "$A" default filtered_method)" "1"
    expect_eq "route with percent 0: not_sampled" "$(decision "$A" quiet not_sampled)/$(decision "$A" quiet sampled)" "1/0"
    expect_eq "route with percent 100: sampled" "$(decision "$A" all sampled)" "2"
    # Both copies on route "all" (a HEAD and a GET) are answered by the shadow: a HEAD
    # answer has no body, so the copy must not wait for one until the shadow's timeout.
    local done2xx=""
    for n in $(seq 30); do
        done2xx="$(metric "$A" 'doppel_requests_total{service="api",pool="s1",route="all",class="2xx"}')"
        [ "$done2xx" = 2 ] && break
        sleep 0.1
    done
    expect_eq "the shadow's answers to the HEAD and GET copies complete" "$done2xx" "2"
    stop_pid "$DOPPEL_PID"
    expect_eq "doppel exits 0 at once after SIGTERM (no copy left hanging)" "$?" "0"
    stop_pid "$P_PID"; stop_pid "$S_PID"
}

# ---- percent -----------------------------------------------------------------------------
# Sends N GETs over one keep-alive connection (curl's URL range) and prints how many the
# shadow recorded once the doppel metrics say all N were decided.
run_percent() {   # PERCENT N -> "recorded sampled not_sampled"
    local pct="$1" N="$2" P S L A C rec n s ns i
    rec="$E2E_TMP/pct.$pct.jsonl"
    start_backend P --name prim || return 1
    start_backend S --name shad --record "$rec" || return 1
    L="$(free_port)"; A="$(free_port)"; C="$E2E_TMP/pct.$pct.yaml"
    write_config "$C" "$L" "$A" "$P" "$S" "      percent: $pct"
    start_doppel "$C" "http://127.0.0.1:$A/readyz" || return 1
    curl -s -m 30 -o /dev/null "http://127.0.0.1:$L/p/[1-$N]"
    for i in $(seq 50); do
        s="$(decision "$A" default sampled)"; ns="$(decision "$A" default not_sampled)"
        [ $((s + ns)) -ge "$N" ] && break
        sleep 0.1
    done
    n="$(wait_lines "$rec" "$s" 5)"
    stop_pid "$DOPPEL_PID"; stop_pid "$P_PID"; stop_pid "$S_PID"
    echo "$n $s $ns"
}

percentages() {
    local r
    r="$(run_percent 0 100)"
    expect_eq "percent 0 mirrors nothing (recorded sampled not_sampled)" "$r" "0 0 100"
    r="$(run_percent 100 100)"
    expect_eq "percent 100 mirrors everything" "$r" "100 100 0"
    r="$(run_percent 25 2000)"
    read -r n s ns <<<"$r"
    expect_eq "percent 25: every request decided, every sampled one recorded" "$((s + ns)) $n" "2000 $s"
    # Bounds: the central 1 - 1e-6 interval of Binomial(2000, 0.25), so a correct sampler
    # fails this about once in a million runs:
    #   /usr/bin/python3 -c 'from scipy.stats import binom; print(binom.interval(1-1e-6, 2000, 0.25))'
    #   -> (407.0, 597.0)
    check "percent 25: $s of 2000 sampled, within Binomial(2000, 0.25) 1-1e-6 bounds [407, 597]" \
        test "$s" -ge 407 -a "$s" -le 597
}

# ---- the primary's answer is untouched ----------------------------------------------------
primary_unaltered() {
    local P S L A C1 C2 a b req
    start_backend P --name prim --body-size 20000 || { not_ok "backends start"; return; }
    start_backend S --name shad --garbage || return
    L="$(free_port)"; A="$(free_port)"
    C1="$E2E_TMP/with.yaml"; C2="$E2E_TMP/without.yaml"
    write_config "$C1" "$L" "$A" "$P" "$S" "      percent: 100"
    write_config "$C2" "$L" "$A" "$P" "" "      percent: 100"
    req=$'GET /bytes?x=1 HTTP/1.1\r\nHost: t\r\nCookie: c=1\r\nConnection: close\r\n\r\n'
    start_doppel "$C1" "http://127.0.0.1:$A/readyz" || { not_ok "doppel starts (with shadow)"; return; }
    a="$(raw_http "$L" "$req" | sha256sum)"
    curl -s -m 5 -o "$E2E_TMP/with.body" -H 'X-Status: 201' "http://127.0.0.1:$L/c"
    stop_pid "$DOPPEL_PID"
    start_doppel "$C2" "http://127.0.0.1:$A/readyz" || { not_ok "doppel starts (without shadow)"; return; }
    b="$(raw_http "$L" "$req" | sha256sum)"
    curl -s -m 5 -o "$E2E_TMP/without.body" -H 'X-Status: 201' "http://127.0.0.1:$L/c"
    stop_pid "$DOPPEL_PID"
    check "the primary's response is byte-identical with and without a (garbage) shadow" test "$a" = "$b"
    check "a second response body is identical too" cmp "$E2E_TMP/with.body" "$E2E_TMP/without.body"
    stop_pid "$P_PID"; stop_pid "$S_PID"
}

if ! have_doppel_serve; then
    skip "mirror end-to-end" "this build has no doppel serve"
    exit 0
fi
anonymized_copy
filters_and_routes
percentages
primary_unaltered
