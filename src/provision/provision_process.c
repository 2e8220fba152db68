/* SPDX-License-Identifier: Apache-2.0 */
/*
 * provision_process: the `process` driver (see provision_process.h). Each instance is a
 * small state machine driven by libuv callbacks on the provisioner's loop:
 *
 *     spawn ──▶ STARTING ──probe ok──▶ READY ──pause──▶ PAUSED ──resume──▶ STARTING
 *                  │  start timeout: SIGKILL   │ exit                         │
 *                  └──────────┬────────────────┘                              │
 *                             ▼                                               │
 *        exit ──▶ policy says restart? ──yes──▶ BACKOFF ──delay──▶ spawn      │
 *                             │ no                                            │
 *                             ▼                                               │
 *                          EXITED (kept, so status shows why)                 │
 *     stop ──▶ STOPPING (SIGTERM; SIGKILL after the grace) ──exit──▶ removed ◀┘(stop)
 *
 * Transitions: spawn_instance (→ STARTING), on_probe_done (→ READY), on_deadline
 * (start timeout, stop grace, backoff delay), on_exit (→ BACKOFF / EXITED / removed).
 * Invariants: a running process exists exactly in STARTING, READY, PAUSED and STOPPING;
 * the probe runs only in STARTING; the deadline timer is armed in STARTING (start
 * timeout), BACKOFF (delay) and STOPPING (grace).
 *
 * Every instance leads its own process group (spawned detached), so signals reach what it
 * forks too. Its stdout and stderr are piped into log files here (writes are small and go
 * to local files on the control loop, never on a data-path worker).
 */
#include "provision/provision_process.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/list.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "net/netns.h"
#include "provision/provision_cgroup.h"
#include "provision/provision_egress.h"
#include "provision/provision_exec.h"
#include "provision/provision_inst.h"
#include "provision/provision_proc.h"
#include "provision/provision_state.h"

static struct pinst *find(struct pprov *pp, const char *id)
{
    struct list *n, *t;
    list_for_each_safe(n, t, &pp->instances)
    {
        struct pinst *in = list_entry(n, struct pinst, node);
        if (strcmp(in->info.id, id) == 0 && !in->freeing)
            return in;
    }
    return NULL;
}

static void emit(struct pinst *in, enum provision_event ev)
{
    struct pprov *pp = in->pp;
    if (pp->base.on_event)
        pp->base.on_event(pp->base.event_ctx, ev, &in->info);
}

static void set_state(struct pinst *in, enum provision_state s)
{
    bool was_ready = in->info.state == PROVISION_READY;
    in->info.state = s;
    if (was_ready && s != PROVISION_READY)
        emit(in, PROVISION_EV_UNREADY);
}

/* ---- handles and freeing ------------------------------------------------------------- */

bool pinst_handle_closed(struct pinst *in)
{
    BUG_ON(in->open_handles == 0);
    if (--in->open_handles == 0 && in->freeing) {
        pinst_free(in);
        return true;
    }
    return false;
}

static void on_handle_closed(uv_handle_t *h)
{
    pinst_handle_closed(h->data);
}

void pinst_close(struct pinst *in, uv_handle_t *h)
{
    BUG_ON(h->data != in);
    if (!uv_is_closing(h))
        uv_close(h, on_handle_closed);
}

static void remove_instance(struct pinst *in)
{
    struct pprov *pp = in->pp;
    set_state(in, PROVISION_EXITED);
    if (pp->state_dir)
        pstate_remove(pp->state_dir, in->info.id);
    pcgroup_remove(&in->cg);
    memset(&in->cg, 0, sizeof(in->cg));
    emit(in, PROVISION_EV_REMOVED);
    list_remove(&in->node);
    in->freeing = true;
    pegress_close_all(in);
    pinst_close(in, (uv_handle_t *)&in->timer);
    pinst_close(in, (uv_handle_t *)&in->deadline);
    pprobe_cancel(in);
    if (pp->stop_all_done && list_empty(&pp->instances)) {
        void (*done)(void *) = pp->stop_all_done;
        pp->stop_all_done = NULL;
        done(pp->stop_all_ctx);
    }
}

/* ---- logs ---------------------------------------------------------------------------- */

