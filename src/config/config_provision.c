/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_provision: the schema of managed instances -- a pool's `run:` section (command,
 * arguments, environment, instances or scale, readiness, restart policy, limits,
 * isolation, egress, logs) and the top-level `provision:` section -- and the checks that
 * span them, called from config.c: a pool has either `upstreams` or `run`; a shadow's run
 * starts from the primary's (merged environment, instances from `scale`); mirroring
 * writes needs every managed shadow of the service sealed. Part of the config room.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "base/xalloc.h"
#include "config/config.h"
#include "config/config_table.h"

enum { V_PRIMARY = 1, V_SHADOW = 2 };

#define KiB 1024ULL
#define MiB (1024ULL * KiB)
#define GiB (1024ULL * MiB)
#define MS 1000000ULL
#define SEC (1000 * MS)
#define MIN (60 * SEC)
#define HOUR (60 * MIN)

static schema_parse_cb parse_cpu, parse_scale;

/* clang-format off */
static const char *const restart_policies[] = {"on-failure", "always", "never", NULL};
static const char *const isolations[] = {"none", "netns", NULL};

#define RUN(f) offsetof(struct config_run, f)
static const struct schema_key ready_keys[] = {
    {.name = "path", .type = SCHEMA_STRING, .flags = SCHEMA_URLPATH, .offset = RUN(ready_path),
     .doc = "HTTP path requested with GET; 2xx or 3xx is ready. Without it: ready once the port "
            "accepts a TCP connection"},
    {.name = "interval", .type = SCHEMA_DURATION, .def = "10ms", .min = MS, .max = MIN,
     .offset = RUN(ready_interval_ns), .doc = "time between probe attempts while starting"},
    {.name = "timeout", .type = SCHEMA_DURATION, .def = "1s", .min = MS, .max = MIN,
     .offset = RUN(ready_timeout_ns), .doc = "a probe attempt slower than this fails"},
    {0},
};

static const struct schema_key restart_keys[] = {
    {.name = "policy", .type = SCHEMA_ENUM, .def = "on-failure", .choices = restart_policies,
     .offset = RUN(restart),
     .doc = "restart after a failure (non-zero exit, signal, start timeout), always, or never"},
    {.name = "backoff", .type = SCHEMA_DURATION, .def = "100ms", .min = MS, .max = HOUR,
     .offset = RUN(backoff_ns), .doc = "delay before the first restart; doubles per failure in a row"},
    {.name = "max_backoff", .type = SCHEMA_DURATION, .def = "30s", .min = MS, .max = HOUR,
     .offset = RUN(max_backoff_ns), .doc = "cap of the doubling delay"},
    {.name = "max_restarts", .type = SCHEMA_U32, .def = "0", .min = 0, .max = 1000000,
     .offset = RUN(max_restarts), .doc = "give up after this many restarts; 0: never give up"},
    {0},
};

static const struct schema_key limit_keys[] = {
    {.name = "cpu", .type = SCHEMA_CUSTOM, .parse = parse_cpu, .elem_size = sizeof(uint32_t),
     .offset = RUN(cpu_limit_milli), .type_doc = "cores",
     .doc = "CPU limit in cores (`0.5`, `2`); cgroup cpu.max or cpu.cfs_quota_us"},
    {.name = "memory", .type = SCHEMA_SIZE, .min = 0, .max = 1024 * GiB,
     .offset = RUN(memory_limit),
     .doc = "memory limit; cgroup memory.max (v2) or memory.limit_in_bytes (v1); over it the "
            "kernel's OOM killer ends the instance and doppel reports it"},
    {.name = "nofile", .type = SCHEMA_U32, .min = 0, .max = 1048576, .offset = RUN(nofile),
     .doc = "RLIMIT_NOFILE (open files)"},
    {.name = "address_space", .type = SCHEMA_SIZE, .min = 0, .max = 1024 * GiB,
     .offset = RUN(address_space), .doc = "RLIMIT_AS (virtual memory)"},
    {0},
};

static const struct schema_key request_keys[] = {
    {.name = "cpu", .type = SCHEMA_CUSTOM, .parse = parse_cpu, .elem_size = sizeof(uint32_t),
     .offset = RUN(cpu_request_milli), .type_doc = "cores",
     .doc = "CPU reserved (cores); recorded for schedulers such as kubernetes"},
    {.name = "memory", .type = SCHEMA_SIZE, .min = 0, .max = 1024 * GiB,
     .offset = RUN(memory_request), .doc = "memory reserved; recorded for schedulers"},
    {0},
};

