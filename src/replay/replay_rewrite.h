/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replay_rewrite: what the replayer changes in a recorded request before it sends it, and
 * which requests it sends at all. A rewrite sets the Host header, prepends a path prefix,
 * removes and adds headers, drops hop-by-hop headers and recomputes Content-Length; a
 * filter keeps requests by method and path prefix. Pure: bytes in, bytes out (into a
 * capped struct buf); the options are borrowed from the caller (the CLI's argv).
 */
#ifndef DOPPEL_REPLAY_REWRITE_H
#define DOPPEL_REPLAY_REWRITE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "replay/source.h"

struct replay_rewrite {
    const char *host;          /* the Host header sent; required */
    const char *path_prefix;   /* prepended to every request-target ("/v2"); NULL: none */
    const char *const *add;    /* "Name: value" headers added; NULL-terminated; may be NULL */
    const char *const *remove; /* header names removed (any case); NULL-terminated; may be NULL */
};

struct replay_filter {
    const char *const *methods; /* kept methods (any case); NULL-terminated; NULL: all */
    const char *const *paths;   /* kept path prefixes; NULL-terminated; NULL: all */
};

/* Appends the request as it goes on the wire: request line, headers, body. 0 or -ENOSPC
 * (out's cap), -EINVAL for an `add` entry without ':' (the CLI checks them first). */
int replay_rewrite_build(const struct replay_rewrite *rw, const struct replay_req *req,
                         struct buf *out);
/* Whether the filter keeps req. */
bool replay_filter_match(const struct replay_filter *f, const struct replay_req *req);
/* Whether an `add` entry is "Name: value" with a valid token name. */
bool replay_rewrite_header_valid(const char *line);

#endif
