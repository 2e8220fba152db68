/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for http/reader. Streams are fed as a connection would deliver them: whole, byte
 * by byte and in random splits, with the bytes the reader did not consume kept for the
 * next feed and the reader resumed after each message. Every way of splitting must give
 * the same transcript (heads, decoded bodies, message ends). Malformed input must end in
 * an error code, never a crash; the ASan+UBSan build runs the same cases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/reader.h"

/* What the callbacks saw, as text: one block per message. */
struct rec {
    struct buf log;
    struct buf body;            /* body pieces of the current message, merged */
    bool skip_body;             /* on_head answers HTTP_READER_SKIP_BODY (a response to HEAD) */
    bool abort_on_head;         /* on_head fails */
    struct http_reader *resume; /* on_complete resumes this reader at once */
    size_t heads, completes;
    unsigned flags[16]; /* flags of each head, in order */
};

static int rec_head(void *ctx, struct http_head *h)
{
    struct rec *r = ctx;
    if (h->is_request)
        buf_printf(&r->log, "REQ %.*s %.*s", (int)h->method_len, h->method, (int)h->target_len,
                   h->target);
    else
        buf_printf(&r->log, "RES %d %.*s", h->status, (int)h->reason_len, h->reason);
    buf_printf(&r->log, " %u.%u flags=%#x", h->major, h->minor, h->flags);
    if (h->flags & HTTP_HEAD_HAS_LENGTH)
        buf_printf(&r->log, " cl=%llu", (unsigned long long)h->content_length);
    buf_appends(&r->log, "\n");
    for (size_t i = 0; i < h->nheaders; i++)
        buf_printf(&r->log, "  %.*s: %.*s\n", (int)h->headers[i].name_len, h->headers[i].name,
                   (int)h->headers[i].value_len, h->headers[i].value);
    if (r->heads < 16)
        r->flags[r->heads] = h->flags;
    r->heads++;
    http_head_release(h);
    if (r->abort_on_head)
        return -1;
    return r->skip_body ? HTTP_READER_SKIP_BODY : 0;
}

static int rec_body(void *ctx, const char *data, size_t len)
{
    struct rec *r = ctx;
    assert_true(len > 0);
    return buf_append(&r->body, data, len);
}

static int rec_complete(void *ctx)
{
    struct rec *r = ctx;
    if (r->body.len)
        buf_printf(&r->log, "  body %zu: %.*s\n", r->body.len, (int)r->body.len, r->body.data);
    buf_appends(&r->log, "END\n");
    buf_reset(&r->body);
    r->completes++;
    if (r->resume)
        http_reader_resume(r->resume);
    return 0;
}

static const struct http_reader_cbs cbs = {rec_head, rec_body, rec_complete};

static void rec_init(struct rec *r)
{
    memset(r, 0, sizeof(*r));
    buf_init(&r->log, 1 << 20);
    buf_init(&r->body, 1 << 20);
}

static void rec_release(struct rec *r)
{
    buf_release(&r->log);
    buf_release(&r->body);
}

static const char *rec_text(const struct rec *r)
{
    return r->log.len ? r->log.data : "";
}

/* Piece sizes: 0 = the whole stream at once, 1 = byte by byte, else random in [1, mode]
 * from a fixed-seed generator. */
struct splitter {
    size_t mode;
    uint64_t state;
};

static size_t next_piece(struct splitter *s, size_t left)
{
    if (s->mode == 0)
        return left;
    size_t n = 1;
    if (s->mode > 1) {
        s->state = s->state * 6364136223846793005ULL + 1442695040888963407ULL;
        n = 1 + (size_t)((s->state >> 33) % s->mode);
    }
    return n < left ? n : left;
}

/* Delivers stream like a connection. Returns the bytes consumed, or the reader's error.
 * With eof, the end of the stream is signalled after the last byte. */
static ssize_t drive(struct http_reader *rd, const char *s, size_t n, struct splitter *sp, bool eof)
{
    size_t arrived = 0, used = 0;
    while (arrived < n && !http_reader_upgraded(rd)) {
        arrived += next_piece(sp, n - arrived);
        for (;;) {
            ssize_t k = http_reader_feed(rd, s + used, arrived - used);
            if (k < 0)
                return k;
            used += (size_t)k;
            if (!http_reader_paused(rd))
                break;
            http_reader_resume(rd);
            if (used == arrived)
                break;
        }
    }
    if (eof && !http_reader_upgraded(rd)) {
        ssize_t k = http_reader_feed(rd, s + used, 0);
        if (k < 0)
            return k;
        http_reader_resume(rd);
    }
    return (ssize_t)used;
}

/* Runs one stream through a fresh reader with one splitting; returns the transcript (caller
 * frees) and the drive result. */
