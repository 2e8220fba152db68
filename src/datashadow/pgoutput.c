// SPDX-License-Identifier: Apache-2.0
/*
 * pgoutput: the decoder of pgoutput protocol v1 and v2 messages (see pgoutput.h). A cursor walks
 * the bytes; every read checks the bounds first, so a truncated or corrupt message gives
 * -EPROTO and never reads past the buffer. Sits between the replication stream (stream.c),
 * which hands it XLogData payloads, and apply.c, which consumes the decoded messages.
 */
#include "datashadow/pgoutput.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

struct cursor {
    const char *p;
    size_t left;
    bool bad;
};

static const char *take(struct cursor *c, size_t n)
{
    if (c->bad || c->left < n) {
        c->bad = true;
        return NULL;
    }
    const char *at = c->p;
    c->p += n;
    c->left -= n;
    return at;
}

static uint64_t get_be(struct cursor *c, size_t n)
{
    const unsigned char *b = (const unsigned char *)take(c, n);
    uint64_t v = 0;
    for (size_t i = 0; b && i < n; i++)
        v = v << 8 | b[i];
    return v;
}

static const char *get_str(struct cursor *c)
{
    const char *end = c->bad ? NULL : memchr(c->p, '\0', c->left);
    if (!end) {
        c->bad = true;
        return NULL;
    }
    return take(c, (size_t)(end - c->p) + 1);
}

uint64_t pgoutput_get64(const char *p)
{
    struct cursor c = {p, 8, false};
    return get_be(&c, 8);
}

void pgoutput_put64(char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (char)(v & 0xff);
}

static void get_tuple(struct cursor *c, struct pgoutput_tuple *t)
{
    t->n = (uint16_t)get_be(c, 2);
    if (t->n > t->cap) {
        t->v = xreallocarray(t->v, t->n, sizeof(*t->v));
        t->cap = t->n;
    }
    for (uint16_t i = 0; i < t->n && !c->bad; i++) {
        struct pgoutput_value *v = &t->v[i];
        const char *k = take(c, 1);
        v->kind = k ? *k : 'n';
        v->data = NULL;
        v->len = 0;
        if (v->kind == 't' || v->kind == 'b') {
            v->len = (uint32_t)get_be(c, 4);
            v->data = take(c, v->len);
        } else if (v->kind != 'n' && v->kind != 'u') {
            c->bad = true;
        }
    }
}

static void get_relation(struct cursor *c, struct pgoutput_msg *m)
{
    m->relid = (uint32_t)get_be(c, 4);
    m->nspname = get_str(c);
    m->relname = get_str(c);
    const char *ri = take(c, 1);
    m->replident = ri ? *ri : 0;
    m->ncols = (uint16_t)get_be(c, 2);
    if (m->ncols > m->cols_cap) {
        m->cols = xreallocarray(m->cols, m->ncols, sizeof(*m->cols));
        m->cols_cap = m->ncols;
    }
    for (uint16_t i = 0; i < m->ncols && !c->bad; i++) {
        m->cols[i].flags = (uint8_t)get_be(c, 1);
        m->cols[i].name = get_str(c);
        m->cols[i].type_oid = (uint32_t)get_be(c, 4);
        m->cols[i].typmod = (int32_t)(uint32_t)get_be(c, 4);
    }
}

/* Update and Delete: an optional old tuple ('K' or 'O'), then for Update 'N' and the new. */
static void get_change(struct cursor *c, struct pgoutput_msg *m)
{
    m->relid = (uint32_t)get_be(c, 4);
    m->old_kind = 0;
    const char *k = take(c, 1);
    if (k && (*k == 'K' || *k == 'O')) {
        m->old_kind = *k;
        get_tuple(c, &m->old);
        if (m->kind == PGOUTPUT_DELETE)
            return;
        k = take(c, 1);
    }
    if (m->kind == PGOUTPUT_DELETE || !k || *k != 'N') {
        c->bad = true;
        return;
    }
    get_tuple(c, &m->new_);
}

static void get_truncate(struct cursor *c, struct pgoutput_msg *m)
{
    m->nrelids = (uint32_t)get_be(c, 4);
    m->truncate_flags = (uint8_t)get_be(c, 1);
    if (c->bad || m->nrelids > c->left / 4) {
        c->bad = true;
        return;
    }
    if (m->nrelids > m->relids_cap) {
        m->relids = xreallocarray(m->relids, m->nrelids, sizeof(*m->relids));
        m->relids_cap = m->nrelids;
    }
    for (uint32_t i = 0; i < m->nrelids; i++)
        m->relids[i] = (uint32_t)get_be(c, 4);
}

