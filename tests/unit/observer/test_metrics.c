/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for observer/metrics: lookups return stable series, shards written by concurrent
 * worker threads merge into exact totals, the label tables are complete, and the
 * Prometheus exposition passes `promtool check metrics` and reads back the recorded values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "base/xalloc.h"
#include "observer/metrics.h"
#include "testlib.h"

static void test_metrics_series_get_returns_same_series(void **state)
{
    (void)state;
    struct metrics *m = metrics_new(2, "1.2.3");
    struct metrics_series *a = metrics_series_get(m, "api", "primary", "/users");
    struct metrics_series *b = metrics_series_get(m, "api", "s1", "/users");
    struct metrics_series *c = metrics_series_get(m, "web", "primary", "/users");
    assert_true(a != b && a != c && b != c);
    for (int i = 0; i < 200; i++) { /* growth elsewhere never moves a series */
        char route[32];
        snprintf(route, sizeof(route), "/r%d", i);
        metrics_series_get(m, "api", "primary", route);
    }
    assert_ptr_equal(metrics_series_get(m, "api", "primary", "/users"), a);
    assert_ptr_equal(metrics_mirror_get(m, "api", "/users", "s1"),
                     metrics_mirror_get(m, "api", "/users", "s1"));
    assert_true(metrics_mirror_get(m, "api", "/users", "s1") !=
                metrics_mirror_get(m, "api", "/users", "s2"));
    assert_ptr_equal(metrics_service_get(m, "api"), metrics_service_get(m, "api"));
    assert_int_equal(metrics_workers(m), 2);
    metrics_free(m);
}

static void test_metrics_class_of_maps_statuses(void **state)
{
    (void)state;
    assert_int_equal(metrics_class_of(100), METRICS_CLASS_1XX);
    assert_int_equal(metrics_class_of(204), METRICS_CLASS_2XX);
    assert_int_equal(metrics_class_of(399), METRICS_CLASS_3XX);
    assert_int_equal(metrics_class_of(404), METRICS_CLASS_4XX);
    assert_int_equal(metrics_class_of(599), METRICS_CLASS_5XX);
    assert_int_equal(metrics_class_of(0), METRICS_CLASS_OTHER);
    assert_int_equal(metrics_class_of(600), METRICS_CLASS_OTHER);
    assert_int_equal(metrics_class_of(-1), METRICS_CLASS_OTHER);
    assert_int_equal(metrics_reject_of(431), METRICS_REJECT_431);
    assert_int_equal(metrics_reject_of(504), METRICS_REJECT_504);
    assert_int_equal(metrics_reject_of(500), METRICS_REJECT_OTHER);
}

static void check_names(const char *(*name)(int), int count, const char *const *want)
{
    for (int i = 0; i < count; i++) {
        assert_non_null(name(i));
        assert_string_equal(name(i), want[i]);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(name(i), name(j));
    }
    assert_string_equal(name(count), "other"); /* out of range stays parseable */
}

static const char *class_name(int i)
{
    return metrics_class_name((enum metrics_class)i);
}
static const char *upstream_name(int i)
{
    return metrics_upstream_error_name((enum metrics_upstream_error)i);
}
static const char *decision_name(int i)
{
    return metrics_decision_name((enum metrics_decision)i);
}
static const char *drop_name(int i)
{
    return metrics_drop_name((enum metrics_drop)i);
}
static const char *reject_name(int i)
{
    return metrics_reject_name((enum metrics_reject)i);
}

static void test_metrics_names_complete_and_unique(void **state)
{
    (void)state;
    static const char *const cls[] = {"1xx", "2xx", "3xx", "4xx", "5xx", "other"};
    static const char *const up[] = {"refused", "reset", "timeout", "bad_response", "other"};
    static const char *const dec[] = {"sampled",       "not_sampled",     "filtered_method",
                                      "filtered_path", "filtered_header", "body_too_large"};
    static const char *const drop[] = {"inflight_limit", "bytes_limit", "connect_failed",
                                       "timeout",        "reset",       "bad_response",
                                       "draining",       "other"};
    static const char *const rej[] = {"400", "408", "413", "431", "502", "503", "504", "other"};
    check_names(class_name, METRICS_CLASS_COUNT, cls);
    check_names(upstream_name, METRICS_UPSTREAM_COUNT, up);
    check_names(decision_name, METRICS_DECISION_COUNT, dec);
    check_names(drop_name, METRICS_DROP_COUNT, drop);
    check_names(reject_name, METRICS_REJECT_COUNT, rej);
}

