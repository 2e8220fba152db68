/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for replay/capture_reader: a file cut at every byte offset yields exactly the
 * records before the cut and counts the rest as a torn tail; a byte flipped anywhere in a
 * record loses that record only (skipped and counted) and the reader resynchronises on the
 * next frame; garbage between records is skipped; random damage never crashes it (the
 * copies are allocated to their exact size, so the ASan build sees any overread). Files
 * that are not captures are refused with a message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "replay/capture.h"
#include "replay/capture_reader.h"
#include "testlib.h"

#define NREC 6

struct file {
    struct buf b;
    size_t end[NREC]; /* offset just past record i */
};

static void make_file(struct file *f)
{
    buf_init(&f->b, 1 << 20);
    unsigned char hdr[CAPTURE_FILE_HEADER_LEN];
    capture_file_header(hdr, 1000);
    buf_append(&f->b, hdr, sizeof(hdr));
    for (int i = 0; i < NREC; i++) {
        char target[32], body[64];
        int tl = snprintf(target, sizeof(target), "/items/%d", i);
        memset(body, 'a' + i, sizeof(body));
        struct http_header h = {"Host", 4, "h", 1};
        struct capture_record r = {.ts_ns = 1000 + (uint64_t)i * 10,
                                   .id = (uint64_t)i,
                                   .method = "GET",
                                   .method_len = 3,
                                   .target = target,
                                   .target_len = (size_t)tl,
                                   .headers = &h,
                                   .nheaders = 1,
                                   .body = body,
                                   .body_len = (size_t)(i * 9)};
        r.primary =
            (struct capture_resp){.present = true, .status = 200, .pool = "primary", .pool_len = 7};
        assert_int_equal(capture_encode(&r, &f->b), 0);
        f->end[i] = f->b.len;
    }
}

/* Reads all of data[0, len) (copied to an exact-size block); returns the ids seen as a
 * bit set and fills *st. */
static unsigned read_all(const void *data, size_t len, struct capture_reader_stats *st, int *rc)
{
    unsigned char *copy = malloc(len ? len : 1);
    memcpy(copy, data, len);
    struct capture_reader *r = NULL;
    unsigned seen = 0;
    *rc = capture_reader_open_mem("mem", copy, len, true, &r, NULL);
    if (*rc == 0) {
        struct capture_record rec;
        while (capture_reader_next(r, &rec) == 1) {
            assert_true(rec.id < NREC);
            seen |= 1u << rec.id;
        }
        *st = *capture_reader_stats(r);
        capture_reader_free(r);
    }
    free(copy);
    return seen;
}

static void test_capture_reader_next_survives_truncation_at_every_offset(void **state)
{
    (void)state;
    struct file f;
    make_file(&f);
    for (size_t cut = 0; cut <= f.b.len; cut++) {
        struct capture_reader_stats st;
        int rc;
        unsigned seen = read_all(f.b.data, cut, &st, &rc);
        assert_int_equal(rc, 0);
        size_t whole = 0, good_end = cut < CAPTURE_FILE_HEADER_LEN ? 0 : CAPTURE_FILE_HEADER_LEN;
        while (whole < NREC && f.end[whole] <= cut)
            good_end = f.end[whole++];
        assert_int_equal(seen, (1u << whole) - 1);
        assert_int_equal(st.records, whole);
        assert_int_equal(st.skipped, 0);
        assert_int_equal(st.skipped_bytes, cut - good_end);
        /* An empty file is torn too: its writer died before the file header was out. */
        assert_int_equal(st.torn, cut != good_end || cut < CAPTURE_FILE_HEADER_LEN);
    }
    buf_release(&f.b);
}

static void test_capture_reader_next_loses_only_the_record_with_a_flipped_byte(void **state)
{
    (void)state;
    struct file f;
    make_file(&f);
    for (size_t at = CAPTURE_FILE_HEADER_LEN; at < f.b.len; at++) {
        int victim = 0;
        while (f.end[victim] <= at)
            victim++;
        size_t start = victim ? f.end[victim - 1] : CAPTURE_FILE_HEADER_LEN;
        f.b.data[at] ^= 0x5a;
        struct capture_reader_stats st;
        int rc;
        unsigned seen = read_all(f.b.data, f.b.len, &st, &rc);
        f.b.data[at] ^= 0x5a;
        assert_int_equal(rc, 0);
        assert_int_equal(seen, ((1u << NREC) - 1) & ~(1u << victim));
        assert_int_equal(st.skipped, 1);
        assert_int_equal(st.skipped_bytes, f.end[victim] - start);
        assert_false(st.torn);
    }
    buf_release(&f.b);
}

