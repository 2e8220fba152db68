/* SPDX-License-Identifier: Apache-2.0 */
/*
 * capacity: how latency and resources of one instance grow with load, where the latency
 * SLO breaks (the knee), and how many instances of what size carry a forecast peak. Part
 * of the analyzer (pure: no I/O, no allocation): the stress ramp on a shadow, or the
 * observer's samples, bring (load, p99 latency, CPU, memory) per instance; the controller
 * and `doppel analyze capacity` read the plan.
 *
 * Latency is queueing-aware, not a line: p99(x) = base / (1 - x / cap) (the M/M/1 shape:
 * flat at low load, unbounded as load x nears the capacity cap). It is fitted by least
 * squares on the latency itself (Gauss-Newton from the closed-form fit of 1/p99, which
 * is linear in x). CPU and memory are fitted as lines in load; the recommendation adds
 * the VPA's idea of a margin over a high percentile of what the line does not explain.
 */
#ifndef DOPPEL_ANALYZER_CAPACITY_H
#define DOPPEL_ANALYZER_CAPACITY_H

#include <stddef.h>

struct capacity_obs {
    double load_rps; /* per instance */
    double latency_p99_ms;
    double cpu_cores; /* per instance */
    double memory_mb; /* per instance */
};

struct capacity_fit {
    size_t n;
    double base_ms, cap_rps;  /* p99(x) = base_ms / (1 - x / cap_rps) */
    double latency_rmse_ms;   /* of the fit, on observations below cap */
    double cpu0, cpu_per_rps; /* cpu(x) = cpu0 + cpu_per_rps x */
    double mem0, mem_per_rps; /* memory(x) = mem0 + mem_per_rps x */
    double cpu_resid_p90;     /* 90th percentile of cpu - cpu(x) (>= 0) */
    double mem_resid_p95;     /* 95th percentile of memory - memory(x) (>= 0) */
    double max_load_rps;      /* highest load observed */
};

struct capacity_plan {
    double knee_rps;          /* per-instance load where p99 reaches the target */
    double safe_rps;          /* knee / (1 + margin): the load one instance is given */
    int instances;            /* for the peak */
    double load_per_instance; /* peak / instances */
    double latency_at_peak_ms;
    double cpu_cores; /* per-instance request: (fit + p90 residual) x (1 + margin) */
    double memory_mb; /* per-instance request: (fit + p95 residual) x (1 + margin) */
    int extrapolated; /* 1 when the knee lies beyond the highest observed load */
};

/* Least-squares fit of y = base / (1 - x / cap) (x >= 0, y > 0, n >= 3, at least two
 * distinct x). Returns 0, -EINVAL (bad input) or -EDOM (latency does not grow with load,
 * so no capacity can be read from the data). */
int capacity_fit_latency(const double *x, const double *y, size_t n, double *base, double *cap);
/* Fits all of struct capacity_fit. work holds 3 n doubles of scratch space (the
 * caller's). Same results as capacity_fit_latency, or -EINVAL when the loads have no
 * spread. */
int capacity_fit_all(const struct capacity_obs *obs, size_t n, double *work,
                     struct capacity_fit *fit);
/* The plan for a total peak load (> 0) under a p99 target (ms, > base) with a safety
 * margin (>= 0, e.g. 0.2). Returns 0, -EINVAL or -EDOM (target at or below base latency:
 * no load meets it). */
int capacity_plan(const struct capacity_fit *fit, double target_p99_ms, double peak_rps,
                  double margin, struct capacity_plan *plan);
/* p-quantile (0..1, linear interpolation, R type 7) of v[0..n), which it sorts. */
double capacity_quantile(double *v, size_t n, double p);

#endif
