/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rating: a resilience score (0-100) and grade (A-F) for one service from the outcomes
 * of fault-injection runs. Part of the analyzer (pure): the chaos room and
 * `doppel analyze rating` bring plain run records, the admin reports print the result.
 *
 * Formula (docs/cli-analyze-degrade.md):
 *   survival  S = 1 - failed runs / runs                (a run fails when the SLO broke
 *                                                         and the service did not recover)
 *   recovery  R = mean over runs of T / (T + recovery_s), failed runs count 0
 *                 (T = the recovery target: recovering in T seconds scores 0.5)
 *   budget    B = max(0, 1 - mean error-budget fraction burned per run)
 *   score = 100 (0.5 S + 0.3 R + 0.2 B); grade A >= 90, B >= 80, C >= 70, D >= 60, else F.
 */
#ifndef DOPPEL_ANALYZER_RATING_H
#define DOPPEL_ANALYZER_RATING_H

#include <stddef.h>

struct rating_run {
    int failed;           /* 1: the SLO broke and the service did not recover in the run */
    double recovery_s;    /* time from the fault to healthy again (ignored when failed) */
    double budget_burned; /* fraction of the error budget the run consumed (>= 0) */
};

struct rating_result {
    size_t runs, failures;
    double survival, recovery, budget; /* components, each in [0, 1] */
    double mean_recovery_s;            /* over runs that recovered; NAN if none */
    double score;                      /* 0..100 */
    char grade;                        /* 'A'..'D', 'F' */
};

/* Rates n >= 1 runs with recovery target target_s > 0. Returns 0 or -EINVAL (no runs,
 * target <= 0, a negative or non-finite recovery time or budget). */
int rating_compute(const struct rating_run *runs, size_t n, double target_s,
                   struct rating_result *r);
/* Grade of a score: 'A' >= 90, 'B' >= 80, 'C' >= 70, 'D' >= 60, else 'F'. */
char rating_grade(double score);

#endif
