/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fault: names, checks, scope matching, schedules and draws of one fault (see fault.h).
 */
#include "chaos/fault.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "base/xalloc.h"

static const char *const kind_names[FAULT_KIND_COUNT] = {
    [FAULT_LATENCY] = "latency", [FAULT_BANDWIDTH] = "bandwidth", [FAULT_ABORT] = "abort",
    [FAULT_RESET] = "reset",     [FAULT_HANG] = "hang",           [FAULT_SLOW_CLOSE] = "slow_close",
    [FAULT_SLICER] = "slicer",   [FAULT_KILL] = "kill",           [FAULT_PAUSE] = "pause",
    [FAULT_RESTART] = "restart", [FAULT_CPU_BURN] = "cpu_burn",   [FAULT_MEMORY] = "memory",
};
static const char *const dir_names[] = {"request", "response", NULL};
static const char *const dist_names[] = {"uniform", "normal", "exponential", NULL};

const char *fault_kind_name(enum fault_kind k)
{
    return k > 0 && k < FAULT_KIND_COUNT ? kind_names[k] : "unknown";
}

int fault_kind_parse(const char *s, enum fault_kind *out)
{
    for (int k = 1; k < FAULT_KIND_COUNT; k++)
        if (strcmp(s, kind_names[k]) == 0) {
            *out = (enum fault_kind)k;
            return 0;
        }
    return -EINVAL;
}

const char *fault_direction_name(enum fault_direction d)
{
    return dir_names[d == FAULT_DIR_RESPONSE];
}

int fault_direction_parse(const char *s, enum fault_direction *out)
{
    for (int i = 0; dir_names[i]; i++)
        if (strcmp(s, dir_names[i]) == 0) {
            *out = (enum fault_direction)i;
            return 0;
        }
    return -EINVAL;
}

const char *fault_dist_name(enum fault_dist d)
{
    return (unsigned)d < 3 ? dist_names[d] : "unknown";
}

int fault_dist_parse(const char *s, enum fault_dist *out)
{
    for (int i = 0; dist_names[i]; i++)
        if (strcmp(s, dist_names[i]) == 0) {
            *out = (enum fault_dist)i;
            return 0;
        }
    return -EINVAL;
}

bool fault_kind_is_instance(enum fault_kind k)
{
    return k >= FAULT_KILL && k < FAULT_KIND_COUNT;
}

#define HOUR_NS (3600ULL * 1000000000ULL)

static int check_request_kind(const struct fault *f, struct err *err)
{
    switch (f->kind) {
    case FAULT_LATENCY:
        if (f->latency_ns > HOUR_NS || f->jitter_ns > HOUR_NS)
            return err_set(err, -EINVAL, "latency and jitter must be at most 1h");
        if (f->latency_ns == 0 && f->jitter_ns == 0)
            return err_set(err, -EINVAL, "a latency fault needs latency or jitter");
        return 0;
    case FAULT_BANDWIDTH:
        if (f->rate < 1 || f->rate > (1ULL << 40))
            return err_set(err, -EINVAL, "bandwidth rate must be 1..2^40 bytes per second");
        return 0;
    case FAULT_ABORT:
        if (f->status == 0)
            return 0;
        if (f->status < 100 || f->status > 599)
            return err_set(err, -EINVAL, "abort status must be 100..599");
        return 0;
    case FAULT_SLOW_CLOSE:
        if (f->delay_ns == 0 || f->delay_ns > HOUR_NS)
            return err_set(err, -EINVAL, "slow_close needs a delay of at most 1h");
        return 0;
    case FAULT_SLICER:
        if (f->slice_size < 1 || f->slice_size > (1ULL << 30) || f->slice_delay_ns > HOUR_NS)
            return err_set(err, -EINVAL,
                           "slicer needs slice_size 1..1GiB and slice_delay at most 1h");
        return 0;
    default:
        return 0;
    }
}

