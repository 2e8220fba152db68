/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hmac_key: an HMAC-SHA256 key prepared once (when a route table is built) so the data
 * path does not key a fresh MAC for every value it pseudonymizes. OpenSSL's one-shot
 * HMAC() looks the algorithm up, allocates a context and hashes the padded key on every
 * call; a prepared key keeps a few keyed contexts that workers borrow (a lock-free slot
 * each, re-initialised to the keyed state by OpenSSL) and falls back to duplicating the
 * keyed template when every slot is taken. Outputs are those of HMAC() under the same key.
 * Owned by the anonymize rules of a route table (model/route_table.h); safe to use from
 * several threads at once; immutable apart from the slots' busy flags.
 */
#ifndef DOPPEL_MODEL_HMAC_KEY_H
#define DOPPEL_MODEL_HMAC_KEY_H

#include <stddef.h>

#define HMAC_KEY_SHA256_LEN 32

struct hmac_key;

/* Prepares key (len bytes, may be 0); NULL when OpenSSL cannot (callers then fall back to
 * the one-shot HMAC()). */
struct hmac_key *hmac_key_new(const void *key, size_t len);
/* HMAC-SHA256(key, msg) into md; 0 or -EIO. */
int hmac_key_sha256(struct hmac_key *k, const void *msg, size_t len,
                    unsigned char md[HMAC_KEY_SHA256_LEN]);
void hmac_key_free(struct hmac_key *k);

#endif
