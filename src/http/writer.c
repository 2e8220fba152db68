/* SPDX-License-Identifier: Apache-2.0 */
/*
 * writer: HTTP/1.1 message serialization (see writer.h).
 */
#include "http/writer.h"

#include <string.h>

#include "base/str.h"

int http_write_request_line(struct buf *out, const char *method, size_t mlen, const char *target,
                            size_t tlen)
{
    return buf_printf(out, "%.*s %.*s HTTP/1.1\r\n", (int)mlen, method, (int)tlen, target);
}

int http_write_status_line(struct buf *out, int status, const char *reason, size_t rlen)
{
    if (!reason || !rlen) {
        reason = http_status_reason(status);
        rlen = strlen(reason);
    }
    return buf_printf(out, "HTTP/1.1 %03d %.*s\r\n", status, (int)rlen, reason);
}

/* Multi-part writes undo themselves on failure, so a capped buffer never ends in half a
 * header line that a caller might send. */
static int rollback(struct buf *out, size_t mark, int rc)
{
    if (rc && out->data) {
        out->len = mark;
        out->data[mark] = '\0';
    }
    return rc;
}

int http_write_header(struct buf *out, const char *name, size_t nlen, const char *value,
                      size_t vlen)
{
    size_t mark = out->len;
    int rc = buf_append(out, name, nlen);
    if (!rc)
        rc = buf_append(out, ": ", 2);
    if (!rc)
        rc = buf_append(out, value, vlen);
    if (!rc)
        rc = buf_append(out, "\r\n", 2);
    return rollback(out, mark, rc);
}

int http_write_headerz(struct buf *out, const char *name, const char *value)
{
    return http_write_header(out, name, strlen(name), value, strlen(value));
}

static bool skipped(const struct http_header *hdr, const char *const *skip)
{
    for (; skip && *skip; skip++)
        if (str_ieqz(hdr->name, hdr->name_len, *skip))
            return true;
    return false;
}

int http_write_end_to_end(struct buf *out, const struct http_head *h, const char *const *skip)
{
    size_t mark = out->len;
    for (size_t i = 0; i < h->nheaders; i++) {
        const struct http_header *hdr = &h->headers[i];
        if (http_head_is_hop_by_hop(h, hdr) || skipped(hdr, skip))
            continue;
        int rc = http_write_header(out, hdr->name, hdr->name_len, hdr->value, hdr->value_len);
        if (rc)
            return rollback(out, mark, rc);
    }
    return 0;
}

int http_write_end_head(struct buf *out)
{
    return buf_append(out, "\r\n", 2);
}

int http_write_chunk_head(struct buf *out, size_t n)
{
    if (n == 0)
        return buf_append(out, "0\r\n\r\n", 5);
    return buf_printf(out, "%zx\r\n", n);
}

int http_write_simple_response(struct buf *out, int status, const char *message, bool close)
{
    size_t mlen = strlen(message), mark = out->len;
    int rc = http_write_status_line(out, status, NULL, 0);
    if (!rc)
        rc = buf_printf(out,
                        "Content-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n%s\r\n",
                        mlen + 1, close ? "Connection: close\r\n" : "");
    if (!rc)
        rc = buf_append(out, message, mlen);
    if (!rc)
        rc = buf_append(out, "\n", 1);
    return rollback(out, mark, rc);
}
