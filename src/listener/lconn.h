/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lconn: one client connection of a listener worker (internal to the listener room).
 * worker.c accepts and owns the list; lconn.c runs the per-connection state machine.
 */
#ifndef DOPPEL_LISTENER_LCONN_H
#define DOPPEL_LISTENER_LCONN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "base/buf.h"
#include "base/list.h"
#include "http/reader.h"
#include "listener/listener.h"
#include "mirror/mirror.h"
#include "router/sample.h"
#include "upstream/upstream.h"

struct metrics_service;

struct lsock {
    uv_tcp_t tcp;
    struct listener_worker *w;
    char *service; /* owned */
    uint32_t service_id;
    size_t slot; /* index into listener_shared.conns */
    struct metrics_service *ms;
};

struct listener_worker {
    unsigned idx;
    struct listener_shared *sh;
    uv_loop_t loop;
    uv_thread_t thread;
    uv_async_t wake;
    uv_timer_t drain_timer;
    atomic_int command; /* enum worker_command, set by other threads */
    struct lsock *socks;
    size_t nsocks;
    struct route_table *table; /* ref held; refreshed when the router's generation moves */
    uint64_t generation;
    struct upstream_worker *uw;
    struct mirror_worker *mw;
    struct rng rng;
    struct list conns;     /* struct lconn.link */
    struct list lingering; /* struct lconn.link: closed, dropping the client's last bytes */
    size_t nconns;
    uint64_t next_id;
    bool draining, stopping;
    atomic_bool exited; /* the thread's loop has returned */
    char rbuf[65536];
    bool rbuf_busy;
};

/* Refreshes w->table if a new one was published; returns the current table. */
struct route_table *listener_worker_table(struct listener_worker *w);
/* Called by lconn when a connection is gone, so a draining worker can finish. */
void listener_worker_conn_gone(struct listener_worker *w);

/* Takes an accepted connection (the client tcp handle is initialized and accepted). */
void lconn_start(struct listener_worker *w, struct lsock *ls, uv_tcp_t *accepted);
/* Closes idle connections now and every other one after its current response. */
void lconn_drain_all(struct listener_worker *w);
/* Closes every connection now. */
void lconn_close_all(struct listener_worker *w);

#endif
