/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replay: the open-loop replayer on one libuv loop (see replay.h for the method).
 *
 * Flow. `tick` fires at the next scheduled time (libuv timers have 1 ms resolution, so a
 * request is sent up to ~1 ms after its time; the send lag histogram shows it) and
 * dispatches every request that is due while a connection is free: to an idle keep-alive
 * connection, else to a new connection while fewer than `connections` are open. When all
 * are busy, due requests stay in the source, and each connection that frees up takes the
 * next one: its scheduled time is fixed by the schedule, not by when it is taken, so the
 * wait counts in its latency (no coordinated omission) while memory stays one request per
 * connection however far behind the target falls. A request that could not be sent within
 * --timeout of its scheduled time is dropped and counted as `overflow` (without being
 * built, when it is overdue already as it leaves the source). Only the next
 * request (`next`) is built ahead (rewrite), because what a source yields is borrowed.
 *
 * Connection states:
 *
 *   CONNECTING --connected--> BUSY --response complete, keep-alive--> IDLE --request--> BUSY
 *        |                      |                                      |
 *        +--fail/timeout--------+--error, timeout, close---------------+--peer close--> CLOSING
 *
 * Invariants: BUSY and CONNECTING hold exactly one request (`req`), IDLE none and sits in
 * `idle`; CLOSING is freed in the close callback of its last handle. A request is freed
 * exactly once: when its response completes or when it is counted as an error.
 *
 * The run ends when the source is done (end, --duration, --max-requests, SIGINT) and
 * nothing is in flight; or at the drain deadline (one timeout after the source is done),
 * where whatever is still in flight counts as timed out.
 */
#include "replay/replay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/list.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "http/reader.h"
#include "net/stream.h"

#define REPLAY_REQ_MAX (64u << 20)
#define REPLAY_HEAD_MAX (64u << 10)

struct rreq {
    uint64_t sched_ns;
    bool head_method;        /* a response to HEAD has no body */
    struct buf bytes;        /* released once written */
    struct replay_req *copy; /* owned, with --record only: the request as the source gave it */
};

enum rconn_state { RCONN_CONNECTING = 1, RCONN_BUSY, RCONN_IDLE, RCONN_CLOSING };

struct rconn {
    struct list node; /* in replay.idle while IDLE */
    struct list all;  /* in replay.conns until freed */
    struct replay *rp;
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_timer_t timer; /* connect and response timeout */
    struct http_reader reader;
    struct rreq *req; /* owned while CONNECTING or BUSY */
    enum rconn_state state;
    int handles; /* open libuv handles */
    int status;
    bool keep_alive, complete;
    struct http_head head; /* --record: the response head, owned while have_head */
    struct buf body;       /* --record: its first REPLAY_RECORD_BODY_MAX bytes */
    bool have_head, body_truncated;
};

struct replay {
    const struct replay_opts *o;
    struct replay_source *src; /* borrowed */
    struct replay_stats *st;   /* borrowed */
    struct replay_sched sched;
    uv_loop_t loop;
    uv_timer_t tick, progress, drain;
    uv_signal_t sigint;
    uint64_t t0, wall0;
    struct rreq *next; /* built, due at next->sched_ns */
    bool src_done, finished, drain_armed;
    uint64_t pass_kept; /* requests kept in the current pass (an all-filtered --loop ends) */
    uint64_t index;     /* requests kept so far, all threads' (for stride and max_requests) */
    struct list idle, conns;
    uint64_t busy;
    unsigned nconns;
    int rc;
    struct err *err;
    char rbuf[64 * 1024];
};

static void dispatch(struct replay *rp, struct rreq *r);
static void count_error(struct replay *rp, enum replay_error e);
static struct rreq *take_due(struct replay *rp);
static void rearm(struct replay *rp);
static void arm_drain(struct replay *rp);
static void tick_cb(uv_timer_t *t);
static void maybe_finish(struct replay *rp);
static void conn_close(struct rconn *c);

/* Time since the schedule's start; 0 before it (threads share a start slightly ahead). */
static uint64_t now_ns(const struct replay *rp)
{
    uint64_t now = uv_hrtime();
    return now > rp->t0 ? now - rp->t0 : 0;
}

