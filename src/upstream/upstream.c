/* SPDX-License-Identifier: Apache-2.0 */
/*
 * upstream: per-worker keep-alive pools and forwarded requests (see upstream.h).
 *
 * A connection (struct uconn) moves through:
 *
 *   CONNECTING --connect ok--> BUSY --response complete, keep-alive--> IDLE --picked--> BUSY
 *        |                      |                                        |
 *        +--fail--> (retry on another host or on_error)                  +--EOF/timeout--> closed
 *                               +--error / cancel / not reusable--> closed
 *
 * Invariants: a BUSY connection has exactly one request (conn->req, req->conn point at each
 * other); an IDLE one has none and sits in its host's idle list with its read running (so
 * a server-side close is seen) and its timer set to the idle timeout; a closing connection
 * is in no list and is freed in the close callback of its last handle.
 */
#include "upstream/upstream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/list.h"
#include "base/xalloc.h"
#include "http/reader.h"
#include "net/addr.h"
#include "net/netns.h"
#include "net/stream.h"

#define IDLE_TIMEOUT_MS 60000
#define MAX_HOSTS 4096
#define READ_BUF 65536

static atomic_bool host_down[MAX_HOSTS]; /* active health verdicts, shared by workers */

/* LINGER: the response is complete but the connection is held open, unread, for the
 * request's linger time and then closed (never reused). */
enum uconn_state { UCONN_CONNECTING = 1, UCONN_BUSY, UCONN_IDLE, UCONN_LINGER, UCONN_CLOSING };

struct uhost {
    struct list idle;    /* struct uconn.link */
    struct list waiters; /* struct upstream_req.wait_link: waiting for a connection */
    uint32_t nidle, nopen;
    uint32_t fails;         /* consecutive failures */
    uint64_t ejected_until; /* monotonic ns */
};

struct upool {
    const struct rt_pool *seen; /* the table's pool the weights below belong to */
    int64_t *cw;                /* smooth WRR current weights */
    size_t n;
};

struct upstream_worker {
    uv_loop_t *loop;
    struct uhost *hosts; /* by host_id */
    size_t nhosts;
    struct upool *pools; /* by pool_id */
    size_t npools;
    struct list conns; /* every open connection */
    char rbuf[READ_BUF];
    bool rbuf_busy;
    bool closing;
    size_t open_handles;
};

struct uconn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t creq;
    struct upstream_worker *uw;
    uint32_t host_id;
    enum uconn_state state;
    struct list link; /* host idle list */
    struct list all;  /* worker's conns */
    struct http_reader reader;
    struct upstream_req *req;
    bool reused;     /* served a request before this one */
    bool got_bytes;  /* response bytes arrived for the current request */
    bool keep_alive; /* the current response allows reuse */
    bool tunnel;
    bool interim; /* a 1xx head was just read: its "complete" is not the response's */
    int handles;
};

struct upstream_req {
    struct list wait_link; /* in the host's waiters while waiting */
    bool waiting;
    struct upstream_worker *uw;
    const struct rt_pool *pool; /* borrowed: the caller holds the table */
    const struct upstream_cbs *cbs;
    void *ctx;
    unsigned flags;
    struct buf head;    /* serialized request head, kept for retries */
    struct buf pending; /* body bytes waiting for the connection */
    struct uconn *conn;
    size_t up_idx; /* index into pool->ups of the current host */
    uint32_t attempts, stale_retries;
    bool ended, paused, sent_body, done;
    bool starting; /* inside upstream_req_start: failures are returned, not called back */
    uint64_t t_start;
    uint64_t linger_ns; /* hold the connection this long after the response, then close */
};

static void conn_close(struct uconn *c);
static void req_fail(struct upstream_req *r, enum exchange_error e, const char *detail);
static int req_connect(struct upstream_req *r, int exclude);

/* ---- health and picking -------------------------------------------------------------- */

void upstream_host_set_down(uint32_t host_id, bool down)
{
    if (host_id < MAX_HOSTS)
        atomic_store_explicit(&host_down[host_id], down, memory_order_relaxed);
}

bool upstream_host_is_down(uint32_t host_id)
{
    return host_id < MAX_HOSTS && atomic_load_explicit(&host_down[host_id], memory_order_relaxed);
}

