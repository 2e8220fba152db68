/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for chaos/fault: parameter checks, schedules, scope matching, the probability of
 * firing against binomial bounds from scipy, the latency distributions against bounds on
 * their sample means from scipy, and the decision a set of fired faults builds. Seeds are
 * fixed, so the statistical checks draw the same numbers on every run and cannot flake;
 * a biased draw still fails them (the bounds hold with probability 1 - 2e-9).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <string.h>

#include "base/clock.h"
#include "chaos/fault.h"
#include "http/head.h"
#include "testlib.h"

#define DRAWS 20000
#define MS CLOCK_NS_PER_MS

static struct fault latency(uint64_t ms)
{
    return (struct fault){.kind = FAULT_LATENCY, .probability = 1.0, .latency_ns = ms * MS};
}

static void test_fault_check_rejects_bad_parameters(void **state)
{
    (void)state;
    struct err err = {0};
    struct fault f = latency(0);
    assert_int_equal(fault_check(&f, &err), -EINVAL); /* no latency, no jitter */
    f = latency(10);
    f.probability = 1.5;
    assert_int_equal(fault_check(&f, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "probability"));
    f.probability = NAN;
    assert_int_equal(fault_check(&f, &err), -EINVAL);
    f = (struct fault){.kind = FAULT_ABORT, .probability = 1, .status = 600};
    assert_int_equal(fault_check(&f, &err), -EINVAL);
    f = (struct fault){.kind = FAULT_BANDWIDTH, .probability = 1};
    assert_int_equal(fault_check(&f, &err), -EINVAL);
    f = (struct fault){.kind = FAULT_SLICER, .probability = 1, .slice_delay_ns = MS};
    assert_int_equal(fault_check(&f, &err), -EINVAL);
    f = latency(10);
    f.every_ns = 100 * MS; /* 'every' without 'for' */
    assert_int_equal(fault_check(&f, &err), -EINVAL);
    f.active_ns = 200 * MS; /* 'for' longer than 'every' */
    assert_int_equal(fault_check(&f, &err), -EINVAL);
    f = (struct fault){.kind = 99, .probability = 1};
    assert_int_equal(fault_check(&f, &err), -EINVAL);
}

static void test_fault_check_defaults_abort_to_503(void **state)
{
    (void)state;
    struct fault f = {.kind = FAULT_ABORT, .probability = 1};
    assert_int_equal(fault_check(&f, NULL), 0);
    assert_int_equal(f.status, 503);
}

static void test_fault_kind_parse_round_trips(void **state)
{
    (void)state;
    for (int k = 1; k < FAULT_KIND_COUNT; k++) {
        enum fault_kind out = 0;
        assert_int_equal(fault_kind_parse(fault_kind_name((enum fault_kind)k), &out), 0);
        assert_int_equal(out, k);
    }
    enum fault_kind out;
    assert_int_equal(fault_kind_parse("latencyx", &out), -EINVAL);
    assert_true(fault_kind_is_instance(FAULT_PAUSE));
    assert_false(fault_kind_is_instance(FAULT_HANG));
}

static void test_fault_scheduled_follows_start_duration_and_period(void **state)
{
    (void)state;
    struct fault f = latency(1);
    assert_true(fault_scheduled(&f, 0)); /* no schedule: always */
    f.start_ns = 100 * MS;
    f.duration_ns = 50 * MS;
    assert_false(fault_scheduled(&f, 99 * MS));
    assert_true(fault_scheduled(&f, 100 * MS));
    assert_true(fault_scheduled(&f, 149 * MS));
    assert_false(fault_scheduled(&f, 150 * MS));
    /* on for 10 ms of every 40 ms, from 0, for 100 ms */
    f = latency(1);
    f.every_ns = 40 * MS;
    f.active_ns = 10 * MS;
    f.duration_ns = 100 * MS;
    assert_true(fault_scheduled(&f, 0));
    assert_true(fault_scheduled(&f, 9 * MS));
    assert_false(fault_scheduled(&f, 10 * MS));
    assert_false(fault_scheduled(&f, 39 * MS));
    assert_true(fault_scheduled(&f, 80 * MS));
    assert_false(fault_scheduled(&f, 120 * MS)); /* a period's "on" past the duration */
}