static void rreq_free(struct rreq *r)
{
    if (!r)
        return;
    buf_release(&r->bytes);
    free(r->copy);
    free(r);
}

/* A deep copy of q in one allocation: the struct, the header array, then the bytes. */
static struct replay_req *req_copy(const struct replay_req *q)
{
    size_t n = sizeof(*q) + q->nheaders * sizeof(struct http_header) + q->method_len +
               q->target_len + q->body_len + 1;
    for (size_t i = 0; i < q->nheaders; i++)
        n += q->headers[i].name_len + q->headers[i].value_len;
    struct replay_req *c = xmalloc(n);
    struct http_header *h = (struct http_header *)(c + 1);
    char *p = (char *)(h + q->nheaders);
#define COPY(dst, src, len) (memcpy(p, src, len), dst = p, p += len)
    *c = *q;
    COPY(c->method, q->method, q->method_len);
    COPY(c->target, q->target, q->target_len);
    for (size_t i = 0; i < q->nheaders; i++) {
        h[i] = q->headers[i];
        COPY(h[i].name, q->headers[i].name, q->headers[i].name_len);
        COPY(h[i].value, q->headers[i].value, q->headers[i].value_len);
    }
    if (q->body_len)
        COPY(c->body, q->body, q->body_len);
#undef COPY
    c->headers = h;
    return c;
}

/* ---- requests from the source ---------------------------------------------------------- */

static struct rreq *build(struct replay *rp, const struct replay_req *q, uint64_t sched_ns)
{
    struct rreq *r = xcalloc(1, sizeof(*r));
    r->sched_ns = sched_ns;
    r->head_method = str_ieqz(q->method, q->method_len, "HEAD");
    buf_init(&r->bytes, REPLAY_REQ_MAX);
    if (rp->o->record)
        r->copy = req_copy(q);
    int rc = replay_rewrite_build(&rp->o->rewrite, q, &r->bytes);
    if (rc) {
        rp->rc = err_set(rp->err, rc, "request %llu: %s", (unsigned long long)rp->st->scheduled,
                         rc == -ENOSPC ? "larger than 64 MiB" : "a header to add is malformed");
        rreq_free(r);
        return NULL;
    }
    return r;
}

/* 1: q holds the next request to send, 0: the source is done, < 0: failed. */
static int pull(struct replay *rp, struct replay_req *q)
{
    bool rewound = false;
    for (;;) {
        int rc = replay_source_next(rp->src, q);
        if (rc < 0)
            return err_set(rp->err, rc, "%s", rp->src->errmsg[0] ? rp->src->errmsg : "read");
        if (rc == 0) {
            if (!rp->o->loop || (rewound && rp->pass_kept == 0))
                return 0; /* a whole pass kept nothing: looping would spin */
            rc = replay_source_rewind(rp->src);
            if (rc < 0)
                return err_set(rp->err, rc, "--loop: %s",
                               rp->src->errmsg[0] ? rp->src->errmsg : "the source cannot rewind");
            replay_sched_wrap(&rp->sched);
            rp->pass_kept = 0;
            rewound = true;
            continue;
        }
        if (replay_filter_match(&rp->o->filter, q)) {
            rp->pass_kept++;
            return 1;
        }
        rp->st->filtered++;
    }
}

/* Builds rp->next, or marks the source done. */
static void fetch(struct replay *rp)
{
    struct replay_req q;
    const struct replay_opts *o = rp->o;
    rp->next = NULL;
    for (;;) {
        if (rp->src_done)
            return;
        if (o->stride < 2 && o->max_requests && rp->st->scheduled >= o->max_requests) {
            rp->src_done = true;
            return;
        }
        uint64_t t;
        for (;;) {
            int rc = pull(rp, &q);
            t = rc == 1 ? replay_sched_next(&rp->sched, q.at_ns) : REPLAY_SCHED_END;
            if (rc < 0)
                rp->rc = rc;
            if (t == REPLAY_SCHED_END || (o->duration_ns && t >= o->duration_ns) ||
                (o->max_requests && rp->index >= o->max_requests)) {
                rp->src_done = true;
                return;
            }
            if (o->stride < 2 || rp->index++ % o->stride == o->offset)
                break; /* another thread's request otherwise */
        }
        rp->st->scheduled++;
        rp->st->last_sched_ns = t;
        uint64_t now = now_ns(rp);
        if (now > t && now - t > o->timeout_ns) { /* overdue already: not worth building */
            count_error(rp, REPLAY_E_OVERFLOW);
            continue;
        }
        rp->next = build(rp, &q, t);
        if (!rp->next)
            rp->src_done = true;
        return;
    }
}

