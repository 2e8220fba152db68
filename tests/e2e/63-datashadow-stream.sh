#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The data shadow with large transactions streamed before they commit (pgoutput protocol
# version 2, PostgreSQL 14 or later). The source runs with logical_decoding_work_mem=64kB,
# so a transaction of 20,000 rows is streamed in segments: it must reach the shadow whole
# at its commit and not before, a rolled-back one must leave nothing, ROLLBACK TO SAVEPOINT
# must drop exactly the rolled-back rows, and kill -9 while one is streaming must lose and
# duplicate nothing after a restart. `streaming: off` keeps protocol version 1.
source "$(dirname "$0")/../lib/e2e.sh"
source "$(dirname "$0")/../lib/pg.sh"

DOPPEL="$E2E_BUILD/doppel"
if ! pg_available; then
    skip "datashadow-stream" "PostgreSQL server binaries not installed (scripts/install-deps)"
    exit 0
fi
pg_start PG -c logical_decoding_work_mem=64kB || { not_ok "start a PostgreSQL cluster"; exit 1; }
if [ "$(pgq "$PG" postgres 'SHOW server_version_num')" -lt 140000 ]; then
    skip "datashadow-stream" "PostgreSQL before 14 does not stream in-progress transactions"
    exit 0
fi
psql -X -q -h 127.0.0.1 -p "$PG" -U postgres -d postgres -c "CREATE DATABASE src" \
    -c "CREATE DATABASE shadow" -c "CREATE DATABASE shadow2" || exit 1
pgq "$PG" src "
CREATE TABLE big (id int PRIMARY KEY, email text NOT NULL, note text);
CREATE TABLE marks (id int PRIMARY KEY, what text);
INSERT INTO big SELECT i, 'seed' || i || '@example.com', 'seed' FROM generate_series(1, 100) i;" \
    || exit 1

head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$E2E_TMP/anon.key"
write_config() { # FILE SHADOW SLOT [EXTRA YAML LINES]
    local file="$1" shadow="$2" slot="$3"
    shift 3
    {
        echo "data:"
        echo "  source: \"$(pg_conninfo "$PG" src)\""
        echo "  shadow: \"$(pg_conninfo "$PG" "$shadow")\""
        echo "  slot: $slot"
        echo "  publication: pub_all"
        echo "  status_interval: 500ms"
        echo "  key_file: anon.key"
        echo "  tables:"
        echo "    big:"
        echo "      columns:"
        echo "        email: hash:email"
        printf '%s\n' "$@"
    } >"$file"
}
write_config "$E2E_TMP/ds.yaml" shadow v2
verified() { "$DOPPEL" datashadow -c "$1" --verify; }
caught_up() {
    "$DOPPEL" datashadow -c "$1" --status --json | python3 -c '
import json, sys
sys.exit(0 if json.load(sys.stdin)["bytes_behind"] == 0 else 1)'
}
# Transactions the source has streamed from slot SLOT so far.
streamed() { pgq "$PG" src "SELECT coalesce(sum(stream_txns), 0) FROM pg_stat_replication_slots WHERE slot_name = '$1'"; }
shadow_count() { pgq "$PG" "${2:-shadow}" "SELECT count(*) FROM big WHERE $1"; }
# Runs SQL in the background on the source (a transaction held open by pg_sleep); BG_PID.
source_bg() {
    psql -X -q -h 127.0.0.1 -p "$PG" -U postgres -d src -v ON_ERROR_STOP=1 -c "$1" >/dev/null 2>&1 &
    BG_PID=$!
    E2E_PIDS+=("$BG_PID")
}
ROWS="SELECT i, 'u' || i || '@example.com', repeat(md5(i::text), 15) FROM generate_series"

ds_start DS "$E2E_TMP/ds.yaml"
check "snapshot recorded and streaming" await 20 caught_up "$E2E_TMP/ds.yaml"
check "protocol version 2 requested" grep -q "protocol version 2" "$DS_LOG"

