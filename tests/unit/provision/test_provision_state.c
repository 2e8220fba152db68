/* SPDX-License-Identifier: Apache-2.0 */
/* Instance records and the orphan sweep with real processes: a `sleep` left behind by an
 * owner that is gone is killed and its record removed; one whose owner runs is kept. */
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
#include <sys/wait.h>
#include <unistd.h>

#include "provision/provision_proc.h"
#include "provision/provision_state.h"
#include "testlib.h"

/* A `sleep 30` in its own process group, as instances are. */
static pid_t spawn_sleeper(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        setsid();
        execlp("sleep", "sleep", "30", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void write_record(const char *dir, const char *id, pid_t owner, pid_t pid)
{
    struct pproc_stat st = {0};
    for (int i = 0; i < 100 && pproc_read_stat(pid, &st) != 0; i++)
        usleep(1000);
    char text[512], name[64];
    snprintf(text, sizeof(text), "owner=%d\nowner_start=0\npid=%d\nstart=%llu\nport=1\ncgroup=\n",
             (int)owner, (int)pid, (unsigned long long)st.start_ticks);
    snprintf(name, sizeof(name), "%s.instance", id);
    free(testlib_write_file(dir, name, text));
}

static void test_pstate_sweep_kills_orphans_only(void **state)
{
    (void)state;
    char *dir = testlib_tmpdir();
    pid_t gone = fork(); /* an owner that has exited */
    if (gone == 0)
        _exit(0);
    waitpid(gone, NULL, 0);
    pid_t orphan = spawn_sleeper(), kept = spawn_sleeper();
    write_record(dir, "api-v2-1", gone, orphan);
    write_record(dir, "api-v2-2", getppid(), kept); /* its owner (our parent) still runs */
    assert_int_equal(pstate_sweep(dir), 1);
    int st;
    assert_int_equal(waitpid(orphan, &st, 0), orphan);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    char path[512];
    snprintf(path, sizeof(path), "%s/api-v2-1.instance", dir);
    assert_int_not_equal(access(path, F_OK), 0);
    snprintf(path, sizeof(path), "%s/api-v2-2.instance", dir);
    assert_int_equal(access(path, F_OK), 0);
    assert_int_equal(waitpid(kept, &st, WNOHANG), 0); /* still running */
    kill(kept, SIGKILL);
    waitpid(kept, NULL, 0);
    testlib_rmdir(dir);
    free(dir);
}

static void test_pstate_write_then_remove(void **state)
{
    (void)state;
    char *dir = testlib_tmpdir();
    struct provision_instance in = {.pid = getpid(), .port = 8080, .role = PROVISION_ROLE_SHADOW};
    snprintf(in.id, sizeof(in.id), "api-v2-7");
    snprintf(in.service, sizeof(in.service), "api");
    assert_int_equal(pstate_write(dir, &in, 5), 0);
    char path[512];
    snprintf(path, sizeof(path), "%s/api-v2-7.instance", dir);
    char *text = testlib_read_file(path);
    assert_non_null(strstr(text, "\npid="));
    assert_non_null(strstr(text, "\nport=8080\n"));
    assert_non_null(strstr(text, "\nrole=shadow\n"));
    free(text);
    assert_int_equal(pstate_sweep(dir), 0); /* its owner (this process) runs: kept */
    assert_int_equal(access(path, F_OK), 0);
    pstate_remove(dir, "api-v2-7");
    assert_int_not_equal(access(path, F_OK), 0);
    testlib_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pstate_sweep_kills_orphans_only),
        cmocka_unit_test(test_pstate_write_then_remove),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
