/* SPDX-License-Identifier: Apache-2.0 */
/*
 * clock: monotonic and wall time in one unit (nanoseconds) so durations never mix units.
 */
#ifndef DOPPEL_BASE_CLOCK_H
#define DOPPEL_BASE_CLOCK_H

#include <stdint.h>

#define CLOCK_NS_PER_US 1000ULL
#define CLOCK_NS_PER_MS 1000000ULL
#define CLOCK_NS_PER_S 1000000000ULL

uint64_t clock_mono_ns(void);
uint64_t clock_wall_ns(void);

#endif
