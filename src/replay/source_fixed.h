/* SPDX-License-Identifier: Apache-2.0 */
/*
 * source_fixed: a request source that yields one fixed request (method, request-target,
 * headers, body) per pass, at time 0; with --loop the replayer rewinds it, so a fixed
 * rate turns it into a steady stream (`doppel stress --from url:/path`). Owns copies of
 * everything it was given.
 */
#ifndef DOPPEL_REPLAY_SOURCE_FIXED_H
#define DOPPEL_REPLAY_SOURCE_FIXED_H

#include <stddef.h>

#include "replay/source.h"

/* headers: "Name: value" lines, NULL-terminated (may be NULL); lines without ':' are
 * skipped (the CLI checks them). body may be NULL when body_len is 0. */
struct replay_source *source_fixed_new(const char *method, const char *target,
                                       const char *const *headers, const void *body,
                                       size_t body_len);

#endif
