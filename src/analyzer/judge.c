/* SPDX-License-Identifier: Apache-2.0 */
/*
 * judge: the canary verdict (see judge.h for the method). Each metric is prepared (outliers,
 * sort, log scale when every value is positive, time strata of its rows, orientation so
 * that "greater" is bad), its checks produce raw p-values against their tolerances, then
 * one Holm adjustment over every check of the verdict sets the statuses, the score and the
 * verdict. Scratch arrays live only inside judge_run; the result owns its metric array.
 */
#include "analyzer/judge.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer/stats.h"
#include "base/xalloc.h"

/* Time strata of the location and spread tests: at most STRATA_MAX, each with at least
 * STRATUM_MIN values a side, and none past STRATA_TOTAL values in all: there the tests'
 * own noise is far below any tolerance, and strata would double the judge's time. */
enum { STRATA_MAX = 8, STRATUM_MIN = 25, STRATA_TOTAL = 200000 };

/* One side pair of prepared values: sorted, on the log scale when log_scale. */
struct prep {
    double *b, *c; /* owned scratch */
    size_t nb, nc;
    int log_scale;
    double inflate;  /* variance inflation for autocorrelated windows (1 otherwise) */
    double mad;      /* baseline's MAD on the raw scale: floor of the reference level */
    double limit;    /* winsorizing limit (INFINITY when outliers are kept) */
    size_t k;        /* time strata (0: none) */
    double *sb, *sc; /* owned: each side in time order cut into k strata, each sorted */
    size_t ob[STRATA_MAX + 1], oc[STRATA_MAX + 1]; /* stratum offsets */
};

const char *judge_status_name(enum judge_status s)
{
    return s == JUDGE_FAIL ? "fail" : s == JUDGE_MARGINAL ? "marginal" : "pass";
}

void judge_config_init(struct judge_config *c)
{
    memset(c, 0, sizeof(*c));
    c->alpha = 0.02;
    c->pass_score = 90;
    c->marginal_score = 75;
    c->bootstrap = 400;
    c->seed = 1;
}

static int has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

void judge_metric_defaults(const char *name, struct judge_metric_config *m)
{
    memset(m, 0, sizeof(*m));
    m->name = name;
    m->kind = JUDGE_CONTINUOUS;
    m->direction = JUDGE_EITHER;
    m->tolerance = 0.10;
    m->tail_tolerance = -1;
    m->spread_tolerance = -1;
    m->weight = 1;
    m->missing = JUDGE_MISSING_MARGINAL;
    m->outliers = JUDGE_OUTLIERS_KEEP;
    m->clip_quantile = 0.999;
    m->min_samples = 10;
    if (has_prefix(name, "latency")) {
        m->direction = JUDGE_INCREASE;
        m->tolerance = 0.04;
        m->tail_tolerance = 0.10;
        m->spread_tolerance = 0.10;
        m->critical = true;
    } else if (has_prefix(name, "error")) {
        m->kind = JUDGE_PROPORTION;
        m->direction = JUDGE_INCREASE;
        m->tolerance = 0;
        m->critical = true;
    } else if (has_prefix(name, "cpu") || has_prefix(name, "mem")) {
        m->direction = JUDGE_INCREASE;
        m->windowed = true;
    }
}

void judge_metric_lookup(const struct judge_config *c, const char *name,
                         struct judge_metric_config *out)
{
    for (size_t i = 0; i < c->nmetrics; i++) {
        if (strcmp(c->metrics[i].name, name) == 0) {
            *out = c->metrics[i];
            out->name = name;
            return;
        }
    }
    judge_metric_defaults(name, out);
}

/* ---- preparation ------------------------------------------------------------------- */

/* Lag-1 autocorrelation of a series in time order, clamped to [0, 0.9]. */
static double lag1(const double *v, size_t n)
{
    if (n < 3)
        return 0;
    double mean = 0, num = 0, den = 0;
    for (size_t i = 0; i < n; i++)
        mean += v[i] / (double)n;
    for (size_t i = 0; i < n; i++) {
        den += (v[i] - mean) * (v[i] - mean);
        if (i > 0)
            num += (v[i] - mean) * (v[i - 1] - mean);
    }
    double r = den > 0 ? num / den : 0;
    return r < 0 ? 0 : r > 0.9 ? 0.9 : r;
}

static void clip_above(double *v, size_t n, double limit)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] > limit)
            v[i] = limit;
}