/* ---- results --------------------------------------------------------------------------- */

static void count_error(struct replay *rp, enum replay_error e)
{
    rp->st->errors[e]++;
}

static void resp_reset(struct rconn *c)
{
    if (c->have_head)
        http_head_release(&c->head);
    c->have_head = c->body_truncated = false;
    buf_reset(&c->body);
}

/* --record: hands the finished exchange to the callback. */
static void record(struct rconn *c, int error)
{
    struct replay *rp = c->rp;
    uint64_t now = now_ns(rp);
    struct replay_exchange x = {
        .req = c->req->copy,
        .sched_wall_ns = rp->wall0 + c->req->sched_ns,
        .latency_ns = now > c->req->sched_ns ? now - c->req->sched_ns : 0,
        .error = error,
        .head = c->have_head && error < 0 ? &c->head : NULL,
        .body = c->body.data,
        .body_len = c->body.len,
        .body_truncated = c->body_truncated,
    };
    if (c->req->copy)
        rp->o->record(rp->o->record_ctx, &x);
    resp_reset(c);
}

/* The connection's request ends with error e. */
static void req_fail(struct rconn *c, enum replay_error e)
{
    if (!c->req)
        return;
    if (c->rp->o->record)
        record(c, (int)e);
    count_error(c->rp, e);
    rreq_free(c->req);
    c->req = NULL;
    c->rp->busy--;
}

static void req_done(struct rconn *c)
{
    struct replay *rp = c->rp;
    uint64_t now = now_ns(rp);
    hist_record(&rp->st->latency, now > c->req->sched_ns ? now - c->req->sched_ns : 0);
    rp->st->responses++;
    rp->st->status[c->status >= 100 && c->status < 600 ? c->status / 100 : 0]++;
    if (rp->o->record)
        record(c, -1);
    rreq_free(c->req);
    c->req = NULL;
    rp->busy--;
}

/* ---- connections ----------------------------------------------------------------------- */

static void conn_closed_cb(uv_handle_t *h)
{
    struct rconn *c = h->data;
    if (--c->handles > 0)
        return;
    struct replay *rp = c->rp;
    list_remove(&c->all);
    http_reader_release(&c->reader);
    resp_reset(c);
    buf_release(&c->body);
    free(c);
    rp->nconns--;
    struct rreq *r = take_due(rp);
    if (r) /* a freed slot serves the next due request */
        dispatch(rp, r);
    rearm(rp);
    maybe_finish(rp);
}

static void conn_close(struct rconn *c)
{
    if (c->state == RCONN_CLOSING)
        return;
    req_fail(c, c->state == RCONN_CONNECTING ? REPLAY_E_CONNECT : REPLAY_E_RESET);
    if (c->state == RCONN_IDLE)
        list_remove(&c->node);
    c->state = RCONN_CLOSING;
    uv_close((uv_handle_t *)&c->tcp, conn_closed_cb);
    uv_close((uv_handle_t *)&c->timer, conn_closed_cb);
}

static void timeout_cb(uv_timer_t *t)
{
    struct rconn *c = t->data;
    req_fail(c, c->state == RCONN_CONNECTING ? REPLAY_E_CONNECT : REPLAY_E_TIMEOUT);
    conn_close(c);
}

static void arm_timeout(struct rconn *c)
{
    uint64_t ms = (c->rp->o->timeout_ns + CLOCK_NS_PER_MS - 1) / CLOCK_NS_PER_MS;
    uv_timer_start(&c->timer, timeout_cb, ms ? ms : 1, 0);
}

static void write_cb(void *ctx, int status)
{
    struct rconn *c = ctx;
    if (status < 0 && status != UV_ECANCELED && c->state == RCONN_BUSY) {
        req_fail(c, REPLAY_E_RESET);
        conn_close(c);
    }
}