static void test_capture_reader_next_skips_garbage_between_records(void **state)
{
    (void)state;
    struct file f;
    make_file(&f);
    /* Garbage that even contains a sync word, between records 2 and 3. */
    const char junk[] = "xxDCRFyyyyyyyyyyyyyyyyyyyyDCRzz";
    struct buf b;
    buf_init(&b, 1 << 20);
    buf_append(&b, f.b.data, f.end[2]);
    buf_append(&b, junk, sizeof(junk));
    buf_append(&b, f.b.data + f.end[2], f.b.len - f.end[2]);
    struct capture_reader_stats st;
    int rc;
    assert_int_equal(read_all(b.data, b.len, &st, &rc), (1u << NREC) - 1);
    assert_int_equal(st.skipped, 1);
    assert_int_equal(st.skipped_bytes, sizeof(junk));
    assert_int_equal(st.first_ts_ns, 1000);
    assert_int_equal(st.last_ts_ns, 1000 + (NREC - 1) * 10);
    buf_release(&b);
    buf_release(&f.b);
}

static void test_capture_reader_next_never_crashes_on_random_damage(void **state)
{
    (void)state;
    struct file f;
    make_file(&f);
    struct rng g;
    rng_seed(&g, 7);
    for (int round = 0; round < 3000; round++) {
        struct buf b;
        buf_init(&b, 1 << 20);
        buf_append(&b, f.b.data, f.b.len);
        int nflips = 1 + (int)rng_below32(&g, 8);
        for (int k = 0; k < nflips; k++)
            b.data[CAPTURE_FILE_HEADER_LEN + rng_below32(&g, (uint32_t)(b.len - 16))] =
                (char)rng_below32(&g, 256);
        size_t len = b.len - rng_below32(&g, 40);
        struct capture_reader_stats st;
        int rc;
        read_all(b.data, len, &st, &rc);
        assert_int_equal(rc, 0);
        assert_true(st.records <= NREC && st.skipped_bytes <= len);
        buf_release(&b);
    }
    buf_release(&f.b);
}

static void test_capture_reader_open_refuses_other_files(void **state)
{
    (void)state;
    struct capture_reader *r = NULL;
    struct err e = {0};
    assert_int_equal(
        capture_reader_open_mem("x.txt", "hello world, not a capture", 26, true, &r, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "x.txt: not a capture file"));
    unsigned char hdr[CAPTURE_FILE_HEADER_LEN];
    capture_file_header(hdr, 0);
    hdr[4] = 9; /* version 9 */
    assert_int_equal(capture_reader_open_mem("v9", hdr, sizeof(hdr), true, &r, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "version 9"));
    char *dir = testlib_tmpdir();
    char *path = testlib_write_file(dir, "empty.dcap", "");
    assert_int_equal(capture_reader_open(path, true, &r, &e), 0); /* crashed before the header */
    struct capture_record rec;
    assert_int_equal(capture_reader_next(r, &rec), 0);
    assert_true(capture_reader_stats(r)->torn);
    capture_reader_free(r);
    assert_int_equal(capture_reader_open(dir, true, &r, &e), -EINVAL);
    free(path);
    testlib_rmdir(dir);
    free(dir);
}

static void test_capture_reader_rewind_reads_again(void **state)
{
    (void)state;
    struct file f;
    make_file(&f);
    struct capture_reader *r;
    assert_int_equal(capture_reader_open_mem("m", f.b.data, f.b.len, true, &r, NULL), 0);
    struct capture_record rec;
    for (int pass = 0; pass < 2; pass++) {
        int n = 0;
        while (capture_reader_next(r, &rec) == 1)
            assert_int_equal(rec.id, n++);
        assert_int_equal(n, NREC);
        assert_int_equal(capture_reader_stats(r)->records, NREC);
        capture_reader_rewind(r);
    }
    capture_reader_free(r);
    buf_release(&f.b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capture_reader_next_survives_truncation_at_every_offset),
        cmocka_unit_test(test_capture_reader_next_loses_only_the_record_with_a_flipped_byte),
        cmocka_unit_test(test_capture_reader_next_skips_garbage_between_records),
        cmocka_unit_test(test_capture_reader_next_never_crashes_on_random_damage),
        cmocka_unit_test(test_capture_reader_open_refuses_other_files),
        cmocka_unit_test(test_capture_reader_rewind_reads_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
