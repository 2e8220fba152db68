// SPDX-License-Identifier: Apache-2.0
/*
 * datashadow_verify: `doppel datashadow --verify`, read-only. For every published table it
 * reads the source rows (one repeatable-read snapshot), masks them as the data shadow
 * does, reads the shadow rows, and compares the two as sorted multisets of rows. Columns
 * under `noise` (not `stable`) are random by design, so only whether they are NULL is
 * compared. Meant
 * for a shadow that has caught up (`--status` shows 0 bytes behind) or a quiet source:
 * changes still in flight show as differences. Holds both tables in memory.
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

#define ROWS_MAX (1024ULL * 1024 * 1024)

struct rows {
    char **v;
    size_t n, cap;
};

struct verifier {
    PGconn *src, *shadow;
    const struct mask_key *key;
    struct rng rng;
    struct relation_row row;
    struct buf vals, line;
};

static void rows_release(struct rows *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->v[i]);
    free(r->v);
    memset(r, 0, sizeof(*r));
}

static void rows_add(struct rows *r, const char *s, size_t len)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 256;
        r->v = xreallocarray(r->v, r->cap, sizeof(*r->v));
    }
    r->v[r->n++] = xstrndup(s, len);
}

/* One COPY line to its canonical form: masked when from the source, noise columns
 * reduced to whether they are NULL. */
static int canonical(struct verifier *v, const struct relation *r, const char *line, size_t len,
                     bool from_source, struct err *err)
{
    struct pgoutput_value in[r->ncols ? r->ncols : 1];
    const struct pgoutput_value *vals = in;
    if (len && line[len - 1] == '\n')
        len--;
    if (copytext_split(line, len, in, r->ncols, &v->vals))
        return err_set(err, -EPROTO, "table '%s': a COPY row that does not parse", r->display);
    if (from_source) {
        int rc = relation_mask(r, v->key, &v->rng, in, r->ncols, NULL, &v->row, err);
        if (rc)
            return rc;
        vals = v->row.v;
    }
    buf_reset(&v->line);
    for (size_t i = 0; i < r->ncols; i++) {
        struct pgoutput_value x = vals[i];
        if (r->cols[i].rule.kind == MASK_NOISE && !r->cols[i].rule.stable && x.kind == 't')
            x = (struct pgoutput_value){.kind = 't', .data = "(noise)", .len = 7};
        if ((i && buf_append(&v->line, "\t", 1)) || copytext_escape(&v->line, &x))
            return err_set(err, -ENOSPC, "table '%s': row too large", r->display);
    }
    return 0;
}

static int read_table(struct verifier *v, const struct relation *r, bool from_source,
                      struct rows *out, struct err *err)
{
    PGconn *c = from_source ? v->src : v->shadow;
    const char *what = from_source ? "source" : "shadow";
    struct buf sql;
    buf_init(&sql, 1 << 20);
    buf_printf(&sql, "COPY %s (", r->qname);
    for (size_t i = 0; i < r->ncols; i++) {
        char *q = pgconn_ident(r->cols[i].name);
        buf_printf(&sql, "%s%s", i ? ", " : "", q);
        free(q);
    }
    buf_appends(&sql, ") TO STDOUT");
    PGresult *res = PQexec(c, sql.data);
    buf_release(&sql);
    int rc = PQresultStatus(res) == PGRES_COPY_OUT
                 ? 0
                 : err_set(err, -EIO, "%s: reading '%s': %s", what, r->display,
                           PQresultErrorMessage(res));
    PQclear(res);
    char *line;
    int n;
    while (!rc && (n = PQgetCopyData(c, &line, 0)) > 0) {
        rc = canonical(v, r, line, (size_t)n, from_source, err);
        if (!rc)
            rows_add(out, v->line.data, v->line.len);
        PQfreemem(line);
    }
    while ((res = PQgetResult(c)))
        PQclear(res);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Rows only in a (*only_a) and only in b (*only_b), as multisets. */
static void diff(struct rows *a, struct rows *b, size_t *only_a, size_t *only_b)
{
    size_t i = 0, j = 0;
    if (a->n)
        qsort(a->v, a->n, sizeof(char *), cmp_str);
    if (b->n)
        qsort(b->v, b->n, sizeof(char *), cmp_str);
    *only_a = *only_b = 0;
    while (i < a->n || j < b->n) {
        int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->v[i], b->v[j]);
        *only_a += c < 0;
        *only_b += c > 0;
        i += c <= 0;
        j += c >= 0;
    }
}

struct verdict {
    size_t source_rows, shadow_rows, missing, extra;
};

static int verify_table(struct verifier *v, const struct relation *r, struct verdict *out,
                        struct err *err)
{
    struct rows a = {0}, b = {0};
    int rc = read_table(v, r, true, &a, err);
    if (!rc)
        rc = read_table(v, r, false, &b, err);
    if (!rc) {
        out->source_rows = a.n;
        out->shadow_rows = b.n;
        diff(&a, &b, &out->missing, &out->extra);
    }
    rows_release(&a);
    rows_release(&b);
    return rc;
}

static void report(const struct relation *r, const struct verdict *d, cJSON *arr, struct buf *out)
{
    bool ok = !d->missing && !d->extra;
    if (arr) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "table", r->display);
        cJSON_AddNumberToObject(t, "source_rows", (double)d->source_rows);
        cJSON_AddNumberToObject(t, "shadow_rows", (double)d->shadow_rows);
        cJSON_AddNumberToObject(t, "missing", (double)d->missing);
        cJSON_AddNumberToObject(t, "extra", (double)d->extra);
        cJSON_AddBoolToObject(t, "ok", ok);
        cJSON_AddItemToArray(arr, t);
        return;
    }
    buf_printf(out, "%-32s %8zu source rows %8zu shadow rows  ", r->display, d->source_rows,
               d->shadow_rows);
    if (ok)
        buf_appends(out, "ok\n");
    else
        buf_printf(out, "DIFFERS: %zu missing from the shadow, %zu extra\n", d->missing, d->extra);
}

static int verify_all(struct verifier *v, struct relation *rels, size_t n, cJSON *arr,
                      struct buf *out, size_t *bad, struct err *err)
{
    int rc = pgconn_cmd(v->src, "source", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err);
    *bad = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        struct verdict d = {0};
        rc = verify_table(v, &rels[i], &d, err);
        if (!rc)
            report(&rels[i], &d, arr, out);
        *bad += !rc && (d.missing || d.extra);
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
    PQfinish(v.src);
    PQfinish(v.shadow);
    mask_key_release(&key);
    return rc;
}