/* Winsorizes both sides above the pooled clip quantile (both already sorted). */
static void clip_outliers(struct prep *p, double q)
{
    size_t n = p->nb + p->nc;
    double *all = xmalloc(n * sizeof(*all));
    memcpy(all, p->b, p->nb * sizeof(*all));
    memcpy(all + p->nb, p->c, p->nc * sizeof(*all));
    stats_sort(all, n);
    p->limit = stats_quantile_sorted(all, n, q);
    free(all);
    clip_above(p->b, p->nb, p->limit);
    clip_above(p->c, p->nc, p->limit);
}

/* Offsets of k strata of consecutive rows of n (stratum j holds rows i with i k / n == j). */
static void strata_offsets(size_t n, size_t k, size_t *o)
{
    for (size_t j = 0; j <= k; j++)
        o[j] = (j * n + k - 1) / k;
}

static void sort_strata(double *v, const size_t *o, size_t k)
{
    for (size_t j = 0; j < k; j++)
        stats_sort(v + o[j], o[j + 1] - o[j]);
}

static void log_all(double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = log(v[i]);
}

/* Time strata for metrics in request order: the baseline and the canary span the same
 * time, so the j-th share of either side saw the same load; comparing within strata
 * removes what the load's drift adds to both. Windowed metrics keep their own correction. */
static size_t strata_count(const struct prep *p, const struct judge_metric_config *m)
{
    size_t nmin = p->nb < p->nc ? p->nb : p->nc, k = nmin / STRATUM_MIN;
    k = k < STRATA_MAX ? k : STRATA_MAX;
    return m->windowed || k < 2 || p->nb + p->nc > STRATA_TOTAL ? 0 : k;
}

/* With strata and no clipping: each side's strata are sorted and put on the log scale
 * first, and the sorted sides are sorted copies of them (one log pass per value). */
static void prep_from_strata(struct prep *p, const struct judge_sample *s)
{
    p->sb = xmalloc(p->nb * sizeof(double));
    p->sc = xmalloc(p->nc * sizeof(double));
    memcpy(p->sb, s->baseline, p->nb * sizeof(double));
    memcpy(p->sc, s->canary, p->nc * sizeof(double));
    strata_offsets(p->nb, p->k, p->ob);
    strata_offsets(p->nc, p->k, p->oc);
    sort_strata(p->sb, p->ob, p->k);
    sort_strata(p->sc, p->oc, p->k);
    double lo = INFINITY;
    for (size_t j = 0; j < p->k; j++)
        lo = fmin(lo, fmin(p->sb[p->ob[j]], p->sc[p->oc[j]]));
    p->log_scale = lo > 0;
    if (p->log_scale) {
        log_all(p->sb, p->nb);
        log_all(p->sc, p->nc);
    }
    memcpy(p->b, p->sb, p->nb * sizeof(double));
    memcpy(p->c, p->sc, p->nc * sizeof(double));
    stats_sort(p->b, p->nb);
    stats_sort(p->c, p->nc);
}

/* One side in time order as strata, prepared like the sorted copy (clipped, log scale). */
static double *strata_of(const struct prep *p, const double *v, size_t n, size_t *o)
{
    double *out = xmalloc(n * sizeof(*out));
    for (size_t i = 0; i < n; i++) {
        double x = v[i] > p->limit ? p->limit : v[i];
        out[i] = p->log_scale ? log(x) : x;
    }
    strata_offsets(n, p->k, o);
    sort_strata(out, o, p->k);
    return out;
}

/* Without strata or with clipping: sort, clip, then the log scale on the sorted copies. */
static void prep_sorted(struct prep *p, const struct judge_sample *s,
                        const struct judge_metric_config *m)
{
    memcpy(p->b, s->baseline, p->nb * sizeof(double));
    memcpy(p->c, s->canary, p->nc * sizeof(double));
    stats_sort(p->b, p->nb);
    stats_sort(p->c, p->nc);
    if (m->outliers == JUDGE_OUTLIERS_CLIP)
        clip_outliers(p, m->clip_quantile);
    p->log_scale = p->b[0] > 0 && p->c[0] > 0;
    if (p->k) {
        p->sb = strata_of(p, s->baseline, p->nb, p->ob);
        p->sc = strata_of(p, s->canary, p->nc, p->oc);
    }
    if (p->log_scale) {
        log_all(p->b, p->nb);
        log_all(p->c, p->nc);
    }
}

