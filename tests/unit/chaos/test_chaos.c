/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for chaos/chaos and chaos/chaos_set: experiments through their states (start
 * delay, duration, stop condition, DELETE, kill switch), the published set as a worker's
 * view sees it (a new reference only after a publish, old sets kept alive by the views
 * that hold them), per-copy evaluation with its windows and counters, the event ring,
 * and the Prometheus text. Times are passed in, so nothing here sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "base/clock.h"
#include "chaos/chaos.h"
#include "testlib.h"

#define MS CLOCK_NS_PER_MS
#define T0 (1000 * CLOCK_NS_PER_S) /* a monotonic "now" for the tests */

static const struct fault_probe shadow_probe = {
    .service = "api", .pool = "s1", .pool_id = 3, .path = "/", .path_len = 1};

static int add(struct chaos *c, const char *name, uint64_t start, uint64_t duration,
               uint64_t max_affected, const struct fault *faults, size_t n, char *id)
{
    struct chaos_experiment_spec spec = {.name = name,
                                         .start_ns = start,
                                         .duration_ns = duration,
                                         .max_affected = max_affected,
                                         .faults = faults,
                                         .nfaults = n};
    struct err err = {0};
    return chaos_experiment_add(c, &spec, T0, id, &err);
}

static unsigned fired_at(struct chaos *c, struct chaos_view *v, uint64_t now)
{
    struct rng rng;
    rng_seed(&rng, 1);
    struct fault_decision d = {0};
    chaos_set_eval(chaos_view_get(v, c), &shadow_probe, now, &rng, &d);
    return d.fired;
}

struct state_of {
    enum chaos_state state;
    const char *reason;
    size_t nev;
    char last[16];
};

static void state_cb(const struct chaos_experiment *e, const struct chaos_event *ev, size_t nev,
                     void *arg)
{
    struct state_of *s = arg;
    s->state = e->state;
    s->reason = e->end_reason;
    s->nev = nev;
    if (nev)
        memcpy(s->last, ev[nev - 1].what, sizeof(s->last));
}

static struct state_of state(struct chaos *c, const char *id)
{
    struct state_of s = {0};
    assert_int_equal(chaos_visit(c, id, state_cb, &s), 1);
    return s;
}

static void test_chaos_experiment_add_rejects_bad_specs(void **state_)
{
    (void)state_;
    struct chaos c;
    chaos_init(&c, false);
    char id[CHAOS_ID_MAX];
    struct fault ok = {.kind = FAULT_HANG, .probability = 1};
    assert_int_equal(add(&c, "bad name!", 0, 0, 0, &ok, 1, id), -EINVAL);
    assert_int_equal(add(&c, "x", 0, 0, 0, &ok, 0, id), -EINVAL);
    struct fault prim = {.kind = FAULT_HANG, .probability = 1, .pool = "primary"};
    assert_int_equal(add(&c, "x", 0, 0, 0, &prim, 1, id), -EPERM);
    struct fault inst = {.kind = FAULT_KILL, .probability = 1};
    assert_int_equal(add(&c, "x", 0, 0, 0, &inst, 1, id), -ENOTSUP); /* no provisioner */
    struct fault badp = {.kind = FAULT_HANG, .probability = 2};
    struct chaos_experiment_spec spec = {.name = "x", .faults = &badp, .nfaults = 1};
    struct err err = {0};
    assert_int_equal(chaos_experiment_add(&c, &spec, T0, id, &err), -EINVAL);
    assert_string_equal(err.msg, "faults[0]: probability must be a number from 0 to 1");
    chaos_release(&c);
}

static void test_chaos_experiment_runs_for_its_window(void **state_)
{
    (void)state_;
    struct chaos c;
    chaos_init(&c, false);
    struct chaos_view v = {0};
    char id[CHAOS_ID_MAX];
    struct fault f = {.kind = FAULT_LATENCY, .probability = 1, .latency_ns = MS};
    assert_int_equal(add(&c, "win", 100 * MS, 200 * MS, 0, &f, 1, id), 0);
    assert_string_equal(id, "e1");
    assert_int_equal(state(&c, id).state, CHAOS_PENDING);
    assert_int_equal(fired_at(&c, &v, T0 + 99 * MS), 0); /* before the start */
    assert_int_equal(fired_at(&c, &v, T0 + 100 * MS), 1);
    chaos_tick(&c, T0 + 100 * MS);
    assert_int_equal(state(&c, id).state, CHAOS_RUNNING);
    assert_int_equal(fired_at(&c, &v, T0 + 300 * MS), 0); /* past the end, before a tick */
    chaos_tick(&c, T0 + 300 * MS);
    struct state_of s = state(&c, id);
    assert_int_equal(s.state, CHAOS_ENDED);
    assert_string_equal(s.reason, "duration");
    assert_string_equal(s.last, "stopped");
    assert_int_equal(s.nev, 5); /* created, started, fault_on, fault_off, stopped */
    assert_int_equal(fired_at(&c, &v, T0 + 150 * MS), 0); /* the set no longer has it */
    chaos_view_release(&v);
    chaos_release(&c);
}

