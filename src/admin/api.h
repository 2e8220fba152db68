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

struct chaos;
struct metrics;

struct admin_api {
    struct router *router;   /* borrowed */
    struct metrics *metrics; /* borrowed */
    struct auth *auth;       /* borrowed; NULL = no tokens file: mutations refused */
    struct chaos *chaos;     /* borrowed; NULL = no fault injection (/v1/experiments 503) */
    const char *version;
    uint64_t started_ns;
    /* Publishes a new table (takes the reference); 0 or -errno with err filled. */
    int (*apply)(void *ctx, struct route_table *t, struct err *err);
    bool (*ready)(void *ctx);
    void *ctx;
    /* Endpoints other rooms serve through the app (instances and shadows): tried first,
     * false when the request is not theirs; and series appended to /metrics (instances,
     * data shadow). May be NULL. */
    bool (*extra)(void *ctx, const struct admin_request *req, struct admin_response *resp);
    int (*extra_metrics)(void *ctx, struct buf *out);
    void *extra_ctx;
};

void admin_api_handle(void *api, const struct admin_request *req, struct admin_response *resp);
/* For the extra endpoints: the JSON answer (takes obj), the error envelope, and the bearer
 * check of mutating endpoints (false after writing the 401/403 answer). */
struct cJSON;
void admin_api_json(struct admin_response *resp, int status, struct cJSON *obj);
void admin_api_error(struct admin_response *resp, int status, const char *code, const char *msg);
bool admin_api_authorize(const struct admin_api *api, const struct admin_request *req,
                         struct admin_response *resp);

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