static const struct schema_key log_keys[] = {
    {.name = "dir", .type = SCHEMA_STRING, .flags = SCHEMA_FILEPATH | SCHEMA_NONEMPTY,
     .offset = RUN(log_dir),
     .doc = "directory of `<instance>.stdout.log` and `.stderr.log`; default: `logs` under "
            "`provision.state_dir`"},
    {.name = "max_bytes", .type = SCHEMA_SIZE, .def = "10MiB", .min = 0, .max = 64 * GiB,
     .offset = RUN(log_max_bytes), .doc = "a log file is rotated past this size; 0: never"},
    {.name = "keep", .type = SCHEMA_U32, .def = "3", .min = 0, .max = 100, .offset = RUN(log_keep),
     .doc = "rotated files kept (`.1` is the newest)"},
    {0},
};

const struct schema_key config_table_run[] = {
    {.name = "command", .type = SCHEMA_STRING, .flags = SCHEMA_NONEMPTY, .offset = RUN(command),
     .doc = "program to run (searched in PATH; relative to `cwd` when it has a slash); "
            "`{port}` and `{instance}` are replaced"},
    {.name = "args", .type = SCHEMA_STRLIST, .max = 256, .offset = RUN(args),
     .offset_n = RUN(nargs), .doc = "arguments; `{port}` and `{instance}` are replaced"},
    {.name = "env", .type = SCHEMA_STRLIST, .max = 256, .flags = SCHEMA_NONEMPTY,
     .offset = RUN(env), .offset_n = RUN(nenv),
     .doc = "`KEY=VALUE` added to doppel's environment (placeholders replaced); a shadow's "
            "entries replace the primary's of the same KEY"},
    {.name = "cwd", .type = SCHEMA_STRING, .def = ".", .flags = SCHEMA_FILEPATH | SCHEMA_NONEMPTY,
     .offset = RUN(cwd), .doc = "working directory, relative to the config file"},
    {.name = "instances", .type = SCHEMA_U32, .def = "1", .min = 1, .max = CONFIG_MAX_UPSTREAMS,
     .offset = RUN(instances), .doc = "how many instances to run"},
    {.name = "scale", .type = SCHEMA_CUSTOM, .variants = V_SHADOW, .parse = parse_scale,
     .elem_size = sizeof(uint32_t), .offset = RUN(scale_pm), .type_doc = "fraction",
     .doc = "instances as a fraction of the primary's (instances or upstreams), rounded, at least "
            "1; overrides `instances`"},
    {.name = "ready", .type = SCHEMA_SECTION, .sub = ready_keys, .offset = 0,
     .doc = "readiness probe; an instance joins the pool once it passes"},
    {.name = "start_timeout", .type = SCHEMA_DURATION, .def = "30s", .min = 10 * MS, .max = HOUR,
     .offset = RUN(start_timeout_ns),
     .doc = "not ready by then: killed (and restarted per `restart`)"},
    {.name = "stop_timeout", .type = SCHEMA_DURATION, .def = "5s", .min = 0, .max = 10 * MIN,
     .offset = RUN(stop_timeout_ns), .doc = "SIGTERM to SIGKILL when stopping"},
    {.name = "restart", .type = SCHEMA_SECTION, .sub = restart_keys, .offset = 0,
     .doc = "restart policy with exponential backoff"},
    {.name = "limits", .type = SCHEMA_SECTION, .sub = limit_keys, .offset = 0,
     .doc = "enforced limits: rlimits always, cgroup limits where the machine allows (else a "
            "warning)"},
    {.name = "requests", .type = SCHEMA_SECTION, .sub = request_keys, .offset = 0,
     .doc = "reserved resources (for drivers that schedule)"},
    {.name = "isolation", .type = SCHEMA_ENUM, .variants = V_SHADOW, .def = "none",
     .choices = isolations, .offset = RUN(isolation),
     .doc = "`netns`: a sealed shadow in its own network namespace with only loopback; needs "
            "root or CAP_SYS_ADMIN (else doppel refuses to start it)"},
    {.name = "egress", .type = SCHEMA_STRLIST, .variants = V_SHADOW, .max = 8,
     .flags = SCHEMA_NONEMPTY, .offset = RUN(egress), .offset_n = RUN(negress),
     .doc = "`host:port` targets a sealed shadow may reach, bridged from 127.0.0.1:port inside "
            "its namespace"},
    {.name = "change", .type = SCHEMA_STRING, .variants = V_SHADOW, .flags = SCHEMA_NAME,
     .offset = RUN(change_id), .doc = "id of the proposed change (an instance label)"},
    {.name = "logs", .type = SCHEMA_SECTION, .sub = log_keys, .offset = 0,
     .doc = "stdout/stderr capture"},
    {0},
};

