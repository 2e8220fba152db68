/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for observer/capture_tap: what a finished exchange becomes in the capture file when
 * the head comes from the mirror's own copy (mirror_copy_head, as app.c wires it): the
 * anonymized request (dropped cookie, pseudonymized client address, no Content-Length or
 * X-Doppel-Shadow) and the primary's or the shadow's response. A full queue drops and
 * counts instead of waiting; everything queued is written when the tap is freed; sampling
 * keeps a request's primary and shadow records together.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "mirror/mirror.h"
#include "model/exchange.h"
#include "observer/capture_tap.h"
#include "replay/capture_reader.h"
#include "testlib.h"

static char *drop[] = {"cookie"};

static struct rt_route route_with_rules(void)
{
    struct rt_route r;
    memset(&r, 0, sizeof(r));
    r.mirror.anon.drop_headers = drop;
    r.mirror.anon.ndrop_headers = 1;
    r.mirror.anon.hash_client_ip = true;
    memcpy(r.mirror.anon.key, "k3y", 3);
    r.mirror.anon.key_len = 3;
    return r;
}

static struct http_header req_h[] = {
    {"Host", 4, "api", 3},
    {"Cookie", 6, "session=s3cr3t", 14},
    {"Content-Length", 14, "2", 1},
};
static struct http_header resp_h[] = {{"Content-Type", 12, "text/plain", 10}};

static void make_exchange(struct exchange *ex, const struct rt_route *route, uint64_t id)
{
    memset(ex, 0, sizeof(*ex));
    ex->id = id;
    snprintf(ex->id_str, sizeof(ex->id_str), "%016llx", (unsigned long long)id);
    snprintf(ex->client_ip, sizeof(ex->client_ip), "192.0.2.55");
    ex->route = route;
    ex->req = (struct http_head){.is_request = true,
                                 .method = "POST",
                                 .method_len = 4,
                                 .target = "/orders/7",
                                 .target_len = 9,
                                 .headers = req_h,
                                 .nheaders = 3,
                                 .flags = HTTP_HEAD_HAS_LENGTH,
                                 .content_length = 2};
    ex->resp = (struct http_head){.status = 201, .headers = resp_h, .nheaders = 1};
    buf_init(&ex->req_body, 64);
    buf_append(&ex->req_body, "hi", 2);
    buf_init(&ex->resp_body, 64);
    buf_append(&ex->resp_body, "made", 4);
    ex->status = 201;
    ex->t_start = clock_mono_ns() - 5 * CLOCK_NS_PER_MS;
    ex->t_done = ex->t_start + 3 * CLOCK_NS_PER_MS;
}

static void release_exchange(struct exchange *ex)
{
    buf_release(&ex->req_body);
    buf_release(&ex->resp_body);
}

static struct capture_tap *new_tap(const char *dir, unsigned queue, unsigned pct, char *path)
{
    snprintf(path, PATH_MAX, "%s/t.dcap", dir);
    struct capture_tap_config cfg = {.path = path,
                                     .sample_percent = pct,
                                     .nworkers = 1,
                                     .queue = queue,
                                     .head = mirror_copy_head};
    struct capture_tap *t = capture_tap_new(&cfg, NULL);
    assert_non_null(t);
    return t;
}

static bool has_header(const struct capture_record *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (r->headers[i].name_len == strlen(name) &&
            strncasecmp(r->headers[i].name, name, strlen(name)) == 0)
            return true;
    return false;
}

