/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of analyzer/judge: the regressions a single rank test misses (tail only, spread,
 * errors from zero) fail, identical and within-tolerance canaries pass, config rules
 * (missing data, critical, weights) shape the verdict. Simulated samples come from the
 * seeded generator in stats.h, so every run sees the same numbers. Where a p-value is
 * asserted, the scipy command that produced it is quoted beside it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer/judge.h"
#include "analyzer/stats.h"
#include "testlib.h"

static double uniform01(struct rng *r)
{
    return ((double)(rng_next(r) >> 11) + 0.5) / 9007199254740992.0;
}

static double normal(struct rng *r)
{
    return sqrt(-2 * log(uniform01(r))) * cos(2 * M_PI * uniform01(r));
}

/* n lognormal latencies with the given median and sigma (caller frees). */
static double *lognormal(struct rng *r, size_t n, double median, double sigma)
{
    double *v = malloc(n * sizeof(*v));
    for (size_t i = 0; i < n; i++)
        v[i] = median * exp(sigma * normal(r));
    return v;
}

static const struct judge_metric_result *metric(const struct judge_result *res, const char *name)
{
    for (size_t i = 0; i < res->nmetrics; i++)
        if (strcmp(res->metrics[i].name, name) == 0)
            return &res->metrics[i];
    fail_msg("metric '%s' not in the result", name);
    return NULL;
}

/* Judges latency_ms samples b (nb) and c (nc) with the default config. */
static void judge_latency(double *b, size_t nb, double *c, size_t nc, struct judge_result *res)
{
    struct judge_config cfg;
    struct judge_sample s = {
        .name = "latency_ms", .baseline = b, .nbaseline = nb, .canary = c, .ncanary = nc};
    judge_config_init(&cfg);
    assert_int_equal(judge_run(&cfg, &s, 1, res, NULL), 0);
    free(b);
    free(c);
}

static void test_judge_run_identical_process_passes(void **state)
{
    (void)state;
    struct rng r;
    struct judge_result res;
    rng_seed(&r, 11);
    judge_latency(lognormal(&r, 5000, 100, 0.6), 5000, lognormal(&r, 3000, 100, 0.6), 3000, &res);
    assert_int_equal(res.verdict, JUDGE_PASS);
    assert_close(res.score, 100, 0);
    judge_result_release(&res);
}

static void test_judge_run_shift_within_tolerance_passes(void **state)
{
    (void)state;
    struct rng r;
    struct judge_result res;
    rng_seed(&r, 12);
    /* +2 % everywhere on 20000 requests: detectable, but inside the 4 % tolerance */
    judge_latency(lognormal(&r, 20000, 100, 0.5), 20000, lognormal(&r, 20000, 102, 0.5), 20000,
                  &res);
    assert_int_equal(res.verdict, JUDGE_PASS);
    const struct judge_metric_result *m = metric(&res, "latency_ms");
    assert_string_equal(m->checks[0].test, "mann-whitney");
    assert_close(m->checks[0].effect, 0.02, 0.015);
    judge_result_release(&res);
}

static void test_judge_run_median_regression_fails_with_shift_effect(void **state)
{
    (void)state;
    struct rng r;
    struct judge_result res;
    rng_seed(&r, 13);
    judge_latency(lognormal(&r, 4000, 100, 0.5), 4000, lognormal(&r, 4000, 125, 0.5), 4000, &res);
    assert_int_equal(res.verdict, JUDGE_FAIL);
    const struct judge_metric_result *m = metric(&res, "latency_ms");
    const struct judge_check *k = &m->checks[0];
    assert_string_equal(k->test, "mann-whitney");
    assert_int_equal(k->status, JUDGE_FAIL);
    assert_close(k->effect, 0.25, 0.05);
    assert_true(k->lo < k->effect && k->effect < k->hi && k->lo > 0.04);
    judge_result_release(&res);
}