static struct uhost *host_get(struct upstream_worker *uw, uint32_t id)
{
    if (id >= uw->nhosts) {
        size_t n = id + 16;
        uw->hosts = xreallocarray(uw->hosts, n, sizeof(*uw->hosts));
        for (size_t i = uw->nhosts; i < n; i++) {
            memset(&uw->hosts[i], 0, sizeof(uw->hosts[i]));
            list_init(&uw->hosts[i].idle);
            list_init(&uw->hosts[i].waiters);
        }
        uw->nhosts = n;
    }
    return &uw->hosts[id];
}

static struct upool *pool_get(struct upstream_worker *uw, const struct rt_pool *p)
{
    if (p->pool_id >= uw->npools) {
        size_t n = p->pool_id + 8;
        uw->pools = xreallocarray(uw->pools, n, sizeof(*uw->pools));
        memset(uw->pools + uw->npools, 0, (n - uw->npools) * sizeof(*uw->pools));
        uw->npools = n;
    }
    struct upool *up = &uw->pools[p->pool_id];
    if (up->seen != p || up->n != p->nups) {
        free(up->cw);
        up->cw = xcalloc(p->nups ? p->nups : 1, sizeof(int64_t));
        up->n = p->nups;
        up->seen = p;
    }
    return up;
}

static bool host_usable(struct upstream_worker *uw, const struct rt_upstream *u, uint64_t now)
{
    return u->weight > 0 && host_get(uw, u->host_id)->ejected_until <= now &&
           !upstream_host_is_down(u->host_id);
}

/* Smooth weighted round robin (as nginx): returns an index or -1. When every host with a
 * weight is ejected or down, the ejection is ignored (a pool never refuses all traffic
 * because of its own health bookkeeping) — except for shadow pools, where a copy that
 * cannot go anywhere healthy is better dropped. */
static int pick(struct upstream_worker *uw, const struct rt_pool *p, int exclude)
{
    struct upool *up = pool_get(uw, p);
    uint64_t now = clock_mono_ns();
    for (int pass = 0; pass < 2; pass++) {
        int64_t total = 0;
        int best = -1;
        for (size_t i = 0; i < p->nups; i++) {
            const struct rt_upstream *u = &p->ups[i];
            if ((int)i == exclude && p->nups > 1)
                continue;
            if (u->weight == 0 || (pass == 0 && !host_usable(uw, u, now)))
                continue;
            up->cw[i] += u->weight;
            total += u->weight;
            if (best < 0 || up->cw[i] > up->cw[best])
                best = (int)i;
        }
        if (best >= 0) {
            up->cw[best] -= total;
            return best;
        }
        if (p->shadow)
            break; /* copies to an ejected shadow are dropped, not forced through */
    }
    return -1;
}

static void host_result(struct upstream_worker *uw, const struct rt_pool *p, uint32_t host_id,
                        bool ok)
{
    struct uhost *h = host_get(uw, host_id);
    if (ok) {
        h->fails = 0;
        return;
    }
    if (++h->fails >= p->health.fail_threshold && p->health.fail_threshold > 0) {
        h->ejected_until = clock_mono_ns() + p->health.eject_ns;
        h->fails = 0;
    }
}

/* ---- connection plumbing ------------------------------------------------------------- */

