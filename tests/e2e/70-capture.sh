#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 70-capture: what `doppel serve` records with a `capture:` section. Requests go through the
# gateway to a primary and a recording shadow; the capture file must hold one primary record
# per request and one shadow record per copy, each with the request exactly as the shadow
# got it (anonymized: no cookie, no authorization, no raw client address), readable with
# `doppel capture`. Then the writer is stalled (the capture path is a named pipe nobody
# reads): requests still get their answers and the dropped records are counted on /metrics.
. tests/lib/e2e.sh

PY=/usr/bin/python3
D="$E2E_BUILD/doppel"

write_config() {   # FILE LISTEN ADMIN PRIMARY SHADOW CAPTURE_YAML
    cat >"$1" <<EOF2
workers: 2
admin: { listen: 127.0.0.1:$3 }
capture: $6
services:
  - name: api
    listen: 127.0.0.1:$2
    primary: { upstreams: [127.0.0.1:$4] }
    shadows: [ { name: s1, upstreams: [127.0.0.1:$5] } ]
    mirror: { percent: 100, methods: [GET, POST] }
EOF2
}

metric() {   # ADMIN_PORT SERIES
    curl -s -m 5 "http://127.0.0.1:$1/metrics" | awk -v k="$2" '$1 == k { print $2 }'
}

# Waits (<= 5 s) until the capture files hold at least N records; prints the count.
wait_records() {   # N FILES...
    local want="$1" n=0 end=$((SECONDS + 5))
    shift
    while :; do
        n="$("$D" capture inspect --json "$@" 2>/dev/null | $PY -c 'import json,sys; print(sum(f["records"] for f in json.load(sys.stdin)))' 2>/dev/null || echo 0)"
        [ "$n" -ge "$want" ] || [ "$SECONDS" -ge "$end" ] && break
        sleep 0.1
    done
    echo "$n"
}

recorded() {
    local P S L A C n out
    start_backend P --name prim || { not_ok "backends start"; return; }
    start_backend S --name shad --record "$E2E_TMP/shad.jsonl" || return
    L="$(free_port)"; A="$(free_port)"; C="$E2E_TMP/cap.yaml"
    write_config "$C" "$L" "$A" "$P" "$S" "{ path: cap/api-%Y%m%d-%H.dcap, max_file: 1MiB }"
    start_doppel "$C" "http://127.0.0.1:$A/readyz" || { not_ok "doppel starts with capture"; return; }
    curl -s -m 5 -o /dev/null -H 'Cookie: session=s3cr3t-cookie' -H 'Authorization: Bearer t0ken-xyz' \
        -H 'X-Forwarded-For: 10.77.1.2' "http://127.0.0.1:$L/users/12?x=1"
    curl -s -m 5 -o /dev/null --data-binary 'hello-body' "http://127.0.0.1:$L/orders"
    curl -s -m 5 -o /dev/null -H 'X-Status: 503' "http://127.0.0.1:$L/fail"
    local files=("$E2E_TMP"/cap/api-*.dcap)
    n="$(wait_records 6 "${files[@]}")"
    expect_eq "3 requests, 3 copies: 6 records" "$n" "6"
    expect_eq "one file, named by the hour in UTC" "$(basename "${files[0]}")" "api-$(date -u +%Y%m%d-%H).dcap"
    "$D" capture cat --json "${files[@]}" >"$E2E_TMP/cat.jsonl"
    check "no cookie, authorization or client address in the file" \
        bash -c "! grep -aqE 's3cr3t-cookie|t0ken-xyz|10\\.77\\.1\\.2' '${files[0]}'"
    check "records match what the shadow got" $PY - "$E2E_TMP/cat.jsonl" "$E2E_TMP/shad.jsonl" <<'PYEOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
shad = [json.loads(l) for l in open(sys.argv[2])]
prim = [r for r in recs if "primary" in r]
copies = [r for r in recs if "shadow" in r]
assert len(prim) == 3 and len(copies) == 3, (len(prim), len(copies))
by_target = {r["target"]: r for r in prim}
assert set(by_target) == {"/users/12?x=1", "/orders", "/fail"}, by_target.keys()
assert by_target["/fail"]["primary"]["status"] == 503
assert by_target["/orders"]["body"] == "hello-body" and by_target["/orders"]["method"] == "POST"
# the responses' bodies: the primary's in its record, each shadow's in its answer-only record
u = by_target["/users/12?x=1"]
assert u["primary"]["body"] == "prim GET /users/12?x=1\n", u["primary"]
answer = [r for r in copies if r["id"] == u["id"]]
assert len(answer) == 1 and answer[0]["shadow"]["body"] == "shad GET /users/12?x=1\n", answer
for r in prim:
    names = [h["name"].lower() for h in r["headers"]]
    assert "cookie" not in names and "authorization" not in names, names
    xff = [h["value"] for h in r["headers"] if h["name"].lower() == "x-forwarded-for"]
    assert xff and all(a.strip().startswith("anon-") for v in xff for a in v.split(",")), xff
for s in shad:
    r = by_target[s["url"]]
    want = [[k, v] for k, v in s["headers"] if k.lower() not in ("content-length", "x-doppel-shadow")]
    got = [[h["name"], h["value"]] for h in r["headers"]]
    assert got == want, f"capture {got}\nshadow {want}"
ids = {r["id"]: r for r in prim}
for c in copies:   # a shadow record's request is its primary record's (same id)
    assert c["shadow"]["pool"] == "s1" and c["shadow"]["status"] in (200, 503), c["shadow"]
    assert c["id"] in ids and c["method"] == "" and c["headers"] == [], c
    assert c["shadow"]["status"] == ids[c["id"]]["primary"]["status"]
PYEOF
    expect_eq "records counted on /metrics" "$(metric "$A" doppel_capture_records_total)" "6"
    out="$("$D" capture stats --json "${files[@]}" | $PY -c 'import json,sys; s=json.load(sys.stdin); print(s["requests"], s["methods"]["GET"], s["methods"]["POST"], s["status"]["5xx"])')"
    expect_eq "capture stats: 3 requests, 2 GET, 1 POST, one 5xx" "$out" "3 2 1 1"
    "$D" learn "${files[@]}" -o "$E2E_TMP/model.json" >/dev/null
    out="$($PY -c 'import json,sys; m=json.load(open(sys.argv[1])); print(" ".join(sorted(e["method"]+e["path"] for e in m["endpoints"])))' "$E2E_TMP/model.json")"
    expect_eq "doppel learn: the endpoint mix, paths templated" "$out" "GET/fail GET/users/{id} POST/orders"
    "$D" learn "$E2E_TMP/cap.yaml" -o "$E2E_TMP/m2.json" 2>"$E2E_TMP/learn.err"
    expect_eq "doppel learn on a file that is not a capture exits 1" "$?" "1"
    stop_pid "$DOPPEL_PID"
    expect_eq "doppel exits 0 with capture on" "$?" "0"
    stop_pid "$P_PID"; stop_pid "$S_PID"
}