static void test_judge_run_tail_only_regression_fails(void **state)
{
    (void)state;
    struct rng r;
    struct judge_result res;
    rng_seed(&r, 14);
    size_t n = 10000;
    double *b = lognormal(&r, n, 100, 0.5), *c = lognormal(&r, n, 100, 0.5);
    for (size_t i = 0; i < n; i++)
        if (uniform01(&r) < 0.03 && c[i] > 100)
            c[i] += 1000; /* a slow path on 1.5 % of requests: median unchanged */
    judge_latency(b, n, c, n, &res);
    assert_int_equal(res.verdict, JUDGE_FAIL);
    const struct judge_metric_result *m = metric(&res, "latency_ms");
    assert_int_equal(m->checks[0].status, JUDGE_PASS); /* the median test sees nothing */
    assert_string_equal(m->checks[m->worst].test, "tail-exceedance");
    assert_true(m->checks[m->worst].effect > 0.5);
    assert_non_null(strstr(res.reason, "p99"));
    judge_result_release(&res);
}

static void test_judge_run_variance_increase_fails(void **state)
{
    (void)state;
    struct rng r;
    struct judge_result res;
    rng_seed(&r, 15);
    judge_latency(lognormal(&r, 3000, 100, 0.4), 3000, lognormal(&r, 3000, 100, 0.6), 3000, &res);
    assert_int_equal(res.verdict, JUDGE_FAIL);
    const struct judge_metric_result *m = metric(&res, "latency_ms");
    assert_int_equal(m->checks[0].status, JUDGE_PASS);
    int spread = 0;
    for (size_t i = 0; i < m->nchecks; i++)
        if (strcmp(m->checks[i].test, "mann-whitney-spread") == 0) {
            spread = 1;
            assert_int_equal(m->checks[i].status, JUDGE_FAIL);
            assert_close(m->checks[i].effect, 0.5, 0.15);
        }
    assert_true(spread);
    judge_result_release(&res);
}

static void test_judge_run_errors_from_zero_fail(void **state)
{
    (void)state;
    struct rng r;
    struct judge_result res;
    struct judge_config cfg;
    rng_seed(&r, 16);
    double *eb = calloc(5000, sizeof(double)), *ec = calloc(5000, sizeof(double));
    for (size_t i = 0; i < 25; i++)
        ec[i * 200] = 1;
    double *lb = lognormal(&r, 5000, 50, 0.5), *lc = lognormal(&r, 5000, 50, 0.5);
    struct judge_sample s[] = {
        {.name = "latency_ms", .baseline = lb, .nbaseline = 5000, .canary = lc, .ncanary = 5000},
        {.name = "error", .baseline = eb, .nbaseline = 5000, .canary = ec, .ncanary = 5000}};
    judge_config_init(&cfg);
    assert_int_equal(judge_run(&cfg, s, 2, &res, NULL), 0);
    assert_int_equal(res.verdict, JUDGE_FAIL);
    const struct judge_metric_result *m = metric(&res, "error");
    assert_int_equal(m->status, JUDGE_FAIL);
    assert_string_equal(m->checks[0].test, "fisher-exact");
    /* st.fisher_exact([[25,4975],[0,5000]], alternative='greater')[1] */
    assert_rel_close(m->checks[0].p, 2.8919398903868875e-08, 1e-9);
    assert_close(m->checks[0].effect, 0.005, 1e-12);
    assert_int_equal(metric(&res, "latency_ms")->status, JUDGE_PASS);
    judge_result_release(&res);
    free(eb);
    free(ec);
    free(lb);
    free(lc);
}

static void test_judge_run_location_p_matches_scipy(void **state)
{
    (void)state;
    double c[] = {0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46};
    double b[] = {1.15, 0.88, 0.90, 0.74, 1.21};
    struct judge_metric_config mc;
    struct judge_config cfg;
    struct judge_result res;
    judge_metric_defaults("x", &mc);
    mc.direction = JUDGE_INCREASE;
    mc.min_samples = 5;
    judge_config_init(&cfg);
    cfg.metrics = &mc;
    cfg.nmetrics = 1;
    struct judge_sample s = {
        .name = "x", .baseline = b, .nbaseline = 5, .canary = c, .ncanary = 10};
    assert_int_equal(judge_run(&cfg, &s, 1, &res, NULL), 0);
    const struct judge_metric_result *m = metric(&res, "x");
    assert_int_equal(m->nchecks, 1);
    /* the null is "canary at most 10 % above": x=np.array(c); y=np.array(b);
     * st.mannwhitneyu(np.log(x)-np.log(1.1), np.log(y), alternative='greater',
     *                 method='exact').pvalue */
    assert_rel_close(m->checks[0].p, 0.15484515484515485, 1e-9);
    assert_int_equal(res.verdict, JUDGE_PASS);
    judge_result_release(&res);
}

