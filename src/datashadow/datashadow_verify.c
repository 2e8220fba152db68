// SPDX-License-Identifier: Apache-2.0
/*
 * datashadow_verify: `doppel datashadow --verify`, read-only. For every published table it
 * reads the source rows (one repeatable-read snapshot, COPY), masks them as the data
 * shadow does and keeps, per row, only the masked primary key and a digest of the masked
 * row (rowset.c); then it reads the shadow table through a cursor, a batch of rows at a
 * time, and takes each row's key from that set: a key not there is extra on the shadow, a
 * digest that differs is a different row, and keys never taken are missing from the
 * shadow. Columns under `noise` (not `stable`) are random by design, so only whether they
 * are NULL is compared. Meant for a shadow that has caught up (`--status` shows 0 bytes
 * behind) or a quiet source: changes still in flight show as differences. Memory: about
 * 50 bytes a source row with a short key, whatever the rows hold.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/xalloc.h"
#include "datashadow/catalog.h"
#include "datashadow/copytext.h"
#include "datashadow/datashadow.h"
#include "datashadow/pgconn.h"
#include "datashadow/rowset.h"

#define ROWS_MAX (1024ULL * 1024 * 1024)
#define FETCH_ROWS 1000
#define FIRST_KEYS 5

struct verifier {
    PGconn *src, *shadow;
    const struct mask_key *key;
    struct rng rng;
    struct relation_row row;
    struct buf vals, line, keytext;
};

enum { KEYS_MISSING = 0, KEYS_EXTRA, KEYS_DIFFERENT, KEYS_KINDS };

struct verdict {
    size_t source_rows, shadow_rows, count[KEYS_KINDS];
    char *first[KEYS_KINDS][FIRST_KEYS]; /* owned: the first keys of each kind, shown */
};

static void verdict_release(struct verdict *d)
{
    for (int k = 0; k < KEYS_KINDS; k++)
        for (int i = 0; i < FIRST_KEYS; i++)
            free(d->first[k][i]);
}

/* Counts one row of a kind and remembers its key (COPY text, tab-separated) if among the
 * first, shown as "a, b". */
static void note(struct verdict *d, int kind, const char *key, size_t len)
{
    size_t i = d->count[kind]++;
    if (i >= FIRST_KEYS)
        return;
    struct buf b;
    buf_init(&b, 4 * len + 16);
    for (size_t j = 0; j < len; j++)
        if (key[j] == '\t')
            buf_appends(&b, ", ");
        else
            buf_append(&b, &key[j], 1);
    d->first[kind][i] = b.len ? buf_steal(&b, NULL) : xstrdup("");
    buf_release(&b);
}

/* A row's canonical text (into v->line) and its key (into v->keytext): noise columns
 * reduced to whether they are NULL. */
static int canonical(struct verifier *v, const struct relation *r,
                     const struct pgoutput_value *vals, struct err *err)
{
    buf_reset(&v->line);
    buf_reset(&v->keytext);
    for (size_t i = 0; i < r->ncols; i++) {
        struct pgoutput_value x = vals[i];
        if (r->cols[i].rule.kind == MASK_NOISE && !r->cols[i].rule.stable && x.kind == 't')
            x = (struct pgoutput_value){.kind = 't', .data = "(noise)", .len = 7};
        if ((i && buf_append(&v->line, "\t", 1)) || copytext_escape(&v->line, &x))
            return err_set(err, -ENOSPC, "table '%s': row too large", r->display);
    }
    for (size_t k = 0; k < r->nkey; k++)
        if ((k && buf_append(&v->keytext, "\t", 1)) ||
            copytext_escape(&v->keytext, &vals[r->key[k]]))
            return err_set(err, -ENOSPC, "table '%s': key too large", r->display);
    return 0;
}

