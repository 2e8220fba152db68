// SPDX-License-Identifier: Apache-2.0
/*
 * catalog: reading the source's publication and columns, checking the masking rules
 * against them, and creating or checking the shadow's tables (see catalog.h): columns and
 * primary key here; indexes, foreign keys and sequences after the snapshot's copy
 * (schema.c), so the copy can fill the tables in any order.
 */
#include "datashadow/catalog.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/xalloc.h"
#include "datashadow/pgconn.h"

static const char *const sql_tables =
    "SELECT c.oid, n.nspname, c.relname, c.relreplident FROM pg_publication_tables p "
    "JOIN pg_namespace n ON n.nspname = p.schemaname "
    "JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = p.tablename "
    "WHERE p.pubname = $1 ORDER BY 2, 3";

static const char *const sql_columns =
    "SELECT a.attname, a.atttypid, a.atttypmod, format_type(a.atttypid, a.atttypmod), "
    "a.attnotnull, t.typname, (SELECT k.n FROM pg_index i, unnest(i.indkey::int2[]) "
    "WITH ORDINALITY k(att, n) WHERE i.indrelid = a.attrelid AND i.indisprimary "
    "AND k.att = a.attnum) FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
    "WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped "
    "AND a.attgenerated = '' ORDER BY a.attnum";

static const char *const sql_shadow_columns =
    "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
    "WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped "
    "ORDER BY a.attnum";

static void set_keys(struct relation *r, const long *pos)
{
    r->key = xcalloc(r->ncols ? r->ncols : 1, sizeof(*r->key));
    for (size_t k = 1; k <= r->ncols; k++)
        for (size_t i = 0; i < r->ncols; i++)
            if (pos[i] == (long)k)
                r->key[r->nkey++] = i;
}

static int load_columns(PGconn *src, struct relation *r, struct err *err)
{
    char oid[16];
    snprintf(oid, sizeof(oid), "%u", r->relid);
    const char *params[] = {oid};
    PGresult *res = pgconn_query(src, "source", sql_columns, 1, params, err);
    if (!res)
        return -EIO;
    r->ncols = (size_t)PQntuples(res);
    r->cols = xcalloc(r->ncols ? r->ncols : 1, sizeof(*r->cols));
    long *pos = xcalloc(r->ncols ? r->ncols : 1, sizeof(*pos));
    for (size_t i = 0; i < r->ncols; i++) {
        struct relation_column *c = &r->cols[i];
        c->name = xstrdup(PQgetvalue(res, (int)i, 0));
        c->type_oid = (uint32_t)strtoul(PQgetvalue(res, (int)i, 1), NULL, 10);
        c->typmod = (int32_t)strtol(PQgetvalue(res, (int)i, 2), NULL, 10);
        c->type_sql = xstrdup(PQgetvalue(res, (int)i, 3));
        c->not_null = PQgetvalue(res, (int)i, 4)[0] == 't';
        c->mtype = mask_type_of(c->type_oid, PQgetvalue(res, (int)i, 5));
        c->key = !PQgetisnull(res, (int)i, 6);
        pos[i] = c->key ? strtol(PQgetvalue(res, (int)i, 6), NULL, 10) : 0;
        c->rule.kind = MASK_KEEP;
    }
    PQclear(res);
    set_keys(r, pos);
    free(pos);
    return 0;
}

/* The shadow can only find a row again by its primary key: updates and deletes must carry
 * it (replica identity default or full). */
static int check_identity(const struct relation *r, const char *pub, struct err *err)
{
    if (r->nkey == 0)
        return err_set(err, -EINVAL,
                       "table '%s' has no primary key: add one (ALTER TABLE %s ADD PRIMARY "
                       "KEY (...)) or remove the table from publication '%s'",
                       r->display, r->display, pub);
    if (r->replident != 'd' && r->replident != 'f')
        return err_set(err, -EINVAL,
                       "table '%s' has replica identity '%s': set it to DEFAULT or FULL "
                       "(ALTER TABLE %s REPLICA IDENTITY DEFAULT)",
                       r->display, r->replident == 'n' ? "nothing" : "index", r->display);
    return 0;
}

static void fill_names(struct relation *r, const char *nsp, const char *rel)
{
    char *qn = pgconn_ident(nsp), *qr = pgconn_ident(rel);
    r->nspname = xstrdup(nsp);
    r->relname = xstrdup(rel);
    r->qname = xasprintf("%s.%s", qn, qr);
    r->display = xasprintf("%s.%s", nsp, rel);
    free(qn);
    free(qr);
}

