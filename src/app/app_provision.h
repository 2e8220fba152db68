/* SPDX-License-Identifier: Apache-2.0 */
/*
 * app_provision: the composition root's side of managed instances. It turns the config's
 * `run:` sections into provision specs, starts them with the process driver on the app's
 * control loop (waiting for the primaries to be ready before the gateway opens), keeps the
 * route table's managed pools equal to their ready instances (a new table is published on
 * every ready/unready/removed event), samples resources for /metrics, serves the instance
 * endpoints of the admin API, and stops every instance on shutdown.
 */
#ifndef DOPPEL_APP_APP_PROVISION_H
#define DOPPEL_APP_APP_PROVISION_H

#include <stdbool.h>
#include <uv.h>

#include "admin/server.h"
#include "base/buf.h"
#include "base/err.h"
#include "config/config.h"
#include "model/route_table.h"

struct provision;
struct admin_api;

struct app_prov {
    uv_loop_t *loop;          /* borrowed: the app's control loop */
    const struct config *cfg; /* borrowed: the running config */
    struct provision *prov;   /* owned; NULL when no pool has `run` */
    uv_timer_t sample;
    bool sample_open;
    /* Called when a managed pool's membership changed: the app clones the current table,
     * calls app_prov_fill on it and publishes it. */
    void (*changed)(void *ctx);
    void *ctx;
    const struct admin_api *api; /* borrowed: for the bearer check of the endpoints */
};

/* Starts every `run:` pool's instances and runs the loop until the primaries are ready
 * (each within its start_timeout). 0, or -errno with err set (the instances are stopped). */
int app_prov_start(struct app_prov *ap, uv_loop_t *loop, const struct config *cfg, struct err *err);
/* Sets the upstreams of t's managed pools to their ready instances. */
void app_prov_fill(struct app_prov *ap, struct route_table *t);
/* Stops every instance; done(ctx) runs once all are gone (at once without any). */
void app_prov_stop(struct app_prov *ap, void (*done)(void *ctx), void *ctx);
/* Frees (instances still running are killed). */
void app_prov_release(struct app_prov *ap);
/* /metrics: the doppel_instance_* series. */
int app_prov_metrics(void *ap, struct buf *out);
/* GET /v1/instances, POST /v1/services/{name}/shadows, DELETE /v1/shadows/{id}; false
 * when the request is not for one of them. */
bool app_prov_api(void *ap, const struct admin_request *req, struct admin_response *resp);
struct provision_selector;
struct provision_instance;
/* Every instance matching sel (caller frees); *n is the count. */
struct provision_instance *app_prov_list(struct app_prov *ap, const struct provision_selector *sel,
                                         size_t *n);
struct chaos_instance_ops;
/* The chaos room's instance operations (kill, pause, restart, CPU burn and memory pressure
 * in the instance's cgroup) served by the provisioner; all NULL without managed instances. */
void app_prov_chaos_ops(struct app_prov *ap, struct chaos_instance_ops *ops);
/* The spec for one pool's run (strings borrowed from cfg). Exposed for tests. */
struct provision_spec;
void app_prov_spec(const struct config_service *svc, const struct config_pool *pool,
                   const struct config *cfg, struct provision_spec *spec);

#endif
