/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_spool: the spool of a streamed transaction: records read back in order from memory
 * and, past the memory cap, from its unlinked file; rolling back a subtransaction
 * truncates at its first change (also across the memory/file boundary); the set keyed by
 * top-level xid.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "datashadow/spool.h"
#include "testlib.h"

#define TOP 700

/* Record i: "rec-<i>-" followed by i % 37 'x's, so lengths vary. */
static size_t record(unsigned i, char *out, size_t size)
{
    int n = snprintf(out, size, "rec-%u-", i);
    size_t len = (size_t)n;
    for (unsigned k = 0; k < i % 37 && len + 1 < size; k++)
        out[len++] = 'x';
    return len;
}

static void append(struct spool *s, uint32_t xid, unsigned i)
{
    char b[128];
    size_t n = record(i, b, sizeof(b));
    assert_int_equal(spool_append(s, xid, b, n), 0);
}

/* Reads every record and checks they are exactly want[0..n). */
static void expect_records(const struct spool *s, const unsigned *want, size_t n)
{
    struct spool_iter it;
    const char *d;
    size_t len, got = 0;
    char b[128];
    spool_iter_init(&it);
    int rc;
    while ((rc = spool_next(s, &it, &d, &len)) == 1) {
        assert_true(got < n);
        size_t wl = record(want[got], b, sizeof(b));
        assert_int_equal(len, wl);
        assert_memory_equal(d, b, wl);
        got++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(got, n);
    assert_int_equal(s->records, n);
    spool_iter_release(&it);
}

static void test_spool_append_reads_back_in_order(void **state)
{
    (void)state;
    struct spool s;
    unsigned want[50];
    spool_init(&s, TOP, SPOOL_MEM_DEFAULT);
    for (unsigned i = 0; i < 50; i++) {
        append(&s, TOP, i);
        want[i] = i;
    }
    expect_records(&s, want, 50);
    assert_int_equal(s.fd, -1); /* all in memory */
    assert_true(spool_size(&s) == s.mem.len);
    spool_release(&s);
}

static void test_spool_abort_sub_truncates_at_first_change(void **state)
{
    (void)state;
    struct spool s;
    spool_init(&s, TOP, SPOOL_MEM_DEFAULT);
    append(&s, TOP, 1);
    append(&s, 701, 2);
    append(&s, 702, 3); /* a savepoint inside the first */
    append(&s, 702, 4);
    assert_int_equal(spool_abort_sub(&s, 702), 0);
    expect_records(&s, (unsigned[]){1, 2}, 2);
    append(&s, 701, 5);
    append(&s, 703, 6);
    assert_int_equal(spool_abort_sub(&s, 999), 0); /* never seen: nothing to drop */
    expect_records(&s, (unsigned[]){1, 2, 5, 6}, 4);
    /* rolling back 701 also drops 703, which began after it */
    assert_int_equal(spool_abort_sub(&s, 701), 0);
    expect_records(&s, (unsigned[]){1}, 1);
    assert_int_equal(s.nsubs, 0);
    append(&s, TOP, 7);
    expect_records(&s, (unsigned[]){1, 7}, 2);
    spool_release(&s);
}

static void test_spool_append_spills_past_cap(void **state)
{
    (void)state;
    struct spool s;
    unsigned want[200];
    struct stat st;
    spool_init(&s, TOP, 256);
    for (unsigned i = 0; i < 200; i++) {
        append(&s, i < 150 ? TOP : 704, i);
        want[i] = i;
    }
    assert_true(s.fd >= 0);
    assert_true(s.mem.len <= 256);
    assert_true(s.file_len > 0);
    assert_int_equal(fstat(s.fd, &st), 0);
    assert_int_equal(st.st_nlink, 0); /* unlinked: nothing left behind */
    assert_true((uint64_t)st.st_size == s.file_len);
    expect_records(&s, want, 200);
    /* a truncation inside the file */
    assert_int_equal(spool_abort_sub(&s, 704), 0);
    expect_records(&s, want, 150);
    assert_int_equal(fstat(s.fd, &st), 0);
    assert_true((uint64_t)st.st_size == s.file_len);
    spool_release(&s);
}

static void test_spool_abort_sub_below_memory_empties_file(void **state)
{
    (void)state;
    struct spool s;
    unsigned want[100];
    spool_init(&s, TOP, 256);
    append(&s, TOP, 0);
    want[0] = 0;
    for (unsigned i = 1; i < 100; i++) {
        append(&s, 705, i);
        want[i] = i;
    }
    assert_true(s.file_len > 0);
    assert_int_equal(spool_abort_sub(&s, 705), 0);
    assert_true(s.file_len == 0);
    expect_records(&s, want, 1);
    /* later records fill memory again, then the file, in order */
    for (unsigned i = 1; i < 100; i++)
        append(&s, TOP, 100 + i), want[i] = 100 + i;
    assert_true(s.file_len > 0);
    expect_records(&s, want, 100);
    spool_release(&s);
}

static void test_spool_next_corrupt_length_is_eio(void **state)
{
    (void)state;
    struct spool s;
    struct spool_iter it;
    const char *d;
    size_t n;
    spool_init(&s, TOP, SPOOL_MEM_DEFAULT);
    append(&s, TOP, 3);
    s.mem.data[0] = (char)0x7f; /* a length past what was written */
    spool_iter_init(&it);
    assert_int_equal(spool_next(&s, &it, &d, &n), -EIO);
    spool_iter_release(&it);
    spool_release(&s);
}

static void test_spool_set_open_find_drop(void **state)
{
    (void)state;
    struct spool_set ss;
    spool_set_init(&ss, 256);
    struct spool *a = spool_set_open(&ss, 10), *b = spool_set_open(&ss, 20);
    assert_ptr_not_equal(a, b);
    append(a, 10, 1);
    append(b, 20, 2);
    assert_ptr_equal(spool_set_open(&ss, 10), a); /* a later segment finds its spool */
    append(spool_set_open(&ss, 10), 10, 3);
    for (unsigned i = 0; i < 40; i++)
        append(b, 21, i); /* b spills; a does not */
    assert_ptr_equal(spool_set_find(&ss, 20), b);
    assert_int_equal(ss.n, 2);
    spool_set_drop(&ss, 20);
    assert_null(spool_set_find(&ss, 20));
    assert_int_equal(ss.n, 1);
    expect_records(spool_set_find(&ss, 10), (unsigned[]){1, 3}, 2);
    spool_set_drop(&ss, 99); /* unknown: nothing */
    assert_int_equal(ss.n, 1);
    spool_set_release(&ss);
    assert_int_equal(ss.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spool_append_reads_back_in_order),
        cmocka_unit_test(test_spool_abort_sub_truncates_at_first_change),
        cmocka_unit_test(test_spool_append_spills_past_cap),
        cmocka_unit_test(test_spool_abort_sub_below_memory_empties_file),
        cmocka_unit_test(test_spool_next_corrupt_length_is_eio),
        cmocka_unit_test(test_spool_set_open_find_drop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
