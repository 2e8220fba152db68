// SPDX-License-Identifier: Apache-2.0
/*
 * rowset: the key → row digest table of `--verify` (see rowset.h). Linear probing over a
 * power-of-two array kept at most three quarters full; the hash of a key is computed
 * again when the array grows instead of being stored, which keeps a slot at 24 bytes.
 */
#include "datashadow/rowset.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/xalloc.h"

#define KEYS_LIMIT 0x7fffffffu

void rowset_init(struct rowset *s, size_t keys_max)
{
    memset(s, 0, sizeof(*s));
    s->keys_max = keys_max < KEYS_LIMIT ? keys_max : KEYS_LIMIT;
}

void rowset_release(struct rowset *s)
{
    if (!s)
        return;
    free(s->slots);
    free(s->keys);
    memset(s, 0, sizeof(*s));
}

void rowset_digest(const void *row, size_t len, unsigned char md[ROWSET_MD_LEN])
{
    unsigned char full[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(row, len, full, &n, EVP_sha256(), NULL);
    memcpy(md, full, ROWSET_MD_LEN);
}

/* FNV-1a: keys come masked from a database, not from an adversary of this table. */
static uint64_t key_hash(const char *key, size_t len)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 0x100000001b3u;
    }
    return h;
}

static size_t slot_len(const struct rowset_slot *e)
{
    return e->len & ~ROWSET_TAKEN;
}

/* The slot holding key, or the empty slot where it would go. */
static struct rowset_slot *find(const struct rowset *s, const char *key, size_t len)
{
    size_t mask = s->cap - 1, i = key_hash(key, len) & mask;
    for (;; i = (i + 1) & mask) {
        struct rowset_slot *e = &s->slots[i];
        if (!e->off || (slot_len(e) == len && !memcmp(s->keys + e->off, key, len)))
            return e;
    }
}

static void resize(struct rowset *s, size_t cap)
{
    struct rowset_slot *old = s->slots;
    size_t n = s->cap;
    s->cap = cap;
    s->slots = xcalloc(s->cap, sizeof(*s->slots));
    for (size_t i = 0; i < n; i++)
        if (old[i].off)
            *find(s, s->keys + old[i].off, slot_len(&old[i])) = old[i];
    free(old);
}

static int store_key(struct rowset *s, const char *key, size_t len, uint32_t *off)
{
    size_t start = s->keys_len ? s->keys_len : 1;
    if (len > s->keys_max || start + len > s->keys_max)
        return -ENOSPC;
    if (start + len > s->keys_cap) {
        size_t cap = s->keys_cap ? s->keys_cap : 4096;
        while (cap < start + len)
            cap *= 2;
        s->keys_cap = cap < s->keys_max ? cap : s->keys_max;
        s->keys = xrealloc(s->keys, s->keys_cap);
    }
    memcpy(s->keys + start, key, len);
    s->keys_len = start + len;
    *off = (uint32_t)start;
    return 0;
}

void rowset_reserve(struct rowset *s, uint64_t rows)
{
    size_t cap = s->cap ? s->cap : 1024;
    if (rows > (1ull << 32))
        rows = 1ull << 32;
    while (3 * (uint64_t)cap < 4 * rows)
        cap *= 2;
    if (cap > s->cap)
        resize(s, cap);
}

int rowset_add(struct rowset *s, const char *key, size_t len, const unsigned char md[ROWSET_MD_LEN])
{
    if (4 * (s->n + 1) > 3 * s->cap)
        resize(s, s->cap ? 2 * s->cap : 1024);
    struct rowset_slot *e = find(s, key, len);
    if (e->off)
        return -EEXIST;
    uint32_t off;
    int rc = store_key(s, key, len, &off);
    if (rc)
        return rc;
    e->off = off;
    e->len = (uint32_t)len;
    memcpy(e->md, md, ROWSET_MD_LEN);
    s->n++;
    return 0;
}

int rowset_take(struct rowset *s, const char *key, size_t len,
                const unsigned char md[ROWSET_MD_LEN])
{
    if (!s->cap)
        return -ENOENT;
    struct rowset_slot *e = find(s, key, len);
    if (!e->off || (e->len & ROWSET_TAKEN))
        return -ENOENT;
    e->len |= ROWSET_TAKEN;
    return memcmp(e->md, md, ROWSET_MD_LEN) ? 1 : 0;
}

bool rowset_next_untaken(const struct rowset *s, size_t *pos, const char **key, size_t *len)
{
    for (; *pos < s->cap; (*pos)++) {
        const struct rowset_slot *e = &s->slots[*pos];
        if (e->off && !(e->len & ROWSET_TAKEN)) {
            *key = s->keys + e->off;
            *len = slot_len(e);
            (*pos)++;
            return true;
        }
    }
    return false;
}
