#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# replay.sh: requests/s one `doppel replay` process sustains against a fast loopback server,
# next to wrk measured in the same run. Not part of `make test`; run on demand from the
# project root after `make`, on a machine as quiet as you can get, and quote medians.
#
#   bench/replay/replay.sh            # REPS=3 DURATION=10 CONNS=64
#   REPS=1 DURATION=3 bench/replay/replay.sh   # quick look
#
# The server is NGINX (one worker, `return 200`, no access log) pinned to CPU 0; each client
# is pinned to CPU 1, so "one core" is literal. Per repetition:
#   wrk      wrk -t1 -cCONNS: closed loop, as fast as the server answers (the peer);
#   replay   doppel replay url:/ --loop at 1.5 x wrk's rate, open loop: the sender offers
#            more than it can carry, so responses/s is what one replay process sustains;
#   fixed    doppel replay at 50 % and 90 % of wrk's rate: achieved rate and p99 from the
#            scheduled time. wrk2's fixed-rate mode (`wrk -R`) would be the peer here, but
#            Debian's wrk is the original wrk, which has no -R; the table says so.
# CPU seconds of each client come from /proc (user + system of the finished process).
# Prints a Markdown table and the medians. Needs: nginx, wrk, taskset, /usr/bin/python3.
set -eu
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DOPPEL="${DOPPEL_BIN:-$ROOT/build/doppel}"
REPS="${REPS:-3}"
DURATION="${DURATION:-10}"
CONNS="${CONNS:-64}"
PY=/usr/bin/python3
WORK="$(mktemp -d "${TMPDIR:-/tmp}/doppel-bench-replay.XXXXXX")"
NGINX_PID=""

cleanup() {
    [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    local p i
    for i in $(seq 50); do
        p=$((10000 + RANDOM % 22000))
        [ -z "$(ss -Htan "sport = :$p" 2>/dev/null)" ] && { echo "$p"; return 0; }
    done
    return 1
}

for tool in nginx wrk taskset; do
    command -v "$tool" >/dev/null || { echo "replay.sh: '$tool' is missing" >&2; exit 2; }
done
[ -x "$DOPPEL" ] || { echo "replay.sh: build doppel first (make)" >&2; exit 2; }

PORT="$(free_port)"
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$PORT;
        location / { return 200 "ok\n"; }
    }
}
EOF
taskset -c 0 nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" &
NGINX_PID=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done

# cpu_of CMD...: runs CMD pinned to CPU 1; stdout to $WORK/out; prints its CPU seconds.
cpu_of() {
    /usr/bin/time -f "%U %S" -o "$WORK/time" taskset -c 1 "$@" >"$WORK/out" 2>"$WORK/err"
    awk '{ printf "%.2f", $1 + $2 }' "$WORK/time"
}

results="$WORK/results.txt"
: >"$results"
for rep in $(seq "$REPS"); do
    cpu=$(cpu_of wrk -t1 -c"$CONNS" -d"${DURATION}s" "http://127.0.0.1:$PORT/")
    wrk_rps=$(awk '/^Requests\/sec:/ { print $2 }' "$WORK/out")
    echo "wrk $rep $wrk_rps $cpu" >>"$results"
    offered=$($PY -c "print(int(1.5 * float('$wrk_rps')))")
    cpu=$(cpu_of "$DOPPEL" replay url:/ --target "http://127.0.0.1:$PORT" --rate "$offered/s" \
        --loop --duration "${DURATION}s" --connections "$CONNS" --timeout 5s --json)
    rps=$($PY -c "import json; j=json.load(open('$WORK/out')); print('%.0f' % (j['responses'] / j['elapsed_s']))")
    echo "replay $rep $rps $cpu" >>"$results"
    for pct in 50 90; do
        rate=$($PY -c "print(int($pct / 100 * float('$wrk_rps')))")
        cpu=$(cpu_of "$DOPPEL" replay url:/ --target "http://127.0.0.1:$PORT" --rate "$rate/s" \
            --loop --duration "${DURATION}s" --connections "$CONNS" --timeout 5s --json)
        $PY -c "import json; j=json.load(open('$WORK/out'))
print('fixed%s %s %.0f %s %.0f %.2f %d' % ('$pct', '$rep', j['achieved_rps'], '$cpu', $rate, j['latency_ms']['p99'], j['errors']['total']))" >>"$results"
    done
done

echo "machine: $(nproc) cores, $(uname -srm); $(date -u '+%Y-%m-%d %H:%M UTC'); REPS=$REPS DURATION=${DURATION}s CONNS=$CONNS"
echo "server: $(nginx -v 2>&1 | sed 's/.*: //'), 1 worker on CPU 0; clients on CPU 1"
echo
echo "| run | client | requests/s | client CPU s | asked/s | p99 ms | errors |"
echo "|---|---|---|---|---|---|---|"
awk '$1 == "wrk" || $1 == "replay" { printf "| %s | %s | %s | %s | | | |\n", $2, $1, $3, $4 }
     $1 ~ /^fixed/ { printf "| %s | replay %s %% fixed rate | %s | %s | %s | %s | %s |\n", $2, substr($1, 6), $3, $4, $5, $6, $7 }' "$results"
echo "| - | wrk2 fixed rate (wrk -R) | not available: Debian's wrk has no -R | | | | |"
echo
$PY - "$results" <<'PYEOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
def med(kind, col): return statistics.median(float(r[col]) for r in rows if r[0] == kind)
w, r = med("wrk", 2), med("replay", 2)
print("median requests/s: wrk %.0f, doppel replay %.0f (%.2f x wrk)" % (w, r, r / w))
print("median CPU s per run: wrk %.2f, doppel replay %.2f" % (med("wrk", 3), med("replay", 3)))
for p in ("50", "90"):
    print("median at %s %% of wrk's rate: achieved %.0f/s, p99 %.2f ms" % (p, med("fixed" + p, 2), med("fixed" + p, 5)))
PYEOF
