/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sample: xoshiro256** (Blackman and Vigna, 2018) seeded by splitmix64, and the unbiased
 * bounded draw behind the router's mirror sampling decision (see sample.h). The state is
 * the caller's; this file has no globals.
 */
#include "router/sample.h"

bool sample_take(struct rng *rng, uint32_t percent_bp)
{
    if (percent_bp == 0)
        return false;
    if (percent_bp >= SAMPLE_BP_ALL)
        return true;
    return rng_below32(rng, SAMPLE_BP_ALL) < percent_bp;
}