/* The protocol version 2 messages that frame a streamed transaction. */
static int decode_stream(struct cursor *c, struct pgoutput_msg *m)
{
    switch (m->kind) {
    case PGOUTPUT_STREAM_START:
        m->xid = (uint32_t)get_be(c, 4);
        m->first_segment = get_be(c, 1) == 1;
        return 0;
    case PGOUTPUT_STREAM_STOP:
        return 0;
    case PGOUTPUT_STREAM_COMMIT:
        m->xid = (uint32_t)get_be(c, 4);
        (void)get_be(c, 1); /* flags, unused */
        m->lsn = get_be(c, 8);
        m->end_lsn = get_be(c, 8);
        m->ts = (int64_t)get_be(c, 8);
        return 0;
    case PGOUTPUT_STREAM_ABORT:
        /* protocol version 4 appends the abort LSN and time, which we do not request */
        m->xid = (uint32_t)get_be(c, 4);
        m->sub_xid = (uint32_t)get_be(c, 4);
        return 0;
    default:
        return -ENOTSUP;
    }
}

static int decode_body(struct cursor *c, struct pgoutput_msg *m)
{
    switch (m->kind) {
    case PGOUTPUT_BEGIN:
        m->lsn = get_be(c, 8);
        m->ts = (int64_t)get_be(c, 8);
        m->xid = (uint32_t)get_be(c, 4);
        return 0;
    case PGOUTPUT_COMMIT:
        (void)get_be(c, 1); /* flags, unused */
        m->lsn = get_be(c, 8);
        m->end_lsn = get_be(c, 8);
        m->ts = (int64_t)get_be(c, 8);
        return 0;
    case PGOUTPUT_ORIGIN:
        m->lsn = get_be(c, 8);
        m->relname = get_str(c);
        return 0;
    case PGOUTPUT_RELATION:
        get_relation(c, m);
        return 0;
    case PGOUTPUT_TYPE:
        m->relid = (uint32_t)get_be(c, 4);
        m->nspname = get_str(c);
        m->relname = get_str(c);
        return 0;
    case PGOUTPUT_INSERT:
        m->relid = (uint32_t)get_be(c, 4);
        if (get_be(c, 1) != 'N')
            c->bad = true;
        get_tuple(c, &m->new_);
        return 0;
    case PGOUTPUT_UPDATE:
    case PGOUTPUT_DELETE:
        get_change(c, m);
        return 0;
    case PGOUTPUT_TRUNCATE:
        get_truncate(c, m);
        return 0;
    case PGOUTPUT_MESSAGE:
        return 0; /* logical decoding messages carry nothing to apply */
    default:
        return decode_stream(c, m);
    }
}

/* Messages that carry their transaction's xid first when sent inside a stream segment. */
static bool has_stream_xid(enum pgoutput_kind k)
{
    return k == PGOUTPUT_RELATION || k == PGOUTPUT_TYPE || k == PGOUTPUT_INSERT ||
           k == PGOUTPUT_UPDATE || k == PGOUTPUT_DELETE || k == PGOUTPUT_TRUNCATE ||
           k == PGOUTPUT_MESSAGE;
}

int pgoutput_decode_in(const char *p, size_t len, bool in_stream, struct pgoutput_msg *m)
{
    struct cursor c = {p, len, false};
    const char *k = take(&c, 1);
    if (!k)
        return -EPROTO;
    m->kind = (enum pgoutput_kind)(unsigned char)*k;
    m->old_kind = 0;
    m->old.n = m->new_.n = 0;
    if (in_stream && has_stream_xid(m->kind))
        m->xid = (uint32_t)get_be(&c, 4);
    int rc = decode_body(&c, m);
    if (rc)
        return rc;
    return c.bad ? -EPROTO : 0;
}

int pgoutput_decode(const char *p, size_t len, struct pgoutput_msg *m)
{
    return pgoutput_decode_in(p, len, false, m);
}

void pgoutput_msg_release(struct pgoutput_msg *m)
{
    if (!m)
        return;
    free(m->cols);
    free(m->old.v);
    free(m->new_.v);
    free(m->relids);
    memset(m, 0, sizeof(*m));
}
