// SPDX-License-Identifier: Apache-2.0
/*
 * spool: in-progress streamed transactions, in memory then in an unlinked file (see
 * spool.h). The records form one sequence of offsets: [0, mem.len) in memory, then
 * [mem.len, mem.len + file_len) in the file. Once a record has gone to the file every
 * later one does too, so the order is kept; a truncation below mem.len empties the file
 * and appends go to memory again. Sits between datashadow.c, which feeds it the change
 * messages of stream segments, and apply.c, which gets them back at Stream Commit.
 */
#include "datashadow/spool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/xalloc.h"

#define HDR 4 /* Int32 record length, big-endian */

void spool_init(struct spool *s, uint32_t xid, size_t mem_max)
{
    memset(s, 0, sizeof(*s));
    s->xid = xid;
    s->fd = -1;
    buf_init(&s->mem, mem_max);
}

void spool_release(struct spool *s)
{
    if (!s)
        return;
    buf_release(&s->mem);
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    s->file_len = 0;
    free(s->subs);
    s->subs = NULL;
    s->nsubs = s->subs_cap = 0;
    s->records = 0;
}

uint64_t spool_size(const struct spool *s)
{
    return s->mem.len + s->file_len;
}

static int open_file(struct spool *s)
{
    const char *dir = getenv("TMPDIR");
    char *path = xasprintf("%s/doppel-spool.XXXXXX", dir && dir[0] ? dir : "/tmp");
    int fd = mkstemp(path);
    int rc = fd < 0 ? -errno : 0;
    if (fd >= 0)
        unlink(path); /* gone with the descriptor, also after a crash */
    free(path);
    s->fd = fd;
    return rc;
}

static int write_all(int fd, const char *p, size_t n, uint64_t at)
{
    while (n) {
        ssize_t w = pwrite(fd, p, n, (off_t)at);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -EIO;
        p += w;
        n -= (size_t)w;
        at += (uint64_t)w;
    }
    return 0;
}

static int read_all(int fd, char *p, size_t n, uint64_t at)
{
    while (n) {
        ssize_t r = pread(fd, p, n, (off_t)at);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? -errno : -EIO;
        p += r;
        n -= (size_t)r;
        at += (uint64_t)r;
    }
    return 0;
}

static void note_sub(struct spool *s, uint32_t subxid)
{
    if (subxid == s->xid)
        return;
    for (size_t i = 0; i < s->nsubs; i++)
        if (s->subs[i].xid == subxid)
            return;
    if (s->nsubs == s->subs_cap) {
        s->subs_cap = s->subs_cap ? 2 * s->subs_cap : 8;
        s->subs = xreallocarray(s->subs, s->subs_cap, sizeof(*s->subs));
    }
    s->subs[s->nsubs++] =
        (struct spool_sub){.xid = subxid, .off = spool_size(s), .records = s->records};
}

int spool_append(struct spool *s, uint32_t subxid, const char *data, size_t len)
{
    char hdr[HDR];
    if (len > UINT32_MAX)
        return -EMSGSIZE;
    for (int i = 0; i < HDR; i++)
        hdr[i] = (char)(len >> (8 * (HDR - 1 - i)) & 0xff);
    note_sub(s, subxid);
    int rc;
    if (!s->file_len && s->mem.len + HDR + len <= s->mem.max) {
        rc = buf_append(&s->mem, hdr, HDR);
        if (!rc)
            rc = buf_append(&s->mem, data, len);
    } else {
        rc = s->fd < 0 ? open_file(s) : 0;
        if (!rc)
            rc = write_all(s->fd, hdr, HDR, s->file_len);
        if (!rc)
            rc = write_all(s->fd, data, len, s->file_len + HDR);
        if (!rc)
            s->file_len += HDR + len;
    }
    s->records += !rc;
    return rc;
}

