/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for replay/source_capture: requests come out of several files in order, with
 * times relative to the first request that never run backwards, answer-only records left
 * out (a replay recording's shadow-slot records kept), the request fields and exchange ids
 * as recorded, and the same sequence again after a rewind. A version-1 file, built byte by
 * byte, still replays. A file that is not a capture is refused with its name in the message.
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

#include "replay/capture.h"
#include "replay/capture_writer.h"
#include "replay/source.h"
#include "testlib.h"

/* Writes records with the given timestamps (ns) into path; kind 'p' primary, 's' shadow
 * answer (answer-only, request left out), 'r' replay recording (request and shadow slot). */
static void write_file(const char *path, const uint64_t *ts, const char *kinds, int n, int id0)
{
    struct capture_writer *w;
    assert_int_equal(capture_writer_new(path, 0, &w, NULL), 0);
    for (int i = 0; i < n; i++) {
        char target[32];
        int tl = snprintf(target, sizeof(target), "/r/%d", id0 + i);
        struct http_header h = {"Accept", 6, "*/*", 3};
        struct capture_record r = {.ts_ns = ts[i],
                                   .id = (uint64_t)(id0 + i),
                                   .method = "PUT",
                                   .method_len = 3,
                                   .target = target,
                                   .target_len = (size_t)tl,
                                   .headers = &h,
                                   .nheaders = 1,
                                   .body = "b",
                                   .body_len = 1};
        struct capture_resp resp = {.present = true, .status = 200, .pool = "p", .pool_len = 1};
        if (kinds[i] == 'p')
            r.primary = resp;
        else
            r.shadow = resp;
        if (kinds[i] == 's')
            r = (struct capture_record){
                .ts_ns = ts[i], .id = r.id, .answer_only = true, .shadow = resp};
        struct buf b;
        buf_init(&b, 4096);
        assert_int_equal(capture_encode_payload(&r, &b), 0);
        assert_int_equal(capture_writer_write(w, 0, b.data, b.len), 0);
        buf_release(&b);
    }
    capture_writer_free(w);
}

static void test_replay_source_capture_new_yields_requests_in_order(void **state)
{
    (void)state;
    char *dir = testlib_tmpdir();
    char a[PATH_MAX], b[PATH_MAX];
    snprintf(a, sizeof(a), "%s/a.dcap", dir);
    snprintf(b, sizeof(b), "%s/b.dcap", dir);
    const uint64_t ta[] = {5000, 5100, 5050, 5500, 6000};
    write_file(a, ta, "ppsrp", 5, 0);
    const uint64_t tb[] = {4000, 9000};
    write_file(b, tb, "pp", 2, 10);
    const char *paths[] = {a, b};
    struct replay_source *s;
    assert_int_equal(replay_source_capture_new(paths, 2, &s, NULL), 0);
    /* Expected: ids 0,1,3,4 of a (2 is an answer only, 3 a recording) then 10, 11 of b;
     * 4000 is before the previous time and is held at it. */
    const char *targets[] = {"/r/0", "/r/1", "/r/3", "/r/4", "/r/10", "/r/11"};
    const uint64_t ids[] = {0, 1, 3, 4, 10, 11};
    const uint64_t at[] = {0, 100, 500, 1000, 1000, 4000};
    for (int pass = 0; pass < 2; pass++) {
        struct replay_req q;
        for (int i = 0; i < 6; i++) {
            assert_int_equal(replay_source_next(s, &q), 1);
            assert_int_equal(q.seq, i);
            assert_int_equal(q.id, ids[i]);
            assert_int_equal(q.at_ns, at[i]);
            assert_int_equal(q.target_len, strlen(targets[i]));
            assert_memory_equal(q.target, targets[i], q.target_len);
            assert_memory_equal(q.method, "PUT", 3);
            assert_int_equal(q.nheaders, 1);
            assert_memory_equal(q.headers[0].value, "*/*", 3);
            assert_int_equal(q.body_len, 1);
        }
        assert_int_equal(replay_source_next(s, &q), 0);
        assert_int_equal(replay_source_rewind(s), 0);
    }
    replay_source_free(s);
    testlib_rmdir(dir);
    free(dir);
}

/* Appends one frame around a payload given byte by byte. */
static size_t put_frame(unsigned char *out, const unsigned char *payload, size_t n)
{
    capture_frame_header(out, payload, n);
    memcpy(out + CAPTURE_FRAME_HEADER_LEN, payload, n);
    return CAPTURE_FRAME_HEADER_LEN + n;
}

/* Version 1, as serve and replay --record wrote it before the answer-only flag: a primary
 * record, serve's shadow record of the same exchange (no request: skipped), and a replay
 * recording (request, answer in the shadow slot: sent). */
static void test_replay_source_capture_new_reads_version_1_files(void **state)
{
    (void)state;
    /* clang-format off */
    static const unsigned char primary[] = {
        0x02, 0xe8, 0x03, 0, 0, 0, 0, 0, 0,                   /* flags, ts 1000 */
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,       /* id 0x0102030405060708 */
        3, 0, 'G', 'E', 'T', 2, 0, 0, 0, '/', 'a', 0, 0,      /* method, target, headers */
        0, 0, 0, 0,                                           /* body */
        0, 200, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0,                /* resp flags, status, error, lat */
        7, 0, 'p', 'r', 'i', 'm', 'a', 'r', 'y', 0, 0, 0, 0, 0, 0}; /* pool, headers, body */
    static const unsigned char shadow[] = {
        0x04, 0xd0, 0x07, 0, 0, 0, 0, 0, 0,             /* flags, ts 2000 */
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* the same id */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,             /* no method, target, headers, body */
        0, 200, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 2, 0, 's', '1', 0, 0, 0, 0, 0, 0};
    static const unsigned char recording[] = {
        0x04, 0xb8, 0x0b, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, /* ts 3000, id 1 */
        4, 0, 'P', 'O', 'S', 'T', 2, 0, 0, 0, '/', 'b',              /* method, target */
        1, 0, 1, 0, 'X', 1, 0, 0, 0, 'y', 1, 0, 0, 0, 'z',           /* X: y, body z */
        0, 0xf4, 0x01, 0, 5, 0, 0, 0, 0, 0, 0, 0,                    /* status 500 */
        6, 0, 'r', 'e', 'p', 'l', 'a', 'y', 0, 0, 0, 0, 0, 0};
    /* clang-format on */
    unsigned char file[512] = {'D', 'C', 'A', 'P', 1, 0, 16, 0, 1, 0, 0, 0, 0, 0, 0, 0};
    size_t n = CAPTURE_FILE_HEADER_LEN;
    n += put_frame(file + n, primary, sizeof(primary));
    n += put_frame(file + n, shadow, sizeof(shadow));
    n += put_frame(file + n, recording, sizeof(recording));
    char *dir = testlib_tmpdir(), path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/v1.dcap", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(file, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
    const char *paths[] = {path};
    struct replay_source *s;
    assert_int_equal(replay_source_capture_new(paths, 1, &s, NULL), 0);
    struct replay_req q;
    assert_int_equal(replay_source_next(s, &q), 1);
    assert_true(q.id == 0x0102030405060708ULL && q.at_ns == 0 && q.target_len == 2);
    assert_memory_equal(q.method, "GET", 3);
    assert_int_equal(replay_source_next(s, &q), 1);
    assert_true(q.id == 1 && q.at_ns == 2000 && q.nheaders == 1 && q.body_len == 1);
    assert_memory_equal(q.target, "/b", 2);
    assert_memory_equal(q.headers[0].value, "y", 1);
    assert_int_equal(replay_source_next(s, &q), 0);
    replay_source_free(s);
    testlib_rmdir(dir);
    free(dir);
}

static void test_replay_source_capture_new_refuses_other_files(void **state)
{
    (void)state;
    char *dir = testlib_tmpdir();
    char *p = testlib_write_file(dir, "notes.txt", "just text\n");
    const char *paths[] = {p};
    struct replay_source *s = NULL;
    struct err e = {0};
    assert_int_equal(replay_source_capture_new(paths, 1, &s, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "notes.txt: not a capture file"));
    assert_int_equal(replay_source_capture_new(paths, 0, &s, &e), -EINVAL);
    free(p);
    testlib_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_source_capture_new_yields_requests_in_order),
        cmocka_unit_test(test_replay_source_capture_new_reads_version_1_files),
        cmocka_unit_test(test_replay_source_capture_new_refuses_other_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
