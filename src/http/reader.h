/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reader: incremental HTTP/1.x parsing of one byte stream (a client connection or an
 * upstream connection) into heads, body pieces and message ends. The only user of
 * http-parser. It pauses itself after each complete message, so pipelined requests are
 * handled one at a time: the caller feeds bytes, handles the message, then resumes and
 * feeds the bytes the reader did not consume. No sockets, no allocation per body byte.
 */
#ifndef DOPPEL_HTTP_READER_H
#define DOPPEL_HTTP_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/buf.h"
#include "http/head.h"

enum http_reader_kind { HTTP_READER_REQUEST = 1, HTTP_READER_RESPONSE };

enum http_reader_error {
    HTTP_READER_E_MALFORMED = -1,      /* not HTTP/1.x: answer 400 / upstream bad response */
    HTTP_READER_E_HEAD_TOO_LARGE = -2, /* request line + headers over the cap: 431 */
    HTTP_READER_E_TRUNCATED = -3,      /* the stream ended inside a message */
    HTTP_READER_E_ABORTED = -4,        /* a callback returned an error */
};

/* Callbacks; a non-zero return from any of them aborts the feed with E_ABORTED, except
 * on_head's HTTP_READER_SKIP_BODY, which tells the reader the message has no body (a
 * response to HEAD). on_head receives ownership of the head (release it). */
#define HTTP_READER_SKIP_BODY 1
struct http_reader_cbs {
    int (*on_head)(void *ctx, struct http_head *head);
    int (*on_body)(void *ctx, const char *data, size_t len);
    int (*on_complete)(void *ctx);
};

struct http_reader {
    _Alignas(8) unsigned char parser[32]; /* struct http_parser, kept opaque */
    const struct http_reader_cbs *cbs;    /* borrowed */
    void *ctx;
    size_t max_head;     /* cap on every byte of a head: start line, fields, line ends */
    struct buf raw;      /* head bytes so far (request line/status and fields) */
    size_t (*fields)[4]; /* name off, name len, value off, value len */
    size_t nfields, cap_fields;
    size_t target_off, target_len, reason_off, reason_len;
    size_t head_bytes; /* bytes of the current head handed to the parser so far */
    bool last_was_value, in_message, head_done, ended_in_call, paused, upgraded, skip_body;
    int error; /* enum http_reader_error, once failed */
};

void http_reader_init(struct http_reader *r, enum http_reader_kind kind, size_t max_head,
                      const struct http_reader_cbs *cbs, void *ctx);
void http_reader_release(struct http_reader *r);
/* Feeds bytes; returns how many were consumed (fewer than len when the reader paused after
 * a message or switched to an upgraded tunnel), or an enum http_reader_error. len == 0
 * signals the end of the stream (completes a body delimited by connection close). */
ssize_t http_reader_feed(struct http_reader *r, const char *data, size_t len);
/* Continues after the pause that follows each complete message. */
void http_reader_resume(struct http_reader *r);
/* Inside a message (head started, end not reached): an idle stream is not. */
bool http_reader_in_message(const struct http_reader *r);
bool http_reader_paused(const struct http_reader *r);
/* After a message with Upgrade/101 the rest of the stream is not HTTP. */
bool http_reader_upgraded(const struct http_reader *r);
const char *http_reader_strerror(int error);
/* "2.9.4": the parser library's version. */
const char *http_reader_version(void);

#endif
