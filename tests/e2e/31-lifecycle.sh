#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 31-lifecycle: the life of a `doppel serve` process from the outside. Bad configs are
# refused by `doppel check` and `doppel serve` alike with file:line:col and exit 2 (on the
# sanitizer build too, where a crash or a sanitizer report is a failure); the help and
# version commands answer; SIGHUP under load reloads without losing a request, and a broken
# config on SIGHUP is refused while the old one keeps serving; SIGTERM under load lets
# in-flight requests finish, refuses new connections and exits 0 within drain_timeout.
# Real processes on loopback only.
. tests/lib/e2e.sh

PY=/usr/bin/python3

# ---- bad configs ---------------------------------------------------------------------------
# Each case: a file name, its content, and the "line:col: " prefix of the expected message
# followed by a fragment of it (an extended regular expression).
bad_config_case() {   # BUILD LABEL NAME CONTENT WANT_RE
    local bin="$1/doppel" l="$2" f="$E2E_TMP/bad-$3.yaml" out rc out2 rc2 want
    printf '%s' "$4" >"$f"
    want="^$f:$5"
    out="$(timeout -k 2 10 "$bin" check -c "$f" 2>&1)"; rc=$?
    expect_eq "$l check $3: exit 2" "$rc" "2"
    check "$l check $3: prints file:line:col ($(head -1 <<<"$out"))" grep -qE "$want" <<<"$out"
    out2="$(timeout -k 2 10 "$bin" serve -c "$f" 2>&1)"; rc2=$?
    expect_eq "$l serve $3: exit 2" "$rc2" "2"
    expect_eq "$l serve $3: the same message" "$(grep -E "$want" <<<"${out2#doppel serve: }" | head -1)" \
        "$(grep -E "$want" <<<"$out" | head -1)"
    if grep -qE 'Sanitizer|runtime error' <<<"$out$out2"; then
        not_ok "$l $3: no sanitizer report" "$(grep -E -A3 'Sanitizer|runtime error' <<<"$out$out2" | head)"
    fi
}

bad_configs() {   # BUILD LABEL
    local b="$1" l="[$2]"
    local svc=$'services:\n  - name: api\n    listen: 127.0.0.1:1\n    primary: { upstreams: [127.0.0.1:2] }\n'
    bad_config_case "$b" "$l" address "${svc/127.0.0.1:2/127.0.0.1:notaport}" '4:28: .*address'
    bad_config_case "$b" "$l" unknown-key "workers: 2"$'\n'"colour: blue"$'\n'"$svc" '2:1: .*colour'
    bad_config_case "$b" "$l" wrong-type "workers: [1]"$'\n'"$svc" '1:10: '
    bad_config_case "$b" "$l" percent "$svc"$'    mirror: { percent: 12.345 }\n' '5:24: .*0.01'
    bad_config_case "$b" "$l" duplicate "$svc"$'    listen: 127.0.0.1:3\n' '5:5: .*duplicate'
    bad_config_case "$b" "$l" yaml-syntax $'services:\n  - name: [api\n' '[0-9]+:[0-9]+: '
    bad_config_case "$b" "$l" tab $'services:\n\t- name: api\n' '2:[0-9]+: '
    bad_config_case "$b" "$l" no-services $'workers: 1\n' '1:1: .*services'
    bad_config_case "$b" "$l" empty '' '[0-9]+:[0-9]+: '
    bad_config_case "$b" "$l" binary $'\x00\xff\xfe garbage \x01\x02' '[0-9]+:[0-9]+: '
    bad_config_case "$b" "$l" anchors $'a: &x [*x]\n'"$svc" '[0-9]+:[0-9]+: '
    local out rc
    out="$(timeout -k 2 10 "$b/doppel" check -c "$E2E_TMP/does-not-exist.yaml" 2>&1)"; rc=$?
    check "$l check of a missing file names it and fails ($rc)" \
        bash -c "[ $rc -ne 0 ] && grep -q 'does-not-exist.yaml' <<<'$out'"
    printf '%s' "$svc" >"$E2E_TMP/good.yaml"
    check "$l check of a good config exits 0" timeout -k 2 10 "$b/doppel" check -c "$E2E_TMP/good.yaml"
}

# ---- the command line ------------------------------------------------------------------------
cli() {
    local d="${DOPPEL_BUILD:-build}/doppel" out rc
    out="$("$d" --help 2>&1)"; rc=$?
    check "doppel --help exits 0 and lists serve and check" \
        bash -c "[ $rc -eq 0 ] && grep -q '^ *serve ' <<<'$out' && grep -q '^ *check ' <<<'$out'"
    out="$("$d" help serve 2>&1)"; rc=$?
    check "doppel help serve exits 0 and shows the usage" \
        bash -c "[ $rc -eq 0 ] && grep -q '^usage: doppel serve -c FILE' <<<'$out'"
    expect_eq "doppel serve --help prints the same" "$("$d" serve --help 2>&1)" "$out"
    out="$("$d" version 2>&1)"; rc=$?
    check "doppel version exits 0 and prints the version" \
        bash -c "[ $rc -eq 0 ] && grep -qE '^doppel [0-9]+\.[0-9]+\.[0-9]+' <<<'$out'"
    "$d" serve >/dev/null 2>&1; expect_eq "doppel serve without -c exits 2" "$?" "2"
    "$d" serve -c x --bogus >/dev/null 2>&1; expect_eq "doppel serve with an unknown option exits 2" "$?" "2"
    "$d" no-such-command >/dev/null 2>&1; expect_eq "an unknown command exits 2" "$?" "2"
}

# ---- reloads -----------------------------------------------------------------------------
write_config() {   # FILE PERCENT [DRAIN]
    cat >"$1" <<EOF
workers: 2
admin: { listen: 127.0.0.1:$A }
limits: { drain_timeout: ${3:-3s} }
services:
  - name: api
    listen: 127.0.0.1:$L
    primary: { upstreams: [127.0.0.1:$P] }
    shadows: [ { name: s1, upstreams: [127.0.0.1:$S] } ]
    mirror: { percent: $2 }
EOF
}

percent_now() {
    curl -s -m 5 "http://127.0.0.1:$A/v1/services/api" |
        $PY -c 'import json, sys; print(json.load(sys.stdin)["routes"][0]["mirror_percent"])'
}

doppel_child() { pgrep -P "$DOPPEL_PID" | head -1; }

wrk_errors() {   # WRK_OUTPUT -> non-2xx + socket errors
    awk '/Non-2xx/ { n += $NF } /Socket errors/ { gsub(",", ""); n += $4 + $6 + $8 + $10 } END { print n + 0 }' <<<"$1"
}

reloads() {
    local C="$E2E_TMP/live.yaml" out D n i
    L="$(free_port)"; A="$(free_port)"
    write_config "$C" 100
    start_doppel "$C" "http://127.0.0.1:$A/readyz" || { not_ok "doppel starts"; return; }
    D="$(doppel_child)"
    # wrk runs 3 s; three reloads land in it, the second one changing the mirror percent.
    timeout -k 2 20 wrk -t2 -c8 -d3s --timeout 5s "http://127.0.0.1:$L/r" >"$E2E_TMP/wrk" 2>&1 &
    local W=$!
    sleep 0.7; kill -HUP "$D"
    sleep 0.7; write_config "$C" 50; kill -HUP "$D"
    sleep 0.7; kill -HUP "$D"
    wait "$W"
    out="$(cat "$E2E_TMP/wrk")"
    n="$(awk '/requests in/ { print $1 }' <<<"$out")"
    check "SIGHUP under load: wrk ran (${n:-0} requests)" test "${n:-0}" -gt 100
    expect_eq "SIGHUP under load: zero errors" "$(wrk_errors "$out")" "0"
    expect_eq "SIGHUP under load: three reloads logged" "$(grep -c "config '.*' reloaded" "$DOPPEL_LOG")" "3"
    expect_eq "the reload changed the mirror percent" "$(percent_now)" "50"
    local served
    served="$(curl -s -m 5 "http://127.0.0.1:$A/metrics" |
        awk '$1 == "doppel_requests_total{service=\"api\",pool=\"primary\",route=\"default\",class=\"2xx\"}" { print $2 }')"
    check "counters survive the reloads (${served:-none} 2xx counted >= $n served)" test "${served:-0}" -ge "${n:-1}"
    # A broken config on SIGHUP is refused; the old one keeps serving.
    printf 'services:\n  - name: api\n    listen: [broken\n' >"$C"
    kill -HUP "$D"
    for i in $(seq 30); do grep -q 'reload refused' "$DOPPEL_LOG" && break; sleep 0.1; done
    check "a broken config on SIGHUP is refused and logged with file:line:col" \
        grep -qE "reload refused.*$C:[0-9]+:[0-9]+: " "$DOPPEL_LOG"
    check "doppel still runs" pid_alive "$D"
    expect_eq "it still serves" "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$L/after")" "200"
    expect_eq "with the old config (percent 50)" "$(percent_now)" "50"
    # A config that changes the listen address is refused too: that needs a restart.
    A_OLD="$A"; L_OLD="$L"; L="$(free_port)"; write_config "$C" 10; L="$L_OLD"
    kill -HUP "$D"
    for i in $(seq 30); do grep -q 'only change with a restart' "$DOPPEL_LOG" && break; sleep 0.1; done
    check "a new listen address on SIGHUP is refused" grep -q 'only change with a restart' "$DOPPEL_LOG"
    expect_eq "and the old config stays (percent 50)" "$(percent_now)" "50"
    stop_pid "$DOPPEL_PID"
    expect_eq "doppel exits 0 after the reloads" "$?" "0"
}