static void test_chaos_view_get_retakes_only_after_publish(void **state_)
{
    (void)state_;
    struct chaos c;
    chaos_init(&c, false);
    struct chaos_view v = {0};
    assert_null(chaos_view_get(&v, &c));
    char id[CHAOS_ID_MAX];
    struct fault f = {.kind = FAULT_HANG, .probability = 1};
    assert_int_equal(add(&c, "a", 0, 0, 0, &f, 1, id), 0);
    const struct chaos_set *s1 = chaos_view_get(&v, &c);
    assert_non_null(s1);
    assert_int_equal(s1->n, 1);
    assert_ptr_equal(chaos_view_get(&v, &c), s1);
    assert_int_equal(atomic_load(&s1->refs), 2); /* registry + view */
    assert_int_equal(add(&c, "b", 0, 0, 0, &f, 1, id), 0);
    /* the registry dropped s1; the view still holds it until it looks again */
    assert_int_equal(atomic_load(&s1->refs), 1);
    assert_int_equal(s1->n, 1);
    const struct chaos_set *s2 = chaos_view_get(&v, &c);
    assert_ptr_not_equal(s2, s1);
    assert_int_equal(s2->n, 2);
    chaos_view_release(&v);
    chaos_release(&c);
}

static void test_chaos_stop_all_removes_every_fault(void **state_)
{
    (void)state_;
    struct chaos c;
    chaos_init(&c, false);
    struct chaos_view v = {0};
    char id1[CHAOS_ID_MAX], id2[CHAOS_ID_MAX];
    struct fault f[2] = {{.kind = FAULT_HANG, .probability = 1},
                         {.kind = FAULT_RESET, .probability = 1}};
    assert_int_equal(add(&c, "a", 0, 0, 0, f, 2, id1), 0);
    assert_int_equal(add(&c, "b", 50 * MS, 0, 0, f, 1, id2), 0);
    assert_int_equal(fired_at(&c, &v, T0 + 60 * MS), 3);
    assert_int_equal(chaos_stop_all(&c, T0 + 70 * MS), 2);
    assert_int_equal(fired_at(&c, &v, T0 + 80 * MS), 0);
    assert_string_equal(state(&c, id1).reason, "kill switch");
    assert_string_equal(state(&c, id2).reason, "kill switch");
    assert_int_equal(chaos_experiment_stop(&c, id1, T0), -ENOENT); /* already ended */
    chaos_view_release(&v);
    chaos_release(&c);
}

static void test_chaos_experiment_stop_ends_one(void **state_)
{
    (void)state_;
    struct chaos c;
    chaos_init(&c, false);
    struct chaos_view v = {0};
    char id1[CHAOS_ID_MAX], id2[CHAOS_ID_MAX];
    struct fault f = {.kind = FAULT_HANG, .probability = 1};
    add(&c, "a", 0, 0, 0, &f, 1, id1);
    add(&c, "b", 0, 0, 0, &f, 1, id2);
    assert_int_equal(chaos_experiment_stop(&c, id1, T0), 0);
    assert_int_equal(fired_at(&c, &v, T0 + MS), 1);
    assert_string_equal(state(&c, id1).reason, "deleted");
    assert_int_equal(state(&c, id2).state, CHAOS_RUNNING);
    assert_int_equal(chaos_experiment_stop(&c, "e99", T0), -ENOENT);
    chaos_view_release(&v);
    chaos_release(&c);
}

static void test_chaos_tick_ends_on_stop_condition(void **state_)
{
    (void)state_;
    struct chaos c;
    chaos_init(&c, false);
    struct chaos_view v = {0};
    char id[CHAOS_ID_MAX];
    struct fault f = {.kind = FAULT_ABORT, .probability = 1, .status = 500};
    add(&c, "cap", 0, 0, 10, &f, 1, id);
    for (int i = 0; i < 9; i++)
        assert_int_equal(fired_at(&c, &v, T0 + MS), 1);
    chaos_tick(&c, T0 + 2 * MS);
    assert_int_equal(state(&c, id).state, CHAOS_RUNNING);
    assert_int_equal(fired_at(&c, &v, T0 + 3 * MS), 1);
    chaos_tick(&c, T0 + 4 * MS);
    assert_string_equal(state(&c, id).reason, "stop condition");
    assert_int_equal(fired_at(&c, &v, T0 + 5 * MS), 0);
    chaos_view_release(&v);
    chaos_release(&c);
}