/* n lognormal quantiles 100 exp(0.5 z((i + 0.5) / n)), the top `top` multiplied by mult. */
static double *quantile_grid(size_t n, size_t top, double mult)
{
    double *v = malloc(n * sizeof(*v));
    for (size_t i = 0; i < n; i++)
        v[i] = 100 * exp(0.5 * stats_norm_ppf(((double)i + 0.5) / (double)n)) *
               (i >= n - top ? mult : 1);
    return v;
}

static const struct judge_check *check_named(const struct judge_metric_result *m, const char *t)
{
    for (size_t i = 0; i < m->nchecks; i++)
        if (strcmp(m->checks[i].test, t) == 0)
            return &m->checks[i];
    fail_msg("no check '%s'", t);
    return NULL;
}

static void test_judge_run_tail_ladder_p_matches_scipy(void **state)
{
    (void)state;
    /* Reference: b=100*np.exp(0.5*st.norm.ppf((np.arange(nb)+0.5)/nb)), c likewise with
     * c[nc-top:]*=mult; x=np.log(b); y=np.log(c)-np.log(1.1); a=np.sort(np.r_[x,y]);
     * for each f in (.1,.05,.02,.01,.005,.002,.001) with r=round(f*N)>=4: t=a[N-r-1],
     * p_f=st.fisher_exact([[(y>t).sum(),nc-(y>t).sum()],[(x>t).sum(),nb-(x>t).sum()]],
     * alternative='greater').pvalue; expected min(1, min(p_f) * number of levels). */
    static const struct {
        size_t nb, nc, top;
        double mult, p;
        const char *measure;
    } cases[] = {
        {200, 200, 10, 3, 0.014549118524551952, "p98 ratio - 1"},    /* 4 levels, f=.02 */
        {1000, 600, 8, 4, 0.0018988040582629112, "p99.5 ratio - 1"}, /* 5 levels, f=.005 */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct judge_result res;
        judge_latency(quantile_grid(cases[i].nb, 0, 1), cases[i].nb,
                      quantile_grid(cases[i].nc, cases[i].top, cases[i].mult), cases[i].nc, &res);
        const struct judge_check *k = check_named(metric(&res, "latency_ms"), "tail-exceedance");
        assert_rel_close(k->p, cases[i].p, 1e-9);
        assert_string_equal(k->measure, cases[i].measure);
        assert_true(k->effect > 1); /* the quantile of the deciding level at least doubled */
        judge_result_release(&res);
    }
}

static void test_judge_run_location_within_time_strata_matches_scipy(void **state)
{
    (void)state;
    double *b = malloc(60 * sizeof(double)), *c = malloc(60 * sizeof(double));
    for (size_t i = 0; i < 60; i++) {
        b[i] = 50 + (i >= 30 ? 40 : 0) + (double)((i * 7) % 30); /* load doubles half-way */
        c[i] = b[i] * 1.12 + (double)((i * 11) % 5) + 0.37;      /* no ties */
    }
    struct judge_result res;
    judge_latency(b, 60, c, 60, &res);
    const struct judge_check *k = &metric(&res, "latency_ms")->checks[0];
    assert_string_equal(k->test, "mann-whitney");
    /* two strata of 30 rows: i=np.arange(60); b=50+40*(i>=30)+(i*7)%30; c=b*1.12+(i*11)%5+.37;
     * per stratum s: x=np.log(c[30*s:30*s+30])-np.log(1.04); y=np.log(b[30*s:30*s+30]);
     * U=st.mannwhitneyu(x,y).statistic; t=np.unique(np.r_[x,y],return_counts=True)[1];
     * S+=(U-450)/61; V+=900/12*(61-(t**3-t).sum()/3540)/61**2; st.norm.sf(S/np.sqrt(V)) */
    assert_rel_close(k->p, 3.3070054670365163e-06, 1e-9);
    /* unstratified, the load's step hides it: st.mannwhitneyu(np.log(c)-np.log(1.04),
     * np.log(b), alternative='greater').pvalue = 0.0119 */
    assert_int_equal(k->status, JUDGE_FAIL);
    judge_result_release(&res);
}

