/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mirror: bounded, anonymized copies of requests to shadow pools (see mirror.h).
 */
#include "mirror/mirror.h"

#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/list.h"
#include "base/log.h"
#include "base/rng.h"
#include "base/xalloc.h"
#include "chaos/chaos.h"
#include "http/writer.h"
#include "mirror/anonymize.h"
#include "observer/metrics.h"

#define MIRROR_HEAD_MAX (256 * 1024)
#define MIRROR_HEAD_EXTRA 256 /* room over the original head a copy's head is sized with */

struct mpool {
    uint32_t inflight;
    uint64_t bytes;
};

struct mirror_worker {
    struct upstream_worker *uw; /* borrowed */
    unsigned worker;
    struct mpool *pools; /* by pool_id */
    size_t npools;
    unsigned inflight;
    bool draining;
    struct chaos *chaos; /* borrowed; NULL = no faults */
    struct chaos_view view;
    uv_loop_t *loop;
    struct rng rng;
    struct list faulted; /* struct mfault.link: copies a fault changed, until freed */
};

/* The runtime of a copy a fault changed. */
struct mfault {
    struct fault_decision d;
    struct list link;
    uv_timer_t treq, tresp; /* request side (delay, slices), response side */
    int handles;            /* timers not yet closed */
    struct upstream_req *r; /* NULL before the start and after the end */
    struct buf out;         /* the copy's bytes; `sent` of them written */
    size_t sent;
    uint64_t resp_bytes;     /* response bytes not yet paid for by a throttle pause */
    uint64_t throttle_until; /* monotonic ns: the response's bytes are "received" by then */
    bool reset_hit;          /* the connection was closed by the reset fault */
    bool ended;
};

struct mcopy {
    struct mirror_worker *mw;
    struct exchange *ex; /* ref held */
    size_t shadow;       /* index into the service's shadows */
    uint32_t pool_id;
    size_t bytes;
    uint64_t t_start;
    bool unsent; /* the pool had no host to try (all ejected): no instance failed */
    struct shadow_result res;
    struct mfault *fx; /* owned; NULL when no fault fired */
};

static struct mpool *mpool_get(struct mirror_worker *mw, uint32_t id)
{
    if (id >= mw->npools) {
        size_t n = id + 8;
        mw->pools = xreallocarray(mw->pools, n, sizeof(*mw->pools));
        memset(mw->pools + mw->npools, 0, (n - mw->npools) * sizeof(*mw->pools));
        mw->npools = n;
    }
    return &mw->pools[id];
}

struct mirror_worker *mirror_worker_new(struct upstream_worker *uw, unsigned worker)
{
    struct mirror_worker *mw = xcalloc(1, sizeof(*mw));
    mw->uw = uw;
    mw->worker = worker;
    list_init(&mw->faulted);
    rng_seed(&mw->rng, clock_wall_ns() ^ ((uint64_t)worker << 40) ^ (uint64_t)(uintptr_t)mw);
    return mw;
}

void mirror_worker_set_chaos(struct mirror_worker *mw, struct chaos *chaos, uv_loop_t *loop)
{
    mw->chaos = chaos;
    mw->loop = loop;
}

static void fault_end_all(struct mirror_worker *mw);

void mirror_worker_drain(struct mirror_worker *mw)
{
    mw->draining = true;
    fault_end_all(mw);
}

unsigned mirror_worker_inflight(const struct mirror_worker *mw)
{
    return mw->inflight;
}

void mirror_worker_free(struct mirror_worker *mw)
{
    if (!mw)
        return;
    chaos_view_release(&mw->view);
    free(mw->pools);
    free(mw);
}

static enum metrics_drop drop_of(enum exchange_error e)
{
    switch (e) {
    case EXCHANGE_E_REFUSED:
        return METRICS_DROP_CONNECT_FAILED;
    case EXCHANGE_E_TIMEOUT:
        return METRICS_DROP_TIMEOUT;
    case EXCHANGE_E_RESET:
        return METRICS_DROP_RESET;
    case EXCHANGE_E_BAD_RESPONSE:
        return METRICS_DROP_BAD_RESPONSE;
    default:
        return METRICS_DROP_OTHER;
    }
}

