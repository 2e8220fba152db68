// SPDX-License-Identifier: Apache-2.0
/*
 * schema: the shadow's indexes, foreign keys and sequences (see schema.h). The source's
 * definitions come from pg_get_indexdef and pg_get_constraintdef, read with search_path
 * set to pg_catalog so that every table they name is schema-qualified; the shadow's tables
 * carry the source's schema and table names (catalog.c), so a qualified name means the
 * same table on both sides. The pure decisions come first, then the catalog reads.
 */
#include "datashadow/schema.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "datashadow/catalog.h"
#include "datashadow/pgconn.h"

const char *schema_rule_name(const struct mask_rule *r)
{
    static const char *const names[] = {
        [MASK_KEEP] = "keep",         [MASK_NULL] = "null",
        [MASK_REDACT] = "redact",     [MASK_HASH] = "hash",
        [MASK_TRUNCATE] = "truncate", [MASK_SHIFT] = "shift",
        [MASK_NOISE] = "noise",       [MASK_GENERALIZE] = "generalize",
    };
    if (r->kind == MASK_HASH && r->email)
        return "hash:email";
    return (unsigned)r->kind < sizeof(names) / sizeof(names[0]) ? names[r->kind] : "?";
}

bool schema_fk_pair_ok(const struct relation_column *from, const struct relation_column *to)
{
    const struct mask_rule *a = &from->rule, *b = &to->rule;
    if (a->kind == MASK_KEEP && b->kind == MASK_KEEP)
        return true;
    /* hash is keyed and deterministic: its result depends on the value's text, the key and
     * the type as masking knows it (text and varchar alike, int4 and int8 not), so equal
     * keys stay equal. */
    return a->kind == MASK_HASH && b->kind == MASK_HASH && a->email == b->email &&
           from->mtype == to->mtype;
}

static bool strip_suffix(char *s, size_t *len, const char *suffix)
{
    size_t n = strlen(suffix);
    if (*len < n || memcmp(s + *len - n, suffix, n))
        return false;
    *len -= n;
    s[*len] = '\0';
    return true;
}

char *schema_fk_def(const char *def)
{
    static const char *const deferral[] = {" INITIALLY DEFERRED", " INITIALLY IMMEDIATE",
                                           " NOT DEFERRABLE", " DEFERRABLE"};
    char *s = xstrdup(def);
    size_t len = strlen(s);
    bool not_valid = strip_suffix(s, &len, " NOT VALID");
    for (bool more = true; more;) {
        more = false;
        for (size_t i = 0; i < sizeof(deferral) / sizeof(deferral[0]); i++)
            more |= strip_suffix(s, &len, deferral[i]);
    }
    char *out = xasprintf("%s DEFERRABLE INITIALLY DEFERRED%s", s, not_valid ? " NOT VALID" : "");
    free(s);
    return out;
}

enum schema_index_action schema_index_decide(const struct relation_column *const *cols, size_t n,
                                             size_t nkey, bool unique, bool expr,
                                             const struct relation_column **breaker)
{
    *breaker = NULL;
    for (size_t i = 0; i < n && expr; i++)
        if (cols[i]->rule.kind != MASK_KEEP) {
            *breaker = cols[i];
            return SCHEMA_INDEX_SKIP;
        }
    for (size_t i = 0; i < nkey && i < n && unique; i++)
        if (cols[i]->rule.kind != MASK_KEEP && cols[i]->rule.kind != MASK_HASH) {
            *breaker = cols[i];
            return SCHEMA_INDEX_NOT_UNIQUE;
        }
    return SCHEMA_INDEX_CREATE;
}

/* The first " USING " of def outside double-quoted identifiers, or NULL. */
static const char *find_using(const char *def)
{
    bool quoted = false;
    for (const char *p = def; *p; p++) {
        if (*p == '"')
            quoted = !quoted;
        else if (!quoted && !strncmp(p, " USING ", 7))
            return p;
    }
    return NULL;
}

