/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rating: the resilience score formula (see rating.h). Pure.
 */
#include "analyzer/rating.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define W_SURVIVAL 0.5
#define W_RECOVERY 0.3
#define W_BUDGET 0.2

char rating_grade(double score)
{
    if (score >= 90)
        return 'A';
    if (score >= 80)
        return 'B';
    if (score >= 70)
        return 'C';
    if (score >= 60)
        return 'D';
    return 'F';
}

int rating_compute(const struct rating_run *runs, size_t n, double target_s,
                   struct rating_result *r)
{
    memset(r, 0, sizeof(*r));
    if (n == 0 || !(target_s > 0) || !isfinite(target_s))
        return -EINVAL;
    double rec = 0, burned = 0, rec_s = 0;
    size_t recovered = 0;
    for (size_t i = 0; i < n; i++) {
        const struct rating_run *u = &runs[i];
        if (!(u->budget_burned >= 0) || !isfinite(u->budget_burned))
            return -EINVAL;
        burned += u->budget_burned;
        if (u->failed) {
            r->failures++;
            continue;
        }
        if (!(u->recovery_s >= 0) || !isfinite(u->recovery_s))
            return -EINVAL;
        rec += target_s / (target_s + u->recovery_s);
        rec_s += u->recovery_s;
        recovered++;
    }
    r->runs = n;
    r->survival = 1 - (double)r->failures / (double)n;
    r->recovery = rec / (double)n;
    r->budget = fmax(0, 1 - burned / (double)n);
    r->mean_recovery_s = recovered ? rec_s / (double)recovered : NAN;
    r->score = 100 * (W_SURVIVAL * r->survival + W_RECOVERY * r->recovery + W_BUDGET * r->budget);
    r->grade = rating_grade(r->score);
    return 0;
}