static void test_capture_tap_exchange_done_queues_the_anonymized_copy(void **state)
{
    (void)state;
    char *dir = testlib_tmpdir(), path[PATH_MAX];
    struct rt_route route = route_with_rules();
    struct capture_tap *t = new_tap(dir, 16, 100, path);
    /* Not started: the queue holds 16, the other 4 are dropped, nothing waits. */
    struct exchange ex;
    for (uint64_t i = 0; i < 20; i++) {
        make_exchange(&ex, &route, i);
        capture_tap_exchange_done(&ex, t);
        release_exchange(&ex);
    }
    struct capture_tap_stats st;
    capture_tap_stats(t, &st);
    assert_int_equal(st.queued, 16);
    assert_int_equal(st.dropped, 4);
    struct buf m;
    buf_init(&m, 1 << 16);
    assert_int_equal(capture_tap_write_metrics(t, &m), 0);
    assert_non_null(strstr(m.data, "doppel_capture_dropped_total{reason=\"queue_full\"} 4\n"));
    buf_release(&m);
    capture_tap_free(t); /* writes what was queued */
    struct capture_reader *r;
    assert_int_equal(capture_reader_open(path, true, &r, NULL), 0);
    struct capture_record rec;
    uint64_t n = 0;
    while (capture_reader_next(r, &rec) == 1) {
        assert_int_equal(rec.id, n++);
        assert_memory_equal(rec.method, "POST", 4);
        assert_int_equal(rec.target_len, 9);
        assert_false(has_header(&rec, "cookie"));
        assert_false(has_header(&rec, "content-length"));
        assert_false(has_header(&rec, "x-doppel-shadow"));
        assert_true(has_header(&rec, "host") && has_header(&rec, "x-forwarded-for"));
        for (size_t i = 0; i < rec.nheaders; i++)
            assert_null(memmem(rec.headers[i].value, rec.headers[i].value_len, "192.0.2.55", 10));
        assert_int_equal(rec.body_len, 2);
        assert_true(rec.primary.present && !rec.shadow.present && !rec.answer_only);
        assert_int_equal(rec.primary.status, 201);
        assert_int_equal(rec.primary.latency_ns, 3 * CLOCK_NS_PER_MS);
        assert_memory_equal(rec.primary.body, "made", 4);
        uint64_t age = clock_wall_ns() - rec.ts_ns; /* started about 5 ms ago */
        assert_true(age >= 5 * CLOCK_NS_PER_MS && age < 10 * CLOCK_NS_PER_S);
    }
    assert_int_equal(n, 16);
    capture_reader_free(r);
    testlib_rmdir(dir);
    free(dir);
}

static void test_capture_tap_shadow_done_samples_with_the_primary(void **state)
{
    (void)state;
    char *dir = testlib_tmpdir(), path[PATH_MAX];
    struct rt_route route = route_with_rules();
    struct capture_tap *t = new_tap(dir, 4096, 30, path);
    assert_int_equal(capture_tap_start(t), 0);
    struct rt_pool pool = {.name = "s1", .shadow = true};
    struct exchange ex;
    for (uint64_t i = 0; i < 1000; i++) {
        make_exchange(&ex, &route, i);
        struct shadow_result res = {.pool = &pool, .status = 200, .latency_ns = 7};
        buf_init(&res.body, 16);
        capture_tap_exchange_done(&ex, t);
        capture_tap_shadow_done(&ex, &res, t);
        buf_release(&res.body);
        release_exchange(&ex);
    }
    capture_tap_free(t);
    struct capture_reader *r;
    assert_int_equal(capture_reader_open(path, true, &r, NULL), 0);
    struct capture_record rec;
    uint64_t prim = 0, shad = 0, last_prim = UINT64_MAX;
    while (capture_reader_next(r, &rec) == 1) {
        if (rec.primary.present) {
            prim++;
            last_prim = rec.id;
        } else {
            shad++;
            assert_int_equal(rec.id, last_prim); /* the shadow record follows its primary */
            assert_true(rec.answer_only);        /* so replay sends the request once */
            assert_memory_equal(rec.shadow.pool, "s1", 2);
            assert_int_equal(rec.shadow.latency_ns, 7);
            assert_int_equal(rec.method_len + rec.target_len + rec.nheaders + rec.body_len, 0);
        }
    }
    assert_int_equal(prim, shad);
    /* 30 % of 1000: binomial sd = sqrt(1000 * .3 * .7) = 14.5; 4 sd either side. */
    assert_true(prim > 242 && prim < 358);
    capture_reader_free(r);
    testlib_rmdir(dir);
    free(dir);
}

static int head_calls;

/* A head hook that must not be needed: counts and fails. */
static int failing_head(const struct exchange *ex, struct buf *out)
{
    (void)ex;
    (void)out;
    head_calls++;
    return -EIO;
}

