/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for router/sample: the generator against an independent implementation, the
 * bounded draw against a chi-square bound, and the sampling rate against binomial
 * intervals from scipy. Seeds are fixed, so every run draws the same numbers and the
 * statistical checks cannot flake; a wrong generator or a biased draw still fails them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "router/sample.h"

#define DRAWS 100000

/* Reference stream for seed 20261122, from a separate Python implementation of splitmix64
 * seeding and xoshiro256** (the published reference algorithms):
 *   /usr/bin/python3 - <<'PY'
 *   M=(1<<64)-1
 *   def sm(x):
 *       x=(x+0x9e3779b97f4a7c15)&M; z=x
 *       z=((z^(z>>30))*0xbf58476d1ce4e5b9)&M; z=((z^(z>>27))*0x94d049bb133111eb)&M
 *       return x, z^(z>>31)
 *   def rotl(x,k): return ((x<<k)|(x>>(64-k)))&M
 *   x=20261122; s=[]
 *   for i in range(4):
 *       x,v=sm(x); s.append(v)
 *   out=[]
 *   for i in range(5):
 *       r=(rotl((s[1]*5)&M,7)*9)&M; t=(s[1]<<17)&M
 *       s[2]^=s[0]; s[3]^=s[1]; s[1]^=s[2]; s[0]^=s[3]; s[2]^=t; s[3]=rotl(s[3],45)
 *       out.append(r)
 *   print([hex(v) for v in out])
 *   PY
 * printed ['0xce37efc44147fcbe', '0x48f528fb0ba84bfc', '0xb1be854d50a90d36',
 *          '0x721324eaaf1ee466', '0x79f44ac63e04ec81'] */
static void test_rng_next_matches_reference(void **state)
{
    (void)state;
    static const uint64_t want[] = {0xce37efc44147fcbeULL, 0x48f528fb0ba84bfcULL,
                                    0xb1be854d50a90d36ULL, 0x721324eaaf1ee466ULL,
                                    0x79f44ac63e04ec81ULL};
    struct rng rng;
    rng_seed(&rng, 20261122);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_int_equal(rng_next(&rng), want[i]);
}

static void test_rng_seed_zero_gives_nonzero_state(void **state)
{
    (void)state;
    struct rng rng;
    rng_seed(&rng, 0);
    assert_true(rng.s[0] | rng.s[1] | rng.s[2] | rng.s[3]);
    uint64_t a = rng_next(&rng), b = rng_next(&rng);
    assert_true(a != b);
}

static void test_rng_seed_different_seeds_differ(void **state)
{
    (void)state;
    struct rng a, b, c;
    rng_seed(&a, 1);
    rng_seed(&b, 2);
    rng_seed(&c, 1);
    int same_ab = 0;
    for (int i = 0; i < 64; i++) {
        uint64_t x = rng_next(&a), y = rng_next(&b), z = rng_next(&c);
        same_ab += x == y;
        assert_int_equal(x, z); /* the same seed replays the same stream */
    }
    assert_int_equal(same_ab, 0);
}

/* 10^5 draws in [0, 10) must spread evenly: Pearson's statistic against the 99.9 %
 * quantile of chi-square with 9 degrees of freedom,
 *   /usr/bin/python3 -c 'from scipy.stats import chi2; print(chi2.ppf(0.999, 9))'
 *   -> 27.877164871256568 */
static void test_rng_below32_uniform_chi_square(void **state)
{
    (void)state;
    unsigned counts[10] = {0};
    struct rng rng;
    rng_seed(&rng, 7);
    for (int i = 0; i < DRAWS; i++) {
        uint32_t v = rng_below32(&rng, 10);
        assert_true(v < 10);
        counts[v]++;
    }
    double expect = DRAWS / 10.0, stat = 0;
    for (int i = 0; i < 10; i++)
        stat += (counts[i] - expect) * (counts[i] - expect) / expect;
    assert_true(stat < 27.877164871256568);
}

static void test_rng_below32_bounds(void **state)
{
    (void)state;
    struct rng rng;
    rng_seed(&rng, 99);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(rng_below32(&rng, 1), 0);
    /* n close to 2^32 exercises the rejection path (threshold 2^32 mod n is large). */
    uint32_t n = 0xC0000001u, top = 0;
    for (int i = 0; i < 10000; i++) {
        uint32_t v = rng_below32(&rng, n);
        assert_true(v < n);
        top += v >= 0x80000000u;
    }
    /* P(v >= 2^31) = (n - 2^31) / n = 1/3 for an unbiased draw, while x mod n (which
     * doubles the mass of the values below 2^32 - n) would give 1/4. Binomial(10^4, 1/3) 99.9 %:
     *   /usr/bin/python3 -c 'from scipy.stats import binom; print(binom.ppf(0.0005, 10000,
     *     (0xC0000001-2**31)/0xC0000001), binom.ppf(0.9995, 10000, (0xC0000001-2**31)/0xC0000001))'
     *   -> 3179.0 3489.0 */
    assert_in_range(top, 3179, 3489);
}

static unsigned count_taken(uint32_t bp, uint64_t seed)
{
    struct rng rng;
    rng_seed(&rng, seed);
    unsigned taken = 0;
    for (int i = 0; i < DRAWS; i++)
        taken += sample_take(&rng, bp);
    return taken;
}

/* Two-sided 99.9 % binomial intervals for 10^5 decisions, from scipy:
 *   /usr/bin/python3 -c 'from scipy.stats import binom; print(binom.ppf(0.0005, 100000, P),
 *     binom.ppf(0.9995, 100000, P))'
 * with P = 0.0001 -> 2.0 22.0;  P = 0.01 -> 898.0 1105.0;  P = 0.5 -> 49480.0 50520.0;
 *      P = 0.9999 -> 99978.0 99998.0 */
static void test_sample_take_rate_in_binomial_interval(void **state)
{
    (void)state;
    assert_in_range(count_taken(1, 11), 2, 22);
    assert_in_range(count_taken(100, 12), 898, 1105);
    assert_in_range(count_taken(5000, 13), 49480, 50520);
    assert_in_range(count_taken(9999, 14), 99978, 99998);
}

static void test_sample_take_zero_never_full_always(void **state)
{
    (void)state;
    assert_int_equal(count_taken(0, 21), 0);
    assert_int_equal(count_taken(SAMPLE_BP_ALL, 22), DRAWS);
    assert_int_equal(count_taken(SAMPLE_BP_ALL + 1, 23), DRAWS);
}

static void test_sample_take_edges_consume_no_randomness(void **state)
{
    (void)state;
    struct rng a, b;
    rng_seed(&a, 5);
    rng_seed(&b, 5);
    sample_take(&a, 0);
    sample_take(&a, SAMPLE_BP_ALL);
    assert_int_equal(rng_next(&a), rng_next(&b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_next_matches_reference),
        cmocka_unit_test(test_rng_seed_zero_gives_nonzero_state),
        cmocka_unit_test(test_rng_seed_different_seeds_differ),
        cmocka_unit_test(test_rng_below32_uniform_chi_square),
        cmocka_unit_test(test_rng_below32_bounds),
        cmocka_unit_test(test_sample_take_rate_in_binomial_interval),
        cmocka_unit_test(test_sample_take_zero_never_full_always),
        cmocka_unit_test(test_sample_take_edges_consume_no_randomness),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
