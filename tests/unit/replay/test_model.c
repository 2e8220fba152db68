/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for replay/model: path templating; learning counts every request of a capture into
 * its endpoint; the generating source reproduces the learned endpoint mix (chi-square test
 * against the learned shares), keeps the requested arrival rate and follows a rate curve
 * step by step (Poisson bounds), and is deterministic for a seed; the model survives its
 * JSON form; rate curves parse in both CSV forms and refuse bad lines with file:line.
 * Reference values are from scipy, each command beside its value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/rng.h"
#include "replay/model.h"
#include "testlib.h"

static void expect_template(const char *path, const char *want)
{
    struct buf b;
    buf_init(&b, 1024);
    assert_int_equal(traffic_model_template(path, strlen(path), &b), 0);
    assert_string_equal(b.data ? b.data : "", want);
    buf_release(&b);
}

static void test_traffic_model_template_replaces_ids(void **state)
{
    (void)state;
    expect_template("/users/123", "/users/{id}");
    expect_template("/users/123/orders/9", "/users/{id}/orders/{id}");
    expect_template("/items/3f2504e0-4f89-11d3-9a0c-0305e82c3301", "/items/{uuid}");
    expect_template("/blobs/deadbeef01", "/blobs/{hex}");
    expect_template("/blobs/deadbeef", "/blobs/deadbeef"); /* no digit: a word */
    expect_template("/v2/users/abc", "/v2/users/abc");
    expect_template("/", "/");
    expect_template("//a//", "//a//");
}

/* The mix the synthetic capture is drawn from. */
static const char *const methods[3] = {"GET", "POST", "GET"};
static const char *const templates[3] = {"/users/{id}", "/orders", "/items/{uuid}"};
static const double shares[3] = {0.5, 0.3, 0.2};

static void learn_synthetic(struct traffic_model *m, uint64_t counts[3])
{
    struct rng g;
    rng_seed(&g, 1);
    traffic_model_init(m);
    memset(counts, 0, 3 * sizeof(counts[0]));
    for (int i = 0; i < 3000; i++) {
        double u = (double)(rng_next(&g) >> 11) * 0x1.0p-53;
        int k = u < shares[0] ? 0 : u < shares[0] + shares[1] ? 1 : 2;
        char target[96], xff[64];
        if (k == 0)
            snprintf(target, sizeof(target), "/users/%u?v=1", rng_below32(&g, 500));
        else if (k == 1)
            snprintf(target, sizeof(target), "/orders");
        else
            snprintf(target, sizeof(target), "/items/3f2504e0-4f89-11d3-9a0c-0305e82c%04x",
                     rng_below32(&g, 65536));
        snprintf(xff, sizeof(xff), "anon-%u", rng_below32(&g, 50));
        struct http_header h[2] = {{"Host", 4, "api", 3},
                                   {"X-Forwarded-For", 15, xff, strlen(xff)}};
        struct capture_record r = {.ts_ns = 1795388400ULL * CLOCK_NS_PER_S +
                                            (uint64_t)i * 10 * CLOCK_NS_PER_MS,
                                   .method = methods[k],
                                   .method_len = strlen(methods[k]),
                                   .target = target,
                                   .target_len = strlen(target),
                                   .headers = h,
                                   .nheaders = 2,
                                   .body = k == 1 ? "{\"n\":1}" : NULL,
                                   .body_len = k == 1 ? 7 : 0};
        r.primary.present = true;
        r.primary.status = 200;
        traffic_model_add(m, &r);
        counts[k]++;
    }
    traffic_model_finish(m);
}

static int endpoint_index(const struct traffic_model *m, const char *method, const char *path)
{
    for (size_t i = 0; i < m->nep; i++)
        if (strcmp(m->ep[i].method, method) == 0 && strcmp(m->ep[i].path, path) == 0)
            return (int)i;
    return -1;
}