/* With the mirror's head kept on the exchange, the record is that head and the hook is not
 * called; without one, the hook builds it (here it fails, so the record is dropped). */
static void test_capture_tap_exchange_done_records_the_head_the_mirror_kept(void **state)
{
    (void)state;
    char *dir = testlib_tmpdir(), path[PATH_MAX];
    snprintf(path, PATH_MAX, "%s/t.dcap", dir);
    struct rt_route route = route_with_rules();
    struct capture_tap_config cfg = {
        .path = path, .sample_percent = 100, .nworkers = 1, .queue = 16, .head = failing_head};
    struct capture_tap *t = capture_tap_new(&cfg, NULL);
    assert_non_null(t);
    struct exchange ex;
    make_exchange(&ex, &route, 1);
    buf_init(&ex.copy_head, 1 << 16);
    assert_int_equal(mirror_copy_head(&ex, &ex.copy_head), 0);
    head_calls = 0;
    capture_tap_exchange_done(&ex, t);
    buf_release(&ex.copy_head);
    release_exchange(&ex);
    make_exchange(&ex, &route, 2);
    capture_tap_exchange_done(&ex, t);
    release_exchange(&ex);
    assert_int_equal(head_calls, 1);
    struct capture_tap_stats st;
    capture_tap_stats(t, &st);
    assert_int_equal(st.queued, 1);
    assert_int_equal(st.dropped, 1);
    capture_tap_free(t);
    struct capture_reader *r;
    assert_int_equal(capture_reader_open(path, true, &r, NULL), 0);
    struct capture_record rec;
    assert_int_equal(capture_reader_next(r, &rec), 1);
    assert_int_equal(rec.id, 1);
    assert_memory_equal(rec.method, "POST", 4);
    assert_memory_equal(rec.target, "/orders/7", 9);
    assert_false(has_header(&rec, "cookie") || has_header(&rec, "content-length"));
    assert_true(has_header(&rec, "host") && has_header(&rec, "x-forwarded-for"));
    assert_int_equal(capture_reader_next(r, &rec), 0);
    capture_reader_free(r);
    testlib_rmdir(dir);
    free(dir);
}

