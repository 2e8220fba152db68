#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# memory.sh: resident memory of the gateway under two loads, for doppel and, in the same run,
# NGINX's mirror module as the peer (config from the shared harness's nginx-conf.sh):
#   idle      CONNS (10000) keep-alive client connections, one GET answered on each, then
#             idle; the shadow is healthy
#   inflight  INFLIGHT (1000) mirrored requests stuck in flight: the shadow accepts and reads
#             but never answers (build/tests/backend --hang); one client connection per
#             request, so the figure per request subtracts the idle-connection cost
# RSS is VmRSS summed over the gateway's processes (/proc), read 1 s after the client reports
# all its requests answered, minus the RSS after a short warm-up.
# Run from the project root after `make`:   bench/gateway/memory.sh
# Knobs (env): CONNS INFLIGHT SUTS ("doppel nginx") BUILD (build) NGINX (nginx) KEEP=1 keeps
# the scratch directory. Needs: curl, ss, cc, pkg-config, libuv, http-parser; nginx-light for
# the peer. Every process it starts is bounded (--lifetime, timeout) and stopped on exit.
set -u -o pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
BUILD="${BUILD:-build}"
CONNS="${CONNS:-10000}"
INFLIGHT="${INFLIGHT:-1000}"
NGINX="${NGINX:-nginx}"
SUTS="${SUTS:-doppel nginx}"
NGINX_CONF_SH="$ROOT/../shared/bench/gateway/nginx-conf.sh"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/doppel-memory.XXXXXX")"
PIDS=()
SUT_SID=""

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

pid_alive() { [ -n "$(ps -o stat= -p "$1" 2>/dev/null | grep -v '^Z')" ]; }

stop_pid() {
    local i
    kill -TERM "$1" 2>/dev/null
    for i in $(seq 30); do pid_alive "$1" || break; sleep 0.1; done
    pid_alive "$1" && kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    return 0
}

stop_sut() {
    [ -n "$SUT_SID" ] || return 0
    local i
    kill -TERM -- "-$SUT_SID" 2>/dev/null
    for i in $(seq 50); do [ -z "$(ps -o pid= --sid "$SUT_SID" 2>/dev/null)" ] && break; sleep 0.1; done
    kill -KILL -- "-$SUT_SID" 2>/dev/null
    wait "$SUT_SID" 2>/dev/null
    SUT_SID=""
}

