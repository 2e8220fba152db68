/* SPDX-License-Identifier: Apache-2.0 */
/*
 * app: `doppel serve` composition and control loop (see app.h).
 */
#include "app/app.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "admin/api.h"
#include "admin/auth.h"
#include "admin/server.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/version.h"
#include "base/xalloc.h"
#include "config/config.h"
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
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t tick;
    bool draining, router_ready;
    uint64_t drain_deadline;
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

static void on_tick(uv_timer_t *t)
{
    struct app *a = t->data;
    if (a->accesslog)
        accesslog_flush(a->accesslog);
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
    uv_close((uv_handle_t *)&a->tick, NULL);
    uv_close((uv_handle_t *)&a->sig_term, NULL);
    uv_close((uv_handle_t *)&a->sig_int, NULL);
    uv_close((uv_handle_t *)&a->sig_hup, NULL);
    admin_server_close(a->admin);
    a->admin = NULL;
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
    log_info("app", "capturing %u%% of requests to '%s'", cc->sample_percent, cc->path);
    return 0;
}

static int start_admin(struct app *a, struct err *err)
{
    a->api = (struct admin_api){.router = &a->router,
                                .metrics = a->metrics,
                                .version = DOPPEL_VERSION,
                                .started_ns = clock_mono_ns(),
                                .apply = app_apply,
                                .ready = app_ready,
                                .ctx = a};
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
    a->admin = admin_server_new(&a->loop, (struct sockaddr *)&sa, admin_api_handle, &a->api, err);
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
    struct route_table *t = router_build(a->cfg, a->metrics, err);
    if (!t)
        return err->code ? err->code : -EINVAL;
    router_publish(&a->router, t);
    a->shared.router = &a->router;
    a->shared.metrics = a->metrics;
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
    if ((rc = start_admin(a, err)) != 0)
        return rc;
    a->health = health_checker_new(&a->loop);
    health_checker_update(a->health, t);
    return start_workers(a, err);
}

static void teardown(struct app *a)
{
    for (unsigned i = 0; a->workers && i < a->nworkers; i++)
        if (a->workers[i]) {
            listener_worker_stop(a->workers[i]);
            listener_worker_join(a->workers[i]);
        }
    free(a->workers);
    health_checker_free(a->health);
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
