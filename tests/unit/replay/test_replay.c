/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for replay/replay: the engine on a real loop. A target that refuses connections
 * gives one connect error per request and no latency samples; --max-requests and
 * --duration bound what is scheduled; a fixed source loops. The timing tests against a
 * stalling server are end to end (tests/e2e/80-replay.sh).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "replay/replay.h"
#include "replay/source_fixed.h"

/* A bound, non-listening loopback socket: connecting to its port is refused. */
static int refusing_port(int *fd)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(*fd >= 0);
    assert_int_equal(bind(*fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(*fd, (struct sockaddr *)&sa, &len), 0);
    return ntohs(sa.sin_port);
}

static void opts_for(struct replay_opts *o, int port)
{
    struct sockaddr_in *sa = (struct sockaddr_in *)&o->addr;
    replay_opts_init(o);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    o->rewrite.host = "127.0.0.1";
    o->timeout_ns = 2000000000ULL;
}

static void test_replay_run_refused_counts_connect_errors(void **state)
{
    struct replay_opts o;
    struct replay_stats *st = malloc(sizeof(*st));
    struct err err = {0};
    int fd, port = refusing_port(&fd);
    (void)state;
    opts_for(&o, port);
    replay_sched_init_rate(&o.sched, 1000);
    o.loop = true;
    o.max_requests = 20;
    o.connections = 4;
    struct replay_source *src = source_fixed_new("GET", "/", NULL, NULL, 0);
    assert_int_equal(replay_run(&o, src, st, &err), 0);
    assert_int_equal(st->scheduled, 20);
    assert_int_equal(st->errors[REPLAY_E_CONNECT], 20);
    assert_int_equal(st->responses, 0);
    assert_int_equal(hist_count(&st->latency), 0);
    replay_source_free(src);
    close(fd);
    free(st);
}

static void test_replay_run_duration_bounds_schedule(void **state)
{
    struct replay_opts o;
    struct replay_stats *st = malloc(sizeof(*st));
    struct err err = {0};
    int fd, port = refusing_port(&fd);
    (void)state;
    opts_for(&o, port);
    replay_sched_init_rate(&o.sched, 100);
    o.loop = true;
    o.duration_ns = 200000000ULL; /* 200 ms at 100/s: t = 0, 10, ..., 190 ms */
    struct replay_source *src = source_fixed_new("GET", "/", NULL, NULL, 0);
    assert_int_equal(replay_run(&o, src, st, &err), 0);
    assert_int_equal(st->scheduled, 20);
    assert_int_equal(st->last_sched_ns, 190000000ULL);
    assert_int_equal(replay_stats_errors(st), 20);
    replay_source_free(src);
    close(fd);
    free(st);
}

static void test_replay_run_without_loop_sends_source_once(void **state)
{
    struct replay_opts o;
    struct replay_stats *st = malloc(sizeof(*st));
    struct err err = {0};
    int fd, port = refusing_port(&fd);
    static const char *const methods[] = {"POST", NULL};
    (void)state;
    opts_for(&o, port);
    struct replay_source *src = source_fixed_new("GET", "/", NULL, NULL, 0);
    assert_int_equal(replay_run(&o, src, st, &err), 0);
    assert_int_equal(st->scheduled, 1);
    /* a loop whose every request is filtered out ends instead of spinning */
    assert_int_equal(replay_source_rewind(src), 0);
    o.loop = true;
    o.filter.methods = methods;
    assert_int_equal(replay_run(&o, src, st, &err), 0);
    assert_int_equal(st->scheduled, 0);
    assert_true(st->filtered >= 1);
    replay_source_free(src);
    close(fd);
    free(st);
}

static void test_replay_run_threads_splits_the_schedule(void **state)
{
    struct replay_opts o;
    struct replay_stats *st = malloc(sizeof(*st));
    struct err err = {0};
    struct replay_source *srcs[3];
    int fd, port = refusing_port(&fd);
    (void)state;
    opts_for(&o, port);
    replay_sched_init_rate(&o.sched, 1000);
    o.loop = true;
    o.max_requests = 21;
    for (int i = 0; i < 3; i++)
        srcs[i] = source_fixed_new("GET", "/", NULL, NULL, 0);
    assert_int_equal(replay_run_threads(&o, srcs, 3, st, &err), 0);
    /* every request exactly once across the threads; the last at 20 / 1000 s */
    assert_int_equal(st->scheduled, 21);
    assert_int_equal(st->errors[REPLAY_E_CONNECT], 21);
    assert_int_equal(st->last_sched_ns, 20000000ULL);
    for (int i = 0; i < 3; i++)
        replay_source_free(srcs[i]);
    close(fd);
    free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_run_refused_counts_connect_errors),
        cmocka_unit_test(test_replay_run_duration_bounds_schedule),
        cmocka_unit_test(test_replay_run_without_loop_sends_source_once),
        cmocka_unit_test(test_replay_run_threads_splits_the_schedule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
