#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The data shadow against a real PostgreSQL cluster (initdb into a temporary directory,
# wal_level=logical, a free loopback port, stopped at the end): snapshot and streaming of
# inserts, updates, deletes, truncates and a large transaction, masking on the way,
# transaction boundaries on the shadow, LSN confirmation, kill -9 during streaming and
# during the snapshot then restart and --verify, schema drift, and bad configurations.
source "$(dirname "$0")/../lib/e2e.sh"
source "$(dirname "$0")/../lib/pg.sh"

DOPPEL="$E2E_BUILD/doppel"
if ! pg_available; then
    skip "datashadow" "PostgreSQL server binaries not installed (scripts/install-deps)"
    exit 0
fi
pg_start PG || { not_ok "start a PostgreSQL cluster"; exit 1; }
psql -X -q -h 127.0.0.1 -p "$PG" -U postgres -d postgres -c "CREATE DATABASE src" \
    -c "CREATE DATABASE shadow" -c "CREATE DATABASE src2" -c "CREATE DATABASE shadow2" \
    -c "CREATE DATABASE bad" -c "CREATE DATABASE shadow3" || exit 1

pgq "$PG" src "
CREATE TABLE customers (id serial PRIMARY KEY, email text NOT NULL, name text, born date);
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int REFERENCES customers,
                     amount numeric(10,2), note text);
CREATE TABLE events (id int PRIMARY KEY, payload text);
ALTER TABLE events REPLICA IDENTITY FULL;
CREATE TABLE docs (id int PRIMARY KEY, body text, tag text);
CREATE TABLE counters (id int PRIMARY KEY, n bigint NOT NULL);
CREATE TABLE log (id int PRIMARY KEY, at timestamptz DEFAULT now());
INSERT INTO customers (email, name, born)
  SELECT 'user' || i || '@example.com', 'Name ' || i, date '1980-01-01' + i
  FROM generate_series(1, 500) i;
INSERT INTO orders SELECT i, 1 + i % 500, i * 1.5, E'tab\there, new\nline \\\\ back'
  FROM generate_series(1, 1000) i;
INSERT INTO events SELECT i, 'event ' || i FROM generate_series(1, 100) i;
INSERT INTO docs SELECT i, repeat(md5(i::text), 400), 'v1' FROM generate_series(1, 5) i;
INSERT INTO counters VALUES (1, 0);" || exit 1

head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$E2E_TMP/anon.key"
write_config() { # FILE SRC SHADOW SLOT [EXTRA YAML LINES]
    local file="$1" src="$2" shadow="$3" slot="$4"
    shift 4
    {
        echo "data:"
        echo "  source: \"$(pg_conninfo "$PG" "$src")\""
        echo "  shadow: \"$(pg_conninfo "$PG" "$shadow")\""
        echo "  slot: $slot"
        echo "  publication: pub_$slot"
        echo "  status_interval: 500ms"
        echo "  key_file: anon.key"
        printf '%s\n' "$@"
    } >"$file"
}
RULES=("  tables:" "    customers:" "      columns:" "        email: hash:email"
       "        name: redact")
write_config "$E2E_TMP/ds.yaml" src shadow main "${RULES[@]}"

verified() { "$DOPPEL" datashadow -c "$1" --verify; }
caught_up() { # CONFIG SHADOWDB: progress recorded and the slot confirmed the source's end
    "$DOPPEL" datashadow -c "$1" --status --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
sys.exit(0 if s["bytes_behind"] == 0 else 1)'
}

# --- snapshot, then streaming -------------------------------------------------------
ds_start DS "$E2E_TMP/ds.yaml"
check "snapshot recorded and streaming" await 20 caught_up "$E2E_TMP/ds.yaml"
expect_eq "snapshot copied every customer" "$(pgq "$PG" shadow 'SELECT count(*) FROM customers')" 500
expect_eq "masked: no source e-mail reaches the shadow" \
    "$(pgq "$PG" shadow "SELECT count(*) FROM customers WHERE email LIKE '%@example.com'")" 0
expect_eq "masked: e-mails keep their shape" \
    "$(pgq "$PG" shadow "SELECT count(*) FROM customers WHERE email ~ '^[^@]+@[^@]+\.[a-z]+$'")" 500
