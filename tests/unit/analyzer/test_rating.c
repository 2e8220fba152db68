/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of analyzer/rating: the documented formula on hand-worked cases, the grade
 * boundaries and rejection of bad input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>

#include "analyzer/rating.h"
#include "testlib.h"

static void test_rating_compute_perfect_runs_score_100(void **state)
{
    (void)state;
    struct rating_run runs[] = {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}};
    struct rating_result r;
    assert_int_equal(rating_compute(runs, 3, 60, &r), 0);
    assert_close(r.score, 100, 1e-12);
    assert_int_equal(r.grade, 'A');
    assert_close(r.mean_recovery_s, 0, 0);
}

static void test_rating_compute_all_failed_full_budget_scores_0(void **state)
{
    (void)state;
    struct rating_run runs[] = {{1, 0, 1}, {1, 0, 2}};
    struct rating_result r;
    assert_int_equal(rating_compute(runs, 2, 60, &r), 0);
    assert_close(r.score, 0, 1e-12);
    assert_int_equal(r.grade, 'F');
    assert_int_equal(r.failures, 2);
    assert_true(isnan(r.mean_recovery_s));
}

static void test_rating_compute_example_service_by_hand(void **state)
{
    (void)state;
    /* The 'api' service of examples/analyze/chaos-runs.json, target 60 s:
     *   survival = 1 - 1/5 = 0.8
     *   recovery = (60/68 + 60/72 + 60/60 + 60/90 + 0) / 5 = 0.6764705882352942
     *   budget   = 1 - (0.01 + 0.02 + 0 + 0.05 + 0.25) / 5 = 0.934
     *   score    = 100 (0.5 0.8 + 0.3 0.67647 + 0.2 0.934) = 78.97411764705883 -> C
     * (python3 -c 'print(100*(0.5*0.8+0.3*(60/68+60/72+1+60/90)/5+0.2*(1-0.33/5)))') */
    struct rating_run runs[] = {
        {0, 8, 0.01}, {0, 12, 0.02}, {0, 0, 0}, {0, 30, 0.05}, {1, 0, 0.25},
    };
    struct rating_result r;
    assert_int_equal(rating_compute(runs, 5, 60, &r), 0);
    assert_close(r.survival, 0.8, 1e-12);
    assert_close(r.recovery, 0.6764705882352942, 1e-12);
    assert_close(r.budget, 0.934, 1e-12);
    assert_close(r.score, 78.97411764705882, 1e-9);
    assert_int_equal(r.grade, 'C');
    assert_close(r.mean_recovery_s, 12.5, 1e-12);
}

static void test_rating_compute_recovery_at_target_scores_half(void **state)
{
    (void)state;
    struct rating_run runs[] = {{0, 30, 0}};
    struct rating_result r;
    assert_int_equal(rating_compute(runs, 1, 30, &r), 0);
    assert_close(r.recovery, 0.5, 1e-12);
    assert_close(r.score, 85, 1e-12);
}

static void test_rating_grade_boundaries(void **state)
{
    (void)state;
    assert_int_equal(rating_grade(90), 'A');
    assert_int_equal(rating_grade(89.999), 'B');
    assert_int_equal(rating_grade(80), 'B');
    assert_int_equal(rating_grade(70), 'C');
    assert_int_equal(rating_grade(60), 'D');
    assert_int_equal(rating_grade(59.9), 'F');
}

static void test_rating_compute_rejects_bad_input(void **state)
{
    (void)state;
    struct rating_run ok[] = {{0, 1, 0}}, neg[] = {{0, -1, 0}}, nan_b[] = {{0, 1, NAN}};
    struct rating_result r;
    assert_int_equal(rating_compute(ok, 0, 60, &r), -EINVAL);
    assert_int_equal(rating_compute(ok, 1, 0, &r), -EINVAL);
    assert_int_equal(rating_compute(neg, 1, 60, &r), -EINVAL);
    assert_int_equal(rating_compute(nan_b, 1, 60, &r), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rating_compute_perfect_runs_score_100),
        cmocka_unit_test(test_rating_compute_all_failed_full_budget_scores_0),
        cmocka_unit_test(test_rating_compute_example_service_by_hand),
        cmocka_unit_test(test_rating_compute_recovery_at_target_scores_half),
        cmocka_unit_test(test_rating_grade_boundaries),
        cmocka_unit_test(test_rating_compute_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
