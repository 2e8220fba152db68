/* SPDX-License-Identifier: Apache-2.0 */
/*
 * csv: a small CSV reader for the analyze subcommands (see csv.h). The whole file is read
 * into memory under a cap, then split in place.
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

/* Splits one line (NUL-terminated, modified in place) into fields. */
static void split_line(char *s, int line, struct csv_row *row)
{
    size_t cap = 8;
    row->line = line;
    row->nfields = 0;
    row->fields = xmalloc(cap * sizeof(char *));
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
                *w++ = *s++;
        }
        char sep = *s;
        *w = '\0';
        if (row->nfields == cap) {
            cap *= 2;
            row->fields = xreallocarray(row->fields, cap, sizeof(char *));
        }
        row->fields[row->nfields++] = xstrdup(start);
        if (sep != ',')
            break;
        s++;
    }
}

static void row_release(struct csv_row *r)
{
    for (size_t i = 0; i < r->nfields; i++)
        free(r->fields[i]);
    free(r->fields);
    r->fields = NULL;
    r->nfields = 0;
}

int csv_read_file(const char *path, int header, size_t max_bytes, struct csv *out,
                  struct err *err)
{
    struct buf b;
    buf_init(&b, max_bytes);
    memset(out, 0, sizeof(*out));
    out->path = xstrdup(path);
    int rc = slurp(path, max_bytes, &b, err);
    if (rc)
        goto out;
    size_t cap = 0;
    int line = 0, have_header = !header;
    char *p = b.data ? b.data : "";
    while (*p) {
        char *nl = strchr(p, '\n');
        char *next = nl ? nl + 1 : p + strlen(p);
        if (nl)
            *nl = '\0';
        line++;
        size_t len = strlen(p);
        if (len && p[len - 1] == '\r')
            p[--len] = '\0';
        if (len == 0) {
            p = next;
            continue;
        }
        if (!have_header) {
            split_line(p, line, &out->header);
            have_header = 1;
        } else {
            if (out->nrows == cap) {
                cap = cap ? cap * 2 : 1024;
                out->rows = xreallocarray(out->rows, cap, sizeof(*out->rows));
            }
            split_line(p, line, &out->rows[out->nrows++]);
        }
        p = next;
    }
    if (header && !have_header)
        rc = err_set(err, -EINVAL, "%s: file is empty (expected a header line)", path);
out:
    buf_release(&b);
    if (rc)
        csv_release(out);
    return rc;
}

void csv_release(struct csv *c)
{
    if (!c)
        return;
    row_release(&c->header);
    for (size_t i = 0; i < c->nrows; i++)
        row_release(&c->rows[i]);
    free(c->rows);
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