char *schema_index_sql(const char *def, const char *name, const struct relation *r, bool unique)
{
    if (strncmp(def, "CREATE INDEX ", 13) && strncmp(def, "CREATE UNIQUE INDEX ", 20))
        return NULL;
    const char *using = find_using(def);
    if (!using || !strstr(def, " ON ") || strstr(def, " ON ") > using)
        return NULL;
    char *q = pgconn_ident(name);
    char *sql = xasprintf("CREATE %sINDEX IF NOT EXISTS %s ON %s%s", unique ? "UNIQUE " : "", q,
                          r->qname, using);
    free(q);
    return sql;
}

/* Runs one statement on the shadow inside a savepoint: a definition the shadow cannot take
 * (an operator class or function it lacks) costs that object and a warning, not the
 * snapshot. */
static int shadow_try(PGconn *shadow, const char *sql, const char *what, struct err *err)
{
    struct err e2 = {0};
    int rc = pgconn_cmd(shadow, "shadow", "SAVEPOINT doppel_schema", err);
    if (rc)
        return rc;
    if (pgconn_cmd(shadow, "shadow", sql, &e2) == 0)
        return pgconn_cmd(shadow, "shadow", "RELEASE SAVEPOINT doppel_schema", err);
    log_warn("datashadow", "%s not created on the shadow: %s", what, e2.msg);
    return pgconn_cmd(shadow, "shadow", "ROLLBACK TO SAVEPOINT doppel_schema", err);
}

static PGresult *query_oid(PGconn *c, const char *sql, uint32_t oid, struct err *err)
{
    char s[16];
    snprintf(s, sizeof(s), "%u", oid);
    const char *p[] = {s};
    return pgconn_query(c, "source", sql, 1, p, err);
}

static const struct relation *find_rel(const struct relation *rels, size_t n, uint32_t relid)
{
    for (size_t i = 0; i < n; i++)
        if (rels[i].relid == relid)
            return &rels[i];
    return NULL;
}

/* Rows [i, end) of res that share column 0 with row i. */
static int group_end(PGresult *res, int i)
{
    int j = i;
    while (j < PQntuples(res) && !strcmp(PQgetvalue(res, j, 0), PQgetvalue(res, i, 0)))
        j++;
    return j;
}

int schema_drop_fks(PGconn *shadow, const struct relation *rels, size_t n, struct err *err)
{
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const char *p[] = {rels[i].qname};
        PGresult *res = pgconn_query(shadow, "shadow",
                                     "SELECT conname FROM pg_constraint WHERE contype = 'f' "
                                     "AND conrelid = to_regclass($1)",
                                     1, p, err);
        if (!res)
            return -EIO;
        for (int k = 0; k < PQntuples(res) && !rc; k++) {
            char *q = pgconn_ident(PQgetvalue(res, k, 0));
            char *sql = xasprintf("ALTER TABLE %s DROP CONSTRAINT %s", rels[i].qname, q);
            rc = pgconn_cmd(shadow, "shadow", sql, err);
            free(q);
            free(sql);
        }
        PQclear(res);
    }
    return rc;
}

/* Every index but the primary key, one row per column it uses: key columns (indkey up to
 * indnkeyatts) first, then INCLUDE columns and the columns of its expressions and
 * predicate (its dependencies). */
static const char *const sql_indexes =
    "SELECT x.indexrelid, ic.relname, x.indisunique, x.indexprs IS NOT NULL OR x.indpred IS "
    "NOT NULL, pg_get_indexdef(x.indexrelid), a.attname, a.attnum = ANY ((x.indkey::int2[])"
    "[0:x.indnkeyatts - 1]) FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid JOIN "
    "pg_attribute a ON a.attrelid = x.indrelid AND a.attnum > 0 AND (a.attnum = ANY "
    "(x.indkey::int2[]) OR a.attnum IN (SELECT d.refobjsubid FROM pg_depend d WHERE d.classid "
    "= 'pg_class'::regclass AND d.objid = x.indexrelid AND d.refobjid = x.indrelid)) WHERE "
    "x.indrelid = $1::oid AND NOT x.indisprimary AND x.indisvalid AND NOT x.indisexclusion "
    "ORDER BY ic.relname, 7 DESC, a.attnum";