streamed_over() { [ "$(streamed "$1")" -gt "$2" ]; } # SLOT N

# --- (1) a 20,000-row transaction held open: streamed, applied whole at its commit ---
# Rows of ~500 bytes: 10 MB, past the 8 MiB memory cap, so the spool spills to its file.
BEFORE="$(streamed v2)"
source_bg "BEGIN; INSERT INTO big $ROWS(1001, 21000) i; SELECT pg_sleep(5); COMMIT;"
check "the open transaction is streamed before its commit" await 10 streamed_over v2 "$BEFORE"
pgq "$PG" src "INSERT INTO marks VALUES (1, 'while the big one is open')"
check "a small transaction committed meanwhile is applied first" \
    await_eq 10 1 pgq "$PG" shadow "SELECT count(*) FROM marks WHERE id = 1"
expect_eq "none of its rows on the shadow before the commit" "$(shadow_count 'id > 1000')" 0
check "the source transaction is still open" pid_alive "$BG_PID"
wait "$BG_PID"
check "all 20,000 rows on the shadow after the commit" await_eq 20 20000 shadow_count 'id > 1000'
check "masked on the way" await_eq 5 0 shadow_count "email LIKE '%@example.com'"
check "applied as a streamed transaction" grep -q "applied streamed transaction" "$DS_LOG"
check "verify clean after a streamed transaction" verified "$E2E_TMP/ds.yaml"

# --- (2) a big transaction rolled back leaves nothing -------------------------------
BEFORE="$(streamed v2)"
pgq "$PG" src "BEGIN; INSERT INTO big $ROWS(100001, 120000) i; ROLLBACK;"
pgq "$PG" src "INSERT INTO marks VALUES (2, 'after the rollback')"
check "a marker after the rollback arrives" await_eq 20 1 pgq "$PG" shadow "SELECT count(*) FROM marks WHERE id = 2"
check "the rolled-back transaction was streamed" streamed_over v2 "$BEFORE"
expect_eq "nothing of the rolled-back transaction" "$(shadow_count 'id > 100000')" 0

# --- two big transactions at once: their segments interleave ---------------------------
BEFORE="$(streamed v2)"
source_bg "BEGIN; INSERT INTO big $ROWS(500001, 510000) i; SELECT pg_sleep(1);
           INSERT INTO big $ROWS(510001, 520000) i; COMMIT;"
ONE=$BG_PID
source_bg "BEGIN; INSERT INTO big $ROWS(600001, 610000) i; SELECT pg_sleep(1);
           INSERT INTO big $ROWS(610001, 620000) i; ROLLBACK;"
wait "$ONE" "$BG_PID"
pgq "$PG" src "INSERT INTO marks VALUES (3, 'after the pair')"
check "after two interleaved transactions" await_eq 20 1 pgq "$PG" shadow "SELECT count(*) FROM marks WHERE id = 3"
check "both were streamed" streamed_over v2 "$((BEFORE + 1))"
expect_eq "the committed one whole" "$(shadow_count 'id BETWEEN 500001 AND 520000')" 20000
expect_eq "the rolled-back one not at all" "$(shadow_count 'id BETWEEN 600001 AND 620000')" 0