int catalog_load(PGconn *src, const char *publication, struct relation **out, size_t *n,
                 struct err *err)
{
    const char *params[] = {publication};
    PGresult *res = pgconn_query(src, "source", sql_tables, 1, params, err);
    *out = NULL;
    *n = 0;
    if (!res)
        return -EIO;
    size_t nt = (size_t)PQntuples(res);
    struct relation *rels = xcalloc(nt ? nt : 1, sizeof(*rels));
    int rc = 0;
    for (size_t i = 0; i < nt && !rc; i++) {
        struct relation *r = &rels[i];
        r->relid = (uint32_t)strtoul(PQgetvalue(res, (int)i, 0), NULL, 10);
        fill_names(r, PQgetvalue(res, (int)i, 1), PQgetvalue(res, (int)i, 2));
        r->replident = PQgetvalue(res, (int)i, 3)[0];
        rc = load_columns(src, r, err);
        if (!rc)
            rc = check_identity(r, publication, err);
    }
    PQclear(res);
    if (!rc && nt == 0)
        rc = err_set(err, -ENOENT, "publication '%s' holds no tables", publication);
    if (rc) {
        catalog_free(rels, nt);
        return rc;
    }
    *out = rels;
    *n = nt;
    return 0;
}

void catalog_free(struct relation *rels, size_t n)
{
    for (size_t i = 0; rels && i < n; i++)
        relation_release(&rels[i]);
    free(rels);
}

struct relation *catalog_find(struct relation *rels, size_t n, uint32_t relid)
{
    for (size_t i = 0; i < n; i++)
        if (rels[i].relid == relid)
            return &rels[i];
    return NULL;
}

struct relation *catalog_find_name(struct relation *rels, size_t n, const char *name)
{
    const char *dot = strchr(name, '.');
    for (size_t i = 0; i < n; i++) {
        if (dot ? !strcmp(rels[i].display, name)
                : !strcmp(rels[i].nspname, "public") && !strcmp(rels[i].relname, name))
            return &rels[i];
    }
    return NULL;
}

/* Key columns must mask the same way every time and stay unique: keep or hash only. */
static int check_rule(const struct relation *r, const struct relation_column *c,
                      const struct config_data_rule *cr, struct err *err)
{
    int rc = mask_rule_check(&c->rule, c->mtype, c->name, err);
    if (rc) {
        err_prefix(err, "%s: table '%s'", cr->where, r->display);
        return rc;
    }
    if (c->rule.kind == MASK_NULL && c->not_null)
        return err_set(err, -EINVAL,
                       "%s: column '%s.%s' is NOT NULL, so rule 'null' cannot "
                       "apply",
                       cr->where, r->display, c->name);
    if (c->key && c->rule.kind != MASK_KEEP && c->rule.kind != MASK_HASH)
        return err_set(err, -EINVAL,
                       "%s: column '%s.%s' is part of the primary key: only "
                       "'keep' or 'hash' keep it unique and stable",
                       cr->where, r->display, c->name);
    return 0;
}

static int apply_rule(struct relation *rels, size_t n, const char *pub,
                      const struct config_data_rule *cr, struct err *err)
{
    struct relation *r = catalog_find_name(rels, n, cr->table);
    if (!r)
        return err_set(err, -ENOENT, "%s: table '%s' is not in publication '%s'", cr->where,
                       cr->table, pub);
    long i = relation_column_index(r, cr->column);
    if (i < 0)
        return err_set(err, -ENOENT, "%s: table '%s' has no column '%s'", cr->where, r->display,
                       cr->column);
    struct relation_column *c = &r->cols[i];
    mask_rule_release(&c->rule);
    memset(&c->rule, 0, sizeof(c->rule));
    int rc = mask_rule_parse(cr->rule, &c->rule, err);
    if (rc) {
        err_prefix(err, "%s: %s.%s", cr->where, r->display, c->name);
        c->rule.kind = MASK_KEEP;
        return rc;
    }
    rc = check_rule(r, c, cr, err);
    if (!rc && c->rule.kind != MASK_KEEP)
        r->masked = true;
    return rc;
}

int catalog_apply_rules(struct relation *rels, size_t n, const struct config_data *cfg,
                        struct err *err)
{
    for (size_t i = 0; i < cfg->nrules; i++) {
        int rc = apply_rule(rels, n, cfg->publication, &cfg->rules[i], err);
        if (rc)
            return rc;
    }
    return 0;
}

static int shadow_columns(PGconn *shadow, const struct relation *r, PGresult **out, struct err *err)
{
    const char *params[] = {r->qname};
    *out = pgconn_query(shadow, "shadow", sql_shadow_columns, 1, params, err);
    return *out ? 0 : -EIO;
}

/* Describes how the shadow's columns (res) differ from r's; empty when they match. */
static void column_diff(const struct relation *r, PGresult *res, bool follow, struct buf *out)
{
    int n = PQntuples(res);
    for (size_t i = 0; i < r->ncols; i++) {
        int j = 0;
        while (j < n && strcmp(PQgetvalue(res, j, 0), r->cols[i].name))
            j++;
        if (j == n && !follow)
            buf_printf(out, "%scolumn '%s' missing on the shadow", out->len ? ", " : "",
                       r->cols[i].name);
        else if (j < n && strcmp(PQgetvalue(res, j, 1), r->cols[i].type_sql))
            buf_printf(out, "%scolumn '%s' is %s on the source but %s on the shadow",
                       out->len ? ", " : "", r->cols[i].name, r->cols[i].type_sql,
                       PQgetvalue(res, j, 1));
    }
    for (int j = 0; j < n; j++)
        if (relation_column_index(r, PQgetvalue(res, j, 0)) < 0)
            buf_printf(out, "%scolumn '%s' is only on the shadow", out->len ? ", " : "",
                       PQgetvalue(res, j, 0));
}