static int check_schedule(const struct fault *f, struct err *err)
{
    if (f->start_ns > 30 * 24 * HOUR_NS || f->duration_ns > 30 * 24 * HOUR_NS)
        return err_set(err, -EINVAL, "start and duration must be at most 30 days");
    if ((f->every_ns == 0) != (f->active_ns == 0))
        return err_set(err, -EINVAL, "'every' and 'for' go together");
    if (f->every_ns && f->active_ns > f->every_ns)
        return err_set(err, -EINVAL, "'for' must not exceed 'every'");
    return 0;
}

int fault_check(struct fault *f, struct err *err)
{
    if (f->kind <= 0 || f->kind >= FAULT_KIND_COUNT)
        return err_set(err, -EINVAL, "unknown fault kind");
    if (!(f->probability >= 0.0 && f->probability <= 1.0))
        return err_set(err, -EINVAL, "probability must be a number from 0 to 1");
    if (f->kind == FAULT_ABORT && f->status == 0)
        f->status = 503;
    if (f->kind == FAULT_MEMORY && (f->memory < 4096 || f->memory > (1ULL << 40)))
        return err_set(err, -EINVAL, "memory fault needs 'memory' from 4KiB to 1TiB");
    int rc = check_request_kind(f, err);
    return rc ? rc : check_schedule(f, err);
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

void fault_copy(struct fault *dst, const struct fault *src)
{
    *dst = *src;
    dst->service = dup_or_null(src->service);
    dst->pool = dup_or_null(src->pool);
    dst->instance = dup_or_null(src->instance);
    dst->route_prefix = dup_or_null(src->route_prefix);
    dst->header = dup_or_null(src->header);
    dst->header_value = dup_or_null(src->header_value);
}

void fault_release(struct fault *f)
{
    if (!f)
        return;
    free(f->service);
    free(f->pool);
    free(f->instance);
    free(f->route_prefix);
    free(f->header);
    free(f->header_value);
    memset(f, 0, sizeof(*f));
}

bool fault_scheduled(const struct fault *f, uint64_t since_ns)
{
    if (since_ns < f->start_ns)
        return false;
    uint64_t in = since_ns - f->start_ns;
    if (f->duration_ns && in >= f->duration_ns)
        return false;
    return f->every_ns == 0 || in % f->every_ns < f->active_ns;
}

static bool header_matches(const struct fault *f, const struct http_head *req)
{
    if (!f->header)
        return true;
    const struct http_header *h = req ? http_head_find(req, f->header) : NULL;
    if (!h)
        return false;
    return !f->header_value || (h->value_len == strlen(f->header_value) &&
                                memcmp(h->value, f->header_value, h->value_len) == 0);
}

const char *fault_primary_refusal(const struct fault *f)
{
    if (f->kind != FAULT_LATENCY && f->kind != FAULT_ABORT && f->kind != FAULT_RESET)
        return "on the primary path only 'latency', 'abort' and 'reset' apply";
    if (f->direction != FAULT_DIR_REQUEST)
        return "on the primary path faults act in the request direction only";
    if (f->instance)
        return "on the primary path the scope cannot name an instance";
    return NULL;
}

bool fault_in_scope(const struct fault *f, const struct fault_probe *p)
{
    if ((f->instance != NULL) != (p->instance != NULL))
        return false;
    if (f->instance && strcmp(f->instance, p->instance) != 0)
        return false;
    if (f->service && strcmp(f->service, p->service) != 0)
        return false;
    /* Without a pool named, a fault covers the shadows only; "primary" must be named. */
    if (f->pool ? strcmp(f->pool, p->pool) != 0 : p->primary)
        return false;
    if (f->route_prefix && !(p->path && str_has_prefix(p->path, p->path_len, f->route_prefix)))
        return false;
    return header_matches(f, p->req);
}

/* Uniform in [0, 1) with 53 random bits. */
static double unit(struct rng *rng)
{
    return (double)(rng_next(rng) >> 11) * 0x1.0p-53;
}

uint64_t fault_latency_draw(const struct fault *f, struct rng *rng)
{
    double mean = (double)f->latency_ns, s = (double)f->jitter_ns, v;
    switch (f->dist) {
    case FAULT_DIST_NORMAL: {
        double u1 = 1.0 - unit(rng), u2 = unit(rng); /* Box-Muller; u1 in (0, 1] */
        v = mean + s * sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
        break;
    }
    case FAULT_DIST_EXPONENTIAL:
        v = -mean * log(1.0 - unit(rng));
        break;
    default:
        v = mean + s * (2.0 * unit(rng) - 1.0);
        break;
    }
    return v > 0 ? (uint64_t)v : 0;
}

bool fault_fires(const struct fault *f, struct rng *rng)
{
    if (f->probability >= 1.0)
        return true;
    return unit(rng) < f->probability;
}

/* Bytes per 10 ms step at `rate` bytes/s (at least one). */
static struct fault_throttle rate_throttle(uint64_t rate)
{
    uint64_t chunk = rate / 100;
    return (struct fault_throttle){.chunk = chunk ? chunk : 1, .delay_ns = 10000000ULL};
}

/* The tighter of two throttles (fewer bytes per ns). */
static void throttle_merge(struct fault_throttle *t, struct fault_throttle n)
{
    if (t->chunk == 0 ||
        (double)n.chunk / (double)(n.delay_ns + 1) < (double)t->chunk / (double)(t->delay_ns + 1))
        *t = n;
}

void fault_apply(const struct fault *f, struct rng *rng, struct fault_decision *d)
{
    bool req = f->direction == FAULT_DIR_REQUEST;
    struct fault_throttle *t = req ? &d->req : &d->resp;
    d->fired++;
    switch (f->kind) {
    case FAULT_LATENCY:
        *(req ? &d->req_delay_ns : &d->resp_delay_ns) += fault_latency_draw(f, rng);
        break;
    case FAULT_BANDWIDTH:
        throttle_merge(t, rate_throttle(f->rate));
        break;
    case FAULT_ABORT:
        if (!d->abort_status || (!req && d->abort_after)) {
            d->abort_status = f->status;
            d->abort_after = !req;
        }
        break;
    case FAULT_RESET:
        *(req ? &d->reset_request : &d->reset_response) = true;
        break;
    case FAULT_HANG:
        d->hang = true;
        break;
    case FAULT_SLOW_CLOSE:
        if (f->delay_ns > d->close_delay_ns)
            d->close_delay_ns = f->delay_ns;
        break;
    case FAULT_SLICER:
        throttle_merge(t, (struct fault_throttle){f->slice_size, f->slice_delay_ns});
        break;
    default:
        d->fired--; /* instance faults act on instances, not on copies */
        break;
    }
}

static void copy_name(char *dst, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= FAULT_NAME_MAX)
        n = FAULT_NAME_MAX - 1;
    memcpy(dst, src ? src : "", n);
    dst[n] = 0;
}

void fault_stats_hit(struct fault_stats *st, const struct fault_probe *p)
{
    atomic_fetch_add_explicit(&st->affected, 1, memory_order_relaxed);
    for (size_t i = 0; i < FAULT_POOL_SLOTS; i++) {
        struct fault_pool_count *c = &st->pools[i];
        uint32_t s = atomic_load_explicit(&c->state, memory_order_acquire);
        if (s == 0) {
            uint32_t expect = 0;
            if (atomic_compare_exchange_strong(&c->state, &expect, 1)) {
                c->pool_id = p->pool_id;
                copy_name(c->service, p->service);
                copy_name(c->pool, p->pool);
                atomic_fetch_add_explicit(&c->count, 1, memory_order_relaxed);
                atomic_store_explicit(&c->state, 2, memory_order_release);
                return;
            }
            s = expect;
        }
        /* A slot another worker is still naming is passed over, never waited for: the same
         * pool may then hold two slots, which the exposition adds up. */
        if (s == 2 && c->pool_id == p->pool_id) {
            atomic_fetch_add_explicit(&c->count, 1, memory_order_relaxed);
            return;
        }
    }
    atomic_fetch_add_explicit(&st->other, 1, memory_order_relaxed);
}
