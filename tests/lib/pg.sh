# SPDX-License-Identifier: Apache-2.0
# pg.sh: throw-away PostgreSQL clusters for tests, demos and benchmarks. Source it after
# e2e.sh (tests) or on its own (scripts; then call pg_stop_all yourself). Each cluster is
# initdb'd into its own temporary directory, listens on a free loopback port only, runs
# with wal_level=logical, and is stopped and removed by pg_stop_all (the EXIT trap of
# e2e.sh runs it). PostgreSQL refuses to run as root, so as root the server runs as the
# `postgres` user of Debian's package.
#   pg_available             true when Debian's PostgreSQL server binaries are installed
#   pg_start VAR [OPTS...]   starts a cluster; VAR=port, VAR_DIR=its directory; OPTS are
#                            extra `-c name=value` server settings
#   pg_stop VAR              stops it (immediate) and removes its directory
#   pg_stop_all              every cluster started
#   pgq PORT DB SQL          runs SQL with psql as the postgres superuser, unaligned output
#   pg_conninfo PORT DB      the libpq connection string of a database

PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
PG_CLUSTERS=()

pg_available() {
    [ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ] && command -v psql >/dev/null
}

pg_as() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
    local var="$1" dir port
    shift
    dir="$(mktemp -d "${TMPDIR:-/tmp}/doppel-pg.XXXXXX")" || return 1
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    port="$(free_port)" || return 1
    if ! pg_as "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C \
        --no-sync >"$dir/initdb.log" 2>&1; then
        echo "# initdb failed:" >&2; sed 's/^/#   /' "$dir/initdb.log" | tail -5 >&2
        return 1
    fi
    local opts="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir"
    opts="$opts -c wal_level=logical -c max_wal_senders=20 -c max_replication_slots=20"
    opts="$opts -c fsync=off -c full_page_writes=off -c shared_buffers=32MB"
    opts="$opts -c max_connections=50 -c wal_sender_timeout=10s $*"
    PG_CLUSTERS+=("$dir")
    if ! pg_as "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 -o "$opts" \
        start >/dev/null 2>&1; then
        echo "# postgres did not start:" >&2; sed 's/^/#   /' "$dir/server.log" | tail -5 >&2
        return 1
    fi
    printf -v "$var" '%s' "$port"
    printf -v "${var}_DIR" '%s' "$dir"
}

pg_stop_dir() {
    local dir="$1"
    [ -d "$dir/data" ] && pg_as "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w -t 10 stop \
        >/dev/null 2>&1
    rm -rf "$dir"
}

pg_stop() {
    local d="${1}_DIR" i
    for i in "${!PG_CLUSTERS[@]}"; do
        [ "${PG_CLUSTERS[$i]}" = "${!d}" ] && unset 'PG_CLUSTERS[i]'
    done
    pg_stop_dir "${!d}"
}

pg_stop_all() {
    local dir
    for dir in "${PG_CLUSTERS[@]}"; do pg_stop_dir "$dir"; done
    PG_CLUSTERS=()
}

pgq() {
    psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d "$2" -c "$3"
}

pg_conninfo() {
    echo "host=127.0.0.1 port=$1 user=postgres dbname=$2"
}

# ds_start VAR CONFIG: runs `$DOPPEL datashadow -c CONFIG` in the background (bounded by
# E2E_LIFETIME); sets VAR_PID (its timeout wrapper) and VAR_LOG.
ds_start() {
    local log="$E2E_TMP/$1.$RANDOM.log"
    timeout -k 3 "$E2E_LIFETIME" "$DOPPEL" datashadow -c "$2" >"$log" 2>&1 </dev/null &
    E2E_PIDS+=("$!")
    printf -v "$1_PID" '%s' "$!"
    printf -v "$1_LOG" '%s' "$log"
}

# ds_kill9 VAR: kill -9 of the doppel process itself. VAR_PID is its `timeout` wrapper,
# which a SIGKILL would take down alone, leaving doppel running.
ds_kill9() {
    local wrapper="${1}_PID" child
    child="$(pgrep -P "${!wrapper}")"
    [ -n "$child" ] && kill -KILL $child
    wait "${!wrapper}" 2>/dev/null
}

# Runs after e2e.sh's own cleanup steps: the clusters go with the test's processes.
if declare -F e2e_cleanup >/dev/null; then
    pg_e2e_cleanup() {
        local rc=$?
        pg_stop_all
        (exit "$rc")
        e2e_cleanup
    }
    trap pg_e2e_cleanup EXIT
fi