# A reload may add and remove shadows and routes: copies follow, and the new series appear.
reload_shadows() {
    local C="$E2E_TMP/shadows.yaml" D S2 n1 n2
    start_backend S2 --name s2 --record "$E2E_TMP/s2.jsonl" || { not_ok "second shadow starts"; return; }
    L="$(free_port)"; A="$(free_port)"
    write_config "$C" 100
    start_doppel "$C" "http://127.0.0.1:$A/readyz" || { not_ok "doppel starts (shadows)"; return; }
    D="$(doppel_child)"
    sed -i "s|^    shadows: \[ \(.*\) \]$|    shadows: [ \1, { name: s2, upstreams: [127.0.0.1:$S2] } ]|" "$C"
    printf '    routes: [ { name: fresh, path_prefix: /fresh } ]\n' >>"$C"
    kill -HUP "$D"
    for i in $(seq 30); do [ "$(grep -c 'reloaded' "$DOPPEL_LOG")" -ge 1 ] && break; sleep 0.1; done
    curl -s -m 10 -o /dev/null "http://127.0.0.1:$L/fresh/[1-4]"
    for i in $(seq 30); do [ "$(wc -l <"$E2E_TMP/s2.jsonl")" -ge 4 ] && break; sleep 0.1; done
    expect_eq "a shadow added by SIGHUP receives the copies" "$(wc -l <"$E2E_TMP/s2.jsonl")" "4"
    curl -s -m 5 "http://127.0.0.1:$A/metrics" >"$E2E_TMP/m.txt"
    check "/metrics after the reload passes promtool" bash -c "promtool check metrics <'$E2E_TMP/m.txt'"
    check "/metrics has the new route and shadow" \
        grep -qx 'doppel_requests_total{service="api",pool="s2",route="fresh",class="2xx"} 4' "$E2E_TMP/m.txt"
    write_config "$C" 100
    kill -HUP "$D"
    for i in $(seq 30); do [ "$(grep -c 'reloaded' "$DOPPEL_LOG")" -ge 2 ] && break; sleep 0.1; done
    curl -s -m 10 -o /dev/null "http://127.0.0.1:$L/fresh/[1-4]"
    sleep 0.3   # a copy would reach the removed shadow within this
    expect_eq "a shadow removed by SIGHUP receives nothing more" "$(wc -l <"$E2E_TMP/s2.jsonl")" "4"
    check "the removed route's series stay in /metrics" grep -q 'route="fresh"' \
        <(curl -s -m 5 "http://127.0.0.1:$A/metrics")
    stop_pid "$DOPPEL_PID"
    expect_eq "doppel exits 0 after adding and removing a shadow" "$?" "0"
    stop_pid "$S2_PID"
}

