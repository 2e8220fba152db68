/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hist: a fixed-size log-linear latency histogram in nanoseconds, covering 1 us to 60 s
 * with at most 0.4 % relative error on any quantile. The observer keeps one per worker
 * shard and series; the data path records into it on every request, readers (the
 * /metrics exposition, snapshots, the analyzer's windows) merge and query copies.
 *
 * Layout (HdrHistogram-like). Every power-of-two range [2^k, 2^(k+1)) is split into
 * HIST_SUB_BUCKETS = 128 linear sub-buckets of width 2^(k-7). A value v lies in a bucket
 * whose lower edge is at least 128 widths, so the bucket midpoint, which is what a
 * quantile query reports, is within half a width of v: a relative error of at most
 * 1/256 = 0.39 %, comfortably inside the 1 % target even after the small extra step
 * between adjacent order statistics. 64 sub-buckets would also meet 1 % (0.78 %) with half
 * the memory; 128 leaves margin for count_le bounds and costs 26 KiB per histogram.
 * The bucket index is two shifts and a count-leading-zeros, no log().
 *
 * Range. Values below HIST_MIN_NS are recorded as HIST_MIN_NS and counted in `under`,
 * values above HIST_MAX_NS as HIST_MAX_NS and counted in `over`; `sum` adds the clamped
 * values. Only the buckets between those two ends exist (HIST_NBUCKETS).
 *
 * Concurrency. One writer thread per histogram, any number of concurrent readers. All
 * fields are relaxed atomics; the writer uses plain load + store (no locked instruction,
 * which is why a second writer would lose updates). A reader may see a slightly torn
 * snapshot (a bucket bumped before `count`), which is acceptable for metrics; queries
 * therefore total the buckets themselves instead of trusting `count`.
 */
#ifndef DOPPEL_BASE_HIST_H
#define DOPPEL_BASE_HIST_H

#include <stdatomic.h>
#include <stdint.h>

#define HIST_SUB_BITS 7
#define HIST_SUB_BUCKETS (1u << HIST_SUB_BITS)
#define HIST_MIN_NS 1000ULL        /* 1 us */
#define HIST_MAX_NS 60000000000ULL /* 60 s */
/* Absolute indexes of HIST_MIN_NS and HIST_MAX_NS in the unbounded layout; the unit test
 * checks them against hist_bucket_index(). */
#define HIST_INDEX_LOW 506u
#define HIST_INDEX_HIGH 3807u
#define HIST_NBUCKETS (HIST_INDEX_HIGH - HIST_INDEX_LOW + 1u)

struct hist {
    _Atomic uint64_t count; /* values recorded */
    _Atomic uint64_t sum;   /* of the clamped values, ns */
    _Atomic uint64_t min;   /* UINT64_MAX while empty; clamped */
    _Atomic uint64_t max;   /* 0 while empty; clamped */
    _Atomic uint64_t under; /* values below HIST_MIN_NS */
    _Atomic uint64_t over;  /* values above HIST_MAX_NS */
    _Atomic uint64_t buckets[HIST_NBUCKETS];
};

/* Empties h (no allocation; h may live anywhere). */
void hist_init(struct hist *h);
/* Records one value. Single writer per histogram; O(1), no allocation. */
void hist_record(struct hist *h, uint64_t ns);
/* Adds src into dst. dst must have no other writer during the merge. */
void hist_merge(struct hist *dst, const struct hist *src);

uint64_t hist_count(const struct hist *h);
uint64_t hist_sum(const struct hist *h);
/* Smallest / largest value recorded (clamped); 0 when empty. */
uint64_t hist_min(const struct hist *h);
uint64_t hist_max(const struct hist *h);
/* Values recorded below HIST_MIN_NS / above HIST_MAX_NS. */
uint64_t hist_under(const struct hist *h);
uint64_t hist_over(const struct hist *h);

/* The q-quantile (0 <= q <= 1, NaN read as 0) in ns: the midpoint of the bucket holding the
 * value of rank ceil(q * n), clamped to [min, max]; rank 1 and rank n return min and max
 * exactly. 0 when empty. */
uint64_t hist_quantile(const struct hist *h, double q);
/* Values recorded <= ns, counting the whole bucket that holds ns (its upper edge is at
 * most 0.78 % above ns). 0 below HIST_MIN_NS; the bucket total from HIST_MAX_NS up.
 * hist_count_le(h, UINT64_MAX) is the consistent total for a Prometheus "+Inf" bucket. */
uint64_t hist_count_le(const struct hist *h, uint64_t ns);

/* Layout, exposed for tests: the bucket (0 .. HIST_NBUCKETS-1) holding a clamped value,
 * and the inclusive value range of a bucket. hist_bucket_index() of a value outside
 * [HIST_MIN_NS, HIST_MAX_NS] returns the index of the nearest end. */
unsigned hist_bucket_index(uint64_t ns);
uint64_t hist_bucket_lower(unsigned index);
uint64_t hist_bucket_upper(unsigned index);

#endif
