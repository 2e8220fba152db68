/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api: the admin API's route table and handlers: /metrics, /healthz, /readyz, GET /v1,
 * GET /v1/services[/{name}], PATCH /v1/services/{name}. Reads come from the current route
 * table and the metrics registry; a PATCH builds a changed copy of the route table and
 * hands it to the app's `apply` hook, which publishes it (the data path is never touched
 * directly). One error envelope: {"error":{"code":"...","message":"..."}}.
 */
#ifndef DOPPEL_ADMIN_API_H
#define DOPPEL_ADMIN_API_H

#include <stdbool.h>
#include <stdint.h>

#include "admin/auth.h"
#include "admin/server.h"
#include "base/err.h"
#include "router/router.h"

struct metrics;

struct admin_api {
    struct router *router;   /* borrowed */
    struct metrics *metrics; /* borrowed */
    struct auth *auth;       /* borrowed; NULL = no tokens file: mutations refused */
    const char *version;
    uint64_t started_ns;
    /* Publishes a new table (takes the reference); 0 or -errno with err filled. */
    int (*apply)(void *ctx, struct route_table *t, struct err *err);
    bool (*ready)(void *ctx);
    /* Appends further Prometheus text to GET /metrics (the data shadow's); may be NULL. */
    void (*more_metrics)(void *ctx, struct buf *out);
    void *ctx;
};

void admin_api_handle(void *api, const struct admin_request *req, struct admin_response *resp);

/* The API's route table, for `GET /v1` and docs/api.md. */
struct admin_route {
    const char *method;
    const char *path;
    bool auth; /* needs a bearer token */
    const char *summary;
};
extern const struct admin_route admin_routes[];
extern const unsigned admin_nroutes;

#endif