static void on_fx_closed(uv_handle_t *h)
{
    struct mcopy *mc = h->data;
    if (--mc->fx->handles > 0)
        return;
    buf_release(&mc->fx->out);
    free(mc->fx);
    free(mc);
}

/* A faulted copy is freed once its timers are closed. */
static void mcopy_free(struct mcopy *mc)
{
    struct mfault *fx = mc->fx;
    if (!fx) {
        free(mc);
        return;
    }
    list_remove(&fx->link);
    uv_close((uv_handle_t *)&fx->treq, on_fx_closed);
    uv_close((uv_handle_t *)&fx->tresp, on_fx_closed);
}

static void copy_finish(struct mcopy *mc)
{
    struct mirror_worker *mw = mc->mw;
    struct mpool *mp = mpool_get(mw, mc->pool_id);
    mp->inflight--;
    mp->bytes -= mc->bytes;
    mw->inflight--;
    struct exchange *ex = mc->ex;
    const struct rt_route *route = ex->route;
    mc->res.latency_ns = clock_mono_ns() - mc->t_start;
    if (mc->res.error == EXCHANGE_OK) {
        metrics_record(route->shadow_series[mc->shadow], mw->worker, mc->res.latency_ns,
                       mc->res.status, mc->bytes, 0);
    } else {
        if (!mc->unsent)
            metrics_upstream_error(route->shadow_series[mc->shadow], mw->worker,
                                   metrics_upstream_error_of(mc->res.error));
        metrics_mirror_drop(route->mirror_series[mc->shadow], mw->worker, drop_of(mc->res.error));
    }
    if (ex->on_shadow_done)
        ex->on_shadow_done(ex, &mc->res, ex->hook_ctx);
    http_head_release(&mc->res.head);
    buf_release(&mc->res.body);
    exchange_unref(ex);
    mcopy_free(mc);
}

static int on_head(void *ctx, struct http_head *head)
{
    struct mcopy *mc = ctx;
    if (mc->fx && mc->fx->d.reset_response) {
        /* the reset fault: the connection is closed as the answer begins */
        mc->fx->reset_hit = true;
        http_head_release(head);
        return -1;
    }
    mc->res.status = head->status;
    mc->res.head = *head;
    return 0;
}

static void fault_resp_slice(struct mcopy *mc, size_t len);

static int on_body(void *ctx, const char *data, size_t len)
{
    struct mcopy *mc = ctx;
    if (mc->fx)
        fault_resp_slice(mc, len);
    if (mc->ex->keep_payload && buf_append(&mc->res.body, data, len) != 0)
        buf_append(&mc->res.body, data, mc->res.body.max - mc->res.body.len);
    return 0;
}

static void fault_complete(struct mcopy *mc);

static void on_complete(void *ctx)
{
    struct mcopy *mc = ctx;
    if (mc->fx)
        fault_complete(mc);
    else
        copy_finish(mc);
}

static void on_error(void *ctx, enum exchange_error e, const char *detail)
{
    struct mcopy *mc = ctx;
    (void)detail;
    mc->res.error = e;
    if (mc->fx) {
        mc->fx->r = NULL;
        mc->fx->ended = true;
        uv_timer_stop(&mc->fx->treq);
        uv_timer_stop(&mc->fx->tresp);
        if (mc->fx->reset_hit)
            mc->res.error = EXCHANGE_E_RESET;
    }
    copy_finish(mc);
}

static const struct upstream_cbs copy_cbs = {
    .on_head = on_head,
    .on_body = on_body,
    .on_complete = on_complete,
    .on_error = on_error,
};

