/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for http/writer: the exact bytes of every piece of a message, the end-to-end
 * header copy a proxy must make (RFC 7230 6.1: hop-by-hop fields and the fields the
 * Connection header names stay behind), and the buffer cap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "http/writer.h"

#define H(n, v)                                                                                    \
    {                                                                                              \
        n, sizeof(n) - 1, v, sizeof(v) - 1                                                         \
    }

static void head_with(struct http_head *h, struct http_header *hdrs, size_t n)
{
    memset(h, 0, sizeof(*h));
    h->is_request = true;
    h->headers = hdrs;
    h->nheaders = n;
}

static void test_http_write_request_line_exact(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1024);
    assert_int_equal(http_write_request_line(&b, "GET", 3, "/a?b=1", 6), 0);
    assert_string_equal(b.data, "GET /a?b=1 HTTP/1.1\r\n");
    buf_reset(&b);
    /* Lengths, not terminators, delimit the parts (heads point into one raw buffer). */
    assert_int_equal(http_write_request_line(&b, "POSTXX", 4, "/upload HTTP", 7), 0);
    assert_string_equal(b.data, "POST /upload HTTP/1.1\r\n");
    buf_release(&b);
}

static void test_http_write_status_line_exact(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1024);
    assert_int_equal(http_write_status_line(&b, 200, NULL, 0), 0);
    assert_int_equal(http_write_status_line(&b, 404, "Nope!", 4), 0);
    assert_int_equal(http_write_status_line(&b, 503, "", 0), 0);
    assert_int_equal(http_write_status_line(&b, 799, NULL, 0), 0);
    assert_string_equal(b.data, "HTTP/1.1 200 OK\r\n"
                                "HTTP/1.1 404 Nope\r\n"
                                "HTTP/1.1 503 Service Unavailable\r\n"
                                "HTTP/1.1 799 Unknown\r\n");
    buf_release(&b);
}

static void test_http_write_header_exact(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1024);
    assert_int_equal(http_write_header(&b, "Host", 4, "example:8080", 12), 0);
    assert_int_equal(http_write_headerz(&b, "X-Empty", ""), 0);
    assert_int_equal(http_write_headerz(&b, "Via", "1.1 doppel"), 0);
    assert_int_equal(http_write_end_head(&b), 0);
    assert_string_equal(b.data, "Host: example:8080\r\nX-Empty: \r\nVia: 1.1 doppel\r\n\r\n");
    buf_release(&b);
}

static void test_http_write_end_to_end_drops_hop_by_hop(void **state)
{
    (void)state;
    struct http_header hdrs[] = {
        H("Host", "api"),
        H("Connection", "keep-alive, X-Session-Hop"),
        H("Keep-Alive", "timeout=5"),
        H("Transfer-Encoding", "chunked"),
        H("TE", "trailers"),
        H("Trailer", "X-Checksum"),
        H("Upgrade", "websocket"),
        H("Proxy-Authorization", "Basic eA=="),
        H("Proxy-Authenticate", "Basic"),
        H("Proxy-Connection", "keep-alive"),
        H("x-session-hop", "1"),
        H("X-Session-Hop-Not", "kept: a longer name than the one listed"),
        H("connection", "\tX-Second ,"),
        H("X-Second", "2"),
        H("Content-Length", "10"),
        H("Accept", "*/*"),
        H("X-Keep", "yes"),
    };
    struct http_head h;
    head_with(&h, hdrs, sizeof(hdrs) / sizeof(hdrs[0]));
    struct buf b;
    buf_init(&b, 4096);
    static const char *const skip[] = {"content-length", "x-keep-not-present", NULL};
    assert_int_equal(http_write_end_to_end(&b, &h, skip), 0);
    assert_string_equal(b.data, "Host: api\r\n"
                                "X-Session-Hop-Not: kept: a longer name than the one listed\r\n"
                                "Accept: */*\r\n"
                                "X-Keep: yes\r\n");
    buf_reset(&b);
    assert_int_equal(http_write_end_to_end(&b, &h, NULL), 0);
    assert_non_null(strstr(b.data, "Content-Length: 10\r\n"));
    assert_null(strstr(b.data, "Keep-Alive"));
    buf_release(&b);
}

