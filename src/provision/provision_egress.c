/* SPDX-License-Identifier: Apache-2.0 */
/*
 * provision_egress: relays out of a sealed instance's namespace (see provision_egress.h).
 * A bridge is a listening socket made inside the namespace (net_netns_tcp_listen) and
 * handed to the loop; each accepted connection gets a connection to the target made in
 * doppel's own namespace, and bytes are copied both ways. A bridge and its relays are
 * freed when the last of their handles has closed (a reference count on the bridge).
 */
#include "provision/provision_egress.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/list.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "net/addr.h"
#include "net/netns.h"
#include "provision/provision_inst.h"

struct pegress {
    uv_tcp_t listener;
    struct sockaddr_storage target;
    char name[80];
    struct list relays;
    unsigned refs; /* the listener + two per relay */
};

struct relay {
    struct list node;
    struct pegress *bridge;
    uv_tcp_t side[2]; /* 0: inside (the instance), 1: outside (the target) */
    uv_connect_t conn;
    int closed; /* sides whose close callback ran */
};

struct relay_write {
    uv_write_t req;
    char data[];
};

static void bridge_unref(struct pegress *b)
{
    if (--b->refs == 0)
        free(b);
}

static void on_side_closed(uv_handle_t *h)
{
    struct relay *r = h->data;
    struct pegress *b = r->bridge;
    if (++r->closed == 2) {
        list_remove(&r->node);
        free(r);
    }
    bridge_unref(b);
}

static void relay_close(struct relay *r)
{
    for (int i = 0; i < 2; i++)
        if (!uv_is_closing((uv_handle_t *)&r->side[i]))
            uv_close((uv_handle_t *)&r->side[i], on_side_closed);
}

static void on_relay_written(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

static void relay_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    struct relay_write *w = xmalloc(sizeof(*w) + suggested);
    *b = uv_buf_init(w->data, (unsigned)suggested);
}

static void relay_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct relay *r = s->data;
    struct relay_write *w = b->base ? (struct relay_write *)(b->base - sizeof(*w)) : NULL;
    int other = s == (uv_stream_t *)&r->side[0];
    if (n < 0) {
        free(w);
        relay_close(r);
        return;
    }
    if (n == 0) {
        free(w);
        return;
    }
    uv_buf_t out = uv_buf_init(w->data, (unsigned)n);
    if (uv_write(&w->req, (uv_stream_t *)&r->side[other], &out, 1, on_relay_written) != 0) {
        free(w);
        relay_close(r);
    }
}

static void on_target_connected(uv_connect_t *c, int status)
{
    struct relay *r = c->data;
    if (status < 0) {
        if (status != UV_ECANCELED)
            relay_close(r);
        return;
    }
    uv_read_start((uv_stream_t *)&r->side[0], relay_alloc, relay_read);
    uv_read_start((uv_stream_t *)&r->side[1], relay_alloc, relay_read);
}

static void on_bridge_conn(uv_stream_t *l, int status)
{
    struct pegress *b = l->data;
    if (status < 0)
        return;
    struct relay *r = xcalloc(1, sizeof(*r));
    r->bridge = b;
    list_insert_tail(&b->relays, &r->node);
    for (int i = 0; i < 2; i++) {
        uv_tcp_init(l->loop, &r->side[i]);
        r->side[i].data = r;
        b->refs++;
    }
    r->conn.data = r;
    if (uv_accept(l, (uv_stream_t *)&r->side[0]) != 0 ||
        uv_tcp_connect(&r->conn, &r->side[1], (struct sockaddr *)&b->target, on_target_connected) !=
            0)
        relay_close(r);
}

static void on_listener_closed(uv_handle_t *h)
{
    bridge_unref(h->data);
}

static struct pegress *bridge_new(struct pinst *in, const char *hostport)
{
    struct err err = {0};
    struct pegress *b = xcalloc(1, sizeof(*b));
    list_init(&b->relays);
    snprintf(b->name, sizeof(b->name), "%s", hostport);
    if (net_addr_parse(hostport, &b->target, &err) != 0) {
        log_error("provision", "instance '%s': egress '%s': %s", in->info.id, hostport, err.msg);
        free(b);
        return NULL;
    }
    uint16_t port = (uint16_t)net_addr_port((struct sockaddr *)&b->target);
    int fd = net_netns_tcp_listen(in->info.netns, port), rc = fd < 0 ? fd : 0;
    uv_tcp_init(in->pp->loop, &b->listener);
    b->listener.data = b;
    b->refs = 1;
    if (!rc && (rc = uv_tcp_open(&b->listener, fd)) != 0)
        close(fd); /* not the handle's yet */
    if (!rc)
        rc = uv_listen((uv_stream_t *)&b->listener, 128, on_bridge_conn);
    if (rc) {
        log_error("provision", "instance '%s': cannot bridge egress '%s' into its namespace: %s",
                  in->info.id, hostport, uv_strerror(rc));
        uv_close((uv_handle_t *)&b->listener, on_listener_closed);
        return NULL;
    }
    log_info("provision", "instance '%s': egress bridge 127.0.0.1:%u -> %s", in->info.id,
             (unsigned)port, hostport);
    return b;
}

static void sync_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)suggested;
    struct pinst *in = h->data;
    *b = uv_buf_init(in->presp, 1); /* the probe does not run before the exec */
}

static void on_sync_written(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

static void sync_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    struct pinst *in = s->data;
    uv_read_stop(s);
    if (n <= 0)
        return;
    for (size_t i = 0; i < in->negress; i++)
        if (!in->bridges[i])
            in->bridges[i] = bridge_new(in, in->egress[i]);
    static const char go = 'g';
    uv_write_t *w = xmalloc(sizeof(*w));
    uv_buf_t out = uv_buf_init((char *)&go, 1);
    if (uv_write(w, s, &out, 1, on_sync_written) != 0)
        free(w);
}

void pegress_begin(struct pinst *in)
{
    uv_read_start((uv_stream_t *)&in->sync, sync_alloc, sync_read);
}

void pegress_close_all(struct pinst *in)
{
    for (size_t i = 0; i < in->negress; i++) {
        struct pegress *b = in->bridges[i];
        if (!b)
            continue;
        in->bridges[i] = NULL;
        struct list *it, *t;
        list_for_each_safe(it, t, &b->relays) relay_close(list_entry(it, struct relay, node));
        uv_close((uv_handle_t *)&b->listener, on_listener_closed);
    }
}
