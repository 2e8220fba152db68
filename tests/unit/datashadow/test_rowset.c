/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_rowset: the key → row digest table of --verify: keys found once, digests compared,
 * keys never taken listed, growth past many rows, the cap on key text, and the digest
 * against SHA-256 computed by another tool.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "datashadow/rowset.h"
#include "testlib.h"

static void test_rowset_digest_is_truncated_sha256(void **state)
{
    (void)state;
    unsigned char md[ROWSET_MD_LEN];
    /* printf '1\tAC1\t2.50' | sha256sum | cut -c1-32 */
    static const char *const want = "c360d0e8fe77cbd4a76fe2ce0017ecb9";
    char hex[2 * ROWSET_MD_LEN + 1];
    rowset_digest("1\tAC1\t2.50", 10, md);
    for (int i = 0; i < ROWSET_MD_LEN; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    assert_string_equal(hex, want);
}

static void test_rowset_take_same_differs_absent(void **state)
{
    (void)state;
    struct rowset s;
    unsigned char a[ROWSET_MD_LEN], b[ROWSET_MD_LEN];
    rowset_digest("row a", 5, a);
    rowset_digest("row b", 5, b);
    rowset_init(&s, 1 << 20);
    assert_int_equal(rowset_take(&s, "1", 1, a), -ENOENT); /* empty set */
    assert_int_equal(rowset_add(&s, "1", 1, a), 0);
    assert_int_equal(rowset_add(&s, "2", 1, a), 0);
    assert_int_equal(rowset_add(&s, "", 0, b), 0);
    assert_int_equal(rowset_add(&s, "1", 1, b), -EEXIST);
    assert_int_equal(rowset_take(&s, "1", 1, a), 0);
    assert_int_equal(rowset_take(&s, "1", 1, a), -ENOENT); /* taken once only */
    assert_int_equal(rowset_take(&s, "", 0, a), 1);
    assert_int_equal(rowset_take(&s, "3", 1, a), -ENOENT);
    size_t pos = 0, len = 0;
    const char *key = NULL;
    assert_true(rowset_next_untaken(&s, &pos, &key, &len));
    assert_int_equal(len, 1);
    assert_memory_equal(key, "2", 1);
    assert_false(rowset_next_untaken(&s, &pos, &key, &len));
    rowset_release(&s);
}

static void test_rowset_add_grows_and_finds_every_key(void **state)
{
    (void)state;
    struct rowset s;
    unsigned char md[ROWSET_MD_LEN];
    char key[32];
    rowset_init(&s, 1 << 24);
    for (int i = 0; i < 100000; i++) {
        int n = snprintf(key, sizeof(key), "%d\tk", i);
        rowset_digest(key, (size_t)n, md);
        assert_int_equal(rowset_add(&s, key, (size_t)n, md), 0);
    }
    assert_int_equal(s.n, 100000);
    assert_true(4 * s.n <= 3 * s.cap);
    size_t untaken = 0, pos = 0, len;
    const char *k;
    for (int i = 0; i < 100000; i += 2) {
        int n = snprintf(key, sizeof(key), "%d\tk", i);
        rowset_digest(key, (size_t)n, md);
        assert_int_equal(rowset_take(&s, key, (size_t)n, md), 0);
    }
    while (rowset_next_untaken(&s, &pos, &k, &len)) {
        assert_int_equal((k[len - 3] - '0') % 2, 1); /* only odd numbers left */
        untaken++;
    }
    assert_int_equal(untaken, 50000);
    rowset_release(&s);
}

static void test_rowset_reserve_sizes_once(void **state)
{
    (void)state;
    struct rowset s;
    unsigned char md[ROWSET_MD_LEN] = {0};
    char key[16];
    rowset_init(&s, 1 << 20);
    rowset_reserve(&s, 3000);
    assert_int_equal(s.cap, 4096);   /* the first power of two with 3000 <= 3/4 of it */
    for (int i = 0; i < 3072; i++) { /* up to three quarters full */
        int n = snprintf(key, sizeof(key), "%d", i);
        assert_int_equal(rowset_add(&s, key, (size_t)n, md), 0);
    }
    assert_int_equal(s.cap, 4096);
    assert_int_equal(rowset_add(&s, "x", 1, md), 0); /* past the estimate: grows */
    assert_int_equal(s.cap, 8192);
    assert_int_equal(rowset_take(&s, "3071", 4, md), 0);
    rowset_release(&s);
}

static void test_rowset_add_past_cap_is_enospc(void **state)
{
    (void)state;
    struct rowset s;
    unsigned char md[ROWSET_MD_LEN] = {0};
    rowset_init(&s, 16);
    assert_int_equal(rowset_add(&s, "0123456789", 10, md), 0);
    assert_int_equal(rowset_add(&s, "abcdefghij", 10, md), -ENOSPC);
    assert_int_equal(s.n, 1);
    rowset_release(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rowset_digest_is_truncated_sha256),
        cmocka_unit_test(test_rowset_take_same_differs_absent),
        cmocka_unit_test(test_rowset_add_grows_and_finds_every_key),
        cmocka_unit_test(test_rowset_reserve_sizes_once),
        cmocka_unit_test(test_rowset_add_past_cap_is_enospc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
