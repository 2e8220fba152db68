/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mirror: bounded, anonymized copies of requests to shadow pools (see mirror.h).
 */
#include "mirror/mirror.h"

#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "http/writer.h"
#include "mirror/anonymize.h"
#include "observer/metrics.h"

#define MIRROR_HEAD_MAX (256 * 1024)

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
    return mw;
}

void mirror_worker_drain(struct mirror_worker *mw)
{
    mw->draining = true;
}

unsigned mirror_worker_inflight(const struct mirror_worker *mw)
{
    return mw->inflight;
}

void mirror_worker_free(struct mirror_worker *mw)
{
    if (!mw)
        return;
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
    free(mc);
}

static int on_head(void *ctx, struct http_head *head)
{
    struct mcopy *mc = ctx;
    mc->res.status = head->status;
    mc->res.head = *head;
    return 0;
}

static int on_body(void *ctx, const char *data, size_t len)
{
    struct mcopy *mc = ctx;
    if (buf_append(&mc->res.body, data, len) != 0)
        buf_append(&mc->res.body, data, mc->res.body.max - mc->res.body.len);
    return 0;
}

static void on_complete(void *ctx)
{
    copy_finish(ctx);
}

static void on_error(void *ctx, enum exchange_error e, const char *detail)
{
    struct mcopy *mc = ctx;
    (void)detail;
    mc->res.error = e;
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
    buf_init(&mc->res.body, svc->body_cap);
    mp->inflight++;
    mp->bytes += len;
    mw->inflight++;
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
    struct buf req;
    buf_init(&req, MIRROR_HEAD_MAX + ex->req_body.len);
    if (mirror_copy_head(ex, &req) != 0 || buf_append(&req, ex->req_body.data, ex->req_body.len)) {
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