#define WORKERS 4
#define PER_WORKER 100000

struct worker_arg {
    struct metrics_series *s;
    struct metrics_mirror *ms;
    struct metrics_service *svc;
    unsigned w;
};

/* Worker w records PER_WORKER responses: latency (i % 1000 + 1) ms, status 200 except every
 * 10th 503, 100 bytes in and w + 1 bytes out each, and the matching side counters. */
static void *worker_main(void *p)
{
    const struct worker_arg *a = p;
    for (unsigned i = 0; i < PER_WORKER; i++) {
        int status = i % 10 == 9 ? 503 : 200;
        metrics_record(a->s, a->w, (uint64_t)(i % 1000 + 1) * 1000000, status, 100, a->w + 1);
        if (status == 503)
            metrics_upstream_error(a->s, a->w, METRICS_UPSTREAM_TIMEOUT);
        metrics_mirror_decision(a->ms, a->w,
                                i % 2 ? METRICS_DECISION_SAMPLED : METRICS_DECISION_NOT_SAMPLED);
        if (i % 100 == 0)
            metrics_mirror_drop(a->ms, a->w, METRICS_DROP_INFLIGHT_LIMIT);
        metrics_conn_accepted(a->svc, a->w);
        if (i % 4)
            metrics_conn_closed(a->svc, a->w);
    }
    return NULL;
}

static void test_metrics_record_merges_concurrent_shards_exactly(void **state)
{
    (void)state;
    struct metrics *m = metrics_new(WORKERS, "t");
    struct worker_arg args[WORKERS];
    pthread_t th[WORKERS];
    for (unsigned w = 0; w < WORKERS; w++) {
        args[w] = (struct worker_arg){metrics_series_get(m, "api", "primary", "/"),
                                      metrics_mirror_get(m, "api", "/", "s1"),
                                      metrics_service_get(m, "api"), w};
        assert_int_equal(pthread_create(&th[w], NULL, worker_main, &args[w]), 0);
    }
    struct metrics_summary sum;
    struct buf out;
    buf_init(&out, 1 << 20);
    for (int i = 0; i < 5; i++) { /* readers run while the workers write */
        metrics_snapshot_series(args[0].s, &sum);
        assert_true(sum.count <= (uint64_t)WORKERS * PER_WORKER);
        buf_reset(&out);
        assert_int_equal(metrics_write_prometheus(m, &out), 0);
    }
    for (unsigned w = 0; w < WORKERS; w++)
        pthread_join(th[w], NULL);
    const uint64_t n = (uint64_t)WORKERS * PER_WORKER;
    metrics_snapshot_series(args[0].s, &sum);
    assert_int_equal(sum.count, n);
    assert_int_equal(sum.status[METRICS_CLASS_2XX], n - n / 10);
    assert_int_equal(sum.status[METRICS_CLASS_5XX], n / 10);
    assert_int_equal(sum.upstream_errors[METRICS_UPSTREAM_TIMEOUT], n / 10);
    assert_int_equal(sum.upstream_errors_total, n / 10);
    assert_int_equal(sum.bytes_in, 100 * n);
    assert_int_equal(sum.bytes_out, (uint64_t)PER_WORKER * (1 + 2 + 3 + 4));
    /* every worker cycles 1..1000 ms 100 times: sum = 4 * 100 * 500500 ms */
    assert_int_equal(sum.sum_ns, (uint64_t)WORKERS * 100 * 500500 * 1000000);
    assert_int_equal(sum.min_ns, 1000000);
    assert_int_equal(sum.max_ns, 1000000000);
    struct metrics_mirror_summary mir;
    metrics_snapshot_mirror(args[0].ms, &mir);
    assert_int_equal(mir.decisions[METRICS_DECISION_SAMPLED], n / 2);
    assert_int_equal(mir.decisions[METRICS_DECISION_NOT_SAMPLED], n / 2);
    assert_int_equal(mir.drops[METRICS_DROP_INFLIGHT_LIMIT], n / 100);
    assert_int_equal(mir.drops_total, n / 100);
    struct metrics_service_summary svc;
    metrics_snapshot_service(args[0].svc, &svc);
    assert_int_equal(svc.accepted, n);
    assert_int_equal(svc.active, n / 4);
    buf_release(&out);
    metrics_free(m);
}