/* Drops one of the connection's references (its handles, a pending namespace socket). */
static void conn_unref(struct uconn *c)
{
    struct upstream_worker *uw = c->uw;
    if (--c->handles > 0)
        return;
    http_reader_release(&c->reader);
    free(c);
    if (--uw->open_handles == 0 && uw->closing) {
        free(uw->hosts);
        for (size_t i = 0; i < uw->npools; i++)
            free(uw->pools[i].cw);
        free(uw->pools);
        free(uw);
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    conn_unref(h->data);
}

static void host_kick(struct upstream_worker *uw, uint32_t host_id);

static void conn_close(struct uconn *c)
{
    if (c->state == UCONN_CLOSING)
        return;
    struct uhost *h = host_get(c->uw, c->host_id);
    if (c->state == UCONN_IDLE) {
        list_remove(&c->link);
        h->nidle--;
    }
    h->nopen--;
    list_remove(&c->all);
    c->state = UCONN_CLOSING;
    c->req = NULL;
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    host_kick(c->uw, c->host_id);
}

static void arm_timer(struct uconn *c, uv_timer_cb cb, uint64_t ns)
{
    uint64_t ms = ns / 1000000ULL;
    uv_timer_start(&c->timer, cb, ms ? ms : 1, 0);
}

static void conn_linger(struct uconn *c, uint64_t ns);
static int on_resp_head(void *ctx, struct http_head *head);
static int on_resp_body(void *ctx, const char *data, size_t len);
static int on_resp_complete(void *ctx);
static const struct http_reader_cbs resp_cbs = {on_resp_head, on_resp_body, on_resp_complete};

static struct uconn *conn_new(struct upstream_worker *uw, uint32_t host_id)
{
    struct uconn *c = xcalloc(1, sizeof(*c));
    c->uw = uw;
    c->host_id = host_id;
    uv_tcp_init(uw->loop, &c->tcp);
    uv_timer_init(uw->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    uw->open_handles++;
    host_get(uw, host_id)->nopen++;
    list_init(&c->link);
    list_insert_tail(&uw->conns, &c->all);
    http_reader_init(&c->reader, HTTP_READER_RESPONSE, 64 * 1024, &resp_cbs, c);
    return c;
}

/* ---- request side -------------------------------------------------------------------- */

static void req_free(struct upstream_req *r)
{
    buf_release(&r->head);
    buf_release(&r->pending);
    free(r);
}

/* Detaches r from its connection; the connection is closed unless reusable. */
static void req_detach(struct upstream_req *r, bool reusable);

static void req_finish_error(struct upstream_req *r, enum exchange_error e, const char *detail)
{
    if (r->starting) {
        r->done = true;
        req_detach(r, false);
        return;
    }
    const struct upstream_cbs *cbs = r->cbs;
    void *ctx = r->ctx;
    r->done = true;
    req_detach(r, false);
    req_free(r);
    cbs->on_error(ctx, e, detail);
}

static void on_write_done(void *ctx, int status)
{
    struct uconn *c = ctx;
    if (status < 0 || c->state != UCONN_BUSY || !c->req)
        return;
    if (c->tcp.write_queue_size == 0 && c->req->cbs->on_drain)
        c->req->cbs->on_drain(c->req->ctx);
}

static int conn_send(struct uconn *c, const void *a, size_t alen, const void *b, size_t blen)
{
    int rc = net_write2((uv_stream_t *)&c->tcp, a, alen, b, blen, on_write_done, c);
    return rc < 0 ? rc : 0;
}

static void on_timeout(uv_timer_t *t);
static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

/* The connection is up (new or reused): send what is waiting and wait for the answer. */
static void req_send(struct upstream_req *r)
{
    struct uconn *c = r->conn;
    c->state = UCONN_BUSY;
    c->req = r;
    c->got_bytes = false;
    c->keep_alive = false;
    http_reader_resume(&c->reader);
    arm_timer(c, on_timeout, r->pool->timeout_ns);
    int rc = conn_send(c, r->head.data, r->head.len, r->pending.data, r->pending.len);
    if (rc == 0 && r->pending.len)
        r->sent_body = true;
    buf_reset(&r->pending);
    if (rc < 0) {
        req_fail(r, EXCHANGE_E_RESET, "write to upstream failed");
        return;
    }
    if (r->paused)
        uv_read_stop((uv_stream_t *)&c->tcp);
    else
        uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
    /* Body bytes that waited for the connection went out at once: no write callback will
     * come, so tell a caller that stopped reading its client because of them. */
    if (!r->starting && c->tcp.write_queue_size == 0 && r->cbs->on_drain)
        r->cbs->on_drain(r->ctx);
}

static void on_connect(uv_connect_t *creq, int status)
{
    struct uconn *c = creq->data;
    if (c->state == UCONN_CLOSING)
        return;
    uv_timer_stop(&c->timer);
    struct upstream_req *r = c->req;
    if (status < 0) {
        if (r)
            req_fail(r, status == UV_ETIMEDOUT ? EXCHANGE_E_TIMEOUT : EXCHANGE_E_REFUSED,
                     uv_strerror(status));
        else
            conn_close(c);
        return;
    }
    net_tune_tcp(&c->tcp);
    if (!r) {
        conn_close(c);
        return;
    }
    req_send(r);
}

static void on_connect_timeout(uv_timer_t *t)
{
    struct uconn *c = t->data;
    if (c->req)
        req_fail(c->req, EXCHANGE_E_TIMEOUT, "connect timed out");
    else
        conn_close(c);
}

/* Takes an idle connection to the host, or starts a new one. */
/* A sealed shadow is reached with a socket made in its network namespace. Joining the
 * namespace takes a thread of its own (tens of microseconds, milliseconds on a busy
 * machine), so it runs on libuv's thread pool and the worker connects when it is back;
 * the pending work holds a reference on the connection. */
struct ns_open {
    uv_work_t work;
    struct uconn *c;
    struct sockaddr_storage sa;
    char *path;
    int fd;
};

static void ns_open_work(uv_work_t *w)
{
    struct ns_open *o = w->data;
    o->fd = net_netns_tcp_socket(o->path);
}

static void ns_open_done(uv_work_t *w, int status)
{
    struct ns_open *o = w->data;
    struct uconn *c = o->c;
    int rc = status ? status : o->fd < 0 ? o->fd : 0;
    if (c->state == UCONN_CLOSING) {
        rc = rc ? rc : UV_ECANCELED;
    } else if (!rc && (rc = uv_tcp_open(&c->tcp, o->fd)) == 0) {
        o->fd = -1; /* the handle's now */
        rc = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&o->sa, on_connect);
    }
    if (o->fd >= 0)
        close(o->fd);
    if (rc && c->state != UCONN_CLOSING) {
        if (c->req)
            req_fail(c->req, EXCHANGE_E_REFUSED, uv_strerror(rc));
        else
            conn_close(c);
    }
    free(o->path);
    free(o);
    conn_unref(c);
}

static int open_in_netns(struct uconn *c, const struct rt_upstream *u)
{
    struct ns_open *o = xcalloc(1, sizeof(*o));
    o->c = c;
    o->sa = u->sa;
    o->path = xstrdup(u->netns);
    o->fd = -1;
    o->work.data = o;
    int rc = uv_queue_work(c->uw->loop, &o->work, ns_open_work, ns_open_done);
    if (rc) {
        free(o->path);
        free(o);
        return rc;
    }
    c->handles++;
    return 0;
}

static int req_attach(struct upstream_req *r, const struct rt_upstream *u)
{
    struct upstream_worker *uw = r->uw;
    struct uhost *h = host_get(uw, u->host_id);
    struct list *n = list_pop_head(&h->idle);
    if (n) {
        struct uconn *c = list_entry(n, struct uconn, link);
        h->nidle--;
        uv_timer_stop(&c->timer);
        c->reused = true;
        r->conn = c;
        req_send(r);
        return 0;
    }
    if (r->pool->max_conns && h->nopen >= r->pool->max_conns && !uw->closing) {
        r->waiting = true;
        list_insert_tail(&h->waiters, &r->wait_link);
        return 0;
    }
    struct uconn *c = conn_new(uw, u->host_id);
    c->state = UCONN_CONNECTING;
    c->req = r;
    r->conn = c;
    c->creq.data = c;
    int rc = u->netns
                 ? open_in_netns(c, u)
                 : uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&u->sa, on_connect);
    if (rc < 0) {
        r->conn = NULL;
        c->req = NULL;
        conn_close(c);
        return rc;
    }
    arm_timer(c, on_connect_timeout, r->pool->connect_timeout_ns);
    return 0;
}

