# SPDX-License-Identifier: Apache-2.0
# e2e.sh: helpers sourced by tests/e2e/*.sh, which scripts/run-tests runs from the project
# root with DOPPEL_BUILD (plain build) and DOPPEL_ASAN_BUILD (sanitizer build, may be empty)
# in the environment. It owns a scratch directory and every process the test starts: all
# are bounded in time and stopped by the EXIT trap, so nothing outlives a test.
#
# Output is TAP-style, as run-tests counts it:
#   ok NAME                     "ok - NAME"
#   not_ok NAME [WHY]           "not ok - NAME" and "# WHY"
#   skip NAME REASON            "ok - NAME # SKIP REASON"
#   check NAME CMD...           ok when CMD exits 0, else not_ok with the tail of its output
#   expect_eq NAME GOT WANT     ok when the two strings are equal
# Processes:
#   start_backend VAR ARGS...   build/tests/backend --port 0 ARGS; VAR=port, VAR_PID=pid
#   start_demo_app VAR ARGS...  build/demo-app --port 0 ARGS; the same
#   start_doppel CONFIG URL     doppel serve -c CONFIG; waits (<= 10 s) until URL answers;
#                               DOPPEL_PID, DOPPEL_LOG
#   have_doppel_serve           true when this build has `doppel serve`
#   stop_pid PID                TERM, KILL after 3 s; returns the process's exit status
#   stop_all                    stop_pid for everything started (the EXIT trap runs it)
# Utilities:
#   free_port                   prints a loopback port nobody listens on
#   wait_for_url URL [SECS] [CODE_RE]  polls with curl until the HTTP code matches CODE_RE
#                               (default: any response); SECS defaults to 10
#   raw_http PORT BYTES [SECS]  sends BYTES over a plain TCP connection, prints all it reads
#                               until the peer closes or SECS (default 3) pass
#   E2E_TMP                     the scratch directory (removed on exit)
# Every process gets at most E2E_LIFETIME seconds (default 120).

set -u -o pipefail

E2E_BUILD="${DOPPEL_BUILD:-build}"
E2E_LIFETIME="${E2E_LIFETIME:-120}"
E2E_TMP="$(mktemp -d "${TMPDIR:-/tmp}/doppel-e2e.XXXXXX")"
E2E_PIDS=()
E2E_FAILED=0

ok() { echo "ok - $1"; }

not_ok() {
    echo "not ok - $1"
    E2E_FAILED=$((E2E_FAILED + 1))
    if [ $# -gt 1 ]; then printf '%s\n' "$2" | sed 's/^/# /'; fi
    return 0
}

skip() { echo "ok - $1 # SKIP $2"; }

check() {
    local name="$1" out
    shift
    if out="$("$@" 2>&1)"; then
        ok "$name"
    else
        not_ok "$name" "failed: $*"$'\n'"$(printf '%s\n' "$out" | tail -5)"
    fi
}

expect_eq() {
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "got '$2', want '$3'"; fi
}

free_port() {
    local p i
    for ((i = 0; i < 50; i++)); do
        p=$((20000 + RANDOM % 40000))
        if [ -z "$(ss -Htan "sport = :$p" 2>/dev/null)" ]; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# True while PID runs (a zombie does not count); reads /proc, no subprocess.
pid_alive() {
    local stat
    [ -r "/proc/$1/stat" ] && read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
    stat="${stat##*) }"
    [ "${stat:0:1}" != Z ]
}

stop_pid() {
    local pid="$1" i rc
    if pid_alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null
        for ((i = 0; i < 150; i++)); do pid_alive "$pid" || break; sleep 0.02; done
        pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    rc=$?
    return "$rc"
}

stop_all() {
    local p
    for p in "${E2E_PIDS[@]}"; do stop_pid "$p"; done
    E2E_PIDS=()
}

e2e_cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_all
    rm -rf "$E2E_TMP"
    if [ "$rc" -eq 0 ] && [ "$E2E_FAILED" -gt 0 ]; then rc=1; fi
    exit "$rc"
}
trap e2e_cleanup EXIT
trap 'exit 130' INT TERM

# Waits (<= 5 s) for "port <N>" on the first line of FILE while PID lives; prints N.
e2e_read_port() {
    local file="$1" pid="$2" i line
    for ((i = 0; i < 250; i++)); do
        line=""
        read -r line 2>/dev/null <"$file"
        if [[ "$line" =~ ^port\ ([0-9]+)$ ]]; then
            echo "${BASH_REMATCH[1]}"
            return 0
        fi
        pid_alive "$pid" || break
        sleep 0.02
    done
    return 1
}

# e2e_start_listener VAR BINARY ARGS...: shared by start_backend and start_demo_app.
e2e_start_listener() {
    local var="$1" bin="$2" out pid port
    shift 2
    out="$E2E_TMP/${bin##*/}.$var.$RANDOM"
    "$bin" --port 0 --lifetime "$E2E_LIFETIME" "$@" >"$out.out" 2>"$out.err" </dev/null &
    pid=$!
    E2E_PIDS+=("$pid")
    printf -v "${var}_PID" '%s' "$pid"
    printf -v "${var}_LOG" '%s' "$out.err"
    if ! port="$(e2e_read_port "$out.out" "$pid")"; then
        echo "# $bin did not report its port; stderr:" >&2
        sed 's/^/#   /' "$out.err" >&2
        return 1
    fi
    printf -v "$var" '%s' "$port"
}

start_backend() {
    local var="$1"
    shift
    e2e_start_listener "$var" "${E2E_BACKEND:-$E2E_BUILD/tests/backend}" "$@"
}

start_demo_app() {
    local var="$1"
    shift
    e2e_start_listener "$var" "${E2E_DEMO_APP:-$E2E_BUILD/demo-app}" "$@"
}

wait_for_url() {
    local url="$1" secs="${2:-10}" re="${3:-^[1-5]}" code="" end
    end=$((SECONDS + secs))
    while [ "$SECONDS" -lt "$end" ]; do
        code="$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$url" 2>/dev/null)"
        [[ "$code" =~ $re ]] && return 0
        sleep 0.1
    done
    echo "# $url not ready after ${secs}s (last HTTP code: ${code:-none})" >&2
    return 1
}

have_doppel_serve() {
    "$E2E_BUILD/doppel" serve --help >/dev/null 2>&1
}

start_doppel() {
    local config="$1" url="$2" i
    DOPPEL_LOG="$E2E_TMP/doppel.$RANDOM.log"
    timeout -k 3 "$E2E_LIFETIME" "$E2E_BUILD/doppel" serve -c "$config" \
        >"$DOPPEL_LOG" 2>&1 </dev/null &
    DOPPEL_PID=$!
    E2E_PIDS+=("$DOPPEL_PID")
    for ((i = 0; i < 100; i++)); do
        if ! pid_alive "$DOPPEL_PID"; then
            echo "# doppel exited during start-up; its log:" >&2
            sed 's/^/#   /' "$DOPPEL_LOG" | tail -20 >&2
            return 1
        fi
        curl -s -o /dev/null -m 1 "$url" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "# doppel not ready at $url after 10 s; its log:" >&2
    sed 's/^/#   /' "$DOPPEL_LOG" | tail -20 >&2
    return 1
}

raw_http() {
    local port="$1" bytes="$2" secs="${3:-3}"
    timeout -k 1 "$secs" bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 7
        printf "%s" "$2" >&3
        cat <&3' _ "$port" "$bytes"
}
