/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rowset: what `--verify` remembers of one source table while it reads the shadow's: per
 * row, its masked primary key (COPY text, columns separated by tabs) and a 128-bit digest
 * of the whole masked row (SHA-256, truncated). An open-addressing hash table of 24-byte
 * slots over one array of key texts, so a table costs about 32 to 64 bytes a row plus its keys
 * instead of its rows. Each key is taken at most once by the shadow side; what is never
 * taken is missing from the shadow. Owns its slots and key texts.
 */
#ifndef DOPPEL_DATASHADOW_ROWSET_H
#define DOPPEL_DATASHADOW_ROWSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROWSET_MD_LEN 16

struct rowset_slot {
    uint32_t off; /* into keys; 0: an empty slot */
    uint32_t len; /* key length; ROWSET_TAKEN set once the shadow side found it */
    unsigned char md[ROWSET_MD_LEN];
};

#define ROWSET_TAKEN 0x80000000u

struct rowset {
    struct rowset_slot *slots; /* owned */
    size_t cap, n;             /* cap: a power of two, or 0 */
    char *keys;                /* owned: the key texts, one after another (byte 0 unused) */
    size_t keys_len, keys_cap, keys_max;
};

/* keys_max caps the bytes of key text (at most 2 GiB). */
void rowset_init(struct rowset *s, size_t keys_max);
void rowset_release(struct rowset *s);
/* Sizes the table for about rows keys at once (an estimate: it still grows past it), so
 * that filling it never holds the old and the new array together. */
void rowset_reserve(struct rowset *s, uint64_t rows);
/* The digest of a row's text. */
void rowset_digest(const void *row, size_t len, unsigned char md[ROWSET_MD_LEN]);
/* Adds a key with its row's digest: 0, -EEXIST when the key is there already (the row is
 * not added), -ENOSPC past keys_max. */
int rowset_add(struct rowset *s, const char *key, size_t len,
               const unsigned char md[ROWSET_MD_LEN]);
/* Takes a key found on the other side: 0 when its digest equals md, 1 when it differs,
 * -ENOENT when the key is not there or was taken already. */
int rowset_take(struct rowset *s, const char *key, size_t len,
                const unsigned char md[ROWSET_MD_LEN]);
/* The next key never taken at or after slot *pos (advanced past it): true with key and
 * len set, false when none is left. */
bool rowset_next_untaken(const struct rowset *s, size_t *pos, const char **key, size_t *len);

#endif
