/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reader: http-parser behind the http_reader interface (see reader.h). Header names and
 * values may arrive in pieces split across reads; they are appended to one capped buffer
 * and recorded as offsets, turned into a struct http_head when the head is complete.
 */
#include "http/reader.h"

#include <assert.h>
#include <http_parser.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "base/xalloc.h"

static_assert(sizeof(http_parser) <= sizeof(((struct http_reader *)0)->parser),
              "http_reader.parser too small for struct http_parser");

#define P(r) ((http_parser *)(r)->parser)
#define R(p) ((struct http_reader *)(p)->data)

static int append(struct http_reader *r, const char *at, size_t len)
{
    if (buf_append(&r->raw, at, len) != 0) {
        r->error = HTTP_READER_E_HEAD_TOO_LARGE;
        return -1;
    }
    return 0;
}

static int on_message_begin(http_parser *p)
{
    struct http_reader *r = R(p);
    buf_reset(&r->raw);
    r->nfields = 0;
    r->target_off = r->target_len = r->reason_off = r->reason_len = 0;
    r->last_was_value = false;
    r->in_message = true;
    r->skip_body = false;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct http_reader *r = R(p);
    if (r->target_len == 0)
        r->target_off = r->raw.len;
    r->target_len += len;
    return append(r, at, len);
}

static int on_status(http_parser *p, const char *at, size_t len)
{
    struct http_reader *r = R(p);
    if (r->reason_len == 0)
        r->reason_off = r->raw.len;
    r->reason_len += len;
    return append(r, at, len);
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct http_reader *r = R(p);
    /* http-parser (outside strict builds) lets spaces into field names. "Host : a" or
     * "Transfer-Encoding : chunked" must not pass: a server behind us may read the name
     * without the space and frame the message differently (RFC 7230 3.2.4). */
    if (memchr(at, ' ', len) || memchr(at, '\t', len)) {
        r->error = HTTP_READER_E_MALFORMED;
        return -1;
    }
    if (r->nfields == 0 || r->last_was_value) {
        if (r->nfields == r->cap_fields) {
            r->cap_fields = r->cap_fields ? r->cap_fields * 2 : 16;
            r->fields = xreallocarray(r->fields, r->cap_fields, sizeof(*r->fields));
        }
        size_t *f = r->fields[r->nfields++];
        f[0] = r->raw.len;
        f[1] = f[2] = f[3] = 0;
        r->last_was_value = false;
    }
    r->fields[r->nfields - 1][1] += len;
    return append(r, at, len);
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct http_reader *r = R(p);
    size_t *f = r->fields[r->nfields - 1];
    if (!r->last_was_value) {
        f[2] = r->raw.len;
        r->last_was_value = true;
    }
    f[3] += len;
    return append(r, at, len);
}

static void set_flags(http_parser *p, struct http_head *h)
{
    if (http_should_keep_alive(p))
        h->flags |= HTTP_HEAD_KEEP_ALIVE;
    if (p->flags & F_CHUNKED)
        h->flags |= HTTP_HEAD_CHUNKED;
    if (p->upgrade)
        h->flags |= HTTP_HEAD_UPGRADE;
    if (p->flags & F_CONTENTLENGTH) {
        h->flags |= HTTP_HEAD_HAS_LENGTH;
        h->content_length = p->content_length;
    }
    const struct http_header *e = http_head_find(h, "expect");
    if (h->is_request && e && str_ieqz(e->value, e->value_len, "100-continue"))
        h->flags |= HTTP_HEAD_EXPECT_100;
    if (!h->is_request && (h->status / 100 == 1 || h->status == 204 || h->status == 304))
        h->flags |= HTTP_HEAD_NO_BODY;
}

