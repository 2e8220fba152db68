/* SPDX-License-Identifier: Apache-2.0 */
/* The process driver with real child processes on loopback: the exec wrapper is this
 * build's doppel binary and the HTTP instance is this build's demo-app (both found next to
 * the test binary's build directory). Every test bounds its loop run in time, stops what
 * it started and asserts uv_loop_close() == 0. Tests that need root skip when not root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <libgen.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "base/clock.h"
#include "provision/provision_process.h"
#include "testlib.h"

static char exec_path[512], demo_app[512];

struct fixture {
    uv_loop_t loop;
    struct provision *p;
    char *dir;
    int ready, exited, removed, unready;
    struct provision_instance last;
};

static void on_event(void *ctx, enum provision_event ev, const struct provision_instance *inst)
{
    struct fixture *f = ctx;
    f->last = *inst;
    f->ready += ev == PROVISION_EV_READY;
    f->exited += ev == PROVISION_EV_EXITED;
    f->removed += ev == PROVISION_EV_REMOVED;
    f->unready += ev == PROVISION_EV_UNREADY;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    uv_loop_init(&f->loop);
    f->dir = testlib_tmpdir();
    char sd[600];
    snprintf(sd, sizeof(sd), "%s/state", f->dir);
    struct provision_process_opts o = {.state_dir = sd, .exec_path = exec_path};
    struct err err = {0};
    f->p = provision_process_new(&f->loop, &o, &err);
    assert_non_null(f->p);
    provision_set_event_cb(f->p, on_event, f);
    *state = f;
    return 0;
}

static void on_stopped(void *ctx)
{
    *(int *)ctx = 1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    int stopped = 0;
    provision_stop_all(f->p, on_stopped, &stopped);
    uint64_t end = clock_mono_ns() + 5 * CLOCK_NS_PER_S;
    while (!stopped && clock_mono_ns() < end)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_true(stopped);
    provision_free(f->p);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    testlib_rmdir(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void on_guard(uv_timer_t *t)
{
    (void)t;
}

/* Runs the loop until *flag >= want or ms pass; returns whether the flag got there. */
static bool run_until(struct fixture *f, const int *flag, int want, uint64_t ms)
{
    uv_timer_t guard;
    uv_timer_init(&f->loop, &guard);
    uv_timer_start(&guard, on_guard, 10, 10);
    uint64_t end = clock_mono_ns() + ms * CLOCK_NS_PER_MS;
    while (*flag < want && clock_mono_ns() < end)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    return *flag >= want;
}

static void run_for(struct fixture *f, uint64_t ms)
{
    int never = 0;
    run_until(f, &never, 1, ms);
}

static struct provision_spec base_spec(const char *name, const char *command)
{
    return (struct provision_spec){
        .name = name,
        .command = command,
        .replicas = 1,
        .probe = {.kind = PROVISION_PROBE_HTTP,
                  .path = "/",
                  .interval_ns = 10 * CLOCK_NS_PER_MS,
                  .timeout_ns = 500 * CLOCK_NS_PER_MS},
        .start_timeout_ns = 5 * CLOCK_NS_PER_S,
        .stop_grace_ns = 2 * CLOCK_NS_PER_S,
        .restart = {.policy = PROVISION_RESTART_ON_FAILURE,
                    .backoff_ns = 10 * CLOCK_NS_PER_MS,
                    .max_backoff_ns = 100 * CLOCK_NS_PER_MS},
        .labels = {.service = "api", .pool = "primary", .role = PROVISION_ROLE_PRIMARY},
    };
}

static const char *const demo_args[] = {"--port", "{port}", "--latency-ms", "1"};

static int atoi_status(const char *resp)
{
    return strncmp(resp, "HTTP/1.", 7) == 0 ? (int)strtol(resp + 9, NULL, 10) : -EPROTO;
}

/* GET / on 127.0.0.1:port from this process; the HTTP status or -errno. */
static int http_get(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    const char req[] = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    char resp[64] = {0};
    ssize_t w = write(fd, req, sizeof(req) - 1), n = read(fd, resp, sizeof(resp) - 1);
    close(fd);
    return w > 0 && n >= 12 ? atoi_status(resp) : -EIO;
}