static void test_traffic_model_add_counts_every_request(void **state)
{
    (void)state;
    struct traffic_model m;
    uint64_t counts[3];
    learn_synthetic(&m, counts);
    assert_int_equal(m.nep, 3);
    assert_int_equal(m.requests, 3000);
    for (int k = 0; k < 3; k++) {
        int i = endpoint_index(&m, methods[k], templates[k]);
        assert_true(i >= 0);
        assert_int_equal(m.ep[i].count, counts[k]);
        assert_close(m.ep[i].weight, (double)counts[k] / 3000, 1e-12);
        assert_int_equal(m.ep[i].nexamples, k == 1 ? 1 : TRAFFIC_MODEL_EXAMPLES);
    }
    assert_true(m.ep[0].count >= m.ep[1].count && m.ep[1].count >= m.ep[2].count);
    int post = endpoint_index(&m, "POST", "/orders");
    assert_int_equal(m.ep[post].body_len, 7);
    assert_int_equal(m.ep[post].nheaders, 1); /* X-Forwarded-For is per request */
    /* 3000 requests 10 ms apart: 29.99 s, all in one hour of day (1795388400 s is 23:00 UTC:
     * date -u -d @1795388400 -> Sun Nov 22 23:00:00 UTC 2026). */
    assert_close(m.mean_rate, 3000 / 29.99, 1e-9);
    assert_close(m.hour_rate[23], 3000 / 29.99, 1e-9);
    assert_true(m.hour_rate[0] < 0);
    /* 50 clients drawn at random: a client's gaps are geometric with mean 50 * 10 ms. */
    assert_true(m.think_n == 3000 - 50);
    assert_rel_close(m.think_mean_s, 0.5, 0.1);
    traffic_model_release(&m);
}

/* Records without X-Forwarded-For (no client pseudonym) leave no think times: the model
 * learns the mix and says so with think_n 0 (this sorted a NULL array before). */
static void test_traffic_model_finish_learns_without_client_ids(void **state)
{
    (void)state;
    struct traffic_model m;
    traffic_model_init(&m);
    for (int i = 0; i < 10; i++) {
        struct http_header h[1] = {{"Host", 4, "api", 3}};
        struct capture_record r = {.ts_ns = (uint64_t)i * CLOCK_NS_PER_S,
                                   .method = "GET",
                                   .method_len = 3,
                                   .target = "/a/1",
                                   .target_len = 4,
                                   .headers = h,
                                   .nheaders = 1};
        r.primary.present = true;
        r.primary.status = 200;
        traffic_model_add(&m, &r);
    }
    traffic_model_finish(&m);
    assert_int_equal(m.nep, 1);
    assert_string_equal(m.ep[0].path, "/a/{id}");
    assert_int_equal(m.think_n, 0);
    traffic_model_release(&m);
}

static void test_replay_source_model_new_reproduces_the_mix(void **state)
{
    (void)state;
    struct traffic_model m;
    uint64_t counts[3];
    learn_synthetic(&m, counts);
    struct traffic_gen gen = {.rate_per_s = 1000, .max_requests = 20000};
    struct replay_source *s;
    assert_int_equal(replay_source_model_new(&m, 42, &gen, &s, NULL), 0);
    uint64_t seen[3] = {0};
    struct replay_req q;
    struct buf b;
    buf_init(&b, 4096);
    size_t n = 0;
    while (replay_source_next(s, &q) == 1) {
        buf_reset(&b);
        assert_int_equal(
            traffic_model_template(q.target, http_target_path_len(q.target, q.target_len), &b), 0);
        char method[8];
        snprintf(method, sizeof(method), "%.*s", (int)q.method_len, q.method);
        int k = 0;
        while (k < 3 && !(strcmp(method, methods[k]) == 0 && strcmp(b.data, templates[k]) == 0))
            k++;
        assert_true(k < 3);
        seen[k]++;
        n++;
    }
    assert_int_equal(n, 20000);
    double chi = 0;
    for (int k = 0; k < 3; k++) {
        double e = 20000.0 * (double)counts[k] / 3000;
        chi += ((double)seen[k] - e) * ((double)seen[k] - e) / e;
    }
    /* /usr/bin/python3 -c "from scipy.stats import chi2; print(chi2.ppf(0.999, 2))"
     *   -> 13.815510557964274 (3 endpoints, 2 degrees of freedom, alpha 0.001) */
    assert_true(chi < 13.815510557964274);
    buf_release(&b);
    replay_source_free(s);
    traffic_model_release(&m);
}

/* Counts arrivals before t_end seconds, and per step of step_s when counts is set. */
static size_t arrivals(struct replay_source *s, double t_end, double step_s, size_t *counts,
                       size_t nsteps)
{
    struct replay_req q;
    size_t n = 0;
    uint64_t prev = 0;
    while (replay_source_next(s, &q) == 1 && (double)q.at_ns / 1e9 < t_end) {
        assert_true(q.at_ns >= prev);
        prev = q.at_ns;
        if (counts) {
            size_t k = (size_t)((double)q.at_ns / 1e9 / step_s);
            assert_true(k < nsteps);
            counts[k]++;
        }
        n++;
    }
    return n;
}