static void conn_write(struct rconn *c)
{
    struct replay *rp = c->rp;
    struct rreq *r = c->req;
    uint64_t now = now_ns(rp);
    hist_record(&rp->st->send_lag, now > r->sched_ns ? now - r->sched_ns : 0);
    if (rp->st->sent++ == 0)
        rp->st->first_send_ns = now;
    rp->st->last_send_ns = now;
    c->state = RCONN_BUSY;
    c->keep_alive = true;
    c->complete = false;
    c->status = 0;
    arm_timeout(c);
    int rc = net_write((uv_stream_t *)&c->tcp, r->bytes.data, r->bytes.len, write_cb, c);
    buf_release(&r->bytes); /* net_write copied whatever it queued */
    if (rc < 0)
        conn_close(c);
}

/* A connection with nothing to do takes the next due request or goes idle. */
static void conn_ready(struct rconn *c)
{
    struct replay *rp = c->rp;
    struct rreq *r = take_due(rp);
    if (r) {
        c->req = r;
        rp->busy++;
        conn_write(c);
        rearm(rp);
        return;
    }
    uv_timer_stop(&c->timer);
    c->state = RCONN_IDLE;
    list_insert_tail(&rp->idle, &c->node);
    rearm(rp);
    maybe_finish(rp);
}

static int on_head(void *ctx, struct http_head *h)
{
    struct rconn *c = ctx;
    c->status = h->status;
    c->keep_alive = (h->flags & HTTP_HEAD_KEEP_ALIVE) != 0;
    if (c->rp->o->record && h->status >= 200) {
        resp_reset(c);
        c->head = *h; /* taken over */
        c->have_head = true;
    } else {
        http_head_release(h);
    }
    return c->req && c->req->head_method ? HTTP_READER_SKIP_BODY : 0;
}

static int on_body(void *ctx, const char *data, size_t len)
{
    struct rconn *c = ctx;
    if (!c->rp->o->record || c->body_truncated)
        return 0;
    size_t room = REPLAY_RECORD_BODY_MAX - c->body.len;
    if (len > room)
        c->body_truncated = true;
    buf_append(&c->body, data, len < room ? len : room);
    return 0;
}

static int on_complete(void *ctx)
{
    struct rconn *c = ctx;
    if (c->status >= 100 && c->status < 200)
        return 0; /* an interim response: the final one follows */
    c->complete = true;
    return 0;
}

static const struct http_reader_cbs reader_cbs = {on_head, on_body, on_complete};

static void conn_bytes(struct rconn *c, const char *data, size_t len)
{
    size_t off = 0;
    while (off < len && !c->complete) {
        if (http_reader_paused(&c->reader))
            http_reader_resume(&c->reader);
        ssize_t n = http_reader_feed(&c->reader, data + off, len - off);
        if (n < 0) {
            req_fail(c, REPLAY_E_BAD_RESPONSE);
            conn_close(c);
            return;
        }
        if (n == 0 && !c->complete)
            break;
        off += (size_t)n;
    }
    if (!c->complete)
        return;
    req_done(c);
    if (off < len || !c->keep_alive)
        conn_close(c); /* bytes nobody asked for, or the server's close */
    else
        conn_ready(c);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    struct rconn *c = h->data;
    (void)hint;
    *b = uv_buf_init(c->rp->rbuf, sizeof(c->rp->rbuf));
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct rconn *c = s->data;
    if (nread == 0 || c->state == RCONN_CLOSING)
        return;
    if (c->state != RCONN_BUSY) {
        conn_close(c); /* the server closed (or spoke) while idle */
        return;
    }
    if (nread > 0) {
        conn_bytes(c, b->base, (size_t)nread);
        return;
    }
    if (nread == UV_EOF && http_reader_in_message(&c->reader)) {
        c->keep_alive = false;
        if (http_reader_feed(&c->reader, NULL, 0) >= 0 && c->complete) {
            req_done(c); /* a body delimited by the close */
            conn_close(c);
            return;
        }
    }
    req_fail(c, REPLAY_E_RESET);
    conn_close(c);
}

static void connect_cb(uv_connect_t *req, int status)
{
    struct rconn *c = req->data;
    if (status == UV_ECANCELED || c->state == RCONN_CLOSING)
        return;
    if (status < 0) {
        conn_close(c); /* counts the request as a connect error */
        return;
    }
    net_tune_tcp(&c->tcp);
    if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) != 0) {
        conn_close(c);
        return;
    }
    conn_write(c);
}