static struct fault_probe probe(const char *pool, const char *path, const struct http_head *h)
{
    return (struct fault_probe){.service = "api",
                                .pool = pool,
                                .pool_id = 7,
                                .primary = strcmp(pool, "primary") == 0,
                                .path = path,
                                .path_len = strlen(path),
                                .req = h};
}

static void test_fault_in_scope_matches_each_scope_key(void **state)
{
    (void)state;
    struct http_header hdr[] = {{.name = "X-Test", .name_len = 6, .value = "yes", .value_len = 3}};
    struct http_head h = {.headers = hdr, .nheaders = 1};
    struct fault f = latency(1);
    struct fault_probe p = probe("s1", "/items/3", &h);
    assert_true(fault_in_scope(&f, &p));
    struct fault_probe prim = probe("primary", "/items/3", &h);
    assert_false(fault_in_scope(&f, &prim)); /* unscoped faults never touch the primary */
    f.pool = "primary";
    assert_true(fault_in_scope(&f, &prim));
    assert_false(fault_in_scope(&f, &p));
    f.pool = "s1";
    f.service = "other";
    assert_false(fault_in_scope(&f, &p));
    f.service = "api";
    f.route_prefix = "/items";
    assert_true(fault_in_scope(&f, &p));
    f.route_prefix = "/users";
    assert_false(fault_in_scope(&f, &p));
    f.route_prefix = NULL;
    f.header = "x-test";
    assert_true(fault_in_scope(&f, &p));
    f.header_value = "no";
    assert_false(fault_in_scope(&f, &p));
    f.header_value = "yes";
    assert_true(fault_in_scope(&f, &p));
    f.instance = "127.0.0.1:9001"; /* only evaluated once the host is known */
    assert_false(fault_in_scope(&f, &p));
    p.instance = "127.0.0.1:9001";
    assert_true(fault_in_scope(&f, &p));
    p.instance = "127.0.0.1:9002";
    assert_false(fault_in_scope(&f, &p));
}

static unsigned fires(double probability, uint64_t seed)
{
    struct fault f = latency(1);
    f.probability = probability;
    struct rng rng;
    rng_seed(&rng, seed);
    unsigned n = 0;
    for (int i = 0; i < DRAWS; i++)
        n += fault_fires(&f, &rng);
    return n;
}

static void test_fault_fires_within_binomial_bounds(void **state)
{
    (void)state;
    /* /usr/bin/python3 -c 'from scipy.stats import binom; print(binom.ppf(1e-9, 20000, 0.3),
     *     binom.isf(1e-9, 20000, 0.3)); print(binom.ppf(1e-9, 20000, 0.02),
     *     binom.isf(1e-9, 20000, 0.02))'
     * printed 5614.0 6391.0 and 287.0 524.0 */
    unsigned n = fires(0.3, 20261122);
    assert_true(n >= 5614 && n <= 6391);
    n = fires(0.02, 42);
    assert_true(n >= 287 && n <= 524);
    assert_int_equal(fires(0.0, 1), 0);
    assert_int_equal(fires(1.0, 1), DRAWS);
}

static double mean_ms(struct fault *f, uint64_t seed)
{
    struct rng rng;
    rng_seed(&rng, seed);
    double sum = 0;
    for (int i = 0; i < DRAWS; i++)
        sum += (double)fault_latency_draw(f, &rng) / 1e6;
    return sum / DRAWS;
}

static void test_fault_latency_draw_means_within_bounds(void **state)
{
    (void)state;
    /* Bounds on the mean of 20000 draws at z = norm.isf(1e-9):
     * /usr/bin/python3 -c 'from scipy.stats import norm; import math; z=norm.isf(1e-9);
     *     print(z, z*10/math.sqrt(20000), z*math.sqrt(100/3)/math.sqrt(20000))'
     * printed 5.9978070150076865 0.42410900125601797 0.24485944604090532
     * (exponential, mean 10 ms: sd 10 ms; uniform 10 ± 10 ms: sd sqrt(100/3) ms; normal with
     * sd 2 ms: a fifth of the exponential's bound, 0.0848 ms) */
    struct fault f = latency(10);
    assert_close(mean_ms(&f, 1), 10.0, 1e-9); /* fixed */
    f.jitter_ns = 10 * MS;
    assert_close(mean_ms(&f, 2), 10.0, 0.24485944604090532);
    f.dist = FAULT_DIST_EXPONENTIAL;
    assert_close(mean_ms(&f, 3), 10.0, 0.42410900125601797);
    f.dist = FAULT_DIST_NORMAL;
    f.jitter_ns = 2 * MS;
    assert_close(mean_ms(&f, 4), 10.0, 0.42410900125601797 / 5);
}