expect_eq "masked: redact" "$(pgq "$PG" shadow "SELECT DISTINCT name FROM customers")" "redacted"
expect_eq "tabs, newlines and backslashes copied exactly" \
    "$(pgq "$PG" shadow "SELECT count(*) FROM orders WHERE note = E'tab\there, new\nline \\\\ back'")" 1000

# A large transaction must appear on the shadow all at once: sample the count while it
# is applied; only the before and after values may be seen.
for _ in $(seq 1 300); do
    echo "SELECT count(*) FROM orders WHERE id > 100000; SELECT pg_sleep(0.01);"
done | psql -X -q -At -h 127.0.0.1 -p "$PG" -U postgres -d shadow 2>/dev/null | grep -v '^$' \
    >"$E2E_TMP/samples" &
SAMPLER=$!
pgq "$PG" src "INSERT INTO orders SELECT i, 1, 0, 'big' FROM generate_series(100001, 130000) i"
pgq "$PG" src "
INSERT INTO customers (email, name) VALUES ('new@example.org', 'New');
UPDATE orders SET amount = amount + 1 WHERE id <= 10;
UPDATE orders SET id = id + 5000 WHERE id = 20;
DELETE FROM orders WHERE id BETWEEN 900 AND 999;
UPDATE events SET payload = 'changed' WHERE id <= 5;
DELETE FROM events WHERE id > 90;
UPDATE docs SET tag = 'v2' WHERE id = 1;
BEGIN; UPDATE counters SET n = n + 1; UPDATE counters SET n = n + 1; COMMIT;"
wait "$SAMPLER"
check "streamed changes match (verify)" await 20 verified "$E2E_TMP/ds.yaml"
expect_eq "the large transaction was seen whole or not at all" \
    "$(sort -un "$E2E_TMP/samples" | tr '\n' ' ')" "0 30000 "
expect_eq "unchanged TOASTed value kept on update" \
    "$(pgq "$PG" shadow "SELECT tag, length(body) FROM docs WHERE id = 1")" "v2|12800"
expect_eq "replica identity full: updates and deletes found their rows" \
    "$(pgq "$PG" shadow "SELECT count(*), count(*) FILTER (WHERE payload = 'changed') FROM events")" "90|5"
expect_eq "same masked e-mail for the same source value after restart-free streaming" \
    "$(pgq "$PG" shadow "SELECT count(DISTINCT email) FROM customers")" 501
pgq "$PG" src "TRUNCATE orders"
check "truncate streamed" await 20 verified "$E2E_TMP/ds.yaml"
expect_eq "truncate emptied the shadow table" "$(pgq "$PG" shadow 'SELECT count(*) FROM orders')" 0
APPLIED="$(pgq "$PG" shadow "SELECT lsn FROM doppel_datashadow.progress")"
check "the source's confirmed LSN reaches the shadow's recorded LSN" await_eq 10 t pgq "$PG" src \
    "SELECT confirmed_flush_lsn >= '$APPLIED'::pg_lsn FROM pg_replication_slots WHERE slot_name = 'main'"
STATUS="$("$DOPPEL" datashadow -c "$E2E_TMP/ds.yaml" --status --json)"
check "status has every field" python3 -c '
import json, sys
s = json.loads(sys.argv[1])
for k in ["slot", "active", "applied_lsn", "confirmed_lsn", "source_lsn", "bytes_behind",
          "seconds_behind", "retained_wal_bytes", "last_commit", "applied_at", "transactions",
          "rows_applied", "tables"]:
    assert k in s, k
t = {x["name"]: x for x in s["tables"]}
assert t["public.customers"]["snapshot_rows"] == 500 and t["public.customers"]["inserts"] == 1
assert t["public.orders"]["truncates"] == 1 and t["public.orders"]["deletes"] == 100
assert s["active"] is True' "$STATUS"

# --- kill -9 while streaming, restart, converge -----------------------------------------
for i in $(seq 1 6000); do
    echo "BEGIN; UPDATE counters SET n = n + 1; INSERT INTO log (id) VALUES ($i); COMMIT;"
done >"$E2E_TMP/load.sql"
psql -X -q -h 127.0.0.1 -p "$PG" -U postgres -d src -f "$E2E_TMP/load.sql" >/dev/null 2>&1 &
LOADER=$!
await_eq 10 t pgq "$PG" shadow 'SELECT count(*) > 20 FROM log' >/dev/null
ds_kill9 DS
MID="$(pgq "$PG" shadow 'SELECT count(*) FROM log')"
ds_start DS "$E2E_TMP/ds.yaml"
wait "$LOADER"
check "after kill -9 while streaming: verify clean" await 30 verified "$E2E_TMP/ds.yaml"
expect_eq "no transaction lost or applied twice (counter)" \
    "$(pgq "$PG" shadow 'SELECT n FROM counters')" "$(pgq "$PG" src 'SELECT n FROM counters')"
