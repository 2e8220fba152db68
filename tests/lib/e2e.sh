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
#   start_backend VAR ARGS...   build/tests/backend --port 0 ARGS; VAR=port, VAR_PID=pid,
#                               VAR_LOG=its stderr (stats lines)
#   start_demo_app VAR ARGS...  build/demo-app --port 0 ARGS; the same
#   spawn_backend, spawn_demo_app VAR ARGS... then await_port VAR: the same in two steps,
#                               so several programs start at once
#   start_doppel CONFIG URL     doppel serve -c CONFIG; waits (<= 10 s) until URL answers;
#                               DOPPEL_PID, DOPPEL_LOG
#   have_doppel_serve           true when this build has `doppel serve`
#   stop_pid PID                TERM, KILL after 3 s; returns the process's exit status
#   stop_pids PID...            the same for several at once; fails if any exit status is not 0
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
        p=$((10000 + RANDOM % 22000)) # below the kernel's ephemeral range (32768+)
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

# e2e_reap PID: waits (<= 3 s) for PID to end, KILLs it then; returns its exit status.
# It never sends a second TERM: a process already exiting (a sanitizer build checks for
# leaks after its handlers are gone) would die of it instead of exiting with its status.
e2e_reap() {
    local pid="$1" i
    for ((i = 0; i < 150; i++)); do pid_alive "$pid" || break; sleep 0.02; done
    pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

stop_pid() {
    pid_alive "$1" && kill -TERM "$1" 2>/dev/null
    e2e_reap "$1"
}

# stop_pids PID...: stops several at once; fails when any exited other than 0.
stop_pids() {
    local p rc=0
    for p in "$@"; do pid_alive "$p" && kill -TERM "$p" 2>/dev/null; done
    for p in "$@"; do e2e_reap "$p" || rc=1; done
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

# e2e_spawn VAR BINARY ARGS...: starts a program that prints "port <N>" first, without
# waiting for it; await_port VAR then sets VAR to the port. Starting several programs
# before awaiting any overlaps their start-up (a sanitizer build starts slowly).
e2e_spawn() {
    local var="$1" bin="$2" out
    shift 2
    out="$E2E_TMP/${bin##*/}.$var.$RANDOM"
    "$bin" --port 0 --lifetime "$E2E_LIFETIME" "$@" >"$out.out" 2>"$out.err" </dev/null &
    E2E_PIDS+=("$!")
    printf -v "${var}_PID" '%s' "$!"
    printf -v "${var}_LOG" '%s' "$out.err"
    printf -v "${var}_OUT" '%s' "$out.out"
}

await_port() {
    local var="$1" pid out log port
    pid="${var}_PID" out="${var}_OUT" log="${var}_LOG"
    if ! port="$(e2e_read_port "${!out}" "${!pid}")"; then
        echo "# $var did not report its port; stderr:" >&2
        sed 's/^/#   /' "${!log}" >&2
        return 1
    fi
    printf -v "$var" '%s' "$port"
}

spawn_backend() {
    local var="$1"
    shift
    e2e_spawn "$var" "${E2E_BACKEND:-$E2E_BUILD/tests/backend}" "$@"
}

spawn_demo_app() {
    local var="$1"
    shift
    e2e_spawn "$var" "${E2E_DEMO_APP:-$E2E_BUILD/demo-app}" "$@"
}

start_backend() {
    spawn_backend "$@" && await_port "$1"
}

start_demo_app() {
    spawn_demo_app "$@" && await_port "$1"
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
    # --foreground: timeout passes a TERM to doppel once (not to doppel and then its group,
    # which doppel would read as a second signal: stop at once, no drain).
    timeout --foreground -k 3 "$E2E_LIFETIME" "$E2E_BUILD/doppel" serve -c "$config" \
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

# await SECS CMD...: runs CMD until it succeeds, at most SECS seconds; then once more with
# its output shown (for the failure message).
await() {
    local secs="$1" end
    shift
    end=$((SECONDS + secs))
    while [ "$SECONDS" -lt "$end" ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
    "$@"
}

# await_eq SECS WANT CMD...: runs CMD until it prints WANT, at most SECS seconds; prints
# what it last got when it never does.
await_eq() {
    local secs="$1" want="$2" got end
    shift 2
    end=$((SECONDS + secs))
    while :; do
        got="$("$@" 2>/dev/null)"
        [ "$got" = "$want" ] && return 0
        [ "$SECONDS" -ge "$end" ] && { echo "got '$got', want '$want'"; return 1; }
        sleep 0.2
    done
}