static void open_log(struct pinst *in, int which)
{
    if (!in->log_path[which])
        return;
    in->logfd[which] = open(in->log_path[which], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    struct stat st;
    in->logsize[which] =
        in->logfd[which] >= 0 && fstat(in->logfd[which], &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* <log>.N-1 -> <log>.N, ..., <log> -> <log>.1; the oldest falls off. */
static void rotate_log(struct pinst *in, int which)
{
    const char *p = in->log_path[which];
    char from[PROVISION_PATH_MAX + 16], to[PROVISION_PATH_MAX + 16];
    close(in->logfd[which]);
    for (uint32_t k = in->log_keep; k >= 1; k--) {
        snprintf(to, sizeof(to), "%s.%u", p, k);
        if (k == 1)
            snprintf(from, sizeof(from), "%s", p);
        else
            snprintf(from, sizeof(from), "%s.%u", p, k - 1);
        rename(from, to);
    }
    if (in->log_keep == 0)
        unlink(p);
    open_log(in, which);
}

/* Fills the current file up to log_max, rotates, goes on: no file exceeds log_max. */
static void log_bytes(struct pinst *in, int which, const char *data, size_t len)
{
    while (len && in->logfd[which] >= 0) {
        size_t n = len;
        if (in->log_max) {
            if (in->logsize[which] >= in->log_max) {
                rotate_log(in, which);
                continue;
            }
            if (n > in->log_max - in->logsize[which])
                n = in->log_max - in->logsize[which];
        }
        ssize_t w = write(in->logfd[which], data, n);
        if (w <= 0)
            return;
        in->logsize[which] += (uint64_t)w;
        data += w;
        len -= (size_t)w;
    }
}

static void pipe_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)suggested;
    struct pinst *in = h->data;
    int which = h == (uv_handle_t *)&in->out[1];
    *b = uv_buf_init(in->readbuf[which], sizeof(in->readbuf[which]));
}

static void pipe_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct pinst *in = s->data;
    int which = s == (uv_stream_t *)&in->out[1];
    if (n > 0)
        log_bytes(in, which, b->base, (size_t)n);
    else if (n < 0)
        pinst_close(in, (uv_handle_t *)s);
}

/* ---- spawning ------------------------------------------------------------------------ */

static void on_exit_cb(uv_process_t *p, int64_t status, int signo);
static void on_deadline(uv_timer_t *t);

static void arm_deadline(struct pinst *in, uint64_t ns)
{
    uv_timer_start(&in->deadline, on_deadline, ns / CLOCK_NS_PER_MS + (ns % CLOCK_NS_PER_MS != 0),
                   0);
}

static void setup_stdio(struct pinst *in, uv_stdio_container_t *st)
{
    st[0].flags = UV_IGNORE;
    for (int w = 0; w < 2; w++) {
        uv_pipe_init(in->pp->loop, &in->out[w], 0);
        in->out[w].data = in;
        in->open_handles++;
        st[1 + w].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
        st[1 + w].data.stream = (uv_stream_t *)&in->out[w];
    }
    st[3].flags = UV_IGNORE;
    if (in->sealed && in->negress) {
        uv_pipe_init(in->pp->loop, &in->sync, 0);
        in->sync.data = in;
        in->open_handles++;
        st[3].flags = UV_CREATE_PIPE | UV_READABLE_PIPE | UV_WRITABLE_PIPE;
        st[3].data.stream = (uv_stream_t *)&in->sync;
    }
}

static void close_stdio(struct pinst *in)
{
    pinst_close(in, (uv_handle_t *)&in->out[0]);
    pinst_close(in, (uv_handle_t *)&in->out[1]);
    if (in->sealed && in->negress)
        pinst_close(in, (uv_handle_t *)&in->sync);
}

static void after_spawn(struct pinst *in)
{
    struct pprov *pp = in->pp;
    struct pproc_stat st = {0};
    in->info.pid = in->proc.pid;
    pproc_read_stat(in->info.pid, &st);
    in->start_ticks = st.start_ticks;
    in->spawned_ns = clock_mono_ns();
    in->sample_prev_ticks = 0;
    if (!in->wrapped)
        pcgroup_join(&in->cg, in->info.pid);
    if (in->sealed)
        snprintf(in->info.netns, sizeof(in->info.netns), "/proc/%d/ns/net", (int)in->info.pid);
    if (pp->state_dir)
        pstate_write(pp->state_dir, &in->info, in->start_ticks);
    for (int w = 0; w < 2; w++)
        uv_read_start((uv_stream_t *)&in->out[w], pipe_alloc, pipe_read);
    if (in->sealed && in->negress)
        pegress_begin(in);
    in->info.state = PROVISION_STARTING;
    arm_deadline(in, in->start_timeout_ns);
    pprobe_start(in);
}

