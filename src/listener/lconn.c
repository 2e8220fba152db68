/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lconn: a client connection's state machine.
 *
 *            bytes arrive                 request complete            response complete
 *   IDLE ───────────────▶ READING ─────────────────────▶ WAITING ──────────────────────▶ IDLE
 *    │  keepalive_timeout    │ client_timeout: 408         │ 101 from primary              (or
 * close: ▼                       │ limits: 413 / 431 / 400      ▼ Connection: closed ▼ TUNNEL ──
 * either side closes ─▶ close, error) closed
 *
 * READING: a request's head or body is arriving; the body streams to the primary as it
 * comes (read stops while the primary's write queue is over HIGH_WATER). WAITING: the
 * request is complete; the response streams back (the primary's read stops while the
 * client's write queue is over HIGH_WATER). Bytes of a pipelined next request stay in `in`
 * until the current response is complete, so responses go out in request order. The
 * primary's response may also start (and finish) while READING: then the connection closes
 * after it. Invariants: `ex` is set from the request's head until the exchange is finished;
 * `ureq` is set while the primary request is in flight; a closing connection does nothing
 * but wait for its handles' close callbacks.
 */
#include "listener/lconn.h"

#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "http/writer.h"
#include "net/addr.h"
#include "net/stream.h"
#include "observer/metrics.h"

#define HIGH_WATER (1024 * 1024)
#define IN_MAX (256 * 1024)
#define LINGER_MS 2000

enum lconn_state { LC_IDLE = 1, LC_READING, LC_WAITING, LC_TUNNEL, LC_CLOSING };

struct lconn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shut;
    struct listener_worker *w;
    struct lsock *ls;
    struct list link;
    enum lconn_state state;
    struct http_reader reader;
    struct buf in;       /* bytes received but not parsed yet (pipelined, or while throttled) */
    struct buf head_out; /* the response head, held back to go out with the first body bytes
                            (one system call instead of two); empty once sent */
    struct exchange *ex;
    struct upstream_req *ureq;
    struct rt_limits limits; /* of the service, from the table current at accept / request */
    uint64_t body_in;
    bool req_done, resp_started, resp_chunked, resp_no_body, req_chunked;
    bool close_after, mirror, reading, throttled, eof;
    bool answered;   /* the gateway answered a bodyless request itself; finish after it */
    bool lingering;  /* closed, but reading and dropping what the client still sends */
    bool linger;     /* the gateway answered before the request's end: linger on close */
    bool fault_wait; /* a latency fault on the primary path holds the request back */
    struct buf held; /* request body bytes read while it is held back */
    char client_ip[48];
    int handles;
};

static void conn_close(struct lconn *c);
static void conn_pump(struct lconn *c);
static void timer_cb(uv_timer_t *t);
static int forward_primary(struct lconn *c);
static int primary_fault(struct lconn *c, const struct mirror_primary_fault *pf);

/* ---- small helpers ------------------------------------------------------------------- */

static const struct rt_service *service_of(struct lconn *c, struct route_table *t)
{
    for (size_t i = 0; i < t->nservices; i++)
        if (t->services[i].service_id == c->ls->service_id)
            return &t->services[i];
    return NULL;
}

static void arm(struct lconn *c, uint64_t ns)
{
    uint64_t ms = ns / 1000000ULL;
    uv_timer_start(&c->timer, timer_cb, ms ? ms : 1, 0);
}

static void on_client_written(void *ctx, int status)
{
    struct lconn *c = ctx;
    if (status < 0 || c->state == LC_CLOSING)
        return;
    if (c->tcp.write_queue_size < HIGH_WATER / 2 && c->ureq)
        upstream_req_resume(c->ureq);
}

static int send_bytes(struct lconn *c, const void *a, size_t alen, const void *b, size_t blen)
{
    int rc = net_write2((uv_stream_t *)&c->tcp, a, alen, b, blen, on_client_written, c);
    if (rc < 0)
        return rc;
    if (c->ex)
        c->ex->bytes_out += alen + blen;
    if (c->tcp.write_queue_size > HIGH_WATER && c->ureq)
        upstream_req_pause(c->ureq);
    return 0;
}

/* Sends the held response head (if any) and body bytes framed as the response needs (a
 * chunk head and trailer when chunked; the last chunk when last), in one system call. */
static int send_response(struct lconn *c, const char *data, size_t len, bool last)
{
    uv_buf_t iov[5];
    unsigned n = 0;
    char chunk[24];
    if (c->head_out.len)
        iov[n++] = uv_buf_init(c->head_out.data, (unsigned)c->head_out.len);
    if (len) {
        if (c->resp_chunked)
            iov[n++] = uv_buf_init(chunk, (unsigned)snprintf(chunk, sizeof(chunk), "%zx\r\n", len));
        iov[n++] = uv_buf_init((char *)data, (unsigned)len);
        if (c->resp_chunked)
            iov[n++] = uv_buf_init("\r\n", 2);
    }
    if (last && c->resp_chunked)
        iov[n++] = uv_buf_init("0\r\n\r\n", 5);
    if (n == 0)
        return 0;
    size_t total = 0;
    for (unsigned i = 0; i < n; i++)
        total += iov[i].len;
    int rc = net_writev((uv_stream_t *)&c->tcp, iov, n, on_client_written, c);
    buf_release(&c->head_out);
    if (rc < 0)
        return rc;
    if (c->ex)
        c->ex->bytes_out += total;
    if (c->tcp.write_queue_size > HIGH_WATER && c->ureq)
        upstream_req_pause(c->ureq);
    return 0;
}

static void start_reading(struct lconn *c);
static void stop_reading(struct lconn *c)
{
    if (c->reading)
        uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
}

/* ---- finishing an exchange ----------------------------------------------------------- */

static void finish_exchange(struct lconn *c)
{
    struct exchange *ex = c->ex;
    if (!ex)
        return;
    c->ex = NULL;
    ex->t_done = clock_mono_ns();
    ex->bytes_in += c->body_in;
    struct metrics_series *s = ex->route->primary_series;
    if (ex->error != EXCHANGE_OK && ex->error != EXCHANGE_E_CLIENT_GONE)
        metrics_upstream_error(s, c->w->idx, metrics_upstream_error_of(ex->error));
    metrics_record(s, c->w->idx, ex->t_done - ex->t_start, ex->status, ex->bytes_in, ex->bytes_out);
    if (ex->on_done)
        ex->on_done(ex, ex->hook_ctx);
    exchange_unref(ex);
}

/* The gateway answers the request itself (errors, limits). */
static void answer(struct lconn *c, int status, const char *message, bool close)
{
    struct buf out;
    buf_init(&out, 4096);
    http_write_simple_response(&out, status, message, close);
    send_bytes(c, out.data, out.len, NULL, 0);
    buf_release(&out);
    metrics_gateway_rejected(c->ls->ms, c->w->idx, status);
    if (c->ex)
        c->ex->status = status;
    c->resp_started = true;
    if (close)
        c->close_after = true;
}

/* After an answer or a response: next request, or close. */
static void response_done(struct lconn *c)
{
    finish_exchange(c);
    c->ureq = NULL;
    c->resp_started = c->resp_chunked = c->resp_no_body = c->req_chunked = c->mirror = false;
    c->body_in = 0;
    c->linger = !c->req_done;
    if (!c->req_done || c->close_after || c->eof || c->w->draining) {
        conn_close(c);
        return;
    }
    c->req_done = false;
    c->state = LC_IDLE;
    arm(c, c->limits.keepalive_timeout_ns);
    http_reader_resume(&c->reader);
    conn_pump(c);
}

/* ---- the primary's response ---------------------------------------------------------- */

static const char *const resp_skip[] = {"content-length", NULL};

static int u_on_head(void *ctx, struct http_head *head)
{
    struct lconn *c = ctx;
    struct exchange *ex = c->ex;
    ex->resp = *head;
    ex->status = head->status;
    ex->t_resp_head = clock_mono_ns();
    bool tunnel = head->status == 101;
    c->resp_no_body = (head->flags & HTTP_HEAD_NO_BODY) ||
                      (ex->req.method_len == 4 && memcmp(ex->req.method, "HEAD", 4) == 0);
    bool has_len = head->flags & HTTP_HEAD_HAS_LENGTH;
    if ((ex->req.flags & HTTP_HEAD_UPGRADE) && !tunnel)
        c->close_after = true; /* what follows the request is not HTTP: say so now */
    struct buf *out_ = &c->head_out, out;
    buf_init(&out, 1 << 20);
    http_write_status_line(&out, head->status, head->reason, head->reason_len);
    http_write_end_to_end(&out, head, resp_skip);
    if (has_len && !(head->flags & HTTP_HEAD_CHUNKED) && head->status != 204 && !tunnel)
        buf_printf(&out, "Content-Length: %llu\r\n", (unsigned long long)head->content_length);
    else if (!c->resp_no_body && !tunnel) {
        if (ex->req.minor >= 1 && ex->req.major == 1) {
            c->resp_chunked = true;
            http_write_headerz(&out, "Transfer-Encoding", "chunked");
        } else {
            c->close_after = true;
        }
    }
    if (tunnel) {
        const struct http_header *u = http_head_find(head, "upgrade");
        http_write_headerz(&out, "Connection", "upgrade");
        if (u)
            http_write_header(&out, "Upgrade", 7, u->value, u->value_len);
    } else if (c->close_after) {
        http_write_headerz(&out, "Connection", "close");
    } else if (ex->req.minor == 0) {
        http_write_headerz(&out, "Connection", "keep-alive");
    }
    http_write_end_head(&out);
    c->resp_started = true;
    buf_release(out_);
    *out_ = out; /* held until the first body bytes, the end, or (tunnel) now */
    if (tunnel && send_response(c, NULL, 0, false) != 0) {
        conn_close(c); /* the client is gone; the primary is not to blame */
        return 0;
    }
    if (tunnel) {
        c->state = LC_TUNNEL;
        uv_timer_stop(&c->timer);
        if (c->in.len) {
            upstream_req_body(c->ureq, c->in.data, c->in.len, NULL, 0);
            buf_reset(&c->in);
        }
        start_reading(c);
    }
    return 0;
}

static int u_on_body(void *ctx, const char *data, size_t len)
{
    struct lconn *c = ctx;
    if (c->state == LC_CLOSING)
        return 0;
    int rc;
    if (c->state == LC_TUNNEL) {
        rc = send_bytes(c, data, len, NULL, 0);
    } else {
        struct exchange *ex = c->ex;
        if (ex->keep_payload && !ex->resp_body_truncated &&
            buf_append(&ex->resp_body, data, len) != 0)
            ex->resp_body_truncated = true;
        rc = send_response(c, data, len, false);
    }
    if (rc != 0)
        conn_close(c); /* the client is gone: stop reading the primary too */
    return 0;
}

static void u_on_complete(void *ctx)
{
    struct lconn *c = ctx;
    c->ureq = NULL;
    if (c->state == LC_TUNNEL) {
        c->close_after = true;
        finish_exchange(c);
        conn_close(c);
        return;
    }
    if (send_response(c, NULL, 0, true) != 0)
        c->close_after = true;
    if (!(c->ex->resp.flags & HTTP_HEAD_KEEP_ALIVE) && c->ex->resp.major == 1 && !c->resp_chunked &&
        !(c->ex->resp.flags & HTTP_HEAD_HAS_LENGTH) && !c->resp_no_body)
        c->close_after = true; /* the body ended with the primary's close */
    if (c->ex->req.flags & HTTP_HEAD_UPGRADE)
        c->close_after = true; /* the parser already treats what follows as a tunnel */
    response_done(c);
}

static void u_on_error(void *ctx, enum exchange_error e, const char *detail)
{
    struct lconn *c = ctx;
    c->ureq = NULL;
    c->ex->error = e;
    if (c->head_out.len) { /* nothing went out yet: the client can still get a 502/504 */
        buf_release(&c->head_out);
        c->resp_started = c->resp_chunked = false;
    }
    if (c->resp_started || c->state == LC_TUNNEL) {
        log_debug("listener", "request %s: primary failed mid-response: %s", c->ex->id_str, detail);
        finish_exchange(c);
        conn_close(c);
        return;
    }
    char msg[256];
    int status = e == EXCHANGE_E_TIMEOUT ? 504 : 502;
    snprintf(msg, sizeof(msg), "doppel: primary %s: %s", exchange_error_name(e), detail);
    answer(c, status, msg, !c->req_done);
    response_done(c);
}

static void u_on_drain(void *ctx)
{
    struct lconn *c = ctx;
    if (c->throttled) {
        c->throttled = false;
        if (c->state != LC_CLOSING) {
            start_reading(c);
            conn_pump(c);
        }
    }
}

static void u_on_retry(void *ctx, enum exchange_error e)
{
    struct lconn *c = ctx;
    if (c->ex)
        metrics_upstream_error(c->ex->route->primary_series, c->w->idx,
                               metrics_upstream_error_of(e));
}

static const struct upstream_cbs primary_cbs = {
    .on_head = u_on_head,
    .on_body = u_on_body,
    .on_complete = u_on_complete,
    .on_error = u_on_error,
    .on_drain = u_on_drain,
    .on_retry = u_on_retry,
};

/* ---- the client's request ------------------------------------------------------------ */

static const char *const req_skip[] = {"expect", "x-forwarded-for", "content-length", NULL};

/* X-Forwarded-For: the client's chain, every field of it in order (a chain split over
 * several header lines is one list, RFC 7230 3.2.2), then the client's address. */
static int write_forwarded_for(struct lconn *c, const struct http_head *h, struct buf *out)
{
    int rc = buf_appends(out, "X-Forwarded-For: ");
    for (size_t i = 0; i < h->nheaders && !rc; i++) {
        const struct http_header *f = &h->headers[i];
        if (str_ieqz(f->name, f->name_len, "x-forwarded-for") && f->value_len)
            rc = buf_printf(out, "%.*s, ", (int)f->value_len, f->value);
    }
    return rc ? rc : buf_printf(out, "%s\r\n", c->client_ip);
}

static int build_upstream_head(struct lconn *c, const struct http_head *h, struct buf *out)
{
    int rc = http_write_request_line(out, h->method, h->method_len, h->target, h->target_len);
    rc = rc ? rc : http_write_end_to_end(out, h, req_skip);
    rc = rc ? rc : write_forwarded_for(c, h, out);
    if (!rc && !http_head_find(h, "x-forwarded-proto"))
        rc = http_write_headerz(out, "X-Forwarded-Proto", "http");
    if (!rc && !http_head_find(h, "x-request-id"))
        rc = http_write_headerz(out, "X-Request-Id", c->ex->id_str);
    if (!rc && (h->flags & HTTP_HEAD_CHUNKED))
        rc = http_write_headerz(out, "Transfer-Encoding", "chunked");
    else if (!rc && (h->flags & HTTP_HEAD_HAS_LENGTH))
        rc = buf_printf(out, "Content-Length: %llu\r\n", (unsigned long long)h->content_length);
    if (!rc && (h->flags & HTTP_HEAD_UPGRADE)) {
        const struct http_header *u = http_head_find(h, "upgrade");
        rc = http_write_headerz(out, "Connection", "upgrade");
        if (!rc && u)
            rc = http_write_header(out, "Upgrade", 7, u->value, u->value_len);
    }
    return rc ? rc : http_write_end_head(out);
}

static void count_decision(struct lconn *c, enum router_mirror d)
{
    const struct rt_service *svc = c->ex->service;
    for (size_t i = 0; i < svc->nshadows; i++)
        metrics_mirror_decision(c->ex->route->mirror_series[i], c->w->idx,
                                (enum metrics_decision)d);
}

/* A request-target in absolute form ("http://host/path?q", RFC 7230 5.3.2, what a client
 * configured for a forward proxy sends) is routed, filtered and forwarded by its origin
 * form "/path?q", as the primary expects. A target whose authority is followed by a query
 * and no path ("http://host?q") is left as it is: its origin form is not in the head. */
static void to_origin_form(struct http_head *h)
{
    const char *t = h->target;
    size_t n = h->target_len, skip = 0;
    if (n >= 7 && str_ieqz(t, 7, "http://"))
        skip = 7;
    else if (n >= 8 && str_ieqz(t, 8, "https://"))
        skip = 8;
    if (!skip)
        return;
    size_t i = skip;
    while (i < n && t[i] != '/' && t[i] != '?')
        i++;
    if (i == n) {
        h->target = "/";
        h->target_len = 1;
    } else if (t[i] == '/') {
        h->target = t + i;
        h->target_len = n - i;
    }
}

static int start_exchange(struct lconn *c, struct http_head *head)
{
    struct listener_worker *w = c->w;
    struct route_table *t = listener_worker_table(w);
    const struct rt_service *svc = t ? service_of(c, t) : NULL;
    if (!svc) {
        http_head_release(head);
        answer(c, 503, "doppel: service not configured", true);
        return -1;
    }
    to_origin_form(head);
    size_t plen = http_target_path_len(head->target, head->target_len);
    const struct rt_route *route = route_table_match(svc, head->target, plen);
    c->limits = svc->limits;
    bool keep = w->sh->keep_payload;
    struct exchange *ex = exchange_new(t, svc, w->idx, ((uint64_t)w->idx << 56) | ++w->next_id,
                                       route->mirror.max_body, keep ? svc->body_cap : 0);
    ex->keep_payload = keep;
    ex->route = route;
    ex->req = *head;
    ex->t_start = clock_mono_ns();
    ex->bytes_in = head->raw_len;
    memcpy(ex->client_ip, c->client_ip, sizeof(ex->client_ip));
    ex->on_done = w->sh->on_done;
    ex->on_shadow_done = w->sh->on_shadow_done;
    ex->hook_ctx = w->sh->hook_ctx;
    c->ex = ex;
    return 0;
}

/* RFC 7230 5.4: a request with more than one Host, or an HTTP/1.1 request without one,
 * is refused (400); forwarded, the gateway and the primary might each believe a different
 * host, or the primary pick one the client never named. */
static bool host_valid(const struct http_head *h)
{
    size_t n = 0;
    for (size_t i = 0; i < h->nheaders; i++)
        if (str_ieqz(h->headers[i].name, h->headers[i].name_len, "host"))
            n++;
    return n == 1 || (n == 0 && h->major == 1 && h->minor == 0);
}

static int r_on_head(void *ctx, struct http_head *head)
{
    struct lconn *c = ctx;
    if (start_exchange(c, head) != 0)
        return -1;
    struct exchange *ex = c->ex;
    const struct http_head *h = &ex->req;
    if (!(h->flags & HTTP_HEAD_KEEP_ALIVE))
        c->close_after = true;
    if (!host_valid(h)) {
        answer(c, 400, "doppel: a request needs exactly one Host header", true);
        return -1;
    }
    /* a reverse proxy forwards requests to its service; it opens no tunnels (forwarded, a
     * primary that accepted CONNECT would make doppel an open relay) */
    if (h->method_len == 7 && !memcmp(h->method, "CONNECT", 7)) {
        answer(c, 501, "doppel: CONNECT is not supported: this is a reverse proxy, not a tunnel",
               true);
        return -1;
    }
    if ((h->flags & HTTP_HEAD_HAS_LENGTH) && h->content_length > c->limits.max_body_bytes) {
        answer(c, 413, "doppel: request body larger than max_body_bytes", true);
        return -1;
    }
    c->req_chunked = h->flags & HTTP_HEAD_CHUNKED;
    if (ex->service->nshadows) {
        enum router_mirror d = router_mirror_decide(ex->route, h, &c->w->rng);
        count_decision(c, d);
        c->mirror = d == ROUTER_MIRROR_SAMPLED;
    }
    struct mirror_primary_fault pf;
    if (mirror_primary_fault(c->w->mw, ex, &pf))
        return primary_fault(c, &pf);
    return forward_primary(c);
}

/* Hands the request (head, and what was held back of its body) to the primary pool. */
static int forward_primary(struct lconn *c)
{
    struct exchange *ex = c->ex;
    const struct http_head *h = &ex->req;
    struct buf head_out;
    buf_init(&head_out, h->raw_len + 4096);
    if (build_upstream_head(c, h, &head_out) != 0) {
        buf_release(&head_out);
        answer(c, 431, "doppel: request header fields too large", true);
        return -1;
    }
    unsigned flags = 0;
    if (http_method_idempotent(h->method, h->method_len))
        flags |= UPSTREAM_F_IDEMPOTENT;
    if (h->method_len == 4 && memcmp(h->method, "HEAD", 4) == 0)
        flags |= UPSTREAM_F_HEAD;
    if (h->flags & HTTP_HEAD_UPGRADE)
        flags |= UPSTREAM_F_TUNNEL;
    c->ureq = upstream_req_start(c->w->uw, &ex->service->primary, head_out.data, head_out.len,
                                 flags, &primary_cbs, c);
    buf_release(&head_out);
    if (!c->ureq) {
        bool body = h->flags & (HTTP_HEAD_HAS_LENGTH | HTTP_HEAD_CHUNKED);
        ex->error = EXCHANGE_E_REFUSED;
        answer(c, 502, "doppel: primary refused: no upstream host available", body);
        if (body)
            return -1;
        c->answered = true; /* finished once the reader has the whole (empty) request */
        return 0;
    }
    if (h->flags & HTTP_HEAD_EXPECT_100)
        send_bytes(c, "HTTP/1.1 100 Continue\r\n\r\n", 25, NULL, 0);
    if (c->held.len)
        upstream_req_body(c->ureq, c->held.data, c->held.len, NULL, 0);
    buf_reset(&c->held);
    if (c->req_done)
        upstream_req_end(c->ureq);
    return 0;
}

/* A fault on the primary path (chaos.allow_primary_faults): close the client's
 * connection, answer with the fault's status, or hold the request back on the timer. */
static int primary_fault(struct lconn *c, const struct mirror_primary_fault *pf)
{
    const struct http_head *h = &c->ex->req;
    if (pf->reset) {
        c->ex->error = EXCHANGE_E_CLIENT_GONE;
        c->close_after = true;
        return -1; /* the reader stops; the connection is closed */
    }
    if (pf->abort_status) {
        bool body = h->flags & (HTTP_HEAD_HAS_LENGTH | HTTP_HEAD_CHUNKED);
        answer(c, pf->abort_status, "doppel: fault injected on the primary path", body);
        if (body)
            return -1;
        c->answered = true; /* finished once the reader has the whole (empty) request */
        return 0;
    }
    c->fault_wait = true;
    c->throttled = true; /* no more of the body is read while it waits */
    stop_reading(c);
    arm(c, pf->delay_ns);
    return 0;
}

/* The held-back request's delay is over: forward it and read on. */
static void primary_fault_go(struct lconn *c)
{
    c->fault_wait = false;
    c->throttled = false;
    int rc = forward_primary(c);
    if (rc != 0 || (c->answered && c->req_done)) {
        c->answered = false;
        response_done(c);
        return;
    }
    if (!c->req_done)
        arm(c, c->limits.client_timeout_ns);
    start_reading(c);
    conn_pump(c);
}

/* Request body bytes on their way to the primary, or held while a fault delays it. */
static int to_primary(struct lconn *c, const void *a, size_t alen, const void *b, size_t blen)
{
    if (c->fault_wait) {
        int rc = buf_append(&c->held, a, alen);
        return rc ? rc : buf_append(&c->held, b, blen);
    }
    return c->ureq ? upstream_req_body(c->ureq, a, alen, b, blen) : 0;
}

static int r_on_body(void *ctx, const char *data, size_t len)
{
    struct lconn *c = ctx;
    c->body_in += len;
    if (c->body_in > c->limits.max_body_bytes) {
        if (c->ureq) {
            upstream_req_cancel(c->ureq);
            c->ureq = NULL;
        }
        if (!c->resp_started)
            answer(c, 413, "doppel: request body larger than max_body_bytes", true);
        return -1;
    }
    if (c->mirror && buf_append(&c->ex->req_body, data, len) != 0) {
        c->mirror = false;
        count_decision(c, ROUTER_MIRROR_BODY_TOO_LARGE);
    }
    if (!c->ureq && !c->fault_wait)
        return 0; /* the primary already answered; the rest of the body is read and dropped */
    int rc;
    if (c->req_chunked) {
        char head[24];
        int n = snprintf(head, sizeof(head), "%zx\r\n", len);
        rc = to_primary(c, head, (size_t)n, data, len);
        rc = rc ? rc : to_primary(c, "\r\n", 2, NULL, 0);
    } else {
        rc = to_primary(c, data, len, NULL, 0);
    }
    if (c->ureq && upstream_req_queued(c->ureq) > HIGH_WATER) {
        c->throttled = true;
        stop_reading(c);
    }
    return rc;
}

static int r_on_complete(void *ctx)
{
    struct lconn *c = ctx;
    c->req_done = true;
    struct exchange *ex = c->ex;
    ex->t_req_done = clock_mono_ns();
    if (c->req_chunked)
        to_primary(c, "0\r\n\r\n", 5, NULL, 0);
    if (c->ureq && !c->fault_wait)
        upstream_req_end(c->ureq);
    if (c->state != LC_TUNNEL)
        c->state = LC_WAITING;
    if (!c->fault_wait)
        uv_timer_stop(&c->timer);
    if (c->mirror)
        mirror_submit(c->w->mw, ex);
    if (c->answered)
        arm(c, 0); /* finish outside the reader's callback */
    return 0;
}

static const struct http_reader_cbs request_cbs = {r_on_head, r_on_body, r_on_complete};

/* ---- input --------------------------------------------------------------------------- */

static void parse_error(struct lconn *c, int err)
{
    if (c->resp_started || c->state == LC_CLOSING) {
        conn_close(c);
        return;
    }
    if (err == HTTP_READER_E_ABORTED) {
        /* a callback already answered (or the client is gone) */
    } else if (err == HTTP_READER_E_HEAD_TOO_LARGE) {
        answer(c, 431, "doppel: request header fields too large", true);
    } else {
        answer(c, 400, "doppel: malformed request", true);
    }
    if (c->ureq) {
        upstream_req_cancel(c->ureq);
        c->ureq = NULL;
    }
    response_done(c);
}

/* Feeds bytes to the parser; returns how many it took, or -1 when the connection ended. */
static ssize_t conn_feed(struct lconn *c, const char *data, size_t len)
{
    if (c->state == LC_TUNNEL) {
        if (c->ureq)
            upstream_req_body(c->ureq, data, len, NULL, 0);
        return (ssize_t)len;
    }
    if (http_reader_paused(&c->reader) || c->throttled)
        return 0;
    if (c->state == LC_IDLE) {
        c->state = LC_READING;
        arm(c, c->limits.client_timeout_ns);
    }
    ssize_t n = http_reader_feed(&c->reader, data, len);
    if (n < 0) {
        parse_error(c, (int)n);
        return -1;
    }
    return n;
}

static void conn_pump(struct lconn *c)
{
    while (c->in.len && c->state != LC_CLOSING) {
        ssize_t n = conn_feed(c, c->in.data, c->in.len);
        if (n <= 0)
            break;
        buf_consume(&c->in, (size_t)n);
    }
    if (c->state != LC_CLOSING && c->in.len < IN_MAX / 2 && !c->throttled && !c->eof)
        start_reading(c);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)suggested;
    struct lconn *c = h->data;
    struct listener_worker *w = c->w;
    if (w->rbuf_busy) {
        *b = uv_buf_init(NULL, 0);
        return;
    }
    w->rbuf_busy = true;
    *b = uv_buf_init(w->rbuf, sizeof(w->rbuf));
}

