/* SPDX-License-Identifier: Apache-2.0 */
/*
 * app_provision: managed instances in `doppel serve` (see app_provision.h).
 */
#include "app/app_provision.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/api.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "chaos/chaos.h"
#include "net/addr.h"
#include "provision/provision.h"
#include "provision/provision_process.h"
#include "router/router.h"

static const enum provision_restart_policy restart_map[] = {
    [CONFIG_RESTART_ON_FAILURE] = PROVISION_RESTART_ON_FAILURE,
    [CONFIG_RESTART_ALWAYS] = PROVISION_RESTART_ALWAYS,
    [CONFIG_RESTART_NEVER] = PROVISION_RESTART_NEVER,
};

void app_prov_spec(const struct config_service *svc, const struct config_pool *pool,
                   const struct config *cfg, struct provision_spec *s)
{
    (void)cfg;
    const struct config_run *r = &pool->run;
    bool shadow = pool != &svc->primary;
    *s = (struct provision_spec){
        .command = r->command,
        .args = (const char *const *)r->args,
        .nargs = r->nargs,
        .env = (const char *const *)r->env,
        .nenv = r->nenv,
        .cwd = r->cwd,
        .replicas = r->instances,
        .probe = {.kind = r->ready_path ? PROVISION_PROBE_HTTP : PROVISION_PROBE_TCP,
                  .path = r->ready_path,
                  .interval_ns = r->ready_interval_ns,
                  .timeout_ns = r->ready_timeout_ns},
        .start_timeout_ns = r->start_timeout_ns,
        .stop_grace_ns = r->stop_timeout_ns,
        .restart = {.policy = restart_map[r->restart],
                    .backoff_ns = r->backoff_ns,
                    .max_backoff_ns = r->max_backoff_ns,
                    .max_restarts = r->max_restarts},
        .resources = {.cpu_request_milli = r->cpu_request_milli,
                      .cpu_limit_milli = r->cpu_limit_milli,
                      .memory_request = r->memory_request,
                      .memory_limit = r->memory_limit,
                      .nofile = r->nofile,
                      .address_space = r->address_space},
        .isolation = r->isolation == CONFIG_ISOLATION_NETNS ? PROVISION_ISOLATION_NETNS
                                                            : PROVISION_ISOLATION_NONE,
        .egress = (const char *const *)r->egress,
        .negress = r->negress,
        .log_dir = r->log_dir,
        .log_max_bytes = r->log_max_bytes,
        .log_keep = r->log_keep,
        .labels = {.service = svc->name,
                   .role = shadow ? PROVISION_ROLE_SHADOW : PROVISION_ROLE_PRIMARY,
                   .shadow_of = shadow ? svc->name : NULL,
                   .pool = pool->name,
                   .change_id = r->change_id},
    };
}

/* Every instance matching sel (caller frees); *n is the count. */
struct provision_instance *app_prov_list(struct app_prov *ap, const struct provision_selector *sel,
                                         size_t *n)
{
    size_t want = provision_list(ap->prov, sel, NULL, 0);
    struct provision_instance *v = xcalloc(want ? want : 1, sizeof(*v));
    *n = provision_list(ap->prov, sel, v, want);
    *n = *n < want ? *n : want;
    return v;
}

static void on_event(void *ctx, enum provision_event ev, const struct provision_instance *in)
{
    struct app_prov *ap = ctx;
    (void)in;
    if (ev != PROVISION_EV_EXITED && ap->changed)
        ap->changed(ap->ctx);
}

static void on_sample(uv_timer_t *t)
{
    struct app_prov *ap = t->data;
    provision_process_sample_all(ap->prov);
}

static bool any_run(const struct config *cfg)
{
    for (size_t i = 0; i < cfg->nservices; i++) {
        const struct config_service *s = &cfg->services[i];
        if (s->primary.run.enabled)
            return true;
        for (size_t j = 0; j < s->nshadows; j++)
            if (s->shadows[j].run.enabled)
                return true;
    }
    return false;
}

static int start_pool(struct app_prov *ap, const struct config_service *svc,
                      const struct config_pool *pool, struct err *err)
{
    char name[160];
    struct provision_spec spec;
    app_prov_spec(svc, pool, ap->cfg, &spec);
    snprintf(name, sizeof(name), "%s-%s", svc->name, pool->name);
    spec.name = name;
    int rc = provision_start(ap->prov, &spec, err);
    if (rc)
        err_prefix(err, "service '%s', pool '%s'", svc->name, pool->name);
    return rc;
}