static char *run(enum http_reader_kind kind, const char *s, size_t n, size_t mode, uint64_t seed,
                 bool eof, ssize_t *result)
{
    struct rec r;
    struct http_reader rd;
    struct splitter sp = {mode, seed};
    rec_init(&r);
    http_reader_init(&rd, kind, 8192, &cbs, &r);
    *result = drive(&rd, s, n, &sp, eof);
    http_reader_release(&rd);
    char *text = strdup(rec_text(&r));
    rec_release(&r);
    return text;
}

/* Whole, byte by byte and 40 random splits must agree with want. */
static void check_all_splits(enum http_reader_kind kind, const char *s, bool eof, const char *want)
{
    size_t n = strlen(s);
    for (int i = 0; i < 42; i++) {
        size_t mode = i == 0 ? 0 : i == 1 ? 1 : (size_t)(2 + i * 3);
        ssize_t res;
        char *got = run(kind, s, n, mode, (uint64_t)i * 7919, eof, &res);
        if (res != (ssize_t)n || strcmp(got, want) != 0) {
            print_error("split mode %zu: result %zd (want %zu)\n%s\nwant\n%s\n", mode, res, n, got,
                        want);
            free(got);
            fail();
        }
        free(got);
    }
}

static const char requests[] =
    "GET /a?x=1 HTTP/1.1\r\nHost: example\r\nX-Multi: a\r\nX-Multi: b\r\nX-Empty:\r\n\r\n"
    "POST /upload HTTP/1.1\r\nHost: example\r\nContent-Length: 11\r\n\r\nhello world"
    "POST /chunks HTTP/1.1\r\nHost: example\r\nTransfer-Encoding: chunked\r\n\r\n"
    "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
    "GET /last HTTP/1.0\r\n\r\n";

static void test_http_reader_feed_requests_same_in_any_split(void **state)
{
    (void)state;
    check_all_splits(HTTP_READER_REQUEST, requests, false,
                     "REQ GET /a?x=1 1.1 flags=0x1\n"
                     "  Host: example\n  X-Multi: a\n  X-Multi: b\n  X-Empty: \n"
                     "END\n"
                     "REQ POST /upload 1.1 flags=0x11 cl=11\n"
                     "  Host: example\n  Content-Length: 11\n"
                     "  body 11: hello world\n"
                     "END\n"
                     "REQ POST /chunks 1.1 flags=0x3\n"
                     "  Host: example\n  Transfer-Encoding: chunked\n"
                     "  body 11: hello world\n"
                     "END\n"
                     "REQ GET /last 1.0 flags=0\n"
                     "END\n");
}

static const char responses[] =
    "HTTP/1.1 100 Continue\r\n\r\n"
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
    "HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n"
    "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\nETag: \"v1\"\r\n\r\n"
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    "HTTP/1.1 200 Fine Thanks\r\nConnection: close\r\n\r\nuntil the end";

/* 204 and 304 end at the head even with a Content-Length; the last response is delimited
 * by the end of the stream. */
static void test_http_reader_feed_responses_same_in_any_split(void **state)
{
    (void)state;
    check_all_splits(HTTP_READER_RESPONSE, responses, true,
                     "RES 100 Continue 1.1 flags=0x21\n"
                     "END\n"
                     "RES 200 OK 1.1 flags=0x11 cl=5\n"
                     "  Content-Length: 5\n"
                     "  body 5: hello\n"
                     "END\n"
                     "RES 204 No Content 1.1 flags=0x31 cl=3\n"
                     "  Content-Length: 3\n"
                     "END\n"
                     "RES 304 Not Modified 1.1 flags=0x31 cl=10\n"
                     "  Content-Length: 10\n  ETag: \"v1\"\n"
                     "END\n"
                     "RES 200 OK 1.1 flags=0x3\n"
                     "  Transfer-Encoding: chunked\n"
                     "  body 3: abc\n"
                     "END\n"
                     "RES 200 Fine Thanks 1.1 flags=0\n"
                     "  Connection: close\n"
                     "  body 13: until the end\n"
                     "END\n");
}

