/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sample: the per-request mirror sampling decision. The router asks sample_take() once per
 * request with the route's mirror percentage in basis points of a percent (0.01 %
 * granularity). The generator is base/rng.h's xoshiro256**: fast, small, and not
 * cryptographic, which is all a sampling decision needs. Each worker thread owns one
 * struct rng, so there is no shared state and no locking on the data path.
 */
#ifndef DOPPEL_ROUTER_SAMPLE_H
#define DOPPEL_ROUTER_SAMPLE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/rng.h"

/* 100 % in the unit sample_take() expects: 1 = 0.01 %, 10000 = 100 %. */
#define SAMPLE_BP_ALL 10000u

/* Whether to take this request: true with probability percent_bp / 10000. 0 never draws
 * true, SAMPLE_BP_ALL (or more) always does; neither consumes a random number. */
bool sample_take(struct rng *rng, uint32_t percent_bp);

#endif
