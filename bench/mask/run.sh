#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Builds and runs the masking micro-benchmark (see bench_mask.c), from the project root:
#   bench/mask/run.sh
set -e
cd "$(dirname "$0")/../.."
make --no-print-directory build/libdoppel.a >/dev/null
cc -O2 -std=c11 -D_GNU_SOURCE -Isrc -pthread -o build/bench_mask bench/mask/bench_mask.c \
    build/libdoppel.a $(pkg-config --libs openssl) -lm
echo "machine: $(nproc) cores, $(uname -srm); $(date -u '+%Y-%m-%d %H:%M UTC')"
build/bench_mask