static void on_eof(struct lconn *c, ssize_t nread)
{
    c->eof = true;
    stop_reading(c);
    if (c->state == LC_TUNNEL || c->state == LC_IDLE || nread != UV_EOF) {
        if (c->ex)
            c->ex->error = EXCHANGE_E_CLIENT_GONE;
        if (c->ureq) {
            upstream_req_cancel(c->ureq);
            c->ureq = NULL;
        }
        finish_exchange(c);
        conn_close(c);
        return;
    }
    if (c->state == LC_READING && !c->req_done) {
        if (c->ex)
            c->ex->error = EXCHANGE_E_CLIENT_GONE;
        if (c->ureq) {
            upstream_req_cancel(c->ureq);
            c->ureq = NULL;
        }
        finish_exchange(c);
        conn_close(c);
    }
    /* WAITING with a half-closed client: answer, then close (response_done sees eof). */
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct lconn *c = s->data;
    struct listener_worker *w = c->w;
    if (b->base == w->rbuf)
        w->rbuf_busy = false;
    if (nread == 0 || nread == UV_ENOBUFS || c->state == LC_CLOSING)
        return;
    if (nread < 0) {
        on_eof(c, nread);
        return;
    }
    size_t len = (size_t)nread, off = 0;
    if (c->in.len == 0) {
        w->rbuf_busy = true;
        while (off < len && c->state != LC_CLOSING) {
            ssize_t n = conn_feed(c, b->base + off, len - off);
            if (n <= 0)
                break;
            off += (size_t)n;
        }
        w->rbuf_busy = false;
        if (c->state == LC_CLOSING)
            return;
    }
    if (off < len && buf_append(&c->in, b->base + off, len - off) != 0) {
        answer(c, 431, "doppel: too many pipelined bytes", true);
        conn_close(c);
        return;
    }
    if (c->in.len >= IN_MAX / 2)
        stop_reading(c);
    else if (off < len)
        conn_pump(c);
}