static void test_provision_start_http_probe_reports_ready(void **state)
{
    struct fixture *f = *state;
    struct provision_spec s = base_spec("api-primary", demo_app);
    s.args = demo_args;
    s.nargs = 4;
    s.replicas = 2;
    struct err err = {0};
    assert_int_equal(provision_start(f->p, &s, &err), 0);
    struct provision_instance v[4];
    assert_int_equal(provision_list(f->p, NULL, v, 4), 2);
    assert_int_equal(v[0].state, PROVISION_STARTING);
    assert_true(run_until(f, &f->ready, 2, 5000));
    assert_int_equal(provision_list(f->p, NULL, v, 4), 2);
    assert_string_equal(v[0].id, "api-primary-1");
    assert_string_equal(v[1].id, "api-primary-2");
    for (int i = 0; i < 2; i++) {
        assert_int_equal(v[i].state, PROVISION_READY);
        assert_true(v[i].pid > 0);
        assert_int_equal(http_get(v[i].port), 200);
    }
    assert_int_not_equal(v[0].port, v[1].port);
    assert_int_equal(provision_stop(f->p, v[0].id), 0);
    assert_true(run_until(f, &f->removed, 1, 5000));
    assert_int_equal(provision_list(f->p, NULL, v, 4), 1);
    assert_true(http_get(f->last.port) < 0); /* the stopped one no longer answers */
}

static void test_provision_start_expands_placeholders(void **state)
{
    struct fixture *f = *state;
    char out[600], script[800];
    snprintf(out, sizeof(out), "%s/out-{instance}.txt", f->dir);
    snprintf(script, sizeof(script),
             "echo \"$DOPPEL_INSTANCE {instance} {port} $P\" > %s; "
             "exec sleep 30",
             out);
    const char *args[] = {"-c", script};
    const char *env[] = {"P=port={port}"};
    struct provision_spec s = base_spec("ph", "/bin/sh");
    s.args = args;
    s.nargs = 2;
    s.env = env;
    s.nenv = 1;
    s.probe.kind = PROVISION_PROBE_NONE;
    struct err err = {0};
    assert_int_equal(provision_start(f->p, &s, &err), 0);
    struct provision_instance in;
    assert_int_equal(provision_get(f->p, "ph-1", &in), 0);
    char path[700], want[200];
    snprintf(path, sizeof(path), "%s/out-ph-1.txt", f->dir);
    for (int i = 0; i < 200 && access(path, F_OK) != 0; i++)
        run_for(f, 10);
    run_for(f, 20);
    char *got = testlib_read_file(path);
    snprintf(want, sizeof(want), "ph-1 ph-1 %u port=%u\n", in.port, in.port);
    assert_string_equal(got, want);
    free(got);
}

static void test_provision_restart_policy_backs_off_and_gives_up(void **state)
{
    struct fixture *f = *state;
    const char *args[] = {"-c", "exit 3"};
    struct provision_spec s = base_spec("crash", "/bin/sh");
    s.args = args;
    s.nargs = 2;
    s.restart.max_restarts = 2;
    struct err err = {0};
    uint64_t t0 = clock_mono_ns();
    assert_int_equal(provision_start(f->p, &s, &err), 0);
    assert_true(run_until(f, &f->exited, 3, 5000));
    uint64_t took = clock_mono_ns() - t0;
    run_for(f, 50);
    struct provision_instance in;
    assert_int_equal(provision_get(f->p, "crash-1", &in), 0);
    assert_int_equal(in.state, PROVISION_EXITED);
    assert_int_equal(in.restarts, 2);
    assert_int_equal(in.last_exit, 3);
    assert_int_equal(f->exited, 3);
    assert_true(took >= 30 * CLOCK_NS_PER_MS); /* backoff 10 ms, then 20 ms */
}

static void test_provision_start_timeout_kills_unready(void **state)
{
    struct fixture *f = *state;
    const char *args[] = {"30"};
    struct provision_spec s = base_spec("slow", "sleep");
    s.args = args;
    s.nargs = 1;
    s.probe.kind = PROVISION_PROBE_TCP;
    s.start_timeout_ns = 150 * CLOCK_NS_PER_MS;
    s.restart.policy = PROVISION_RESTART_NEVER;
    struct err err = {0};
    assert_int_equal(provision_start(f->p, &s, &err), 0);
    assert_true(run_until(f, &f->exited, 1, 5000));
    assert_int_equal(f->ready, 0);
    struct provision_instance in;
    assert_int_equal(provision_get(f->p, "slow-1", &in), 0);
    assert_int_equal(in.state, PROVISION_EXITED);
    assert_int_equal(in.last_exit, -SIGKILL);
}

