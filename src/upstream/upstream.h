/* SPDX-License-Identifier: Apache-2.0 */
/*
 * upstream: keep-alive connection pools to a pool's hosts, one set per worker thread, and
 * requests forwarded over them. Picks a host by smooth weighted round robin, skipping hosts
 * ejected by passive health (N consecutive failures eject a host for an interval, as Envoy
 * does) or marked down by the active check; retries idempotent requests on connect failure
 * only (and once on a reused keep-alive connection the server had already closed). The
 * request head and body are written as they come (queued until connected); the response is
 * streamed back through callbacks, never buffered whole. Shadow pools use the same code with
 * a whole-response timeout; primary pools re-arm their timeout on every read.
 */
#ifndef DOPPEL_UPSTREAM_UPSTREAM_H
#define DOPPEL_UPSTREAM_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "http/head.h"
#include "model/exchange.h"
#include "model/route_table.h"

struct upstream_worker;
struct upstream_req;

enum upstream_flag {
    UPSTREAM_F_IDEMPOTENT = 1 << 0, /* may be retried on connect failure */
    UPSTREAM_F_HEAD = 1 << 1,       /* HEAD request: the response has no body */
    UPSTREAM_F_TUNNEL = 1 << 2,     /* Upgrade: after a 101 the connection is a raw pipe */
};

/* After on_complete or on_error the request is freed by upstream: drop the pointer. */
struct upstream_cbs {
    int (*on_head)(void *ctx, struct http_head *head); /* head ownership passes; !0 aborts */
    int (*on_body)(void *ctx, const char *data, size_t len);
    void (*on_complete)(void *ctx);
    void (*on_error)(void *ctx, enum exchange_error e, const char *detail);
    void (*on_drain)(void *ctx); /* the request's write queue emptied (may be NULL) */
    /* An attempt failed and the request goes on to another (a retry): counted by the
     * caller, since the final outcome will not show it (may be NULL). */
    void (*on_retry)(void *ctx, enum exchange_error e);
};

struct upstream_worker *upstream_worker_new(uv_loop_t *loop);
/* Closes every connection; pending requests get on_error. The struct is freed once the
 * handles are closed (run the loop). */
void upstream_worker_close(struct upstream_worker *uw);
/* Active health verdicts, shared by all workers (set by the checker, read when picking). */
void upstream_host_set_down(uint32_t host_id, bool down);
bool upstream_host_is_down(uint32_t host_id);

/* Starts a request to one host of pool; head holds the serialized request head (copied). */
struct upstream_req *upstream_req_start(struct upstream_worker *uw, const struct rt_pool *pool,
                                        const char *head, size_t head_len, unsigned flags,
                                        const struct upstream_cbs *cbs, void *ctx);
/* Request body bytes (copied when they cannot be written at once). */
int upstream_req_body(struct upstream_req *r, const void *a, size_t alen, const void *b,
                      size_t blen);
/* The request is complete (nothing more will be written). */
void upstream_req_end(struct upstream_req *r);
/* Bytes written but not yet taken by the kernel, or waiting for the connection. */
size_t upstream_req_queued(const struct upstream_req *r);
void upstream_req_pause(struct upstream_req *r);
void upstream_req_resume(struct upstream_req *r);
/* The caller lost interest (client gone): no more callbacks; the connection is closed. */
void upstream_req_cancel(struct upstream_req *r);
/* After its response, the connection is held open (unread) for ns and then closed instead
 * of being reused: a slow close, as the chaos room's slow_close fault asks. */
void upstream_req_linger(struct upstream_req *r, uint64_t ns);
/* The address of the host the request went to ("" before a host was picked). */
const char *upstream_req_host(const struct upstream_req *r);

#endif
