/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router: holds the current immutable route table and makes the per-request routing
 * decisions on it: which route a request takes, and whether (and why not) it is mirrored.
 * Publishing replaces the table atomically; workers notice through a generation counter
 * read once per request and swap their reference outside the hot path. Also hands out
 * the stable ids (service, pool, upstream host) that let per-worker state survive swaps.
 */
#ifndef DOPPEL_ROUTER_ROUTER_H
#define DOPPEL_ROUTER_ROUTER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "http/head.h"
#include "model/route_table.h"
#include "router/sample.h"

struct router {
    pthread_mutex_t mu;
    struct route_table *current; /* ref held; guarded by mu */
    atomic_uint_fast64_t generation;
};

void router_init(struct router *r);
void router_release(struct router *r);
/* Publishes t (the router takes the caller's reference) and returns its generation. */
uint64_t router_publish(struct router *r, struct route_table *t);
/* A new reference to the current table (NULL before the first publish). */
struct route_table *router_acquire(struct router *r);
static inline uint64_t router_generation(struct router *r)
{
    return atomic_load_explicit(&r->generation, memory_order_acquire);
}

/* Stable ids for names, process-wide; never reused. */
uint32_t router_id_service(const char *service);
uint32_t router_id_pool(const char *service, const char *pool);
uint32_t router_id_host(const char *address);

/* Mirror decision for one request on a route (same for every shadow of the route). */
enum router_mirror {
    ROUTER_MIRROR_SAMPLED = 0,
    ROUTER_MIRROR_NOT_SAMPLED,
    ROUTER_MIRROR_FILTERED_METHOD,
    ROUTER_MIRROR_FILTERED_PATH,
    ROUTER_MIRROR_FILTERED_HEADER,
    ROUTER_MIRROR_BODY_TOO_LARGE,
};
enum router_mirror router_mirror_decide(const struct rt_route *route, const struct http_head *req,
                                        struct rng *rng);

#endif