static void test_http_reader_feed_pipelined_pauses_after_each(void **state)
{
    (void)state;
    const char *s = "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n";
    size_t one = strlen("GET /1 HTTP/1.1\r\n\r\n");
    struct rec r;
    struct http_reader rd;
    rec_init(&r);
    http_reader_init(&rd, HTTP_READER_REQUEST, 8192, &cbs, &r);
    assert_false(http_reader_in_message(&rd));
    assert_int_equal(http_reader_feed(&rd, s, strlen(s)), one);
    assert_true(http_reader_paused(&rd));
    assert_int_equal(r.completes, 1);
    /* Paused: nothing more is consumed until the caller has answered and resumes. */
    assert_int_equal(http_reader_feed(&rd, s + one, strlen(s) - one), 0);
    assert_int_equal(r.heads, 1);
    http_reader_resume(&rd);
    assert_false(http_reader_paused(&rd));
    assert_int_equal(http_reader_feed(&rd, s + one, strlen(s) - one), one);
    http_reader_resume(&rd);
    assert_int_equal(http_reader_feed(&rd, s + 2 * one, one), one);
    assert_string_equal(rec_text(&r), "REQ GET /1 1.1 flags=0x1\nEND\n"
                                      "REQ GET /2 1.1 flags=0x1\nEND\n"
                                      "REQ GET /3 1.1 flags=0x1\nEND\n");
    http_reader_release(&rd);
    rec_release(&r);
}

/* A caller that resumes from on_complete gets the following messages in the same feed. */
static void test_http_reader_feed_resume_in_callback_continues(void **state)
{
    (void)state;
    struct rec r;
    struct http_reader rd;
    rec_init(&r);
    http_reader_init(&rd, HTTP_READER_REQUEST, 8192, &cbs, &r);
    r.resume = &rd;
    assert_int_equal(http_reader_feed(&rd, requests, strlen(requests)), strlen(requests));
    assert_false(http_reader_paused(&rd));
    assert_int_equal(r.completes, 4);
    http_reader_release(&rd);
    rec_release(&r);
}

/* A long body followed by the start of the next head in one feed, the reader resumed from
 * on_complete: the body's bytes must not count against the next head (a small head is
 * accepted), and that head is still capped (padding cannot grow it without bound). */
static void test_http_reader_feed_head_cap_after_resumed_body(void **state)
{
    (void)state;
    size_t body = 5000, cap = 256;
    char *s = malloc(body + 256), *pad = malloc(2 * cap);
    size_t n = (size_t)snprintf(s, 128, "POST / HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", body);
    memset(s + n, 'b', body);
    n += body;
    n += (size_t)snprintf(s + n, 64, "GET /next HTTP/1.1\r\nX-Pad: ");
    memset(pad, ' ', 2 * cap);
    for (int flood = 0; flood < 2; flood++) {
        struct rec r;
        struct http_reader rd;
        rec_init(&r);
        http_reader_init(&rd, HTTP_READER_REQUEST, cap, &cbs, &r);
        r.resume = &rd;
        assert_int_equal(http_reader_feed(&rd, s, n), n);
        assert_int_equal(r.completes, 1);
        assert_true(http_reader_in_message(&rd));
        if (flood) {
            assert_int_equal(http_reader_feed(&rd, pad, 2 * cap), HTTP_READER_E_HEAD_TOO_LARGE);
        } else {
            assert_int_equal(http_reader_feed(&rd, "x\r\n\r\n", 5), 5);
            assert_int_equal(r.completes, 2);
        }
        http_reader_release(&rd);
        rec_release(&r);
    }
    free(s);
    free(pad);
}

static void test_http_reader_in_message_tracks_state(void **state)
{
    (void)state;
    const char *s = "POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd";
    struct rec r;
    struct http_reader rd;
    rec_init(&r);
    http_reader_init(&rd, HTTP_READER_REQUEST, 8192, &cbs, &r);
    assert_int_equal(http_reader_feed(&rd, s, 10), 10);
    assert_true(http_reader_in_message(&rd));
    assert_int_equal(http_reader_feed(&rd, s + 10, strlen(s) - 12), strlen(s) - 12);
    assert_true(http_reader_in_message(&rd));
    assert_int_equal(http_reader_feed(&rd, s + strlen(s) - 2, 2), 2);
    assert_false(http_reader_in_message(&rd));
    http_reader_release(&rd);
    rec_release(&r);
}

static ssize_t feed_all(enum http_reader_kind kind, size_t max_head, const char *s, size_t n,
                        size_t mode, bool eof, struct rec *r)
{
    struct http_reader rd;
    struct splitter sp = {mode, 12345};
    http_reader_init(&rd, kind, max_head, &cbs, r);
    ssize_t res = drive(&rd, s, n, &sp, eof);
    http_reader_release(&rd);
    return res;
}

static void test_http_reader_feed_eof_completes_close_delimited(void **state)
{
    (void)state;
    const char *s = "HTTP/1.0 200 OK\r\n\r\nbody until close";
    struct rec r;
    rec_init(&r);
    assert_int_equal(feed_all(HTTP_READER_RESPONSE, 8192, s, strlen(s), 1, false, &r), strlen(s));
    assert_int_equal(r.completes, 0); /* without the end of the stream it is not done */
    rec_release(&r);
    rec_init(&r);
    assert_int_equal(feed_all(HTTP_READER_RESPONSE, 8192, s, strlen(s), 1, true, &r), strlen(s));
    assert_string_equal(rec_text(&r), "RES 200 OK 1.0 flags=0\n  body 16: body until close\nEND\n");
    rec_release(&r);
}

