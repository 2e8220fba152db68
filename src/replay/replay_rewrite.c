/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replay_rewrite: request rewriting and filtering for the replayer (see replay_rewrite.h).
 * The writer (http/writer.h) does the framing; this file decides which headers go out.
 */
#include "replay/replay_rewrite.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/str.h"
#include "http/head.h"
#include "http/writer.h"

/* Headers the replayer owns or that describe the recorded connection, not the request. */
static const char *const replaced[] = {
    "host",
    "content-length",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-connection",
    "proxy-authorization",
    "proxy-authenticate",
    "expect",
    NULL,
};

static bool in_list(const char *const *names, const char *s, size_t len)
{
    for (size_t i = 0; names && names[i]; i++)
        if (str_ieqz(s, len, names[i]))
            return true;
    return false;
}

bool replay_rewrite_header_valid(const char *line)
{
    const char *colon = strchr(line, ':');
    if (!colon || colon == line)
        return false;
    for (const char *p = line; p < colon; p++)
        if (!strchr("!#$%&'*+-.^_`|~", *p) &&
            !((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
            return false;
    return strpbrk(colon, "\r\n") == NULL;
}

static int write_added(struct buf *out, const char *line)
{
    if (!replay_rewrite_header_valid(line))
        return -EINVAL;
    const char *colon = strchr(line, ':'), *v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    return http_write_header(out, line, (size_t)(colon - line), v, strlen(v));
}

static int write_target(struct buf *out, const struct replay_rewrite *rw,
                        const struct replay_req *req)
{
    const char *p = rw->path_prefix;
    if (!p || !*p)
        return http_write_request_line(out, req->method, req->method_len, req->target,
                                       req->target_len);
    size_t plen = strlen(p);
    if (p[plen - 1] == '/' && req->target_len > 0 && req->target[0] == '/')
        plen--; /* "/v2/" + "/users" is "/v2/users" */
    struct buf t;
    buf_init(&t, plen + req->target_len + 1);
    int rc = buf_append(&t, p, plen);
    if (!rc)
        rc = buf_append(&t, req->target, req->target_len);
    if (!rc)
        rc = http_write_request_line(out, req->method, req->method_len, t.data, t.len);
    buf_release(&t);
    return rc;
}

static bool method_has_body(const struct replay_req *req)
{
    return str_ieqz(req->method, req->method_len, "POST") ||
           str_ieqz(req->method, req->method_len, "PUT") ||
           str_ieqz(req->method, req->method_len, "PATCH");
}

int replay_rewrite_build(const struct replay_rewrite *rw, const struct replay_req *req,
                         struct buf *out)
{
    size_t mark = out->len;
    int rc = write_target(out, rw, req);
    if (!rc)
        rc = http_write_headerz(out, "Host", rw->host);
    for (size_t i = 0; !rc && i < req->nheaders; i++) {
        const struct http_header *h = &req->headers[i];
        if (in_list(replaced, h->name, h->name_len) || in_list(rw->remove, h->name, h->name_len))
            continue;
        rc = http_write_header(out, h->name, h->name_len, h->value, h->value_len);
    }
    for (size_t i = 0; !rc && rw->add && rw->add[i]; i++)
        rc = write_added(out, rw->add[i]);
    if (!rc && (req->body_len > 0 || method_has_body(req))) {
        char len[24];
        snprintf(len, sizeof(len), "%zu", req->body_len);
        rc = http_write_headerz(out, "Content-Length", len);
    }
    if (!rc)
        rc = http_write_end_head(out);
    if (!rc && req->body_len > 0)
        rc = buf_append(out, req->body, req->body_len);
    if (rc) {
        out->len = mark; /* as it was */
        if (out->data)
            out->data[mark] = '\0';
    }
    return rc;
}

bool replay_filter_match(const struct replay_filter *f, const struct replay_req *req)
{
    if (f->methods && !in_list(f->methods, req->method, req->method_len))
        return false;
    if (!f->paths)
        return true;
    size_t plen = http_target_path_len(req->target, req->target_len);
    for (size_t i = 0; f->paths[i]; i++)
        if (str_has_prefix(req->target, plen, f->paths[i]))
            return true;
    return false;
}
