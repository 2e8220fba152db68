/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for replay/replay_sched: the open-loop schedule. Speed factors divide the
 * recorded times, a fixed rate spaces requests 1/rate apart whatever was recorded,
 * --loop continues one mean gap after a pass, and a rate curve places request k where
 * the area under the curve reaches k (reference times from scipy, commands beside them).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "replay/replay_sched.h"
#include "testlib.h"

static void test_replay_sched_next_speed_divides_recorded_times(void **state)
{
    struct replay_sched s;
    (void)state;
    replay_sched_init_speed(&s, 3.0);
    /* /usr/bin/python3 -c "print([round(t/3) for t in (0, 1e9, 2.5e9)])" */
    assert_int_equal(replay_sched_next(&s, 0), 0);
    assert_int_equal(replay_sched_next(&s, 1000000000ULL), 333333333ULL);
    assert_int_equal(replay_sched_next(&s, 2500000000ULL), 833333333ULL);
}

static void test_replay_sched_next_speed_never_goes_back(void **state)
{
    struct replay_sched s;
    (void)state;
    replay_sched_init_speed(&s, 1.0);
    assert_int_equal(replay_sched_next(&s, 2000), 2000);
    assert_int_equal(replay_sched_next(&s, 1000), 2000); /* out-of-order record */
}

static void test_replay_sched_next_rate_ignores_recorded_gaps(void **state)
{
    struct replay_sched s;
    (void)state;
    replay_sched_init_rate(&s, 2000.0);
    assert_int_equal(replay_sched_next(&s, 0), 0);
    assert_int_equal(replay_sched_next(&s, 7000000000ULL), 500000ULL);
    assert_int_equal(replay_sched_next(&s, 1), 1000000ULL);
    for (int i = 3; i < 2000; i++)
        replay_sched_next(&s, 0);
    assert_int_equal(replay_sched_next(&s, 0), 1000000000ULL); /* request 2000 at 1 s */
}

static void test_replay_sched_wrap_continues_one_mean_gap_later(void **state)
{
    struct replay_sched s;
    (void)state;
    replay_sched_init_speed(&s, 2.0);
    replay_sched_next(&s, 0);
    replay_sched_next(&s, 1000000000ULL);
    replay_sched_next(&s, 2000000000ULL);
    replay_sched_wrap(&s);
    /* pass 2 starts at source time 2 s + mean gap 1 s = 3 s, at speed 2: 1.5 s */
    assert_int_equal(replay_sched_next(&s, 0), 1500000000ULL);
    assert_int_equal(replay_sched_next(&s, 1000000000ULL), 2000000000ULL);
}

static void test_replay_sched_wrap_single_request_repeats_each_second(void **state)
{
    struct replay_sched s;
    (void)state;
    replay_sched_init_speed(&s, 1.0);
    assert_int_equal(replay_sched_next(&s, 0), 0);
    replay_sched_wrap(&s);
    assert_int_equal(replay_sched_next(&s, 0), 1000000000ULL);
}

static void test_replay_sched_next_curve_matches_area(void **state)
{
    /* 100/s rising linearly to 300/s at 10 s, then held */
    static const struct replay_curve_point c[] = {{0, 100}, {10, 300}};
    struct replay_sched s;
    uint64_t t[2301];
    (void)state;
    replay_sched_init_curve(&s, c, 2);
    for (int k = 0; k <= 2300; k++)
        t[k] = replay_sched_next(&s, 0);
    assert_int_equal(t[0], 0);
    /* /usr/bin/python3 -c "from scipy.integrate import quad; from scipy.optimize import brentq
     *   r=lambda t: 100+20*t if t<10 else 300
     *   print([brentq(lambda t: quad(r,0,t,limit=200,points=[10])[0]-k, 0, 100, xtol=1e-12)
     *          for k in (1, 1000, 2300)])"
     * -> 0.009990019950136925, 6.180339887498947, 11.0 */
    assert_close((double)t[1] / 1e9, 0.009990019950136925, 1e-8);
    assert_close((double)t[1000] / 1e9, 6.180339887498947, 1e-6);
    assert_close((double)t[2300] / 1e9, 11.0, 1e-6);
}

static void test_replay_sched_next_curve_ends_when_rate_stays_zero(void **state)
{
    /* 10/s for 1 s, falling to 0 at 2 s: an area of 15 requests */
    static const struct replay_curve_point c[] = {{0, 10}, {1, 10}, {2, 0}};
    struct replay_sched s;
    uint64_t t[17];
    (void)state;
    replay_sched_init_curve(&s, c, 3);
    for (int k = 0; k <= 16; k++)
        t[k] = replay_sched_next(&s, 0);
    /* /usr/bin/python3 -c "from scipy.integrate import quad; from scipy.optimize import brentq
     *   r=lambda t: 10 if t<1 else (10-10*(t-1) if t<2 else 0)
     *   print([brentq(lambda t: quad(r,0,t,points=[1,2])[0]-k, 0, 2, xtol=1e-12) for k in (5,
     * 12)])"
     * -> 0.5, 1.22540333075852 */
    assert_close((double)t[5] / 1e9, 0.5, 1e-8);
    assert_close((double)t[12] / 1e9, 1.22540333075852, 1e-6);
    assert_close((double)t[15] / 1e9, 2.0, 1e-4);
    assert_true(t[16] == REPLAY_SCHED_END);
}

static void test_replay_curve_rate_interpolates_and_holds(void **state)
{
    static const struct replay_curve_point c[] = {{5, 100}, {15, 300}};
    (void)state;
    assert_close(replay_curve_rate(c, 2, 0), 100, 1e-12);
    assert_close(replay_curve_rate(c, 2, 10), 200, 1e-12);
    assert_close(replay_curve_rate(c, 2, 99), 300, 1e-12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_sched_next_speed_divides_recorded_times),
        cmocka_unit_test(test_replay_sched_next_speed_never_goes_back),
        cmocka_unit_test(test_replay_sched_next_rate_ignores_recorded_gaps),
        cmocka_unit_test(test_replay_sched_wrap_continues_one_mean_gap_later),
        cmocka_unit_test(test_replay_sched_wrap_single_request_repeats_each_second),
        cmocka_unit_test(test_replay_sched_next_curve_matches_area),
        cmocka_unit_test(test_replay_sched_next_curve_ends_when_rate_stays_zero),
        cmocka_unit_test(test_replay_curve_rate_interpolates_and_holds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