static int req_connect(struct upstream_req *r, int exclude)
{
    for (;;) {
        int i = pick(r->uw, r->pool, exclude);
        if (i < 0)
            return -ENOENT;
        r->up_idx = (size_t)i;
        r->attempts++;
        int rc = req_attach(r, &r->pool->ups[i]);
        if (rc == 0)
            return 0;
        host_result(r->uw, r->pool, r->pool->ups[i].host_id, false);
        if (!(r->flags & UPSTREAM_F_IDEMPOTENT) || r->attempts > r->pool->retries)
            return rc;
        exclude = i;
    }
}

/* A failure before any response byte: retry where that is safe, else report. */
static void req_fail(struct upstream_req *r, enum exchange_error e, const char *detail)
{
    struct uconn *c = r->conn;
    bool connect_failed = c && c->state == UCONN_CONNECTING;
    bool stale = c && c->reused && !c->got_bytes && !r->sent_body && (e == EXCHANGE_E_RESET) &&
                 r->stale_retries == 0;
    bool idem = r->flags & UPSTREAM_F_IDEMPOTENT;
    int failed_idx = (int)r->up_idx;
    if (!stale)
        host_result(r->uw, r->pool, r->pool->ups[r->up_idx].host_id, false);
    if ((connect_failed && idem && r->attempts <= r->pool->retries) || (stale && idem)) {
        if (stale)
            r->stale_retries++;
        else if (r->cbs->on_retry)
            r->cbs->on_retry(r->ctx, e);
        req_detach(r, false);
        if (req_connect(r, stale ? -1 : failed_idx) == 0)
            return;
        req_finish_error(r, EXCHANGE_E_REFUSED, "no upstream host accepted the connection");
        return;
    }
    req_finish_error(r, e, detail);
}