/* The columns of one index, as the rows of sql_indexes give them. */
struct index_cols {
    const struct relation_column **v; /* owned array, borrowed columns: key columns first */
    size_t n, nkey;
    const char *lacking; /* a column the index uses that the shadow does not have */
};

static int create_index(PGconn *shadow, const struct relation *r, PGresult *res, int i,
                        const struct index_cols *ic, struct err *err)
{
    const char *name = PQgetvalue(res, i, 1), *lacking = ic->lacking;
    bool unique = PQgetvalue(res, i, 2)[0] == 't';
    const struct relation_column *b = NULL;
    enum schema_index_action act =
        schema_index_decide(ic->v, ic->n, ic->nkey, unique, PQgetvalue(res, i, 3)[0] == 't', &b);
    if (lacking) {
        log_warn("datashadow",
                 "index '%s' of '%s' not created on the shadow: column '%s' is not "
                 "replicated",
                 name, r->display, lacking);
        return 0;
    }
    if (act == SCHEMA_INDEX_SKIP) {
        log_warn("datashadow",
                 "index '%s' of '%s' not created on the shadow: its expression or "
                 "predicate uses column '%s', masked by rule '%s'",
                 name, r->display, b->name, schema_rule_name(&b->rule));
        return 0;
    }
    if (act == SCHEMA_INDEX_NOT_UNIQUE)
        log_warn("datashadow",
                 "index '%s' of '%s' created on the shadow without UNIQUE: rule "
                 "'%s' of column '%s' does not keep values distinct",
                 name, r->display, schema_rule_name(&b->rule), b->name);
    char *sql =
        schema_index_sql(PQgetvalue(res, i, 4), name, r, unique && act == SCHEMA_INDEX_CREATE);
    char *what = xasprintf("index '%s' of '%s'", name, r->display);
    int rc = 0;
    if (sql)
        rc = shadow_try(shadow, sql, what, err);
    else
        log_warn("datashadow", "%s not created on the shadow: unexpected definition", what);
    free(sql);
    free(what);
    return rc;
}

static int create_indexes(PGconn *src, PGconn *shadow, const struct relation *r, struct err *err)
{
    PGresult *res = query_oid(src, sql_indexes, r->relid, err);
    if (!res)
        return -EIO;
    struct index_cols ic = {.v = xcalloc(r->ncols + 1, sizeof(*ic.v))};
    int rc = 0;
    for (int i = 0, end; i < PQntuples(res) && !rc; i = end) {
        ic.n = ic.nkey = 0;
        ic.lacking = NULL;
        end = group_end(res, i);
        for (int j = i; j < end; j++) {
            long c = relation_column_index(r, PQgetvalue(res, j, 5));
            if (c < 0)
                ic.lacking = PQgetvalue(res, j, 5);
            else if (ic.n < r->ncols)
                ic.v[ic.n++] = &r->cols[c];
            if (c >= 0 && PQgetvalue(res, j, 6)[0] == 't')
                ic.nkey = ic.n;
        }
        rc = create_index(shadow, r, res, i, &ic, err);
    }
    free(ic.v);
    PQclear(res);
    return rc;
}

/* The foreign keys of a table, one row per column pair, in key order. */
static const char *const sql_fks =
    "SELECT c.oid, c.conname, c.confrelid, c.confrelid::regclass::text, "
    "pg_get_constraintdef(c.oid), a.attname, b.attname FROM pg_constraint c CROSS JOIN "
    "LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY k(fa, ta, n) JOIN pg_attribute a ON "
    "a.attrelid = c.conrelid AND a.attnum = k.fa JOIN pg_attribute b ON b.attrelid = "
    "c.confrelid AND b.attnum = k.ta WHERE c.contype = 'f' AND c.conrelid = $1::oid "
    "AND c.conparentid = 0 ORDER BY c.conname, c.oid, k.n";