/* Runs promtool over the text; returns its exit status and prints what it said. */
static int promtool_check(const char *text)
{
    if (system("command -v promtool >/dev/null 2>&1") != 0) {
        print_error("promtool not found: install the Debian package 'prometheus' "
                    "(scripts/install-deps)\n");
        return -1;
    }
    char *dir = testlib_tmpdir();
    char *path = testlib_write_file(dir, "metrics.prom", text);
    char *cmd = xasprintf("promtool check metrics < '%s' 2>&1", path);
    FILE *p = popen(cmd, "r");
    char line[512];
    while (p && fgets(line, sizeof(line), p))
        print_message("promtool: %s", line);
    int st = p ? pclose(p) : -1;
    testlib_rmdir(dir);
    free(dir);
    free(path);
    free(cmd);
    return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The value of the sample whose name and labels are exactly `series`; aborts if absent. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; (p = strstr(p, series)) != NULL; p += n) {
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    }
    print_error("sample %s not in the exposition\n", series);
    fail();
    return 0;
}

static void test_metrics_write_prometheus_passes_promtool(void **state)
{
    (void)state;
    struct metrics *m = metrics_new(2, "0.1.0");
    struct metrics_series *s = metrics_series_get(m, "api", "primary", "/users/{id}");
    metrics_series_get(m, "api", "canary \"v2\"", "/a\\b\nc"); /* needs escaping, empty */
    metrics_record(s, 0, 1500000, 200, 10, 20);
    metrics_record(s, 1, 70000000000ULL, 504, 10, 0);
    metrics_upstream_error(s, 1, METRICS_UPSTREAM_REFUSED);
    metrics_mirror_decision(metrics_mirror_get(m, "api", "/users/{id}", "s1"), 1,
                            METRICS_DECISION_FILTERED_PATH);
    struct metrics_service *svc = metrics_service_get(m, "api");
    metrics_conn_accepted(svc, 0);
    metrics_conn_refused(svc, 1);
    metrics_gateway_rejected(svc, 0, 431);
    struct buf out;
    buf_init(&out, 1 << 20);
    assert_int_equal(metrics_write_prometheus(m, &out), 0);
    assert_int_equal(promtool_check(out.data), 0);
    assert_non_null(strstr(out.data, "pool=\"canary \\\"v2\\\"\",route=\"/a\\\\b\\nc\""));
    assert_close(sample(out.data, "doppel_up"), 1, 0);
    assert_close(sample(out.data, "doppel_build_info{version=\"0.1.0\"}"), 1, 0);
    assert_close(sample(out.data, "doppel_gateway_rejected_total{service=\"api\",status=\"431\"}"),
                 1, 0);
    assert_close(sample(out.data, "doppel_connections_refused_total{service=\"api\"}"), 1, 0);
    assert_close(sample(out.data, "doppel_connections_active{service=\"api\"}"), 1, 0);
    buf_release(&out);
    /* an empty registry is valid too */
    struct metrics *empty = metrics_new(1, "0.1.0");
    buf_init(&out, 1 << 20);
    assert_int_equal(metrics_write_prometheus(empty, &out), 0);
    assert_int_equal(promtool_check(out.data), 0);
    buf_release(&out);
    metrics_free(empty);
    metrics_free(m);
}