static void conn_open(struct replay *rp, struct rreq *r)
{
    struct rconn *c = xcalloc(1, sizeof(*c));
    c->rp = rp;
    c->req = r;
    c->state = RCONN_CONNECTING;
    list_init(&c->node);
    list_insert_tail(&rp->conns, &c->all);
    http_reader_init(&c->reader, HTTP_READER_RESPONSE, REPLAY_HEAD_MAX, &reader_cbs, c);
    buf_init(&c->body, REPLAY_RECORD_BODY_MAX);
    uv_tcp_init(&rp->loop, &c->tcp);
    uv_timer_init(&rp->loop, &c->timer);
    c->tcp.data = c->timer.data = c->creq.data = c;
    c->handles = 2;
    rp->nconns++;
    rp->busy++;
    rp->st->conns_opened++;
    arm_timeout(c);
    if (uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&rp->o->addr, connect_cb))
        conn_close(c);
}

/* ---- the schedule ---------------------------------------------------------------------- */

static bool slot_free(const struct replay *rp)
{
    return !list_empty(&rp->idle) || rp->nconns < rp->o->connections;
}

/* Gives r to an idle connection, else to a new one (the caller saw a free slot). */
static void dispatch(struct replay *rp, struct rreq *r)
{
    struct list *n = list_pop_head(&rp->idle);
    if (n) {
        struct rconn *c = list_entry(n, struct rconn, node);
        c->req = r;
        rp->busy++;
        conn_write(c);
        return;
    }
    BUG_ON(rp->nconns >= rp->o->connections);
    conn_open(rp, r);
}

/* The next request that is due now, taken from the source (the one after it is built), or
 * NULL. Requests due longer than --timeout ago are dropped on the way, counted as
 * overflow: every connection was busy for that long. */
static struct rreq *take_due(struct replay *rp)
{
    uint64_t now = now_ns(rp);
    while (rp->next && rp->next->sched_ns <= now) {
        struct rreq *r = rp->next;
        fetch(rp);
        if (now - r->sched_ns <= rp->o->timeout_ns)
            return r;
        count_error(rp, REPLAY_E_OVERFLOW);
        rreq_free(r);
    }
    return NULL;
}

/* After a connection took (or did not take) a request: the tick waits for the next one
 * if it is not due yet; a finished source starts the drain deadline. */
static void rearm(struct replay *rp)
{
    if (rp->finished)
        return;
    if (!rp->next) {
        if (rp->src_done)
            arm_drain(rp);
        return;
    }
    uint64_t now = now_ns(rp);
    if (rp->next->sched_ns > now && !uv_is_active((uv_handle_t *)&rp->tick)) {
        uv_update_time(&rp->loop);
        uv_timer_start(&rp->tick, tick_cb,
                       (rp->next->sched_ns - now + CLOCK_NS_PER_MS - 1) / CLOCK_NS_PER_MS, 0);
    }
}

static void drain_cb(uv_timer_t *t)
{
    struct replay *rp = t->data;
    struct list *n, *tmp;
    list_for_each_safe(n, tmp, &rp->conns)
    {
        struct rconn *c = list_entry(n, struct rconn, all);
        if (c->state == RCONN_CLOSING)
            continue;
        req_fail(c, c->state == RCONN_CONNECTING ? REPLAY_E_CONNECT : REPLAY_E_TIMEOUT);
        conn_close(c);
    }
    maybe_finish(rp);
}

static void arm_drain(struct replay *rp)
{
    if (rp->drain_armed)
        return;
    rp->drain_armed = true;
    uint64_t ms = rp->o->timeout_ns / CLOCK_NS_PER_MS + 50;
    uv_timer_start(&rp->drain, drain_cb, ms, 0);
}