static void wait_written(struct capture_tap *t)
{
    for (int i = 0; i < 5000; i++) { /* at most 5 s */
        struct capture_tap_stats st;
        capture_tap_stats(t, &st);
        if (st.written >= st.queued)
            return;
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fail_msg("the writer did not drain the queue");
}

/* Buffers are reused once written, small records after large ones (past the size the
 * writer keeps) and the other way round: every record reads back whole and in order, and
 * with the writer keeping up (at most 8 records between its passes) the queue of 64 makes
 * at most 8 buffers, not one per slot: a buffer is made only when all are in the queue. */
static void test_capture_tap_buffers_reused_once_written(void **state)
{
    (void)state;
    char *dir = testlib_tmpdir(), path[PATH_MAX];
    struct rt_route route = route_with_rules();
    struct capture_tap *t = new_tap(dir, 64, 100, path);
    assert_int_equal(capture_tap_start(t), 0);
    struct exchange ex;
    for (uint64_t i = 0; i < 120; i++) {
        make_exchange(&ex, &route, i);
        buf_release(&ex.resp_body);
        buf_init(&ex.resp_body, 1 << 16);
        size_t len = (size_t)(i * 7919 % 40000);
        for (size_t j = 0; j < len; j++)
            buf_append(&ex.resp_body, &(char){(char)('a' + (i + j) % 26)}, 1);
        capture_tap_exchange_done(&ex, t);
        release_exchange(&ex);
        if (i % 8 == 7)
            wait_written(t);
    }
    struct capture_tap_stats st;
    capture_tap_stats(t, &st);
    assert_int_equal(st.queued, 120);
    assert_true(st.buffers >= 1 && st.buffers <= 8);
    capture_tap_free(t);
    struct capture_reader *r;
    assert_int_equal(capture_reader_open(path, true, &r, NULL), 0);
    struct capture_record rec;
    uint64_t n = 0;
    while (capture_reader_next(r, &rec) == 1) {
        assert_int_equal(rec.id, n);
        size_t len = (size_t)(n * 7919 % 40000);
        assert_int_equal(rec.primary.body_len, len);
        for (size_t j = 0; j < len; j++)
            assert_int_equal(((const char *)rec.primary.body)[j], 'a' + (n + j) % 26);
        n++;
    }
    assert_int_equal(n, 120);
    capture_reader_free(r);
    testlib_rmdir(dir);
    free(dir);
}

/* Reads the records of path back: their count, each id strictly above the one before. */
static uint64_t read_back_ordered(const char *path)
{
    struct capture_reader *r;
    assert_int_equal(capture_reader_open(path, true, &r, NULL), 0);
    struct capture_record rec;
    uint64_t n = 0, last = 0;
    while (capture_reader_next(r, &rec) == 1) {
        if (n)
            assert_true(rec.id > last);
        last = rec.id;
        n++;
    }
    capture_reader_free(r);
    return n;
}

/* A full queue drops what does not fit and counts it; once the writer has drained it,
 * every buffer is back and the queue takes a full load again. */
static void push_n(struct capture_tap *t, const struct rt_route *route, uint64_t *id, int n)
{
    struct exchange ex;
    for (int i = 0; i < n; i++, (*id)++) {
        make_exchange(&ex, route, *id);
        capture_tap_exchange_done(&ex, t);
        release_exchange(&ex);
    }
}

static void test_capture_tap_full_queue_drops_then_recovers(void **state)
{
    (void)state;
    char *dir = testlib_tmpdir(), path[PATH_MAX];
    struct rt_route route = route_with_rules();
    struct capture_tap *t = new_tap(dir, 16, 100, path);
    uint64_t id = 0;
    struct capture_tap_stats st;
    push_n(t, &route, &id, 20); /* no writer yet: 16 fit */
    capture_tap_stats(t, &st);
    assert_int_equal(st.queued, 16);
    assert_int_equal(st.dropped, 4);
    assert_int_equal(capture_tap_start(t), 0);
    for (int round = 0; round < 3; round++) { /* a drained queue holds 16 again, twice over */
        wait_written(t);
        push_n(t, &route, &id, 16);
    }
    wait_written(t);
    capture_tap_stats(t, &st);
    assert_int_equal(st.queued, 64);
    assert_int_equal(st.dropped, 4);
    assert_int_equal(st.buffers, 16); /* the queue's size: never more */
    capture_tap_free(t);
    assert_int_equal(read_back_ordered(path), 64);
    testlib_rmdir(dir);
    free(dir);
}

/* The worker pushes as fast as it can while the writer drains and hands buffers back:
 * every record is either written, in order, or counted as dropped. */
static void test_capture_tap_concurrent_writer_loses_nothing_uncounted(void **state)
{
    (void)state;
    char *dir = testlib_tmpdir(), path[PATH_MAX];
    struct rt_route route = route_with_rules();
    struct capture_tap *t = new_tap(dir, 64, 100, path);
    assert_int_equal(capture_tap_start(t), 0);
    struct exchange ex;
    for (uint64_t i = 0; i < 20000; i++) {
        make_exchange(&ex, &route, i);
        capture_tap_exchange_done(&ex, t);
        release_exchange(&ex);
    }
    wait_written(t);
    struct capture_tap_stats st;
    capture_tap_stats(t, &st);
    assert_int_equal(st.queued + st.dropped, 20000);
    capture_tap_free(t);
    assert_int_equal(read_back_ordered(path), st.queued);
    testlib_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capture_tap_exchange_done_queues_the_anonymized_copy),
        cmocka_unit_test(test_capture_tap_shadow_done_samples_with_the_primary),
        cmocka_unit_test(test_capture_tap_exchange_done_records_the_head_the_mirror_kept),
        cmocka_unit_test(test_capture_tap_buffers_reused_once_written),
        cmocka_unit_test(test_capture_tap_full_queue_drops_then_recovers),
        cmocka_unit_test(test_capture_tap_concurrent_writer_loses_nothing_uncounted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
