/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Known-answer tests for analyzer/stats against scipy 1.10 (Debian's /usr/bin/python3) and
 * R 4.2. The data sets are built here and, identically, in the commands quoted beside
 * each reference value:
 *   A: x = 0.80 0.83 1.89 1.04 1.45 1.38 1.91 1.64 0.73 1.46, y = 1.15 0.88 0.90 0.74 1.21
 *      (R's wilcox.test example; no ties, exact)
 *   B: x_i = (37 i mod 101) / 7 + 0.5 for i < 60, y_j = (53 j mod 103) / 7 for j < 70
 *      (no ties, normal approximation)
 *   C: x_i = i mod 5 for i < 40, y_j = j mod 6 for j < 45 (heavy ties)
 *   D: x_i = sqrt(3 i + 2) for i < 60, y_j = 0.97 sqrt(3 j + 1) for j < 70 (no ties, and
 *      no ties among the pairwise differences either, unlike B)
 * Python: A_x, A_y as above; B_x=[(i*37%101)/7.0+0.5 for i in range(60)];
 *   B_y=[(j*53%103)/7.0 for j in range(70)]; C_x=[float(i%5) for i in range(40)];
 *   C_y=[float(j%6) for j in range(45)]; import numpy as np, scipy.stats as st
 * R: B_x <- ((0:59*37) %% 101)/7 + 0.5; B_y <- ((0:69*53) %% 103)/7;
 *   C_x <- (0:39) %% 5; C_y <- (0:44) %% 6; D_x <- sqrt(3*(0:59)+2); D_y <- 0.97*sqrt(3*(0:69)+1)
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

#include "analyzer/stats.h"
#include "testlib.h"

struct data {
    double x[80], y[80];
    size_t m, n;
};

static void data_a(struct data *d)
{
    static const double x[] = {0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46};
    static const double y[] = {1.15, 0.88, 0.90, 0.74, 1.21};
    d->m = 10;
    d->n = 5;
    memcpy(d->x, x, sizeof(x));
    memcpy(d->y, y, sizeof(y));
    stats_sort(d->x, d->m);
    stats_sort(d->y, d->n);
}

static void data_b(struct data *d)
{
    d->m = 60;
    d->n = 70;
    for (size_t i = 0; i < d->m; i++)
        d->x[i] = (double)(i * 37 % 101) / 7.0 + 0.5;
    for (size_t j = 0; j < d->n; j++)
        d->y[j] = (double)(j * 53 % 103) / 7.0;
    stats_sort(d->x, d->m);
    stats_sort(d->y, d->n);
}

static void data_c(struct data *d)
{
    d->m = 40;
    d->n = 45;
    for (size_t i = 0; i < d->m; i++)
        d->x[i] = (double)(i % 5);
    for (size_t j = 0; j < d->n; j++)
        d->y[j] = (double)(j % 6);
    stats_sort(d->x, d->m);
    stats_sort(d->y, d->n);
}

static void data_d(struct data *d)
{
    d->m = 60;
    d->n = 70;
    for (size_t i = 0; i < d->m; i++)
        d->x[i] = sqrt(3.0 * (double)i + 2);
    for (size_t j = 0; j < d->n; j++)
        d->y[j] = 0.97 * sqrt(3.0 * (double)j + 1);
    stats_sort(d->x, d->m);
    stats_sort(d->y, d->n);
}

static void test_stats_norm_ppf_matches_scipy(void **state)
{
    (void)state;
    /* [st.norm.ppf(p) for p in (1e-10, 0.01, 0.3, 0.975, 0.999999)] */
    assert_rel_close(stats_norm_ppf(1e-10), -6.361340902404056, 1e-13);
    assert_rel_close(stats_norm_ppf(0.01), -2.3263478740408408, 1e-13);
    assert_rel_close(stats_norm_ppf(0.3), -0.5244005127080409, 1e-13);
    assert_rel_close(stats_norm_ppf(0.975), 1.959963984540054, 1e-13);
    assert_rel_close(stats_norm_ppf(0.999999), 4.753424308817087, 1e-12);
    assert_true(isinf(stats_norm_ppf(0)) && stats_norm_ppf(0) < 0);
}

static void test_stats_betainc_matches_scipy(void **state)
{
    (void)state;
    /* scipy.special.betainc(2.5, 3.5, 0.4); scipy.special.betainc(300, 20, 0.95) */
    assert_rel_close(stats_betainc(2.5, 3.5, 0.4), 0.4869041915261175, 1e-12);
    assert_rel_close(stats_betainc(300, 20, 0.95), 0.8211940072460778, 1e-10);
    assert_close(stats_betainc(2, 2, 0), 0, 0);
    assert_close(stats_betainc(2, 2, 1), 1, 0);
}

static void test_stats_binom_ppf_matches_scipy(void **state)
{
    (void)state;
    /* st.binom.cdf(7, 200, 0.05) */
    assert_rel_close(stats_binom_cdf(7, 200, 0.05), 0.21330470278470298, 1e-10);
    /* st.binom.ppf(0.025, 1000, 0.99); st.binom.ppf(0.975, 1000, 0.99) */
    assert_close(stats_binom_ppf(0.025, 1000, 0.99), 983, 0);
    assert_close(stats_binom_ppf(0.975, 1000, 0.99), 996, 0);
}

static void test_stats_sort_large_matches_qsort_order(void **state)
{
    (void)state;
    size_t n = 20000;
    double *v = malloc(n * sizeof(*v));
    struct rng rng;
    rng_seed(&rng, 7);
    for (size_t i = 0; i < n; i++)
        v[i] = ((double)rng_below64(&rng, 2000001) - 1000000.0) / 3.0;
    v[5] = -0.0;
    v[6] = 0.0;
    stats_sort(v, n);
    for (size_t i = 1; i < n; i++)
        assert_true(v[i - 1] <= v[i]);
    free(v);
}

static void test_stats_quantile_sorted_matches_numpy(void **state)
{
    (void)state;
    struct data d;
    data_b(&d);
    /* np.quantile(B_x, 0.9); np.quantile(B_x, 0.5) */
    assert_close(stats_quantile_sorted(d.x, d.m, 0.9), 13.228571428571428, 1e-12);
    assert_close(stats_quantile_sorted(d.x, d.m, 0.5), 7.571428571428571, 1e-12);
    assert_close(stats_quantile_sorted(d.x, d.m, 1), d.x[d.m - 1], 0);
}

static void test_stats_quantile_ci_order_statistics(void **state)
{
    (void)state;
    struct data d;
    data_b(&d);
    double lo, hi;
    /* sx=sorted(B_x); l=int(st.binom.ppf(0.025,60,0.9)); u=int(st.binom.ppf(0.975,60,0.9))+1
     * -> l 49, u 59; sx[48], sx[58] = 11.928571428571429, 14.357142857142858 */
    assert_int_equal(stats_quantile_ci(d.x, d.m, 0.9, 0.95, &lo, &hi), 0);
    assert_close(lo, 11.928571428571429, 1e-12);
    assert_close(hi, 14.357142857142858, 1e-12);
    assert_int_equal(stats_quantile_ci(d.x, d.m, 1.5, 0.95, &lo, &hi), -EINVAL);
}

static void test_stats_mad_sorted_matches_scipy(void **state)
{
    (void)state;
    struct data d;
    double scratch[80];
    /* st.median_abs_deviation(B_x, scale='normal'); same for A_x */
    data_b(&d);
    assert_rel_close(stats_mad_sorted(d.x, d.m, scratch), 5.4009080816989785, 1e-12);
    data_a(&d);
    assert_rel_close(stats_mad_sorted(d.x, d.m, scratch), 0.6301059428648808, 1e-12);
}

static void check_mw(const struct data *d, enum stats_alt alt, double u, double p, int exact)
{
    struct stats_mw r;
    assert_int_equal(stats_mann_whitney(d->x, d->m, d->y, d->n, alt, &r), 0);
    assert_close(r.u, u, 1e-9);
    assert_rel_close(r.p, p, 1e-9);
    assert_int_equal(r.exact, exact);
}

static void test_stats_mann_whitney_exact_matches_scipy(void **state)
{
    (void)state;
    struct data d;
    data_a(&d);
    /* st.mannwhitneyu(A_x, A_y, alternative=alt, method='exact') */
    check_mw(&d, STATS_TWO_SIDED, 35.0, 0.2544122544122544, 1);
    check_mw(&d, STATS_GREATER, 35.0, 0.1272061272061272, 1);
    check_mw(&d, STATS_LESS, 35.0, 0.8967698967698966, 1);
    /* st.mannwhitneyu([0,1,2], [3,4,5,6], alternative='less', method='exact').pvalue */
    assert_rel_close(stats_mw_exact_cdf(0, 3, 4), 0.02857142857142857, 1e-12);
}

static void test_stats_mann_whitney_asymptotic_matches_scipy(void **state)
{
    (void)state;
    struct data d;
    data_b(&d);
    /* st.mannwhitneyu(B_x, B_y, alternative=alt, method='asymptotic', use_continuity=True) */
    check_mw(&d, STATS_TWO_SIDED, 2182.0, 0.7034876231054897, 0);
    check_mw(&d, STATS_GREATER, 2182.0, 0.35174381155274487, 0);
    check_mw(&d, STATS_LESS, 2182.0, 0.6499875786447841, 0);
}

static void test_stats_mann_whitney_ties_match_scipy(void **state)
{
    (void)state;
    struct data d;
    data_c(&d);
    /* st.mannwhitneyu(C_x, C_y, alternative=alt, method='asymptotic', use_continuity=True) */
    check_mw(&d, STATS_TWO_SIDED, 784.0, 0.3014702097448788, 0);
    check_mw(&d, STATS_GREATER, 784.0, 0.851347914649957, 0);
    check_mw(&d, STATS_LESS, 784.0, 0.1507351048724394, 0);
    struct stats_mw r;
    assert_int_equal(stats_mann_whitney(d.x, 0, d.y, d.n, STATS_LESS, &r), -EINVAL);
}

static void test_stats_hodges_lehmann_exact_matches_r(void **state)
{
    (void)state;
    struct data d;
    struct stats_interval hl;
    data_a(&d);
    /* R: w <- wilcox.test(A_x, A_y, conf.int=TRUE); c(w$estimate, w$conf.int)
     * -> 0.305, -0.15, 0.76 */
    assert_int_equal(stats_hodges_lehmann(d.x, d.m, d.y, d.n, 0.95, &hl), 0);
    assert_close(hl.est, 0.305, 1e-12);
    assert_close(hl.lo, -0.15, 1e-12);
    assert_close(hl.hi, 0.76, 1e-12);
}

static void test_stats_hodges_lehmann_asymptotic_matches_r(void **state)
{
    (void)state;
    struct data d;
    struct stats_interval hl;
    data_d(&d);
    /* R: wilcox.test(D_x, D_y, conf.int=TRUE, exact=FALSE, correct=TRUE) ->
     * -0.42655341653402512, -1.50357936192454433, 0.66248877554434116 (uniroot tol 1e-4) */
    assert_int_equal(stats_hodges_lehmann(d.x, d.m, d.y, d.n, 0.95, &hl), 0);
    assert_close(hl.est, -0.42655341653402512, 2e-4);
    assert_close(hl.lo, -1.50357936192454433, 2e-4);
    assert_close(hl.hi, 0.66248877554434116, 2e-4);
    /* same with conf.level=0.9 -> -0.4265..., -1.31850973247674363, 0.50137890452743628 */
    assert_int_equal(stats_hodges_lehmann(d.x, d.m, d.y, d.n, 0.90, &hl), 0);
    assert_close(hl.est, -0.42655341653402512, 2e-4);
    assert_close(hl.lo, -1.31850973247674363, 2e-4);
    assert_close(hl.hi, 0.50137890452743628, 2e-4);
}

static void test_stats_hodges_lehmann_ties_match_r(void **state)
{
    (void)state;
    struct data d;
    struct stats_interval hl;
    data_c(&d);
    /* R: wilcox.test(C_x, C_y, conf.int=TRUE, exact=FALSE, correct=TRUE) ->
     * -3.13e-05, -1.0000389, 5.88e-05: the steps of W sit at 0, -1 and 0 */
    assert_int_equal(stats_hodges_lehmann(d.x, d.m, d.y, d.n, 0.95, &hl), 0);
    assert_close(hl.est, 0, 2e-4);
    assert_close(hl.lo, -1, 2e-4);
    assert_close(hl.hi, 0, 2e-4);
}

static void test_stats_two_proportion_matches_scipy(void **state)
{
    (void)state;
    struct stats_prop r;
    /* k1,n1,k2,n2=20,865,6,865; p1,p2=k1/n1,k2/n2; pp=(k1+k2)/(n1+n2);
     * z=(p1-p2)/np.sqrt(pp*(1-pp)*(1/n1+1/n2)); st.norm.sf(z); 2*st.norm.sf(abs(z));
     * se=np.sqrt(p1*(1-p1)/n1+p2*(1-p2)/n2); p1-p2 -+ st.norm.ppf(0.975)*se */
    assert_int_equal(stats_two_proportion(20, 865, 6, 865, STATS_GREATER, 0.95, &r), 0);
    assert_rel_close(r.z, 2.766493269943005, 1e-12);
    assert_rel_close(r.p, 0.0028331377218829296, 1e-9);
    assert_rel_close(r.lo, 0.004743875486988158, 1e-9);
    assert_rel_close(r.hi, 0.02762606670954363, 1e-9);
    assert_int_equal(stats_two_proportion(20, 865, 6, 865, STATS_TWO_SIDED, 0.95, &r), 0);
    assert_rel_close(r.p, 0.005666275443765859, 1e-9);
    assert_int_equal(stats_two_proportion(0, 100, 0, 100, STATS_GREATER, 0.95, &r), 0);
    assert_close(r.p, 1, 0);
    assert_int_equal(stats_two_proportion(5, 0, 0, 100, STATS_GREATER, 0.95, &r), -EINVAL);
}

static void test_stats_fisher_exact_matches_scipy(void **state)
{
    (void)state;
    /* st.fisher_exact([[a,b],[c,d]], alternative=alt)[1] for alt two-sided/greater/less */
    assert_rel_close(stats_fisher_exact(1, 9, 11, 3, STATS_TWO_SIDED), 0.0027594561852200836, 1e-9);
    assert_rel_close(stats_fisher_exact(1, 9, 11, 3, STATS_GREATER), 0.9999663480953022, 1e-9);
    assert_rel_close(stats_fisher_exact(1, 9, 11, 3, STATS_LESS), 0.0013797280926100418, 1e-9);
    assert_rel_close(stats_fisher_exact(0, 200, 4, 196, STATS_TWO_SIDED), 0.12312266813128538,
                     1e-9);
    assert_rel_close(stats_fisher_exact(0, 200, 4, 196, STATS_LESS), 0.06156133406564269, 1e-9);
    assert_rel_close(stats_fisher_exact(3, 997, 12, 988, STATS_TWO_SIDED), 0.03449142539805221,
                     1e-9);
    assert_rel_close(stats_fisher_exact(3, 997, 12, 988, STATS_GREATER), 0.9964107840517443, 1e-9);
    assert_rel_close(stats_fisher_exact(3, 997, 12, 988, STATS_LESS), 0.017245712699026104, 1e-9);
    /* a large table: st.fisher_exact([[900,99100],[1000,99000]], alternative=alt)[1] */
    assert_rel_close(stats_fisher_exact(900, 99100, 1000, 99000, STATS_TWO_SIDED),
                     0.022460126955731775, 1e-8);
    assert_rel_close(stats_fisher_exact(900, 99100, 1000, 99000, STATS_GREATER), 0.9900605943589391,
                     1e-8);
    assert_rel_close(stats_fisher_exact(900, 99100, 1000, 99000, STATS_LESS), 0.011230063477865888,
                     1e-8);
}

static void test_stats_top_exceedance_matches_scipy(void **state)
{
    (void)state;
    static const double x[] = {1.0, 2.0, 3.5, 4.0, 6.0, 7.5, 9.0, 9.0};
    static const double y[] = {0.5, 1.5, 2.5, 3.0, 3.5, 4.5, 5.0, 5.5, 6.5, 7.0};
    /* a=np.sort(np.r_[x-d,y]); t=a[len(a)-r-1]; ex=(x-d>t).sum(); ey=(y>t).sum();
     * st.fisher_exact([[ex,8-ex],[ey,10-ey]], alternative='greater').pvalue */
    assert_rel_close(stats_top_exceedance(x, 8, y, 10, 0, 4), 0.2058823529411765, 1e-9);
    assert_rel_close(stats_top_exceedance(x, 8, y, 10, 0, 6), 0.20135746606334845, 1e-9);
    /* d = 0.5: x - d ties y at 7.0, the threshold, so 2 (not 3) values lie above it */
    assert_rel_close(stats_top_exceedance(x, 8, y, 10, 0.5, 3), 0.18300653594771243, 1e-9);
    assert_rel_close(stats_top_exceedance(x, 8, y, 10, 1.0, 3), 0.4117647058823529, 1e-9);
    assert_close(stats_top_exceedance(x, 8, y, 10, 0, 0), 1, 0);
    assert_close(stats_top_exceedance(x, 8, y, 10, 0, 18), 1, 0);
}

static void test_stats_van_elteren_matches_scipy(void **state)
{
    (void)state;
    /* Strata X=[[1.2,2.5,3.1,4.0,4.0],[0.5,0.9,1.7],[5,6,7,8,9,10],[]] and
     * Y=[[1.0,2.0,2.5,3.0],[0.3,0.8,0.8,1.1,1.5,2.2],[4.5,5.5,6.5],[1,2]]; reference per
     * non-empty stratum with x=np.array(x)-d: U=st.mannwhitneyu(x,y).statistic,
     * t=np.unique(np.r_[x,y],return_counts=True)[1], S+=(U-m*n/2)/(N+1),
     * V+=m*n/12*((N+1)-(t**3-t).sum()/(N*(N-1)))/(N+1)**2; p=st.norm.sf(S/np.sqrt(V)) */
    static const double x[] = {1.2, 2.5, 3.1, 4.0, 4.0, 0.5, 0.9, 1.7, 5, 6, 7, 8, 9, 10};
    static const double y[] = {1.0, 2.0, 2.5, 3.0, 0.3, 0.8, 0.8, 1.1,
                               1.5, 2.2, 4.5, 5.5, 6.5, 1,   2};
    static const size_t xo[] = {0, 5, 8, 14, 14}, yo[] = {0, 4, 10, 13, 15};
    struct stats_mw r;
    assert_int_equal(stats_van_elteren(x, xo, y, yo, 4, 0, STATS_GREATER, &r), 0);
    assert_rel_close(r.u, 1.15, 1e-12);
    assert_rel_close(r.p, 0.04544325607965877, 1e-9);
    assert_int_equal(stats_van_elteren(x, xo, y, yo, 4, 0, STATS_LESS, &r), 0);
    assert_rel_close(r.p, 0.9545567439203413, 1e-9);
    assert_int_equal(stats_van_elteren(x, xo, y, yo, 4, 0, STATS_TWO_SIDED, &r), 0);
    assert_rel_close(r.p, 0.09088651215931753, 1e-9);
    assert_int_equal(stats_van_elteren(x, xo, y, yo, 4, 0.5, STATS_GREATER, &r), 0);
    assert_rel_close(r.u, 0.3, 1e-12);
    assert_rel_close(r.p, 0.3289331215987149, 1e-9);
    /* only the stratum with an empty side: nothing to test */
    assert_int_equal(stats_van_elteren(x, xo + 3, y, yo + 3, 1, 0, STATS_GREATER, &r), -EINVAL);
}

static double median_diff(const double *x, size_t m, const double *y, size_t n, void *arg)
{
    (void)arg;
    double *a = malloc(m * sizeof(*a)), *b = malloc(n * sizeof(*b));
    memcpy(a, x, m * sizeof(*a));
    memcpy(b, y, n * sizeof(*b));
    stats_sort(a, m);
    stats_sort(b, n);
    double r = stats_quantile_sorted(a, m, 0.5) - stats_quantile_sorted(b, n, 0.5);
    free(a);
    free(b);
    return r;
}

static void test_stats_bootstrap_ci_close_to_scipy_and_deterministic(void **state)
{
    (void)state;
    struct data d;
    struct rng rng;
    double lo, hi, lo2, hi2;
    data_b(&d);
    /* st.bootstrap((np.array(B_x), np.array(B_y)), lambda a, b, axis=-1:
     *   np.median(a, axis=axis) - np.median(b, axis=axis), method='percentile',
     *   n_resamples=20000, random_state=1) -> (-2.0714285714285716, 2.7142857142857135);
     * a different generator agrees to Monte-Carlo error, well inside 0.3 */
    rng_seed(&rng, 42);
    assert_int_equal(
        stats_bootstrap_ci(d.x, d.m, d.y, d.n, median_diff, NULL, 20000, 0.95, &rng, &lo, &hi), 0);
    assert_close(lo, -2.0714285714285716, 0.3);
    assert_close(hi, 2.7142857142857135, 0.3);
    rng_seed(&rng, 42);
    assert_int_equal(
        stats_bootstrap_ci(d.x, d.m, d.y, d.n, median_diff, NULL, 20000, 0.95, &rng, &lo2, &hi2),
        0);
    assert_close(lo2, lo, 0);
    assert_close(hi2, hi, 0);
    assert_int_equal(
        stats_bootstrap_ci(d.x, 0, d.y, d.n, median_diff, NULL, 100, 0.95, &rng, &lo, &hi),
        -EINVAL);
}

static void test_stats_holm_matches_r(void **state)
{
    (void)state;
    /* R: p.adjust(c(0.01, 0.04, 0.03, 0.005, 0.5), "holm") -> 0.04 0.09 0.09 0.025 0.5 */
    double p[] = {0.01, 0.04, 0.03, 0.005, 0.5};
    stats_holm(p, 5);
    assert_close(p[0], 0.04, 1e-15);
    assert_close(p[1], 0.09, 1e-15);
    assert_close(p[2], 0.09, 1e-15);
    assert_close(p[3], 0.025, 1e-15);
    assert_close(p[4], 0.5, 1e-15);
}

static void test_stats_holm_weighted_matches_r_definition(void **state)
{
    (void)state;
    /* R, the procedure written out: p<-c(0.01,0.04,0.03,0.005,0.5); w<-c(1,1,2,0.5,0.5);
     * o<-order(p/w); W<-rev(cumsum(rev(w[o]))); a<-pmin(1,cummax(p[o]*W/w[o])); a[order(o)]
     * -> 0.05 0.06 0.0525 0.05 0.5 */
    double p[] = {0.01, 0.04, 0.03, 0.005, 0.5};
    const double w[] = {1, 1, 2, 0.5, 0.5};
    stats_holm_weighted(p, w, 5);
    assert_close(p[0], 0.05, 1e-15);
    assert_close(p[1], 0.06, 1e-15);
    assert_close(p[2], 0.0525, 1e-15);
    assert_close(p[3], 0.05, 1e-15);
    assert_close(p[4], 0.5, 1e-15);
}

static void test_rng_below64_is_seeded(void **state)
{
    (void)state;
    struct rng a, b, c;
    rng_seed(&a, 1);
    rng_seed(&b, 1);
    rng_seed(&c, 2);
    int same = 1, differ = 0;
    for (int i = 0; i < 100; i++) {
        uint64_t va = rng_below64(&a, 1000), vb = rng_below64(&b, 1000);
        same &= va == vb && va < 1000;
        differ |= va != rng_below64(&c, 1000);
    }
    assert_true(same);
    assert_true(differ);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_norm_ppf_matches_scipy),
        cmocka_unit_test(test_stats_betainc_matches_scipy),
        cmocka_unit_test(test_stats_binom_ppf_matches_scipy),
        cmocka_unit_test(test_stats_sort_large_matches_qsort_order),
        cmocka_unit_test(test_stats_quantile_sorted_matches_numpy),
        cmocka_unit_test(test_stats_quantile_ci_order_statistics),
        cmocka_unit_test(test_stats_mad_sorted_matches_scipy),
        cmocka_unit_test(test_stats_mann_whitney_exact_matches_scipy),
        cmocka_unit_test(test_stats_mann_whitney_asymptotic_matches_scipy),
        cmocka_unit_test(test_stats_mann_whitney_ties_match_scipy),
        cmocka_unit_test(test_stats_hodges_lehmann_exact_matches_r),
        cmocka_unit_test(test_stats_hodges_lehmann_asymptotic_matches_r),
        cmocka_unit_test(test_stats_hodges_lehmann_ties_match_r),
        cmocka_unit_test(test_stats_two_proportion_matches_scipy),
        cmocka_unit_test(test_stats_fisher_exact_matches_scipy),
        cmocka_unit_test(test_stats_van_elteren_matches_scipy),
        cmocka_unit_test(test_stats_top_exceedance_matches_scipy),
        cmocka_unit_test(test_stats_bootstrap_ci_close_to_scipy_and_deterministic),
        cmocka_unit_test(test_stats_holm_matches_r),
        cmocka_unit_test(test_stats_holm_weighted_matches_r_definition),
        cmocka_unit_test(test_rng_below64_is_seeded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