#define PROV(f) offsetof(struct config_provision, f)
const struct schema_key config_table_provision[] = {
    {.name = "state_dir", .type = SCHEMA_STRING, .def = "doppel-state",
     .flags = SCHEMA_FILEPATH | SCHEMA_NONEMPTY, .offset = PROV(state_dir),
     .doc = "instance records (a restarted doppel removes the instances a killed one left) and "
            "default log directory; relative to the config file"},
    {.name = "sample_interval", .type = SCHEMA_DURATION, .def = "5s", .min = 100 * MS,
     .max = HOUR, .offset = PROV(sample_interval_ns),
     .doc = "resource samples of every instance (CPU, memory, threads, files) for /metrics"},
    {0},
};
/* clang-format on */

/* "0.5" cores -> 500 milli; "250m" as kubernetes writes it. */
static int parse_cpu(const struct schema_key *k, const struct cnode *n, void *base,
                     const struct schema_ctx *ctx, struct err *err)
{
    (void)ctx;
    double v;
    const char *s = n->kind == CNODE_SCALAR ? n->scalar : "";
    size_t len = strlen(s);
    bool milli = len > 1 && s[len - 1] == 'm';
    char num[64];
    snprintf(num, sizeof(num), "%.*s", (int)(milli ? len - 1 : len), s);
    if (str_to_double(num, &v) != 0 || !(v > 0) || v > (milli ? 1024000 : 1024))
        return cnode_error(err, n, -EINVAL,
                           "'%s' must be a number of cores (0.5, 2) or millicores (250m), "
                           "found \"%s\"",
                           k->name, s);
    *(uint32_t *)((char *)base + k->offset) = (uint32_t)llround(milli ? v : v * 1000);
    return 0;
}

static int parse_scale(const struct schema_key *k, const struct cnode *n, void *base,
                       const struct schema_ctx *ctx, struct err *err)
{
    (void)ctx;
    double v;
    const char *s = n->kind == CNODE_SCALAR ? n->scalar : "";
    if (str_to_double(s, &v) != 0 || !(v > 0) || v > 100)
        return cnode_error(err, n, -EINVAL,
                           "'scale' must be a fraction of the primary's instances (0.5, 1, 2), "
                           "found \"%s\"",
                           s);
    *(uint32_t *)((char *)base + k->offset) = (uint32_t)llround(v * 1000);
    return 0;
}

/* A shadow starts from its service's primary run; its own `run:` overlays it. */
void config_shadow_init(const void *parent, void *elem)
{
    const struct config_service *svc = parent;
    struct config_pool *shadow = elem;
    schema_copy(config_table_run, &shadow->run, &svc->primary.run);
}

static size_t key_len(const char *kv)
{
    const char *eq = strchr(kv, '=');
    return eq ? (size_t)(eq - kv) : strlen(kv);
}

/* The primary's env entries whose KEY the shadow does not set, then the shadow's. */
static void merge_env(struct config_run *shadow, const struct config_run *primary)
{
    char **v = xcalloc(primary->nenv + shadow->nenv + 1, sizeof(char *));
    size_t n = 0;
    for (size_t i = 0; i < primary->nenv; i++) {
        bool overridden = false;
        size_t kl = key_len(primary->env[i]);
        for (size_t j = 0; j < shadow->nenv && !overridden; j++)
            overridden =
                key_len(shadow->env[j]) == kl && strncmp(shadow->env[j], primary->env[i], kl) == 0;
        if (!overridden)
            v[n++] = xstrdup(primary->env[i]);
    }
    for (size_t j = 0; j < shadow->nenv; j++)
        v[n++] = xstrdup(shadow->env[j]);
    for (size_t j = 0; j < shadow->nenv; j++)
        free(shadow->env[j]);
    free(shadow->env);
    shadow->env = v;
    shadow->nenv = n;
}