static void test_replay_source_model_new_keeps_rate_and_follows_curve(void **state)
{
    (void)state;
    struct traffic_model m;
    uint64_t counts[3];
    learn_synthetic(&m, counts);
    struct traffic_gen fixed = {.rate_per_s = 200};
    struct replay_source *s;
    assert_int_equal(replay_source_model_new(&m, 7, &fixed, &s, NULL), 0);
    size_t n = arrivals(s, 50, 0, NULL, 0);
    /* /usr/bin/python3 -c "from scipy.stats import poisson;
     *   print(poisson.ppf([0.0001, 0.9999], 10000))"  -> [9630. 10374.] */
    assert_true(n >= 9630 && n <= 10374);
    replay_source_free(s);
    const double curve[3] = {10, 0, 40};
    struct traffic_gen cg = {.curve = curve, .ncurve = 3, .step_ns = 10 * CLOCK_NS_PER_S};
    assert_int_equal(replay_source_model_new(&m, 7, &cg, &s, NULL), 0);
    size_t per[3] = {0};
    arrivals(s, 1e9, 10, per, 3); /* the source ends with the curve */
    /* poisson.ppf([0.0001, 0.9999], 100) -> [65. 139.]; (..., 400) -> [328. 476.] */
    assert_true(per[0] >= 65 && per[0] <= 139);
    assert_int_equal(per[1], 0);
    assert_true(per[2] >= 328 && per[2] <= 476);
    replay_source_free(s);
    traffic_model_release(&m);
}

static void test_replay_source_model_new_follows_the_hourly_rates(void **state)
{
    (void)state;
    struct traffic_model m;
    uint64_t counts[3];
    learn_synthetic(&m, counts);
    for (int h = 0; h < 24; h++)
        m.hour_rate[h] = -1; /* hours not seen run at the mean rate */
    m.hour_rate[0] = 2;
    m.mean_rate = 1;
    struct traffic_gen gen = {0};
    struct replay_source *s;
    assert_int_equal(replay_source_model_new(&m, 3, &gen, &s, NULL), 0);
    size_t per[2] = {0};
    arrivals(s, 7200, 3600, per, 2);
    /* /usr/bin/python3 -c "from scipy.stats import poisson;
     *   print(poisson.ppf([0.0001, 0.9999], 7200), poisson.ppf([0.0001, 0.9999], 3600))"
     *   -> [6887. 7518.] [3379. 3825.] */
    assert_true(per[0] >= 6887 && per[0] <= 7518);
    assert_true(per[1] >= 3379 && per[1] <= 3825);
    replay_source_free(s);
    m.mean_rate = 0;
    m.hour_rate[0] = -1;
    struct err e = {0};
    assert_int_equal(replay_source_model_new(&m, 3, &gen, &s, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "no arrival rate"));
    traffic_model_release(&m);
}

static void test_replay_source_model_new_is_deterministic_for_a_seed(void **state)
{
    (void)state;
    struct traffic_model m;
    uint64_t counts[3];
    learn_synthetic(&m, counts);
    struct traffic_gen gen = {.rate_per_s = 100, .max_requests = 200};
    struct replay_source *a, *b, *c;
    assert_int_equal(replay_source_model_new(&m, 9, &gen, &a, NULL), 0);
    assert_int_equal(replay_source_model_new(&m, 9, &gen, &b, NULL), 0);
    assert_int_equal(replay_source_model_new(&m, 10, &gen, &c, NULL), 0);
    struct replay_req qa, qb, qc;
    int differ = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < 200; i++) {
            assert_int_equal(replay_source_next(a, &qa), 1);
            assert_int_equal(replay_source_next(b, &qb), 1);
            assert_int_equal(replay_source_next(c, &qc), 1);
            assert_int_equal(qa.at_ns, qb.at_ns);
            assert_int_equal(qa.target_len, qb.target_len);
            assert_memory_equal(qa.target, qb.target, qa.target_len);
            differ += qa.at_ns != qc.at_ns;
        }
        assert_int_equal(replay_source_next(a, &qa), 0); /* max_requests */
        replay_source_rewind(a);
        replay_source_rewind(b);
        replay_source_rewind(c);
    }
    assert_true(differ > 300);
    replay_source_free(a);
    replay_source_free(b);
    replay_source_free(c);
    struct traffic_model empty;
    traffic_model_init(&empty);
    struct err e = {0};
    assert_int_equal(replay_source_model_new(&empty, 1, &gen, &a, &e), -EINVAL);
    traffic_model_release(&m);
}

