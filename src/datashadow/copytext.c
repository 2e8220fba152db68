// SPDX-License-Identifier: Apache-2.0
/*
 * copytext: reading and writing PostgreSQL's COPY text format (see copytext.h). Used by
 * the snapshot (snapshot.c) for tables that have masked columns; tables without rules
 * copy lines through unchanged.
 */
#include "datashadow/copytext.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes the escape at s[i] (s[i-1] was the backslash); returns the byte, sets *used. */
static int unescape(const char *s, size_t len, size_t i, size_t *used)
{
    static const char from[] = "btnvfr", to[] = "\b\t\n\v\f\r";
    const char *k = i < len ? strchr(from, s[i]) : NULL;
    *used = 1;
    if (i >= len)
        return -1;
    if (k && *k)
        return to[k - from];
    if (s[i] >= '0' && s[i] <= '7') {
        int v = 0;
        size_t j = i;
        while (j < len && j < i + 3 && s[j] >= '0' && s[j] <= '7')
            v = v * 8 + (s[j++] - '0');
        *used = j - i;
        return v & 0xff;
    }
    if (s[i] == 'x' && i + 1 < len && hexval(s[i + 1]) >= 0) {
        int v = hexval(s[i + 1]);
        *used = 2;
        if (i + 2 < len && hexval(s[i + 2]) >= 0) {
            v = v * 16 + hexval(s[i + 2]);
            *used = 3;
        }
        return v;
    }
    return (unsigned char)s[i]; /* "\\" and any other character stand for themselves */
}

/* Unescapes s[0..len) into store; returns the offset of the field's first byte or -errno. */
static long field(const char *s, size_t len, struct buf *store)
{
    size_t start = store->len;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '\\') {
            size_t used;
            int v = unescape(s, len, i + 1, &used);
            if (v < 0)
                return -EPROTO;
            c = (char)v;
            i += used;
        }
        if (buf_append(store, &c, 1))
            return -ENOSPC;
    }
    return (long)start;
}

int copytext_split(const char *line, size_t len, struct pgoutput_value *out, size_t n,
                   struct buf *store)
{
    size_t pos = 0, k = 0, offs[n ? n : 1];
    buf_reset(store);
    while (k < n) {
        const char *tab = memchr(line + pos, '\t', len - pos);
        size_t flen = (tab ? (size_t)(tab - line) : len) - pos;
        if (flen == 2 && line[pos] == '\\' && line[pos + 1] == 'N') {
            out[k].kind = 'n';
        } else {
            long off = field(line + pos, flen, store);
            if (off < 0)
                return (int)off;
            out[k].kind = 't';
            offs[k] = (size_t)off;
            out[k].len = (uint32_t)(store->len - (size_t)off);
        }
        k++;
        pos += flen + 1;
        if (!tab)
            break;
    }
    if (k != n || pos <= len)
        return -EPROTO;
    for (size_t i = 0; i < n; i++)
        out[i].data = out[i].kind == 't' ? store->data + offs[i] : NULL;
    return 0;
}

int copytext_escape(struct buf *out, const struct pgoutput_value *v)
{
    if (v->kind != 't')
        return buf_append(out, "\\N", 2);
    size_t run = 0;
    int rc = 0;
    for (size_t i = 0; i < v->len && !rc; i++) {
        const char *esc = NULL;
        switch (v->data[i]) {
        case '\\':
            esc = "\\\\";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        default:
            continue;
        }
        rc = buf_append(out, v->data + run, i - run);
        if (!rc)
            rc = buf_append(out, esc, 2);
        run = i + 1;
    }
    return rc ? rc : buf_append(out, v->data + run, v->len - run);
}