/* Headers the copy writes itself, whatever the client sent. */
static const char *const own_headers[] = {"content-length", "x-doppel-shadow", "expect",
                                          "x-forwarded-for", NULL};

int mirror_copy_head(const struct exchange *ex, struct buf *out)
{
    const struct http_head *req = &ex->req;
    const struct anonymize_rules *anon = &ex->route->mirror.anon;
    int rc = buf_append(out, req->method, req->method_len);
    rc = rc ? rc : buf_append(out, " ", 1);
    rc = rc ? rc : anonymize_target(anon, req->target, req->target_len, out);
    rc = rc ? rc : buf_appends(out, " HTTP/1.1\r\n");
    rc = rc ? rc : anonymize_headers(anon, req, own_headers, out);
    rc = rc ? rc : buf_appends(out, "X-Forwarded-For: ");
    rc = rc ? rc : anonymize_forwarded_for(anon, req, ex->client_ip, out);
    rc = rc ? rc : buf_appends(out, "\r\n");
    /* The primary is told the scheme the client used (lconn.c); the copy must say the same,
     * or a shadow that builds URLs or redirects from it answers differently. */
    if (!rc && !http_head_find(req, "x-forwarded-proto"))
        rc = http_write_headerz(out, "X-Forwarded-Proto", "http");
    rc = rc ? rc : buf_appends(out, "X-Doppel-Shadow: 1\r\n");
    if (!rc && !http_head_find(req, "x-request-id"))
        rc = http_write_headerz(out, "X-Request-Id", ex->id_str);
    if (!rc && (ex->req_body.len || (req->flags & (HTTP_HEAD_HAS_LENGTH | HTTP_HEAD_CHUNKED))))
        rc = buf_printf(out, "Content-Length: %zu\r\n", ex->req_body.len);
    rc = rc ? rc : http_write_end_head(out);
    return rc;
}

/* The answer to a HEAD copy has no body whatever its Content-Length says: without the flag
 * the pool would wait for one until the shadow's timeout, count a timeout and hold the
 * drain. Copies are never retried, so the idempotent flag is not set. */
static unsigned copy_flags(const struct http_head *req)
{
    if (req->method_len == 4 && memcmp(req->method, "HEAD", 4) == 0)
        return UPSTREAM_F_HEAD;
    return 0;
}

/* ---- faults (chaos room) ------------------------------------------------------------- */

static struct fault_probe probe_of(const struct mcopy *mc)
{
    const struct exchange *ex = mc->ex;
    const struct http_head *req = &ex->req;
    return (struct fault_probe){
        .service = ex->service->name,
        .pool = mc->res.pool->name,
        .pool_id = mc->pool_id,
        .primary = !mc->res.pool->shadow,
        .path = req->target,
        .path_len = http_target_path_len(req->target, req->target_len),
        .req = req,
    };
}

static void fault_go(struct mcopy *mc);

bool mirror_primary_fault(struct mirror_worker *mw, const struct exchange *ex,
                          struct mirror_primary_fault *out)
{
    *out = (struct mirror_primary_fault){0};
    if (!mw->chaos)
        return false;
    const struct chaos_set *set = chaos_view_get(&mw->view, mw->chaos);
    if (!set)
        return false;
    const struct rt_pool *pool = &ex->service->primary;
    const struct http_head *req = &ex->req;
    struct fault_probe p = {.service = ex->service->name,
                            .pool = pool->name,
                            .pool_id = pool->pool_id,
                            .primary = true,
                            .path = req->target,
                            .path_len = http_target_path_len(req->target, req->target_len),
                            .req = req};
    struct fault_decision d = {0};
    chaos_set_eval(set, &p, clock_mono_ns(), &mw->rng, &d);
    out->delay_ns = d.req_delay_ns;
    out->abort_status = d.abort_status;
    out->reset = d.reset_request;
    return d.fired != 0;
}

