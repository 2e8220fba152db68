/* SPDX-License-Identifier: Apache-2.0 */
/*
 * provision_inst: building an instance from a spec -- its id, a free port, the exec
 * wrapper's argv with the placeholders expanded, its environment, cgroup and log paths
 * -- and freeing it (see provision_inst.h).
 */
#include "provision/provision_inst.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "provision/provision_exec.h"

extern char **environ;

#define ARG_MAX_BYTES (64 * 1024)

/* A port on 127.0.0.1 nobody listens on now (the kernel picks it). */
static int free_port(uint16_t *out)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
                     getsockname(fd, (struct sockaddr *)&sa, &len) == 0
                 ? 0
                 : -errno;
    close(fd);
    if (!rc)
        *out = ntohs(sa.sin_port);
    return rc;
}

static char *expand(const char *tmpl, const struct pinst *in, struct err *err)
{
    struct buf b;
    buf_init(&b, ARG_MAX_BYTES);
    if (provision_expand(tmpl, in->info.port, in->info.id, &b) != 0) {
        buf_release(&b);
        err_set(err, -E2BIG, "instance '%s': an argument is longer than %d bytes", in->info.id,
                ARG_MAX_BYTES);
        return NULL;
    }
    return b.data ? buf_steal(&b, NULL) : xstrdup("");
}

static void push(char ***v, size_t *n, char *s)
{
    *v = xreallocarray(*v, *n + 2, sizeof(char *));
    (*v)[(*n)++] = s;
    (*v)[*n] = NULL;
}

/* The exec wrapper is needed for what must happen between fork and exec: rlimits, a
 * cgroup whose limits must hold from the first allocation, a network namespace. Without
 * them the command is spawned directly (one exec less) and moved into its cgroup, for
 * accounting, right after the spawn. */
static bool needs_wrapper(const struct pinst *in, const struct provision_spec *spec)
{
    const struct provision_resources *r = &spec->resources;
    return in->sealed || r->nofile || r->address_space ||
           (in->cg.ndirs && (r->memory_limit || r->cpu_limit_milli));
}

static int build_argv(struct pinst *in, const struct provision_spec *spec, struct err *err)
{
    size_t n = 0;
    in->wrapped = needs_wrapper(in, spec);
    if (!in->wrapped)
        goto command;
    push(&in->argv, &n, xstrdup(in->pp->exec_path));
    push(&in->argv, &n, xstrdup(PROVISION_EXEC_ARG_STR));
    if (spec->resources.nofile)
        push(&in->argv, &n, xasprintf("--nofile=%llu", (unsigned long long)spec->resources.nofile));
    if (spec->resources.address_space)
        push(&in->argv, &n,
             xasprintf("--as=%llu", (unsigned long long)spec->resources.address_space));
    for (int i = 0; i < in->cg.ndirs; i++)
        push(&in->argv, &n, xasprintf("--cgroup=%s", in->cg.dirs[i]));
    if (in->sealed)
        push(&in->argv, &n, xstrdup("--netns"));
    if (in->sealed && in->negress)
        push(&in->argv, &n, xstrdup("--sync-fd=3"));
    push(&in->argv, &n, xstrdup("--"));
command:;
    char *s = expand(spec->command, in, err);
    if (!s)
        return err->code;
    push(&in->argv, &n, s);
    for (size_t i = 0; i < spec->nargs; i++) {
        if (!(s = expand(spec->args[i], in, err)))
            return err->code;
        push(&in->argv, &n, s);
    }
    return 0;
}

static int build_env(struct pinst *in, const struct provision_spec *spec, struct err *err)
{
    size_t n = 0;
    for (char **e = environ; *e; e++)
        push(&in->envp, &n, xstrdup(*e));
    push(&in->envp, &n, xasprintf("DOPPEL_INSTANCE=%s", in->info.id));
    push(&in->envp, &n, xasprintf("DOPPEL_PORT=%u", (unsigned)in->info.port));
    for (size_t i = 0; i < spec->nenv; i++) {
        char *s = expand(spec->env[i], in, err);
        if (!s)
            return err->code;
        push(&in->envp, &n, s);
    }
    return 0;
}

static void copy_labels(struct pinst *in, const struct provision_labels *l)
{
    struct provision_instance *i = &in->info;
    snprintf(i->service, sizeof(i->service), "%s", l->service ? l->service : "");
    snprintf(i->pool, sizeof(i->pool), "%s", l->pool ? l->pool : "");
    snprintf(i->shadow_of, sizeof(i->shadow_of), "%s", l->shadow_of ? l->shadow_of : "");
    snprintf(i->change_id, sizeof(i->change_id), "%s", l->change_id ? l->change_id : "");
    i->role = l->role;
    i->created_at_ms = clock_wall_ns() / CLOCK_NS_PER_MS;
}