static void test_http_reader_feed_eof_inside_message_truncated(void **state)
{
    (void)state;
    static const char *const cut[] = {
        "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nhalf",
        "GET / HTTP/1.1\r\nHost: exa",
        "GET / HT",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab",
    };
    for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
        struct rec r;
        rec_init(&r);
        enum http_reader_kind k = cut[i][0] == 'H' ? HTTP_READER_RESPONSE : HTTP_READER_REQUEST;
        assert_int_equal(feed_all(k, 8192, cut[i], strlen(cut[i]), 3, true, &r),
                         HTTP_READER_E_TRUNCATED);
        assert_int_equal(r.completes, 0);
        rec_release(&r);
    }
}

static void test_http_reader_feed_eof_between_messages_clean(void **state)
{
    (void)state;
    const char *s = "GET / HTTP/1.1\r\n\r\n";
    struct rec r;
    rec_init(&r);
    assert_int_equal(feed_all(HTTP_READER_REQUEST, 8192, s, strlen(s), 0, true, &r), strlen(s));
    assert_int_equal(r.completes, 1);
    rec_release(&r);
    rec_init(&r);
    assert_int_equal(feed_all(HTTP_READER_REQUEST, 8192, "", 0, 0, true, &r), 0);
    assert_int_equal(r.heads, 0);
    rec_release(&r);
}

/* A response to HEAD announces a length but carries no body: the next response follows
 * the head directly. */
static void test_http_reader_feed_head_response_skip_body(void **state)
{
    (void)state;
    const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
                    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    for (size_t mode = 0; mode < 3; mode++) {
        struct rec r;
        rec_init(&r);
        r.skip_body = true;
        assert_int_equal(feed_all(HTTP_READER_RESPONSE, 8192, s, strlen(s), mode, false, &r),
                         strlen(s));
        assert_string_equal(rec_text(&r), "RES 200 OK 1.1 flags=0x11 cl=1234\n"
                                          "  Content-Length: 1234\nEND\n"
                                          "RES 404 Not Found 1.1 flags=0x11 cl=0\n"
                                          "  Content-Length: 0\nEND\n");
        rec_release(&r);
    }
}

static unsigned first_flags(enum http_reader_kind kind, const char *s)
{
    struct rec r;
    rec_init(&r);
    ssize_t res = feed_all(kind, 8192, s, strlen(s), 0, false, &r);
    assert_true(res > 0);
    assert_true(r.heads >= 1);
    unsigned f = r.flags[0];
    rec_release(&r);
    return f;
}

