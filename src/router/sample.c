/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sample: xoshiro256** (Blackman and Vigna, 2018) seeded by splitmix64, and the unbiased
 * bounded draw behind the router's mirror sampling decision (see sample.h). The state is
 * the caller's; this file has no globals.
 */
#include "router/sample.h"

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void sample_rng_seed(struct sample_rng *rng, uint64_t seed)
{
    /* splitmix64 is a bijection of its counter, so four consecutive outputs are never all
     * zero: the state xoshiro must avoid cannot be reached. */
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&seed);
}

uint64_t sample_rng_next(struct sample_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint32_t sample_rng_below(struct sample_rng *rng, uint32_t n)
{
    /* Lemire, "Fast random integer generation in an interval" (2019): the high half of
     * x * n is uniform in [0, n) once the low halves below 2^32 mod n are rejected. The
     * top 32 bits of the generator are used, its strongest. */
    uint64_t m = (sample_rng_next(rng) >> 32) * (uint64_t)n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (uint32_t)-n % n;
        while (low < threshold) {
            m = (sample_rng_next(rng) >> 32) * (uint64_t)n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

bool sample_take(struct sample_rng *rng, uint32_t percent_bp)
{
    if (percent_bp == 0)
        return false;
    if (percent_bp >= SAMPLE_BP_ALL)
        return true;
    return sample_rng_below(rng, SAMPLE_BP_ALL) < percent_bp;
}
