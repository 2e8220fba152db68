/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for replay/replay_rewrite: the exact bytes a recorded request goes out as (Host
 * replaced, path prefix, headers removed and added, hop-by-hop and stale framing headers
 * dropped, Content-Length recomputed) and the method/path filter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "replay/replay_rewrite.h"

#define H(n, v)                                                                                    \
    {                                                                                              \
        n, sizeof(n) - 1, v, sizeof(v) - 1                                                         \
    }

static const struct http_header hdrs[] = {
    H("Host", "prod.example"), H("Accept", "*/*"),  H("Connection", "keep-alive"),
    H("Content-Length", "99"), H("X-Trace", "abc"), H("Transfer-Encoding", "chunked"),
};

static struct replay_req req(const char *method, const char *target, const char *body)
{
    return (struct replay_req){
        .method = method,
        .method_len = strlen(method),
        .target = target,
        .target_len = strlen(target),
        .headers = hdrs,
        .nheaders = sizeof(hdrs) / sizeof(hdrs[0]),
        .body = body,
        .body_len = body ? strlen(body) : 0,
    };
}

static void test_replay_rewrite_build_replaces_host_and_framing(void **state)
{
    static const char *const add[] = {"X-Replay: 1", NULL};
    static const char *const rm[] = {"x-trace", NULL};
    struct replay_rewrite rw = {.host = "127.0.0.1:9001", .add = add, .remove = rm};
    struct replay_req q = req("POST", "/users?id=7", "{\"a\":1}");
    struct buf b;
    (void)state;
    buf_init(&b, 4096);
    assert_int_equal(replay_rewrite_build(&rw, &q, &b), 0);
    assert_string_equal(b.data, "POST /users?id=7 HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n"
                                "Accept: */*\r\nX-Replay: 1\r\nContent-Length: 7\r\n\r\n"
                                "{\"a\":1}");
    buf_release(&b);
}

static void test_replay_rewrite_build_prefixes_path(void **state)
{
    struct replay_rewrite rw = {.host = "h", .path_prefix = "/v2/"};
    struct replay_req q = req("GET", "/users", NULL);
    struct buf b;
    (void)state;
    q.nheaders = 0;
    buf_init(&b, 4096);
    assert_int_equal(replay_rewrite_build(&rw, &q, &b), 0);
    assert_string_equal(b.data, "GET /v2/users HTTP/1.1\r\nHost: h\r\n\r\n");
    buf_release(&b);
}

static void test_replay_rewrite_build_bad_header_leaves_buffer(void **state)
{
    static const char *const add[] = {"no colon here", NULL};
    struct replay_rewrite rw = {.host = "h", .add = add};
    struct replay_req q = req("GET", "/", NULL);
    struct buf b;
    (void)state;
    buf_init(&b, 4096);
    buf_appends(&b, "keep");
    assert_int_equal(replay_rewrite_build(&rw, &q, &b), -EINVAL);
    assert_string_equal(b.data, "keep");
    buf_release(&b);
}

static void test_replay_rewrite_build_over_cap_is_enospc(void **state)
{
    struct replay_rewrite rw = {.host = "h"};
    struct replay_req q = req("GET", "/", NULL);
    struct buf b;
    (void)state;
    buf_init(&b, 16);
    assert_int_equal(replay_rewrite_build(&rw, &q, &b), -ENOSPC);
    assert_int_equal(b.len, 0);
    buf_release(&b);
}

static void test_replay_rewrite_header_valid_checks_token(void **state)
{
    (void)state;
    assert_true(replay_rewrite_header_valid("X-A: b"));
    assert_true(replay_rewrite_header_valid("X-A:"));
    assert_false(replay_rewrite_header_valid(": b"));
    assert_false(replay_rewrite_header_valid("X A: b"));
    assert_false(replay_rewrite_header_valid("X-A: b\r\nEvil: 1"));
}

static void test_replay_filter_match_methods_and_paths(void **state)
{
    static const char *const methods[] = {"get", "HEAD", NULL};
    static const char *const paths[] = {"/api/", "/health", NULL};
    struct replay_filter f = {.methods = methods, .paths = paths};
    struct replay_filter all = {0};
    struct replay_req a = req("GET", "/api/users", NULL), b = req("POST", "/api/users", NULL);
    struct replay_req c = req("GET", "/other?x=/api/", NULL), d = req("HEAD", "/health", NULL);
    (void)state;
    assert_true(replay_filter_match(&f, &a));
    assert_false(replay_filter_match(&f, &b));
    assert_false(replay_filter_match(&f, &c)); /* the query does not count as path */
    assert_true(replay_filter_match(&f, &d));
    assert_true(replay_filter_match(&all, &b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_rewrite_build_replaces_host_and_framing),
        cmocka_unit_test(test_replay_rewrite_build_prefixes_path),
        cmocka_unit_test(test_replay_rewrite_build_bad_header_leaves_buffer),
        cmocka_unit_test(test_replay_rewrite_build_over_cap_is_enospc),
        cmocka_unit_test(test_replay_rewrite_header_valid_checks_token),
        cmocka_unit_test(test_replay_filter_match_methods_and_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