static void prep_init(struct prep *p, const struct judge_sample *s,
                      const struct judge_metric_config *m)
{
    memset(p, 0, sizeof(*p));
    p->limit = INFINITY;
    p->nb = s->nbaseline;
    p->nc = s->ncanary;
    p->b = xmalloc((p->nb ? p->nb : 1) * sizeof(double));
    p->c = xmalloc((p->nc ? p->nc : 1) * sizeof(double));
    p->inflate = 1;
    if (m->windowed) {
        double r =
            (lag1(s->baseline, p->nb) * (double)p->nb + lag1(s->canary, p->nc) * (double)p->nc) /
            (double)(p->nb + p->nc);
        p->inflate = (1 + r) / (1 - r);
    }
    p->k = strata_count(p, m);
    if (p->k && m->outliers != JUDGE_OUTLIERS_CLIP)
        prep_from_strata(p, s);
    else
        prep_sorted(p, s, m);
    if (!p->log_scale) {
        double *scratch = xmalloc(p->nb * sizeof(*scratch));
        p->mad = stats_mad_sorted(p->b, p->nb, scratch);
        free(scratch);
    }
}

static void prep_release(struct prep *p)
{
    free(p->b);
    free(p->c);
    free(p->sb);
    free(p->sc);
}

/* Negates and reverses a sorted array, so it stays sorted ascending. */
static void flip(double *v, size_t n)
{
    for (size_t i = 0, j = n; i < j--; i++) {
        double t = v[i];
        v[i] = -v[j];
        v[j] = -t;
    }
}

/* On the raw scale (some value <= 0) changes are relative to |level|, or to the baseline's
 * MAD when that is larger, so values around zero do not make every change huge. */
static double raw_level(const struct prep *p, double level)
{
    double l = fmax(fabs(level), p->mad);
    return l > 0 ? l : 1;
}

/* A relative change r as a shift on the prepared scale around the reference level. */
static double shift_of(const struct prep *p, double r, double level)
{
    return p->log_scale ? log1p(r) : r * raw_level(p, level);
}

/* A difference d on the prepared scale as a relative change from the reference level. */
static double relative_of(const struct prep *p, double d, double level)
{
    return p->log_scale ? expm1(d) : d / raw_level(p, level);
}

/* ---- checks ------------------------------------------------------------------------ */

static struct judge_check *check_add(struct judge_metric_result *r, const char *test,
                                     const char *measure, double tol)
{
    BUG_ON(r->nchecks >= JUDGE_MAX_CHECKS);
    struct judge_check *k = &r->checks[r->nchecks++];
    memset(k, 0, sizeof(*k));
    snprintf(k->test, sizeof(k->test), "%s", test);
    snprintf(k->measure, sizeof(k->measure), "%s", measure);
    k->tolerance = tol;
    k->p = 1;
    return k;
}

/* Mann-Whitney "x - d greater than y", p-value widened for autocorrelated windows. */
static double mw_greater(const double *x, size_t m, const double *y, size_t n, double d,
                         double inflate)
{
    struct stats_mw mw;
    if (stats_mann_whitney_shifted(x, m, y, n, d, STATS_GREATER, &mw) != 0)
        return 1;
    if (inflate > 1)
        return stats_norm_sf(mw.z / sqrt(inflate));
    return mw.p;
}

/* Location: H0 canary <= baseline shifted by the tolerance (sign > 0), or canary >=
 * baseline shifted down by it (sign < 0: "canary - s less than baseline" is "baseline - s
 * greater than canary"). Van Elteren's test within time strata when there are strata. */
static double location_p(const struct prep *p, double tol, int sign)
{
    double level = stats_quantile_sorted(p->b, p->nb, 0.5);
    double s = shift_of(p, tol, level);
    struct stats_mw ve;
    if (p->k && sign > 0)
        return stats_van_elteren(p->sc, p->oc, p->sb, p->ob, p->k, s, STATS_GREATER, &ve) ? 1
                                                                                          : ve.p;
    if (p->k)
        return stats_van_elteren(p->sb, p->ob, p->sc, p->oc, p->k, s, STATS_GREATER, &ve) ? 1
                                                                                          : ve.p;
    if (sign > 0)
        return mw_greater(p->c, p->nc, p->b, p->nb, s, p->inflate);
    return mw_greater(p->b, p->nb, p->c, p->nc, s, p->inflate);
}