static void column_list(const struct relation *r, struct buf *sql)
{
    for (size_t i = 0; i < r->ncols; i++) {
        char *q = pgconn_ident(r->cols[i].name);
        buf_printf(sql, "%s%s", i ? ", " : "", q);
        free(q);
    }
}

/* One source COPY line, masked, into the set. */
static int add_source_row(struct verifier *v, const struct relation *r, struct rowset *set,
                          const char *line, size_t len, struct err *err)
{
    struct pgoutput_value in[r->ncols ? r->ncols : 1];
    unsigned char md[ROWSET_MD_LEN];
    if (len && line[len - 1] == '\n')
        len--;
    if (copytext_split(line, len, in, r->ncols, &v->vals))
        return err_set(err, -EPROTO, "table '%s': a COPY row that does not parse", r->display);
    int rc = relation_mask(r, v->key, &v->rng, in, r->ncols, NULL, &v->row, err);
    if (!rc)
        rc = canonical(v, r, v->row.v, err);
    if (rc)
        return rc;
    rowset_digest(v->line.data, v->line.len, md);
    rc = rowset_add(set, v->keytext.data, v->keytext.len, md);
    if (rc == -ENOSPC)
        return err_set(err, rc, "table '%s': too many keys to compare", r->display);
    return 0; /* -EEXIST cannot happen under a primary key; the row counts once */
}

static int read_source(struct verifier *v, const struct relation *r, struct rowset *set,
                       size_t *rows, struct err *err)
{
    struct buf sql;
    buf_init(&sql, 1 << 20);
    buf_printf(&sql, "COPY %s (", r->qname);
    column_list(r, &sql);
    buf_appends(&sql, ") TO STDOUT");
    PGresult *res = PQexec(v->src, sql.data);
    buf_release(&sql);
    int rc = PQresultStatus(res) == PGRES_COPY_OUT ? 0
                                                   : err_set(err, -EIO, "source: reading '%s': %s",
                                                             r->display, PQresultErrorMessage(res));
    PQclear(res);
    char *line;
    int n;
    while (!rc && (n = PQgetCopyData(v->src, &line, 0)) > 0) {
        rc = add_source_row(v, r, set, line, (size_t)n, err);
        (*rows)++;
        PQfreemem(line);
    }
    while ((res = PQgetResult(v->src)))
        PQclear(res);
    return rc;
}
/* One shadow row (row i of a FETCH) taken from the set. */
static int take_shadow_row(struct verifier *v, const struct relation *r, struct rowset *set,
                           PGresult *res, int i, struct verdict *d, struct err *err)
{
    struct pgoutput_value in[r->ncols ? r->ncols : 1];
    unsigned char md[ROWSET_MD_LEN];
    for (size_t c = 0; c < r->ncols; c++) {
        bool null = PQgetisnull(res, i, (int)c);
        in[c] = (struct pgoutput_value){.kind = null ? 'n' : 't',
                                        .data = null ? NULL : PQgetvalue(res, i, (int)c),
                                        .len = null ? 0 : (size_t)PQgetlength(res, i, (int)c)};
    }
    int rc = canonical(v, r, in, err);
    if (rc)
        return rc;
    rowset_digest(v->line.data, v->line.len, md);
    rc = rowset_take(set, v->keytext.data, v->keytext.len, md);
    if (rc)
        note(d, rc < 0 ? KEYS_EXTRA : KEYS_DIFFERENT, v->keytext.data, v->keytext.len);
    return 0;
}

static int fetch_all(struct verifier *v, const struct relation *r, struct rowset *set,
                     struct verdict *d, struct err *err)
{
    char sql[64];
    snprintf(sql, sizeof(sql), "FETCH %d FROM doppel_verify", FETCH_ROWS);
    for (;;) {
        PGresult *res = pgconn_query(v->shadow, "shadow", sql, 0, NULL, err);
        if (!res)
            return -EIO;
        int n = PQntuples(res), rc = 0;
        for (int i = 0; i < n && !rc; i++)
            rc = take_shadow_row(v, r, set, res, i, d, err);
        d->shadow_rows += (size_t)n;
        PQclear(res);
        if (rc || n < FETCH_ROWS)
            return rc;
    }
}