static void on_req_timer(uv_timer_t *t)
{
    struct mcopy *mc = t->data;
    struct mfault *fx = mc->fx;
    if (!fx->r) {
        fault_go(mc); /* the request delay is over */
        return;
    }
    size_t n = fx->out.len - fx->sent;
    if (n > fx->d.req.chunk)
        n = fx->d.req.chunk;
    struct upstream_req *r = fx->r;
    upstream_req_body(r, fx->out.data + fx->sent, n, NULL, 0);
    fx->sent += n;
    if (fx->sent < fx->out.len)
        uv_timer_start(&fx->treq, on_req_timer, fx->d.req.delay_ns / CLOCK_NS_PER_MS, 0);
    else
        upstream_req_end(r);
}

/* Evaluates the faults for the copy; when one fires, the copy goes the faulted way and
 * true is returned (the caller is done with it). */
static bool fault_start(struct mcopy *mc, const char *bytes, size_t len)
{
    struct mirror_worker *mw = mc->mw;
    const struct chaos_set *set = chaos_view_get(&mw->view, mw->chaos);
    if (!set || set->n == 0)
        return false;
    struct fault_decision d = {0};
    struct fault_probe p = probe_of(mc);
    chaos_set_eval(set, &p, clock_mono_ns(), &mw->rng, &d);
    if (!d.fired && !set->has_instance_scope)
        return false;
    struct mfault *fx = xcalloc(1, sizeof(*fx));
    fx->d = d;
    mc->fx = fx;
    list_insert_tail(&mw->faulted, &fx->link);
    uv_timer_init(mw->loop, &fx->treq);
    uv_timer_init(mw->loop, &fx->tresp);
    fx->treq.data = fx->tresp.data = mc;
    fx->handles = 2;
    buf_init(&fx->out, len);
    buf_append(&fx->out, bytes, len);
    if (d.req_delay_ns)
        uv_timer_start(&fx->treq, on_req_timer, d.req_delay_ns / CLOCK_NS_PER_MS, 0);
    else
        fault_go(mc);
    return true;
}

/* Faults scoped to one instance are evaluated once the upstream picked the host. */
static void fault_on_host(struct mcopy *mc)
{
    struct mirror_worker *mw = mc->mw;
    const struct chaos_set *set = mw->view.set;
    if (!set || !set->has_instance_scope)
        return;
    struct fault_probe p = probe_of(mc);
    p.instance = upstream_req_host(mc->fx->r);
    chaos_set_eval(set, &p, clock_mono_ns(), &mw->rng, &mc->fx->d);
}

/* Ends the copy now with the abort status or a reset; the request may be on its way. */
static void fault_cut(struct mcopy *mc)
{
    struct mfault *fx = mc->fx;
    if (fx->r)
        upstream_req_cancel(fx->r);
    fx->r = NULL;
    fx->ended = true;
    if (fx->d.abort_status && !fx->d.abort_after)
        mc->res.status = fx->d.abort_status;
    else
        mc->res.error = EXCHANGE_E_RESET;
    copy_finish(mc);
}

static void fault_go(struct mcopy *mc)
{
    struct mfault *fx = mc->fx;
    if (fx->d.abort_status && !fx->d.abort_after) {
        fault_cut(mc); /* not sent: the outcome is the abort status */
        return;
    }
    size_t first = fx->out.len;
    if (fx->d.req.chunk && first > fx->d.req.chunk)
        first = fx->d.req.chunk;
    struct upstream_req *r = upstream_req_start(mc->mw->uw, mc->res.pool, fx->out.data, first,
                                                copy_flags(&mc->ex->req), &copy_cbs, mc);
    if (!r) {
        mc->unsent = true;
        mc->res.error = EXCHANGE_E_REFUSED;
        fx->ended = true;
        copy_finish(mc);
        return;
    }
    fx->r = r;
    fx->sent = first;
    fault_on_host(mc);
    if ((fx->d.abort_status && !fx->d.abort_after) || fx->d.reset_request) {
        fault_cut(mc);
        return;
    }
    if (fx->d.hang)
        upstream_req_pause(r); /* never read: the shadow's timeout ends the copy */
    if (fx->d.close_delay_ns)
        upstream_req_linger(r, fx->d.close_delay_ns);
    if (fx->sent < fx->out.len)
        uv_timer_start(&fx->treq, on_req_timer, fx->d.req.delay_ns / CLOCK_NS_PER_MS, 0);
    else
        upstream_req_end(r);
}