static void req_detach(struct upstream_req *r, bool reusable)
{
    struct uconn *c = r->conn;
    r->conn = NULL;
    if (r->waiting) {
        list_remove(&r->wait_link);
        r->waiting = false;
    }
    if (!c)
        return;
    c->req = NULL;
    if (!reusable || c->state != UCONN_BUSY || r->uw->closing) {
        conn_close(c);
        return;
    }
    struct uhost *h = host_get(r->uw, c->host_id);
    if (h->nidle >= r->pool->keepalive) {
        conn_close(c);
        return;
    }
    c->state = UCONN_IDLE;
    c->reused = true;
    list_insert_tail(&h->idle, &c->link);
    h->nidle++;
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
    arm_timer(c, on_timeout, IDLE_TIMEOUT_MS * 1000000ULL);
    host_kick(r->uw, c->host_id);
}

/* A connection became free (idle) or a slot opened (closed): serve the next waiter. */
static void host_kick(struct upstream_worker *uw, uint32_t host_id)
{
    struct uhost *h = host_get(uw, host_id);
    while (!list_empty(&h->waiters) && !uw->closing) {
        struct upstream_req *r = list_entry(h->waiters.next, struct upstream_req, wait_link);
        if (h->nidle == 0 && r->pool->max_conns && h->nopen >= r->pool->max_conns)
            return;
        list_remove(&r->wait_link);
        r->waiting = false;
        if (req_attach(r, &r->pool->ups[r->up_idx]) != 0)
            req_finish_error(r, EXCHANGE_E_REFUSED, "connect failed");
    }
}

struct upstream_req *upstream_req_start(struct upstream_worker *uw, const struct rt_pool *pool,
                                        const char *head, size_t head_len, unsigned flags,
                                        const struct upstream_cbs *cbs, void *ctx)
{
    struct upstream_req *r = xcalloc(1, sizeof(*r));
    r->uw = uw;
    r->pool = pool;
    r->cbs = cbs;
    r->ctx = ctx;
    r->flags = flags;
    r->t_start = clock_mono_ns();
    buf_init(&r->head, head_len + 1);
    buf_append(&r->head, head, head_len);
    buf_init(&r->pending, (size_t)1 << 30);
    r->starting = true;
    int rc = req_connect(r, -1);
    r->starting = false;
    if (rc != 0 || r->done) {
        req_detach(r, false);
        req_free(r);
        return NULL;
    }
    return r;
}

int upstream_req_body(struct upstream_req *r, const void *a, size_t alen, const void *b,
                      size_t blen)
{
    struct uconn *c = r->conn;
    if (!c || c->state != UCONN_BUSY) {
        int rc = buf_append(&r->pending, a, alen);
        if (!rc && blen)
            rc = buf_append(&r->pending, b, blen);
        return rc;
    }
    r->sent_body = true;
    return conn_send(c, a, alen, b, blen);
}

void upstream_req_end(struct upstream_req *r)
{
    r->ended = true;
}

size_t upstream_req_queued(const struct upstream_req *r)
{
    size_t q = r->pending.len;
    if (r->conn && r->conn->state == UCONN_BUSY)
        q += r->conn->tcp.write_queue_size;
    return q;
}

void upstream_req_pause(struct upstream_req *r)
{
    r->paused = true;
    if (r->conn && r->conn->state == UCONN_BUSY)
        uv_read_stop((uv_stream_t *)&r->conn->tcp);
}

