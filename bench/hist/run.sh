#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Builds and runs the hot-path micro-benchmark (see bench_hist.c), from the project root:
#   bench/hist/run.sh
set -e
cd "$(dirname "$0")/../.."
make --no-print-directory build/libdoppel.a >/dev/null
cc -O2 -std=c11 -D_GNU_SOURCE -Isrc -pthread -o build/bench_hist bench/hist/bench_hist.c \
    build/libdoppel.a -lm
echo "machine: $(nproc) cores, $(uname -srm); $(date -u '+%Y-%m-%d %H:%M UTC')"
build/bench_hist
