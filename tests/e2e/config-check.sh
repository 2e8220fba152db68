#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# doppel check: exit codes, the one-line summary, file:line:col errors, --json and the
# generated reference, with the real binary (plain and, when built, ASan+UBSan).
# Prints TAP-style "ok - name" / "not ok - name" lines for scripts/run-tests.
set -u
cd "$(dirname "$0")/../.."
TMP=$(mktemp -d "${TMPDIR:-/tmp}/doppel-e2e-check-XXXXXX")
trap 'rm -rf "$TMP"' EXIT

check() {   # name, expected exit code, command...
    local name="$1" want="$2"; shift 2
    timeout 10 "$@" >"$TMP/out" 2>"$TMP/err"; local rc=$?
    if [ "$rc" -eq "$want" ]; then echo "ok - $name"; else
        echo "not ok - $name (exit $rc, wanted $want)"; sed 's/^/# /' "$TMP/err" | head -5; fi
}
same() {    # name, file, expected text
    if [ "$(cat "$2")" = "$3" ]; then echo "ok - $1"; else
        echo "not ok - $1"; echo "# got: $(head -3 "$2")"; echo "# want: $3"; fi
}

for BUILD in "${DOPPEL_BUILD:-build}" ${DOPPEL_ASAN_BUILD:-}; do
    D="$BUILD/doppel"
    [ -x "$D" ] || { echo "not ok - $D is not built"; continue; }
    check "$BUILD: example loads" 0 "$D" check -c examples/doppel.yaml
    same "$BUILD: summary line" "$TMP/out" "examples/doppel.yaml: ok (1 services, 4 routes, 1 shadows)"
    same "$BUILD: example has no warnings" "$TMP/err" ""
    check "$BUILD: minimal loads" 0 "$D" check -c examples/minimal.yaml
    grep -q "warning: service 'api': no anonymization key_file" "$TMP/err" \
        && echo "ok - $BUILD: minimal warns about the random key" \
        || echo "not ok - $BUILD: minimal warns about the random key"

    printf 'services:\n  - name: api\n    lisen: 127.0.0.1:8080\n' >"$TMP/typo.yaml"
    check "$BUILD: typo exits 2" 2 "$D" check -c "$TMP/typo.yaml"
    same "$BUILD: typo message" "$TMP/err" \
        "$TMP/typo.yaml:3:5: unknown key 'lisen' (did you mean 'listen'?)"
    check "$BUILD: --json error exits 2" 2 "$D" check --json -c "$TMP/typo.yaml"
    grep -qE '"ok":[[:space:]]*false' "$TMP/out" && grep -qE '"error":[[:space:]]*".*:3:5: unknown key' "$TMP/out" \
        && echo "ok - $BUILD: --json error object" || echo "not ok - $BUILD: --json error object"
    check "$BUILD: --json ok" 0 "$D" check -c examples/minimal.yaml --json
    tr -d ' \t\n' <"$TMP/out" >"$TMP/flat"
    grep -qE '"ok":true,"services":1,"routes":1,"shadows":1,"warnings":\["[^"]*","[^"]*"\]' "$TMP/flat" \
        && echo "ok - $BUILD: --json summary" || echo "not ok - $BUILD: --json summary"

    LC_ALL=C awk 'BEGIN { srand(7); for (i = 0; i < 4096; i++) printf "%c", int(rand() * 256) }' \
        >"$TMP/garbage.yaml"
    check "$BUILD: binary garbage exits 2" 2 "$D" check -c "$TMP/garbage.yaml"
    grep -q "^$TMP/garbage.yaml:[0-9]*:[0-9]*: " "$TMP/err" \
        && echo "ok - $BUILD: garbage error has a position" \
        || echo "not ok - $BUILD: garbage error has a position"
    check "$BUILD: missing file exits 2" 2 "$D" check -c "$TMP/none.yaml"
    same "$BUILD: missing file message" "$TMP/err" \
        "$TMP/none.yaml: cannot open: No such file or directory"

    check "$BUILD: no -c is a usage error" 2 "$D" check
    check "$BUILD: unknown option is a usage error" 2 "$D" check --frobnicate
    check "$BUILD: extra argument is a usage error" 2 "$D" check -c a.yaml b.yaml
    check "$BUILD: --help" 0 "$D" check --help
    check "$BUILD: --schema-markdown" 0 "$D" check --schema-markdown
    cmp -s "$TMP/out" docs/config.md && echo "ok - $BUILD: docs/config.md is current" \
        || echo "not ok - $BUILD: docs/config.md is stale (run scripts/gen-config-docs)"
done