void upstream_req_resume(struct upstream_req *r)
{
    r->paused = false;
    if (r->conn && r->conn->state == UCONN_BUSY)
        uv_read_start((uv_stream_t *)&r->conn->tcp, alloc_cb, read_cb);
}

void upstream_req_cancel(struct upstream_req *r)
{
    if (!r)
        return;
    req_detach(r, false);
    req_free(r);
}

const char *upstream_req_host(const struct upstream_req *r)
{
    return r->pool->nups ? r->pool->ups[r->up_idx].address : "";
}

void upstream_req_linger(struct upstream_req *r, uint64_t ns)
{
    r->linger_ns = ns;
}

/* ---- response side ------------------------------------------------------------------- */

static void conn_linger(struct uconn *c, uint64_t ns)
{
    struct upstream_req *r = c->req;
    r->conn = NULL;
    c->req = NULL;
    c->state = UCONN_LINGER;
    uv_read_stop((uv_stream_t *)&c->tcp);
    arm_timer(c, on_timeout, ns); /* on_timeout closes a connection without a request */
}

static void on_timeout(uv_timer_t *t)
{
    struct uconn *c = t->data;
    if (c->state == UCONN_IDLE || !c->req) {
        conn_close(c);
        return;
    }
    struct upstream_req *r = c->req;
    host_result(r->uw, r->pool, c->host_id, false);
    req_finish_error(r, EXCHANGE_E_TIMEOUT, "upstream response timed out");
}

static int on_resp_head(void *ctx, struct http_head *head)
{
    struct uconn *c = ctx;
    struct upstream_req *r = c->req;
    if (!r) {
        http_head_release(head);
        return -1;
    }
    if (head->status / 100 == 1 && head->status != 101) {
        /* Interim answers (100 Continue) are not relayed: the gateway answers the client's
         * Expect itself. The reader continues with the final response. */
        http_head_release(head);
        c->interim = true;
        return 0;
    }
    c->keep_alive = head->flags & HTTP_HEAD_KEEP_ALIVE;
    if (head->status == 101 && (r->flags & UPSTREAM_F_TUNNEL)) {
        c->tunnel = true;
        uv_timer_stop(&c->timer); /* a tunnel lives as long as its two ends */
    }
    bool no_body = (r->flags & UPSTREAM_F_HEAD) != 0;
    if (r->cbs->on_head(r->ctx, head) != 0)
        return -1;
    return no_body ? HTTP_READER_SKIP_BODY : 0;
}

static int on_resp_body(void *ctx, const char *data, size_t len)
{
    struct uconn *c = ctx;
    if (!c->req)
        return -1;
    return c->req->cbs->on_body(c->req->ctx, data, len);
}

static int on_resp_complete(void *ctx)
{
    struct uconn *c = ctx;
    struct upstream_req *r = c->req;
    if (!r)
        return -1;
    if (c->tunnel)
        return 0; /* the 101's head is done; the pipe follows */
    if (c->interim) {
        c->interim = false;
        http_reader_resume(&c->reader); /* the final response follows */
        return 0;
    }
    const struct upstream_cbs *cbs = r->cbs;
    void *cctx = r->ctx;
    host_result(r->uw, r->pool, c->host_id, true);
    uv_timer_stop(&c->timer);
    r->done = true;
    if (r->linger_ns && !r->uw->closing)
        conn_linger(c, r->linger_ns);
    else
        req_detach(r, c->keep_alive && r->ended);
    req_free(r);
    cbs->on_complete(cctx);
    return 0;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)suggested;
    struct uconn *c = h->data;
    struct upstream_worker *uw = c->uw;
    if (uw->rbuf_busy) {
        b->base = NULL;
        b->len = 0;
        return;
    }
    uw->rbuf_busy = true;
    b->base = uw->rbuf;
    b->len = sizeof(uw->rbuf);
}

static void tunnel_data(struct uconn *c, const char *data, size_t len)
{
    struct upstream_req *r = c->req;
    if (r && len && r->cbs->on_body(r->ctx, data, len) != 0)
        req_finish_error(r, EXCHANGE_E_CLIENT_GONE, "tunnel peer gone");
}

static void tunnel_eof(struct uconn *c)
{
    struct upstream_req *r = c->req;
    if (!r) {
        conn_close(c);
        return;
    }
    const struct upstream_cbs *cbs = r->cbs;
    void *ctx = r->ctx;
    req_detach(r, false);
    req_free(r);
    cbs->on_complete(ctx);
}