cleanup() {
    local rc=$? p
    trap - EXIT INT TERM
    stop_sut
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
    if [ "${KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    local p i
    for i in $(seq 50); do
        p=$((10000 + RANDOM % 22000)) # below the kernel's ephemeral range (32768+)
        [ -z "$(ss -Htan "sport = :$p" 2>/dev/null)" ] && { echo "$p"; return 0; }
    done
    return 1
}

# start_backend NAME ARGS...: build/tests/backend on a free port; sets PORT_<NAME>, PID_<NAME>.
start_backend() {
    local name="$1" i port=""
    shift
    "$BUILD/tests/backend" --port 0 --name "$name" --lifetime 1200 "$@" \
        >"$WORK/backend-$name.out" 2>"$WORK/backend-$name.log" </dev/null &
    PIDS+=($!)
    printf -v "PID_$name" '%s' "$!"
    for i in $(seq 100); do
        port="$(sed -n '1s/^port \([0-9]*\)$/\1/p' "$WORK/backend-$name.out")"
        [ -n "$port" ] && break
        sleep 0.05
    done
    [ -n "$port" ] || die "backend $name did not start"
    printf -v "PORT_$name" '%s' "$port"
}

backend_requests() {   # NAME -> requests received so far (fresh SIGUSR1 snapshot)
    local pid log="$WORK/backend-$1.log" before i
    eval "pid=\$PID_$1"
    before="$(grep -c '^stats' "$log")"
    kill -USR1 "$pid"
    for i in $(seq 50); do [ "$(grep -c '^stats' "$log")" -gt "$before" ] && break; sleep 0.02; done
    grep '^stats' "$log" | tail -1 | sed 's/.*requests=\([0-9]*\).*/\1/'
}

rss_kib() {   # VmRSS summed over the SUT session's processes
    local p t=0 v
    for p in $(ps -o pid= --sid "$SUT_SID" 2>/dev/null); do
        v="$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null)"
        t=$((t + ${v:-0}))
    done
    echo "$t"
}

nginx_config() {   # prefix listen shadow-port
    # shellcheck source=/dev/null
    . "$NGINX_CONF_SH"
    nginx_conf "$1" "$2" "$PORT_primary" "$3"
    # Room for every client connection and as many upstream ones: short of connections,
    # nginx closes idle keep-alive clients ("worker_connections are not enough, reusing
    # connections"), which would measure fewer connections than asked for.
    local wc=$((CONNS * 2 + INFLIGHT * 2 + 1024))
    sed -i -e "s/worker_connections [0-9]*;/worker_connections $wc;/" \
        -e "s/^worker_processes 1;/worker_processes 1;\nworker_rlimit_nofile $((wc + 64));/" \
        -e "s/proxy_read_timeout 2s;/proxy_read_timeout 600s;/" -e "s/^\(error_log .*\) error;/\1 info;/" "$1/nginx.conf"
}

start_sut() {   # sut shadow-port phase -> SUT_SID, LISTEN
    local sut="$1" shadow="$2" phase="$3" dir="$WORK/$1-$3" i
    mkdir -p "$dir"
    LISTEN="$(free_port)" || die "no free port"
    if [ "$sut" = doppel ]; then
        GW_LISTEN="127.0.0.1:$LISTEN" GW_PRIMARY="127.0.0.1:$PORT_primary" \
            GW_SHADOW="127.0.0.1:$shadow" GW_WORKDIR="$dir" GW_SCENARIO="memory-$phase" \
            GW_SHADOW_TIMEOUT=600s GW_MAX_INFLIGHT=$((INFLIGHT * 2)) DOPPEL_BIN="$BUILD/doppel" \
            timeout -k 5 900 setsid bench/gateway/doppel.sh >"$dir/gateway.log" 2>&1 </dev/null &
    else
        nginx_config "$dir/nginx" "$LISTEN" "$shadow"
        timeout -k 5 900 setsid "$NGINX" -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -e stderr \
            >"$dir/gateway.log" 2>&1 </dev/null &
    fi
    local tpid=$!
    for i in $(seq 100); do
        SUT_SID="$(ps -o pid= --ppid "$tpid" 2>/dev/null | tr -d ' ' | head -1)"
        [ -n "$SUT_SID" ] && break
        sleep 0.05
    done
    PIDS+=("$tpid")
    for i in $(seq 100); do
        [ "$(curl -s -o /dev/null -m 1 -w '%{http_code}' "http://127.0.0.1:$LISTEN/")" = 200 ] && return 0
        pid_alive "$tpid" || break
        sleep 0.1
    done
    log "$sut did not start; $dir/gateway.log:"
    tail -5 "$dir/gateway.log" >&2
    return 1
}

# load N: idle-conns with N connections, one request each, in the background (CLIENT);
# returns once it reports, leaving its "ready" line in CLIENT_OUT.
load() {
    local n="$1" i
    CLIENT_OUT="$WORK/client.$RANDOM"
    timeout -k 5 600 "$WORK/idle-conns" --port "$LISTEN" --conns "$n" --requests 1 --hold 500 \
        >"$CLIENT_OUT" 2>&1 </dev/null &
    CLIENT=$!
    for i in $(seq 1200); do
        grep -q '^ready' "$CLIENT_OUT" && return 0
        pid_alive "$CLIENT" || break
        sleep 0.1
    done
    echo "ready conns=$n ok=? failed=? (client did not finish)" >>"$CLIENT_OUT"
}

measure() {   # sut phase shadow-name units
    local sut="$1" phase="$2" shadow="$3" units="$4" r0 r1 got s0 s1
    local sport
    eval "sport=\$PORT_$shadow"
    if ! start_sut "$sut" "$sport" "$phase"; then
        printf '%s\t%s\tFAIL\n' "$sut" "$phase" >>"$WORK/results.tsv"
        stop_sut
        return 0
    fi
    curl -s -o /dev/null -m 5 "http://127.0.0.1:$LISTEN/warm/[1-20]"
    sleep 1
    s0="$(backend_requests "$shadow")"
    r0="$(rss_kib)"
    load "$units"
    got="$(grep -m1 '^ready' "$CLIENT_OUT")"
    sleep 1
    r1="$(rss_kib)"
    s1="$(backend_requests "$shadow")"
    log "$sut $phase: rss ${r0} -> ${r1} KiB; client: $got; shadow received $((s1 - s0))"
    # per unit of what is really held: connections the gateway closed do not count
    local held
    held="$(echo "$got" | sed -n 's/.* ok=\([0-9][0-9]*\) .*/\1/p')"
    [ -n "$held" ] && [ "$held" -gt 0 ] && units="$held"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$sut" "$phase" "$units" "$r0" "$r1" "$((s1 - s0))" \
        "$(echo "$got" | sed 's/^ready //')" >>"$WORK/results.tsv"
    stop_pid "$CLIENT"
    stop_sut
}

report() {
    awk -F'\t' '
    $3 == "FAIL" { printf "%-8s %-9s  failed to start\n", $1, $2; next }
    {
        d = ($5 - $4) / $3
        if ($2 == "idle") conn[$1] = d
        per = ($2 == "inflight" && ($1 in conn)) ? d - conn[$1] : d
        what = ($2 == "idle") ? "KiB/connection" : "KiB/request (net of its connection)"
        printf "%-8s %-9s %6d  %8.1f MiB -> %8.1f MiB   %7.2f %s   shadow got %d; %s\n",
            $1, $2, $3, $4 / 1024, $5 / 1024, per, what, $6, $7
    }' "$WORK/results.tsv"
}

# ---- preflight
need=$((CONNS + INFLIGHT * 2 + 1024))   # per process: clients plus upstream connections
ulimit -n "$(ulimit -Hn)" 2>/dev/null
[ "$(ulimit -n)" -ge $((need + 64)) ] || die "open files limit $(ulimit -n) < $need: raise it (ulimit -Hn) or lower CONNS"
for t in curl ss cc pkg-config setsid timeout; do command -v "$t" >/dev/null || die "missing tool: $t"; done
[ -x "$BUILD/tests/backend" ] || die "$BUILD/tests/backend is not built (run make)"
case " $SUTS " in *" nginx "*)
    if ! command -v "$NGINX" >/dev/null || [ ! -r "$NGINX_CONF_SH" ]; then
        log "nginx or $NGINX_CONF_SH not found: measuring doppel only"
        SUTS="${SUTS//nginx/}"
    fi;;
esac
cc -O2 -o "$WORK/idle-conns" bench/gateway/idle-conns.c $(pkg-config --cflags --libs libuv) \
    -lhttp_parser || die "cannot build idle-conns"

start_backend primary
start_backend healthy
start_backend stuck --hang
{
    echo "date: $(date -Is)"; echo "host: $(uname -srm), $(nproc) cpus"
    echo "settings: CONNS=$CONNS INFLIGHT=$INFLIGHT SUTS=$SUTS"
    echo "nginx: $("$NGINX" -v 2>&1)"
} | tee "$WORK/env.txt" >&2
: >"$WORK/results.tsv"
for phase in idle inflight; do
    for sut in $SUTS; do
        if [ "$phase" = idle ]; then measure "$sut" idle healthy "$CONNS"; else measure "$sut" inflight stuck "$INFLIGHT"; fi
    done
done
echo "RSS (VmRSS of all the gateway's processes) after warm-up -> under load;"
echo "per unit = difference / connections (or requests) the client still holds answered (ok=)"
report | tee "$WORK/summary.txt"
