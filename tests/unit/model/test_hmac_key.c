/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for model/hmac_key: prepared keys give HMAC-SHA256 exactly, call after call and
 * from many threads at once (slots taken, released and, when all are busy, the template
 * duplicated). Reference digests from Python's hmac module, each produced by
 *   /usr/bin/python3 -c 'import hmac,hashlib; print(hmac.new(KEY, VALUE,
 *     hashlib.sha256).hexdigest())'
 * with KEY and VALUE as noted beside it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "model/hmac_key.h"

/* KEY=b"doppel-test-key", VALUE=b"alice@example.com" */
#define D_ALICE "84b9b2921985c5b4ad41d03d2390c5aa4812ff4f4871afa008d03f5341d4abc2"
/* KEY=b"doppel-test-key", VALUE=b"203.0.113.7" */
#define D_IP "3154b6d71effa788a7253ee92909a7eefed4a3089fd078114250deaff5aa5693"
/* KEY=b"doppel-test-key", VALUE=b"" */
#define D_EMPTY "fe7b2aa10994afb5abdb8b4fea4b2ec31db38bd60235aa99e4a4b3e4c719487e"
/* KEY=b"", VALUE=b"alice@example.com" */
#define D_NOKEY "0cf19c8f102ecc62b033b451c1d7cbe462dbb7a67636d9f843145c96788ed961"
/* KEY=b"", VALUE=b"" */
#define D_NOKEY_EMPTY "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"
/* KEY=b"k"*100 (longer than a SHA-256 block), VALUE=b"203.0.113.7" */
#define D_LONGKEY "5aa60b339442ff66935ff94d5002a7dba13ba7a6f6a66303d3a09b7fe66cb317"

static const char *hex(struct hmac_key *k, const char *v, char out[65])
{
    unsigned char md[HMAC_KEY_SHA256_LEN];
    assert_int_equal(hmac_key_sha256(k, v, strlen(v), md), 0);
    for (size_t i = 0; i < sizeof(md); i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return out;
}

static void test_hmac_key_sha256_matches_reference(void **state)
{
    (void)state;
    char h[65];
    struct hmac_key *k = hmac_key_new("doppel-test-key", 15);
    assert_non_null(k);
    assert_string_equal(hex(k, "alice@example.com", h), D_ALICE);
    assert_string_equal(hex(k, "203.0.113.7", h), D_IP);
    assert_string_equal(hex(k, "", h), D_EMPTY);
    /* The same slot again: re-initialised to the keyed state, no carry-over. */
    assert_string_equal(hex(k, "alice@example.com", h), D_ALICE);
    hmac_key_free(k);
}

static void test_hmac_key_sha256_empty_and_long_keys(void **state)
{
    (void)state;
    char h[65], longkey[100];
    struct hmac_key *k = hmac_key_new("", 0);
    assert_non_null(k);
    assert_string_equal(hex(k, "alice@example.com", h), D_NOKEY);
    assert_string_equal(hex(k, "", h), D_NOKEY_EMPTY);
    hmac_key_free(k);
    memset(longkey, 'k', sizeof(longkey));
    k = hmac_key_new(longkey, sizeof(longkey));
    assert_non_null(k);
    assert_string_equal(hex(k, "203.0.113.7", h), D_LONGKEY);
    hmac_key_free(k);
    hmac_key_free(NULL);
}

#define NTHREADS 24
#define NCALLS 3000

static void *hammer(void *arg)
{
    struct hmac_key *k = arg;
    uintptr_t bad = 0;
    for (int i = 0; i < NCALLS; i++) {
        unsigned char md[HMAC_KEY_SHA256_LEN];
        const char *v = i % 2 ? "alice@example.com" : "203.0.113.7";
        char h[65];
        if (hmac_key_sha256(k, v, strlen(v), md) != 0) {
            bad++;
            continue;
        }
        for (size_t j = 0; j < sizeof(md); j++)
            snprintf(h + 2 * j, 3, "%02x", md[j]);
        bad += strcmp(h, i % 2 ? D_ALICE : D_IP) != 0;
    }
    return (void *)bad;
}

/* More threads than slots: every answer is still the reference one. */
static void test_hmac_key_sha256_concurrent_threads_agree(void **state)
{
    (void)state;
    struct hmac_key *k = hmac_key_new("doppel-test-key", 15);
    assert_non_null(k);
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer, k), 0);
    uintptr_t bad = 0;
    for (int i = 0; i < NTHREADS; i++) {
        void *r;
        assert_int_equal(pthread_join(th[i], &r), 0);
        bad += (uintptr_t)r;
    }
    assert_int_equal(bad, 0);
    hmac_key_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hmac_key_sha256_matches_reference),
        cmocka_unit_test(test_hmac_key_sha256_empty_and_long_keys),
        cmocka_unit_test(test_hmac_key_sha256_concurrent_threads_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