static void test_provision_kill_pause_resume_restart(void **state)
{
    struct fixture *f = *state;
    struct provision_spec s = base_spec("v2", demo_app);
    s.args = demo_args;
    s.nargs = 4;
    s.labels = (struct provision_labels){.service = "api",
                                         .pool = "v2",
                                         .shadow_of = "api",
                                         .change_id = "c7",
                                         .role = PROVISION_ROLE_SHADOW};
    struct err err = {0};
    assert_int_equal(provision_start(f->p, &s, &err), 0);
    assert_true(run_until(f, &f->ready, 1, 5000));
    struct provision_instance in;
    struct provision_selector sel = {.change_id = "c7", .role = PROVISION_ROLE_SHADOW};
    assert_int_equal(provision_list(f->p, &sel, &in, 1), 1);
    assert_string_equal(in.shadow_of, "api");
    pid_t pid1 = in.pid;

    assert_int_equal(provision_pause(f->p, in.id), 0);
    assert_int_equal(f->unready, 1);
    assert_int_equal(provision_get(f->p, in.id, &in), 0);
    assert_int_equal(in.state, PROVISION_PAUSED);
    assert_int_equal(provision_resume(f->p, in.id), 0);
    assert_true(run_until(f, &f->ready, 2, 5000));
    assert_int_equal(http_get(in.port), 200);

    assert_int_equal(provision_kill(f->p, in.id, SIGKILL), 0);
    assert_true(run_until(f, &f->ready, 3, 5000)); /* on-failure: back after the backoff */
    assert_int_equal(provision_get(f->p, in.id, &in), 0);
    assert_int_equal(in.restarts, 1);
    assert_int_equal(in.last_exit, -SIGKILL);
    assert_int_not_equal(in.pid, pid1);

    assert_int_equal(provision_restart(f->p, in.id), 0);
    assert_true(run_until(f, &f->ready, 4, 5000));
    assert_int_equal(provision_get(f->p, in.id, &in), 0);
    assert_int_equal(in.restarts, 2);
    assert_int_equal(http_get(in.port), 200);
    assert_int_equal(provision_pause(f->p, "nope"), -ENOENT);
}

static void test_provision_logs_rotate_past_max(void **state)
{
    struct fixture *f = *state;
    char logdir[600];
    snprintf(logdir, sizeof(logdir), "%s/logs", f->dir);
    const char *args[] = {"-c", "i=0; while [ $i -lt 100 ]; do echo line-$i-xxxxxxxxxx; "
                                "i=$((i+1)); done; echo err >&2"};
    struct provision_spec s = base_spec("chatty", "/bin/sh");
    s.args = args;
    s.nargs = 2;
    s.probe.kind = PROVISION_PROBE_NONE;
    s.restart.policy = PROVISION_RESTART_NEVER;
    s.log_dir = logdir;
    s.log_max_bytes = 500;
    s.log_keep = 2;
    struct err err = {0};
    assert_int_equal(provision_start(f->p, &s, &err), 0);
    assert_true(run_until(f, &f->exited, 1, 5000));
    run_for(f, 20);
    char p[700];
    struct stat st;
    snprintf(p, sizeof(p), "%s/chatty-1.stdout.log", logdir);
    assert_int_equal(stat(p, &st), 0);
    assert_true(st.st_size > 0 && st.st_size <= 500);
    snprintf(p, sizeof(p), "%s/chatty-1.stdout.log.2", logdir);
    assert_int_equal(stat(p, &st), 0);
    snprintf(p, sizeof(p), "%s/chatty-1.stdout.log.3", logdir);
    assert_int_not_equal(stat(p, &st), 0); /* keep: 2 */
    snprintf(p, sizeof(p), "%s/chatty-1.stderr.log", logdir);
    char *e = testlib_read_file(p);
    assert_string_equal(e, "err\n");
    free(e);
}

static void test_provision_memory_limit_oom_kill_reported(void **state)
{
    if (geteuid() != 0) {
        print_message("skipped: cgroup memory limits need root\n");
        skip();
    }
    struct fixture *f = *state;
    const char *args[] = {"if=/dev/zero", "of=/dev/null", "bs=256M", "count=4"};
    struct provision_spec s = base_spec("hog", "dd");
    s.args = args;
    s.nargs = 4;
    s.probe.kind = PROVISION_PROBE_NONE;
    s.restart.policy = PROVISION_RESTART_NEVER;
    s.resources.memory_limit = 32 << 20;
    struct err err = {0};
    assert_int_equal(provision_start(f->p, &s, &err), 0);
    struct provision_instance in;
    assert_int_equal(provision_get(f->p, "hog-1", &in), 0);
    if (!in.cgroup[0]) {
        print_message("skipped: no writable cgroup on this machine\n");
        skip();
    }
    assert_true(run_until(f, &f->exited, 1, 10000));
    assert_true(f->last.oom_killed);
    assert_int_equal(f->last.oom_kills, 1);
    assert_int_equal(f->last.last_exit, -SIGKILL);
}

