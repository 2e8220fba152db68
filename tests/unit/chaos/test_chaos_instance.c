/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for chaos/chaos_instance: instance faults on real child processes. The ops table
 * here is a small process "provisioner" over children this test spawns (`sleep`, each in
 * its own process group): kill(2), SIGSTOP and SIGCONT really go to them and the test
 * reads the effect from /proc and waitpid. CPU burn and memory helpers are checked for
 * their placement (process group, or a cgroup v2 directory when running as root on a
 * machine that has one), their CPU time or resident memory, and their end with the fault.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "chaos/chaos.h"
#include "chaos/chaos_instance.h"
#include "testlib.h"

#define NINST 2

struct procs {
    char ids[NINST][CHAOS_INSTANCE_ID_MAX];
    pid_t pid[NINST];
    int restarts;
    char cgroup[256]; /* "" = none */
};

static pid_t spawn_sleeper(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        execl("/bin/sleep", "sleep", "30", (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid); /* also from here, so it holds before the test goes on */
    return pid;
}

static int find(struct procs *p, const char *id)
{
    for (int i = 0; i < NINST; i++)
        if (strcmp(p->ids[i], id) == 0)
            return i;
    return -1;
}

static int ops_list(void *ctx, const char *service, const char *pool, const char *instance,
                    char (*ids)[CHAOS_INSTANCE_ID_MAX], int max)
{
    struct procs *p = ctx;
    (void)service;
    (void)pool;
    int n = 0;
    for (int i = 0; i < NINST && n < max; i++)
        if (!instance || strcmp(instance, p->ids[i]) == 0)
            memcpy(ids[n++], p->ids[i], CHAOS_INSTANCE_ID_MAX);
    return n;
}

static int signal_id(void *ctx, const char *id, int sig)
{
    struct procs *p = ctx;
    int i = find(p, id);
    if (i < 0)
        return -ENOENT;
    return kill(p->pid[i], sig) == 0 ? 0 : -errno;
}

static int ops_kill(void *ctx, const char *id)
{
    return signal_id(ctx, id, SIGKILL);
}

static int ops_pause(void *ctx, const char *id)
{
    return signal_id(ctx, id, SIGSTOP);
}

static int ops_resume(void *ctx, const char *id)
{
    return signal_id(ctx, id, SIGCONT);
}

static int ops_restart(void *ctx, const char *id)
{
    struct procs *p = ctx;
    int i = find(p, id);
    if (i < 0)
        return -ENOENT;
    kill(p->pid[i], SIGKILL);
    waitpid(p->pid[i], NULL, 0);
    p->pid[i] = spawn_sleeper();
    p->restarts++;
    return 0;
}

static pid_t ops_pid(void *ctx, const char *id)
{
    struct procs *p = ctx;
    int i = find(p, id);
    return i < 0 ? -ENOENT : p->pid[i];
}

static int ops_cgroup(void *ctx, const char *id, char *path, size_t len)
{
    struct procs *p = ctx;
    (void)id;
    snprintf(path, len, "%s", p->cgroup);
    return 0;
}

static struct procs P;

static int setup(void **state)
{
    (void)state;
    memset(&P, 0, sizeof(P));
    for (int i = 0; i < NINST; i++) {
        snprintf(P.ids[i], CHAOS_INSTANCE_ID_MAX, "i%d", i + 1);
        P.pid[i] = spawn_sleeper();
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < NINST; i++) {
        kill(P.pid[i], SIGKILL);
        waitpid(P.pid[i], NULL, 0);
    }
    return 0;
}

static void start(struct chaos *c, const struct fault *f, char *id)
{
    struct chaos_instance_ops ops = {ops_list,    ops_kill, ops_pause,  ops_resume,
                                     ops_restart, ops_pid,  ops_cgroup, &P};
    chaos_init(c, false);
    chaos_set_instance_ops(c, &ops);
    struct chaos_experiment_spec spec = {.name = "inst", .faults = f, .nfaults = 1};
    struct err err = {0};
    assert_int_equal(chaos_experiment_add(c, &spec, clock_mono_ns(), id, &err), 0);
}

/* The state letter of /proc/pid/stat ('S', 'T', 'R', ...), 0 when gone. */
static char proc_state(pid_t pid)
{
    char path[64], line[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char *ok = fgets(line, sizeof(line), f);
    fclose(f);
    char *r = ok ? strrchr(line, ')') : NULL;
    return r && r[1] == ' ' ? r[2] : 0;
}

static bool wait_state(pid_t pid, char want)
{
    for (int i = 0; i < 200; i++) {
        char s = proc_state(pid);
        if (want == 'T' ? s == 'T' : (s != 0 && s != 'T'))
            return true;
        usleep(5000);
    }
    return false;
}

static void test_chaos_instance_pause_stops_and_resumes(void **state)
{
    (void)state;
    struct chaos c;
    char id[CHAOS_ID_MAX];
    struct fault f = {.kind = FAULT_PAUSE, .probability = 1, .instance = "i2"};
    start(&c, &f, id);
    assert_true(wait_state(P.pid[1], 'T'));
    assert_int_not_equal(proc_state(P.pid[0]), 'T'); /* out of scope */
    assert_int_equal(chaos_experiment_stop(&c, id, clock_mono_ns()), 0);
    assert_true(wait_state(P.pid[1], 'S'));
    chaos_release(&c);
}

static void test_chaos_instance_kill_sends_sigkill(void **state)
{
    (void)state;
    struct chaos c;
    char id[CHAOS_ID_MAX];
    struct fault f = {.kind = FAULT_KILL, .probability = 1, .instance = "i1"};
    start(&c, &f, id);
    int st = 0;
    assert_int_equal(waitpid(P.pid[0], &st, 0), P.pid[0]);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGKILL);
    P.pid[0] = spawn_sleeper(); /* for teardown */
    assert_int_not_equal(proc_state(P.pid[1]), 0);
    chaos_release(&c);
}

static void test_chaos_instance_restart_goes_through_ops(void **state)
{
    (void)state;
    struct chaos c;
    char id[CHAOS_ID_MAX];
    pid_t before[NINST] = {P.pid[0], P.pid[1]};
    struct fault f = {.kind = FAULT_RESTART, .probability = 1};
    start(&c, &f, id);
    assert_int_equal(P.restarts, 2);
    assert_int_not_equal(P.pid[0], before[0]);
    assert_int_not_equal(P.pid[1], before[1]);
    assert_int_not_equal(proc_state(P.pid[0]), 0);
    chaos_release(&c);
}

struct helpers {
    pid_t pid[CHAOS_MAX_TARGETS];
    int n;
};

static void helpers_cb(const struct chaos_experiment *e, const struct chaos_event *ev, size_t nev,
                       void *arg)
{
    (void)ev;
    (void)nev;
    struct helpers *h = arg;
    h->n = e->runs[0].ntargets;
    memcpy(h->pid, e->runs[0].helpers, sizeof(h->pid));
}

static long stat_field(pid_t pid, int field)
{
    char path[64], line[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *ok = fgets(line, sizeof(line), f);
    fclose(f);
    char *p = ok ? strrchr(line, ')') : NULL;
    if (!p)
        return -1;
    p += 2; /* field 3 (state) */
    for (int i = 3; i < field; i++) {
        p = strchr(p, ' ');
        if (!p)
            return -1;
        p++;
    }
    return strtol(p, NULL, 10);
}

static void test_chaos_instance_cpu_burn_runs_in_the_group_until_stop(void **state)
{
    (void)state;
    struct chaos c;
    char id[CHAOS_ID_MAX];
    struct fault f = {.kind = FAULT_CPU_BURN, .probability = 1, .instance = "i1"};
    start(&c, &f, id);
    struct helpers h = {0};
    chaos_visit(&c, id, helpers_cb, &h);
    assert_int_equal(h.n, 1);
    assert_true(h.pid[0] > 0);
    assert_int_equal(stat_field(h.pid[0], 5), P.pid[0]); /* pgrp: the instance's group */
    long ticks = 0;
    for (int i = 0; i < 100 && ticks < 5; i++) {
        usleep(10000);
        ticks = stat_field(h.pid[0], 14) + stat_field(h.pid[0], 15); /* utime + stime */
    }
    assert_true(ticks >= 5); /* it burns: >= 50 ms of CPU at 100 ticks/s */
    assert_int_equal(chaos_experiment_stop(&c, id, clock_mono_ns()), 0);
    assert_int_equal(kill(h.pid[0], 0), -1); /* killed and reaped */
    assert_int_equal(errno, ESRCH);
    chaos_release(&c);
}

static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

static void test_chaos_instance_memory_holds_the_bytes(void **state)
{
    (void)state;
    struct chaos c;
    char id[CHAOS_ID_MAX];
    struct fault f = {.kind = FAULT_MEMORY, .probability = 1, .instance = "i2", .memory = 32 << 20};
    start(&c, &f, id);
    struct helpers h = {0};
    chaos_visit(&c, id, helpers_cb, &h);
    assert_true(h.pid[0] > 0);
    long kib = 0;
    for (int i = 0; i < 200 && kib < 32 * 1024; i++) {
        usleep(5000);
        kib = rss_kib(h.pid[0]);
    }
    assert_true(kib >= 32 * 1024);
    chaos_stop_all(&c, clock_mono_ns());
    assert_int_equal(kill(h.pid[0], 0), -1);
    chaos_release(&c);
}

/* The cgroup hierarchy a test may make a directory in: the unified (v2) one, else the v1
 * memory controller. Needs root. */
static const char *cgroup_root(void)
{
    if (getuid() != 0)
        return NULL;
    if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0)
        return "/sys/fs/cgroup";
    if (access("/sys/fs/cgroup/memory/cgroup.procs", W_OK) == 0)
        return "/sys/fs/cgroup/memory";
    return NULL;
}

static void test_chaos_helper_spawn_joins_the_cgroup(void **state)
{
    (void)state;
    const char *root = cgroup_root();
    char dir[128];
    snprintf(dir, sizeof(dir), "%s/doppel-chaos-test-%d", root ? root : "", (int)getpid());
    if (!root || mkdir(dir, 0755) != 0) {
        printf("# SKIP cgroup placement: needs root and a writable cgroup hierarchy\n");
        skip();
    }
    pid_t pid = chaos_helper_spawn(4 << 20, dir, 0);
    assert_true(pid > 0);
    char path[64], line[512];
    snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
    bool in = false;
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f) && !in)
        in = strstr(line, dir + strlen(root)) != NULL;
    if (f)
        fclose(f);
    chaos_helper_stop(pid);
    rmdir(dir);
    assert_true(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_chaos_instance_pause_stops_and_resumes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_chaos_instance_kill_sends_sigkill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chaos_instance_restart_goes_through_ops, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_chaos_instance_cpu_burn_runs_in_the_group_until_stop,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_chaos_instance_memory_holds_the_bytes, setup,
                                        teardown),
        cmocka_unit_test(test_chaos_helper_spawn_joins_the_cgroup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