expect_eq "killed mid-stream, not before or after" \
    "$([ "$MID" -gt 0 ] && [ "$MID" -lt 6000 ] && echo yes || echo "no ($MID rows)")" yes

# --- schema drift -------------------------------------------------------------------
pgq "$PG" src "ALTER TABLE customers ADD COLUMN tier int; INSERT INTO customers (email, tier) VALUES ('t@example.org', 2)"
await 15 bash -c "! kill -0 $DS_PID" >/dev/null
wait "$DS_PID"; RC=$?
expect_eq "schema drift stops the data shadow (exit 1)" "$RC" 1
sed "s/^/# /" "$DS_LOG" | tail -3
check "drift error names table and column" grep -q "schema drift in table 'public.customers': column 'tier' added" "$DS_LOG"
write_config "$E2E_TMP/follow.yaml" src shadow main "  schema: follow" "${RULES[@]}"
ds_start DS "$E2E_TMP/follow.yaml"
check "schema: follow adds the column and goes on" await 20 verified "$E2E_TMP/follow.yaml"
expect_eq "added column filled" "$(pgq "$PG" shadow "SELECT tier FROM customers WHERE tier IS NOT NULL")" 2
stop_pid "$DS_PID"

# --- kill -9 during the snapshot ----------------------------------------------------
pgq "$PG" src2 "CREATE TABLE people (id int PRIMARY KEY, email text, note text);
INSERT INTO people SELECT i, 'p' || i || '@example.com', repeat('x', 200) FROM generate_series(1, 60000) i;"
write_config "$E2E_TMP/snap.yaml" src2 shadow2 snap "  tables:" "    people:" "      columns:" \
    "        email: hash:email"
# A session holding an exclusive lock on the table keeps the snapshot from reading it (COPY
# needs a share lock), so the kill lands inside the snapshot however fast the machine is.
PGAPPNAME=snap-lock psql -X -q -h 127.0.0.1 -p "$PG" -U postgres -d src2 \
    -c "BEGIN; LOCK TABLE people IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120)" >/dev/null 2>&1 &
LOCKER=$!
people_locks() { pgq "$PG" src2 "SELECT count(*) FROM pg_locks WHERE relation = 'people'::regclass AND $1"; }
check "a session holds the table locked" await_eq 10 1 people_locks granted
ds_start SNAP "$E2E_TMP/snap.yaml"
await 10 grep -q "copying" "$SNAP_LOG" >/dev/null
sleep 0.3
ds_kill9 SNAP
pgq "$PG" src2 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'snap-lock'" >/dev/null
wait "$LOCKER" 2>/dev/null
expect_eq "killed during the snapshot (nothing recorded)" \
    "$(pgq "$PG" shadow2 "SELECT count(*) FROM doppel_datashadow.progress" 2>/dev/null || echo 0)" 0
pgq "$PG" src2 "INSERT INTO people VALUES (0, 'zero@example.com', 'after the kill')"
ds_start SNAP "$E2E_TMP/snap.yaml"
check "after kill -9 during the snapshot: verify clean" await 40 verified "$E2E_TMP/snap.yaml"
expect_eq "every row copied once" "$(pgq "$PG" shadow2 'SELECT count(*) FROM people')" 60001
stop_pid "$SNAP_PID"

# --- inside doppel serve, with /metrics -----------------------------------------------
ADMIN="$(free_port)"
cat >"$E2E_TMP/serve.yaml" <<EOT
admin:
  listen: 127.0.0.1:$ADMIN
services:
  - name: api
    listen: 127.0.0.1:0
    primary:
      upstreams: [127.0.0.1:$(free_port)]
data:
  source: "$(pg_conninfo "$PG" src2)"
  shadow: "$(pg_conninfo "$PG" shadow3)"
  slot: srv
  publication: pub_srv
  status_interval: 500ms
  key_file: anon.key