static void test_metrics_write_prometheus_reads_back_values(void **state)
{
    (void)state;
    struct metrics *m = metrics_new(3, "0.1.0");
    struct metrics_series *s = metrics_series_get(m, "api", "primary", "/");
    for (unsigned i = 1; i <= 1000; i++) /* 1 .. 1000 ms spread over the three shards */
        metrics_record(s, i % 3, (uint64_t)i * 1000000, i <= 990 ? 200 : 500, 1, 2);
    struct buf out;
    buf_init(&out, 1 << 20);
    assert_int_equal(metrics_write_prometheus(m, &out), 0);
    const char *l = "{service=\"api\",pool=\"primary\",route=\"/\"";
    char key[256];
#define KEY(fmt, ...) (snprintf(key, sizeof(key), fmt, __VA_ARGS__), key)
    assert_close(sample(out.data, KEY("doppel_requests_total%s,class=\"2xx\"}", l)), 990, 0);
    assert_close(sample(out.data, KEY("doppel_requests_total%s,class=\"5xx\"}", l)), 10, 0);
    assert_close(sample(out.data, KEY("doppel_bytes_total%s,direction=\"out\"}", l)), 2000, 0);
    assert_close(sample(out.data, KEY("doppel_request_duration_seconds_count%s}", l)), 1000, 0);
    /* sum of 1..1000 ms = 500.5 s (/usr/bin/python3: (np.arange(1,1001)*1e6).sum()/1e9) */
    assert_close(sample(out.data, KEY("doppel_request_duration_seconds_sum%s}", l)), 500.5, 1e-9);
    assert_close(sample(out.data, KEY("doppel_request_duration_seconds_bucket%s,le=\"+Inf\"}", l)),
                 1000, 0);
    for (unsigned k = 0; k < METRICS_LE_COUNT; k++) {
        /* cumulative buckets: exact count <= le, at most the values 1/128 above le more */
        double le = (double)metrics_le_ns[k] / 1e6,
               got = sample(out.data, KEY("doppel_request_duration_seconds_bucket%s,le=\"%s\"}", l,
                                          metrics_le_text[k]));
        double lo = le < 1000 ? (double)(unsigned)le : 1000;
        double hi = le * (1 + 1.0 / 128) < 1000 ? (double)(unsigned)(le * (1 + 1.0 / 128)) : 1000;
        assert_true(got >= lo && got <= hi);
    }
    /* /usr/bin/python3 -c "import numpy as np; x=np.arange(1,1001)*1e6; print([np.quantile(x,q,
     *   method='inverted_cdf') for q in (0.5,0.9,0.99,0.999)])" -> 5e8 9e8 9.9e8 9.99e8 ns */
    const char *qn = "doppel_request_duration_quantile_seconds";
    assert_rel_close(sample(out.data, KEY("%s%s,quantile=\"0.5\"}", qn, l)), 0.5, 1.0 / 256);
    assert_rel_close(sample(out.data, KEY("%s%s,quantile=\"0.9\"}", qn, l)), 0.9, 1.0 / 256);
    assert_rel_close(sample(out.data, KEY("%s%s,quantile=\"0.99\"}", qn, l)), 0.99, 1.0 / 256);
    assert_rel_close(sample(out.data, KEY("%s%s,quantile=\"0.999\"}", qn, l)), 0.999, 1.0 / 256);
#undef KEY
    buf_release(&out);
    metrics_free(m);
}

static void test_metrics_write_prometheus_past_max_leaves_buffer(void **state)
{
    (void)state;
    struct metrics *m = metrics_new(1, "0.1.0");
    metrics_record(metrics_series_get(m, "api", "primary", "/"), 0, 1000000, 200, 1, 1);
    struct buf out;
    buf_init(&out, 512);
    assert_int_equal(buf_appends(&out, "keep"), 0);
    assert_int_equal(metrics_write_prometheus(m, &out), -ENOSPC);
    assert_string_equal(out.data, "keep");
    assert_int_equal(out.len, 4);
    buf_release(&out);
    metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_series_get_returns_same_series),
        cmocka_unit_test(test_metrics_class_of_maps_statuses),
        cmocka_unit_test(test_metrics_names_complete_and_unique),
        cmocka_unit_test(test_metrics_record_merges_concurrent_shards_exactly),
        cmocka_unit_test(test_metrics_write_prometheus_passes_promtool),
        cmocka_unit_test(test_metrics_write_prometheus_reads_back_values),
        cmocka_unit_test(test_metrics_write_prometheus_past_max_leaves_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
