/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chaos_instance: instance faults and their helper processes (see chaos_instance.h).
 */
#include "chaos/chaos_instance.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"

/* Writes line ("<pid>\n") to a cgroup.procs file: async-signal-safe calls only. */
static void join_cgroup(const char *procs, const char *line, size_t len)
{
    int fd = open(procs, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        (void)!write(fd, line, len);
        close(fd);
    }
}

/* The cgroup.procs files of an instance's cgroup directories (one on v2; memory and cpu on
 * v1, given ':'-separated). */
struct cgroup_procs {
    char path[4][1024];
    int n;
};

static int cgroup_procs_of(const char *cgroups, struct cgroup_procs *cp)
{
    cp->n = 0;
    for (const char *s = cgroups; s && *s && cp->n < 4;) {
        size_t len = strcspn(s, ":");
        if (len > 0 && snprintf(cp->path[cp->n], sizeof(cp->path[0]), "%.*s/cgroup.procs", (int)len,
                                s) >= (int)sizeof(cp->path[0]))
            return -ENAMETOOLONG;
        cp->n += len > 0;
        s += len + (s[len] == ':');
    }
    return 0;
}

/* The helper's body, after fork in a threaded process: async-signal-safe calls only. */
static _Noreturn void helper_main(uint64_t memory, const struct cgroup_procs *cp, pid_t pgid,
                                  pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(0);
    if (cp->n > 0) {
        for (int i = 0; i < cp->n; i++)
            join_cgroup(cp->path[i], "0\n", 2); /* "0": the writing process itself */
    } else if (pgid > 0) {
        setpgid(0, pgid);
    }
    if (memory) {
        volatile char *p =
            mmap(NULL, memory, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            _exit(3);
        for (uint64_t off = 0; off < memory; off += 4096)
            p[off] = 1;
        for (;;)
            pause();
    }
    for (volatile uint64_t x = 0;; x++)
        ;
}

pid_t chaos_helper_spawn(uint64_t memory, const char *cgroup, pid_t pgid)
{
    struct cgroup_procs cp;
    int rc = cgroup_procs_of(cgroup, &cp);
    if (rc)
        return rc;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0)
        helper_main(memory, &cp, pgid, parent);
    /* Placed from both sides (the shell's idiom), so it holds when this returns. */
    if (cp.n > 0) {
        char line[32];
        int n = snprintf(line, sizeof(line), "%d\n", (int)pid);
        for (int i = 0; i < cp.n; i++)
            join_cgroup(cp.path[i], line, (size_t)n);
    } else if (pgid > 0)
        setpgid(pid, pgid);
    return pid;
}

void chaos_helper_stop(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

static int act(const struct chaos_instance_ops *ops, const struct fault *f,
               struct chaos_fault_run *run, int t)
{
    const char *id = run->targets[t];
    switch (f->kind) {
    case FAULT_KILL:
        return ops->kill ? ops->kill(ops->ctx, id) : -ENOTSUP;
    case FAULT_PAUSE:
        return ops->pause ? ops->pause(ops->ctx, id) : -ENOTSUP;
    case FAULT_RESTART:
        return ops->restart ? ops->restart(ops->ctx, id) : -ENOTSUP;
    case FAULT_CPU_BURN:
    case FAULT_MEMORY: {
        char cg[4096] = "";
        if (ops->cgroup && ops->cgroup(ops->ctx, id, cg, sizeof(cg)) != 0)
            cg[0] = 0;
        pid_t pgid = ops->pid ? getpgid(ops->pid(ops->ctx, id)) : 0;
        pid_t pid =
            chaos_helper_spawn(f->kind == FAULT_MEMORY ? f->memory : 0, cg, pgid > 0 ? pgid : 0);
        if (pid < 0)
            return pid;
        run->helpers[t] = pid;
        return 0;
    }
    default:
        return -EINVAL;
    }
}

void chaos_instance_start(const struct chaos_instance_ops *ops, const struct fault *f,
                          struct chaos_fault_run *run, const char *exp_id, int fault)
{
    memset(run->helpers, 0, sizeof(run->helpers));
    run->ntargets = 0;
    if (!ops->list)
        return;
    int n = ops->list(ops->ctx, f->service, f->pool, f->instance, run->targets, CHAOS_MAX_TARGETS);
    if (n < 0) {
        log_warn("chaos", "experiment %s fault %d: cannot list instances: %s", exp_id, fault,
                 strerror(-n));
        return;
    }
    run->ntargets = n < CHAOS_MAX_TARGETS ? n : CHAOS_MAX_TARGETS;
    for (int t = 0; t < run->ntargets; t++) {
        int rc = act(ops, f, run, t);
        if (rc < 0)
            log_warn("chaos", "experiment %s fault %d: %s on instance '%s' failed: %s", exp_id,
                     fault, fault_kind_name(f->kind), run->targets[t], strerror(-rc));
    }
}

void chaos_instance_stop(const struct chaos_instance_ops *ops, const struct fault *f,
                         struct chaos_fault_run *run)
{
    for (int t = 0; t < run->ntargets; t++) {
        if (f->kind == FAULT_PAUSE && ops->resume) {
            int rc = ops->resume(ops->ctx, run->targets[t]);
            if (rc < 0)
                log_warn("chaos", "resume of instance '%s' failed: %s", run->targets[t],
                         strerror(-rc));
        }
        chaos_helper_stop(run->helpers[t]);
        run->helpers[t] = 0;
    }
}
