// SPDX-License-Identifier: Apache-2.0
/*
 * relation: a published table and the masking of its rows (see relation.h). The row key
 * handed to per-row rules is the source primary key's text, columns joined by a unit
 * separator (0x1f), so the same source row always masks the same way.
 */
#include "datashadow/relation.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

#define ROW_VALUE_MAX (1024 * 1024 * 1024)

void relation_release(struct relation *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->ncols; i++) {
        free(r->cols[i].name);
        free(r->cols[i].type_sql);
        mask_rule_release(&r->cols[i].rule);
    }
    free(r->cols);
    free(r->key);
    free(r->nspname);
    free(r->relname);
    free(r->qname);
    free(r->display);
    memset(r, 0, sizeof(*r));
}

long relation_column_index(const struct relation *r, const char *name)
{
    for (size_t i = 0; i < r->ncols; i++)
        if (!strcmp(r->cols[i].name, name))
            return (long)i;
    return -1;
}

void relation_row_init(struct relation_row *row)
{
    memset(row, 0, sizeof(*row));
    buf_init(&row->key, ROW_VALUE_MAX);
}

void relation_row_release(struct relation_row *row)
{
    if (!row)
        return;
    for (size_t i = 0; i < row->cap; i++)
        buf_release(&row->b[i]);
    free(row->b);
    free(row->v);
    buf_release(&row->key);
    memset(row, 0, sizeof(*row));
}

static void row_reserve(struct relation_row *row, size_t n)
{
    if (n <= row->cap)
        return;
    row->v = xreallocarray(row->v, n, sizeof(*row->v));
    row->b = xreallocarray(row->b, n, sizeof(*row->b));
    for (size_t i = row->cap; i < n; i++)
        buf_init(&row->b[i], ROW_VALUE_MAX);
    row->cap = n;
}

static int row_key(const struct relation *r, const struct pgoutput_value *from, size_t n,
                   struct buf *key)
{
    buf_reset(key);
    for (size_t i = 0; i < r->nkey; i++) {
        size_t c = r->key[i];
        if (i && buf_append(key, "\x1f", 1))
            return -ENOSPC;
        if (c < n && from[c].kind == 't' && buf_append(key, from[c].data, from[c].len))
            return -ENOSPC;
    }
    return 0;
}

static int mask_one(const struct relation *r, size_t i, const struct mask_key *key, struct rng *rng,
                    const struct pgoutput_value *in, struct relation_row *row, struct err *err)
{
    const struct relation_column *c = &r->cols[i];
    bool is_null = false;
    row->v[i] = in[i];
    if (c->rule.kind == MASK_KEEP || in[i].kind != 't')
        return 0;
    int rc = mask_value(&c->rule, c->mtype, key, in[i].data, in[i].len, row->key.data, row->key.len,
                        rng, &row->b[i], &is_null, err);
    if (rc) {
        err_prefix(err, "%s.%s", r->display, c->name);
        return rc;
    }
    row->v[i].kind = is_null ? 'n' : 't';
    row->v[i].data = is_null ? NULL : row->b[i].data;
    row->v[i].len = is_null ? 0 : (uint32_t)row->b[i].len;
    return 0;
}

int relation_mask(const struct relation *r, const struct mask_key *key, struct rng *rng,
                  const struct pgoutput_value *in, size_t n, const struct pgoutput_value *key_from,
                  struct relation_row *row, struct err *err)
{
    if (n != r->ncols)
        return err_set(err, -EPROTO, "table '%s': a row of %zu columns, expected %zu", r->display,
                       n, r->ncols);
    row_reserve(row, n);
    if (r->masked && row_key(r, key_from ? key_from : in, n, &row->key))
        return err_set(err, -ENOSPC, "table '%s': primary key too long", r->display);
    for (size_t i = 0; i < n; i++) {
        int rc = mask_one(r, i, key, rng, in, row, err);
        if (rc)
            return rc;
    }
    return 0;
}