EOT
metric() { curl -s "http://127.0.0.1:$ADMIN/metrics" | sed -n "s/^$1 //p"; }
if start_doppel "$E2E_TMP/serve.yaml" "http://127.0.0.1:$ADMIN/healthz"; then
    check "serve: the data shadow streams (doppel_datashadow_up 1)" await_eq 40 1 metric doppel_datashadow_up
    pgq "$PG" src2 "INSERT INTO people SELECT i, 'q@example.com', 'serve' FROM generate_series(200001, 200100) i"
    check "serve: changes reach the shadow" await_eq 20 100 pgq "$PG" shadow3 "SELECT count(*) FROM people WHERE note = 'serve'"
    check "serve: rows applied in /metrics" await_eq 10 100 metric doppel_datashadow_rows_applied_total
    check "serve: lag in /metrics" test -n "$(metric doppel_datashadow_lag_bytes)"
    stop_pid "$DOPPEL_PID"
    expect_eq "serve: stops cleanly on SIGTERM" "$?" 0
else
    not_ok "serve with a data: section starts"
fi

# --- bad input ----------------------------------------------------------------------
pgq "$PG" bad "CREATE TABLE nokey (a int, b text); CREATE TABLE ok (id int PRIMARY KEY, n int NOT NULL)"
bad_run() { # CONFIG: runs to completion (it must fail); prints "rc: stderr"
    local out rc
    out="$(timeout 20 "$DOPPEL" datashadow -c "$1" 2>&1)"; rc=$?
    echo "$rc: $out"
}
write_config "$E2E_TMP/b1.yaml" bad shadow b1
check "a table without a primary key is refused" bash -c "[[ \"\$(cat)\" == *\"table 'public.nokey' has no primary key\"* ]]" <<<"$(bad_run "$E2E_TMP/b1.yaml")"
pgq "$PG" bad "DROP TABLE nokey"
write_config "$E2E_TMP/b2.yaml" bad shadow b2 "  tables:" "    nosuch:" "      columns:" "        a: keep"
OUT="$(bad_run "$E2E_TMP/b2.yaml")"
check "unknown table in the rules: exit 2 with file:line" bash -c "[[ \"\$1\" == \"2: \"*\"b2.yaml:11:\"*\"table 'nosuch' is not in publication 'pub_b2'\"* ]]" _ "$OUT"
write_config "$E2E_TMP/b3.yaml" bad shadow b3 "  tables:" "    ok:" "      columns:" "        nosuch: keep"
OUT="$(bad_run "$E2E_TMP/b3.yaml")"
check "unknown column in the rules" bash -c "[[ \"\$1\" == \"2: \"*\"has no column 'nosuch'\"* ]]" _ "$OUT"
write_config "$E2E_TMP/b4.yaml" bad shadow b4 "  tables:" "    ok:" "      columns:" "        n: null"
OUT="$(bad_run "$E2E_TMP/b4.yaml")"
check "null on a NOT NULL column" bash -c "[[ \"\$1\" == \"2: \"*\"is NOT NULL\"* ]]" _ "$OUT"
write_config "$E2E_TMP/b5.yaml" bad shadow b5 "  tables:" "    ok:" "      columns:" "        n: bogus"
OUT="$(bad_run "$E2E_TMP/b5.yaml")"
check "an unknown rule" bash -c "[[ \"\$1\" == \"2: \"*\"b5.yaml:11:\"* ]]" _ "$OUT"
printf 'data:\n  source: "host=127.0.0.1 port=%s user=postgres dbname=src connect_timeout=2"\n  shadow: x\n' \
    "$(free_port)" >"$E2E_TMP/b6.yaml"
OUT="$(bad_run "$E2E_TMP/b6.yaml")"
check "unreachable source: exit 1" bash -c "[[ \"\$1\" == \"1: \"*\"source database unreachable\"* ]]" _ "$OUT"
printf 'data:\n  shadow: x\n  sloth: 1\n' >"$E2E_TMP/b7.yaml"
OUT="$(bad_run "$E2E_TMP/b7.yaml")"
check "config errors name file:line" bash -c "[[ \"\$1\" == \"2: \"*\"b7.yaml:3:\"*\"slot\"* ]]" _ "$OUT"
pgq "$PG" src "SELECT pg_drop_replication_slot('main')" >/dev/null
OUT="$(bad_run "$E2E_TMP/ds.yaml")"
check "a dropped slot is a clear error" bash -c "[[ \"\$1\" == \"1: \"*\"replication slot 'main' is gone\"* ]]" _ "$OUT"