# --- (3) ROLLBACK TO SAVEPOINT in the middle of a streamed transaction -----------------
BEFORE="$(streamed v2)"
pgq "$PG" src "BEGIN;
INSERT INTO big $ROWS(200001, 210000) i;
SAVEPOINT a; INSERT INTO big $ROWS(210001, 220000) i;
SAVEPOINT a2; UPDATE big SET note = 'nested' WHERE id BETWEEN 210001 AND 210100;
ROLLBACK TO SAVEPOINT a;
UPDATE big SET note = 'kept' WHERE id BETWEEN 200001 AND 200050;
SAVEPOINT b; INSERT INTO big $ROWS(220001, 225000) i; RELEASE SAVEPOINT b;
DELETE FROM big WHERE id BETWEEN 209991 AND 210000;
COMMIT;"
check "the savepoint transaction arrives" await_eq 20 14990 shadow_count 'id BETWEEN 200001 AND 299999'
check "it was streamed" streamed_over v2 "$BEFORE"
expect_eq "no row of the rolled-back savepoint" "$(shadow_count 'id BETWEEN 210001 AND 220000')" 0
expect_eq "changes after the rollback kept" "$(shadow_count "note = 'kept'")" 50
check "verify clean after savepoints" verified "$E2E_TMP/ds.yaml"

# --- (5) long runs of inserts go through COPY, short ones as INSERTs: same shadow rows ------
# 5,000 inserts into big in two runs, with inserts into marks and an update of a row of
# the first run between them; notes hold tab, newline, carriage return, backslash, \N as
# text, NULL and non-ASCII. Then 40 of the same source values (rows 702001-702040, which
# went through the first run's COPY) in a transaction short enough for prepared INSERTs
# (ids + 1,000,000): both paths must give the same masked email and the same note.
NOTE="CASE i % 5 WHEN 0 THEN NULL WHEN 1 THEN E'tab\there' WHEN 2 THEN E'line\nbreak\r\n'
      WHEN 3 THEN E'back\\\\slash \\\\N' ELSE 'ünïcødé ✓ 日本' END"
RUN="SELECT i, 'r' || i || '@example.com', $NOTE FROM generate_series"
pgq "$PG" src "BEGIN;
INSERT INTO big $RUN(700001, 702500) i;
INSERT INTO marks VALUES (10, E'a\tb'), (11, NULL);
UPDATE big SET note = E'upd\tated\\\\' WHERE id = 700010;
INSERT INTO big $RUN(702501, 705000) i;
INSERT INTO marks VALUES (12, 'c');
COMMIT;"
pgq "$PG" src "INSERT INTO big SELECT i + 1000000, 'r' || i || '@example.com', $NOTE
               FROM generate_series(702001, 702040) i"
check "runs: 5,000 inserts arrive" await_eq 20 5000 shadow_count 'id BETWEEN 700001 AND 705000'
check "runs: the short transaction arrives" await_eq 20 40 shadow_count 'id > 1000000'
expect_eq "runs: the other table's inserts" \
    "$(pgq "$PG" shadow "SELECT count(*) FROM marks WHERE id BETWEEN 10 AND 12")" 3
expect_eq "runs: the update after the first run" \
    "$(shadow_count "id = 700010 AND note = E'upd\\tated\\\\'")" 1
expect_eq "runs: NULLs kept" "$(shadow_count 'id BETWEEN 700001 AND 705000 AND note IS NULL')" 999
expect_eq "runs: masked" "$(shadow_count "id > 700000 AND email LIKE '%@example.com'")" 0
expect_eq "runs: COPY and INSERT give the same masked values" "$(pgq "$PG" shadow "
    SELECT count(*) FROM big a JOIN big b ON b.id = a.id + 1000000
    WHERE a.email = b.email AND a.note IS NOT DISTINCT FROM b.note")" 40
expect_eq "runs: every special note as on the source" "$(pgq "$PG" shadow "
    SELECT string_agg(DISTINCT md5(coalesce(note, '-')), ',' ORDER BY md5(coalesce(note, '-')))
    FROM big WHERE id BETWEEN 700011 AND 705000")" "$(pgq "$PG" src "
    SELECT string_agg(DISTINCT md5(coalesce(note, '-')), ',' ORDER BY md5(coalesce(note, '-')))
    FROM big WHERE id BETWEEN 700011 AND 705000")"
check "runs: verify clean" verified "$E2E_TMP/ds.yaml"
expect_eq "runs: row counts equal" "$(pgq "$PG" shadow 'SELECT count(*) FROM big')" \
    "$(pgq "$PG" src 'SELECT count(*) FROM big')"

