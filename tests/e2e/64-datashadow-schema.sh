#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The data shadow's schema beyond columns and primary keys, against a real PostgreSQL
# cluster: foreign keys between published tables (created deferrable when masking keeps
# equality across them, skipped with a warning when a rule breaks it or the referenced
# table is not published), secondary indexes (unique kept over hashed columns, made plain
# over redacted ones, expression indexes over masked columns skipped), the sequence of a
# serial column with its default, child-first inserts in one streamed transaction, a
# TRUNCATE ... CASCADE, and --verify finding a row altered on the shadow.
source "$(dirname "$0")/../lib/e2e.sh"
source "$(dirname "$0")/../lib/pg.sh"

DOPPEL="$E2E_BUILD/doppel"
if ! pg_available; then
    skip "datashadow-schema" "PostgreSQL server binaries not installed (scripts/install-deps)"
    exit 0
fi
pg_start PG || { not_ok "start a PostgreSQL cluster"; exit 1; }
psql -X -q -h 127.0.0.1 -p "$PG" -U postgres -d postgres -c "CREATE DATABASE src" \
    -c "CREATE DATABASE shadow" || exit 1

pgq "$PG" src "
CREATE TABLE regions (code text PRIMARY KEY);
CREATE TABLE accounts (id serial PRIMARY KEY, code text NOT NULL UNIQUE, owner text UNIQUE,
                       region text REFERENCES regions);
CREATE INDEX accounts_region_idx ON accounts (region);
CREATE INDEX accounts_lower_owner ON accounts (lower(owner));
CREATE UNIQUE INDEX accounts_code_incl ON accounts (code) INCLUDE (owner);
CREATE TABLE invoices (id bigint PRIMARY KEY, account_code text NOT NULL,
                       amount numeric(10,2),
                       CONSTRAINT invoices_account_fk FOREIGN KEY (account_code)
                           REFERENCES accounts (code) DEFERRABLE);
CREATE TABLE notes (id int PRIMARY KEY, invoice_id bigint, owner text, body text,
                    CONSTRAINT notes_invoice_fk FOREIGN KEY (invoice_id) REFERENCES invoices
                        ON DELETE CASCADE DEFERRABLE,
                    CONSTRAINT notes_owner_fk FOREIGN KEY (owner) REFERENCES accounts (owner));
INSERT INTO regions VALUES ('eu'), ('us');
INSERT INTO accounts (code, owner, region)
  SELECT 'AC' || i, 'owner ' || i, CASE WHEN i % 2 = 0 THEN 'eu' ELSE 'us' END
  FROM generate_series(1, 200) i;
INSERT INTO invoices SELECT i, 'AC' || (1 + i % 200), i * 2.5 FROM generate_series(1, 400) i;
INSERT INTO notes SELECT i, i, 'owner ' || (1 + i % 200), 'note ' || i FROM generate_series(1, 100) i;
CREATE PUBLICATION pub_sch FOR TABLE accounts, invoices, notes;" || exit 1

head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$E2E_TMP/anon.key"
cat >"$E2E_TMP/ds.yaml" <<EOT
data:
  source: "$(pg_conninfo "$PG" src)"
  shadow: "$(pg_conninfo "$PG" shadow)"
  slot: sch
  publication: pub_sch
  status_interval: 500ms
  key_file: anon.key
  tables:
    accounts:
      columns:
        code: hash
        owner: redact
    invoices:
      columns:
        account_code: hash
EOT
LOG="$E2E_TMP/ds.log"
timeout -k 3 "$E2E_LIFETIME" "$DOPPEL" datashadow -c "$E2E_TMP/ds.yaml" >"$LOG" 2>&1 </dev/null &
DS_PID=$!
E2E_PIDS+=("$DS_PID")

verified() { "$DOPPEL" datashadow -c "$E2E_TMP/ds.yaml" --verify; }
snapshot_done() { [ "$(pgq "$PG" shadow "SELECT count(*) FROM doppel_datashadow.progress")" = 1 ]; }
shq() { pgq "$PG" shadow "$1"; }

check "snapshot recorded" await 20 snapshot_done
expect_eq "snapshot copied every table" \
    "$(shq "SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM invoices), (SELECT count(*) FROM notes)")" \
    "200|400|100"

# --- foreign keys ---------------------------------------------------------------------
expect_eq "foreign keys on keep and on hashed columns exist, deferrable and deferred" \
    "$(shq "SELECT string_agg(conname || ':' || condeferrable || condeferred, ' ' ORDER BY conname)
            FROM pg_constraint WHERE contype = 'f'")" \
    "invoices_account_fk:truetrue notes_invoice_fk:truetrue"
expect_eq "the cascade action is kept" \
    "$(shq "SELECT confdeltype FROM pg_constraint WHERE conname = 'notes_invoice_fk'")" c
check "a foreign key over a redacted column is skipped with a warning" grep -q \
    "foreign key 'notes_owner_fk' of 'public.notes' not created on the shadow: column 'owner' (rule 'keep') and 'public.accounts.owner' (rule 'redact')" "$LOG"
check "a foreign key to an unpublished table is skipped with a warning" grep -q \
    "foreign key 'accounts_region_fkey' of 'public.accounts' not created on the shadow: it references 'public.regions', which is not published" "$LOG"

