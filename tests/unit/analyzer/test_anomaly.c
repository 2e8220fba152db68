/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_anomaly: behaviour of the streaming anomaly detector on synthetic series (a step,
 * a spike, a variance change, stationary noise), its contract (scores in [0, 1], no
 * look-ahead, determinism, constant state) and its explanations.
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

#include "analyzer/anomaly.h"
#include "testlib.h"

#define N 3000
#define AT 2000 /* where the synthetic anomalies start */

/* Deterministic standard normal deviates (xorshift64* and Box-Muller). */
struct rng {
    uint64_t s;
};

static double rng_unit(struct rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return ((r->s * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0);
}

static double rng_normal(struct rng *r)
{
    double u = rng_unit(r), v = rng_unit(r);
    return sqrt(-2.0 * log(u + 1e-300)) * cos(2.0 * M_PI * v);
}

/* Noise around 50 with sd 1, sampled every 5 minutes. */
static void noise(double *x, size_t n, uint64_t seed)
{
    struct rng r = {seed};
    for (size_t i = 0; i < n; i++)
        x[i] = 50.0 + rng_normal(&r);
}

static void run(const struct anomaly_params *p, const double *x, size_t n, double *score)
{
    struct anomaly *a = anomaly_new(p);
    assert_non_null(a);
    for (size_t i = 0; i < n; i++)
        score[i] = anomaly_update(a, 1.4e9 + 300.0 * (double)i, x[i]);
    anomaly_free(a);
}

static double max_of(const double *s, size_t from, size_t to)
{
    double m = 0;
    for (size_t i = from; i < to; i++)
        m = fmax(m, s[i]);
    return m;
}

/* The highest score in [AT, AT + within) must fire, every score the stationary part
 * [warmup, AT) got must not, and the two must differ by 0.05 at least. (The anomaly
 * likelihood lags a new anomaly by a few points, so the first scores of a step stand
 * less far above the noise than the raw score alone would.) */
static void assert_detected(const double *s, size_t within)
{
    struct anomaly_params p;
    anomaly_params_default(&p);
    double before = max_of(s, p.warmup, AT), at = max_of(s, AT, AT + within);
    if (!(at >= p.fire && before < p.fire && at > before + 0.05)) {
        print_error("anomaly scored %.3f, stationary part up to %.3f\n", at, before);
        fail();
    }
}

/* With the default z_pattern a wholly new sequence of 4-sigma values in pure noise can
 * reach fire now and then (test_anomaly_update_stationary_noise_stays_low bounds how
 * often). Tests of the level, change and shift features compare the anomaly with the
 * noise before it, so they count pattern novelty only beside a 6-sigma jump. */
static void quiet_pattern(struct anomaly_params *p)
{
    p->z_pattern = 6.0;
}

static void test_anomaly_update_flags_step(void **state)
{
    (void)state;
    static double x[N], s[N];
    struct anomaly_params p;
    anomaly_params_default(&p);
    quiet_pattern(&p);
    noise(x, N, 7);
    for (size_t i = AT; i < N; i++)
        x[i] += 6.0;
    run(&p, x, N, s);
    assert_detected(s, 5);
}

static void test_anomaly_update_flags_spike(void **state)
{
    (void)state;
    static double x[N], s[N];
    struct anomaly_params p;
    anomaly_params_default(&p);
    noise(x, N, 11);
    x[AT] += 10.0;
    run(&p, x, N, s);
    assert_detected(s, 1);
}

static void test_anomaly_update_flags_variance_change(void **state)
{
    (void)state;
    static double x[N], s[N];
    struct anomaly_params p;
    anomaly_params_default(&p);
    quiet_pattern(&p);
    noise(x, N, 13);
    for (size_t i = AT; i < N; i++)
        x[i] = 50.0 + 5.0 * (x[i] - 50.0);
    run(&p, x, N, s);
    assert_detected(s, 50);
}

/* A 2.5-sigma shift: no single point stands out much, the recent mean does. */
static void test_anomaly_update_flags_small_shift(void **state)
{
    (void)state;
    static double x[N], s[N];
    struct anomaly_params p;
    anomaly_params_default(&p);
    quiet_pattern(&p);
    noise(x, N, 43);
    for (size_t i = AT; i < N; i++)
        x[i] += 2.5;
    struct anomaly *a = anomaly_new(&p);
    struct anomaly_reason why, best = {0};
    for (size_t i = 0; i < N; i++) {
        s[i] = anomaly_update(a, 1.4e9 + 300.0 * (double)i, x[i]);
        anomaly_explain(a, &why);
        if (i >= AT && why.score > best.score)
            best = why;
    }
    anomaly_free(a);
    double before = max_of(s, p.warmup, AT);
    if (!(best.score > before + 0.02)) {
        print_error("shift scored %.3f, stationary part up to %.3f\n", best.score, before);
        fail();
    }
    assert_int_equal(best.feature, ANOMALY_FEATURE_SHIFT);
    assert_true(best.index < AT + 50);
}

static void test_anomaly_update_stationary_noise_stays_low(void **state)
{
    (void)state;
    static double x[3 * N], s[3 * N];
    struct anomaly_params p;
    anomaly_params_default(&p);
    noise(x, 3 * N, 17);
    run(&p, x, 3 * N, s);
    size_t high = 0;
    for (size_t i = p.warmup; i < 3 * N; i++)
        high += s[i] >= p.fire;
    /* a few alarms in 9,000 points of pure noise at most, and never a saturated score */
    assert_true(high <= 5);
    assert_true(max_of(s, 0, 3 * N) < 0.95);
}

static void test_anomaly_update_scores_in_unit_interval(void **state)
{
    (void)state;
    struct anomaly_params p;
    anomaly_params_default(&p);
    struct anomaly *a = anomaly_new(&p);
    struct rng r = {3};
    for (int i = 0; i < 20000; i++) {
        double v = rng_normal(&r);
        if (i % 997 == 0)
            v *= 1e12;
        if (i % 1499 == 0)
            v = -1e300;
        if (i > 10000 && i < 11000)
            v = 0.0; /* a flat stretch: zero spread */
        double sc = anomaly_update(a, i, v);
        assert_true(sc >= 0.0 && sc <= 1.0);
    }
    anomaly_free(a);
}

static void test_anomaly_update_warmup_scores_zero(void **state)
{
    (void)state;
    static double x[N], s[N];
    struct anomaly_params p;
    anomaly_params_default(&p);
    noise(x, N, 19);
    x[10] = 1e6;
    run(&p, x, N, s);
    assert_close(max_of(s, 0, p.warmup), 0.0, 0.0);
}

static void test_anomaly_update_is_deterministic(void **state)
{
    (void)state;
    static double x[N], s1[N], s2[N];
    struct anomaly_params p;
    anomaly_params_default(&p);
    noise(x, N, 23);
    x[AT] += 10;
    run(&p, x, N, s1);
    run(&p, x, N, s2);
    for (size_t i = 0; i < N; i++)
        assert_true(s1[i] == s2[i]);
}

/* Two series equal up to AT and different after score the same up to AT. */
static void test_anomaly_update_has_no_lookahead(void **state)
{
    (void)state;
    static double x[N], y[N], sx[N], sy[N];
    struct anomaly_params p;
    anomaly_params_default(&p);
    noise(x, N, 29);
    noise(y, N, 29);
    for (size_t i = AT + 1; i < N; i++)
        y[i] = -1000.0 * y[i];
    run(&p, x, N, sx);
    run(&p, y, N, sy);
    for (size_t i = 0; i <= AT; i++)
        assert_true(sx[i] == sy[i]);
    assert_true(max_of(sy, AT + 1, N) > max_of(sx, AT + 1, N));
}

static void test_anomaly_state_size_constant(void **state)
{
    (void)state;
    struct anomaly_params p;
    anomaly_params_default(&p);
    struct anomaly *a = anomaly_new(&p);
    size_t before = anomaly_state_size(a);
    struct rng r = {31};
    for (int i = 0; i < 200000; i++)
        anomaly_update(a, i, 1000.0 * rng_normal(&r)); /* every context new: a full table */
    assert_int_equal(anomaly_state_size(a), before);
    anomaly_free(a);
    /* one more table bit adds exactly 2^table_bits four-byte slots; the rest is fixed */
    p.table_bits++;
    a = anomaly_new(&p);
    assert_int_equal(anomaly_state_size(a) - before, ((size_t)1 << (p.table_bits - 1)) * 4);
    anomaly_free(a);
}

static void test_anomaly_explain_names_spike(void **state)
{
    (void)state;
    static double x[N];
    struct anomaly_params p;
    anomaly_params_default(&p);
    noise(x, N, 37);
    x[AT] = 80.0;
    struct anomaly *a = anomaly_new(&p);
    struct anomaly_reason why;
    for (size_t i = 0; i <= AT; i++)
        anomaly_update(a, 1.4e9 + 300.0 * (double)i, x[i]);
    anomaly_explain(a, &why);
    assert_int_equal(why.index, AT);
    assert_true(why.feature == ANOMALY_FEATURE_LEVEL || why.feature == ANOMALY_FEATURE_CHANGE);
    assert_true(why.strength > 10.0);
    if (why.feature == ANOMALY_FEATURE_LEVEL) {
        assert_close(why.observed, 80.0, 0.0);
        assert_close(why.expected, 50.0, 0.5);
    }
    /* the z-score is the distance to the expectation in units of the scale */
    assert_close(why.strength * why.scale, fabs(why.observed - why.expected), 1e-9);
    assert_string_equal(anomaly_feature_name(why.feature),
                        why.feature == ANOMALY_FEATURE_LEVEL ? "level" : "change");
    anomaly_free(a);
}

/* With clipping off and fewer points than 1/alpha, the expected level is the plain
 * arithmetic mean of the points before. */
static void test_anomaly_explain_expected_is_mean(void **state)
{
    (void)state;
    struct anomaly_params p;
    anomaly_params_default(&p);
    p.clip = 1e9;
    p.w_pattern = 0;
    p.z_change = 1e9; /* only the level speaks */
    struct anomaly *a = anomaly_new(&p);
    struct anomaly_reason why;
    for (int i = 0; i < 300; i++)
        anomaly_update(a, i, 10.0 * sin(i) + 0.1 * i);
    anomaly_update(a, 300, 1000.0);
    anomaly_explain(a, &why);
    assert_int_equal(why.feature, ANOMALY_FEATURE_LEVEL);
    /* /usr/bin/python3 -c 'import math, statistics;
     *   print(repr(statistics.fmean(10*math.sin(i)+0.1*i for i in range(300))))'
     * -> 14.997844852531577 */
    assert_close(why.expected, 14.997844852531577, 1e-9);
    anomaly_free(a);
}

static void test_anomaly_update_skips_non_finite(void **state)
{
    (void)state;
    static double x[N], s1[N];
    struct anomaly_params p;
    anomaly_params_default(&p);
    noise(x, N, 41);
    run(&p, x, N, s1);
    struct anomaly *a = anomaly_new(&p);
    for (size_t i = 0; i < N; i++) {
        if (i == 500)
            assert_close(anomaly_update(a, 0, NAN), 0.0, 0.0);
        assert_true(anomaly_update(a, 1.4e9 + 300.0 * (double)i, x[i]) == s1[i]);
    }
    anomaly_free(a);
}

/* Fourteen days of five-minute points near 10 with a peak of +20 from 12:00 to 13:00
 * UTC, except on day 12, when the peak does not come: every value that day is one the
 * series has often seen, but not at that time of day. */
#define DAY 288
static void test_anomaly_update_flags_missing_daily_peak(void **state)
{
    (void)state;
    static double x[14 * DAY], s[14 * DAY];
    struct rng r = {17};
    struct anomaly_params p;
    anomaly_params_default(&p);
    for (size_t i = 0; i < 14 * DAY; i++) {
        size_t slot = i % DAY;
        int peak = slot >= 144 && slot < 156 && i / DAY != 12;
        x[i] = 10.0 + 0.3 * rng_normal(&r) + (peak ? 20.0 : 0.0);
    }
    struct anomaly *a = anomaly_new(&p);
    assert_non_null(a);
    struct anomaly_reason best = {0};
    for (size_t i = 0; i < 14 * DAY; i++) {
        /* 1.4e9 + 25600 is midnight UTC */
        s[i] = anomaly_update(a, 1.4e9 + 25600.0 + 300.0 * (double)i, x[i]);
        struct anomaly_reason why;
        anomaly_explain(a, &why);
        if (i >= 12 * DAY + 144 && i < 12 * DAY + 156 && why.score > best.score)
            best = why;
    }
    anomaly_free(a);
    assert_true(best.score >= p.fire);
    assert_int_equal(best.feature, ANOMALY_FEATURE_SEASON);
    assert_string_equal(anomaly_feature_name(best.feature), "season");
    /* the season alone finds it: with w_season = 0 the same day stays below fire */
    p.w_season = 0;
    run(&p, x, 14 * DAY, s);
    assert_true(max_of(s, 12 * DAY + 144, 12 * DAY + 156) < p.fire);
}

/* Spikes at AT (z 10), AT + 60 (z 30, during the rest) and AT + 130 (z 100, after the
 * first rest ends). With rest_extend, the second spike restarts the rest, so the third is
 * damped; without it, the third fires. */
static void rest_extend_run(uint32_t extend, double *s)
{
    static double x[N];
    struct anomaly_params p;
    anomaly_params_default(&p);
    p.rest = 100;
    p.rest_extend = extend;
    noise(x, N, 13);
    x[AT] += 10.0;
    x[AT + 60] += 30.0;
    x[AT + 130] += 100.0;
    run(&p, x, N, s);
}

static void test_anomaly_update_rest_extend_restarts_rest(void **state)
{
    (void)state;
    static double s[N];
    struct anomaly_params p;
    anomaly_params_default(&p);
    rest_extend_run(0, s);
    assert_true(s[AT] >= p.fire);
    assert_true(s[AT + 130] >= p.fire);
    rest_extend_run(1, s);
    assert_true(s[AT] >= p.fire);
    assert_true(s[AT + 130] <= p.rest_damp);
}

static void test_anomaly_params_check_rejects_bad(void **state)
{
    (void)state;
    struct anomaly_params p;
    struct err err;
    anomaly_params_default(&p);
    assert_int_equal(anomaly_params_check(&p, &err), 0);
    p.context_len = ANOMALY_MAX_CONTEXT + 1;
    assert_int_equal(anomaly_params_check(&p, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "context_len"));
    assert_null(anomaly_new(&p));
    anomaly_params_default(&p);
    p.warmup = p.grid_after;
    assert_int_equal(anomaly_params_check(&p, &err), -EINVAL);
    anomaly_params_default(&p);
    p.alpha = 0;
    assert_int_equal(anomaly_params_check(&p, &err), -EINVAL);
    anomaly_params_default(&p);
    p.fire = NAN;
    assert_int_equal(anomaly_params_check(&p, &err), -EINVAL);
    anomaly_params_default(&p);
    p.season_slots = ANOMALY_MAX_SLOTS + 1;
    assert_int_equal(anomaly_params_check(&p, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "season_slots"));
    p.season_slots = 0;
    assert_int_equal(anomaly_params_check(&p, &err), -EINVAL);
    anomaly_params_default(&p);
    p.w_season = 1.5;
    assert_int_equal(anomaly_params_check(&p, &err), -EINVAL);
    anomaly_params_default(&p);
    p.season_rate = 0;
    assert_int_equal(anomaly_params_check(&p, &err), -EINVAL);
    anomaly_params_default(&p);
    p.w_likelihood = 1.0;
    assert_int_equal(anomaly_params_check(&p, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "w_likelihood"));
    anomaly_params_default(&p);
    p.lik_rate = 0;
    assert_int_equal(anomaly_params_check(&p, &err), -EINVAL);
    anomaly_params_default(&p);
    p.nov_strong = 0;
    assert_int_equal(anomaly_params_check(&p, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "nov_strong"));
    anomaly_params_default(&p);
    p.nov_discount = -1;
    assert_int_equal(anomaly_params_check(&p, &err), -EINVAL);
}

/* A broken clock (NaN or infinite timestamps) must not break the time-of-day features:
 * the points are still scored, in [0, 1]. */
static void test_anomaly_update_survives_non_finite_timestamp(void **state)
{
    (void)state;
    struct anomaly_params p;
    anomaly_params_default(&p);
    struct anomaly *a = anomaly_new(&p);
    assert_non_null(a);
    struct rng r = {23};
    const double bad[] = {NAN, INFINITY, -INFINITY};
    for (int i = 0; i < 1000; i++) {
        double s = anomaly_update(a, bad[i % 3], 50.0 + rng_normal(&r));
        assert_true(s >= 0.0 && s <= 1.0);
    }
    anomaly_free(a);
}

/* Pure noise has no daily cycle: its time-of-day slots are as spread as the whole, so
 * the season feature never drives a notable score there. */
static void test_anomaly_update_season_quiet_without_daily_cycle(void **state)
{
    (void)state;
    static double x[3 * N];
    struct anomaly_params p;
    anomaly_params_default(&p);
    noise(x, 3 * N, 19);
    struct anomaly *a = anomaly_new(&p);
    assert_non_null(a);
    double worst = 0;
    for (size_t i = 0; i < 3 * N; i++) {
        double s = anomaly_update(a, 1.4e9 + 300.0 * (double)i, x[i]);
        struct anomaly_reason why;
        anomaly_explain(a, &why);
        if (why.feature == ANOMALY_FEATURE_SEASON)
            worst = fmax(worst, s);
    }
    anomaly_free(a);
    assert_true(worst < 0.5);
}

/* anomaly_log_tail against scipy; each value from
 *   /usr/bin/python3 -c "from scipy.stats import norm; import math;
 *       print(repr(min(1.0, -math.log10(norm.sf(Z)) / 10)))"
 * with Z the z below. */
static void test_anomaly_log_tail_matches_scipy(void **state)
{
    (void)state;
    assert_rel_close(anomaly_log_tail(-1.0), 0.007502601295781802, 1e-12); /* Z = -1.0 */
    assert_rel_close(anomaly_log_tail(0.0), 0.03010299956639812, 1e-12);   /* Z = 0.0 */
    assert_rel_close(anomaly_log_tail(1.5), 0.11751767216148164, 1e-12);   /* Z = 1.5 */
    assert_rel_close(anomaly_log_tail(3.0), 0.28696990359293695, 1e-12);   /* Z = 3.0 */
    assert_rel_close(anomaly_log_tail(5.0), 0.6542645672390656, 1e-11);    /* Z = 5.0 */
    assert_rel_close(anomaly_log_tail(6.0), 0.9005864327476706, 1e-11);    /* Z = 6.0 */
    assert_close(anomaly_log_tail(6.5), 1.0, 0.0);                         /* Z = 6.5: 1 */
    assert_close(anomaly_log_tail(INFINITY), 1.0, 0.0);
}

/* Quiet noise with a blip to a level never seen before every 25 points: each blip's
 * pattern is wholly new, but where that is common, one more tells less: by the last blip
 * about a tenth of the points have had a strong pattern surprise, and its score is lower
 * than without the discount, though it still fires. Without the rest, so that every blip
 * is scored. */
static void test_anomaly_update_common_novelty_discounted(void **state)
{
    (void)state;
    static double x[N], on[N], off[N];
    struct anomaly_params p;
    anomaly_params_default(&p);
    p.w_likelihood = 0;
    p.rest = 0;
    noise(x, N, 37);
    for (size_t i = 0; i < N; i++)
        x[i] =
            i >= 400 && i % 25 == 0 ? 20.0 + 0.5 * (double)(i / 25) : 10.0 + 0.01 * (x[i] - 50.0);
    run(&p, x, N, on);
    p.nov_discount = 0;
    run(&p, x, N, off);
    print_message("first blip %.4f / %.4f, last %.4f / %.4f (discount on / off)\n", on[400],
                  off[400], on[N - 25], off[N - 25]);
    assert_true(off[N - 25] - on[N - 25] > 0.02);
    assert_true(on[N - 25] >= p.fire);
}

/* The likelihood part of each score, recovered from two runs without the rest (which are
 * then the same raw score, blended or not): low in pure noise, high within a few points
 * of a sustained variance change, when the recent raw scores stay up. */
static void test_anomaly_update_likelihood_rises_on_sustained_change(void **state)
{
    (void)state;
    static double x[N], with[N], without[N];
    struct anomaly_params p;
    anomaly_params_default(&p);
    p.rest = 0;
    noise(x, N, 13);
    for (size_t i = AT; i < N; i++)
        x[i] = 50.0 + 5.0 * (x[i] - 50.0);
    double w = p.w_likelihood;
    run(&p, x, N, with);
    p.w_likelihood = 0;
    run(&p, x, N, without);
    double before = 0, after = 0;
    for (size_t i = p.warmup; i < AT + 20; i++) {
        double lik = (with[i] - (1.0 - w) * without[i]) / w;
        if (i < AT)
            before = fmax(before, lik);
        else
            after = fmax(after, lik);
    }
    print_message("likelihood up to %.4f in noise, %.4f after the change\n", before, after);
    assert_true(before < 0.45);
    assert_true(after > 0.5); /* a tail probability below 1e-5 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_anomaly_update_flags_step),
        cmocka_unit_test(test_anomaly_update_flags_spike),
        cmocka_unit_test(test_anomaly_update_flags_variance_change),
        cmocka_unit_test(test_anomaly_update_flags_small_shift),
        cmocka_unit_test(test_anomaly_update_stationary_noise_stays_low),
        cmocka_unit_test(test_anomaly_update_scores_in_unit_interval),
        cmocka_unit_test(test_anomaly_update_warmup_scores_zero),
        cmocka_unit_test(test_anomaly_update_is_deterministic),
        cmocka_unit_test(test_anomaly_update_has_no_lookahead),
        cmocka_unit_test(test_anomaly_state_size_constant),
        cmocka_unit_test(test_anomaly_explain_names_spike),
        cmocka_unit_test(test_anomaly_explain_expected_is_mean),
        cmocka_unit_test(test_anomaly_update_skips_non_finite),
        cmocka_unit_test(test_anomaly_update_rest_extend_restarts_rest),
        cmocka_unit_test(test_anomaly_update_flags_missing_daily_peak),
        cmocka_unit_test(test_anomaly_update_season_quiet_without_daily_cycle),
        cmocka_unit_test(test_anomaly_update_survives_non_finite_timestamp),
        cmocka_unit_test(test_anomaly_params_check_rejects_bad),
        cmocka_unit_test(test_anomaly_log_tail_matches_scipy),
        cmocka_unit_test(test_anomaly_update_common_novelty_discounted),
        cmocka_unit_test(test_anomaly_update_likelihood_rises_on_sustained_change),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