/* Quantiles at (i + 0.5) / k of sorted v: a sorted summary of k points. */
static double *thin(const double *v, size_t n, size_t k)
{
    double *t = xmalloc(k * sizeof(*t));
    for (size_t i = 0; i < k; i++)
        t[i] = stats_quantile_sorted(v, n, ((double)i + 0.5) / (double)k);
    return t;
}

/* Hodges-Lehmann shift of canary over baseline. Past HL_MAX points a side, it is computed
 * on HL_MAX quantiles of each side (the estimate moves by far less than its interval) and
 * the interval is narrowed back to the full sizes by sqrt((1/nb + 1/nc) / (2 / HL_MAX)). */
static void location_shift(const struct prep *p, double conf, struct stats_interval *hl)
{
    enum { HL_MAX = 20000 };
    if (p->nb <= HL_MAX && p->nc <= HL_MAX) {
        stats_hodges_lehmann(p->c, p->nc, p->b, p->nb, conf, hl);
        return;
    }
    double *b = thin(p->b, p->nb, HL_MAX), *c = thin(p->c, p->nc, HL_MAX);
    stats_hodges_lehmann(c, HL_MAX, b, HL_MAX, conf, hl);
    double f = sqrt((1.0 / (double)p->nb + 1.0 / (double)p->nc) / (2.0 / HL_MAX));
    hl->lo = hl->est - (hl->est - hl->lo) * f;
    hl->hi = hl->est + (hl->hi - hl->est) * f;
    free(b);
    free(c);
}

static void check_location(const struct prep *p, const struct judge_metric_config *m, double alpha,
                           struct judge_metric_result *r)
{
    struct stats_interval hl = {0, 0, 0};
    double level = stats_quantile_sorted(p->b, p->nb, 0.5);
    location_shift(p, 1 - alpha, &hl);
    double w = sqrt(p->inflate); /* widen the interval like the test */
    hl.lo = hl.est - (hl.est - hl.lo) * w;
    hl.hi = hl.est + (hl.hi - hl.est) * w;
    for (int sign = 1; sign >= -1; sign -= 2) {
        if ((sign > 0 && m->direction == JUDGE_DECREASE) ||
            (sign < 0 && m->direction == JUDGE_INCREASE))
            continue;
        struct judge_check *k =
            check_add(r, "mann-whitney", sign > 0 ? "shift up" : "shift down", m->tolerance);
        k->p = location_p(p, m->tolerance, sign);
        k->effect = relative_of(p, hl.est, level);
        k->lo = relative_of(p, hl.lo, level);
        k->hi = relative_of(p, hl.hi, level);
    }
}

/* Upper-tail fractions of the exceedance ladder; a level needs TAIL_MIN_TOP pooled values. */
static const double tail_fractions[] = {0.10, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001};
enum { TAIL_MIN_TOP = 4 };

/* The ladder (H0: the canary's upper tail <= the baseline's shifted by the tolerance): one
 * exceedance test per fraction f with round(f N) >= TAIL_MIN_TOP, the canary shifted by the
 * tolerance at that level, the least p-value times the number of levels (Bonferroni). b, c
 * oriented and sorted (sign < 0: negated); *f_best: the fraction of the least p-value. */
static double tail_ladder_p(const struct prep *p, const double *b, const double *c, int sign,
                            double tol, double *f_best)
{
    size_t n = p->nb + p->nc, levels = 0;
    double best = 1;
    *f_best = tail_fractions[0];
    for (size_t i = 0; i < sizeof(tail_fractions) / sizeof(tail_fractions[0]); i++) {
        double f = tail_fractions[i];
        size_t r = (size_t)llround(f * (double)n);
        if (r < TAIL_MIN_TOP || r >= n)
            continue;
        levels++;
        double level = stats_quantile_sorted(p->b, p->nb, sign > 0 ? 1 - f : f);
        double q = stats_top_exceedance(c, p->nc, b, p->nb, shift_of(p, tol, level), r);
        if (q < best) {
            best = q;
            *f_best = f;
        }
    }
    return levels ? fmin(1, best * (double)levels) : 1;
}