stalled_writer() {
    local P S L A C ok200 dropped
    start_backend P --name prim || { not_ok "backends start"; return; }
    start_backend S --name shad || return
    L="$(free_port)"; A="$(free_port)"; C="$E2E_TMP/stall.yaml"
    mkfifo "$E2E_TMP/pipe.dcap"
    # A reader that never reads: once the pipe is full the writer thread blocks in write(2).
    timeout 60 sleep 60 <"$E2E_TMP/pipe.dcap" &
    local R=$!
    write_config "$C" "$L" "$A" "$P" "$S" "{ path: pipe.dcap, queue: 16 }"
    start_doppel "$C" "http://127.0.0.1:$A/readyz" || { not_ok "doppel starts (stalled capture)"; kill "$R"; return; }
    head -c 8000 /dev/zero | tr '\0' q >"$E2E_TMP/body"
    local urls=()
    for i in $(seq 1 120); do urls+=("http://127.0.0.1:$L/p/$i"); done
    ok200="$(curl -s -m 20 -o /dev/null -w '%{http_code}\n' --data-binary @"$E2E_TMP/body" "${urls[@]}" | grep -c '^200$')"
    expect_eq "every request answered while the capture writer is stuck" "$ok200" "120"
    dropped="$(metric "$A" 'doppel_capture_dropped_total{reason="queue_full"}')"
    check "a full queue drops records and counts them ($dropped)" test "${dropped:-0}" -gt 100
    kill "$R"; wait "$R" 2>/dev/null   # the reader goes: the writer's writes fail, it can finish
    stop_pid "$DOPPEL_PID"
    expect_eq "doppel exits 0 after the stalled capture" "$?" "0"
    stop_pid "$P_PID"; stop_pid "$S_PID"
}

if ! have_doppel_serve; then
    skip "capture end-to-end" "this build has no doppel serve"
    exit 0
fi
recorded
stalled_writer