static void setup_cgroup(struct pinst *in)
{
    struct err e = {0};
    bool limited = in->res.memory_limit || in->res.cpu_limit_milli;
    char name[PROVISION_ID_MAX + 16]; /* the pid keeps two doppels' instances apart */
    snprintf(name, sizeof(name), "%d-%s", (int)getpid(), in->info.id);
    if (pcgroup_create(in->pp->cgroup_root, name, &in->res, &in->cg, &e) == 0) {
        pcgroup_describe(&in->cg, in->info.cgroup, sizeof(in->info.cgroup));
        return;
    }
    if (limited)
        log_warn("provision",
                 "instance '%s': cpu/memory limits are NOT enforced (%s); only rlimits apply",
                 in->info.id, e.msg);
}

static void setup_logs(struct pinst *in, const struct provision_spec *spec)
{
    in->logfd[0] = in->logfd[1] = -1;
    if (!spec->log_dir)
        return;
    if (mkdir(spec->log_dir, 0755) != 0 && errno != EEXIST)
        log_warn("provision", "instance '%s': cannot create log directory '%s': %s", in->info.id,
                 spec->log_dir, strerror(errno));
    in->log_path[0] = xasprintf("%s/%s.stdout.log", spec->log_dir, in->info.id);
    in->log_path[1] = xasprintf("%s/%s.stderr.log", spec->log_dir, in->info.id);
    in->log_max = spec->log_max_bytes;
    in->log_keep = spec->log_keep;
}

static void copy_settings(struct pinst *in, const struct provision_spec *spec)
{
    in->cwd = spec->cwd ? xstrdup(spec->cwd) : NULL;
    in->probe = spec->probe;
    in->probe_path = xstrdup(spec->probe.path ? spec->probe.path : "/");
    in->probe.path = in->probe_path;
    in->start_timeout_ns = spec->start_timeout_ns;
    in->stop_grace_ns = spec->stop_grace_ns;
    in->restart = spec->restart;
    in->res = spec->resources;
    in->sealed = spec->isolation == PROVISION_ISOLATION_NETNS;
    in->info.sealed = in->sealed;
    for (size_t i = 0; i < spec->negress && i < PEGRESS_MAX; i++)
        in->egress[in->negress++] = xstrdup(spec->egress[i]);
}

static unsigned next_seq(struct pprov *pp, const char *name)
{
    unsigned max = 0;
    size_t nl = strlen(name);
    struct list *it, *t;
    list_for_each_safe(it, t, &pp->instances)
    {
        struct pinst *o = list_entry(it, struct pinst, node);
        if (strncmp(o->info.id, name, nl) == 0 && o->info.id[nl] == '-') {
            unsigned k = (unsigned)strtoul(o->info.id + nl + 1, NULL, 10);
            max = k > max ? k : max;
        }
    }
    return max + 1;
}

struct pinst *pinst_new(struct pprov *pp, const struct provision_spec *spec, struct err *err)
{
    struct pinst *in = xcalloc(1, sizeof(*in));
    in->pp = pp;
    pp->nalloc++;
    list_init(&in->node);
    snprintf(in->info.id, sizeof(in->info.id), "%s-%u", spec->name, next_seq(pp, spec->name));
    copy_labels(in, &spec->labels);
    copy_settings(in, spec);
    int rc = free_port(&in->info.port);
    if (rc) {
        err_set(err, rc, "instance '%s': no free port: %s", in->info.id, strerror(-rc));
        goto fail;
    }
    setup_cgroup(in);
    setup_logs(in, spec);
    if (build_argv(in, spec, err) != 0 || build_env(in, spec, err) != 0)
        goto fail;
    uv_timer_init(pp->loop, &in->timer);
    uv_timer_init(pp->loop, &in->deadline);
    in->timer.data = in->deadline.data = in;
    in->open_handles = 2;
    return in;
fail:
    pcgroup_remove(&in->cg);
    pinst_free(in);
    return NULL;
}

static void free_strv(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

void pinst_free(struct pinst *in)
{
    struct pprov *pp = in->pp;
    free_strv(in->argv);
    free_strv(in->envp);
    free(in->cwd);
    free(in->probe_path);
    for (size_t i = 0; i < in->negress; i++)
        free(in->egress[i]);
    free(in->log_path[0]);
    free(in->log_path[1]);
    free(in);
    pp->nalloc--;
    pprov_maybe_free(pp);
}

void pprov_free(struct pprov *pp)
{
    free(pp->exec_path);
    free(pp->cgroup_root);
    free(pp->state_dir);
    free(pp);
}

void pprov_maybe_free(struct pprov *pp)
{
    if (pp->orphaned && pp->nalloc == 0)
        pprov_free(pp);
}