/* Interval of the difference of q-quantiles: delta method on order-statistic intervals. */
static void quantile_effect(const struct prep *p, double q, double alpha, struct judge_check *k)
{
    double qb = stats_quantile_sorted(p->b, p->nb, q), qc = stats_quantile_sorted(p->c, p->nc, q);
    double bl, bh, cl, ch, z = stats_norm_ppf(1 - alpha / 2);
    stats_quantile_ci(p->b, p->nb, q, 1 - alpha, &bl, &bh);
    stats_quantile_ci(p->c, p->nc, q, 1 - alpha, &cl, &ch);
    double se = hypot((bh - bl) / (2 * z), (ch - cl) / (2 * z));
    double d = qc - qb;
    k->effect = relative_of(p, d, qb);
    k->lo = relative_of(p, d - z * se, qb);
    k->hi = relative_of(p, d + z * se, qb);
}

/* Tail check in one direction (sign < 0: the lower tail, on negated values). Reports the
 * quantile change at the ladder level that decided. */
static void check_tail(const struct prep *p, const struct judge_metric_config *m, int sign,
                       double alpha, struct judge_metric_result *r)
{
    if (m->tail_tolerance < 0 || (double)(p->nb + p->nc) * tail_fractions[0] < TAIL_MIN_TOP)
        return;
    struct judge_check *k = check_add(r, "tail-exceedance", "", m->tail_tolerance);
    double f;
    if (sign > 0) {
        k->p = tail_ladder_p(p, p->b, p->c, sign, m->tail_tolerance, &f);
    } else {
        double *b = xmalloc(p->nb * sizeof(*b)), *c = xmalloc(p->nc * sizeof(*c));
        memcpy(b, p->b, p->nb * sizeof(*b));
        memcpy(c, p->c, p->nc * sizeof(*c));
        flip(b, p->nb);
        flip(c, p->nc);
        k->p = tail_ladder_p(p, b, c, sign, m->tail_tolerance, &f);
        free(b);
        free(c);
    }
    double qo = sign > 0 ? 1 - f : f; /* the quantile on the original orientation */
    snprintf(k->measure, sizeof(k->measure), "p%g ratio - 1", qo * 100);
    quantile_effect(p, qo, alpha, k);
}

static double mad_ratio_cb(const double *x, size_t m, const double *y, size_t n, void *arg)
{
    (void)arg;
    double *a = xmalloc((m + n) * sizeof(*a)), *s = xmalloc((m > n ? m : n) * sizeof(*s));
    memcpy(a, x, m * sizeof(*a));
    memcpy(a + m, y, n * sizeof(*a));
    stats_sort(a, m);
    stats_sort(a + m, n);
    double mx = stats_mad_sorted(a, m, s), my = stats_mad_sorted(a + m, n, s);
    free(a);
    free(s);
    return my > 0 ? log(mx / my) : NAN;
}

/* Spread ratio interval: bootstrap for small samples, else the delta method on the
 * order-statistic intervals of the median deviations (db, dc sorted deviations). */
static void spread_effect(const struct prep *p, const double *db, const double *dc,
                          const struct judge_config *cfg, struct judge_check *k)
{
    double mb = stats_quantile_sorted(db, p->nb, 0.5), mc = stats_quantile_sorted(dc, p->nc, 0.5);
    double est = mb > 0 && mc > 0 ? log(mc / mb) : 0, lo = est, hi = est;
    if (cfg->bootstrap >= 10 && p->nb + p->nc <= 4000) {
        struct rng rng;
        rng_seed(&rng, cfg->seed);
        stats_bootstrap_ci(p->c, p->nc, p->b, p->nb, mad_ratio_cb, NULL, cfg->bootstrap,
                           1 - cfg->alpha, &rng, &lo, &hi);
    } else if (mb > 0 && mc > 0) {
        double bl, bh, cl, ch, z = stats_norm_ppf(1 - cfg->alpha / 2);
        stats_quantile_ci(db, p->nb, 0.5, 1 - cfg->alpha, &bl, &bh);
        stats_quantile_ci(dc, p->nc, 0.5, 1 - cfg->alpha, &cl, &ch);
        double se = hypot((log(bh) - log(fmax(bl, 1e-300))) / (2 * z),
                          (log(ch) - log(fmax(cl, 1e-300))) / (2 * z));
        lo = est - z * se;
        hi = est + z * se;
    }
    k->effect = expm1(est);
    k->lo = expm1(lo);
    k->hi = expm1(hi);
}

