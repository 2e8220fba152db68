/* SPDX-License-Identifier: Apache-2.0 */
/*
 * csv: a small CSV reader for the analyze subcommands (see csv.h). The whole file is read
 * into memory under a cap and split in place; field pointers are collected as offsets into
 * one growing array and turned into pointers at the end.
 */
#include "cli/csv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/str.h"
#include "base/xalloc.h"

static int slurp(const char *path, size_t max, struct buf *b, struct err *err)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return err_set(err, -errno, "%s: cannot open: %s", path, strerror(errno));
    char chunk[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (buf_append(b, chunk, n) != 0) {
            rc = err_set(err, -EFBIG, "%s: file is larger than %zu bytes", path, max);
            break;
        }
    }
    if (!rc && ferror(f))
        rc = err_set(err, -EIO, "%s: read error", path);
    if (f != stdin)
        fclose(f);
    return rc;
}

struct splitter {
    size_t *offs; /* field start offsets into data, all rows */
    size_t n, cap;
};

static void push(struct splitter *sp, size_t off)
{
    if (sp->n == sp->cap) {
        sp->cap = sp->cap ? sp->cap * 2 : 4096;
        sp->offs = xreallocarray(sp->offs, sp->cap, sizeof(size_t));
    }
    sp->offs[sp->n++] = off;
}

/* Splits the line at s (NUL-terminated, modified in place) into fields; returns how many. */
static size_t split_line(char *data, char *s, struct splitter *sp)
{
    size_t nf = 0;
    for (;;) {
        char *start = s, *w = s;
        if (*s == '"') {
            s++;
            while (*s) {
                if (*s == '"' && s[1] == '"') {
                    *w++ = '"';
                    s += 2;
                } else if (*s == '"') {
                    s++;
                    break;
                } else {
                    *w++ = *s++;
                }
            }
            while (*s && *s != ',')
                s++;
        } else {
            while (*s && *s != ',')
                s++;
            w = s;
        }
        char sep = *s;
        *w = '\0';
        push(sp, (size_t)(start - data));
        nf++;
        if (sep != ',')
            return nf;
        s++;
    }
}

int csv_read_file(const char *path, int header, size_t max_bytes, struct csv *out, struct err *err)
{
    struct buf b;
    buf_init(&b, max_bytes);
    memset(out, 0, sizeof(*out));
    out->path = xstrdup(path);
    int rc = slurp(path, max_bytes, &b, err);
    if (rc) {
        buf_release(&b);
        csv_release(out);
        return rc;
    }
    out->data = buf_steal(&b, NULL);
    struct splitter sp = {0};
    size_t cap = 0, hfields = 0, *nf = NULL;
    int line = 0, have_header = !header;
    char *p = out->data;
    while (*p) {
        char *nl = strchr(p, '\n');
        char *next = nl ? nl + 1 : p + strlen(p);
        if (nl)
            *nl = '\0';
        line++;
        size_t len = (size_t)((nl ? nl : next) - p);
        if (len && p[len - 1] == '\r')
            p[--len] = '\0';
        if (len == 0) {
            p = next;
            continue;
        }
        if (!have_header) {
            out->header.line = line;
            hfields = split_line(out->data, p, &sp);
            have_header = 1;
        } else {
            if (out->nrows == cap) {
                cap = cap ? cap * 2 : 1024;
                out->rows = xreallocarray(out->rows, cap, sizeof(*out->rows));
                nf = xreallocarray(nf, cap, sizeof(size_t));
            }
            out->rows[out->nrows].line = line;
            nf[out->nrows++] = split_line(out->data, p, &sp);
        }
        p = next;
    }
    out->fieldv = xcalloc(sp.n ? sp.n : 1, sizeof(char *));
    for (size_t i = 0; i < sp.n; i++)
        out->fieldv[i] = out->data + sp.offs[i];
    size_t k = 0;
    if (header && have_header) {
        out->header.fields = out->fieldv;
        out->header.nfields = hfields;
        k = hfields;
    }
    for (size_t i = 0; i < out->nrows; i++) {
        out->rows[i].fields = out->fieldv + k;
        out->rows[i].nfields = nf[i];
        k += nf[i];
    }
    free(sp.offs);
    free(nf);
    if (header && !have_header) {
        csv_release(out);
        return err_set(err, -EINVAL, "%s: file is empty (expected a header line)", path);
    }
    return 0;
}

void csv_release(struct csv *c)
{
    if (!c)
        return;
    free(c->rows);
    free(c->fieldv);
    free(c->data);
    free(c->path);
    memset(c, 0, sizeof(*c));
}

int csv_column(const struct csv *c, const char *name)
{
    for (size_t i = 0; i < c->header.nfields; i++)
        if (strcmp(c->header.fields[i], name) == 0)
            return (int)i;
    return -1;
}

int csv_double(const struct csv *c, const struct csv_row *row, size_t col, double *out,
               struct err *err)
{
    const char *name = col < c->header.nfields ? c->header.fields[col] : "";
    if (col >= row->nfields)
        return err_set(err, -EINVAL, "%s:%d: column %zu ('%s') is missing", c->path, row->line,
                       col + 1, name);
    const char *s = row->fields[col];
    while (*s == ' ')
        s++;
    if (str_to_double(s, out) != 0)
        return err_set(err, -EINVAL, "%s:%d: column %zu ('%s'): '%s' is not a finite number",
                       c->path, row->line, col + 1, name, row->fields[col]);
    return 0;
}
