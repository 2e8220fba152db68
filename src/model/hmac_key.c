/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hmac_key: prepared HMAC-SHA256 keys (see hmac_key.h). A template EVP_MAC_CTX is keyed
 * once; HMAC_KEY_SLOTS copies of it are lent out through atomic flags, each re-initialised
 * with EVP_MAC_init(ctx, NULL, 0, NULL), which restores the keyed state without hashing
 * the key again. A thread that finds every slot busy duplicates the template (read only).
 * Owns the contexts and the MAC algorithm it fetched.
 */
#include "model/hmac_key.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "base/err.h"
#include "base/xalloc.h"

#define HMAC_KEY_SLOTS 8

struct hmac_slot {
    _Alignas(64) atomic_flag busy;
    EVP_MAC_CTX *ctx;
};

struct hmac_key {
    EVP_MAC *mac;
    EVP_MAC_CTX *tmpl; /* keyed; only read (duplicated) once prepared */
    struct hmac_slot slot[HMAC_KEY_SLOTS];
};

struct hmac_key *hmac_key_new(const void *key, size_t len)
{
    static const unsigned char empty[1];
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    struct hmac_key *k = aligned_alloc(64, sizeof(*k));
    BUG_ON(!k);
    memset(k, 0, sizeof(*k));
    k->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    k->tmpl = k->mac ? EVP_MAC_CTX_new(k->mac) : NULL;
    /* OpenSSL refuses a NULL key even of length 0. */
    if (!k->tmpl || !EVP_MAC_init(k->tmpl, len ? key : empty, len, params))
        goto fail;
    for (size_t i = 0; i < HMAC_KEY_SLOTS; i++) {
        atomic_flag_clear(&k->slot[i].busy);
        if (!(k->slot[i].ctx = EVP_MAC_CTX_dup(k->tmpl)))
            goto fail;
    }
    return k;
fail:
    hmac_key_free(k);
    return NULL;
}

static int mac(EVP_MAC_CTX *ctx, bool reinit, const void *msg, size_t len,
               unsigned char md[HMAC_KEY_SHA256_LEN])
{
    static const unsigned char empty[1];
    size_t out = 0;
    if ((reinit && !EVP_MAC_init(ctx, NULL, 0, NULL)) ||
        !EVP_MAC_update(ctx, len ? msg : empty, len) ||
        !EVP_MAC_final(ctx, md, &out, HMAC_KEY_SHA256_LEN) || out != HMAC_KEY_SHA256_LEN)
        return -EIO;
    return 0;
}

int hmac_key_sha256(struct hmac_key *k, const void *msg, size_t len,
                    unsigned char md[HMAC_KEY_SHA256_LEN])
{
    /* Threads start their search at different slots (their stacks differ), so workers
     * rarely share a slot's cache line. */
    size_t start = ((uintptr_t)&start >> 16) % HMAC_KEY_SLOTS;
    for (size_t i = 0; i < HMAC_KEY_SLOTS; i++) {
        struct hmac_slot *s = &k->slot[(start + i) % HMAC_KEY_SLOTS];
        if (atomic_flag_test_and_set_explicit(&s->busy, memory_order_acquire))
            continue;
        int rc = mac(s->ctx, true, msg, len, md);
        atomic_flag_clear_explicit(&s->busy, memory_order_release);
        return rc;
    }
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(k->tmpl);
    int rc = ctx ? mac(ctx, false, msg, len, md) : -EIO;
    EVP_MAC_CTX_free(ctx);
    return rc;
}

void hmac_key_free(struct hmac_key *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < HMAC_KEY_SLOTS; i++)
        EVP_MAC_CTX_free(k->slot[i].ctx);
    EVP_MAC_CTX_free(k->tmpl);
    EVP_MAC_free(k->mac);
    free(k);
}