static int on_headers_complete(http_parser *p)
{
    struct http_reader *r = R(p);
    /* A request whose last transfer coding is not chunked has no length a server can
     * agree on (RFC 7230 3.3.3): http-parser rejects it, but only after this callback,
     * so the head would reach the caller as a valid bodiless request first. */
    if (p->type == HTTP_REQUEST && p->uses_transfer_encoding && !(p->flags & F_CHUNKED)) {
        r->error = HTTP_READER_E_MALFORMED;
        return -1;
    }
    struct http_head h = {0};
    h.is_request = p->type == HTTP_REQUEST;
    h.major = p->http_major;
    h.minor = p->http_minor;
    h.raw_len = r->raw.len;
    h.raw = buf_steal(&r->raw, NULL);
    if (h.is_request) {
        h.method = http_method_str((enum http_method)p->method);
        h.method_len = strlen(h.method);
        h.target = h.raw + r->target_off;
        h.target_len = r->target_len;
    } else {
        h.status = p->status_code;
        h.reason = h.raw + r->reason_off;
        h.reason_len = r->reason_len;
    }
    h.nheaders = r->nfields;
    h.headers = xcalloc(r->nfields ? r->nfields : 1, sizeof(*h.headers));
    for (size_t i = 0; i < r->nfields; i++) {
        h.headers[i].name = h.raw + r->fields[i][0];
        h.headers[i].name_len = r->fields[i][1];
        h.headers[i].value = h.raw + r->fields[i][2];
        h.headers[i].value_len = r->fields[i][3];
    }
    set_flags(p, &h);
    /* The other protocol starts right after a head without a body (and after CONNECT's);
     * a request that carries a body with its Upgrade (a POST asking for h2c) switches only
     * after that body, which http-parser reads when this callback returns 0. */
    bool has_body =
        (p->flags & F_CHUNKED) || (p->content_length > 0 && p->content_length != ULLONG_MAX);
    bool upgrade = p->upgrade && (!has_body || p->method == HTTP_CONNECT || !h.is_request);
    /* 1xx, 204 and 304 responses end at the head even when they carry a Content-Length
     * (a 304 may announce the representation's length); http-parser would wait for it. */
    bool no_body = h.flags & HTTP_HEAD_NO_BODY;
    r->head_done = true;
    r->head_bytes = 0;
    int rc = r->cbs->on_head(r->ctx, &h); /* h is now the callee's */
    if (rc && rc != HTTP_READER_SKIP_BODY) {
        r->error = HTTP_READER_E_ABORTED;
        return -1;
    }
    if (upgrade)
        return 2;
    if (rc == HTTP_READER_SKIP_BODY || no_body) {
        r->skip_body = true;
        return 1;
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct http_reader *r = R(p);
    if (r->cbs->on_body(r->ctx, at, len)) {
        r->error = HTTP_READER_E_ABORTED;
        return -1;
    }
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct http_reader *r = R(p);
    r->in_message = false;
    r->head_done = false;
    r->ended_in_call = true;
    if (p->upgrade)
        r->upgraded = true;
    /* Pause first, so a callback that resumes (the next message is wanted at once) wins. */
    r->paused = true;
    http_parser_pause(p, 1);
    if (r->cbs->on_complete(r->ctx)) {
        r->error = HTTP_READER_E_ABORTED;
        return -1;
    }
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_status = on_status,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static pthread_once_t max_header_once = PTHREAD_ONCE_INIT;

static void lift_parser_header_limit(void)
{
    http_parser_set_max_header_size(UINT32_MAX / 2);
}

void http_reader_init(struct http_reader *r, enum http_reader_kind kind, size_t max_head,
                      const struct http_reader_cbs *cbs, void *ctx)
{
    memset(r, 0, sizeof(*r));
    http_parser_init(P(r), kind == HTTP_READER_REQUEST ? HTTP_REQUEST : HTTP_RESPONSE);
    P(r)->data = r;
    r->cbs = cbs;
    r->ctx = ctx;
    r->max_head = max_head;
    buf_init(&r->raw, max_head);
    /* Process-wide in http-parser, so set once (readers start on several threads); the
     * per-reader cap is enforced by http_reader_feed instead. */
    pthread_once(&max_header_once, lift_parser_header_limit);
}

void http_reader_release(struct http_reader *r)
{
    if (!r)
        return;
    buf_release(&r->raw);
    free(r->fields);
    r->fields = NULL;
    r->nfields = r->cap_fields = 0;
}

/* The reader's state after http_parser_execute: 0, or the error now recorded. */
static int after_execute(struct http_reader *r, bool eof)
{
    enum http_errno e = HTTP_PARSER_ERRNO(P(r));
    if (e == HPE_PAUSED || r->upgraded)
        return 0;
    if (e == HPE_OK)
        return eof && r->in_message ? (r->error = HTTP_READER_E_TRUNCATED) : 0;
    if (!r->error) {
        if (e == HPE_HEADER_OVERFLOW)
            r->error = HTTP_READER_E_HEAD_TOO_LARGE;
        else if (e == HPE_INVALID_EOF_STATE)
            r->error = HTTP_READER_E_TRUNCATED;
        else
            r->error = HTTP_READER_E_MALFORMED;
    }
    return r->error;
}

/* While a head is being read, at most the bytes left under max_head are handed to the
 * parser at once, so every byte of the head counts against the cap, including the line
 * ends and whitespace that never reach r->raw (a head padded with megabytes of spaces
 * would otherwise never end). Once the head is done the rest goes through unlimited. */
ssize_t http_reader_feed(struct http_reader *r, const char *data, size_t len)
{
    if (r->error)
        return r->error;
    if (r->paused || r->upgraded)
        return 0;
    if (len == 0) {
        http_parser_execute(P(r), &settings, data, 0);
        int rc = after_execute(r, true);
        return rc ? rc : 0;
    }
    size_t done = 0;
    while (done < len) {
        size_t chunk = len - done;
        size_t allow = r->head_bytes < r->max_head ? r->max_head - r->head_bytes : 0;
        bool limited = !r->head_done && chunk >= allow;
        if (limited && allow == 0)
            return r->error = HTTP_READER_E_HEAD_TOO_LARGE;
        if (limited)
            chunk = allow;
        r->ended_in_call = false;
        size_t n = http_parser_execute(P(r), &settings, data + done, chunk);
        done += n;
        int rc = after_execute(r, false);
        if (rc)
            return rc;
        if (r->paused || r->upgraded || n < chunk)
            break;
        if (r->ended_in_call && !r->head_done) {
            /* A message ended in this call (its callback resumed) and the next head
             * began: how many of the n bytes are that head's is unknown, and counting
             * the previous body against it would be wrong. Count from here; the part
             * read already is bounded by this call's length. */
            r->head_bytes = 0;
        } else if (!r->head_done) {
            r->head_bytes += n;
            if (limited && r->head_bytes >= r->max_head)
                return r->error = HTTP_READER_E_HEAD_TOO_LARGE;
        }
    }
    return (ssize_t)done;
}

void http_reader_resume(struct http_reader *r)
{
    if (!r->paused)
        return;
    r->paused = false;
    http_parser_pause(P(r), 0);
}

bool http_reader_in_message(const struct http_reader *r)
{
    return r->in_message;
}

bool http_reader_paused(const struct http_reader *r)
{
    return r->paused;
}

bool http_reader_upgraded(const struct http_reader *r)
{
    return r->upgraded;
}

const char *http_reader_strerror(int error)
{
    switch (error) {
    case HTTP_READER_E_MALFORMED:
        return "malformed HTTP message";
    case HTTP_READER_E_HEAD_TOO_LARGE:
        return "header section too large";
    case HTTP_READER_E_TRUNCATED:
        return "stream ended inside a message";
    case HTTP_READER_E_ABORTED:
        return "message rejected";
    default:
        return "no error";
    }
}

const char *http_reader_version(void)
{
    static char v[32];
    unsigned long n = http_parser_version();
    snprintf(v, sizeof(v), "%lu.%lu.%lu", (n >> 16) & 255, (n >> 8) & 255, n & 255);
    return v;
}