int spool_abort_sub(struct spool *s, uint32_t subxid)
{
    size_t i = 0;
    while (i < s->nsubs && s->subs[i].xid != subxid)
        i++;
    if (i == s->nsubs)
        return 0;
    uint64_t off = s->subs[i].off;
    s->records = s->subs[i].records;
    if (off < s->mem.len) {
        s->mem.len = (size_t)off;
        s->mem.data[off] = '\0';
        s->file_len = 0;
    } else {
        s->file_len = off - s->mem.len;
    }
    if (s->fd >= 0 && ftruncate(s->fd, (off_t)s->file_len) < 0)
        return -errno;
    /* subtransactions that began later are gone with it */
    size_t keep = 0;
    for (size_t k = 0; k < s->nsubs; k++)
        if (s->subs[k].off < off)
            s->subs[keep++] = s->subs[k];
    s->nsubs = keep;
    return 0;
}

void spool_iter_init(struct spool_iter *it)
{
    memset(it, 0, sizeof(*it));
}

void spool_iter_release(struct spool_iter *it)
{
    if (!it)
        return;
    free(it->buf);
    it->buf = NULL;
    it->cap = 0;
}

static uint32_t get32(const char *p)
{
    const unsigned char *b = (const unsigned char *)p;
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

int spool_next(const struct spool *s, struct spool_iter *it, const char **data, size_t *len)
{
    uint64_t end = spool_size(s);
    if (it->off >= end)
        return 0;
    if (it->off < s->mem.len) {
        if (s->mem.len - it->off < HDR)
            return -EIO;
        uint32_t n = get32(s->mem.data + it->off);
        if (s->mem.len - it->off - HDR < n)
            return -EIO;
        *data = s->mem.data + it->off + HDR;
        *len = n;
        it->off += HDR + n;
        return 1;
    }
    char hdr[HDR];
    uint64_t at = it->off - s->mem.len;
    int rc = end - it->off < HDR ? -EIO : read_all(s->fd, hdr, HDR, at);
    uint32_t n = rc ? 0 : get32(hdr);
    if (!rc && end - it->off - HDR < n)
        rc = -EIO;
    if (!rc && n + (size_t)1 > it->cap) {
        it->cap = n + (size_t)1;
        it->buf = xrealloc(it->buf, it->cap);
    }
    if (!rc)
        rc = read_all(s->fd, it->buf, n, at + HDR);
    if (rc)
        return rc;
    *data = it->buf;
    *len = n;
    it->off += HDR + n;
    return 1;
}

void spool_set_init(struct spool_set *ss, size_t mem_max)
{
    memset(ss, 0, sizeof(*ss));
    ss->mem_max = mem_max;
}

void spool_set_release(struct spool_set *ss)
{
    if (!ss)
        return;
    for (size_t i = 0; i < ss->n; i++) {
        spool_release(ss->v[i]);
        free(ss->v[i]);
    }
    free(ss->v);
    ss->v = NULL;
    ss->n = ss->cap = 0;
}

struct spool *spool_set_find(const struct spool_set *ss, uint32_t xid)
{
    for (size_t i = 0; i < ss->n; i++)
        if (ss->v[i]->xid == xid)
            return ss->v[i];
    return NULL;
}

struct spool *spool_set_open(struct spool_set *ss, uint32_t xid)
{
    struct spool *s = spool_set_find(ss, xid);
    if (s)
        return s;
    if (ss->n == ss->cap) {
        ss->cap = ss->cap ? 2 * ss->cap : 4;
        ss->v = xreallocarray(ss->v, ss->cap, sizeof(*ss->v));
    }
    s = xmalloc(sizeof(*s));
    spool_init(s, xid, ss->mem_max);
    ss->v[ss->n++] = s;
    return s;
}

void spool_set_drop(struct spool_set *ss, uint32_t xid)
{
    for (size_t i = 0; i < ss->n; i++) {
        if (ss->v[i]->xid != xid)
            continue;
        spool_release(ss->v[i]);
        free(ss->v[i]);
        ss->v[i] = ss->v[--ss->n];
        return;
    }
}