static void handle_bytes(struct uconn *c, const char *data, size_t len)
{
    size_t off = 0;
    struct upstream_req *r0 = c->req;
    while (c->req && c->req == r0 && off < len) {
        if (c->tunnel && http_reader_upgraded(&c->reader)) {
            tunnel_data(c, data + off, len - off);
            return;
        }
        if (!c->req->pool->shadow && !c->tunnel)
            arm_timer(c, on_timeout, c->req->pool->timeout_ns);
        ssize_t n = http_reader_feed(&c->reader, data + off, len - off);
        if (n < 0) {
            if (c->req) {
                host_result(c->uw, c->req->pool, c->host_id, false);
                req_finish_error(c->req, EXCHANGE_E_BAD_RESPONSE, http_reader_strerror((int)n));
            } else
                conn_close(c);
            return;
        }
        off += (size_t)n;
        if (c->state != UCONN_BUSY || c->req != r0)
            break; /* completed: detached (idle, closed or already reused) */
        if (n == 0 && !http_reader_upgraded(&c->reader))
            break;
    }
    if (off < len && c->req != r0 && c->state != UCONN_CLOSING) {
        /* bytes nobody asked for: the connection is not reusable */
        if (c->req)
            req_fail(c->req, EXCHANGE_E_BAD_RESPONSE, "unexpected bytes after a response");
        else
            conn_close(c);
    }
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct uconn *c = s->data;
    struct upstream_worker *uw = c->uw;
    if (b->base == uw->rbuf)
        uw->rbuf_busy = false;
    if (nread == 0 || c->state == UCONN_CLOSING)
        return;
    if (nread == UV_ENOBUFS)
        return;
    if (c->state == UCONN_IDLE) {
        conn_close(c); /* the server closed or sent bytes while idle */
        return;
    }
    if (nread > 0) {
        c->got_bytes = true;
        uw->rbuf_busy = true; /* nested reads (callbacks writing) must not reuse rbuf */
        handle_bytes(c, b->base, (size_t)nread);
        uw->rbuf_busy = false;
        return;
    }
    struct upstream_req *r = c->req;
    if (!r) {
        conn_close(c);
        return;
    }
    if (c->tunnel && http_reader_upgraded(&c->reader)) {
        tunnel_eof(c);
        return;
    }
    if (nread == UV_EOF && http_reader_in_message(&c->reader)) {
        c->keep_alive = false;
        if (http_reader_feed(&c->reader, NULL, 0) >= 0)
            return; /* a body delimited by the close completed */
    }
    if (!c->got_bytes) {
        req_fail(r, EXCHANGE_E_RESET,
                 nread == UV_EOF ? "upstream closed the connection" : uv_strerror((int)nread));
        return;
    }
    host_result(uw, r->pool, c->host_id, false);
    req_finish_error(r, EXCHANGE_E_RESET, "upstream closed the connection mid-response");
}

/* ---- worker -------------------------------------------------------------------------- */

struct upstream_worker *upstream_worker_new(uv_loop_t *loop)
{
    struct upstream_worker *uw = xcalloc(1, sizeof(*uw));
    uw->loop = loop;
    list_init(&uw->conns);
    return uw;
}

void upstream_worker_close(struct upstream_worker *uw)
{
    if (!uw)
        return;
    uw->closing = true;
    for (size_t i = 0; i < uw->nhosts; i++) {
        struct list *n;
        while ((n = list_pop_head(&uw->hosts[i].waiters)) != NULL) {
            struct upstream_req *r = list_entry(n, struct upstream_req, wait_link);
            r->waiting = false;
            req_finish_error(r, EXCHANGE_E_OTHER, "gateway shutting down");
        }
    }
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &uw->conns)
    {
        struct uconn *c = list_entry(pos, struct uconn, all);
        if (c->req)
            req_finish_error(c->req, EXCHANGE_E_OTHER, "gateway shutting down");
        else
            conn_close(c);
    }
    if (uw->open_handles == 0) {
        free(uw->hosts);
        for (size_t i = 0; i < uw->npools; i++)
            free(uw->pools[i].cw);
        free(uw->pools);
        free(uw);
    }
}
