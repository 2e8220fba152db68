/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for base/hist: the layout covers 1 us .. 60 s without gaps, quantiles of large
 * random samples stay within the error bound of the exact sample quantiles, merging equals
 * recording the union, and values at and beyond the ends are clamped and counted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/hist.h"
#include "base/xalloc.h"
#include "testlib.h"

#define NSAMPLES 200000

/* splitmix64: a small deterministic generator, so failures reproduce. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double rng_unit(uint64_t *s) /* (0, 1) */
{
    return ((double)(rng_next(s) >> 11) + 0.5) / 9007199254740992.0;
}

static double rng_normal(uint64_t *s)
{
    return sqrt(-2.0 * log(rng_unit(s))) * cos(2.0 * M_PI * rng_unit(s));
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static struct hist *hist_new_test(void)
{
    struct hist *h = xmalloc(sizeof(*h));
    hist_init(h);
    return h;
}

/* The exact sample quantile of rank ceil(q n) ("inverted CDF", numpy method='inverted_cdf'),
 * and the linearly interpolated one (numpy's default, R type 7). */
static double exact_inverted_cdf(const uint64_t *sorted, size_t n, double q)
{
    size_t rank = (size_t)ceil(q * (double)n);
    return (double)sorted[(rank ? rank : 1) - 1];
}

static double exact_linear(const uint64_t *sorted, size_t n, double q)
{
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    size_t hi = lo + 1 < n ? lo + 1 : lo;
    return (double)sorted[lo] + (pos - (double)lo) * ((double)sorted[hi] - (double)sorted[lo]);
}

/* Records the sample and checks p50/p90/p99/p99.9 against the exact values: within the
 * layout's bound (1/256) of the same rank, within 1 % of the interpolated definition. */
static void check_quantiles(uint64_t *v, size_t n)
{
    static const double qs[] = {0.5, 0.9, 0.99, 0.999};
    struct hist *h = hist_new_test();
    for (size_t i = 0; i < n; i++)
        hist_record(h, v[i]);
    qsort(v, n, sizeof(v[0]), cmp_u64);
    assert_int_equal(hist_count(h), n);
    for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
        double got = (double)hist_quantile(h, qs[k]);
        assert_rel_close(got, exact_inverted_cdf(v, n, qs[k]), 1.0 / 256.0);
        assert_rel_close(got, exact_linear(v, n, qs[k]), 0.01);
    }
    assert_int_equal(hist_min(h), v[0]);
    assert_int_equal(hist_max(h), v[n - 1]);
    free(h);
}

static void test_hist_bucket_index_covers_range_without_gaps(void **state)
{
    (void)state;
    assert_int_equal(hist_bucket_index(HIST_MIN_NS), 0);
    assert_int_equal(hist_bucket_index(HIST_MAX_NS), HIST_NBUCKETS - 1);
    assert_int_equal(hist_bucket_lower(0), HIST_MIN_NS);
    assert_true(hist_bucket_lower(HIST_NBUCKETS - 1) <= HIST_MAX_NS);
    assert_true(hist_bucket_upper(HIST_NBUCKETS - 1) >= HIST_MAX_NS);
    for (unsigned i = 0; i < HIST_NBUCKETS; i++) {
        uint64_t lo = hist_bucket_lower(i), hi = hist_bucket_upper(i);
        if (i + 1 < HIST_NBUCKETS)
            assert_int_equal(hi + 1, hist_bucket_lower(i + 1));
        if (lo >= HIST_MIN_NS)
            assert_int_equal(hist_bucket_index(lo), i);
        if (hi <= HIST_MAX_NS)
            assert_int_equal(hist_bucket_index(hi), i);
        /* width / lower edge <= 1/128: the midpoint is within 1/256 of any member */
        assert_true((hi - lo + 1) * 128 <= lo);
    }
}

static void test_hist_quantile_lognormal_within_bound(void **state)
{
    (void)state;
    uint64_t seed = 1, *v = xcalloc(NSAMPLES, sizeof(*v));
    for (size_t i = 0; i < NSAMPLES; i++) /* median 20 ms, sigma 1 */
        v[i] = (uint64_t)exp(log(20e6) + rng_normal(&seed));
    check_quantiles(v, NSAMPLES);
    free(v);
}

