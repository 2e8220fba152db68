#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# doppel.sh: runs doppel as the "gateway" of the shared gateway benchmark harness, following
# its GATEWAY_CMD convention. From the project root, after `make`:
#   GATEWAY_CMD='exec bench/gateway/doppel.sh' ../shared/bench/gateway/run.sh
# Reads GW_LISTEN, GW_PRIMARY, GW_SHADOW (empty: no mirroring) and GW_WORKDIR; writes
# GW_WORKDIR/doppel.yaml (one worker; when GW_SHADOW is set one shadow "s1", 100 % of GET
# mirrored, no anonymization) and execs `doppel serve` on it in the foreground.
# Knobs (env): DOPPEL_BIN (build/doppel), GW_ADMIN (admin listen address; default a free
# loopback port, "off" for none), GW_SHADOW_TIMEOUT (1s), GW_MAX_INFLIGHT (1024),
# GW_PRINT_CONFIG=1 prints the config and exits instead of starting doppel.
set -eu
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DOPPEL_BIN="${DOPPEL_BIN:-$ROOT/build/doppel}"
: "${GW_LISTEN:?GW_LISTEN is not set (run me from the gateway harness)}"
: "${GW_PRIMARY:?GW_PRIMARY is not set}"
: "${GW_WORKDIR:?GW_WORKDIR is not set}"
GW_SHADOW="${GW_SHADOW:-}"

free_port() {
    local p i
    for i in $(seq 50); do
        p=$((10000 + RANDOM % 22000)) # below the kernel's ephemeral range (32768+)
        [ -z "$(ss -Htan "sport = :$p" 2>/dev/null)" ] && { echo "$p"; return 0; }
    done
    return 1
}

admin="${GW_ADMIN:-127.0.0.1:$(free_port)}"
[ "$admin" = off ] && admin='"off"'   # a bare off is a YAML boolean
mkdir -p "$GW_WORKDIR"
config="$GW_WORKDIR/doppel.yaml"
{
    echo "# written by bench/gateway/doppel.sh for scenario ${GW_SCENARIO:-?}"
    echo "workers: 1"
    echo "admin: { listen: $admin }"
    echo "services:"
    echo "  - name: bench"
    echo "    listen: $GW_LISTEN"
    echo "    primary: { upstreams: [$GW_PRIMARY] }"
    if [ -n "$GW_SHADOW" ]; then
        echo "    shadows:"
        echo "      - name: s1"
        echo "        upstreams: [$GW_SHADOW]"
        echo "        timeout: ${GW_SHADOW_TIMEOUT:-1s}"
        echo "        max_inflight: ${GW_MAX_INFLIGHT:-1024}"
        echo "    mirror:"
        echo "      percent: 100"
        echo "      methods: [GET]"
        echo "      anonymize: { drop_headers: [], hash_client_ip: false }"
    fi
} >"$config"
if [ "${GW_PRINT_CONFIG:-0}" = 1 ]; then
    cat "$config"
    exit 0
fi
[ -x "$DOPPEL_BIN" ] || { echo "doppel.sh: $DOPPEL_BIN is not built (run make)" >&2; exit 1; }
exec "$DOPPEL_BIN" serve -c "$config"
