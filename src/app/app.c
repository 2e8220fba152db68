/* SPDX-License-Identifier: Apache-2.0 */
/*
 * app: `doppel serve` composition and control loop (see app.h).
 */
#include "app/app.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "admin/api.h"
#include "admin/auth.h"
#include "admin/server.h"
#include "app/app_provision.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/version.h"
#include "base/xalloc.h"
#include "chaos/chaos.h"
#include "config/config.h"
#include "datashadow/datashadow.h"
#include "listener/listener.h"
#include "net/addr.h"
#include "mirror/mirror.h"
#include "observer/accesslog.h"
#include "observer/capture_tap.h"
#include "observer/metrics.h"
#include "router/build.h"
#include "router/router.h"
#include "upstream/health.h"

struct app {
    char *config_path;
    struct config *cfg; /* the config the current table was built from */
    uv_loop_t loop;
    struct metrics *metrics;
    struct router router;
    struct listener_shared shared;
    struct listener_worker **workers;
    unsigned nworkers;
    struct admin_server *admin;
    struct admin_api api;
    struct auth auth;
    bool have_auth;
    struct accesslog *accesslog;
    struct capture_tap *capture;
    struct health_checker *health;
    struct chaos chaos;
    bool chaos_ready;
    struct app_prov prov; /* managed instances (pools with `run`) */
    bool prov_stopping;
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t tick;
    bool draining, router_ready;
    uint64_t drain_deadline;
    /* The data shadow (`data:`), on a thread of its own with a config of its own that
     * reloads do not replace. */
    struct config *ds_cfg;
    struct datashadow *ds;
    pthread_t ds_thread;
    atomic_bool ds_stop;
    bool ds_running;
};

static bool app_ready(void *ctx)
{
    struct app *a = ctx;
    return !a->draining && router_generation(&a->router) > 0;
}

static void wake_workers(struct app *a)
{
    for (unsigned i = 0; i < a->nworkers; i++)
        listener_worker_wake(a->workers[i]);
}

static int app_apply(void *ctx, struct route_table *t, struct err *err)
{
    (void)err;
    struct app *a = ctx;
    uint64_t gen = router_publish(&a->router, t);
    wake_workers(a);
    health_checker_update(a->health, t);
    log_info("app", "route table %llu published", (unsigned long long)gen);
    return 0;
}

/* A managed pool gained or lost a ready instance: publish a table with the new members. */
static void prov_changed(void *ctx)
{
    struct app *a = ctx;
    struct err err = {0};
    if (a->draining)
        return;
    struct route_table *cur = router_acquire(&a->router);
    struct route_table *t = cur ? route_table_clone(cur) : NULL;
    route_table_unref(cur);
    if (!t)
        return;
    app_prov_fill(&a->prov, t);
    app_apply(a, t, &err);
}

static unsigned worker_count(const struct config *cfg)
{
    if (cfg->workers)
        return cfg->workers;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 && n < 64 ? (unsigned)n : 1;
}

/* Opens one SO_REUSEPORT socket per worker per service (a port 0 becomes the port the
 * first socket got, so every worker serves the same one). */
static int open_sockets(struct app *a, struct listener_socket **out, struct err *err)
{
    size_t ns = a->cfg->nservices;
    struct listener_socket *socks = xcalloc(ns * a->nworkers + 1, sizeof(*socks));
    for (size_t s = 0; s < ns; s++) {
        const struct config_service *cs = &a->cfg->services[s];
        struct sockaddr_storage sa;
        if (net_addr_parse(cs->listen, &sa, err) != 0)
            goto fail;
        for (unsigned w = 0; w < a->nworkers; w++) {
            int fd = net_listen_socket((struct sockaddr *)&sa, 1024);
            if (fd < 0) {
                err_set(err, fd, "service '%s': cannot listen on %s: %s", cs->name, cs->listen,
                        strerror(-fd));
                goto fail;
            }
            if (net_addr_port((struct sockaddr *)&sa) == 0) {
                struct sockaddr_storage b;
                socklen_t bl = sizeof(b);
                getsockname(fd, (struct sockaddr *)&b, &bl);
                net_addr_set_port(&sa, net_addr_port((struct sockaddr *)&b));
            }
            socks[w * ns + s].fd = fd;
            socks[w * ns + s].service = cs->name;
        }
        char addr[80];
        net_addr_str((struct sockaddr *)&sa, addr, sizeof(addr));
        log_info("app", "service '%s' listening on %s (%u workers)", cs->name, addr, a->nworkers);
    }
    *out = socks;
    return 0;
fail:
    for (size_t i = 0; i < ns * a->nworkers; i++)
        if (socks[i].service)
            close(socks[i].fd);
    free(socks);
    return err->code ? err->code : -EINVAL;
}