static void tick_cb(uv_timer_t *t)
{
    struct replay *rp = t->data;
    uint64_t hr = uv_hrtime(), now = now_ns(rp);
    if (hr < rp->t0) { /* a timer rounded early: not started yet */
        uv_timer_start(&rp->tick, tick_cb, (rp->t0 - hr + CLOCK_NS_PER_MS - 1) / CLOCK_NS_PER_MS,
                       0);
        return;
    }
    while (slot_free(rp)) {
        struct rreq *r = take_due(rp);
        if (!r)
            break;
        dispatch(rp, r);
    }
    if (rp->next && rp->next->sched_ns <= now)
        return; /* due, every connection busy: the next one to free up takes it */
    if (rp->next) {
        uint64_t ms = (rp->next->sched_ns - now + CLOCK_NS_PER_MS - 1) / CLOCK_NS_PER_MS;
        uv_update_time(&rp->loop);
        uv_timer_start(&rp->tick, tick_cb, ms, 0);
        return;
    }
    arm_drain(rp);
    maybe_finish(rp);
}

static void progress_cb(uv_timer_t *t)
{
    struct replay *rp = t->data;
    rp->o->progress(rp->o->progress_ctx, rp->st, now_ns(rp));
}

static void sigint_cb(uv_signal_t *s, int signum)
{
    struct replay *rp = s->data;
    (void)signum;
    if (rp->st->interrupted) {
        drain_cb(&rp->drain); /* a second ^C: stop waiting */
        return;
    }
    rp->st->interrupted = true;
    rp->src_done = true;
    rreq_free(rp->next);
    rp->next = NULL;
    uv_timer_stop(&rp->tick);
    arm_drain(rp);
    maybe_finish(rp);
}

static void maybe_finish(struct replay *rp)
{
    if (rp->finished || rp->next || !rp->src_done || rp->busy)
        return;
    rp->finished = true;
    rp->st->elapsed_ns = now_ns(rp);
    struct list *n, *tmp;
    list_for_each_safe(n, tmp, &rp->conns) conn_close(list_entry(n, struct rconn, all));
    uv_close((uv_handle_t *)&rp->tick, NULL);
    uv_close((uv_handle_t *)&rp->progress, NULL);
    uv_close((uv_handle_t *)&rp->drain, NULL);
    uv_close((uv_handle_t *)&rp->sigint, NULL);
}

/* ---- the run --------------------------------------------------------------------------- */

void replay_opts_init(struct replay_opts *o)
{
    memset(o, 0, sizeof(*o));
    replay_sched_init_speed(&o->sched, 1.0);
    o->connections = 64;
    o->timeout_ns = 10 * CLOCK_NS_PER_S;
}

static void start(struct replay *rp)
{
    uv_timer_init(&rp->loop, &rp->tick);
    uv_timer_init(&rp->loop, &rp->progress);
    uv_timer_init(&rp->loop, &rp->drain);
    uv_signal_init(&rp->loop, &rp->sigint);
    rp->tick.data = rp->progress.data = rp->drain.data = rp->sigint.data = rp;
    uv_signal_start(&rp->sigint, sigint_cb, SIGINT);
    if (rp->o->progress && rp->o->progress_ns) {
        uint64_t ms = rp->o->progress_ns / CLOCK_NS_PER_MS;
        uv_timer_start(&rp->progress, progress_cb, ms ? ms : 1, ms ? ms : 1);
    }
    uv_update_time(&rp->loop);
    uint64_t now = uv_hrtime();
    rp->t0 = rp->o->start_hrtime > now ? rp->o->start_hrtime : now;
    rp->wall0 = clock_wall_ns() + (rp->t0 - now);
    fetch(rp);
    uv_timer_start(&rp->tick, tick_cb, (rp->t0 - now + CLOCK_NS_PER_MS - 1) / CLOCK_NS_PER_MS, 0);
}

