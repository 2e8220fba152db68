/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hist: the log-linear latency histogram (layout and error bound in hist.h). Owns nothing
 * but the struct it is given; recording is a clamp, a count-leading-zeros, two shifts and
 * four relaxed load/store pairs.
 */
#include "base/hist.h"

#include <math.h>

/* The writer is alone, so a relaxed load and store replaces a locked read-modify-write. */
static inline void bump(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static inline uint64_t get(const _Atomic uint64_t *c)
{
    return atomic_load_explicit((_Atomic uint64_t *)c, memory_order_relaxed);
}

static inline void put(_Atomic uint64_t *c, uint64_t v)
{
    atomic_store_explicit(c, v, memory_order_relaxed);
}

/* Index in the unbounded layout of a value >= HIST_SUB_BUCKETS: the power of two selects
 * a row of 128 sub-buckets, the 7 bits below the leading one select the column. */
static inline unsigned abs_index(uint64_t v)
{
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - HIST_SUB_BITS;
    return (shift << HIST_SUB_BITS) + (unsigned)(v >> shift);
}

unsigned hist_bucket_index(uint64_t ns)
{
    if (ns < HIST_MIN_NS)
        ns = HIST_MIN_NS;
    else if (ns > HIST_MAX_NS)
        ns = HIST_MAX_NS;
    return abs_index(ns) - HIST_INDEX_LOW;
}

uint64_t hist_bucket_lower(unsigned index)
{
    unsigned i = index + HIST_INDEX_LOW;
    unsigned shift = (i >> HIST_SUB_BITS) - 1u;
    uint64_t m = (i & (HIST_SUB_BUCKETS - 1u)) + HIST_SUB_BUCKETS;
    return m << shift;
}

uint64_t hist_bucket_upper(unsigned index)
{
    unsigned i = index + HIST_INDEX_LOW;
    unsigned shift = (i >> HIST_SUB_BITS) - 1u;
    return hist_bucket_lower(index) + (1ULL << shift) - 1u;
}

void hist_init(struct hist *h)
{
    put(&h->count, 0);
    put(&h->sum, 0);
    put(&h->min, UINT64_MAX);
    put(&h->max, 0);
    put(&h->under, 0);
    put(&h->over, 0);
    for (unsigned i = 0; i < HIST_NBUCKETS; i++)
        put(&h->buckets[i], 0);
}

void hist_record(struct hist *h, uint64_t ns)
{
    if (ns < HIST_MIN_NS) {
        bump(&h->under, 1);
        ns = HIST_MIN_NS;
    } else if (ns > HIST_MAX_NS) {
        bump(&h->over, 1);
        ns = HIST_MAX_NS;
    }
    bump(&h->buckets[abs_index(ns) - HIST_INDEX_LOW], 1);
    bump(&h->sum, ns);
    bump(&h->count, 1);
    if (ns < get(&h->min))
        put(&h->min, ns);
    if (ns > get(&h->max))
        put(&h->max, ns);
}

void hist_merge(struct hist *dst, const struct hist *src)
{
    for (unsigned i = 0; i < HIST_NBUCKETS; i++)
        bump(&dst->buckets[i], get(&src->buckets[i]));
    bump(&dst->count, get(&src->count));
    bump(&dst->sum, get(&src->sum));
    bump(&dst->under, get(&src->under));
    bump(&dst->over, get(&src->over));
    if (get(&src->min) < get(&dst->min))
        put(&dst->min, get(&src->min));
    if (get(&src->max) > get(&dst->max))
        put(&dst->max, get(&src->max));
}

uint64_t hist_count(const struct hist *h)
{
    return get(&h->count);
}

uint64_t hist_sum(const struct hist *h)
{
    return get(&h->sum);
}

uint64_t hist_min(const struct hist *h)
{
    uint64_t v = get(&h->min);
    return v == UINT64_MAX ? 0 : v;
}

uint64_t hist_max(const struct hist *h)
{
    return get(&h->max);
}

uint64_t hist_under(const struct hist *h)
{
    return get(&h->under);
}

uint64_t hist_over(const struct hist *h)
{
    return get(&h->over);
}

static uint64_t total(const struct hist *h)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < HIST_NBUCKETS; i++)
        n += get(&h->buckets[i]);
    return n;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
    uint64_t n = total(h);
    if (n == 0)
        return 0;
    if (!(q > 0.0))
        q = 0.0; /* also maps NaN to the minimum */
    else if (q > 1.0)
        q = 1.0;
    uint64_t rank = (uint64_t)ceil(q * (double)n);
    if (rank < 1)
        rank = 1;
    if (rank >= n)
        return hist_max(h); /* the extremes are known exactly */
    if (rank == 1)
        return hist_min(h);
    unsigned i = 0;
    for (uint64_t seen = 0; i < HIST_NBUCKETS; i++) {
        seen += get(&h->buckets[i]);
        if (seen >= rank)
            break;
    }
    uint64_t lo = hist_bucket_lower(i), hi = hist_bucket_upper(i);
    uint64_t mid = lo + (hi - lo + 1) / 2;
    uint64_t mn = hist_min(h), mx = hist_max(h);
    if (mx && mid > mx)
        mid = mx;
    if (mid < mn)
        mid = mn;
    return mid;
}

uint64_t hist_count_le(const struct hist *h, uint64_t ns)
{
    if (ns < HIST_MIN_NS)
        return 0;
    unsigned last = hist_bucket_index(ns);
    uint64_t n = 0;
    for (unsigned i = 0; i <= last; i++)
        n += get(&h->buckets[i]);
    return n;
}