static void test_judge_run_missing_metric_follows_rule(void **state)
{
    (void)state;
    struct rng r;
    struct judge_metric_config mc;
    struct judge_config cfg;
    struct judge_result res;
    rng_seed(&r, 17);
    double *b = lognormal(&r, 500, 100, 0.5), *c = lognormal(&r, 500, 100, 0.5);
    struct judge_sample s = {
        .name = "latency_ms", .baseline = b, .nbaseline = 500, .canary = c, .ncanary = 500};
    judge_metric_defaults("cpu", &mc);
    judge_config_init(&cfg);
    cfg.metrics = &mc;
    cfg.nmetrics = 1;
    assert_int_equal(judge_run(&cfg, &s, 1, &res, NULL), 0);
    assert_int_equal(metric(&res, "cpu")->status, JUDGE_MARGINAL); /* default rule */
    assert_close(res.score, 75, 1e-9);
    assert_int_equal(res.verdict, JUDGE_MARGINAL);
    judge_result_release(&res);
    mc.missing = JUDGE_MISSING_FAIL;
    mc.critical = true;
    assert_int_equal(judge_run(&cfg, &s, 1, &res, NULL), 0);
    assert_int_equal(res.verdict, JUDGE_FAIL);
    assert_non_null(strstr(metric(&res, "cpu")->reason, "missing data"));
    judge_result_release(&res);
    mc.missing = JUDGE_MISSING_IGNORE;
    assert_int_equal(judge_run(&cfg, &s, 1, &res, NULL), 0);
    assert_int_equal(res.verdict, JUDGE_PASS);
    judge_result_release(&res);
    free(b);
    free(c);
}

static void test_judge_run_noncritical_failure_lowers_score(void **state)
{
    (void)state;
    struct rng r;
    struct judge_config cfg;
    struct judge_result res;
    rng_seed(&r, 18);
    double *lb = lognormal(&r, 2000, 100, 0.5), *lc = lognormal(&r, 2000, 100, 0.5);
    double *cb = malloc(30 * sizeof(double)), *cc = malloc(30 * sizeof(double));
    for (size_t i = 0; i < 30; i++) {
        cb[i] = 40 + normal(&r);
        cc[i] = 60 + normal(&r); /* cpu +50 %: far beyond its 10 % tolerance */
    }
    struct judge_sample s[] = {
        {.name = "latency_ms", .baseline = lb, .nbaseline = 2000, .canary = lc, .ncanary = 2000},
        {.name = "cpu", .baseline = cb, .nbaseline = 30, .canary = cc, .ncanary = 30}};
    judge_config_init(&cfg);
    assert_int_equal(judge_run(&cfg, s, 2, &res, NULL), 0);
    assert_int_equal(metric(&res, "cpu")->status, JUDGE_FAIL);
    assert_close(res.score, 50, 1e-9);
    assert_int_equal(res.verdict, JUDGE_FAIL); /* 50 < 75, though cpu is not critical */
    assert_non_null(strstr(res.reason, "cpu fail"));
    judge_result_release(&res);
    free(lb);
    free(lc);
    free(cb);
    free(cc);
}

static void test_judge_run_rejects_non_binary_errors(void **state)
{
    (void)state;
    double b[20] = {0}, c[20] = {0};
    c[3] = 0.5;
    struct judge_config cfg;
    struct judge_result res;
    struct err err;
    struct judge_sample s = {
        .name = "errors", .baseline = b, .nbaseline = 20, .canary = c, .ncanary = 20};
    judge_config_init(&cfg);
    assert_int_equal(judge_run(&cfg, &s, 1, &res, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "not 0 or 1"));
    c[3] = NAN;
    s.name = "latency";
    assert_int_equal(judge_run(&cfg, &s, 1, &res, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "not finite"));
}