static void create_sql(const struct relation *r, struct buf *b)
{
    char *ns = pgconn_ident(r->nspname);
    buf_printf(b, "CREATE SCHEMA IF NOT EXISTS %s; CREATE TABLE %s (", ns, r->qname);
    free(ns);
    for (size_t i = 0; i < r->ncols; i++) {
        char *q = pgconn_ident(r->cols[i].name);
        buf_printf(b, "%s %s %s, ", q, r->cols[i].type_sql, r->cols[i].not_null ? "NOT NULL" : "");
        free(q);
    }
    buf_appends(b, "PRIMARY KEY (");
    for (size_t k = 0; k < r->nkey; k++) {
        char *q = pgconn_ident(r->cols[r->key[k]].name);
        buf_printf(b, "%s%s", k ? ", " : "", q);
        free(q);
    }
    buf_appends(b, "))");
}

int catalog_create_shadow(PGconn *shadow, const struct relation *r, struct err *err)
{
    PGresult *res = NULL;
    struct buf b;
    buf_init(&b, 1 << 20);
    int rc = shadow_columns(shadow, r, &res, err);
    if (rc)
        goto out;
    if (PQntuples(res) == 0) {
        create_sql(r, &b);
        rc = pgconn_cmd(shadow, "shadow", b.data, err);
        goto out;
    }
    column_diff(r, res, false, &b);
    if (b.len) {
        rc = err_set(err, -EINVAL,
                     "shadow table '%s' exists with other columns: %s; drop it "
                     "or make it match",
                     r->display, b.data);
        goto out;
    }
    buf_printf(&b, "TRUNCATE %s", r->qname);
    rc = pgconn_cmd(shadow, "shadow", b.data, err);
out:
    PQclear(res);
    buf_release(&b);
    return rc;
}

/* Leaves out of r the columns the shadow does not have yet (schema: follow). */
static void drop_missing(struct relation *r, PGresult *res)
{
    size_t k = 0;
    for (size_t i = 0; i < r->ncols; i++) {
        int j = 0;
        while (j < PQntuples(res) && strcmp(PQgetvalue(res, j, 0), r->cols[i].name))
            j++;
        if (j == PQntuples(res)) {
            free(r->cols[i].name);
            free(r->cols[i].type_sql);
            mask_rule_release(&r->cols[i].rule);
            continue;
        }
        r->cols[k++] = r->cols[i];
    }
    r->ncols = k;
}

int catalog_check_shadow(PGconn *shadow, struct relation *r, bool follow, struct err *err)
{
    PGresult *res = NULL;
    struct buf b;
    buf_init(&b, 1 << 20);
    int rc = shadow_columns(shadow, r, &res, err);
    if (rc)
        goto out;
    if (PQntuples(res) == 0) {
        rc = err_set(err, -ENOENT,
                     "shadow table '%s' is missing: it was dropped after the "
                     "snapshot; delete the shadow's state to copy again",
                     r->display);
        goto out;
    }
    column_diff(r, res, follow, &b);
    if (b.len) {
        rc = err_set(err, -EINVAL, "schema drift in table '%s': %s", r->display, b.data);
        goto out;
    }
    if (follow)
        drop_missing(r, res);
out:
    PQclear(res);
    buf_release(&b);
    return rc;
}

char *catalog_add_column_sql(const struct relation *r, size_t i)
{
    char *q = pgconn_ident(r->cols[i].name);
    char *s = xasprintf("ALTER TABLE %s ADD COLUMN IF NOT EXISTS %s %s", r->qname, q,
                        r->cols[i].type_sql);
    free(q);
    return s;
}

int catalog_state_init(PGconn *shadow, struct err *err)
{
    return pgconn_cmd(shadow, "shadow",
                      "CREATE SCHEMA IF NOT EXISTS doppel_datashadow; "
                      "CREATE TABLE IF NOT EXISTS doppel_datashadow.progress (slot text PRIMARY "
                      "KEY, lsn pg_lsn NOT NULL, commit_time timestamptz, applied_at timestamptz, "
                      "txns bigint NOT NULL DEFAULT 0, changes bigint NOT NULL DEFAULT 0); "
                      "CREATE TABLE IF NOT EXISTS doppel_datashadow.tables (slot text, name text, "
                      "snapshot_rows bigint NOT NULL DEFAULT 0, inserts bigint NOT NULL DEFAULT "
                      "0, updates bigint NOT NULL DEFAULT 0, deletes bigint NOT NULL DEFAULT 0, "
                      "truncates bigint NOT NULL DEFAULT 0, PRIMARY KEY (slot, name))",
                      err);
}