/* Absolute deviations from each stratum's own median, sorted within the strata. */
static void strata_dev(const double *v, const size_t *o, size_t k, double *out)
{
    for (size_t j = 0; j < k; j++) {
        size_t n = o[j + 1] - o[j];
        stats_abs_dev_sorted(v + o[j], n, stats_quantile_sorted(v + o[j], n, 0.5), out + o[j]);
    }
}

/* Spread (H0: canary's deviations <= baseline's times 1 + tolerance): Mann-Whitney on the
 * absolute deviations from each side's own median, so a shift alone does not count; with
 * time strata, van Elteren's test on the deviations from each stratum's median. */
static void check_spread(const struct prep *p, const struct judge_config *cfg,
                         const struct judge_metric_config *m, struct judge_metric_result *r)
{
    if (m->spread_tolerance < 0 || p->nb < 20 || p->nc < 20)
        return;
    struct judge_check *k =
        check_add(r, "mann-whitney-spread", "spread ratio - 1", m->spread_tolerance);
    double *db = xmalloc(p->nb * sizeof(*db)), *dc = xmalloc(p->nc * sizeof(*dc));
    stats_abs_dev_sorted(p->b, p->nb, stats_quantile_sorted(p->b, p->nb, 0.5), db);
    stats_abs_dev_sorted(p->c, p->nc, stats_quantile_sorted(p->c, p->nc, 0.5), dc);
    spread_effect(p, db, dc, cfg, k);
    if (p->k) {
        strata_dev(p->sb, p->ob, p->k, db);
        strata_dev(p->sc, p->oc, p->k, dc);
    }
    for (size_t i = 0; i < p->nc; i++)
        dc[i] /= 1 + m->spread_tolerance;
    struct stats_mw ve;
    if (p->k)
        k->p = stats_van_elteren(dc, p->oc, db, p->ob, p->k, 0, STATS_GREATER, &ve) ? 1 : ve.p;
    else
        k->p = mw_greater(dc, p->nc, db, p->nb, 0, p->inflate);
    free(db);
    free(dc);
}

static int count_ones(const double *v, size_t n, const char *name, const char *side, uint64_t *k,
                      struct err *err)
{
    *k = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] != 0 && v[i] != 1)
            return err_set(err, -EINVAL, "metric '%s': %s value %g is not 0 or 1", name, side,
                           v[i]);
        *k += v[i] == 1;
    }
    return 0;
}

/* Proportions: Fisher's exact test per bad direction; a failure also needs the canary's
 * rate beyond the baseline's by the tolerance (relative). */
static int check_proportion(const struct judge_sample *s, const struct judge_config *cfg,
                            const struct judge_metric_config *m, struct judge_metric_result *r,
                            struct err *err)
{
    uint64_t kb, kc, nb = s->nbaseline, nc = s->ncanary;
    if (count_ones(s->baseline, nb, s->name, "baseline", &kb, err) ||
        count_ones(s->canary, nc, s->name, "canary", &kc, err))
        return -EINVAL;
    struct stats_prop pr;
    stats_two_proportion(kc, nc, kb, nb, STATS_TWO_SIDED, 1 - cfg->alpha, &pr);
    for (int sign = 1; sign >= -1; sign -= 2) {
        if ((sign > 0 && m->direction == JUDGE_DECREASE) ||
            (sign < 0 && m->direction == JUDGE_INCREASE))
            continue;
        struct judge_check *k =
            check_add(r, "fisher-exact", sign > 0 ? "rate difference" : "rate drop", m->tolerance);
        k->p = stats_fisher_exact(kc, nc - kc, kb, nb - kb, sign > 0 ? STATS_GREATER : STATS_LESS);
        double beyond =
            sign > 0 ? pr.p1 - pr.p2 * (1 + m->tolerance) : pr.p2 * (1 - m->tolerance) - pr.p1;
        k->within_tolerance = !(beyond > 0);
        k->effect = pr.p1 - pr.p2;
        k->lo = pr.lo;
        k->hi = pr.hi;
    }
    return 0;
}

/* ---- one metric -------------------------------------------------------------------- */

static void missing_data(struct judge_metric_result *r, const char *why)
{
    static const enum judge_status as[] = {[JUDGE_MISSING_IGNORE] = JUDGE_PASS,
                                           [JUDGE_MISSING_PASS] = JUDGE_PASS,
                                           [JUDGE_MISSING_MARGINAL] = JUDGE_MARGINAL,
                                           [JUDGE_MISSING_FAIL] = JUDGE_FAIL};
    r->status = as[r->config.missing];
    snprintf(r->reason, sizeof(r->reason), "missing data: %s%s", why,
             r->config.missing == JUDGE_MISSING_IGNORE ? " (ignored)" : "");
}

