/* SPDX-License-Identifier: Apache-2.0 */
/*
 * source_fixed: one fixed request per pass (see source_fixed.h).
 */
#include "replay/source_fixed.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

struct source_fixed {
    struct replay_source base; /* first: the replayer sees only this */
    char *method, *target;     /* owned */
    char **lines;              /* owned copies of the header lines */
    struct http_header *headers;
    size_t nheaders;
    void *body; /* owned */
    size_t body_len;
    bool done; /* this pass yielded its request */
    uint64_t seq;
};

static int fixed_next(struct replay_source *s, struct replay_req *out)
{
    struct source_fixed *f = (struct source_fixed *)s;
    if (f->done)
        return 0;
    f->done = true;
    *out = (struct replay_req){
        .at_ns = 0,
        .method = f->method,
        .method_len = strlen(f->method),
        .target = f->target,
        .target_len = strlen(f->target),
        .headers = f->headers,
        .nheaders = f->nheaders,
        .body = f->body,
        .body_len = f->body_len,
        .seq = f->seq++,
    };
    return 1;
}

static int fixed_rewind(struct replay_source *s)
{
    struct source_fixed *f = (struct source_fixed *)s;
    f->done = false;
    f->seq = 0;
    return 0;
}

static void fixed_free(struct replay_source *s)
{
    struct source_fixed *f = (struct source_fixed *)s;
    for (size_t i = 0; i < f->nheaders; i++)
        free(f->lines[i]);
    free(f->lines);
    free(f->headers);
    free(f->method);
    free(f->target);
    free(f->body);
    free(f);
}

static const struct replay_source_ops fixed_ops = {fixed_next, fixed_rewind, fixed_free};

static void add_header(struct source_fixed *f, const char *line)
{
    const char *colon = strchr(line, ':');
    if (!colon || colon == line)
        return;
    char *copy = xstrdup(line);
    const char *v = copy + (colon - line) + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    f->lines[f->nheaders] = copy;
    f->headers[f->nheaders++] = (struct http_header){copy, (size_t)(colon - line), v, strlen(v)};
}

struct replay_source *source_fixed_new(const char *method, const char *target,
                                       const char *const *headers, const void *body,
                                       size_t body_len)
{
    struct source_fixed *f = xcalloc(1, sizeof(*f));
    size_t n = 0;
    while (headers && headers[n])
        n++;
    f->base.ops = &fixed_ops;
    f->method = xstrdup(method);
    f->target = xstrdup(target);
    f->lines = xcalloc(n ? n : 1, sizeof(*f->lines));
    f->headers = xcalloc(n ? n : 1, sizeof(*f->headers));
    for (size_t i = 0; i < n; i++)
        add_header(f, headers[i]);
    if (body_len) {
        f->body = xmalloc(body_len);
        memcpy(f->body, body, body_len);
        f->body_len = body_len;
    }
    return &f->base;
}
