/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for http/head: header lookup, the hop-by-hop rule (RFC 7230 6.1), reason phrases,
 * idempotent methods (RFC 7231 4.2.2) and the path part of a request-target.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "http/head.h"

#define H(n, v)                                                                                    \
    {                                                                                              \
        n, sizeof(n) - 1, v, sizeof(v) - 1                                                         \
    }

static void head_with(struct http_head *h, struct http_header *hdrs, size_t n)
{
    memset(h, 0, sizeof(*h));
    h->headers = hdrs;
    h->nheaders = n;
}

static void test_http_head_find_case_insensitive_first(void **state)
{
    (void)state;
    struct http_header hdrs[] = {H("Host", "a"), H("X-Dup", "first"), H("x-dup", "second")};
    struct http_head h;
    head_with(&h, hdrs, 3);
    assert_ptr_equal(http_head_find(&h, "host"), &hdrs[0]);
    assert_ptr_equal(http_head_find(&h, "HOST"), &hdrs[0]);
    assert_ptr_equal(http_head_find(&h, "x-dup"), &hdrs[1]);
    assert_null(http_head_find(&h, "hos"));
    assert_null(http_head_find(&h, "host2"));
    head_with(&h, NULL, 0);
    assert_null(http_head_find(&h, "host"));
}

static void test_http_head_is_hop_by_hop_fixed_list(void **state)
{
    (void)state;
    struct http_header hdrs[] = {
        H("Connection", "close"),
        H("Keep-Alive", "5"),
        H("Proxy-Connection", "x"),
        H("TE", "trailers"),
        H("Trailer", "X"),
        H("Transfer-Encoding", "chunked"),
        H("UPGRADE", "h2c"),
        H("proxy-authorization", "x"),
        H("Proxy-Authenticate", "x"),
    };
    struct http_head h;
    head_with(&h, hdrs, sizeof(hdrs) / sizeof(hdrs[0]));
    for (size_t i = 0; i < h.nheaders; i++)
        assert_true(http_head_is_hop_by_hop(&h, &hdrs[i]));
    struct http_header e2e[] = {H("Host", "a"), H("Content-Length", "1"), H("Proxy", "x"),
                                H("Authorization", "x"), H("Connections", "x")};
    for (size_t i = 0; i < sizeof(e2e) / sizeof(e2e[0]); i++)
        assert_false(http_head_is_hop_by_hop(&h, &e2e[i]));
}

static void test_http_head_is_hop_by_hop_connection_tokens(void **state)
{
    (void)state;
    struct http_header hdrs[] = {
        H("Connection", "keep-alive,X-A , \tx-b"),
        H("connection", "X-C"),
        H("X-A", "1"),
        H("X-B", "2"),
        H("X-C", "3"),
        H("X-AB", "kept"),
        H("X", "kept"),
        H("Keep", "kept"),
    };
    struct http_head h;
    head_with(&h, hdrs, sizeof(hdrs) / sizeof(hdrs[0]));
    assert_true(http_head_is_hop_by_hop(&h, &hdrs[2]));
    assert_true(http_head_is_hop_by_hop(&h, &hdrs[3]));
    assert_true(http_head_is_hop_by_hop(&h, &hdrs[4]));
    assert_false(http_head_is_hop_by_hop(&h, &hdrs[5]));
    assert_false(http_head_is_hop_by_hop(&h, &hdrs[6]));
    assert_false(http_head_is_hop_by_hop(&h, &hdrs[7]));
}

static void test_http_status_reason_known_and_unknown(void **state)
{
    (void)state;
    assert_string_equal(http_status_reason(200), "OK");
    assert_string_equal(http_status_reason(101), "Switching Protocols");
    assert_string_equal(http_status_reason(304), "Not Modified");
    assert_string_equal(http_status_reason(431), "Request Header Fields Too Large");
    assert_string_equal(http_status_reason(502), "Bad Gateway");
    assert_string_equal(http_status_reason(504), "Gateway Timeout");
    assert_string_equal(http_status_reason(299), "Unknown");
    assert_string_equal(http_status_reason(-1), "Unknown");
}

static void test_http_method_idempotent_rfc7231(void **state)
{
    (void)state;
    static const char *const yes[] = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"};
    static const char *const no[] = {"POST", "PATCH", "CONNECT", "get", "GETS", "GE", ""};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        assert_true(http_method_idempotent(yes[i], strlen(yes[i])));
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        assert_false(http_method_idempotent(no[i], strlen(no[i])));
    assert_true(http_method_idempotent("GETX", 3)); /* the length delimits the method */
}

static void test_http_target_path_len_before_query(void **state)
{
    (void)state;
    assert_int_equal(http_target_path_len("/a/b?c=1", 8), 4);
    assert_int_equal(http_target_path_len("/a/b", 4), 4);
    assert_int_equal(http_target_path_len("?x", 2), 0);
    assert_int_equal(http_target_path_len("", 0), 0);
    assert_int_equal(http_target_path_len("/a?b?c", 6), 2);
    assert_int_equal(http_target_path_len("/ab?c", 3), 3); /* '?' past len is not seen */
}

static void test_http_head_release_frees_and_zeroes(void **state)
{
    (void)state;
    struct http_head h;
    memset(&h, 0, sizeof(h));
    h.raw = strdup("Host: a");
    h.headers = calloc(1, sizeof(*h.headers));
    h.nheaders = 1;
    http_head_release(&h); /* the ASan build reports a leak if either is kept */
    assert_null(h.raw);
    assert_null(h.headers);
    assert_int_equal(h.nheaders, 0);
    http_head_release(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_head_find_case_insensitive_first),
        cmocka_unit_test(test_http_head_is_hop_by_hop_fixed_list),
        cmocka_unit_test(test_http_head_is_hop_by_hop_connection_tokens),
        cmocka_unit_test(test_http_status_reason_known_and_unknown),
        cmocka_unit_test(test_http_method_idempotent_rfc7231),
        cmocka_unit_test(test_http_target_path_len_before_query),
        cmocka_unit_test(test_http_head_release_frees_and_zeroes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
