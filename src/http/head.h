/* SPDX-License-Identifier: Apache-2.0 */
/*
 * head: the HTTP/1.x message head (request line or status line, and headers) as the
 * reader produces it and the writer consumes it. All strings point into `raw`, which the
 * head owns; a head is immutable once the reader hands it out, except through the
 * explicit edit functions below (which copy). No sockets here.
 */
#ifndef DOPPEL_HTTP_HEAD_H
#define DOPPEL_HTTP_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

enum http_head_flag {
    HTTP_HEAD_KEEP_ALIVE = 1 << 0, /* the connection may carry another message after this */
    HTTP_HEAD_CHUNKED = 1 << 1,    /* Transfer-Encoding: chunked */
    HTTP_HEAD_UPGRADE = 1 << 2,    /* Upgrade requested (request) / 101 (response) */
    HTTP_HEAD_EXPECT_100 = 1 << 3, /* Expect: 100-continue */
    HTTP_HEAD_HAS_LENGTH = 1 << 4, /* Content-Length present; see content_length */
    HTTP_HEAD_NO_BODY = 1 << 5,    /* response that carries no body (HEAD, 1xx, 204, 304) */
};

struct http_head {
    bool is_request;
    const char *method; /* request: "GET", ... */
    size_t method_len;
    const char *target; /* request: request-target as sent */
    size_t target_len;
    int status;         /* response */
    const char *reason; /* response */
    size_t reason_len;
    unsigned short major, minor;
    unsigned flags;              /* enum http_head_flag */
    uint64_t content_length;     /* valid with HTTP_HEAD_HAS_LENGTH */
    struct http_header *headers; /* owned array */
    size_t nheaders;
    char *raw;      /* owned: every string above points into it */
    size_t raw_len; /* bytes of header data (request line + fields), for limits */
};

void http_head_release(struct http_head *h);
/* First header with that name (case-insensitive), or NULL. */
const struct http_header *http_head_find(const struct http_head *h, const char *name);
/* Whether a header is hop-by-hop (RFC 7230 6.1) for this message: the fixed list plus any
 * name listed in its Connection header. */
bool http_head_is_hop_by_hop(const struct http_head *h, const struct http_header *hdr);
/* The reason phrase for a status code ("Bad Gateway"), "Unknown" if none. */
const char *http_status_reason(int status);
/* Whether a request method is idempotent (RFC 7231 4.2.2). */
bool http_method_idempotent(const char *method, size_t len);
/* Path part of a request-target (before '?'), as pointer and length. */
size_t http_target_path_len(const char *target, size_t len);

#endif
