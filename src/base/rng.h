/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rng: the one pseudo-random generator of doppel, xoshiro256** seeded by splitmix64
 * (Blackman and Vigna). Fast, not cryptographic; the state is the caller's, so each worker
 * thread owns one and the analyzer's resampling stays a pure function of its seed.
 */
#ifndef DOPPEL_BASE_RNG_H
#define DOPPEL_BASE_RNG_H

#include <stdint.h>

struct rng {
    uint64_t s[4]; /* never all zero once seeded */
};

void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
/* Uniform in [0, n), n > 0, without modulo bias: Lemire's multiply-shift (32-bit n) and
 * rejection of the incomplete last block (64-bit n). */
uint32_t rng_below32(struct rng *r, uint32_t n);
uint64_t rng_below64(struct rng *r, uint64_t n);

#endif
