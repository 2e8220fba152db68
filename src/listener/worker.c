/* SPDX-License-Identifier: Apache-2.0 */
/*
 * worker: a listener worker thread — its loop, its listening sockets, its view of the
 * route table, and the commands other threads send it (wake, drain, stop) through an
 * async handle and one atomic word.
 */
#include "listener/lconn.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "observer/metrics.h"

enum worker_command { WORKER_RUN = 0, WORKER_DRAIN, WORKER_STOP };

struct route_table *listener_worker_table(struct listener_worker *w)
{
    uint64_t g = router_generation(w->sh->router);
    if (g != w->generation) {
        struct route_table *t = router_acquire(w->sh->router);
        route_table_unref(w->table);
        w->table = t;
        w->generation = g;
    }
    return w->table;
}

static void on_sock_closed(uv_handle_t *h)
{
    (void)h;
}

static void close_sockets(struct listener_worker *w)
{
    for (size_t i = 0; i < w->nsocks; i++)
        if (!uv_is_closing((uv_handle_t *)&w->socks[i].tcp))
            uv_close((uv_handle_t *)&w->socks[i].tcp, on_sock_closed);
}

static void finish_if_done(struct listener_worker *w)
{
    if (!w->draining || w->nconns > 0 || mirror_worker_inflight(w->mw) > 0)
        return;
    if (w->stopping)
        return;
    w->stopping = true;
    uv_timer_stop(&w->drain_timer);
    lconn_close_all(w); /* only lingering ones are left: the loop must not wait for them */
    upstream_worker_close(w->uw);
    w->uw = NULL;
    uv_close((uv_handle_t *)&w->wake, NULL);
    uv_close((uv_handle_t *)&w->drain_timer, NULL);
}

void listener_worker_conn_gone(struct listener_worker *w)
{
    finish_if_done(w);
}

static void drain_tick(uv_timer_t *t)
{
    finish_if_done(t->data); /* copies to shadows may still be in flight */
}

static void begin_drain(struct listener_worker *w)
{
    if (w->draining)
        return;
    w->draining = true;
    close_sockets(w);
    mirror_worker_drain(w->mw);
    lconn_drain_all(w);
    uv_timer_start(&w->drain_timer, drain_tick, 50, 50);
    finish_if_done(w);
}

static void on_wake(uv_async_t *a)
{
    struct listener_worker *w = a->data;
    int cmd = atomic_load(&w->command);
    listener_worker_table(w);
    if (cmd == WORKER_DRAIN) {
        begin_drain(w);
    } else if (cmd == WORKER_STOP) {
        begin_drain(w);
        lconn_close_all(w);
        if (w->uw)
            upstream_worker_close(w->uw); /* in-flight copies end with on_error */
        w->uw = NULL;
        finish_if_done(w);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    struct lsock *ls = server->data;
    if (status < 0 || ls->w->draining)
        return;
    lconn_start(ls->w, ls, (uv_tcp_t *)server);
}

struct listener_worker *listener_worker_new(unsigned idx, struct listener_shared *sh,
                                            const struct listener_socket *socks, size_t nsocks)
{
    struct listener_worker *w = xcalloc(1, sizeof(*w));
    w->idx = idx;
    w->sh = sh;
    uv_loop_init(&w->loop);
    uv_async_init(&w->loop, &w->wake, on_wake);
    w->wake.data = w;
    uv_timer_init(&w->loop, &w->drain_timer);
    w->drain_timer.data = w;
    list_init(&w->conns);
    list_init(&w->lingering);
    w->uw = upstream_worker_new(&w->loop);
    w->mw = mirror_worker_new(w->uw, idx);
    mirror_worker_set_chaos(w->mw, sh->chaos, &w->loop);
    rng_seed(&w->rng, clock_wall_ns() ^ ((uint64_t)idx << 32) ^ (uint64_t)(uintptr_t)w);
    w->socks = xcalloc(nsocks ? nsocks : 1, sizeof(*w->socks));
    w->nsocks = nsocks;
    for (size_t i = 0; i < nsocks; i++) {
        struct lsock *ls = &w->socks[i];
        ls->w = w;
        ls->service = xstrdup(socks[i].service);
        ls->service_id = router_id_service(socks[i].service);
        ls->slot = i;
        ls->ms = metrics_service_get(sh->metrics, socks[i].service);
        uv_tcp_init(&w->loop, &ls->tcp);
        ls->tcp.data = ls;
        int rc = uv_tcp_open(&ls->tcp, socks[i].fd);
        if (rc == 0)
            rc = uv_listen((uv_stream_t *)&ls->tcp, 1024, on_connection);
        if (rc != 0)
            log_error("listener", "worker %u: cannot listen for service '%s': %s", idx,
                      socks[i].service, uv_strerror(rc));
    }
    listener_worker_table(w);
    return w;
}

static void thread_main(void *arg)
{
    struct listener_worker *w = arg;
    char name[16];
    snprintf(name, sizeof(name), "doppel-w%u", w->idx);
    pthread_setname_np(pthread_self(), name); /* what top -H and /proc/PID/task show */
    uv_run(&w->loop, UV_RUN_DEFAULT);
    atomic_store(&w->exited, true);
}

bool listener_worker_exited(struct listener_worker *w)
{
    return atomic_load(&w->exited);
}

int listener_worker_start(struct listener_worker *w)
{
    return uv_thread_create(&w->thread, thread_main, w);
}

void listener_worker_drain(struct listener_worker *w)
{
    int expected = WORKER_RUN;
    atomic_compare_exchange_strong(&w->command, &expected, WORKER_DRAIN);
    uv_async_send(&w->wake);
}

void listener_worker_stop(struct listener_worker *w)
{
    atomic_store(&w->command, WORKER_STOP);
    uv_async_send(&w->wake);
}

void listener_worker_wake(struct listener_worker *w)
{
    uv_async_send(&w->wake);
}

static void walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

void listener_worker_join(struct listener_worker *w)
{
    if (!w)
        return;
    uv_thread_join(&w->thread);
    /* Anything still open (a forced stop) is closed here, on this thread, loop stopped. */
    uv_walk(&w->loop, walk_close, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&w->loop) != 0)
        log_warn("listener", "worker %u: loop closed with handles open", w->idx);
    mirror_worker_free(w->mw);
    route_table_unref(w->table);
    for (size_t i = 0; i < w->nsocks; i++)
        free(w->socks[i].service);
    free(w->socks);
    free(w);
}
