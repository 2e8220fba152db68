/* SPDX-License-Identifier: Apache-2.0 */
/*
 * judge: the canary verdict. Takes samples per metric for a baseline and a canary (latency
 * per request, 0/1 errors per request, cpu or memory per window) and decides pass, marginal
 * or fail with a score from 0 to 100, explaining each metric by its tests, effect sizes and
 * intervals. Sits in the analyzer room (pure: no I/O, no globals); called by the controller
 * for progressive delivery and by `doppel analyze judge`. The result owns its metric array;
 * judge_result_release frees it. Names in configs and samples are borrowed.
 *
 * Per continuous metric it runs, as the metric's settings ask: a location test (Mann-Whitney
 * against a shift of `tolerance`, effect = Hodges-Lehmann ratio), a tail test (counts of
 * canary values among the top 10, 5, 2, 1, 0.5, 0.2 and 0.1 % of the pooled values, each by
 * Fisher's exact test against `tail_tolerance`, Bonferroni over the levels) and a spread
 * test (Mann-Whitney on absolute deviations from the median, against `spread_tolerance`).
 * Samples are in time order and both sides span the same time: with at least 50 values a
 * side, at most 200 000 in all, and not `windowed`, the location and spread tests run
 * within up to 8 time strata of equal shares (van Elteren's test), so a load drift both
 * sides saw does not blur them.
 * Per proportion metric: Fisher's exact test. All p-values of a verdict form one family
 * under Holm's adjustment at `alpha`.
 */
#ifndef DOPPEL_ANALYZER_JUDGE_H
#define DOPPEL_ANALYZER_JUDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

enum judge_kind { JUDGE_CONTINUOUS = 0, JUDGE_PROPORTION };
/* Which change is bad. */
enum judge_direction { JUDGE_INCREASE = 0, JUDGE_DECREASE, JUDGE_EITHER };
/* What a metric without enough data on a side counts as. */
enum judge_missing {
    JUDGE_MISSING_IGNORE = 0,
    JUDGE_MISSING_PASS,
    JUDGE_MISSING_MARGINAL,
    JUDGE_MISSING_FAIL
};
enum judge_outliers { JUDGE_OUTLIERS_KEEP = 0, JUDGE_OUTLIERS_CLIP };
enum judge_status { JUDGE_PASS = 0, JUDGE_MARGINAL, JUDGE_FAIL };

struct judge_metric_config {
    const char *name; /* borrowed */
    enum judge_kind kind;
    enum judge_direction direction;
    double tolerance;        /* relative location change tolerated (0.04 = 4 %) */
    double tail_tolerance;   /* relative change of upper quantiles tolerated; < 0 disables */
    double spread_tolerance; /* relative change of the spread tolerated; < 0 disables */
    double weight;           /* share in the score */
    bool critical;           /* a failure fails the verdict whatever the score */
    bool windowed;           /* autocorrelated windows: widen tests by lag-1 correlation */
    enum judge_missing missing;
    enum judge_outliers outliers;
    double clip_quantile; /* JUDGE_OUTLIERS_CLIP: winsorize above this pooled quantile */
    size_t min_samples;   /* per side; fewer is missing data */
};

struct judge_config {
    double alpha;          /* family-wise error rate of one verdict */
    double pass_score;     /* score >= this and no failed critical metric: pass */
    double marginal_score; /* score >= this: marginal; below: fail */
    unsigned bootstrap;    /* resamples for intervals without a closed form (0: none) */
    uint64_t seed;         /* of the bootstrap generator */
    size_t nmetrics;
    const struct judge_metric_config *metrics; /* borrowed; others get defaults by name */
};

/* Samples of one metric (borrowed). */
struct judge_sample {
    const char *name;
    const double *baseline, *canary;
    size_t nbaseline, ncanary;
};

#define JUDGE_MAX_CHECKS 8

struct judge_check {
    char test[48];    /* e.g. "tail-exceedance", "mann-whitney", "fisher-exact" */
    char measure[48]; /* what the effect measures, e.g. "p99 ratio - 1" */
    double p;         /* raw p-value against the tolerance */
    double p_adjusted;
    double effect, lo, hi; /* estimate and interval at 1 - alpha */
    double tolerance;
    bool within_tolerance; /* the estimate itself is inside the tolerance: cannot fail */
    enum judge_status status;
};

struct judge_metric_result {
    const char *name; /* borrowed from the sample or the config */
    struct judge_metric_config config;
    size_t nbaseline, ncanary;
    enum judge_status status;
    size_t worst; /* index of the deciding check (nchecks when none) */
    size_t nchecks;
    struct judge_check checks[JUDGE_MAX_CHECKS];
    char reason[256];
};

struct judge_result {
    enum judge_status verdict;
    double score;
    size_t nmetrics;
    struct judge_metric_result *metrics; /* owned */
    char reason[512];
};

void judge_config_init(struct judge_config *c);
/* Settings for a metric not in the config, from its name: latency* (increase is bad, tails
 * and spread, critical), error* (0/1 proportion, critical), cpu* and mem* (windows,
 * increase is bad), anything else (either direction). */
void judge_metric_defaults(const char *name, struct judge_metric_config *out);
/* Settings used for a metric: the config's entry of that name, or the defaults. */
void judge_metric_lookup(const struct judge_config *c, const char *name,
                         struct judge_metric_config *out);

/* Judges n metrics. -EINVAL with a message for values a metric cannot take (non-finite,
 * not 0/1 for a proportion). */
int judge_run(const struct judge_config *c, const struct judge_sample *samples, size_t n,
              struct judge_result *out, struct err *err);
void judge_result_release(struct judge_result *r);

const char *judge_status_name(enum judge_status s);

#endif