static void test_traffic_model_from_json_round_trips(void **state)
{
    (void)state;
    struct traffic_model m, back;
    uint64_t counts[3];
    learn_synthetic(&m, counts);
    char *json = traffic_model_to_json(&m);
    assert_int_equal(traffic_model_from_json("m.json", json, strlen(json), &back, NULL), 0);
    assert_int_equal(back.nep, m.nep);
    for (size_t i = 0; i < m.nep; i++) {
        assert_string_equal(back.ep[i].method, m.ep[i].method);
        assert_string_equal(back.ep[i].path, m.ep[i].path);
        assert_close(back.ep[i].weight, m.ep[i].weight, 1e-12);
        assert_int_equal(back.ep[i].nexamples, m.ep[i].nexamples);
        assert_string_equal(back.ep[i].examples[0], m.ep[i].examples[0]);
        assert_int_equal(back.ep[i].nheaders, m.ep[i].nheaders);
        assert_int_equal(back.ep[i].body_len, m.ep[i].body_len);
    }
    assert_close(back.hour_rate[23], m.hour_rate[23], 1e-9);
    assert_true(back.hour_rate[5] < 0);
    traffic_model_release(&back);
    free(json);
    struct err e = {0};
    const char *bad = "{\"endpoints\":[{\"method\":\"GET\",\"path\":\"/a\",\"weight\":2}]}";
    assert_int_equal(traffic_model_from_json("b.json", bad, strlen(bad), &back, &e), -EINVAL);
    assert_string_equal(e.msg, "b.json: endpoints[0]: 'weight' must be a number from 0 to 1");
    assert_int_equal(traffic_model_from_json("c.json", "[1,2", 4, &back, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "c.json: not a traffic model"));
    traffic_model_release(&m);
}

static void test_traffic_curve_parse_reads_both_forms(void **state)
{
    (void)state;
    double *v;
    size_t n;
    uint64_t step;
    const char *a = "value\n10\n\n20.5\r\n0\n";
    assert_int_equal(
        traffic_curve_parse("a.csv", a, strlen(a), CLOCK_NS_PER_S, &v, &n, &step, NULL), 0);
    assert_int_equal(n, 3);
    assert_close(v[1], 20.5, 0);
    assert_int_equal(step, CLOCK_NS_PER_S);
    free(v);
    const char *b = "timestamp,value\n1000,5\n1060,6\n1120,7\n";
    assert_int_equal(
        traffic_curve_parse("b.csv", b, strlen(b), CLOCK_NS_PER_S, &v, &n, &step, NULL), 0);
    assert_int_equal(n, 3);
    assert_int_equal(step, 60 * CLOCK_NS_PER_S);
    free(v);
    struct err e = {0};
    const char *c = "1000,5\n1060,6\n1200,7\n";
    assert_int_equal(traffic_curve_parse("c.csv", c, strlen(c), 0, &v, &n, &step, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "c.csv:3: timestamps must be evenly spaced"));
    const char *d = "5\n-1\n";
    assert_int_equal(traffic_curve_parse("d.csv", d, strlen(d), 1, &v, &n, &step, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "d.csv:2: expected"));
    const char *f = "5\n1000,6\n";
    assert_int_equal(traffic_curve_parse("f.csv", f, strlen(f), 1, &v, &n, &step, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "f.csv:2: 2 field(s) here, 1 above"));
    assert_int_equal(traffic_curve_parse("g.csv", "", 0, 1, &v, &n, &step, &e), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_traffic_model_template_replaces_ids),
        cmocka_unit_test(test_traffic_model_add_counts_every_request),
        cmocka_unit_test(test_traffic_model_finish_learns_without_client_ids),
        cmocka_unit_test(test_replay_source_model_new_reproduces_the_mix),
        cmocka_unit_test(test_replay_source_model_new_keeps_rate_and_follows_curve),
        cmocka_unit_test(test_replay_source_model_new_follows_the_hourly_rates),
        cmocka_unit_test(test_replay_source_model_new_is_deterministic_for_a_seed),
        cmocka_unit_test(test_traffic_model_from_json_round_trips),
        cmocka_unit_test(test_traffic_curve_parse_reads_both_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