/* Ready primaries / all primaries; gone counts those that gave up (EXITED). */
static void primaries(struct app_prov *ap, size_t *ready, size_t *all, size_t *gone)
{
    struct provision_selector sel = {.role = PROVISION_ROLE_PRIMARY};
    size_t n;
    struct provision_instance *v = app_prov_list(ap, &sel, &n);
    *ready = *gone = 0;
    *all = n;
    for (size_t i = 0; i < n; i++) {
        *ready += v[i].state == PROVISION_READY;
        *gone += v[i].state == PROVISION_EXITED;
    }
    free(v);
}

static void on_wait_tick(uv_timer_t *t)
{
    (void)t;
}

static int wait_primaries(struct app_prov *ap, struct err *err)
{
    uint64_t longest = 0;
    for (size_t i = 0; i < ap->cfg->nservices; i++) {
        /* one start timeout per allowed attempt (unlimited restarts: two attempts) */
        const struct config_run *r = &ap->cfg->services[i].primary.run;
        uint64_t w = r->start_timeout_ns * (1 + (r->max_restarts ? r->max_restarts : 1));
        if (r->enabled && w > longest)
            longest = w;
    }
    uint64_t end = clock_mono_ns() + longest;
    uv_timer_t tick;
    uv_timer_init(ap->loop, &tick);
    uv_timer_start(&tick, on_wait_tick, 10, 10);
    size_t ready, all, gone;
    for (primaries(ap, &ready, &all, &gone); ready < all && gone == 0 && clock_mono_ns() < end;
         primaries(ap, &ready, &all, &gone))
        uv_run(ap->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(ap->loop, UV_RUN_NOWAIT);
    if (ready < all)
        return err_set(err, -ETIMEDOUT,
                       "%zu of %zu primary instances did not become ready%s (see their logs)",
                       all - ready, all, gone ? " (gave up)" : " within start_timeout");
    return 0;
}

int app_prov_start(struct app_prov *ap, uv_loop_t *loop, const struct config *cfg, struct err *err)
{
    ap->loop = loop;
    ap->cfg = cfg;
    if (!any_run(cfg))
        return 0;
    struct provision_process_opts o = {.state_dir = cfg->provision.state_dir};
    ap->prov = provision_process_new(loop, &o, err);
    if (!ap->prov)
        return err->code;
    provision_set_event_cb(ap->prov, on_event, ap);
    int rc = 0;
    for (size_t i = 0; i < cfg->nservices && !rc; i++) {
        const struct config_service *s = &cfg->services[i];
        if (s->primary.run.enabled)
            rc = start_pool(ap, s, &s->primary, err);
        for (size_t j = 0; j < s->nshadows && !rc; j++)
            if (s->shadows[j].run.enabled)
                rc = start_pool(ap, s, &s->shadows[j], err);
    }
    if (!rc)
        rc = wait_primaries(ap, err);
    if (rc)
        return rc;
    uv_timer_init(loop, &ap->sample);
    ap->sample.data = ap;
    ap->sample_open = true;
    uint64_t ms = cfg->provision.sample_interval_ns / CLOCK_NS_PER_MS;
    uv_timer_start(&ap->sample, on_sample, 0, ms);
    return 0;
}

static void fill_pool(struct app_prov *ap, const char *service, struct rt_pool *p)
{
    struct provision_selector sel = {.service = service, .pool = p->name, .role = -1};
    size_t n, k = 0;
    struct provision_instance *v = app_prov_list(ap, &sel, &n);
    for (size_t i = 0; i < p->nups; i++) {
        free(p->ups[i].address);
        free(p->ups[i].netns);
    }
    free(p->ups);
    p->ups = xcalloc(n ? n : 1, sizeof(*p->ups));
    for (size_t i = 0; i < n; i++) {
        if (v[i].state != PROVISION_READY)
            continue;
        struct rt_upstream *u = &p->ups[k++];
        u->address = xasprintf("127.0.0.1:%u", (unsigned)v[i].port);
        net_addr_parse(u->address, &u->sa, NULL);
        u->host_id = router_id_host(u->address);
        u->weight = 1;
        u->netns = v[i].sealed ? xstrdup(v[i].netns) : NULL;
    }
    p->nups = k;
    free(v);
}

static const struct config_pool *config_pool_of(const struct config *cfg, const char *svc,
                                                const char *pool,
                                                const struct config_service **svc_out)
{
    for (size_t i = 0; i < cfg->nservices; i++) {
        const struct config_service *s = &cfg->services[i];
        if (strcmp(s->name, svc) != 0)
            continue;
        *svc_out = s;
        if (strcmp(pool, "primary") == 0)
            return &s->primary;
        for (size_t j = 0; j < s->nshadows; j++)
            if (strcmp(s->shadows[j].name, pool) == 0)
                return &s->shadows[j];
    }
    return NULL;
}

void app_prov_fill(struct app_prov *ap, struct route_table *t)
{
    if (!ap->prov)
        return;
    for (size_t i = 0; i < t->nservices; i++) {
        struct rt_service *s = &t->services[i];
        const struct config_service *cs = NULL;
        const struct config_pool *cp = config_pool_of(ap->cfg, s->name, "primary", &cs);
        if (cp && cp->run.enabled)
            fill_pool(ap, s->name, &s->primary);
        for (size_t j = 0; j < s->nshadows; j++) {
            cp = config_pool_of(ap->cfg, s->name, s->shadows[j].name, &cs);
            if (cp && cp->run.enabled)
                fill_pool(ap, s->name, &s->shadows[j]);
        }
    }
}

void app_prov_stop(struct app_prov *ap, void (*done)(void *ctx), void *ctx)
{
    if (ap->sample_open)
        uv_timer_stop(&ap->sample);
    if (!ap->prov) {
        done(ctx);
        return;
    }
    ap->changed = NULL; /* the gateway is draining: no more tables */
    provision_stop_all(ap->prov, done, ctx);
}

void app_prov_release(struct app_prov *ap)
{
    if (ap->sample_open) {
        uv_close((uv_handle_t *)&ap->sample, NULL);
        ap->sample_open = false;
    }
    provision_free(ap->prov);
    ap->prov = NULL;
}

int app_prov_metrics(void *ctx, struct buf *out)
{
    struct app_prov *ap = ctx;
    return ap->prov ? provision_process_write_metrics(ap->prov, out) : 0;
}

/* The chaos room's instance operations, served by the provisioner (chaos may not include
 * provision: the app hands it this table). */
static int chaos_list(void *ctx, const char *service, const char *pool, const char *instance,
                      char (*ids)[CHAOS_INSTANCE_ID_MAX], int max)
{
    struct app_prov *ap = ctx;
    struct provision_selector sel = {.service = service, .role = -1, .pool = pool, .id = instance};
    size_t n;
    struct provision_instance *v = app_prov_list(ap, &sel, &n);
    int k = 0;
    for (size_t i = 0; i < n && k < max; i++)
        snprintf(ids[k++], CHAOS_INSTANCE_ID_MAX, "%s", v[i].id);
    free(v);
    return k;
}

static int chaos_kill(void *ctx, const char *id)
{
    return provision_kill(((struct app_prov *)ctx)->prov, id, SIGKILL);
}

static int chaos_pause(void *ctx, const char *id)
{
    return provision_pause(((struct app_prov *)ctx)->prov, id);
}

static int chaos_resume(void *ctx, const char *id)
{
    return provision_resume(((struct app_prov *)ctx)->prov, id);
}

static int chaos_restart(void *ctx, const char *id)
{
    return provision_restart(((struct app_prov *)ctx)->prov, id);
}

static pid_t chaos_pid(void *ctx, const char *id)
{
    struct provision_instance in;
    return provision_get(((struct app_prov *)ctx)->prov, id, &in) == 0 ? in.pid : 0;
}

static int chaos_cgroup(void *ctx, const char *id, char *path, size_t len)
{
    struct provision_instance in;
    int rc = provision_get(((struct app_prov *)ctx)->prov, id, &in);
    if (rc)
        return rc;
    return snprintf(path, len, "%s", in.cgroup) >= (int)len ? -ENAMETOOLONG : 0;
}

void app_prov_chaos_ops(struct app_prov *ap, struct chaos_instance_ops *ops)
{
    *ops = (struct chaos_instance_ops){0};
    if (!ap->prov)
        return; /* no managed instances: instance faults are refused */
    *ops = (struct chaos_instance_ops){.list = chaos_list,
                                       .kill = chaos_kill,
                                       .pause = chaos_pause,
                                       .resume = chaos_resume,
                                       .restart = chaos_restart,
                                       .pid = chaos_pid,
                                       .cgroup = chaos_cgroup,
                                       .ctx = ap};
}