static void test_hist_quantile_uniform_within_bound(void **state)
{
    (void)state;
    uint64_t seed = 2, *v = xcalloc(NSAMPLES, sizeof(*v));
    for (size_t i = 0; i < NSAMPLES; i++) /* 100 us .. 2 s */
        v[i] = (uint64_t)(100e3 + rng_unit(&seed) * (2e9 - 100e3));
    check_quantiles(v, NSAMPLES);
    free(v);
}

static void test_hist_quantile_bimodal_within_bound(void **state)
{
    (void)state;
    uint64_t seed = 3, *v = xcalloc(NSAMPLES, sizeof(*v));
    for (size_t i = 0; i < NSAMPLES; i++) { /* 80 % ~ N(5 ms, 0.5 ms), 20 % ~ N(200 ms, 20 ms) */
        double x = rng_unit(&seed) < 0.8 ? 5e6 + 0.5e6 * rng_normal(&seed)
                                         : 200e6 + 20e6 * rng_normal(&seed);
        v[i] = (uint64_t)(x < 2e3 ? 2e3 : x);
    }
    check_quantiles(v, NSAMPLES);
    free(v);
}

static void test_hist_quantile_known_answer_ladder(void **state)
{
    (void)state;
    /* x_i = 100 i^2 ns, i = 1..10000 (the first three fall below 1 us and are clamped).
     * Reference: /usr/bin/python3 -c "import numpy as np; x=(np.arange(1,10001)**2)*100;
     *   print([np.quantile(x,q,method='inverted_cdf') for q in (0.5,0.9,0.99,0.999)])"
     * -> 2500000000 8100000000 9801000000 9980010000 */
    struct hist *h = hist_new_test();
    for (uint64_t i = 1; i <= 10000; i++)
        hist_record(h, 100 * i * i);
    assert_rel_close((double)hist_quantile(h, 0.5), 2500000000.0, 1.0 / 256);
    assert_rel_close((double)hist_quantile(h, 0.9), 8100000000.0, 1.0 / 256);
    assert_rel_close((double)hist_quantile(h, 0.99), 9801000000.0, 1.0 / 256);
    assert_rel_close((double)hist_quantile(h, 0.999), 9980010000.0, 1.0 / 256);
    assert_int_equal(hist_under(h), 3);
    assert_int_equal(hist_quantile(h, 1.0), 10000000000ULL);
    assert_int_equal(hist_quantile(h, 0.0), HIST_MIN_NS);
    free(h);
}

static void assert_hist_equal(const struct hist *a, const struct hist *b)
{
    assert_int_equal(hist_count(a), hist_count(b));
    assert_int_equal(hist_sum(a), hist_sum(b));
    assert_int_equal(hist_min(a), hist_min(b));
    assert_int_equal(hist_max(a), hist_max(b));
    assert_int_equal(hist_under(a), hist_under(b));
    assert_int_equal(hist_over(a), hist_over(b));
    for (unsigned i = 0; i < HIST_NBUCKETS; i++)
        assert_int_equal(atomic_load(&a->buckets[i]), atomic_load(&b->buckets[i]));
}

static void test_hist_merge_equals_recording_union(void **state)
{
    (void)state;
    struct hist *a = hist_new_test(), *b = hist_new_test(), *u = hist_new_test();
    uint64_t seed = 4;
    for (int i = 0; i < 50000; i++) {
        uint64_t x = (uint64_t)exp(log(1e6) + 2.0 * rng_normal(&seed)); /* spans both ends */
        hist_record(i % 3 ? a : b, x);
        hist_record(u, x);
    }
    hist_record(b, 70000000000ULL);
    hist_record(u, 70000000000ULL);
    hist_merge(a, b);
    assert_hist_equal(a, u);
    struct hist *empty = hist_new_test();
    hist_merge(a, empty); /* merging an empty histogram changes nothing, min included */
    assert_hist_equal(a, u);
    hist_merge(empty, u); /* and merging into one copies */
    assert_hist_equal(empty, u);
    free(a);
    free(b);
    free(u);
    free(empty);
}