/* Whether every column pair of the foreign key in rows [i, end) masks alike; if not,
 * the warning says which pair breaks it. */
static bool fk_pairs_ok(const struct relation *r, const struct relation *t, PGresult *res, int i,
                        int end)
{
    const char *name = PQgetvalue(res, i, 1);
    for (int j = i; j < end; j++) {
        long a = relation_column_index(r, PQgetvalue(res, j, 5));
        long b = relation_column_index(t, PQgetvalue(res, j, 6));
        if (a < 0 || b < 0) {
            log_warn("datashadow",
                     "foreign key '%s' of '%s' not created on the shadow: column "
                     "'%s' is not replicated",
                     name, r->display, PQgetvalue(res, j, a < 0 ? 5 : 6));
            return false;
        }
        if (!schema_fk_pair_ok(&r->cols[a], &t->cols[b])) {
            log_warn("datashadow",
                     "foreign key '%s' of '%s' not created on the shadow: column "
                     "'%s' (rule '%s') and '%s.%s' (rule '%s') do not mask equal values alike",
                     name, r->display, r->cols[a].name, schema_rule_name(&r->cols[a].rule),
                     t->display, t->cols[b].name, schema_rule_name(&t->cols[b].rule));
            return false;
        }
    }
    return true;
}

static int create_fks(PGconn *src, PGconn *shadow, const struct relation *rels, size_t n,
                      const struct relation *r, struct err *err)
{
    PGresult *res = query_oid(src, sql_fks, r->relid, err);
    if (!res)
        return -EIO;
    int rc = 0;
    for (int i = 0, end; i < PQntuples(res) && !rc; i = end) {
        end = group_end(res, i);
        const char *name = PQgetvalue(res, i, 1);
        const struct relation *t =
            find_rel(rels, n, (uint32_t)strtoul(PQgetvalue(res, i, 2), NULL, 10));
        if (!t) {
            log_warn("datashadow",
                     "foreign key '%s' of '%s' not created on the shadow: it "
                     "references '%s', which is not published",
                     name, r->display, PQgetvalue(res, i, 3));
            continue;
        }
        if (!fk_pairs_ok(r, t, res, i, end))
            continue;
        char *q = pgconn_ident(name), *def = schema_fk_def(PQgetvalue(res, i, 4));
        char *sql = xasprintf("ALTER TABLE %s ADD CONSTRAINT %s %s", r->qname, q, def);
        char *what = xasprintf("foreign key '%s' of '%s'", name, r->display);
        rc = shadow_try(shadow, sql, what, err);
        free(q);
        free(def);
        free(sql);
        free(what);
    }
    PQclear(res);
    return rc;
}

/* The sequences owned by a table's columns (serial: 'a', identity: 'i'), with the
 * source's last value (NULL before the first nextval). */
static const char *const sql_sequences =
    "SELECT a.attname, n.nspname, c.relname, format_type(s.seqtypid, NULL), s.seqstart, "
    "s.seqincrement, s.seqmin, s.seqmax, s.seqcycle, pg_sequence_last_value(c.oid) "
    "FROM pg_depend d JOIN pg_sequence s ON s.seqrelid = d.objid JOIN pg_class c ON c.oid = "
    "d.objid JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid "
    "= d.refobjid AND a.attnum = d.refobjsubid WHERE d.classid = 'pg_class'::regclass AND "
    "d.refclassid = 'pg_class'::regclass AND d.refobjid = $1::oid AND d.deptype IN ('a', 'i') "
    "ORDER BY a.attnum";

/* The shadow sequence moves up to the source's value, never back (down, for a descending
 * one); nothing when the shadow has no such sequence. */