static void test_http_write_chunk_head_hex(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1024);
    assert_int_equal(http_write_chunk_head(&b, 1), 0);
    assert_int_equal(http_write_chunk_head(&b, 255), 0);
    assert_int_equal(http_write_chunk_head(&b, 4096), 0);
    assert_int_equal(http_write_chunk_head(&b, SIZE_MAX), 0);
    assert_int_equal(http_write_chunk_head(&b, 0), 0);
    assert_string_equal(b.data, "1\r\nff\r\n1000\r\nffffffffffffffff\r\n0\r\n\r\n");
    buf_release(&b);
}

static void test_http_write_simple_response_exact(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1024);
    const char *msg = "upstream 'api' unreachable";
    assert_int_equal(strlen(msg) + 1, 27);
    assert_int_equal(http_write_simple_response(&b, 502, msg, true), 0);
    assert_string_equal(b.data, "HTTP/1.1 502 Bad Gateway\r\n"
                                "Content-Type: text/plain; charset=utf-8\r\n"
                                "Content-Length: 27\r\n"
                                "Connection: close\r\n"
                                "\r\n"
                                "upstream 'api' unreachable\n");
    buf_reset(&b);
    assert_int_equal(http_write_simple_response(&b, 431, "", false), 0);
    assert_string_equal(b.data, "HTTP/1.1 431 Request Header Fields Too Large\r\n"
                                "Content-Type: text/plain; charset=utf-8\r\n"
                                "Content-Length: 1\r\n"
                                "\r\n"
                                "\n");
    buf_release(&b);
}

/* Writes with a buffer capped one byte short of what the write needs (after a prefix):
 * -ENOSPC and the prefix untouched; with the exact cap it fits. */
#define CHECK_CAP(call_on_b, need)                                                                 \
    do {                                                                                           \
        for (size_t extra = 0; extra < 2; extra++) {                                               \
            struct buf b;                                                                          \
            buf_init(&b, 3 + (need)-1 + extra);                                                    \
            buf_appends(&b, "pre");                                                                \
            int rc_ = (call_on_b);                                                                 \
            assert_int_equal(rc_, extra ? 0 : -ENOSPC);                                            \
            assert_int_equal(b.len, extra ? 3 + (need) : 3);                                       \
            assert_memory_equal(b.data, "pre", 3);                                                 \
            assert_int_equal(b.data[b.len], '\0');                                                 \
            buf_release(&b);                                                                       \
        }                                                                                          \
    } while (0)

static void test_http_write_enospc_at_cap_leaves_buffer(void **state)
{
    (void)state;
    struct http_header hdrs[] = {H("Host", "api"), H("Connection", "close"), H("Accept", "*/*")};
    struct http_head h;
    head_with(&h, hdrs, 3);
    CHECK_CAP(http_write_request_line(&b, "GET", 3, "/", 1), strlen("GET / HTTP/1.1\r\n"));
    CHECK_CAP(http_write_status_line(&b, 200, NULL, 0), strlen("HTTP/1.1 200 OK\r\n"));
    CHECK_CAP(http_write_header(&b, "Host", 4, "api", 3), strlen("Host: api\r\n"));
    CHECK_CAP(http_write_end_to_end(&b, &h, NULL), strlen("Host: api\r\nAccept: */*\r\n"));
    CHECK_CAP(http_write_end_head(&b), 2);
    CHECK_CAP(http_write_chunk_head(&b, 4096), strlen("1000\r\n"));
    CHECK_CAP(http_write_chunk_head(&b, 0), strlen("0\r\n\r\n"));
    CHECK_CAP(http_write_simple_response(&b, 400, "bad", false),
              strlen("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: 4\r\n\r\nbad\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_write_request_line_exact),
        cmocka_unit_test(test_http_write_status_line_exact),
        cmocka_unit_test(test_http_write_header_exact),
        cmocka_unit_test(test_http_write_end_to_end_drops_hop_by_hop),
        cmocka_unit_test(test_http_write_chunk_head_hex),
        cmocka_unit_test(test_http_write_simple_response_exact),
        cmocka_unit_test(test_http_write_enospc_at_cap_leaves_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