static void test_http_reader_feed_no_body_status_flags(void **state)
{
    (void)state;
    enum http_reader_kind res = HTTP_READER_RESPONSE;
    assert_true(first_flags(res, "HTTP/1.1 204 No Content\r\n\r\n") & HTTP_HEAD_NO_BODY);
    assert_true(first_flags(res, "HTTP/1.1 304 Not Modified\r\n\r\n") & HTTP_HEAD_NO_BODY);
    assert_true(first_flags(res, "HTTP/1.1 100 Continue\r\n\r\n") & HTTP_HEAD_NO_BODY);
    assert_true(first_flags(res, "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n") &
                HTTP_HEAD_NO_BODY);
    assert_false(first_flags(res, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") &
                 HTTP_HEAD_NO_BODY);
    assert_false(first_flags(res, "HTTP/1.1 205 Reset Content\r\nContent-Length: 0\r\n\r\n") &
                 HTTP_HEAD_NO_BODY);
    assert_false(first_flags(HTTP_READER_REQUEST, "GET / HTTP/1.1\r\n\r\n") & HTTP_HEAD_NO_BODY);
}

static void test_http_reader_feed_keep_alive_flag(void **state)
{
    (void)state;
    enum http_reader_kind req = HTTP_READER_REQUEST, res = HTTP_READER_RESPONSE;
    assert_true(first_flags(req, "GET / HTTP/1.1\r\n\r\n") & HTTP_HEAD_KEEP_ALIVE);
    assert_false(first_flags(req, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n") &
                 HTTP_HEAD_KEEP_ALIVE);
    assert_false(first_flags(req, "GET / HTTP/1.0\r\n\r\n") & HTTP_HEAD_KEEP_ALIVE);
    assert_true(first_flags(req, "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n") &
                HTTP_HEAD_KEEP_ALIVE);
    assert_true(first_flags(res, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") &
                HTTP_HEAD_KEEP_ALIVE);
    /* Without a length the body runs to the end of the connection. */
    assert_false(first_flags(res, "HTTP/1.1 200 OK\r\n\r\nx") & HTTP_HEAD_KEEP_ALIVE);
}

static void test_http_reader_feed_expect_100_flag(void **state)
{
    (void)state;
    enum http_reader_kind req = HTTP_READER_REQUEST;
    assert_true(first_flags(req, "PUT /f HTTP/1.1\r\nExpect: 100-continue\r\n"
                                 "Content-Length: 0\r\n\r\n") &
                HTTP_HEAD_EXPECT_100);
    assert_true(first_flags(req, "PUT /f HTTP/1.1\r\nexpect: 100-Continue\r\n"
                                 "Content-Length: 0\r\n\r\n") &
                HTTP_HEAD_EXPECT_100);
    assert_false(first_flags(req, "PUT /f HTTP/1.1\r\nContent-Length: 0\r\n\r\n") &
                 HTTP_HEAD_EXPECT_100);
    assert_false(first_flags(req, "PUT /f HTTP/1.1\r\nExpect: something\r\n"
                                  "Content-Length: 0\r\n\r\n") &
                 HTTP_HEAD_EXPECT_100);
    /* A response never carries the flag, whatever its headers say. */
    assert_false(first_flags(HTTP_READER_RESPONSE, "HTTP/1.1 200 OK\r\nExpect: 100-continue\r\n"
                                                   "Content-Length: 0\r\n\r\n") &
                 HTTP_HEAD_EXPECT_100);
}

/* After an upgrade the bytes that follow the head belong to another protocol: the reader
 * must leave them to the caller. */
static void check_upgrade(enum http_reader_kind kind, const char *head, size_t mode)
{
    static const char tunnel[] = "\x81\x05hello\x00\xff not http";
    char s[512];
    size_t hn = strlen(head);
    memcpy(s, head, hn);
    memcpy(s + hn, tunnel, sizeof(tunnel) - 1);
    size_t n = hn + sizeof(tunnel) - 1;
    struct rec r;
    struct http_reader rd;
    struct splitter sp = {mode, 99};
    rec_init(&r);
    http_reader_init(&rd, kind, 8192, &cbs, &r);
    assert_int_equal(drive(&rd, s, n, &sp, false), hn);
    assert_true(http_reader_upgraded(&rd));
    assert_true(r.flags[0] & HTTP_HEAD_UPGRADE);
    assert_int_equal(r.completes, 1);
    assert_int_equal(http_reader_feed(&rd, s + hn, n - hn), 0);
    http_reader_release(&rd);
    rec_release(&r);
}

static void test_http_reader_feed_upgrade_leaves_tunnel_bytes(void **state)
{
    (void)state;
    for (size_t mode = 0; mode < 4; mode++) {
        check_upgrade(HTTP_READER_REQUEST,
                      "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
                      "Upgrade: websocket\r\n\r\n",
                      mode);
        check_upgrade(HTTP_READER_RESPONSE,
                      "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n"
                      "Upgrade: websocket\r\n\r\n",
                      mode);
        check_upgrade(HTTP_READER_REQUEST, "CONNECT db:5432 HTTP/1.1\r\nHost: db:5432\r\n\r\n",
                      mode);
    }
}

/* A request with a body and an Upgrade switches protocols after its body, not after its
 * head: the body is the request's, only what follows it is the tunnel's. */
static void test_http_reader_feed_upgrade_after_body(void **state)
{
    (void)state;
    static const char head[] = "POST /u HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
                               "Upgrade: h2c\r\nContent-Length: 5\r\n\r\nhello";
    static const char tunnel[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    char s[512];
    size_t hn = sizeof(head) - 1, n = hn + sizeof(tunnel) - 1;
    memcpy(s, head, hn);
    memcpy(s + hn, tunnel, sizeof(tunnel) - 1);
    for (size_t mode = 0; mode < 4; mode++) {
        struct rec r;
        struct http_reader rd;
        struct splitter sp = {mode, 7};
        rec_init(&r);
        http_reader_init(&rd, HTTP_READER_REQUEST, 8192, &cbs, &r);
        assert_int_equal(drive(&rd, s, n, &sp, false), hn);
        assert_true(http_reader_upgraded(&rd));
        assert_true(r.flags[0] & HTTP_HEAD_UPGRADE);
        assert_int_equal(r.completes, 1);
        assert_non_null(strstr(rec_text(&r), "  body 5: hello\nEND\n"));
        http_reader_release(&rd);
        rec_release(&r);
    }
}

static void test_http_reader_feed_callback_error_aborts(void **state)
{
    (void)state;
    const char *s = "GET / HTTP/1.1\r\n\r\n";
    struct rec r;
    rec_init(&r);
    r.abort_on_head = true;
    assert_int_equal(feed_all(HTTP_READER_REQUEST, 8192, s, strlen(s), 0, false, &r),
                     HTTP_READER_E_ABORTED);
    assert_int_equal(r.completes, 0);
    rec_release(&r);
}

/* A head of exactly max_head bytes passes; one byte more, in any split, does not. */
static void test_http_reader_feed_head_cap_exact(void **state)
{
    (void)state;
    char s[300];
    const char *pre = "GET / HTTP/1.1\r\nX-Pad: ";
    size_t max = 200, pn = strlen(pre);
    for (size_t extra = 0; extra < 2; extra++) {
        size_t pad = max - pn - 4 + extra; /* "\r\n\r\n" ends the head */
        memcpy(s, pre, pn);
        memset(s + pn, 'p', pad);
        memcpy(s + pn + pad, "\r\n\r\n", 4);
        size_t n = pn + pad + 4;
        assert_int_equal(n, max + extra);
        for (size_t mode = 0; mode < 8; mode++) {
            struct rec r;
            rec_init(&r);
            ssize_t res = feed_all(HTTP_READER_REQUEST, max, s, n, mode * 5, false, &r);
            assert_int_equal(res, extra ? HTTP_READER_E_HEAD_TOO_LARGE : (ssize_t)n);
            assert_int_equal(r.heads, extra ? 0 : 1);
            rec_release(&r);
        }
    }
}

static void test_http_reader_feed_huge_request_line_too_large(void **state)
{
    (void)state;
    size_t n = 100 * 1024;
    char *s = malloc(n + 32);
    memcpy(s, "GET /", 5);
    memset(s + 5, 'a', n);
    memcpy(s + 5 + n, " HTTP/1.1\r\n\r\n", 13);
    for (size_t mode = 0; mode < 3; mode++) {
        struct rec r;
        rec_init(&r);
        assert_int_equal(feed_all(HTTP_READER_REQUEST, 8192, s, n + 18, mode * 1000, false, &r),
                         HTTP_READER_E_HEAD_TOO_LARGE);
        assert_int_equal(r.heads, 0);
        rec_release(&r);
    }
    free(s);
}

/* Padding that never reaches the stored head (whitespace before a value, many header
 * lines) still counts against the cap. */
static void test_http_reader_feed_whitespace_flood_too_large(void **state)
{
    (void)state;
    size_t n = 1 << 20;
    char *s = malloc(n + 64);
    size_t pn = (size_t)snprintf(s, 64, "GET / HTTP/1.1\r\nX: ");
    memset(s + pn, ' ', n);
    memcpy(s + pn + n, "v\r\n\r\n", 5);
    struct rec r;
    rec_init(&r);
    assert_int_equal(feed_all(HTTP_READER_REQUEST, 8192, s, pn + n + 5, 0, false, &r),
                     HTTP_READER_E_HEAD_TOO_LARGE);
    rec_release(&r);
    size_t k = 0;
    k += (size_t)snprintf(s, 64, "GET / HTTP/1.1\r\n");
    while (k < n - 16)
        k += (size_t)snprintf(s + k, 16, "A: b\r\n");
    memcpy(s + k, "\r\n", 2);
    rec_init(&r);
    assert_int_equal(feed_all(HTTP_READER_REQUEST, 8192, s, k + 2, 4096, false, &r),
                     HTTP_READER_E_HEAD_TOO_LARGE);
    rec_release(&r);
    free(s);
}

static void test_http_reader_feed_body_not_limited_by_head_cap(void **state)
{
    (void)state;
    size_t body = 100000;
    char *s = malloc(body + 128);
    size_t hn = (size_t)snprintf(s, 128, "POST / HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", body);
    memset(s + hn, 'b', body);
    struct rec r;
    rec_init(&r);
    assert_int_equal(feed_all(HTTP_READER_REQUEST, 256, s, hn + body, 0, false, &r), hn + body);
    assert_int_equal(r.completes, 1);
    rec_release(&r);
    free(s);
}

struct bad_case {
    const char *what;
    const char *bytes;
    size_t len;
    enum http_reader_kind kind;
    bool after_head; /* the fault lies past a head that is itself well-formed */
};

/* BAD: rejected before any head reaches the caller; BAD_LATER: after a sound head. In the
 * two "mess" cases http-parser (not built strict) takes CR plus any byte as the end of the
 * head, so a first request is delivered and what follows is rejected as the next one. */
#define BAD(what, s, kind)                                                                         \
    {                                                                                              \
        what, s, sizeof(s) - 1, kind, false                                                        \
    }
#define BAD_LATER(what, s, kind)                                                                   \
    {                                                                                              \
        what, s, sizeof(s) - 1, kind, true                                                         \
    }

static void test_http_reader_feed_malformed_rejected(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        BAD("garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", HTTP_READER_REQUEST),
        BAD("words", "hello there, server\r\n\r\n", HTTP_READER_REQUEST),
        BAD("space in header name", "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", HTTP_READER_REQUEST),
        BAD("space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", HTTP_READER_REQUEST),
        BAD_LATER("bad chunk size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                  HTTP_READER_REQUEST),
        BAD_LATER("chunk size overflow",
                  "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
                  HTTP_READER_REQUEST),
        BAD_LATER("chunk without CRLF",
                  "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n",
                  HTTP_READER_REQUEST),
        BAD_LATER("bare CR mess", "GET / HTTP/1.1\r\nHost: a\r\n\rX: y\r\n\r\n",
                  HTTP_READER_REQUEST),
        BAD_LATER("LF CR mess", "GET / HTTP/1.1\n\r\rHost\n: a\r\r\n\n", HTTP_READER_REQUEST),
        BAD("NUL in target", "GET /a\0b HTTP/1.1\r\n\r\n", HTTP_READER_REQUEST),
        BAD("NUL in header value", "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", HTTP_READER_REQUEST),
        BAD("NUL in header name", "GET / HTTP/1.1\r\nX\0: ab\r\n\r\n", HTTP_READER_REQUEST),
        BAD("NUL first", "\0GET / HTTP/1.1\r\n\r\n", HTTP_READER_REQUEST),
        BAD("bad content-length", "POST / HTTP/1.1\r\nContent-Length: 12a\r\n\r\n",
            HTTP_READER_REQUEST),
        BAD("huge content-length",
            "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            HTTP_READER_REQUEST),
        BAD("two content-lengths",
            "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            HTTP_READER_REQUEST),
        BAD("length and chunked",
            "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
            "3\r\nabc\r\n0\r\n\r\n",
            HTTP_READER_REQUEST),
        BAD("chunked not last", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            HTTP_READER_REQUEST),
        BAD("unknown coding", "POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
            HTTP_READER_REQUEST),
        BAD("chunked then identity",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n"
            "\r\n0\r\n\r\n",
            HTTP_READER_REQUEST),
        BAD("bad version", "GET / HTTP/x.1\r\n\r\n", HTTP_READER_REQUEST),
        BAD("unknown method", "BREW /pot HTTP/1.1\r\n\r\n", HTTP_READER_REQUEST),
        BAD("response to request reader", "HTTP/1.1 200 OK\r\n\r\n", HTTP_READER_REQUEST),
        BAD("request to response reader", "GET / HTTP/1.1\r\n\r\n", HTTP_READER_RESPONSE),
        BAD("bad status", "HTTP/1.1 2x0 OK\r\n\r\n", HTTP_READER_RESPONSE),
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (size_t mode = 0; mode < 3; mode++) {
            struct rec r;
            rec_init(&r);
            ssize_t res =
                feed_all(cases[i].kind, 8192, cases[i].bytes, cases[i].len, mode, false, &r);
            if (res != HTTP_READER_E_MALFORMED || r.heads != (size_t)cases[i].after_head ||
                r.completes > r.heads) {
                print_error("'%s' (split %zu): %zd after %zu heads, want E_MALFORMED\n",
                            cases[i].what, mode, res, r.heads);
                bad++;
            }
            rec_release(&r);
        }
    }
    assert_int_equal(bad, 0);
}

/* The error sticks: once failed, a reader answers every feed with the same error. */
static void test_http_reader_feed_error_is_sticky(void **state)
{
    (void)state;
    struct rec r;
    struct http_reader rd;
    rec_init(&r);
    http_reader_init(&rd, HTTP_READER_REQUEST, 8192, &cbs, &r);
    assert_int_equal(http_reader_feed(&rd, "NOPE\r\n", 6), HTTP_READER_E_MALFORMED);
    assert_int_equal(http_reader_feed(&rd, "GET / HTTP/1.1\r\n\r\n", 18), HTTP_READER_E_MALFORMED);
    assert_int_equal(http_reader_feed(&rd, "", 0), HTTP_READER_E_MALFORMED);
    assert_int_equal(r.heads, 0);
    http_reader_release(&rd);
    rec_release(&r);
}

/* A single LF ends a line (RFC 7230 3.5 lets a recipient accept it); http-parser does. */
static void test_http_reader_feed_bare_lf_lines_accepted(void **state)
{
    (void)state;
    check_all_splits(HTTP_READER_REQUEST, "GET /lf HTTP/1.1\nHost: a\n\n", false,
                     "REQ GET /lf 1.1 flags=0x1\n  Host: a\nEND\n");
}

/* Random mutations of valid streams, in random splits: any result is allowed except a
 * crash, a sanitizer report, or a consumed count beyond the input. */
static void test_http_reader_feed_mutations_never_crash(void **state)
{
    (void)state;
    uint64_t x = 88172645463325252ULL;
    char s[sizeof(requests) + sizeof(responses)];
    for (int iter = 0; iter < 3000; iter++) {
        bool req = iter & 1;
        const char *src = req ? requests : responses;
        size_t n = strlen(src);
        memcpy(s, src, n);
        for (int m = 0; m < 1 + iter % 6; m++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            s[(x >> 8) % n] = (char)(x >> 40);
        }
        struct rec r;
        rec_init(&r);
        ssize_t res = feed_all(req ? HTTP_READER_REQUEST : HTTP_READER_RESPONSE, 128, s, n,
                               1 + iter % 13, iter % 3 == 0, &r);
        assert_true(res <= (ssize_t)n);
        assert_true(res >= HTTP_READER_E_ABORTED);
        assert_true(r.completes <= r.heads);
        rec_release(&r);
    }
}

static void test_http_reader_release_mid_message_frees(void **state)
{
    (void)state;
    const char *s = "POST /x HTTP/1.1\r\nHost: a\r\nX-Long: 0123456789";
    struct rec r;
    struct http_reader rd;
    rec_init(&r);
    http_reader_init(&rd, HTTP_READER_REQUEST, 8192, &cbs, &r);
    assert_int_equal(http_reader_feed(&rd, s, strlen(s)), strlen(s));
    assert_true(http_reader_in_message(&rd));
    http_reader_release(&rd); /* the ASan build reports any leak */
    http_reader_release(NULL);
    rec_release(&r);
}

static void test_http_reader_strerror_names_errors(void **state)
{
    (void)state;
    assert_string_equal(http_reader_strerror(HTTP_READER_E_MALFORMED), "malformed HTTP message");
    assert_string_equal(http_reader_strerror(HTTP_READER_E_HEAD_TOO_LARGE),
                        "header section too large");
    assert_string_equal(http_reader_strerror(HTTP_READER_E_TRUNCATED),
                        "stream ended inside a message");
    assert_string_equal(http_reader_strerror(HTTP_READER_E_ABORTED), "message rejected");
    assert_string_equal(http_reader_strerror(0), "no error");
}

static void test_http_reader_version_matches_library(void **state)
{
    (void)state;
    char want[32];
    unsigned long v = http_parser_version();
    snprintf(want, sizeof(want), "%lu.%lu.%lu", v >> 16 & 255, v >> 8 & 255, v & 255);
    assert_string_equal(http_reader_version(), want);
    assert_int_equal(v >> 16 & 255, HTTP_PARSER_VERSION_MAJOR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_reader_feed_requests_same_in_any_split),
        cmocka_unit_test(test_http_reader_feed_responses_same_in_any_split),
        cmocka_unit_test(test_http_reader_feed_pipelined_pauses_after_each),
        cmocka_unit_test(test_http_reader_feed_resume_in_callback_continues),
        cmocka_unit_test(test_http_reader_feed_head_cap_after_resumed_body),
        cmocka_unit_test(test_http_reader_in_message_tracks_state),
        cmocka_unit_test(test_http_reader_feed_eof_completes_close_delimited),
        cmocka_unit_test(test_http_reader_feed_eof_inside_message_truncated),
        cmocka_unit_test(test_http_reader_feed_eof_between_messages_clean),
        cmocka_unit_test(test_http_reader_feed_head_response_skip_body),
        cmocka_unit_test(test_http_reader_feed_no_body_status_flags),
        cmocka_unit_test(test_http_reader_feed_keep_alive_flag),
        cmocka_unit_test(test_http_reader_feed_expect_100_flag),
        cmocka_unit_test(test_http_reader_feed_upgrade_leaves_tunnel_bytes),
        cmocka_unit_test(test_http_reader_feed_upgrade_after_body),
        cmocka_unit_test(test_http_reader_feed_callback_error_aborts),
        cmocka_unit_test(test_http_reader_feed_head_cap_exact),
        cmocka_unit_test(test_http_reader_feed_huge_request_line_too_large),
        cmocka_unit_test(test_http_reader_feed_whitespace_flood_too_large),
        cmocka_unit_test(test_http_reader_feed_body_not_limited_by_head_cap),
        cmocka_unit_test(test_http_reader_feed_malformed_rejected),
        cmocka_unit_test(test_http_reader_feed_error_is_sticky),
        cmocka_unit_test(test_http_reader_feed_bare_lf_lines_accepted),
        cmocka_unit_test(test_http_reader_feed_mutations_never_crash),
        cmocka_unit_test(test_http_reader_release_mid_message_frees),
        cmocka_unit_test(test_http_reader_strerror_names_errors),
        cmocka_unit_test(test_http_reader_version_matches_library),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