static int spawn_instance(struct pinst *in)
{
    uv_stdio_container_t st[4];
    open_log(in, 0);
    open_log(in, 1);
    setup_stdio(in, st);
    uv_process_options_t o = {.exit_cb = on_exit_cb,
                              .file = in->argv[0],
                              .args = in->argv,
                              .env = in->envp,
                              .cwd = in->cwd,
                              .flags = UV_PROCESS_DETACHED,
                              .stdio_count = 4,
                              .stdio = st};
    in->oom_before = pcgroup_oom_kills(&in->cg);
    in->proc.data = in;
    int rc = uv_spawn(in->pp->loop, &in->proc, &o);
    in->open_handles++; /* uv_spawn initializes the handle even when it fails */
    if (rc) {
        log_error("provision", "instance '%s': cannot run '%s': %s", in->info.id, in->argv[0],
                  uv_strerror(rc));
        pinst_close(in, (uv_handle_t *)&in->proc);
        close_stdio(in);
        return rc;
    }
    in->running = true;
    after_spawn(in);
    return 0;
}

/* ---- exits, restarts, deadlines ------------------------------------------------------- */

static uint64_t backoff_delay(const struct pinst *in)
{
    uint64_t d = in->restart.backoff_ns;
    for (uint32_t i = 1; i < in->fail_streak && d < in->restart.max_backoff_ns; i++)
        d *= 2;
    return d < in->restart.max_backoff_ns ? d : in->restart.max_backoff_ns;
}

static bool wants_restart(const struct pinst *in, bool failed)
{
    const struct provision_restart *r = &in->restart;
    if (r->policy == PROVISION_RESTART_NEVER ||
        (r->policy == PROVISION_RESTART_ON_FAILURE && !failed))
        return false;
    return r->max_restarts == 0 || in->info.restarts < r->max_restarts;
}

static void after_exit(struct pinst *in, bool failed)
{
    if (in->stopping) {
        remove_instance(in);
        return;
    }
    if (in->restart_now) {
        /* respawned from the deadline, once the old process's handles have closed */
        in->restart_now = false;
        set_state(in, PROVISION_BACKOFF);
        arm_deadline(in, 0);
        return;
    }
    if (!wants_restart(in, failed)) {
        set_state(in, PROVISION_EXITED);
        log_warn("provision", "instance '%s' exited (status %d); not restarting", in->info.id,
                 in->info.last_exit);
        return;
    }
    in->fail_streak = failed ? in->fail_streak + 1 : 0;
    set_state(in, PROVISION_BACKOFF);
    arm_deadline(in, failed ? backoff_delay(in) : in->restart.backoff_ns);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int signo)
{
    struct pinst *in = p->data;
    in->running = false;
    in->info.pid = 0;
    in->info.netns[0] = '\0';
    in->info.last_exit = signo ? -signo : (int)status;
    uint64_t oom = pcgroup_oom_kills(&in->cg);
    in->info.oom_killed = oom > in->oom_before;
    if (in->info.oom_killed) {
        in->info.oom_kills += (uint32_t)(oom - in->oom_before);
        log_error("provision",
                  "instance '%s' was killed by the OOM killer (memory limit %llu "
                  "bytes)",
                  in->info.id, (unsigned long long)in->res.memory_limit);
    } else if (!in->stopping && !in->restart_now) {
        log_warn("provision", "instance '%s' (pid %d) exited with %s %d", in->info.id, (int)p->pid,
                 signo ? "signal" : "status", signo ? signo : (int)status);
    }
    uv_timer_stop(&in->deadline);
    uv_timer_stop(&in->timer);
    pprobe_cancel(in);
    pegress_close_all(in);
    pinst_close(in, (uv_handle_t *)p);
    close_stdio(in);
    for (int w = 0; w < 2; w++)
        if (in->logfd[w] >= 0)
            close(in->logfd[w]), in->logfd[w] = -1;
    set_state(in, in->info.state);
    if (in->info.state == PROVISION_READY)
        set_state(in, PROVISION_STARTING); /* emits UNREADY */
    emit(in, PROVISION_EV_EXITED);
    bool failed = signo != 0 || status != 0;
    after_exit(in, failed);
}