static void start_reading(struct lconn *c)
{
    if (!c->reading && c->state != LC_CLOSING) {
        uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
        c->reading = true;
    }
}

/* ---- lifetime ------------------------------------------------------------------------ */

static void timer_cb(uv_timer_t *t)
{
    struct lconn *c = t->data;
    if (c->fault_wait) {
        primary_fault_go(c);
        return;
    }
    if (c->answered) {
        c->answered = false;
        response_done(c);
        return;
    }
    if (c->state == LC_READING && !c->resp_started) {
        answer(c, 408, "doppel: request not received within client_timeout", true);
        if (c->ureq) {
            upstream_req_cancel(c->ureq);
            c->ureq = NULL;
        }
        if (c->ex)
            c->ex->error = EXCHANGE_E_CLIENT_GONE;
        response_done(c);
        return;
    }
    if (c->state == LC_IDLE || c->state == LC_READING)
        conn_close(c);
}

static void on_closed(uv_handle_t *h)
{
    struct lconn *c = h->data;
    if (--c->handles > 0)
        return;
    struct listener_worker *w = c->w;
    http_reader_release(&c->reader);
    buf_release(&c->in);
    buf_release(&c->held);
    buf_release(&c->head_out);
    free(c);
    listener_worker_conn_gone(w);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    struct lconn *c = req->data;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

/* Lingering close (as nginx's): when the gateway closes after its own answer to a request
 * it has not read to the end, the client may still be sending. Closing at once would make
 * the kernel answer those bytes with a reset, which destroys the answer (431, 413, 400,
 * 502) before the client reads it. So the write side is shut down after the answer and
 * whatever still arrives is dropped until the client closes or LINGER_MS pass. */
static void linger_end(struct lconn *c)
{
    if (!c->lingering)
        return;
    c->lingering = false;
    list_remove(&c->link);
    uv_close((uv_handle_t *)&c->timer, on_closed);
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void linger_timer_cb(uv_timer_t *t)
{
    linger_end(t->data);
}

static void linger_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct lconn *c = s->data;
    if (b->base == c->w->rbuf)
        c->w->rbuf_busy = false;
    if (nread < 0 && nread != UV_ENOBUFS)
        linger_end(c);
}

static void on_linger_shutdown(uv_shutdown_t *req, int status)
{
    if (status < 0)
        linger_end(req->data);
}

static bool linger_start(struct lconn *c)
{
    c->shut.data = c;
    if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_linger_shutdown) != 0)
        return false;
    c->lingering = true;
    list_insert_tail(&c->w->lingering, &c->link);
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, linger_read_cb);
    uv_timer_start(&c->timer, linger_timer_cb, LINGER_MS, 0);
    return true;
}