static int check_env(const struct cnode *at, const struct config_run *r, struct err *err)
{
    for (size_t i = 0; i < r->nenv; i++)
        if (!strchr(r->env[i], '=') || r->env[i][0] == '=')
            return cnode_error(err, at, -EINVAL, "env entry \"%s\" must be KEY=VALUE", r->env[i]);
    return 0;
}

/* Exactly one of `upstreams` and `run`; a run has a command. */
static int finish_pool(const struct cnode *map, struct config_pool *p, const struct config *cfg,
                       struct err *err)
{
    bool has_run = cnode_get(map, "run") != NULL, has_ups = p->nupstreams > 0;
    if (has_run && has_ups)
        return cnode_error(err, cnode_get(map, "run"), -EINVAL,
                           "pool '%s': give either 'upstreams' or 'run', not both", p->name);
    if (!has_run && !has_ups)
        return cnode_error(err, map, -EINVAL, "pool '%s': missing 'upstreams' (or 'run')", p->name);
    if (!has_run) {
        schema_release(config_table_run, &p->run);
        memset(&p->run, 0, sizeof(p->run));
        return 0;
    }
    p->run.enabled = true;
    if (!p->run.command)
        return cnode_error(err, cnode_get(map, "run"), -EINVAL,
                           "pool '%s': 'run' needs a 'command'", p->name);
    if (!p->run.log_dir)
        p->run.log_dir = xasprintf("%s/logs", cfg->provision.state_dir);
    return check_env(cnode_get(map, "run"), &p->run, err);
}

static uint32_t scaled(uint32_t base, uint32_t pm)
{
    uint32_t n = (uint32_t)((base * (uint64_t)pm + 500) / 1000);
    n = n < 1 ? 1 : n;
    return n > CONFIG_MAX_UPSTREAMS ? CONFIG_MAX_UPSTREAMS : n;
}

static bool is_write(const char *m)
{
    return !strcmp(m, "POST") || !strcmp(m, "PUT") || !strcmp(m, "PATCH") || !strcmp(m, "DELETE");
}

/* Mirroring writes to a managed shadow that is not sealed would let it change the real
 * world (databases, payment APIs) twice: refused. */
static int check_writes(const struct cnode *svc_map, const struct config_service *svc,
                        struct err *err)
{
    for (size_t r = 0; r < svc->nroutes; r++) {
        const struct config_mirror *m = &svc->routes[r].mirror;
        const char *w = NULL;
        for (size_t i = 0; i < m->nmethods && !w; i++)
            w = is_write(m->methods[i]) ? m->methods[i] : NULL;
        if (!w || m->percent_bp == 0)
            continue;
        for (size_t s = 0; s < svc->nshadows; s++) {
            const struct config_run *run = &svc->shadows[s].run;
            const struct cnode *at = cnode_get(cnode_get(svc_map, "mirror"), "methods");
            if (run->enabled && run->isolation != CONFIG_ISOLATION_NETNS)
                return cnode_error(err, at ? at : svc_map, -EINVAL,
                                   "service '%s', route '%s': mirroring %s to shadow '%s' needs "
                                   "it sealed (run.isolation: netns)",
                                   svc->name, svc->routes[r].name, w, svc->shadows[s].name);
        }
    }
    return 0;
}

int config_provision_finish(const struct cnode *svc_map, struct config_service *svc,
                            const struct config *cfg, struct err *err)
{
    const struct cnode *pm = cnode_get(svc_map, "primary");
    int rc = finish_pool(pm ? pm : svc_map, &svc->primary, cfg, err);
    const struct cnode *list = cnode_get(svc_map, "shadows");
    uint32_t base =
        svc->primary.run.enabled ? svc->primary.run.instances : (uint32_t)svc->primary.nupstreams;
    for (size_t i = 0; i < svc->nshadows && !rc; i++) {
        const struct cnode *m = list && i < list->n ? list->items[i] : svc_map;
        struct config_pool *sh = &svc->shadows[i];
        rc = finish_pool(m, sh, cfg, err);
        if (rc || !sh->run.enabled)
            continue;
        if (svc->primary.run.enabled)
            merge_env(&sh->run, &svc->primary.run);
        if (sh->run.scale_pm)
            sh->run.instances = scaled(base, sh->run.scale_pm);
    }
    return rc ? rc : check_writes(svc_map, svc, err);
}