static void test_judge_run_decrease_on_raw_scale_is_relative_to_spread(void **state)
{
    (void)state;
    struct rng r;
    struct judge_metric_config mc;
    struct judge_config cfg;
    struct judge_result res;
    rng_seed(&r, 19);
    double b[2000], c[2000];
    for (size_t i = 0; i < 2000; i++) {
        b[i] = normal(&r);       /* values around zero: no log scale, and a median near 0 */
        c[i] = normal(&r) - 0.5; /* half a standard deviation lower */
    }
    judge_metric_defaults("delta", &mc);
    mc.direction = JUDGE_DECREASE;
    judge_config_init(&cfg);
    cfg.metrics = &mc;
    cfg.nmetrics = 1;
    struct judge_sample s = {
        .name = "delta", .baseline = b, .nbaseline = 2000, .canary = c, .ncanary = 2000};
    assert_int_equal(judge_run(&cfg, &s, 1, &res, NULL), 0);
    const struct judge_metric_result *m = metric(&res, "delta");
    assert_int_equal(m->nchecks, 1); /* decrease only; no tails or spread by default */
    assert_string_equal(m->checks[0].measure, "shift down");
    assert_int_equal(m->checks[0].status, JUDGE_FAIL);
    /* relative to the baseline's MAD (about 1), not to its median (about 0) */
    assert_close(m->checks[0].effect, -0.5, 0.12);
    assert_int_equal(res.verdict, JUDGE_FAIL); /* not critical, but score 0 < marginal_score */
    judge_result_release(&res);
}

static void test_judge_run_either_direction_checks_both_tails(void **state)
{
    (void)state;
    struct rng r;
    struct judge_metric_config mc;
    struct judge_config cfg;
    struct judge_result res;
    rng_seed(&r, 20);
    double *b = lognormal(&r, 3000, 100, 0.5), *c = lognormal(&r, 3000, 100, 0.5);
    judge_metric_defaults("latency_ms", &mc);
    mc.direction = JUDGE_EITHER;
    judge_config_init(&cfg);
    cfg.metrics = &mc;
    cfg.nmetrics = 1;
    struct judge_sample s = {
        .name = "latency_ms", .baseline = b, .nbaseline = 3000, .canary = c, .ncanary = 3000};
    assert_int_equal(judge_run(&cfg, &s, 1, &res, NULL), 0);
    const struct judge_metric_result *m = metric(&res, "latency_ms");
    assert_int_equal(m->nchecks, 5); /* shift up and down, upper and lower tail, spread */
    assert_string_equal(m->checks[2].test, "tail-exceedance");
    assert_string_equal(m->checks[3].test, "tail-exceedance");
    assert_true(strncmp(m->checks[2].measure, "p9", 2) == 0); /* p90 .. p99.9 */
    assert_true(strncmp(m->checks[3].measure, "p9", 2) != 0); /* p10 .. p0.1 */
    assert_int_equal(res.verdict, JUDGE_PASS);
    judge_result_release(&res);
    free(b);
    free(c);
}

static void test_judge_metric_defaults_by_name(void **state)
{
    (void)state;
    struct judge_metric_config m;
    judge_metric_defaults("latency_ms", &m);
    assert_int_equal(m.direction, JUDGE_INCREASE);
    assert_true(m.critical && m.tail_tolerance >= 0 && m.spread_tolerance >= 0);
    judge_metric_defaults("error", &m);
    assert_int_equal(m.kind, JUDGE_PROPORTION);
    judge_metric_defaults("mem_rss", &m);
    assert_true(m.windowed && m.direction == JUDGE_INCREASE && !m.critical);
    judge_metric_defaults("throughput", &m);
    assert_int_equal(m.direction, JUDGE_EITHER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_judge_run_identical_process_passes),
        cmocka_unit_test(test_judge_run_shift_within_tolerance_passes),
        cmocka_unit_test(test_judge_run_median_regression_fails_with_shift_effect),
        cmocka_unit_test(test_judge_run_tail_only_regression_fails),
        cmocka_unit_test(test_judge_run_variance_increase_fails),
        cmocka_unit_test(test_judge_run_errors_from_zero_fail),
        cmocka_unit_test(test_judge_run_location_p_matches_scipy),
        cmocka_unit_test(test_judge_run_tail_ladder_p_matches_scipy),
        cmocka_unit_test(test_judge_run_location_within_time_strata_matches_scipy),
        cmocka_unit_test(test_judge_run_missing_metric_follows_rule),
        cmocka_unit_test(test_judge_run_noncritical_failure_lowers_score),
        cmocka_unit_test(test_judge_run_rejects_non_binary_errors),
        cmocka_unit_test(test_judge_run_decrease_on_raw_scale_is_relative_to_spread),
        cmocka_unit_test(test_judge_run_either_direction_checks_both_tails),
        cmocka_unit_test(test_judge_metric_defaults_by_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