static void test_fault_apply_builds_the_decision(void **state)
{
    (void)state;
    struct rng rng;
    rng_seed(&rng, 9);
    struct fault_decision d = {0};
    struct fault a = latency(30), b = latency(20);
    b.direction = FAULT_DIR_RESPONSE;
    fault_apply(&a, &rng, &d);
    fault_apply(&a, &rng, &d); /* request delays add up */
    fault_apply(&b, &rng, &d);
    assert_int_equal(d.req_delay_ns, 60 * MS);
    assert_int_equal(d.resp_delay_ns, 20 * MS);
    struct fault bw = {.kind = FAULT_BANDWIDTH, .probability = 1, .rate = 100000};
    struct fault sl = {.kind = FAULT_SLICER,
                       .probability = 1,
                       .slice_size = 10,
                       .slice_delay_ns = MS,
                       .direction = FAULT_DIR_RESPONSE};
    fault_apply(&bw, &rng, &d);
    fault_apply(&sl, &rng, &d);
    assert_int_equal(d.req.chunk, 1000); /* 100000 B/s in 10 ms steps */
    assert_int_equal(d.req.delay_ns, 10 * MS);
    assert_int_equal(d.resp.chunk, 10);
    struct fault ab = {.kind = FAULT_ABORT, .probability = 1, .status = 418};
    fault_apply(&ab, &rng, &d);
    assert_int_equal(d.abort_status, 418);
    assert_false(d.abort_after);
    struct fault kill = {.kind = FAULT_KILL, .probability = 1};
    unsigned before = d.fired;
    fault_apply(&kill, &rng, &d); /* instance faults do not change copies */
    assert_int_equal(d.fired, before);
}

static void test_fault_stats_hit_counts_by_pool(void **state)
{
    (void)state;
    struct fault_stats st;
    memset(&st, 0, sizeof(st));
    struct fault_probe p1 = probe("s1", "/", NULL), p2 = probe("s2", "/", NULL);
    p2.pool_id = 8;
    for (int i = 0; i < 5; i++)
        fault_stats_hit(&st, &p1);
    fault_stats_hit(&st, &p2);
    assert_int_equal(st.affected, 6);
    assert_int_equal(st.pools[0].count, 5);
    assert_string_equal(st.pools[0].pool, "s1");
    assert_int_equal(st.pools[1].count, 1);
    assert_string_equal(st.pools[1].service, "api");
    for (uint32_t id = 100; id < 100 + FAULT_POOL_SLOTS; id++) {
        p2.pool_id = id;
        fault_stats_hit(&st, &p2);
    }
    assert_int_equal(st.other, 2); /* 16 slots: s1, s2 and 14 more */
}

static void test_fault_primary_refusal_takes_request_latency_abort_reset(void **state)
{
    (void)state;
    for (int k = FAULT_LATENCY; k < FAULT_KIND_COUNT; k++) {
        struct fault f = {.kind = (enum fault_kind)k};
        bool fits = k == FAULT_LATENCY || k == FAULT_ABORT || k == FAULT_RESET;
        assert_true((fault_primary_refusal(&f) == NULL) == fits);
    }
    struct fault resp = {.kind = FAULT_ABORT, .direction = FAULT_DIR_RESPONSE};
    assert_non_null(fault_primary_refusal(&resp));
    struct fault inst = {.kind = FAULT_RESET, .instance = "127.0.0.1:9"};
    assert_non_null(fault_primary_refusal(&inst));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fault_check_rejects_bad_parameters),
        cmocka_unit_test(test_fault_check_defaults_abort_to_503),
        cmocka_unit_test(test_fault_kind_parse_round_trips),
        cmocka_unit_test(test_fault_scheduled_follows_start_duration_and_period),
        cmocka_unit_test(test_fault_in_scope_matches_each_scope_key),
        cmocka_unit_test(test_fault_fires_within_binomial_bounds),
        cmocka_unit_test(test_fault_latency_draw_means_within_bounds),
        cmocka_unit_test(test_fault_apply_builds_the_decision),
        cmocka_unit_test(test_fault_stats_hit_counts_by_pool),
        cmocka_unit_test(test_fault_primary_refusal_takes_request_latency_abort_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