static int check_finite(const struct judge_sample *s, struct err *err)
{
    for (size_t i = 0; i < s->nbaseline + s->ncanary; i++) {
        double v = i < s->nbaseline ? s->baseline[i] : s->canary[i - s->nbaseline];
        if (!isfinite(v))
            return err_set(err, -EINVAL, "metric '%s': %s value is not finite", s->name,
                           i < s->nbaseline ? "baseline" : "canary");
    }
    return 0;
}

static int judge_metric(const struct judge_config *c, const struct judge_sample *s,
                        struct judge_metric_result *r, struct err *err)
{
    const struct judge_metric_config *m = &r->config;
    r->nbaseline = s->nbaseline;
    r->ncanary = s->ncanary;
    if (s->nbaseline < m->min_samples || s->ncanary < m->min_samples) {
        char why[96];
        snprintf(why, sizeof(why), "%zu baseline and %zu canary samples, %zu needed per side",
                 s->nbaseline, s->ncanary, m->min_samples);
        missing_data(r, why);
        return 0;
    }
    int rc = check_finite(s, err);
    if (rc)
        return rc;
    if (m->kind == JUDGE_PROPORTION)
        return check_proportion(s, c, m, r, err);
    struct prep p;
    prep_init(&p, s, m);
    check_location(&p, m, c->alpha, r);
    for (int sign = 1; sign >= -1; sign -= 2) {
        if ((sign > 0 && m->direction == JUDGE_DECREASE) ||
            (sign < 0 && m->direction == JUDGE_INCREASE))
            continue;
        check_tail(&p, m, sign, c->alpha, r);
    }
    check_spread(&p, c, m, r);
    prep_release(&p);
    return 0;
}

/* ---- the verdict ------------------------------------------------------------------- */

/* Weighted Holm over every check of the verdict (a metric's weight shared by its checks,
 * so a metric with many checks does not dilute the others), then the statuses. */
static void adjust_and_grade(struct judge_result *res, double alpha)
{
    size_t k = 0;
    for (size_t i = 0; i < res->nmetrics; i++)
        k += res->metrics[i].nchecks;
    double *p = xmalloc((k ? k : 1) * sizeof(*p)), *w = xmalloc((k ? k : 1) * sizeof(*w));
    size_t o = 0;
    for (size_t i = 0; i < res->nmetrics; i++) {
        const struct judge_metric_result *r = &res->metrics[i];
        for (size_t j = 0; j < r->nchecks; j++, o++) {
            p[o] = r->checks[j].p;
            w[o] = (r->config.weight > 0 ? r->config.weight : 1) / (double)r->nchecks;
        }
    }
    stats_holm_weighted(p, w, k);
    free(w);
    o = 0;
    for (size_t i = 0; i < res->nmetrics; i++) {
        struct judge_metric_result *r = &res->metrics[i];
        r->worst = r->nchecks;
        for (size_t j = 0; j < r->nchecks; j++) {
            struct judge_check *ck = &r->checks[j];
            ck->p_adjusted = p[o++];
            ck->status = ck->within_tolerance     ? JUDGE_PASS
                         : ck->p_adjusted < alpha ? JUDGE_FAIL
                         : ck->p < alpha          ? JUDGE_MARGINAL
                                                  : JUDGE_PASS;
            if (r->worst == r->nchecks || ck->status > r->checks[r->worst].status ||
                (ck->status == r->checks[r->worst].status && ck->p < r->checks[r->worst].p))
                r->worst = j;
            if (ck->status > r->status)
                r->status = ck->status;
        }
    }
    free(p);
}

static void metric_reason(struct judge_metric_result *r, double alpha)
{
    if (r->nchecks == 0)
        return; /* missing data: reason already set */
    const struct judge_check *k = &r->checks[r->worst];
    int prop = r->config.kind == JUDGE_PROPORTION;
    double f = 100; /* relative changes in percent, rate differences in points */
    const char *unit = prop ? " pts" : "%";
    const char *what = r->status == JUDGE_FAIL       ? "regressed"
                       : r->status == JUDGE_MARGINAL ? "possibly regressed"
                                                     : "within tolerance";
    snprintf(r->reason, sizeof(r->reason),
             "%s: %s %+.3g%s (%g%% interval %+.3g%s to %+.3g%s), tolerance %g%%, %s p=%.3g "
             "(adjusted %.3g)",
             what, k->measure, k->effect * f, unit, (1 - alpha) * 100, k->lo * f, unit, k->hi * f,
             unit, k->tolerance * 100, k->test, k->p, k->p_adjusted);
}