/* The shadow's rows through a cursor, FETCH_ROWS at a time, in one read-only snapshot. */
static int read_shadow(struct verifier *v, const struct relation *r, struct rowset *set,
                       struct verdict *d, struct err *err)
{
    struct buf sql;
    buf_init(&sql, 1 << 20);
    buf_appends(&sql, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; DECLARE doppel_verify "
                      "NO SCROLL CURSOR FOR SELECT ");
    column_list(r, &sql);
    buf_printf(&sql, " FROM %s", r->qname);
    int rc = pgconn_cmd(v->shadow, "shadow", sql.data, err);
    buf_release(&sql);
    if (rc) {
        err_prefix(err, "reading '%s'", r->display);
        pgconn_cmd(v->shadow, "shadow", "ROLLBACK", NULL);
        return rc;
    }
    rc = fetch_all(v, r, set, d, err);
    int rc2 = pgconn_cmd(v->shadow, "shadow", rc ? "ROLLBACK" : "COMMIT", rc ? NULL : err);
    return rc ? rc : rc2;
}

/* Sizes the set from the planner's row estimate (-1 or stale is fine: it grows). */
static int reserve(struct verifier *v, const struct relation *r, struct rowset *set,
                   struct err *err)
{
    char oid[16];
    snprintf(oid, sizeof(oid), "%u", r->relid);
    const char *p[] = {oid};
    PGresult *res = pgconn_query(v->src, "source",
                                 "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = "
                                 "$1::oid",
                                 1, p, err);
    if (!res)
        return -EIO;
    if (PQntuples(res) == 1)
        rowset_reserve(set, strtoull(PQgetvalue(res, 0, 0), NULL, 10));
    PQclear(res);
    return 0;
}

static int verify_table(struct verifier *v, const struct relation *r, struct verdict *d,
                        struct err *err)
{
    struct rowset set;
    rowset_init(&set, ROWS_MAX);
    int rc = reserve(v, r, &set, err);
    if (!rc)
        rc = read_source(v, r, &set, &d->source_rows, err);
    if (!rc)
        rc = read_shadow(v, r, &set, d, err);
    const char *key;
    size_t len, pos = 0;
    while (!rc && rowset_next_untaken(&set, &pos, &key, &len))
        note(d, KEYS_MISSING, key, len);
    rowset_release(&set);
    return rc;
}

static const char *const kind_names[KEYS_KINDS] = {"missing", "extra", "different"};

static void report_json(const struct relation *r, const struct verdict *d, bool ok, cJSON *arr)
{
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "table", r->display);
    cJSON_AddNumberToObject(t, "source_rows", (double)d->source_rows);
    cJSON_AddNumberToObject(t, "shadow_rows", (double)d->shadow_rows);
    for (int k = 0; k < KEYS_KINDS; k++)
        cJSON_AddNumberToObject(t, kind_names[k], (double)d->count[k]);
    for (int k = 0; k < KEYS_KINDS; k++) {
        char name[32];
        snprintf(name, sizeof(name), "%s_keys", kind_names[k]);
        cJSON *keys = cJSON_AddArrayToObject(t, name);
        for (size_t i = 0; i < d->count[k] && i < FIRST_KEYS; i++)
            cJSON_AddItemToArray(keys, cJSON_CreateString(d->first[k][i]));
    }
    cJSON_AddBoolToObject(t, "ok", ok);
    cJSON_AddItemToArray(arr, t);
}

