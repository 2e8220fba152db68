/* SPDX-License-Identifier: Apache-2.0 */
/*
 * anomaly_speed: times anomaly_update alone (no parsing, no output) on 10^7 points of a
 * synthetic series (noise, a daily cycle, occasional spikes and steps) and prints
 * points per second of process CPU time (what the detector costs) and of wall time (what a
 * shared, noisy machine delivered). Built and run by bench/analyzer/nab.sh against
 * build/libdoppel.a.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "analyzer/anomaly.h"

#define NPOINTS 10000000

static double now(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(void)
{
    double *x = malloc(NPOINTS * sizeof(*x));
    uint64_t s = 88172645463325252ULL;
    if (!x)
        return 1;
    for (size_t i = 0; i < NPOINTS; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        double u = (double)(s >> 11) / 9007199254740992.0;
        x[i] = 50.0 + 10.0 * sin((double)i * 2.0 * M_PI / 288.0) + 4.0 * (u - 0.5) +
               (i % 5003 == 0 ? 40.0 : 0.0) + ((i / 20011) % 2 ? 15.0 : 0.0);
    }
    struct anomaly_params p;
    anomaly_params_default(&p);
    struct anomaly *a = anomaly_new(&p);
    double sum = 0, c0 = now(CLOCK_PROCESS_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
    for (size_t i = 0; i < NPOINTS; i++)
        sum += anomaly_update(a, 1.4e9 + 300.0 * (double)i, x[i]);
    double cpu = now(CLOCK_PROCESS_CPUTIME_ID) - c0, wall = now(CLOCK_MONOTONIC) - w0;
    anomaly_free(a);
    free(x);
    /* the sum keeps the loop from being optimised away */
    printf("%.0f points/s of CPU time, %.0f points/s of wall time (score sum %.3f)\n",
           NPOINTS / cpu, NPOINTS / wall, sum);
    return 0;
}