# ---- SIGTERM under load ----------------------------------------------------------------------
drain() {
    local C="$E2E_TMP/drain.yaml" D i codes t0 t1 rc pids=()
    start_backend SLOWP --name slow --delay-ms 1500 --record "$E2E_TMP/slow.jsonl" ||
        { not_ok "slow primary starts"; return; }
    local P_KEEP="$P"; P="$SLOWP"
    L="$(free_port)"; A="$(free_port)"
    write_config "$C" 100 3s
    P="$P_KEEP"
    start_doppel "$C" "http://127.0.0.1:$A/readyz" || { not_ok "doppel starts (drain)"; return; }
    D="$(doppel_child)"
    for i in $(seq 6); do
        curl -s -m 10 -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$L/slow/$i" >"$E2E_TMP/inflight.$i" &
        pids+=($!)
    done
    # SIGTERM once the primary holds all six (it records a request when it has read it, then
    # waits 1.5 s before answering: room for a loaded machine).
    for i in $(seq 100); do [ "$(cat "$E2E_TMP/slow.jsonl" 2>/dev/null | wc -l)" -ge 6 ] && break; sleep 0.02; done
    expect_eq "six requests are in flight at the primary" "$(cat "$E2E_TMP/slow.jsonl" | wc -l)" "6"
    t0="$(date +%s.%N)"
    kill -TERM "$D"
    sleep 0.1
    expect_eq "during the drain /readyz is 503" \
        "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$A/readyz")" "503"
    curl -s -m 2 -o /dev/null "http://127.0.0.1:$L/new"; rc=$?
    expect_eq "during the drain a new connection is refused (curl exit 7)" "$rc" "7"
    wait "${pids[@]}"
    codes="$(cat "$E2E_TMP"/inflight.* | tr '\n' ' ')"
    expect_eq "the in-flight requests complete with 200" "$codes" "200 200 200 200 200 200 "
    wait "$DOPPEL_PID"; rc=$?
    t1="$(date +%s.%N)"
    expect_eq "doppel exits 0 after the drain" "$rc" "0"
    check "doppel exits within drain_timeout (3 s; took $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s)" \
        awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 3.5) }'
    # A second SIGTERM stops at once, without waiting for a request the primary holds 5 s.
    : >"$E2E_TMP/slow.jsonl"
    start_doppel "$C" "http://127.0.0.1:$A/readyz" || { not_ok "doppel restarts (drain)"; return; }
    D="$(doppel_child)"
    curl -s -m 10 -o /dev/null -H 'X-Delay-Ms: 5000' "http://127.0.0.1:$L/held" &
    pids=($!)
    for i in $(seq 100); do [ -s "$E2E_TMP/slow.jsonl" ] && break; sleep 0.02; done
    t0="$(date +%s.%N)"
    kill -TERM "$D"; sleep 0.2; kill -TERM "$D"
    wait "$DOPPEL_PID"
    t1="$(date +%s.%N)"
    check "a second SIGTERM stops at once ($(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s)" \
        awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 2) }'
    wait "${pids[@]}"
    stop_pid "$SLOWP_PID"
}

if ! have_doppel_serve; then
    skip "lifecycle" "this build has no doppel serve"
    exit 0
fi
bad_configs "${DOPPEL_BUILD:-build}" "$(basename "${DOPPEL_BUILD:-build}")"
if [ -n "${DOPPEL_ASAN_BUILD:-}" ]; then
    bad_configs "$DOPPEL_ASAN_BUILD" "$(basename "$DOPPEL_ASAN_BUILD")"
fi
cli
start_backend P --name prim || { not_ok "backends start"; exit 1; }
start_backend S --name shad || exit 1
if command -v wrk >/dev/null; then
    reloads
else
    skip "SIGHUP under load" "wrk is not installed"
fi
reload_shadows
drain