static void on_resp_timer(uv_timer_t *t)
{
    struct mcopy *mc = t->data;
    if (mc->fx->r)
        upstream_req_resume(mc->fx->r); /* the next slice of the answer */
    else
        copy_finish(mc); /* the response delay is over */
}

/* Throttled answer: each `chunk` bytes read cost `delay`; reading pauses until the bytes
 * read so far are paid for, and the end of the copy waits for the last of them. So the
 * copy takes bytes / rate however the kernel happened to batch them. */
static void fault_resp_slice(struct mcopy *mc, size_t len)
{
    struct mfault *fx = mc->fx;
    if (!fx->d.resp.chunk || !fx->r || fx->d.hang)
        return;
    fx->resp_bytes += len;
    uint64_t steps = fx->resp_bytes / fx->d.resp.chunk;
    if (steps == 0)
        return;
    fx->resp_bytes -= steps * fx->d.resp.chunk;
    uint64_t now = clock_mono_ns();
    if (fx->throttle_until < now)
        fx->throttle_until = now;
    fx->throttle_until += steps * fx->d.resp.delay_ns;
    upstream_req_pause(fx->r);
    uv_timer_start(&fx->tresp, on_resp_timer, (fx->throttle_until - now) / CLOCK_NS_PER_MS, 0);
}

static void fault_complete(struct mcopy *mc)
{
    struct mfault *fx = mc->fx;
    fx->r = NULL;
    fx->ended = true;
    uv_timer_stop(&fx->treq);
    uv_timer_stop(&fx->tresp);
    if (fx->d.abort_status && fx->d.abort_after)
        mc->res.status = fx->d.abort_status; /* answered, and replaced by the status */
    uint64_t now = clock_mono_ns(), wait = fx->d.resp_delay_ns;
    if (fx->throttle_until > now)
        wait += fx->throttle_until - now;
    if (wait >= CLOCK_NS_PER_MS)
        uv_timer_start(&fx->tresp, on_resp_timer, wait / CLOCK_NS_PER_MS, 0);
    else
        copy_finish(mc);
}

/* Draining: every copy a fault holds back ends now, counted as "other". */
static void fault_end_all(struct mirror_worker *mw)
{
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &mw->faulted)
    {
        struct mcopy *mc = list_entry(pos, struct mfault, link)->treq.data;
        struct mfault *fx = mc->fx;
        if (fx->ended && !uv_is_active((uv_handle_t *)&fx->tresp))
            continue; /* finished, its timers closing */
        uv_timer_stop(&fx->treq);
        uv_timer_stop(&fx->tresp);
        if (fx->r)
            upstream_req_cancel(fx->r);
        fx->r = NULL;
        fx->ended = true;
        mc->res.error = EXCHANGE_E_OTHER;
        copy_finish(mc);
    }
}