static int ignored(const struct judge_metric_result *r)
{
    return r->nchecks == 0 && r->config.missing == JUDGE_MISSING_IGNORE;
}

/* Score: weighted share of metrics passing (marginal counts half). Verdict: a failed
 * critical metric fails; a failed metric with the score below marginal_score fails; any
 * marginal critical metric or a score below pass_score is marginal; else pass. */
static void score_and_verdict(const struct judge_config *c, struct judge_result *res)
{
    double w = 0, got = 0;
    int crit_fail = 0, crit_marg = 0, any_fail = 0;
    for (size_t i = 0; i < res->nmetrics; i++) {
        const struct judge_metric_result *r = &res->metrics[i];
        if (ignored(r))
            continue;
        w += r->config.weight;
        got += r->config.weight * (r->status == JUDGE_PASS       ? 1
                                   : r->status == JUDGE_MARGINAL ? 0.5
                                                                 : 0);
        any_fail |= r->status == JUDGE_FAIL;
        crit_fail |= r->config.critical && r->status == JUDGE_FAIL;
        crit_marg |= r->config.critical && r->status == JUDGE_MARGINAL;
    }
    res->score = w > 0 ? 100 * got / w : 100;
    if (crit_fail || (any_fail && res->score < c->marginal_score))
        res->verdict = JUDGE_FAIL;
    else if (crit_marg || res->score < c->pass_score)
        res->verdict = JUDGE_MARGINAL;
    else
        res->verdict = JUDGE_PASS;
}

static void verdict_reason(struct judge_result *res)
{
    size_t o = 0, cap = sizeof(res->reason);
    res->reason[0] = '\0';
    for (size_t i = 0; i < res->nmetrics && o < cap; i++) {
        const struct judge_metric_result *r = &res->metrics[i];
        if (r->status == JUDGE_PASS)
            continue;
        int n = snprintf(res->reason + o, cap - o, "%s%s %s (%s)", o ? "; " : "", r->name,
                         judge_status_name(r->status),
                         r->nchecks ? r->checks[r->worst].measure : "missing data");
        o += n > 0 ? (size_t)n : 0;
    }
    if (o == 0)
        snprintf(res->reason, cap, "every metric within tolerance");
}

int judge_run(const struct judge_config *c, const struct judge_sample *samples, size_t n,
              struct judge_result *out, struct err *err)
{
    memset(out, 0, sizeof(*out));
    size_t extra = 0; /* configured metrics absent from the samples */
    for (size_t i = 0; i < c->nmetrics; i++) {
        size_t j = 0;
        while (j < n && strcmp(samples[j].name, c->metrics[i].name) != 0)
            j++;
        extra += j == n;
    }
    out->metrics = xcalloc(n + extra ? n + extra : 1, sizeof(*out->metrics));
    for (size_t i = 0; i < n; i++) {
        struct judge_metric_result *r = &out->metrics[out->nmetrics++];
        r->name = samples[i].name;
        judge_metric_lookup(c, samples[i].name, &r->config);
        int rc = judge_metric(c, &samples[i], r, err);
        if (rc) {
            judge_result_release(out);
            return rc;
        }
    }
    for (size_t i = 0; i < c->nmetrics; i++) {
        size_t j = 0;
        while (j < n && strcmp(samples[j].name, c->metrics[i].name) != 0)
            j++;
        if (j < n)
            continue;
        struct judge_metric_result *r = &out->metrics[out->nmetrics++];
        r->name = c->metrics[i].name;
        r->config = c->metrics[i];
        missing_data(r, "no samples on either side");
    }
    adjust_and_grade(out, c->alpha);
    for (size_t i = 0; i < out->nmetrics; i++)
        metric_reason(&out->metrics[i], c->alpha);
    score_and_verdict(c, out);
    verdict_reason(out);
    return 0;
}

void judge_result_release(struct judge_result *r)
{
    if (!r)
        return;
    free(r->metrics);
    r->metrics = NULL;
    r->nmetrics = 0;
}