static void reload(struct app *a)
{
    struct err err = {0};
    struct config *cfg = NULL;
    if (config_load(a->config_path, &cfg, &err) != 0) {
        log_error("app", "reload refused, keeping the running config: %s", err.msg);
        return;
    }
    for (size_t i = 0; i < cfg->nservices; i++) {
        bool same = i < a->cfg->nservices &&
                    strcmp(cfg->services[i].name, a->cfg->services[i].name) == 0 &&
                    strcmp(cfg->services[i].listen, a->cfg->services[i].listen) == 0;
        if (!same || cfg->nservices != a->cfg->nservices) {
            log_error("app", "reload refused: services and listen addresses can only change "
                             "with a restart");
            config_free(cfg);
            return;
        }
    }
    struct route_table *t = router_build(cfg, a->metrics, &err);
    if (!t) {
        log_error("app", "reload refused: %s", err.msg);
        config_free(cfg);
        return;
    }
    config_free(a->cfg);
    a->cfg = cfg;
    a->prov.cfg = cfg; /* running instances stay; `run` changes apply to new ones */
    app_prov_fill(&a->prov, t);
    app_apply(a, t, &err);
    log_info("app", "config '%s' reloaded", a->config_path);
}

static void begin_drain(struct app *a, const char *why)
{
    if (a->draining) {
        log_warn("app", "%s again: stopping now", why);
        for (unsigned i = 0; i < a->nworkers; i++)
            listener_worker_stop(a->workers[i]);
        return;
    }
    a->draining = true;
    uint64_t drain = 0; /* the longest of the services' drain_timeout */
    for (size_t i = 0; i < a->cfg->nservices; i++)
        if (a->cfg->services[i].limits.drain_timeout_ns > drain)
            drain = a->cfg->services[i].limits.drain_timeout_ns;
    a->drain_deadline = clock_mono_ns() + drain;
    log_info("app", "%s: draining for up to %llu ms", why,
             (unsigned long long)(drain / CLOCK_NS_PER_MS));
    for (unsigned i = 0; i < a->nworkers; i++)
        listener_worker_drain(a->workers[i]);
    health_checker_stop(a->health);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct app *a = h->data;
    if (signum == SIGHUP)
        reload(a);
    else
        begin_drain(a, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

static void close_control(struct app *a)
{
    uv_close((uv_handle_t *)&a->tick, NULL);
    uv_close((uv_handle_t *)&a->sig_term, NULL);
    uv_close((uv_handle_t *)&a->sig_int, NULL);
    uv_close((uv_handle_t *)&a->sig_hup, NULL);
    admin_server_close(a->admin);
    a->admin = NULL;
}

static void on_instances_stopped(void *ctx)
{
    struct app *a = ctx;
    log_info("app", "managed instances stopped");
    close_control(a);
}

static void on_tick(uv_timer_t *t)
{
    struct app *a = t->data;
    if (a->accesslog)
        accesslog_flush(a->accesslog);
    chaos_tick(&a->chaos, clock_mono_ns());
    if (!a->draining)
        return;
    if (clock_mono_ns() > a->drain_deadline) {
        for (unsigned i = 0; i < a->nworkers; i++)
            listener_worker_stop(a->workers[i]);
    }
    for (unsigned i = 0; i < a->nworkers; i++)
        if (!listener_worker_exited(a->workers[i]))
            return;
    uv_timer_stop(&a->tick);
    if (a->prov_stopping)
        return;
    a->prov_stopping = true; /* instances outlive the drain: in-flight requests need them */
    app_prov_stop(&a->prov, on_instances_stopped, a);
}

/* The exchange hooks of every worker: each observer that is on sees every exchange. */
static void app_exchange_done(struct exchange *ex, void *ctx)
{
    struct app *a = ctx;
    if (a->accesslog)
        accesslog_exchange_done(ex, a->accesslog);
    if (a->capture)
        capture_tap_exchange_done(ex, a->capture);
}

static void app_shadow_done(struct exchange *ex, const struct shadow_result *r, void *ctx)
{
    struct app *a = ctx;
    if (a->capture)
        capture_tap_shadow_done(ex, r, a->capture);
}

/* The capture section: a tap fed by the hooks above, recording the mirror's copy. */
static int start_capture(struct app *a, struct err *err)
{
    const struct config_capture *cc = &a->cfg->capture;
    if (!cc->path)
        return 0;
    struct capture_tap_config tc = {.path = cc->path,
                                    .max_file = cc->max_file,
                                    .sample_percent = cc->sample_percent,
                                    .nworkers = a->nworkers,
                                    .queue = cc->queue,
                                    .head = mirror_copy_head};
    a->capture = capture_tap_new(&tc, err);
    if (!a->capture)
        return err->code ? err->code : -EINVAL;
    int rc = capture_tap_start(a->capture);
    if (rc)
        return err_set(err, rc, "capture: cannot start the writer thread: %s", strerror(-rc));
    metrics_set_extra(a->metrics, capture_tap_write_metrics, a->capture);
    a->shared.on_done = app_exchange_done;
    a->shared.on_shadow_done = app_shadow_done;
    a->shared.hook_ctx = a;
    a->shared.keep_payload = true; /* the capture records bodies and the copy's head */
    log_info("app", "capturing %u%% of requests to '%s'", cc->sample_percent, cc->path);
    return 0;
}

/* The admin API's endpoints and /metrics series served by other rooms through the app. */
static bool app_extra_api(void *ctx, const struct admin_request *req, struct admin_response *resp)
{
    struct app *a = ctx;
    return app_prov_api(&a->prov, req, resp);
}

static int app_extra_metrics(void *ctx, struct buf *out)
{
    struct app *a = ctx;
    int rc = app_prov_metrics(&a->prov, out);
    if (rc == 0 && a->ds)
        datashadow_metrics(a->ds, out);
    return rc;
}

static void *datashadow_main(void *arg)
{
    struct app *a = arg;
    struct err err = {0};
    pthread_setname_np(pthread_self(), "doppel-data");
    if (datashadow_run(a->ds, &a->ds_stop, &err) != 0)
        log_error("datashadow", "stopped: %s", err.msg);
    return NULL;
}

/* Checked at start like the rest of the config; connection problems come later, in the
 * log and in doppel_datashadow_up, without stopping the gateway. */
static int new_datashadow(struct app *a, struct err *err)
{
    if (!a->cfg->data.source)
        return 0;
    int rc = config_load(a->config_path, &a->ds_cfg, err);
    return rc ? rc : datashadow_new(&a->ds_cfg->data, &a->ds, err);
}

static void start_datashadow(struct app *a)
{
    if (!a->ds)
        return;
    atomic_store(&a->ds_stop, false);
    a->ds_running = pthread_create(&a->ds_thread, NULL, datashadow_main, a) == 0;
    if (!a->ds_running)
        log_error("datashadow", "cannot start its thread");
}

static void stop_datashadow(struct app *a)
{
    if (a->ds_running) {
        atomic_store(&a->ds_stop, true);
        pthread_join(a->ds_thread, NULL);
        a->ds_running = false;
    }
    datashadow_free(a->ds);
    a->ds = NULL;
    config_free(a->ds_cfg);
    a->ds_cfg = NULL;
}

static int start_admin(struct app *a, struct err *err)
{
    a->api = (struct admin_api){.router = &a->router,
                                .metrics = a->metrics,
                                .chaos = &a->chaos,
                                .version = DOPPEL_VERSION,
                                .started_ns = clock_mono_ns(),
                                .apply = app_apply,
                                .ready = app_ready,
                                .ctx = a,
                                .extra = app_extra_api,
                                .extra_metrics = app_extra_metrics,
                                .extra_ctx = a};
    a->prov.api = &a->api;
    auth_init(&a->auth);
    if (a->cfg->admin.tokens_file) {
        if (auth_load(&a->auth, a->cfg->admin.tokens_file, err) != 0)
            return err->code;
        a->api.auth = &a->auth;
    }
    if (!a->cfg->admin.listen)
        return 0;
    struct sockaddr_storage sa;
    if (net_addr_parse(a->cfg->admin.listen, &sa, err) != 0)
        return err->code;
    struct admin_server_limits lim = {a->cfg->admin.idle_timeout_ns, a->cfg->admin.max_connections};
    a->admin =
        admin_server_new(&a->loop, (struct sockaddr *)&sa, &lim, admin_api_handle, &a->api, err);
    if (!a->admin)
        return err->code;
    char addr[80];
    net_addr_set_port(&sa, admin_server_port(a->admin));
    net_addr_str((struct sockaddr *)&sa, addr, sizeof(addr));
    log_info("app", "admin API on http://%s (GET /v1 lists it)", addr);
    return 0;
}

static int start_workers(struct app *a, struct err *err)
{
    struct listener_socket *socks = NULL;
    int rc = open_sockets(a, &socks, err);
    if (rc)
        return rc;
    a->workers = xcalloc(a->nworkers, sizeof(*a->workers));
    size_t ns = a->cfg->nservices;
    for (unsigned w = 0; w < a->nworkers; w++) {
        a->workers[w] = listener_worker_new(w, &a->shared, socks + w * ns, ns);
        listener_worker_start(a->workers[w]);
    }
    free(socks);
    return 0;
}

static void fault_of_config(struct fault *f, const struct config_fault *cf)
{
    *f = (struct fault){
        .direction = cf->direction ? FAULT_DIR_RESPONSE : FAULT_DIR_REQUEST,
        .probability = cf->probability,
        .service = cf->service,
        .pool = cf->pool,
        .instance = cf->instance,
        .route_prefix = cf->route,
        .header = cf->header,
        .header_value = cf->header_value,
        .latency_ns = cf->latency_ns,
        .jitter_ns = cf->jitter_ns,
        .rate = cf->rate,
        .status = (int)cf->status,
        .slice_size = cf->slice_size,
        .slice_delay_ns = cf->slice_delay_ns,
        .delay_ns = cf->delay_ns,
        .memory = cf->memory,
        .start_ns = cf->start_ns,
        .duration_ns = cf->duration_ns,
        .every_ns = cf->every_ns,
        .active_ns = cf->for_ns,
    };
    fault_kind_parse(config_fault_kinds[cf->kind], &f->kind);
    f->dist = (enum fault_dist)cf->distribution;
}

/* Fault injection: the registry, and the experiments the config starts with. Instance
 * faults need the provisioner's ops (chaos_set_instance_ops); until they are set, such
 * faults are refused with a clear message. */
static int start_chaos(struct app *a, struct err *err)
{
    const struct config_chaos *cc = &a->cfg->chaos;
    chaos_init(&a->chaos, cc->allow_primary_faults);
    a->chaos_ready = true;
    struct chaos_instance_ops ops;
    app_prov_chaos_ops(&a->prov, &ops);
    chaos_set_instance_ops(&a->chaos, &ops);
    for (size_t i = 0; i < cc->nexperiments; i++) {
        const struct config_experiment *ce = &cc->experiments[i];
        struct fault faults[CHAOS_MAX_FAULTS];
        size_t n = ce->nfaults < CHAOS_MAX_FAULTS ? ce->nfaults : CHAOS_MAX_FAULTS;
        for (size_t k = 0; k < n; k++)
            fault_of_config(&faults[k], &ce->faults[k]);
        struct chaos_experiment_spec spec = {.name = ce->name,
                                             .start_ns = ce->start_ns,
                                             .duration_ns = ce->duration_ns,
                                             .max_affected = ce->max_affected,
                                             .faults = faults,
                                             .nfaults = n};
        char id[CHAOS_ID_MAX];
        int rc = chaos_experiment_add(&a->chaos, &spec, clock_mono_ns(), id, err);
        if (rc) {
            err_prefix(err, "%s: chaos.experiments[%zu] '%s'", a->config_path, i, ce->name);
            return rc;
        }
    }
    return 0;
}

static int setup(struct app *a, struct err *err)
{
    int rc = config_load(a->config_path, &a->cfg, err);
    if (rc)
        return rc;
    log_set_level((enum log_level)a->cfg->log.level);
    if (a->cfg->nservices > LISTENER_MAX_SERVICES)
        return err_set(err, -EINVAL, "at most %d services", LISTENER_MAX_SERVICES);
    a->nworkers = worker_count(a->cfg);
    a->metrics = metrics_new(a->nworkers, DOPPEL_VERSION);
    router_init(&a->router);
    a->router_ready = true;
    a->prov.changed = prov_changed;
    a->prov.ctx = a;
    if ((rc = app_prov_start(&a->prov, &a->loop, a->cfg, err)) != 0)
        return rc;
    struct route_table *t = router_build(a->cfg, a->metrics, err);
    if (!t)
        return err->code ? err->code : -EINVAL;
    app_prov_fill(&a->prov, t);
    router_publish(&a->router, t);
    a->shared.router = &a->router;
    a->shared.metrics = a->metrics;
    if ((rc = start_chaos(a, err)) != 0)
        return rc;
    a->shared.chaos = &a->chaos;
    if (a->cfg->log.access_log != CONFIG_ACCESS_LOG_OFF) {
        a->accesslog = accesslog_open(
            a->cfg->log.access_log_path,
            a->cfg->log.access_log == CONFIG_ACCESS_LOG_JSON ? ACCESSLOG_JSON : ACCESSLOG_LOGFMT,
            err);
        if (!a->accesslog)
            return err->code;
        a->shared.on_done = app_exchange_done;
        a->shared.hook_ctx = a;
    }
    if ((rc = start_capture(a, err)) != 0)
        return rc;
    if ((rc = new_datashadow(a, err)) != 0 || (rc = start_admin(a, err)) != 0)
        return rc;
    a->health = health_checker_new(&a->loop);
    health_checker_update(a->health, t);
    rc = start_workers(a, err);
    if (!rc)
        start_datashadow(a);
    return rc;
}

static void teardown(struct app *a)
{
    stop_datashadow(a);
    for (unsigned i = 0; a->workers && i < a->nworkers; i++)
        if (a->workers[i]) {
            listener_worker_stop(a->workers[i]);
            listener_worker_join(a->workers[i]);
        }
    free(a->workers);
    if (a->chaos_ready)
        chaos_release(&a->chaos); /* after the workers: they held views of its sets */
    health_checker_free(a->health);
    app_prov_release(&a->prov);
    admin_server_close(a->admin);
    uv_run(&a->loop, UV_RUN_NOWAIT);
    accesslog_close(a->accesslog);
    if (a->metrics)
        metrics_set_extra(a->metrics, NULL, NULL);
    capture_tap_free(a->capture);
    auth_release(&a->auth);
    if (a->router_ready)
        router_release(&a->router);
    metrics_free(a->metrics);
    config_free(a->cfg);
}

int app_serve(const char *config_path, struct err *err)
{
    struct app *a = xcalloc(1, sizeof(*a));
    a->config_path = xstrdup(config_path);
    signal(SIGPIPE, SIG_IGN);
    uv_loop_init(&a->loop);
    int rc = setup(a, err);
    if (rc == 0) {
        uv_signal_init(&a->loop, &a->sig_term);
        uv_signal_init(&a->loop, &a->sig_int);
        uv_signal_init(&a->loop, &a->sig_hup);
        a->sig_term.data = a->sig_int.data = a->sig_hup.data = a;
        uv_signal_start(&a->sig_term, on_signal, SIGTERM);
        uv_signal_start(&a->sig_int, on_signal, SIGINT);
        uv_signal_start(&a->sig_hup, on_signal, SIGHUP);
        uv_timer_init(&a->loop, &a->tick);
        a->tick.data = a;
        uv_timer_start(&a->tick, on_tick, 100, 100);
        log_info("app", "doppel %s serving (config '%s')", DOPPEL_VERSION, config_path);
        uv_run(&a->loop, UV_RUN_DEFAULT);
        log_info("app", "drained; exiting");
    }
    teardown(a);
    uv_run(&a->loop, UV_RUN_DEFAULT);
    uv_loop_close(&a->loop);
    free(a->config_path);
    free(a);
    return rc;
}
