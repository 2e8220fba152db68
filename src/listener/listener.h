/* SPDX-License-Identifier: Apache-2.0 */
/*
 * listener: the client side of the data path. One worker thread per core, each with its
 * own libuv loop, its own SO_REUSEPORT listening socket per service, its own upstream
 * pools and mirror state: nothing on the request path is shared between workers but the
 * route table (read-only) and the metric shards (one per worker).
 *
 * A worker accepts connections, parses requests (keep-alive, pipelining answered in order,
 * Content-Length and chunked bodies streamed to the primary, Expect: 100-continue answered
 * here, Upgrade tunnelled), enforces the limits (431, 413, 408, max connections), writes
 * the primary's response back as it streams in, and hands finished requests to the mirror.
 */
#ifndef DOPPEL_LISTENER_LISTENER_H
#define DOPPEL_LISTENER_LISTENER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "model/exchange.h"
#include "router/router.h"

struct chaos;
struct metrics;
struct listener_worker;

#define LISTENER_MAX_SERVICES 64

/* What the workers share; owned by the app. */
struct listener_shared {
    struct router *router;     /* borrowed */
    struct metrics *metrics;   /* borrowed */
    struct chaos *chaos;       /* borrowed; NULL = no fault injection on the shadow path */
    exchange_done_cb *on_done; /* hooks stored on every exchange */
    exchange_shadow_cb *on_shadow_done;
    void *hook_ctx;
    bool keep_payload; /* the hooks read bodies and the mirror's copy head (the capture):
                          exchanges keep them (exchange.keep_payload) */
    atomic_uint conns[LISTENER_MAX_SERVICES]; /* open client connections per service */
};

/* One listening socket a worker serves: fd from net_listen_socket, the service's name. */
struct listener_socket {
    int fd;
    const char *service; /* borrowed for the call */
};

struct listener_worker *listener_worker_new(unsigned idx, struct listener_shared *sh,
                                            const struct listener_socket *socks, size_t nsocks);
/* Runs the worker's loop on a new thread. */
int listener_worker_start(struct listener_worker *w);
/* Asks the worker to stop accepting, finish in-flight exchanges and exit its loop once no
 * connection and no mirrored copy is left (thread-safe). */
void listener_worker_drain(struct listener_worker *w);
/* Asks the worker to close everything now (thread-safe). */
void listener_worker_stop(struct listener_worker *w);
/* Whether the worker's loop has returned (after a drain or stop). */
bool listener_worker_exited(struct listener_worker *w);
/* Waits for the worker's thread and frees it. */
void listener_worker_join(struct listener_worker *w);
/* Wakes the worker so it picks up a newly published route table at once (thread-safe). */
void listener_worker_wake(struct listener_worker *w);

#endif
