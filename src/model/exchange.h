/* SPDX-License-Identifier: Apache-2.0 */
/*
 * exchange: one client request and everything later rooms need to know about it — the
 * request head, the primary's response head, capped copies of both bodies, timings, the
 * outcome — and, for each shadow it was mirrored to, the shadow's outcome. Created by the
 * listener; the mirror holds a reference while a copy is in flight; the observer reads it
 * through the hooks the creator stored on it (`on_done`, `on_shadow_done`), so answers travel
 * back without the data path including the observer's comparison code.
 */
#ifndef DOPPEL_MODEL_EXCHANGE_H
#define DOPPEL_MODEL_EXCHANGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "http/head.h"
#include "model/route_table.h"

enum exchange_error {
    EXCHANGE_OK = 0,
    EXCHANGE_E_REFUSED,      /* connect refused / no upstream available */
    EXCHANGE_E_RESET,        /* connection reset or closed early */
    EXCHANGE_E_TIMEOUT,      /* connect or response timeout */
    EXCHANGE_E_BAD_RESPONSE, /* not HTTP */
    EXCHANGE_E_CLIENT_GONE,  /* the client closed before the answer */
    EXCHANGE_E_OTHER,
};

/* What one shadow did with its copy. */
struct shadow_result {
    const struct rt_pool *pool; /* borrowed from the exchange's table */
    int status;                 /* 0 when no response */
    enum exchange_error error;
    uint64_t latency_ns;
    struct http_head head; /* the shadow's response head (owned) */
    struct buf body;       /* capped copy of the shadow's response body */
};

struct exchange;
typedef void exchange_done_cb(struct exchange *ex, void *ctx);
typedef void exchange_shadow_cb(struct exchange *ex, const struct shadow_result *r, void *ctx);

struct exchange {
    atomic_uint refs;
    uint64_t id;
    char id_str[20];                  /* X-Request-Id we add when the client sent none */
    struct route_table *table;        /* ref held */
    const struct rt_service *service; /* borrowed from table */
    const struct rt_route *route;     /* borrowed from table */
    unsigned worker;
    char client_ip[48];
    struct http_head req;  /* owned */
    struct http_head resp; /* owned: the primary's response head, once received */
    struct buf req_body;   /* capped copy (for the mirror and for the hooks) */
    struct buf resp_body;  /* capped copy of the primary's body, kept only with keep_payload */
    bool req_body_truncated, resp_body_truncated;
    /* the hooks read the response bodies (the primary's and the shadows') and copy_head:
     * without it nothing is copied for them (the data path does no work nobody reads) */
    bool keep_payload;
    struct buf copy_head; /* owned: the anonymized head the mirror sent its copies with
                             (mirror_copy_head), kept with keep_payload so the capture
                             records it without building it again; empty when no copy was
                             sent */
    int status;           /* what the client got (gateway answers included) */
    enum exchange_error error;
    uint64_t t_start, t_req_done, t_resp_head, t_done; /* monotonic ns */
    uint64_t bytes_in, bytes_out;
    exchange_done_cb *on_done; /* hooks set by the creator; may be NULL */
    exchange_shadow_cb *on_shadow_done;
    void *hook_ctx;
};

struct exchange *exchange_new(struct route_table *table, const struct rt_service *svc,
                              unsigned worker, uint64_t id, size_t req_cap, size_t resp_cap);
struct exchange *exchange_ref(struct exchange *ex);
void exchange_unref(struct exchange *ex);
const char *exchange_error_name(enum exchange_error e);

#endif