static void test_chaos_experiment_add_refuses_primary_faults(void **state_)
{
    (void)state_;
    struct fault f = {.kind = FAULT_HANG, .probability = 1, .pool = "primary"};
    for (int allow = 0; allow < 2; allow++) {
        struct chaos c;
        chaos_init(&c, allow);
        char id[CHAOS_ID_MAX];
        /* not allowed: -EPERM; allowed: a hang does not fit the primary path: -ENOTSUP */
        assert_int_equal(add(&c, "p", 0, 0, 0, &f, 1, id), allow ? -ENOTSUP : -EPERM);
        chaos_release(&c);
    }
}

static void test_chaos_experiment_add_takes_primary_request_faults_when_allowed(void **state_)
{
    (void)state_;
    struct chaos c;
    chaos_init(&c, true);
    char id[CHAOS_ID_MAX];
    struct fault ok[] = {
        {.kind = FAULT_LATENCY, .probability = 1, .latency_ns = MS, .pool = "primary"},
        {.kind = FAULT_ABORT, .probability = 1, .status = 503, .pool = "primary"},
        {.kind = FAULT_RESET, .probability = 1, .pool = "primary"}};
    assert_int_equal(add(&c, "ok", 0, 0, 0, ok, 3, id), 0);
    struct fault resp = {.kind = FAULT_LATENCY,
                         .probability = 1,
                         .latency_ns = MS,
                         .direction = FAULT_DIR_RESPONSE,
                         .pool = "primary"};
    struct fault inst = {
        .kind = FAULT_RESET, .probability = 1, .pool = "primary", .instance = "127.0.0.1:1"};
    struct spec_err {
        const struct fault *f;
        const char *msg;
    } bad[] = {
        {&resp, "faults[0]: 'latency': on the primary path faults act in the request "
                "direction only"},
        {&inst, "faults[0]: 'reset': on the primary path the scope cannot name an instance"}};
    for (size_t i = 0; i < 2; i++) {
        struct chaos_experiment_spec spec = {.name = "bad", .faults = bad[i].f, .nfaults = 1};
        struct err err = {0};
        assert_int_equal(chaos_experiment_add(&c, &spec, T0, id, &err), -ENOTSUP);
        assert_string_equal(err.msg, bad[i].msg);
    }
    chaos_release(&c);
}

static void test_chaos_set_eval_applies_primary_faults_when_allowed(void **state_)
{
    (void)state_;
    struct chaos c;
    chaos_init(&c, true);
    struct chaos_view v = {0};
    char id[CHAOS_ID_MAX];
    struct fault f[] = {{.kind = FAULT_ABORT, .probability = 1, .status = 429, .pool = "primary"},
                        {.kind = FAULT_HANG, .probability = 1}}; /* every shadow, not the primary */
    assert_int_equal(add(&c, "p", 0, 0, 0, f, 2, id), 0);
    struct fault_probe p = shadow_probe;
    p.pool = "primary";
    p.primary = true;
    struct rng rng;
    rng_seed(&rng, 1);
    struct fault_decision d = {0};
    chaos_set_eval(chaos_view_get(&v, &c), &p, T0 + MS, &rng, &d);
    assert_int_equal(d.fired, 1);
    assert_int_equal(d.abort_status, 429);
    assert_false(d.hang);
    chaos_view_release(&v);
    chaos_release(&c);
}

static void test_chaos_set_eval_skips_the_primary(void **state_)
{
    (void)state_;
    struct chaos c;
    chaos_init(&c, false);
    struct chaos_view v = {0};
    char id[CHAOS_ID_MAX];
    struct fault f = {.kind = FAULT_HANG, .probability = 1};
    assert_int_equal(add(&c, "p", 0, 0, 0, &f, 1, id), 0);
    struct fault_probe p = shadow_probe;
    p.pool = "primary";
    p.primary = true;
    struct rng rng;
    rng_seed(&rng, 1);
    struct fault_decision d = {0};
    chaos_set_eval(chaos_view_get(&v, &c), &p, T0 + MS, &rng, &d);
    assert_int_equal(d.fired, 0);
    assert_int_equal(fired_at(&c, &v, T0 + MS), 1); /* the same fault on a shadow */
    chaos_view_release(&v);
    chaos_release(&c);
}

