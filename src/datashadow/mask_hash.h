/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mask_hash: the keyed core of the `hash` and `shift` masking rules. One HMAC-SHA256
 * (OpenSSL's EVP_MAC) keyed with the masking secret feeds keyed permutations that keep a
 * value's format: a Feistel network over an integer range (cycle-walked to the exact
 * range), a digit-wise Feistel over the characters of a text (letters stay letters of the
 * same case, digits stay digits, everything else stays in place), the 122 free bits of a
 * UUID, and the parts of an e-mail address. Every map here is a bijection on its domain,
 * so distinct source values stay distinct and primary keys stay unique. Called by mask.c
 * only; owns nothing beyond the MAC context of one struct mask_mac.
 */
#ifndef DOPPEL_DATASHADOW_MASK_HASH_H
#define DOPPEL_DATASHADOW_MASK_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "datashadow/mask.h"

#define MASK_MD_LEN 32

/* A MAC keyed once; every call below reuses it (re-initialised per message, so one
 * mask_mac serves one thread at a time). Opaque, so that this header does not pull
 * OpenSSL into its includers. */
struct mask_mac {
    void *ctx; /* owned: EVP_MAC_CTX keyed with the secret */
};

void mask_mac_init(struct mask_mac *m, const struct mask_key *key);
void mask_mac_release(struct mask_mac *m);
/* HMAC-SHA256(key, msg). */
void mask_mac_digest(const struct mask_mac *m, const void *msg, size_t len,
                     unsigned char md[MASK_MD_LEN]);
/* The first 8 bytes, big-endian, of HMAC-SHA256(key, label || 0x00 || data). */
uint64_t mask_mac_u64(const struct mask_mac *m, const char *label, const void *data, size_t len);

/* A keyed permutation of [0, n) (n >= 1), chosen by tweak (any bytes). */
uint64_t mask_permute(const struct mask_mac *m, const void *tweak, size_t tweak_len, uint64_t n,
                      uint64_t x);
/* A keyed permutation of the integers of a bits-wide two's complement type (16, 32, 64)
 * that keeps the sign: 0 stays 0, positives stay positive, negatives stay negative. */
int64_t mask_hash_int(const struct mask_mac *m, unsigned bits, int64_t x);
/* A keyed permutation of UUIDs that keeps the version nibble and the two top variant bits,
 * so an RFC 4122 version 4 UUID stays one. */
void mask_hash_uuid(const struct mask_mac *m, const unsigned char in[16], unsigned char out[16]);

enum mask_text_mode {
    MASK_TEXT_PLAIN = 0, /* letters, digits and the letters of common scripts */
    MASK_TEXT_NUMERIC,   /* digits only; the leading digit of a number stays non-zero */
};
/* Appends the format-preserving hash of UTF-8 text to out: 0, -EINVAL (not UTF-8) or
 * -ENOSPC. The label separates domains (a column hashed as text and as an e-mail part). */
int mask_hash_text(const struct mask_mac *m, const char *label, enum mask_text_mode mode,
                   const char *in, size_t len, struct buf *out);
/* Whether s is shaped local@domain.tld: one '@', no blanks, a non-empty local part and a
 * domain of at least two non-empty dot-separated labels. mask_hash_text keeps this shape. */
bool mask_is_email(const char *s, size_t len);
/* The local part and each domain label hashed on their own (so one domain maps to one
 * domain for every address), the top-level domain kept. s must pass mask_is_email. */
int mask_hash_email(const struct mask_mac *m, const char *s, size_t len, struct buf *out);

/* Strict UTF-8 (no overlong forms, surrogates, or code points past U+10FFFF): the length
 * of the sequence at s (len > 0) with its code point in *cp, or 0 when it is not valid. */
size_t mask_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);

#endif