static void send_copy(struct mirror_worker *mw, struct exchange *ex, size_t i, const char *bytes,
                      size_t len)
{
    const struct rt_service *svc = ex->service;
    const struct rt_pool *pool = &svc->shadows[i];
    struct metrics_mirror *ms = ex->route->mirror_series[i];
    struct mpool *mp = mpool_get(mw, pool->pool_id);
    if (mp->bytes + len > pool->max_bytes) {
        metrics_mirror_drop(ms, mw->worker, METRICS_DROP_BYTES_LIMIT);
        return;
    }
    struct mcopy *mc = xcalloc(1, sizeof(*mc));
    mc->mw = mw;
    mc->ex = exchange_ref(ex);
    mc->shadow = i;
    mc->pool_id = pool->pool_id;
    mc->bytes = len;
    mc->t_start = clock_mono_ns();
    mc->res.pool = pool;
    buf_init(&mc->res.body, ex->keep_payload ? svc->body_cap : 0);
    mp->inflight++;
    mp->bytes += len;
    mw->inflight++;
    if (mw->chaos && fault_start(mc, bytes, len))
        return;
    struct upstream_req *r =
        upstream_req_start(mw->uw, pool, bytes, len, copy_flags(&ex->req), &copy_cbs, mc);
    if (!r) {
        /* Counted as a connect_failed drop, but not as an error of an instance: with its
         * hosts ejected no connection was tried, and counting each copy as "refused" would
         * swamp the real failures in doppel_upstream_errors_total. */
        mc->unsent = true;
        mc->res.error = EXCHANGE_E_REFUSED;
        copy_finish(mc);
        return;
    }
    upstream_req_end(r);
}

/* Whether shadow i can take one more copy now (counted as a drop when not). Checked before
 * the copy is built, so a saturated or draining shadow costs a counter, not a copy. */
static bool admit(struct mirror_worker *mw, const struct exchange *ex, size_t i)
{
    const struct rt_pool *pool = &ex->service->shadows[i];
    struct metrics_mirror *ms = ex->route->mirror_series[i];
    if (mw->draining) {
        metrics_mirror_drop(ms, mw->worker, METRICS_DROP_DRAINING);
        return false;
    }
    if (mpool_get(mw, pool->pool_id)->inflight >= pool->max_inflight) {
        metrics_mirror_drop(ms, mw->worker, METRICS_DROP_INFLIGHT_LIMIT);
        return false;
    }
    return true;
}

void mirror_submit(struct mirror_worker *mw, struct exchange *ex)
{
    const struct rt_service *svc = ex->service;
    bool take[RT_MAX_SHADOWS];
    size_t n = 0;
    for (size_t i = 0; i < svc->nshadows && i < RT_MAX_SHADOWS; i++)
        n += take[i] = admit(mw, ex, i);
    if (n == 0)
        return;
    /* With keep_payload the head stays on the exchange: the capture records the same copy.
     * The copy's buffer is sized once, for the original head plus some (anonymization
     * mostly shortens a head; X-Forwarded-For and Via are added). */
    size_t head_guess = ex->req.raw_len + MIRROR_HEAD_EXTRA;
    if (head_guess > MIRROR_HEAD_MAX)
        head_guess = MIRROR_HEAD_MAX;
    struct buf req;
    buf_init(&req, MIRROR_HEAD_MAX + ex->req_body.len);
    buf_reserve(&req, head_guess + ex->req_body.len);
    int rc;
    if (ex->keep_payload) {
        buf_release(&ex->copy_head);
        buf_init(&ex->copy_head, MIRROR_HEAD_MAX);
        buf_reserve(&ex->copy_head, head_guess);
        rc = mirror_copy_head(ex, &ex->copy_head);
        rc = rc ? rc : buf_append(&req, ex->copy_head.data, ex->copy_head.len);
    } else {
        rc = mirror_copy_head(ex, &req);
    }
    if (rc || buf_append(&req, ex->req_body.data, ex->req_body.len)) {
        buf_release(&ex->copy_head);
        for (size_t i = 0; i < svc->nshadows && i < RT_MAX_SHADOWS; i++)
            if (take[i])
                metrics_mirror_drop(ex->route->mirror_series[i], mw->worker, METRICS_DROP_OTHER);
        log_debug("mirror", "request %s: copy head too large, not mirrored", ex->id_str);
        buf_release(&req);
        return;
    }
    for (size_t i = 0; i < svc->nshadows && i < RT_MAX_SHADOWS; i++)
        if (take[i])
            send_copy(mw, ex, i, req.data, req.len);
    buf_release(&req);
}