int replay_run(const struct replay_opts *o, struct replay_source *src, struct replay_stats *st,
               struct err *err)
{
    struct replay *rp = xcalloc(1, sizeof(*rp));
    memset(st, 0, sizeof(*st));
    hist_init(&st->latency);
    hist_init(&st->send_lag);
    rp->o = o, rp->src = src, rp->st = st, rp->err = err, rp->sched = o->sched;
    list_init(&rp->idle);
    list_init(&rp->conns);
    int rc = uv_loop_init(&rp->loop);
    if (rc) {
        err_set(err, rc, "replay: event loop: %s", uv_strerror(rc));
        goto out;
    }
    start(rp);
    uv_run(&rp->loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(&rp->loop);
    BUG_ON(rc != 0);
    rc = rp->rc;
out:
    free(rp);
    return rc;
}

/* ---- threads --------------------------------------------------------------------------- */

struct replay_thread {
    struct replay_opts o;
    struct replay_source *src; /* borrowed */
    struct replay_stats *st;   /* owned */
    struct err err;
    int rc;
    uv_thread_t tid;
};

static void thread_main(void *arg)
{
    struct replay_thread *t = arg;
    t->rc = replay_run(&t->o, t->src, t->st, &t->err);
}

static void stats_merge(struct replay_stats *dst, const struct replay_stats *s)
{
    bool first = dst->sent == 0;
    hist_merge(&dst->latency, &s->latency);
    hist_merge(&dst->send_lag, &s->send_lag);
    dst->scheduled += s->scheduled;
    dst->filtered += s->filtered;
    dst->responses += s->responses;
    for (int i = 0; i < 6; i++)
        dst->status[i] += s->status[i];
    for (int i = 0; i < REPLAY_E_COUNT; i++)
        dst->errors[i] += s->errors[i];
    dst->conns_opened += s->conns_opened;
    if (s->sent && (first || s->first_send_ns < dst->first_send_ns))
        dst->first_send_ns = s->first_send_ns;
    dst->sent += s->sent;
#define MAX_INTO(f) (dst->f = s->f > dst->f ? s->f : dst->f)
    MAX_INTO(elapsed_ns);
    MAX_INTO(last_sched_ns);
    MAX_INTO(last_send_ns);
#undef MAX_INTO
    dst->interrupted = dst->interrupted || s->interrupted;
}

int replay_run_threads(const struct replay_opts *o, struct replay_source *const *srcs, unsigned n,
                       struct replay_stats *st, struct err *err)
{
    if (n <= 1)
        return replay_run(o, srcs[0], st, err);
    BUG_ON(n > REPLAY_MAX_THREADS || o->record);
    struct replay_thread *t = xcalloc(n, sizeof(*t));
    uint64_t start = uv_hrtime() + 20 * CLOCK_NS_PER_MS; /* every thread's loop is up by then */
    int rc = 0;
    for (unsigned i = 0; i < n; i++) {
        t[i].o = *o;
        t[i].o.stride = n, t[i].o.offset = i, t[i].o.start_hrtime = start;
        t[i].o.connections = (o->connections + n - 1) / n;
        if (i > 0)
            t[i].o.progress = NULL;
        t[i].src = srcs[i];
        t[i].st = xmalloc(sizeof(*t[i].st));
        int trc = uv_thread_create(&t[i].tid, thread_main, &t[i]);
        BUG_ON(trc != 0);
    }
    memset(st, 0, sizeof(*st));
    hist_init(&st->latency);
    hist_init(&st->send_lag);
    for (unsigned i = 0; i < n; i++) {
        uv_thread_join(&t[i].tid);
        stats_merge(st, t[i].st);
        if (t[i].rc && !rc) {
            rc = t[i].rc;
            *err = t[i].err;
        }
        free(t[i].st);
    }
    free(t);
    return rc;
}

/* ---- derived figures ------------------------------------------------------------------- */

uint64_t replay_stats_errors(const struct replay_stats *st)
{
    uint64_t n = 0;
    for (int i = 0; i < REPLAY_E_COUNT; i++)
        n += st->errors[i];
    return n;
}

double replay_stats_asked_rps(const struct replay_stats *st)
{
    if (st->scheduled < 2 || st->last_sched_ns == 0)
        return 0;
    return (double)(st->scheduled - 1) * 1e9 / (double)st->last_sched_ns;
}

double replay_stats_achieved_rps(const struct replay_stats *st)
{
    uint64_t span = st->last_send_ns - st->first_send_ns;
    if (st->sent < 2 || span == 0)
        return 0;
    return (double)(st->sent - 1) * 1e9 / (double)span;
}

const char *replay_error_name(enum replay_error e)
{
    static const char *const names[REPLAY_E_COUNT] = {"connect", "timeout", "reset", "bad_response",
                                                      "overflow"};
    return e >= 0 && e < REPLAY_E_COUNT ? names[e] : "unknown";
}
