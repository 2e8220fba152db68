/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sample: the per-request mirror sampling decision. The router asks sample_take() once per
 * request with the route's mirror percentage in basis points of a percent (0.01 %
 * granularity). The generator is xoshiro256** seeded by splitmix64: fast, small, and not
 * cryptographic, which is all a sampling decision needs. Each worker thread owns one
 * struct sample_rng, so there is no shared state and no locking on the data path.
 */
#ifndef DOPPEL_ROUTER_SAMPLE_H
#define DOPPEL_ROUTER_SAMPLE_H

#include <stdbool.h>
#include <stdint.h>

/* 100 % in the unit sample_take() expects: 1 = 0.01 %, 10000 = 100 %. */
#define SAMPLE_BP_ALL 10000u

struct sample_rng {
    uint64_t s[4]; /* xoshiro256** state; never all zero once seeded */
};

/* Expands one 64-bit seed into the full state with splitmix64 (any seed, 0 included). */
void sample_rng_seed(struct sample_rng *rng, uint64_t seed);
/* The next 64 uniformly distributed bits. */
uint64_t sample_rng_next(struct sample_rng *rng);
/* A uniform integer in [0, n), n >= 1, without modulo bias (Lemire's multiply-shift with
 * rejection of the biased low range). */
uint32_t sample_rng_below(struct sample_rng *rng, uint32_t n);
/* Whether to take this request: true with probability percent_bp / 10000. 0 never draws
 * true, SAMPLE_BP_ALL (or more) always does; neither consumes a random number. */
bool sample_take(struct sample_rng *rng, uint32_t percent_bp);

#endif