static void test_provision_sample_reads_proc(void **state)
{
    struct fixture *f = *state;
    struct provision_spec s = base_spec("m", demo_app);
    s.args = demo_args;
    s.nargs = 4;
    struct err err = {0};
    assert_int_equal(provision_start(f->p, &s, &err), 0);
    assert_true(run_until(f, &f->ready, 1, 5000));
    struct provision_sample smp;
    assert_int_equal(provision_sample(f->p, "m-1", &smp), 0);
    assert_true(smp.rss_bytes > 100 * 1024);
    assert_true(smp.threads >= 1);
    assert_true(smp.open_fds >= 3);
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(provision_process_write_metrics(f->p, &b), 0);
    assert_non_null(strstr(b.data,
                           "doppel_instance_up{service=\"api\",pool=\"primary\",role="
                           "\"primary\",shadow_of=\"\",change_id=\"\",instance=\"m-1\"} 1\n"));
    assert_non_null(strstr(b.data, "# TYPE doppel_instance_rss_bytes gauge\n"));
    buf_release(&b);
    assert_int_equal(provision_sample(f->p, "nope", &smp), -ENOENT);
}

/* A busy loop uses at most one core: the CPU counter grows by about the wall time between
 * two samples (less on a loaded machine), never by more than it plus a clock tick, and
 * /metrics shows it as a counter with the latest sample's value. */
static void test_provision_sample_counts_cpu_seconds(void **state)
{
    struct fixture *f = *state;
    const char *args[] = {"-c", "while :; do :; done"};
    struct provision_spec s = base_spec("spin", "/bin/sh");
    s.args = args;
    s.nargs = 2;
    s.probe.kind = PROVISION_PROBE_NONE;
    struct err err = {0};
    assert_int_equal(provision_start(f->p, &s, &err), 0);
    run_for(f, 50);
    struct provision_sample a, b;
    assert_int_equal(provision_sample(f->p, "spin-1", &a), 0);
    uint64_t t0 = clock_mono_ns();
    run_for(f, 400);
    assert_int_equal(provision_sample(f->p, "spin-1", &b), 0);
    double wall = (double)(clock_mono_ns() - t0) / 1e9;
    double tick = 1.0 / (double)sysconf(_SC_CLK_TCK);
    double used = b.cpu_seconds_total - a.cpu_seconds_total;
    assert_true(a.cpu_seconds_total >= 0 && used >= 0.1 * wall);
    assert_true(used <= wall + 2 * tick);
    struct buf m;
    buf_init(&m, 1 << 20);
    assert_int_equal(provision_process_write_metrics(f->p, &m), 0);
    char want[300];
    snprintf(want, sizeof(want),
             "doppel_instance_cpu_seconds_total{service=\"api\",pool=\"primary\",role="
             "\"primary\",shadow_of=\"\",change_id=\"\",instance=\"spin-1\"} %.3f\n",
             b.cpu_seconds_total);
    assert_non_null(strstr(m.data, "# TYPE doppel_instance_cpu_seconds_total counter\n"));
    assert_non_null(strstr(m.data, want));
    buf_release(&m);
}

static void test_provision_netns_refused_without_root(void **state)
{
    struct fixture *f = *state;
    if (geteuid() == 0) {
        print_message("skipped: runs as root, so netns is allowed\n");
        skip();
    }
    struct provision_spec s = base_spec("sealed", demo_app);
    s.isolation = PROVISION_ISOLATION_NETNS;
    struct err err = {0};
    assert_int_equal(provision_start(f->p, &s, &err), -EPERM);
    assert_non_null(strstr(err.msg, "needs root or CAP_SYS_ADMIN"));
}

int main(int argc, char **argv)
{
    (void)argc;
    char *copy = strdup(argv[0]);
    const char *dir = dirname(copy); /* BUILD/tests/unit/provision */
    snprintf(exec_path, sizeof(exec_path), "%s/../../../doppel", dir);
    snprintf(demo_app, sizeof(demo_app), "%s/../../../demo-app", dir);
    free(copy);
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_provision_start_http_probe_reports_ready, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_provision_start_expands_placeholders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_provision_restart_policy_backs_off_and_gives_up, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_provision_start_timeout_kills_unready, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_provision_kill_pause_resume_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_provision_logs_rotate_past_max, setup, teardown),
        cmocka_unit_test_setup_teardown(test_provision_memory_limit_oom_kill_reported, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_provision_sample_reads_proc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_provision_sample_counts_cpu_seconds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_provision_netns_refused_without_root, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
