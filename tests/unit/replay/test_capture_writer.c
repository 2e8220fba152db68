/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for replay/capture_writer: the path pattern expands in UTC with a sequence number
 * before the extension; files rotate when the hour in the name changes and before they
 * would pass max_file; an existing file is never appended to; every record written comes
 * back from the files in order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/clock.h"
#include "replay/capture.h"
#include "replay/capture_reader.h"
#include "replay/capture_writer.h"
#include "testlib.h"

/* 2026-11-22 23:59:59 UTC: date -u -d '2026-11-22 23:59:59' +%s -> 1795391999 */
#define T0 (1795391999ULL * CLOCK_NS_PER_S)

static void test_capture_writer_expand_puts_sequence_before_extension(void **state)
{
    (void)state;
    char out[PATH_MAX];
    assert_int_equal(capture_writer_expand("d/api-%Y%m%d-%H.dcap", T0, 0, out, sizeof(out)), 0);
    assert_string_equal(out, "d/api-20261122-23.dcap");
    assert_int_equal(capture_writer_expand("d/api-%Y%m%d-%H.dcap", T0, 3, out, sizeof(out)), 0);
    assert_string_equal(out, "d/api-20261122-23.3.dcap");
    assert_int_equal(capture_writer_expand("d.x/cap", T0 + CLOCK_NS_PER_S, 2, out, sizeof(out)), 0);
    assert_string_equal(out, "d.x/cap.2");
}

static size_t payload(char *out, size_t cap, int i)
{
    struct capture_record r = {.ts_ns = T0 + (uint64_t)i,
                               .id = (uint64_t)i,
                               .method = "GET",
                               .method_len = 3,
                               .target = "/x",
                               .target_len = 2};
    struct buf b;
    buf_init(&b, cap);
    assert_int_equal(capture_encode_payload(&r, &b), 0);
    size_t n = b.len;
    memcpy(out, b.data, n);
    buf_release(&b);
    return n;
}

/* Reads a file, checking ids continue from *next; returns the number of records. */
static int read_ids(const char *path, uint64_t *next)
{
    struct capture_reader *r;
    assert_int_equal(capture_reader_open(path, true, &r, NULL), 0);
    struct capture_record rec;
    int n = 0;
    while (capture_reader_next(r, &rec) == 1) {
        assert_int_equal(rec.id, (*next)++);
        n++;
    }
    assert_int_equal(capture_reader_stats(r)->skipped_bytes, 0);
    capture_reader_free(r);
    return n;
}

static void test_capture_writer_write_rotates_by_size_and_hour(void **state)
{
    (void)state;
    char *dir = testlib_tmpdir();
    char pattern[PATH_MAX], path[PATH_MAX + 64];
    snprintf(pattern, sizeof(pattern), "%s/sub/c-%%Y%%m%%d-%%H.dcap", dir);
    /* A file from an earlier run with the first name: never appended to. */
    snprintf(path, sizeof(path), "%s/sub", dir);
    mkdir(path, 0750);
    free(testlib_write_file(path, "c-20261122-23.dcap", "old"));
    struct capture_writer *w;
    assert_int_equal(capture_writer_new(pattern, 150, &w, NULL), 0);
    char p[256];
    size_t plen = payload(p, sizeof(p), 0);
    assert_true(plen > 30 &&
                plen < 50); /* so 150 bytes hold the header and 2 framed records, not 3 */
    for (int i = 0; i < 5; i++) {
        plen = payload(p, sizeof(p), i);
        assert_int_equal(capture_writer_write(w, T0, p, plen), 0);
    }
    plen = payload(p, sizeof(p), 5);
    assert_int_equal(capture_writer_write(w, T0 + CLOCK_NS_PER_S, p, plen), 0); /* next hour */
    struct capture_writer_stats st;
    capture_writer_stats(w, &st);
    assert_int_equal(st.records, 6);
    assert_int_equal(st.files, 4);
    capture_writer_free(w);
    const char *names[] = {"c-20261122-23.1.dcap", "c-20261122-23.2.dcap", "c-20261122-23.3.dcap",
                           "c-20261123-00.dcap"};
    const int counts[] = {2, 2, 1, 1};
    uint64_t next = 0;
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof(path), "%s/sub/%s", dir, names[i]);
        struct stat sb;
        assert_int_equal(stat(path, &sb), 0);
        assert_true(sb.st_size <= 150);
        assert_int_equal(read_ids(path, &next), counts[i]);
    }
    snprintf(path, sizeof(path), "%s/sub/c-20261122-23.dcap", dir);
    char *old = testlib_read_file(path);
    assert_string_equal(old, "old");
    free(old);
    testlib_rmdir(dir);
    free(dir);
}

static void test_capture_writer_write_counts_errors(void **state)
{
    (void)state;
    struct capture_writer *w;
    assert_int_equal(capture_writer_new("/proc/no-such-dir/x.dcap", 0, &w, NULL), 0);
    char p[256];
    size_t plen = payload(p, sizeof(p), 0);
    assert_true(capture_writer_write(w, T0, p, plen) < 0);
    struct capture_writer_stats st;
    capture_writer_stats(w, &st);
    assert_int_equal(st.errors, 1);
    assert_int_equal(st.records, 0);
    capture_writer_free(w);
    struct err e = {0};
    assert_int_equal(capture_writer_new("", 0, &w, &e), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capture_writer_expand_puts_sequence_before_extension),
        cmocka_unit_test(test_capture_writer_write_rotates_by_size_and_hour),
        cmocka_unit_test(test_capture_writer_write_counts_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