static void test_chaos_tick_switches_periodic_faults(void **state_)
{
    (void)state_;
    struct chaos c;
    chaos_init(&c, false);
    char id[CHAOS_ID_MAX];
    struct fault f = {
        .kind = FAULT_HANG, .probability = 1, .every_ns = 100 * MS, .active_ns = 30 * MS};
    add(&c, "blink", 0, 0, 0, &f, 1, id);
    for (uint64_t t = 0; t < 300 * MS; t += 10 * MS)
        chaos_tick(&c, T0 + t);
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(chaos_write_prometheus(&c, &b), 0);
    /* on at 0, 100, 200 ms; off at 30, 130, 230 ms */
    assert_non_null(strstr(b.data, "doppel_chaos_fault_events_total{experiment=\"blink\",id=\"e1\","
                                   "fault=\"0\",kind=\"hang\",event=\"started\"} 3\n"));
    assert_non_null(strstr(b.data, "event=\"stopped\"} 3\n"));
    assert_non_null(strstr(b.data, "doppel_chaos_experiments_active 1\n"));
    buf_release(&b);
    chaos_release(&c);
}

static void test_chaos_write_prometheus_counts_affected_by_pool(void **state_)
{
    (void)state_;
    struct chaos c;
    chaos_init(&c, false);
    struct chaos_view v = {0};
    char id[CHAOS_ID_MAX];
    struct fault f = {.kind = FAULT_RESET, .probability = 1};
    add(&c, "r", 0, 0, 0, &f, 1, id);
    for (int i = 0; i < 4; i++)
        fired_at(&c, &v, T0 + MS);
    chaos_stop_all(&c, T0 + 2 * MS);
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(chaos_write_prometheus(&c, &b), 0);
    assert_non_null(strstr(b.data,
                           "doppel_chaos_affected_requests_total{experiment=\"r\",id=\"e1\","
                           "fault=\"0\",kind=\"reset\",service=\"api\",pool=\"s1\"} 4\n"));
    assert_non_null(strstr(b.data, "doppel_chaos_kill_switch_total 1\n"));
    assert_non_null(strstr(b.data, "doppel_chaos_experiments_active 0\n"));
    struct buf small;
    buf_init(&small, 64);
    assert_int_equal(chaos_write_prometheus(&c, &small), -ENOSPC);
    assert_int_equal(small.len, 0);
    buf_release(&small);
    buf_release(&b);
    chaos_view_release(&v);
    chaos_release(&c);
}

static void test_chaos_events_ring_keeps_the_newest(void **state_)
{
    (void)state_;
    struct chaos c;
    chaos_init(&c, false);
    char id[CHAOS_ID_MAX];
    struct fault f = {.kind = FAULT_HANG, .probability = 1};
    /* each add + stop makes 5 events; 300 experiments overflow the 1024-event ring */
    for (int i = 0; i < 300; i++) {
        add(&c, "many", 0, 0, 0, &f, 1, id);
        chaos_experiment_stop(&c, id, T0);
    }
    assert_int_equal(c.ring_count, CHAOS_EVENTS);
    struct state_of s = state(&c, "e300");
    assert_int_equal(s.nev, 5);
    assert_string_equal(s.last, "stopped");
    size_t kept = chaos_visit(&c, NULL, state_cb, &s);
    assert_int_equal(kept, CHAOS_MAX_FINISHED); /* the oldest ended ones are dropped */
    chaos_release(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chaos_experiment_add_rejects_bad_specs),
        cmocka_unit_test(test_chaos_experiment_runs_for_its_window),
        cmocka_unit_test(test_chaos_view_get_retakes_only_after_publish),
        cmocka_unit_test(test_chaos_stop_all_removes_every_fault),
        cmocka_unit_test(test_chaos_experiment_stop_ends_one),
        cmocka_unit_test(test_chaos_tick_ends_on_stop_condition),
        cmocka_unit_test(test_chaos_experiment_add_refuses_primary_faults),
        cmocka_unit_test(test_chaos_set_eval_skips_the_primary),
        cmocka_unit_test(test_chaos_experiment_add_takes_primary_request_faults_when_allowed),
        cmocka_unit_test(test_chaos_set_eval_applies_primary_faults_when_allowed),
        cmocka_unit_test(test_chaos_tick_switches_periodic_faults),
        cmocka_unit_test(test_chaos_write_prometheus_counts_affected_by_pool),
        cmocka_unit_test(test_chaos_events_ring_keeps_the_newest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