# A COPY the shadow refuses (a CHECK only the shadow has): doppel stops naming the table,
# and nothing of that transaction, its other table's insert included, is on the shadow.
pgq "$PG" shadow "ALTER TABLE big ADD CONSTRAINT shadow_only CHECK (note <> 'refused')"
pgq "$PG" src "BEGIN; INSERT INTO marks VALUES (20, 'before the run');
INSERT INTO big SELECT i, 'f' || i || '@example.com', CASE WHEN i = 800350 THEN 'refused'
    ELSE 'fine' END FROM generate_series(800001, 800400) i; COMMIT;"
check "refused COPY: doppel stops" await 20 bash -c "! { $(declare -f pid_alive); pid_alive $DS_PID; }"
pid_alive "$DS_PID" && kill -TERM "$DS_PID"
wait "$DS_PID"
expect_eq "refused COPY: exit status 1" "$?" 1
check "refused COPY: the error names the table and the constraint" \
    grep -q "table 'public.big'.*shadow_only" "$DS_LOG"
check "refused COPY: it was a COPY" grep -q "COPY big" "$DS_LOG"
grep -A2 "shadow_only" "$DS_LOG" | head -3 | sed 's/^/# /'
expect_eq "refused COPY: nothing of the transaction on the shadow" \
    "$(pgq "$PG" shadow "SELECT (SELECT count(*) FROM big WHERE id BETWEEN 800001 AND 800400)
                                + (SELECT count(*) FROM marks WHERE id = 20)")" 0
pgq "$PG" shadow "ALTER TABLE big DROP CONSTRAINT shadow_only"
ds_start DS "$E2E_TMP/ds.yaml"
check "refused COPY: applied after the restart" await_eq 20 400 shadow_count 'id BETWEEN 800001 AND 800400'

# --- (4) kill -9 while a big transaction streams, restart, converge -----------------------
BEFORE="$(streamed v2)"
source_bg "BEGIN; INSERT INTO big $ROWS(300001, 320000) i; UPDATE big SET note = 'late' WHERE id <= 100; SELECT pg_sleep(2); COMMIT;"
check "streaming when killed" await 10 streamed_over v2 "$BEFORE"
ds_kill9 DS
wait "$BG_PID"
expect_eq "killed before the commit reached the shadow" "$(shadow_count 'id BETWEEN 300001 AND 399999')" 0
ds_start DS "$E2E_TMP/ds.yaml"
check "after kill -9 mid-stream: verify clean" await 30 verified "$E2E_TMP/ds.yaml"
expect_eq "row counts equal" "$(pgq "$PG" shadow 'SELECT count(*) FROM big')" \
    "$(pgq "$PG" src 'SELECT count(*) FROM big')"
expect_eq "the resent transaction applied once" "$(shadow_count "note = 'late'")" 100
stop_pid "$DS_PID"; RC=$?
expect_eq "stops cleanly" "$RC" 0
[ "$RC" = 0 ] || tail -5 "$DS_LOG" | sed 's/^/# /'

# --- streaming: off keeps protocol version 1 ----------------------------------------------
write_config "$E2E_TMP/v1.yaml" shadow2 v1 "  streaming: off"
ds_start V1 "$E2E_TMP/v1.yaml"
check "v1: snapshot recorded" await 30 caught_up "$E2E_TMP/v1.yaml"
check "v1: protocol version 1 requested" grep -q "protocol version 1)" "$V1_LOG"
pgq "$PG" src "INSERT INTO big $ROWS(400001, 420000) i"
check "v1: the big transaction arrives" await_eq 20 20000 shadow_count 'id BETWEEN 400001 AND 499999' shadow2
expect_eq "v1: nothing streamed from its slot" "$(streamed v1)" 0
stop_pid "$V1_PID"
