#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Masked values judged by PostgreSQL itself: 2000 source rows go through the masking rules
# (build/tests/mask_values) and are loaded with COPY into a table whose types and
# constraints a shadow schema would have: int2 primary key, UNIQUE and CHECK (> 0) on
# hashed keys, a foreign key from a second table hashed separately, uuid version checks,
# varchar and char lengths, shape CHECKs on e-mail, names, phone numbers and zip codes,
# numeric(8,2) UNIQUE, generalized buckets, UTF-8 truncation into varchar(5). Every row must
# load; shifted dates must stay within their range of the source. PostgreSQL runs in
# single-user mode on a throwaway cluster (no port, no server left behind).
. "$(dirname "$0")/../lib/e2e.sh"

N=2000
PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
    skip "mask values load into postgres" "PostgreSQL server binaries not installed"
    exit 0
fi
if [ ! -x /usr/bin/python3 ]; then
    skip "mask values load into postgres" "/usr/bin/python3 not installed"
    exit 0
fi
PGD="$E2E_TMP/pg"
mkdir -p "$PGD"
as_pg() { "$@"; }
if [ "$(id -u)" = 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
        skip "mask values load into postgres" "running as root without a postgres user"
        exit 0
    fi
    chmod 711 "$E2E_TMP"
    chown postgres "$PGD"
    as_pg() { runuser -u postgres -- "$@"; }
fi

if ! as_pg timeout 60 "$PGBIN/initdb" -D "$PGD/data" -A trust -U postgres --no-sync -E UTF8 --locale=C.UTF-8 \
    >"$E2E_TMP/initdb.log" 2>&1; then
    not_ok "initdb" "$(tail -5 "$E2E_TMP/initdb.log")"
    exit 0
fi

# Runs SQL (one statement per line) in a single-user backend; prints its output.
pg_single() {
    as_pg timeout 60 "$PGBIN/postgres" --single -D "$PGD/data" -c fsync=off postgres <"$1" 2>&1
}

# Source rows: row key, then RULE|TYPE|VALUE per column of table m; and of table orders.
/usr/bin/python3 - "$N" "$E2E_TMP" <<'EOF'
import datetime, random, sys, uuid
n, out = int(sys.argv[1]), sys.argv[2]
rnd = random.Random(1)
first = ["Alice", "Bob", "Carol", "Dmitri", "Eve", "Farida", "Gus", "Hiroko", "Ines", "Jo"]
last = ["Smith", "Jones", "Nguyen", "Okafor", "Larsen", "Kowalski", "Diaz", "Ito", "Ng"]
epoch = datetime.date(1950, 1, 1)
with open(out + "/m.in", "w") as m, open(out + "/src.copy", "w") as s, \
        open(out + "/orders.in", "w") as o:
    for i in range(1, n + 1):
        born = epoch + datetime.timedelta(days=rnd.randrange(60 * 365))
        seen = datetime.datetime(2024, 1, 1) + datetime.timedelta(seconds=rnd.randrange(10**7))
        cols = [
            ("hash", "int2", str(i - 1000)),
            ("hash", "int4", str(i * 7)),
            ("hash", "int8", str(i * 1000003 + 9 * 10**12)),
            ("hash", "uuid", str(uuid.UUID(int=rnd.getrandbits(128), version=4))),
            ("hash:email", "text", "user%d@example%d.com" % (i, i % 5)),
            ("hash", "varchar", "%s %s" % (rnd.choice(first), rnd.choice(last))),
            ("hash", "bpchar", "+1-555-%04d" % i),
            ("hash", "text", "%05d" % (i * 37 % 100000)),
            ("hash", "numeric", "%d.%02d" % (1000 + i, i % 100)),
            ("shift:30d", "date", born.isoformat()),
            ("shift:30d", "timestamptz", seen.strftime("%Y-%m-%d %H:%M:%S") + ".25+00"),
            ("generalize:10", "int2", str(i % 90)),
            ("truncate:5", "text", "Zo\u00eb \u00c5ngstr\u00f6m %d" % i),
            ("noise:epsilon=1,sensitivity=1000", "int4", str(50000 + i)),
            ("null", "text", "secret %d" % i),
            ("redact", "text", "code-%d" % i),
        ]
        m.write("\t".join([str(i)] + ["|".join(c) for c in cols]) + "\n")
        s.write("\t".join([str(i), born.isoformat(), cols[10][2]]) + "\n")
        for k in range(2):  # two orders per user, keyed by the user's int4 key
            o.write("%d\thash|int4|%d\n" % (2 * i + k, i * 7))
EOF

KEY="e2e-mask-key"
check "mask the users" sh -c "'$E2E_BUILD/tests/mask_values' '$KEY' <'$E2E_TMP/m.in' >'$E2E_TMP/m.copy'"
check "mask the orders" \
    sh -c "'$E2E_BUILD/tests/mask_values' '$KEY' <'$E2E_TMP/orders.in' >'$E2E_TMP/orders.copy'"
cp "$E2E_TMP"/*.copy "$PGD/"
[ "$(id -u)" = 0 ] && chown postgres "$PGD"/*.copy

cat >"$E2E_TMP/load.sql" <<EOF
CREATE TABLE m (rk int PRIMARY KEY, id int2 UNIQUE NOT NULL, id4 int4 UNIQUE NOT NULL CHECK (id4 > 0), id8 int8 UNIQUE NOT NULL CHECK (id8 > 0), uid uuid UNIQUE NOT NULL CHECK (substr(uid::text, 15, 1) = '4' AND substr(uid::text, 20, 1) IN ('8', '9', 'a', 'b')), email varchar(24) UNIQUE NOT NULL CHECK (email ~ '^[a-z]{4}[0-9]+@[a-z]{7}[0-9][.]com\$'), name varchar(15) CHECK (name ~ '^[A-Z][a-z]+ [A-Z][a-z]+\$'), phone char(11) UNIQUE CHECK (phone ~ '^[+][0-9]-[0-9]{3}-[0-9]{4}\$'), zip text CHECK (zip ~ '^[0-9]{5}\$'), amount numeric(8,2) UNIQUE CHECK (amount >= 1000), born date, seen timestamptz, age int2 CHECK (age % 10 = 0 AND age BETWEEN 0 AND 80), note varchar(5) CHECK (note = 'Zo' || chr(235) || ' ' || chr(197)), salary int4, secret text, code text CHECK (code = 'redacted'))
CREATE TABLE orders (ord int PRIMARY KEY, user_id int4 NOT NULL REFERENCES m (id4))
CREATE TABLE src (rk int PRIMARY KEY, born date, seen timestamptz)
COPY m FROM '$PGD/m.copy'
COPY orders FROM '$PGD/orders.copy'
COPY src FROM '$PGD/src.copy'
SELECT count(*) AS users, count(secret) AS secrets FROM m
SELECT count(*) AS joined FROM orders JOIN m ON m.id4 = orders.user_id
SELECT max(abs(m.born - src.born)) AS max_days, max(abs(extract(epoch FROM m.seen - src.seen))) AS max_secs, count(*) FILTER (WHERE m.born <> src.born) AS moved FROM m JOIN src USING (rk)
SELECT count(*) FILTER (WHERE extract(microseconds FROM seen)::int % 1000000 = 250000) AS frac_kept FROM m
EOF
out="$(pg_single "$E2E_TMP/load.sql")"
if printf '%s\n' "$out" | grep -q 'ERROR'; then
    not_ok "masked rows load under the shadow's constraints" "$(printf '%s\n' "$out" | grep -A2 ERROR | head -8)"
else
    ok "masked rows load under the shadow's constraints"
fi
val() { printf '%s\n' "$out" | sed -n "s/^[[:space:]]*[0-9]*: $1 = \"\\([^\"]*\\)\".*/\\1/p" | head -1; }
expect_eq "every row loaded, null column null" "$(val users)/$(val secrets)" "$N/0"
expect_eq "hashed foreign keys still join" "$(val joined)" "$((2 * N))"
max_days="$(val max_days)"
max_secs="$(val max_secs)"
moved="$(val moved)"
if [ -n "$max_days" ] && [ "$max_days" -le 30 ] && [ "${max_secs%.*}" -le 2592000 ] &&
    [ "$moved" -gt $((N / 2)) ]; then
    ok "shifted dates stay within 30 days ($max_days days, $max_secs s, $moved moved)"
else
    not_ok "shifted dates stay within 30 days" "max $max_days days, $max_secs s, $moved moved"
fi
expect_eq "fractional seconds kept through shift" "$(val frac_kept)" "$N"