static void conn_close(struct lconn *c)
{
    if (c->state == LC_CLOSING)
        return;
    bool linger =
        (c->linger || c->resp_started) && !c->req_done && !c->eof && c->state != LC_TUNNEL;
    if (c->ureq) {
        upstream_req_cancel(c->ureq);
        c->ureq = NULL;
    }
    if (c->ex && !c->ex->error && !c->ex->status)
        c->ex->error = EXCHANGE_E_CLIENT_GONE;
    finish_exchange(c);
    c->state = LC_CLOSING;
    list_remove(&c->link);
    c->w->nconns--;
    atomic_fetch_sub(&c->w->sh->conns[c->ls->slot], 1);
    metrics_conn_closed(c->ls->ms, c->w->idx);
    stop_reading(c);
    if (linger && linger_start(c))
        return;
    uv_close((uv_handle_t *)&c->timer, on_closed);
    /* Let queued response bytes go out before closing (a shutdown waits for them). */
    c->shut.data = c;
    if (c->tcp.write_queue_size == 0 ||
        uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shutdown) != 0)
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}

void lconn_start(struct listener_worker *w, struct lsock *ls, uv_tcp_t *server)
{
    (void)server;
    struct lconn *c = xcalloc(1, sizeof(*c));
    c->w = w;
    c->ls = ls;
    uv_tcp_init(&w->loop, &c->tcp);
    uv_timer_init(&w->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    c->state = LC_IDLE;
    list_insert_tail(&w->conns, &c->link);
    w->nconns++;
    buf_init(&c->in, IN_MAX);
    buf_init(&c->held, 2 * IN_MAX); /* at most what was read when the hold began */
    buf_init(&c->head_out, 0);
    if (uv_accept((uv_stream_t *)&ls->tcp, (uv_stream_t *)&c->tcp) != 0) {
        atomic_fetch_add(&w->sh->conns[ls->slot], 1); /* conn_close gives it back */
        conn_close(c);
        return;
    }
    struct route_table *t = listener_worker_table(w);
    const struct rt_service *svc = t ? service_of(c, t) : NULL;
    unsigned open = atomic_fetch_add(&w->sh->conns[ls->slot], 1);
    metrics_conn_accepted(ls->ms, w->idx);
    if (!svc || open >= svc->limits.max_connections) {
        metrics_conn_refused(ls->ms, w->idx);
        conn_close(c);
        return;
    }
    c->limits = svc->limits;
    struct sockaddr_storage sa;
    int len = sizeof(sa);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&sa, &len) == 0)
        net_addr_ip((struct sockaddr *)&sa, c->client_ip, sizeof(c->client_ip));
    net_tune_tcp(&c->tcp);
    http_reader_init(&c->reader, HTTP_READER_REQUEST, svc->limits.max_header_bytes, &request_cbs,
                     c);
    arm(c, svc->limits.keepalive_timeout_ns);
    start_reading(c);
}

void lconn_drain_all(struct listener_worker *w)
{
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &w->conns)
    {
        struct lconn *c = list_entry(pos, struct lconn, link);
        if (c->state == LC_IDLE)
            conn_close(c);
    }
}

void lconn_close_all(struct listener_worker *w)
{
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &w->conns)
    {
        conn_close(list_entry(pos, struct lconn, link));
    }
    list_for_each_safe(pos, tmp, &w->lingering)
    {
        linger_end(list_entry(pos, struct lconn, link));
    }
}