static void report(const struct relation *r, const struct verdict *d, cJSON *arr, struct buf *out)
{
    const size_t *c = d->count;
    bool ok = !c[KEYS_MISSING] && !c[KEYS_EXTRA] && !c[KEYS_DIFFERENT];
    if (arr) {
        report_json(r, d, ok, arr);
        return;
    }
    buf_printf(out, "%-32s %8zu source rows %8zu shadow rows  ", r->display, d->source_rows,
               d->shadow_rows);
    if (ok) {
        buf_appends(out, "ok\n");
        return;
    }
    buf_printf(out, "DIFFERS: %zu missing from the shadow, %zu extra, %zu different\n",
               c[KEYS_MISSING], c[KEYS_EXTRA], c[KEYS_DIFFERENT]);
    for (int k = 0; k < KEYS_KINDS; k++) {
        if (!c[k])
            continue;
        buf_printf(out, "    %s, first keys:", kind_names[k]);
        for (size_t i = 0; i < c[k] && i < FIRST_KEYS; i++)
            buf_printf(out, " (%s)", d->first[k][i]);
        buf_appends(out, c[k] > FIRST_KEYS ? " ...\n" : "\n");
    }
}

static int verify_all(struct verifier *v, struct relation *rels, size_t n, cJSON *arr,
                      struct buf *out, size_t *bad, struct err *err)
{
    int rc = pgconn_cmd(v->src, "source", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err);
    *bad = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        struct verdict d = {0};
        rc = verify_table(v, &rels[i], &d, err);
        bool differs = d.count[KEYS_MISSING] || d.count[KEYS_EXTRA] || d.count[KEYS_DIFFERENT];
        if (!rc)
            report(&rels[i], &d, arr, out);
        *bad += !rc && differs;
        verdict_release(&d);
    }
    if (!rc)
        rc = pgconn_cmd(v->src, "source", "COMMIT", err);
    return rc;
}

static void finish(cJSON *o, size_t n, size_t bad, struct buf *out)
{
    if (o) {
        cJSON_AddBoolToObject(o, "clean", bad == 0);
        char *text = cJSON_Print(o);
        buf_printf(out, "%s\n", text);
        free(text);
    } else if (bad) {
        buf_printf(out, "verify: %zu of %zu tables differ\n", bad, n);
    } else {
        buf_printf(out, "verify: %zu tables, all match\n", n);
    }
}

int datashadow_verify(const struct config_data *cfg, bool json, struct buf *out, bool *clean,
                      struct err *err)
{
    struct verifier v = {0};
    struct relation *rels = NULL;
    struct mask_key key = {0};
    bool has_key = false;
    size_t n = 0, bad = 0;
    cJSON *o = json ? cJSON_CreateObject() : NULL;
    relation_row_init(&v.row);
    buf_init(&v.vals, ROWS_MAX);
    buf_init(&v.line, ROWS_MAX);
    buf_init(&v.keytext, ROWS_MAX);
    rng_seed(&v.rng, (uint64_t)time(NULL));
    *clean = false;
    int rc = datashadow_read_key(cfg, &key, &has_key, err);
    v.key = has_key ? &key : NULL;
    if (!rc)
        rc = pgconn_open(cfg->source, false, cfg->connect_timeout_ns, "source", &v.src, err);
    if (!rc)
        rc = pgconn_open(cfg->shadow, false, cfg->connect_timeout_ns, "shadow", &v.shadow, err);
    if (!rc)
        rc = catalog_load(v.src, cfg->publication, &rels, &n, err);
    if (!rc)
        rc = catalog_apply_rules(rels, n, cfg, err);
    if (!rc)
        rc =
            verify_all(&v, rels, n, o ? cJSON_AddArrayToObject(o, "tables") : NULL, out, &bad, err);
    if (!rc)
        finish(o, n, bad, out);
    *clean = !rc && bad == 0;
    cJSON_Delete(o);
    catalog_free(rels, n);
    relation_row_release(&v.row);
    buf_release(&v.vals);
    buf_release(&v.line);
    buf_release(&v.keytext);
    PQfinish(v.src);
    PQfinish(v.shadow);
    mask_key_release(&key);
    return rc;
}