static void signal_group(struct pinst *in, int signo)
{
    if (in->running && in->info.pid > 0 && kill(-in->info.pid, signo) != 0)
        kill(in->info.pid, signo);
}

static void on_deadline(uv_timer_t *t)
{
    struct pinst *in = t->data;
    switch (in->info.state) {
    case PROVISION_STARTING:
        log_error("provision", "instance '%s' not ready after %llu ms; killing it", in->info.id,
                  (unsigned long long)(in->start_timeout_ns / CLOCK_NS_PER_MS));
        signal_group(in, SIGKILL);
        break;
    case PROVISION_STOPPING:
        signal_group(in, SIGKILL);
        break;
    case PROVISION_BACKOFF:
        in->info.restarts++;
        if (spawn_instance(in) != 0)
            after_exit(in, true);
        break;
    default:
        break;
    }
}

void pinst_ready(struct pinst *in)
{
    uv_timer_stop(&in->deadline);
    uv_timer_stop(&in->timer);
    in->info.state = PROVISION_READY;
    in->ready_ns = clock_mono_ns();
    log_info("provision", "instance '%s' ready on port %u after %.1f ms (pid %d)", in->info.id,
             (unsigned)in->info.port, (double)(in->ready_ns - in->spawned_ns) / 1e6,
             (int)in->info.pid);
    emit(in, PROVISION_EV_READY);
}

/* ---- the ops -------------------------------------------------------------------------- */

static int op_start(struct provision *p, const struct provision_spec *spec, struct err *err)
{
    struct pprov *pp = (struct pprov *)p;
    if (!spec->command || !spec->command[0])
        return err_set(err, -EINVAL, "instance '%s': no command", spec->name);
    if (spec->isolation == PROVISION_ISOLATION_NETNS && geteuid() != 0)
        return err_set(err, -EPERM,
                       "instance '%s': isolation netns needs root or CAP_SYS_ADMIN (doppel runs "
                       "as uid %d); refusing to run it unsealed",
                       spec->name, (int)geteuid());
    for (uint32_t r = 0; r < spec->replicas; r++) {
        struct pinst *in = pinst_new(pp, spec, err);
        if (!in)
            return err->code;
        list_insert_tail(&pp->instances, &in->node);
        if (spawn_instance(in) != 0)
            after_exit(in, true);
    }
    return 0;
}

static int op_stop(struct provision *p, const char *id)
{
    struct pinst *in = find((struct pprov *)p, id);
    if (!in)
        return -ENOENT;
    in->stopping = true;
    if (!in->running) {
        uv_timer_stop(&in->deadline);
        remove_instance(in);
        return 0;
    }
    if (in->info.state == PROVISION_PAUSED)
        signal_group(in, SIGCONT);
    set_state(in, PROVISION_STOPPING);
    signal_group(in, SIGTERM);
    pprobe_cancel(in);
    uv_timer_stop(&in->timer);
    arm_deadline(in, in->stop_grace_ns);
    return 0;
}

static int op_kill(struct provision *p, const char *id, int signo)
{
    struct pinst *in = find((struct pprov *)p, id);
    if (!in)
        return -ENOENT;
    if (!in->running)
        return -ESRCH;
    signal_group(in, signo);
    return 0;
}

static int op_pause(struct provision *p, const char *id)
{
    struct pinst *in = find((struct pprov *)p, id);
    if (!in)
        return -ENOENT;
    if (!in->running || in->info.state == PROVISION_STOPPING)
        return -ESRCH;
    if (in->info.state == PROVISION_PAUSED)
        return 0;
    signal_group(in, SIGSTOP);
    uv_timer_stop(&in->deadline);
    uv_timer_stop(&in->timer);
    pprobe_cancel(in);
    set_state(in, PROVISION_PAUSED);
    return 0;
}

