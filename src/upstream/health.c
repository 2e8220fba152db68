/* SPDX-License-Identifier: Apache-2.0 */
/*
 * health: active HTTP health probes (see health.h). A target is probed when due; a probe
 * is one connection: connect, send the GET, read until the status line is complete, close.
 * A probe still running when its target is dropped is detached and finishes on its own.
 */
#include "upstream/health.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/list.h"
#include "base/str.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "upstream/upstream.h"

struct htarget {
    uint32_t host_id;
    struct sockaddr_storage sa;
    char *address, *path;
    uint64_t interval_ns, timeout_ns, next_ns;
    bool probing, down;
};

struct probe {
    uv_tcp_t tcp;
    struct list link; /* in the checker's probes while attached */
    uv_timer_t timer;
    uv_connect_t creq;
    struct health_checker *hc; /* NULL once detached */
    uint32_t host_id;
    char *request;
    struct buf resp;
    int handles;
    bool done;
};

struct health_checker {
    uv_loop_t *loop;
    uv_timer_t tick;
    struct htarget *targets;
    size_t n;
    bool stopped, tick_closed, free_requested;
    struct list probes; /* running, attached */
};

static struct htarget *target_of(struct health_checker *hc, uint32_t host_id)
{
    for (size_t i = 0; hc && i < hc->n; i++)
        if (hc->targets[i].host_id == host_id)
            return &hc->targets[i];
    return NULL;
}

static void probe_closed(uv_handle_t *h)
{
    struct probe *p = h->data;
    if (--p->handles)
        return;
    if (p->hc)
        list_remove(&p->link);
    buf_release(&p->resp);
    free(p->request);
    free(p);
}

static void probe_finish(struct probe *p, bool ok, const char *why)
{
    if (p->done)
        return;
    p->done = true;
    struct htarget *t = target_of(p->hc, p->host_id);
    if (t) {
        t->probing = false;
        if (ok != !t->down)
            log_warn("upstream", "host '%s' is now %s (%s)", t->address, ok ? "up" : "down", why);
        t->down = !ok;
        upstream_host_set_down(t->host_id, !ok);
    }
    uv_close((uv_handle_t *)&p->timer, probe_closed);
    uv_close((uv_handle_t *)&p->tcp, probe_closed);
}

static void probe_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
    (void)h;
    b->base = xmalloc(s);
    b->len = s;
}

static void probe_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct probe *p = s->data;
    if (n > 0)
        buf_append(&p->resp, b->base, (size_t)n);
    free(b->base);
    if (n < 0 || strstr(p->resp.data ? p->resp.data : "", "\r\n") || p->resp.len >= 64) {
        int status = 0;
        if (p->resp.len >= 12 && memcmp(p->resp.data, "HTTP/1.", 7) == 0)
            status = (int)strtol(p->resp.data + 9, NULL, 10);
        probe_finish(p, status >= 200 && status < 300,
                     status ? "check answered with a status" : "no HTTP answer");
    }
}

static void probe_connected(uv_connect_t *c, int status)
{
    struct probe *p = c->data;
    if (p->done)
        return;
    if (status < 0) {
        probe_finish(p, false, uv_strerror(status));
        return;
    }
    uv_buf_t b = uv_buf_init(p->request, (unsigned)strlen(p->request));
    if (uv_try_write((uv_stream_t *)&p->tcp, &b, 1) != (int)b.len) {
        probe_finish(p, false, "could not send the check");
        return;
    }
    uv_read_start((uv_stream_t *)&p->tcp, probe_alloc, probe_read);
}

static void probe_timeout(uv_timer_t *t)
{
    probe_finish(t->data, false, "check timed out");
}