static int catch_up(PGconn *shadow, const char *qseq, PGresult *res, int i, struct err *err)
{
    if (PQgetisnull(res, i, 9))
        return 0;
    const char *p[] = {qseq, PQgetvalue(res, i, 9)};
    const char *sql = PQgetvalue(res, i, 5)[0] == '-'
                          ? "SELECT setval(s, least($2::bigint, coalesce(pg_sequence_last_value"
                            "(s), $2::bigint))) FROM to_regclass($1) s WHERE s IS NOT NULL"
                          : "SELECT setval(s, greatest($2::bigint, coalesce(pg_sequence_last_"
                            "value(s), $2::bigint))) FROM to_regclass($1) s WHERE s IS NOT NULL";
    PGresult *r = pgconn_query(shadow, "shadow", sql, 2, p, err);
    PQclear(r);
    return r ? 0 : -EIO;
}

static int create_sequence(PGconn *shadow, const struct relation *r, const char *qseq,
                           PGresult *res, int i, struct err *err)
{
    char *col = pgconn_ident(PQgetvalue(res, i, 0));
    char *lit = PQescapeLiteral(shadow, qseq, strlen(qseq));
    char *sql = xasprintf(
        "CREATE SEQUENCE IF NOT EXISTS %s AS %s INCREMENT BY %s MINVALUE %s MAXVALUE %s START "
        "WITH %s %sCYCLE; ALTER SEQUENCE %s OWNED BY %s.%s; ALTER TABLE %s ALTER COLUMN %s SET "
        "DEFAULT nextval(%s::regclass)",
        qseq, PQgetvalue(res, i, 3), PQgetvalue(res, i, 5), PQgetvalue(res, i, 6),
        PQgetvalue(res, i, 7), PQgetvalue(res, i, 4), PQgetvalue(res, i, 8)[0] == 't' ? "" : "NO ",
        qseq, r->qname, col, r->qname, col, lit ? lit : "''");
    int rc = pgconn_cmd(shadow, "shadow", sql, err);
    free(col);
    PQfreemem(lit);
    free(sql);
    return rc;
}

/* create: at the snapshot (creates them, warns about masked columns); else a restart's
 * catch-up of the sequences already there. */
static int sequences(PGconn *src, PGconn *shadow, const struct relation *r, bool create,
                     struct err *err)
{
    PGresult *res = query_oid(src, sql_sequences, r->relid, err);
    if (!res)
        return -EIO;
    int rc = 0;
    for (int i = 0; i < PQntuples(res) && !rc; i++) {
        long c = relation_column_index(r, PQgetvalue(res, i, 0));
        if (c < 0 || r->cols[c].rule.kind != MASK_KEEP) {
            if (create && c >= 0)
                log_warn("datashadow",
                         "sequence of column '%s.%s' not created on the shadow: "
                         "rule '%s' changes the column's values, so the source's next values "
                         "would not follow them",
                         r->display, r->cols[c].name, schema_rule_name(&r->cols[c].rule));
            continue;
        }
        char *ns = pgconn_ident(PQgetvalue(res, i, 1)), *rel = pgconn_ident(PQgetvalue(res, i, 2));
        char *qseq = xasprintf("%s.%s", ns, rel);
        if (create)
            rc = create_sequence(shadow, r, qseq, res, i, err);
        if (!rc)
            rc = catch_up(shadow, qseq, res, i, err);
        free(ns);
        free(rel);
        free(qseq);
    }
    PQclear(res);
    return rc;
}

int schema_create(PGconn *src, PGconn *shadow, const struct relation *rels, size_t n,
                  struct err *err)
{
    /* Qualified names in every definition read below (undone at the commit). */
    int rc = pgconn_cmd(src, "source", "SET LOCAL search_path = pg_catalog", err);
    for (size_t i = 0; i < n && !rc; i++)
        rc = create_indexes(src, shadow, &rels[i], err);
    for (size_t i = 0; i < n && !rc; i++)
        rc = create_fks(src, shadow, rels, n, &rels[i], err);
    for (size_t i = 0; i < n && !rc; i++)
        rc = sequences(src, shadow, &rels[i], true, err);
    return rc;
}

int schema_sync_sequences(PGconn *src, PGconn *shadow, const struct relation *rels, size_t n,
                          struct err *err)
{
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        rc = sequences(src, shadow, &rels[i], false, err);
    return rc;
}
