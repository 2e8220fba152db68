#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 05-demo: `make demo` cannot rot. scripts/demo's side-by-side table is checked on a fixed
# /metrics text, its load path on the demo apps directly, and, once this build has
# `doppel serve`, the whole demo through doppel with a short load. Once it has
# `doppel check`, the demo's config and the gateway benchmark's configs are validated too.
. tests/lib/e2e.sh

cat >"$E2E_TMP/metrics.txt" <<'EOF'
# TYPE doppel_requests_total counter
doppel_requests_total{service="demo",pool="primary",route="a",class="2xx"} 900
doppel_requests_total{service="demo",pool="primary",route="b",class="2xx"} 99
doppel_requests_total{service="demo",pool="primary",route="b",class="5xx"} 1
doppel_requests_total{service="demo",pool="v2",route="a",class="2xx"} 880
doppel_requests_total{service="demo",pool="v2",route="a",class="5xx"} 20
doppel_requests_total{service="other",pool="primary",route="a",class="5xx"} 5000
doppel_request_duration_quantile_seconds{service="demo",pool="primary",route="a",quantile="0.5"} 0.02
doppel_request_duration_quantile_seconds{service="demo",pool="primary",route="b",quantile="0.5"} 0.025
doppel_request_duration_quantile_seconds{service="demo",pool="v2",route="a",quantile="0.99"} 0.1234
doppel_request_duration_quantile_seconds{service="demo",pool="v2",route="a",quantile="0.5"} NaN
doppel_request_duration_quantile_seconds_sum{service="demo",pool="primary",route="a"} 99.5
doppel_requests_total{service="demo",pool="primary",route="c",class="other"} 0
doppel_mirror_dropped_total{service="demo",route="a",shadow="v2",reason="queue_full"} 7
doppel_mirror_dropped_total{service="demo",route="b",shadow="v2",reason="timeout"} 3
doppel_upstream_errors_total{service="demo",pool="v2",route="a",kind="reset"} 4
EOF
table="$(scripts/demo --table "$E2E_TMP/metrics.txt" | tr -s ' ')"
row() { grep "^ $1 " <<<"$table" | sed "s/^ $1 //"; }
expect_eq "demo table sums requests over routes and classes" "$(row requests)" "1000 900"
expect_eq "demo table takes the largest quantile over routes, in ms" "$(row 'p50 latency (ms)')" "25.00 -"
expect_eq "demo table shows a missing quantile as -" "$(row 'p99 latency (ms)')" "- 123.40"
expect_eq "demo table treats a NaN quantile as missing" "$(row 'p50 latency (ms)' | cut -d' ' -f2)" "-"
expect_eq "demo table error rate is 5xx over all requests" "$(row 'error rate (5xx)')" "0.10 % 2.22 %"
expect_eq "demo table sums mirror drops over reasons" "$(row 'mirror drops')" "- 10"
expect_eq "demo table counts upstream errors per pool" "$(row 'upstream errors')" "0 4"

out="$(DEMO_DURATION=2 DEMO_CONNS=4 BUILD="$E2E_BUILD" timeout -k 5 60 scripts/demo --no-doppel 2>"$E2E_TMP/demo.err")"
rc=$?
expect_eq "demo --no-doppel exits 0" "$rc" "0"
p50="$(grep '^ *p50 latency' <<<"$out" | awk '{print $(NF-1), $NF}')"
check "demo --no-doppel shows v2 slower than v1 ($p50)" awk -v s="$p50" \
    'BEGIN{split(s, a, " "); exit !(a[1] > 0 && a[2] > a[1])}'
check "demo --no-doppel writes the config with the apps' ports" grep -q 'config written' "$E2E_TMP/demo.err"

if "$E2E_BUILD/doppel" check --help >/dev/null 2>&1; then
    check "examples/demo.yaml passes doppel check" "$E2E_BUILD/doppel" check -c examples/demo.yaml
    for sc in b c; do
        shadow=""
        [ "$sc" = c ] && shadow=127.0.0.1:18082
        GW_LISTEN=127.0.0.1:18090 GW_PRIMARY=127.0.0.1:18081 GW_SHADOW="$shadow" GW_SCENARIO=$sc \
            GW_WORKDIR="$E2E_TMP/gw-$sc" GW_ADMIN=off GW_PRINT_CONFIG=1 bench/gateway/doppel.sh >/dev/null
        check "bench/gateway/doppel.sh config for scenario $sc passes doppel check" \
            "$E2E_BUILD/doppel" check -c "$E2E_TMP/gw-$sc/doppel.yaml"
    done
else
    skip "examples/demo.yaml passes doppel check" "this build has no 'doppel check' yet"
fi

if have_doppel_serve; then
    out="$(DEMO_DURATION=3 DEMO_CONNS=4 BUILD="$E2E_BUILD" timeout -k 5 90 scripts/demo 2>"$E2E_TMP/demo.err")"
    rc=$?
    expect_eq "demo through doppel exits 0" "$rc" "0"
    req="$(grep '^ *requests' <<<"$out" | awk '{print $(NF-1), $NF}')"
    check "demo through doppel counts primary and shadow requests ($req)" awk -v s="$req" \
        'BEGIN{split(s, a, " "); exit !(a[1] > 0 && a[2] > 0)}'
    [ "$rc" -eq 0 ] || sed 's/^/# /' "$E2E_TMP/demo.err" | tail -20
else
    skip "demo through doppel" "this build has no 'doppel serve' yet"
fi
