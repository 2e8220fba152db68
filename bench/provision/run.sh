#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Time from "start shadow" to ready for the demo app under the process driver, next to the
# app's own start (see start_ready.c). From the project root:
#   bench/provision/run.sh [N]        N runs of each (default 30); medians
set -e
cd "$(dirname "$0")/../.."
make --no-print-directory build/libdoppel.a build/doppel build/demo-app >/dev/null
cc -O2 -std=c11 -D_GNU_SOURCE -Isrc -pthread $(pkg-config --cflags libuv) \
    -o build/bench_start_ready bench/provision/start_ready.c build/libdoppel.a \
    $(pkg-config --libs libuv) -lm
echo "machine: $(nproc) cores, $(uname -srm); $(date -u '+%Y-%m-%d %H:%M UTC')"
build/bench_start_ready build/doppel build/demo-app "${1:-30}"