# --- indexes --------------------------------------------------------------------------
expect_eq "indexes: unique over a hashed column (INCLUDE a redacted one), plain over a redacted one, plain index" \
    "$(shq "SELECT string_agg(c.relname || ':' || i.indisunique, ' ' ORDER BY c.relname)
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = 'accounts'::regclass AND NOT i.indisprimary")" \
    "accounts_code_incl:true accounts_code_key:true accounts_owner_key:false accounts_region_idx:false"
check "unique over a redacted column: warned" grep -q \
    "index 'accounts_owner_key' of 'public.accounts' created on the shadow without UNIQUE: rule 'redact' of column 'owner'" "$LOG"
check "an expression index over a masked column: skipped with a warning" grep -q \
    "index 'accounts_lower_owner' of 'public.accounts' not created on the shadow: its expression or predicate uses column 'owner', masked by rule 'redact'" "$LOG"

# --- streaming with the foreign keys in place -------------------------------------------
pgq "$PG" src "BEGIN; SET CONSTRAINTS ALL DEFERRED;
INSERT INTO notes VALUES (1001, 1001, NULL, 'child first');
INSERT INTO invoices VALUES (1001, 'NEW1', 9.5);
INSERT INTO accounts (code, owner, region) VALUES ('NEW1', 'owner new', 'eu');
COMMIT;
DELETE FROM invoices WHERE id = 5;
UPDATE accounts SET region = 'us' WHERE id = 2;" || exit 1
check "child-first rows in one transaction applied; verify clean" await 20 verified
expect_eq "the cascaded delete reached the shadow once" \
    "$(shq "SELECT count(*) FROM notes WHERE id IN (5, 1001)")" 1

# --- sequences ------------------------------------------------------------------------
SRC_MAX="$(pgq "$PG" src "SELECT max(id) FROM accounts")"
expect_eq "the serial column has a default on the shadow" \
    "$(shq "SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = 'accounts'::regclass")" \
    "nextval('accounts_id_seq'::regclass)"
NEXT="$(shq "SELECT nextval('accounts_id_seq')")"
expect_eq "nextval on the shadow is past the source's largest id ($SRC_MAX)" \
    "$([ "$NEXT" -gt 200 ] && echo yes || echo "no ($NEXT)")" yes

# --- truncate cascade -----------------------------------------------------------------
pgq "$PG" src "TRUNCATE accounts CASCADE; INSERT INTO accounts (code, owner) VALUES ('A', 'a'), ('B', 'b');
INSERT INTO invoices VALUES (1, 'A', 1), (2, 'B', 2);"
check "TRUNCATE ... CASCADE applied; verify clean" await 20 verified
expect_eq "the shadow holds what the source holds after the truncate" \
    "$(shq "SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM invoices), (SELECT count(*) FROM notes)")" \
    "2|2|0"

# --- verify finds an altered row -------------------------------------------------------
shq "UPDATE invoices SET amount = amount + 1 WHERE id = 2; DELETE FROM invoices WHERE id = 1;
     INSERT INTO notes (id, body) VALUES (99, 'written on the shadow')"
OUT="$(verified)"; RC=$?
expect_eq "verify exits 1 on a differing row" "$RC" 1
check "verify counts the altered and the deleted row" grep -q \
    "public.invoices .* DIFFERS: 1 missing from the shadow, 0 extra, 1 different" <<<"$OUT"
check "verify names their keys" bash -c '[[ "$1" == *"missing, first keys: (1)"*"different, first keys: (2)"* ]]' _ "$OUT"
check "verify counts a row only on the shadow as extra" grep -q \
    "public.notes .* DIFFERS: 0 missing from the shadow, 1 extra, 0 different" <<<"$OUT"
JSON="$("$DOPPEL" datashadow -c "$E2E_TMP/ds.yaml" --verify --json)"
check "verify --json has the counts and keys" python3 -c '
import json, sys
s = json.loads(sys.argv[1])
t = {x["table"]: x for x in s["tables"]}["public.invoices"]
assert s["clean"] is False
assert (t["missing"], t["extra"], t["different"]) == (1, 0, 1), t
assert t["missing_keys"] == ["1"] and t["different_keys"] == ["2"], t' "$JSON"

# --- a restart moves the shadow's sequence up to the source's, never back ---------------
stop_pid "$DS_PID"
pgq "$PG" src "SELECT setval('accounts_id_seq', 5000)" >/dev/null
timeout -k 3 "$E2E_LIFETIME" "$DOPPEL" datashadow -c "$E2E_TMP/ds.yaml" >>"$LOG" 2>&1 </dev/null &
DS_PID=$!
E2E_PIDS+=("$DS_PID")
seq_at() { [ "$(shq "SELECT last_value FROM accounts_id_seq")" = "$1" ]; }
check "after a restart the shadow sequence caught up with the source (5000)" await 20 seq_at 5000
stop_pid "$DS_PID"
pgq "$PG" src "SELECT setval('accounts_id_seq', 10)" >/dev/null
timeout -k 3 "$E2E_LIFETIME" "$DOPPEL" datashadow -c "$E2E_TMP/ds.yaml" >>"$LOG" 2>&1 </dev/null &
DS_PID=$!
E2E_PIDS+=("$DS_PID")
started() { [ "$(grep -c "streaming from slot" "$LOG")" -ge 3 ]; }
check "the data shadow streams again" await 20 started
expect_eq "a source sequence set back does not move the shadow's back" \
    "$(shq "SELECT last_value FROM accounts_id_seq")" 5000
stop_pid "$DS_PID"
