/* SPDX-License-Identifier: Apache-2.0 */
/*
 * source: where the replayer gets its requests. A source yields requests in the order they
 * are to be sent, each with the time it was sent originally (or is scheduled at), relative
 * to the first one; the replayer (replay.c) turns those times into a schedule (speed factor
 * or fixed rate), applies rewrites and filters, and sends open loop. Sources: capture files
 * (source_capture.c) and the synthetic traffic model (model.c). What a source yields is
 * borrowed and valid until its next `next`, `rewind` or `free`.
 */
#ifndef DOPPEL_REPLAY_SOURCE_H
#define DOPPEL_REPLAY_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "http/head.h"

struct replay_req {
    uint64_t at_ns;     /* send time relative to the source's first request */
    const char *method; /* "GET", ... */
    size_t method_len;
    const char *target; /* request-target: path and query */
    size_t target_len;
    const struct http_header *headers; /* end-to-end headers as recorded; no Host rewrite yet */
    size_t nheaders;
    const void *body;
    size_t body_len;
    uint64_t seq; /* 0, 1, 2, ... in the order yielded since open or rewind */
    uint64_t id;  /* the exchange id the source recorded (a capture record's); 0: none */
};

struct replay_source;
struct replay_source_ops {
    /* 1: *out holds the next request; 0: no more; < 0: -errno (the source's err says why). */
    int (*next)(struct replay_source *s, struct replay_req *out);
    /* Back to the first request (for --loop); -ENOTSUP where impossible. */
    int (*rewind)(struct replay_source *s);
    void (*free)(struct replay_source *s);
};

struct replay_source {
    const struct replay_source_ops *ops;
    char errmsg[256]; /* set when next or rewind fails: "file: offset N: what is wrong" */
};

static inline int replay_source_next(struct replay_source *s, struct replay_req *out)
{
    return s->ops->next(s, out);
}

static inline int replay_source_rewind(struct replay_source *s)
{
    return s->ops->rewind(s);
}

static inline void replay_source_free(struct replay_source *s)
{
    if (s)
        s->ops->free(s);
}

#endif