static void test_hist_record_clamps_and_counts_edges(void **state)
{
    (void)state;
    struct hist *h = hist_new_test();
    const uint64_t v[] = {0, 999, 1000, HIST_MAX_NS, HIST_MAX_NS + 1, UINT64_MAX};
    for (size_t i = 0; i < 6; i++)
        hist_record(h, v[i]);
    assert_int_equal(hist_count(h), 6);
    assert_int_equal(hist_under(h), 2);
    assert_int_equal(hist_over(h), 2);
    assert_int_equal(hist_min(h), HIST_MIN_NS);
    assert_int_equal(hist_max(h), HIST_MAX_NS);
    assert_int_equal(hist_sum(h), 3 * HIST_MIN_NS + 3 * HIST_MAX_NS);
    assert_int_equal(atomic_load(&h->buckets[0]), 3);
    assert_int_equal(atomic_load(&h->buckets[HIST_NBUCKETS - 1]), 3);
    assert_int_equal(hist_quantile(h, 0.0), HIST_MIN_NS);
    assert_rel_close((double)hist_quantile(h, 0.5), HIST_MIN_NS, 1.0 / 256);
    assert_rel_close((double)hist_quantile(h, 0.51), HIST_MAX_NS, 1.0 / 256);
    assert_int_equal(hist_quantile(h, 1.0), HIST_MAX_NS);
    assert_int_equal(hist_quantile(h, NAN), HIST_MIN_NS);
    assert_int_equal(hist_quantile(h, 7.0), HIST_MAX_NS);
    free(h);
}

static void test_hist_quantile_empty_and_single_value(void **state)
{
    (void)state;
    struct hist *h = hist_new_test();
    assert_int_equal(hist_quantile(h, 0.5), 0);
    assert_int_equal(hist_min(h), 0);
    assert_int_equal(hist_max(h), 0);
    assert_int_equal(hist_count_le(h, UINT64_MAX), 0);
    hist_record(h, 123457);
    /* one value: clamping the midpoint to [min, max] makes every quantile exact */
    assert_int_equal(hist_quantile(h, 0.0), 123457);
    assert_int_equal(hist_quantile(h, 0.999), 123457);
    free(h);
}

static void test_hist_count_le_cumulative(void **state)
{
    (void)state;
    struct hist *h = hist_new_test();
    for (int i = 0; i < 10; i++)
        hist_record(h, 1000000); /* 1 ms */
    for (int i = 0; i < 5; i++)
        hist_record(h, 10000000); /* 10 ms */
    hist_record(h, 1000000000);   /* 1 s */
    assert_int_equal(hist_count_le(h, 999), 0);
    assert_int_equal(hist_count_le(h, 500000), 0);
    assert_int_equal(hist_count_le(h, 1000000), 10);
    assert_int_equal(hist_count_le(h, 9000000), 10);
    assert_int_equal(hist_count_le(h, 10000000), 15);
    assert_int_equal(hist_count_le(h, 990000000), 15); /* 999 ms shares the 1 s bucket */
    assert_int_equal(hist_count_le(h, 1000000000), 16);
    assert_int_equal(hist_count_le(h, UINT64_MAX), 16);
    free(h);
}

static void test_hist_count_le_brackets_exact_count(void **state)
{
    (void)state;
    uint64_t seed = 5, *v = xcalloc(NSAMPLES, sizeof(*v));
    struct hist *h = hist_new_test();
    for (size_t i = 0; i < NSAMPLES; i++) {
        v[i] = (uint64_t)exp(log(20e6) + rng_normal(&seed));
        hist_record(h, v[i]);
    }
    qsort(v, NSAMPLES, sizeof(v[0]), cmp_u64);
    const uint64_t les[] = {500000, 1000000, 5000000, 25000000, 100000000, 1000000000};
    for (size_t k = 0; k < 6; k++) {
        /* exact <= count_le(x) <= exact count at x (1 + 1/128) */
        size_t lo = 0, hi = 0;
        while (lo < NSAMPLES && v[lo] <= les[k])
            lo++;
        while (hi < NSAMPLES && v[hi] <= les[k] + les[k] / 128)
            hi++;
        uint64_t got = hist_count_le(h, les[k]);
        assert_true(got >= lo);
        assert_true(got <= hi);
    }
    free(h);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hist_bucket_index_covers_range_without_gaps),
        cmocka_unit_test(test_hist_quantile_lognormal_within_bound),
        cmocka_unit_test(test_hist_quantile_uniform_within_bound),
        cmocka_unit_test(test_hist_quantile_bimodal_within_bound),
        cmocka_unit_test(test_hist_quantile_known_answer_ladder),
        cmocka_unit_test(test_hist_merge_equals_recording_union),
        cmocka_unit_test(test_hist_record_clamps_and_counts_edges),
        cmocka_unit_test(test_hist_quantile_empty_and_single_value),
        cmocka_unit_test(test_hist_count_le_cumulative),
        cmocka_unit_test(test_hist_count_le_brackets_exact_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