static void probe_start(struct health_checker *hc, struct htarget *t)
{
    struct probe *p = xcalloc(1, sizeof(*p));
    p->hc = hc;
    p->host_id = t->host_id;
    p->request = xasprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: doppel-health\r\n"
                           "Connection: close\r\n\r\n",
                           t->path, t->address);
    buf_init(&p->resp, 4096);
    uv_tcp_init(hc->loop, &p->tcp);
    uv_timer_init(hc->loop, &p->timer);
    p->tcp.data = p->timer.data = p->creq.data = p;
    p->handles = 2;
    list_insert_tail(&hc->probes, &p->link);
    t->probing = true;
    uv_timer_start(&p->timer, probe_timeout, t->timeout_ns / 1000000 + 1, 0);
    if (uv_tcp_connect(&p->creq, &p->tcp, (struct sockaddr *)&t->sa, probe_connected) != 0)
        probe_finish(p, false, "connect failed");
}

static void on_tick(uv_timer_t *tm)
{
    struct health_checker *hc = tm->data;
    uint64_t now = clock_mono_ns();
    for (size_t i = 0; i < hc->n; i++) {
        struct htarget *t = &hc->targets[i];
        if (t->probing || now < t->next_ns)
            continue;
        t->next_ns = now + t->interval_ns;
        probe_start(hc, t);
    }
}

struct health_checker *health_checker_new(uv_loop_t *loop)
{
    struct health_checker *hc = xcalloc(1, sizeof(*hc));
    hc->loop = loop;
    uv_timer_init(loop, &hc->tick);
    hc->tick.data = hc;
    list_init(&hc->probes);
    uv_timer_start(&hc->tick, on_tick, 100, 100);
    return hc;
}

static void add_pool(struct health_checker *hc, const struct rt_pool *p, size_t *cap)
{
    if (!p->health.check_path)
        return;
    for (size_t i = 0; i < p->nups; i++) {
        if (target_of(hc, p->ups[i].host_id))
            continue;
        if (hc->n == *cap) {
            *cap = *cap ? *cap * 2 : 8;
            hc->targets = xreallocarray(hc->targets, *cap, sizeof(*hc->targets));
        }
        struct htarget *t = &hc->targets[hc->n++];
        memset(t, 0, sizeof(*t));
        t->host_id = p->ups[i].host_id;
        t->sa = p->ups[i].sa;
        t->address = xstrdup(p->ups[i].address);
        t->path = xstrdup(p->health.check_path);
        t->interval_ns = p->health.check_interval_ns;
        t->timeout_ns = p->health.check_timeout_ns;
        t->down = upstream_host_is_down(t->host_id);
    }
}

/* Running probes finish on their own and report to nobody. */
static void detach_probes(struct health_checker *hc)
{
    struct list *n;
    while ((n = list_pop_head(&hc->probes)) != NULL)
        list_entry(n, struct probe, link)->hc = NULL;
}

static void clear_targets(struct health_checker *hc)
{
    for (size_t i = 0; i < hc->n; i++) {
        free(hc->targets[i].address);
        free(hc->targets[i].path);
    }
    free(hc->targets);
    hc->targets = NULL;
    hc->n = 0;
}

void health_checker_update(struct health_checker *hc, const struct route_table *t)
{
    if (!hc || hc->stopped)
        return;
    detach_probes(hc);
    clear_targets(hc);
    size_t cap = 0;
    for (size_t i = 0; i < t->nservices; i++) {
        add_pool(hc, &t->services[i].primary, &cap);
        for (size_t j = 0; j < t->services[i].nshadows; j++)
            add_pool(hc, &t->services[i].shadows[j], &cap);
    }
}

static void tick_closed(uv_handle_t *h)
{
    struct health_checker *hc = h->data;
    hc->tick_closed = true;
    if (hc->free_requested)
        free(hc);
}

void health_checker_stop(struct health_checker *hc)
{
    if (!hc || hc->stopped)
        return;
    hc->stopped = true;
    detach_probes(hc);
    uv_close((uv_handle_t *)&hc->tick, tick_closed);
}

void health_checker_free(struct health_checker *hc)
{
    if (!hc)
        return;
    health_checker_stop(hc);
    clear_targets(hc);
    hc->free_requested = true;
    if (hc->tick_closed)
        free(hc);
}