static int op_resume(struct provision *p, const char *id)
{
    struct pinst *in = find((struct pprov *)p, id);
    if (!in)
        return -ENOENT;
    if (in->info.state != PROVISION_PAUSED)
        return in->running ? 0 : -ESRCH;
    signal_group(in, SIGCONT);
    in->info.state = PROVISION_STARTING;
    arm_deadline(in, in->start_timeout_ns);
    pprobe_start(in);
    return 0;
}

static int op_restart(struct provision *p, const char *id)
{
    struct pinst *in = find((struct pprov *)p, id);
    if (!in || in->stopping)
        return -ENOENT;
    if (!in->running) {
        set_state(in, PROVISION_BACKOFF);
        arm_deadline(in, 0);
        return 0;
    }
    in->restart_now = true;
    if (in->info.state == PROVISION_PAUSED)
        signal_group(in, SIGCONT);
    set_state(in, PROVISION_STOPPING);
    signal_group(in, SIGTERM);
    pprobe_cancel(in);
    uv_timer_stop(&in->timer);
    arm_deadline(in, in->stop_grace_ns);
    return 0;
}

static int op_get(struct provision *p, const char *id, struct provision_instance *out)
{
    struct pinst *in = find((struct pprov *)p, id);
    if (!in)
        return -ENOENT;
    *out = in->info;
    return 0;
}

static size_t op_list(struct provision *p, const struct provision_selector *sel,
                      struct provision_instance *out, size_t max)
{
    struct pprov *pp = (struct pprov *)p;
    size_t n = 0;
    struct list *it, *t;
    list_for_each_safe(it, t, &pp->instances)
    {
        struct pinst *in = list_entry(it, struct pinst, node);
        if (!provision_selector_match(sel, &in->info))
            continue;
        if (n < max)
            out[n] = in->info;
        n++;
    }
    return n;
}

static void op_stop_all(struct provision *p, void (*done)(void *), void *ctx)
{
    struct pprov *pp = (struct pprov *)p;
    pp->stop_all_done = done;
    pp->stop_all_ctx = ctx;
    if (list_empty(&pp->instances)) {
        pp->stop_all_done = NULL;
        if (done)
            done(ctx);
        return;
    }
    struct list *it, *t;
    list_for_each_safe(it, t, &pp->instances)
    {
        struct pinst *in = list_entry(it, struct pinst, node);
        if (!in->stopping)
            op_stop(p, in->info.id);
    }
}

static void op_free(struct provision *p)
{
    struct pprov *pp = (struct pprov *)p;
    struct list *it, *t;
    list_for_each_safe(it, t, &pp->instances)
    {
        struct pinst *in = list_entry(it, struct pinst, node);
        in->stopping = true;
        signal_group(in, SIGKILL);
        if (in->running)
            continue; /* removed from its exit callback */
        remove_instance(in);
    }
    pp->orphaned = true; /* freed by the last instance's close, or now */
    pprov_maybe_free(pp);
}

static const struct provision_ops process_ops = {
    .name = "process",
    .start = op_start,
    .stop = op_stop,
    .kill = op_kill,
    .pause = op_pause,
    .resume = op_resume,
    .restart = op_restart,
    .get = op_get,
    .list = op_list,
    .sample = psample_one,
    .stop_all = op_stop_all,
    .free = op_free,
};

struct provision *provision_process_new(uv_loop_t *loop, const struct provision_process_opts *o,
                                        struct err *err)
{
    struct pprov *pp = xcalloc(1, sizeof(*pp));
    pp->base.ops = &process_ops;
    pp->loop = loop;
    list_init(&pp->instances);
    list_init(&pp->zombies);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    pp->exec_path = xstrdup(o && o->exec_path ? o->exec_path : exe);
    pp->cgroup_root = xstrdup(o && o->cgroup_root ? o->cgroup_root : "/sys/fs/cgroup");
    if (o && o->state_dir) {
        if (mkdir(o->state_dir, 0700) != 0 && errno != EEXIST) {
            err_set(err, -errno, "cannot create state directory '%s': %s", o->state_dir,
                    strerror(errno));
            pprov_free(pp);
            return NULL;
        }
        pp->state_dir = xstrdup(o->state_dir);
        size_t k = pstate_sweep(pp->state_dir);
        if (k)
            log_warn("provision", "cleaned %zu orphan instance(s) found in '%s'", k, o->state_dir);
    }
    return &pp->base;
}
