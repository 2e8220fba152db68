/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for replay/source_capture: requests come out of several files in order, with
 * times relative to the first request that never run backwards, shadow-only records left
 * out, the request fields as recorded, and the same sequence again after a rewind. A file
 * that is not a capture is refused with its name in the message.
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

/* Writes records with the given timestamps (ns) into path; kind 'p' primary, 's' shadow. */
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
    const uint64_t ta[] = {5000, 5100, 5050, 6000};
    write_file(a, ta, "ppsp", 4, 0);
    const uint64_t tb[] = {4000, 9000};
    write_file(b, tb, "pp", 2, 10);
    const char *paths[] = {a, b};
    struct replay_source *s;
    assert_int_equal(replay_source_capture_new(paths, 2, &s, NULL), 0);
    /* Expected: ids 0,1,3 of a (2 is shadow-only) then 10, 11 of b; 4000 is before the
     * previous time and is held at it. */
    const char *targets[] = {"/r/0", "/r/1", "/r/3", "/r/10", "/r/11"};
    const uint64_t at[] = {0, 100, 1000, 1000, 4000};
    for (int pass = 0; pass < 2; pass++) {
        struct replay_req q;
        for (int i = 0; i < 5; i++) {
            assert_int_equal(replay_source_next(s, &q), 1);
            assert_int_equal(q.seq, i);
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
        cmocka_unit_test(test_replay_source_capture_new_refuses_other_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
