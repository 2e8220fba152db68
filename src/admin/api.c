/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api: admin endpoints (see api.h). cJSON objects never escape a handler.
 */
#include "admin/api.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "net/addr.h"
#include "observer/metrics.h"

const struct admin_route admin_routes[] = {
    {"GET", "/metrics", false, "Prometheus text exposition of every metric"},
    {"GET", "/healthz", false, "200 while the process runs"},
    {"GET", "/readyz", false, "200 once the route table is published and workers run, else 503"},
    {"GET", "/v1", false, "this table: every endpoint of the API"},
    {"GET", "/v1/services", false,
     "services: pools, upstreams, weights, routes, mirror, live stats"},
    {"GET", "/v1/services/{name}", false, "one service, as in /v1/services"},
    {"PATCH", "/v1/services/{name}", true,
     "change mirror percent (whole service or one route), upstream weights, pool membership"},
};
const unsigned admin_nroutes = sizeof(admin_routes) / sizeof(admin_routes[0]);

static void put_json(struct admin_response *resp, int status, cJSON *obj)
{
    char *text = cJSON_PrintUnformatted(obj);
    resp->status = status;
    resp->content_type = "application/json";
    buf_reset(&resp->body);
    buf_appends(&resp->body, text);
    buf_appends(&resp->body, "\n");
    free(text);
    cJSON_Delete(obj);
}

static void put_error(struct admin_response *resp, int status, const char *code, const char *msg)
{
    cJSON *o = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", msg);
    put_json(resp, status, o);
}

static void put_text(struct admin_response *resp, int status, const char *text)
{
    resp->status = status;
    resp->content_type = "text/plain; charset=utf-8";
    buf_reset(&resp->body);
    buf_appends(&resp->body, text);
}

/* ---- reads --------------------------------------------------------------------------- */

static cJSON *stats_json(const struct metrics_series *s)
{
    struct metrics_summary m;
    metrics_snapshot_series(s, &m);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "requests", (double)m.count);
    cJSON_AddNumberToObject(o, "p50_ms", (double)m.p50_ns / 1e6);
    cJSON_AddNumberToObject(o, "p90_ms", (double)m.p90_ns / 1e6);
    cJSON_AddNumberToObject(o, "p99_ms", (double)m.p99_ns / 1e6);
    cJSON_AddNumberToObject(o, "p999_ms", (double)m.p999_ns / 1e6);
    cJSON_AddNumberToObject(o, "status_5xx", (double)m.status[METRICS_CLASS_5XX]);
    cJSON_AddNumberToObject(o, "upstream_errors", (double)m.upstream_errors_total);
    return o;
}

static cJSON *pool_json(const struct rt_pool *p)
{
    cJSON *o = cJSON_CreateObject(), *ups = cJSON_AddArrayToObject(o, "upstreams");
    cJSON_AddStringToObject(o, "name", p->name);
    cJSON_AddBoolToObject(o, "shadow", p->shadow);
    for (size_t i = 0; i < p->nups; i++) {
        cJSON *u = cJSON_CreateObject();
        cJSON_AddStringToObject(u, "address", p->ups[i].address);
        cJSON_AddNumberToObject(u, "weight", p->ups[i].weight);
        cJSON_AddItemToArray(ups, u);
    }
    return o;
}

static cJSON *service_json(const struct rt_service *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", s->name);
    cJSON_AddStringToObject(o, "listen", s->listen ? s->listen : "");
    cJSON *pools = cJSON_AddArrayToObject(o, "pools");
    cJSON_AddItemToArray(pools, pool_json(&s->primary));
    for (size_t i = 0; i < s->nshadows; i++)
        cJSON_AddItemToArray(pools, pool_json(&s->shadows[i]));
    cJSON *routes = cJSON_AddArrayToObject(o, "routes");
    for (size_t i = 0; i < s->nroutes; i++) {
        const struct rt_route *r = &s->routes[i];
        cJSON *ro = cJSON_CreateObject();
        cJSON_AddStringToObject(ro, "name", r->name);
        cJSON_AddStringToObject(ro, "path_prefix", r->path_prefix);
        cJSON_AddNumberToObject(ro, "mirror_percent", r->mirror.percent_bp / 100.0);
        cJSON *st = cJSON_AddObjectToObject(ro, "stats");
        cJSON_AddItemToObject(st, "primary", stats_json(r->primary_series));
        for (size_t j = 0; j < s->nshadows; j++)
            cJSON_AddItemToObject(st, s->shadows[j].name, stats_json(r->shadow_series[j]));
        cJSON_AddItemToArray(routes, ro);
    }
    return o;
}

static void get_services(struct admin_api *api, const char *name, struct admin_response *resp)
{
    struct route_table *t = router_acquire(api->router);
    if (!t) {
        put_error(resp, 503, "unavailable", "no route table published yet");
        return;
    }
    if (name) {
        const struct rt_service *s = route_table_service(t, name);
        if (s)
            put_json(resp, 200, service_json(s));
        else
            put_error(resp, 404, "not_found", "no such service");
    } else {
        cJSON *o = cJSON_CreateObject(), *a = cJSON_AddArrayToObject(o, "services");
        cJSON_AddNumberToObject(o, "generation", (double)t->generation);
        for (size_t i = 0; i < t->nservices; i++)
            cJSON_AddItemToArray(a, service_json(&t->services[i]));
        put_json(resp, 200, o);
    }
    route_table_unref(t);
}

static void get_v1(struct admin_response *resp)
{
    cJSON *o = cJSON_CreateObject(), *a = cJSON_AddArrayToObject(o, "endpoints");
    for (unsigned i = 0; i < admin_nroutes; i++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "method", admin_routes[i].method);
        cJSON_AddStringToObject(r, "path", admin_routes[i].path);
        cJSON_AddBoolToObject(r, "auth", admin_routes[i].auth);
        cJSON_AddStringToObject(r, "summary", admin_routes[i].summary);
        cJSON_AddItemToArray(a, r);
    }
    put_json(resp, 200, o);
}

/* ---- PATCH --------------------------------------------------------------------------- */

static struct rt_pool *find_pool(struct rt_service *s, const char *name)
{
    if (strcmp(name, "primary") == 0)
        return &s->primary;
    for (size_t i = 0; i < s->nshadows; i++)
        if (strcmp(s->shadows[i].name, name) == 0)
            return &s->shadows[i];
    return NULL;
}

static int patch_percent(struct rt_service *s, const cJSON *mirror, struct err *err)
{
    const cJSON *pct = cJSON_GetObjectItemCaseSensitive(mirror, "percent");
    const cJSON *route = cJSON_GetObjectItemCaseSensitive(mirror, "route");
    if (!cJSON_IsNumber(pct) || pct->valuedouble < 0 || pct->valuedouble > 100)
        return err_set(err, -EINVAL, "mirror.percent must be a number from 0 to 100");
    double bp = pct->valuedouble * 100.0;
    if (fabs(bp - round(bp)) > 1e-6)
        return err_set(err, -EINVAL, "mirror.percent has a granularity of 0.01");
    if (route && !cJSON_IsString(route))
        return err_set(err, -EINVAL, "mirror.route must be a route name");
    bool found = false;
    for (size_t i = 0; i < s->nroutes; i++) {
        if (route && strcmp(s->routes[i].name, route->valuestring) != 0)
            continue;
        s->routes[i].mirror.percent_bp = (uint32_t)llround(bp);
        found = true;
    }
    if (!found)
        return err_set(err, -ENOENT, "no route '%s' in service '%s'", route->valuestring, s->name);
    return 0;
}

static int patch_weights(struct rt_service *s, const cJSON *weights, struct err *err)
{
    const cJSON *pool;
    cJSON_ArrayForEach(pool, weights)
    {
        struct rt_pool *p = find_pool(s, pool->string);
        if (!p)
            return err_set(err, -ENOENT, "no pool '%s' in service '%s'", pool->string, s->name);
        if (!cJSON_IsObject(pool))
            return err_set(err, -EINVAL, "weights.%s must map addresses to weights", pool->string);
        const cJSON *w;
        cJSON_ArrayForEach(w, pool)
        {
            if (!cJSON_IsNumber(w) || w->valuedouble < 0 || w->valuedouble > 1000 ||
                w->valuedouble != floor(w->valuedouble))
                return err_set(err, -EINVAL, "weight of '%s' must be an integer 0..1000",
                               w->string);
            size_t i;
            for (i = 0; i < p->nups; i++)
                if (strcmp(p->ups[i].address, w->string) == 0)
                    break;
            if (i == p->nups)
                return err_set(err, -ENOENT, "pool '%s' has no upstream '%s'", p->name, w->string);
            p->ups[i].weight = (uint32_t)w->valuedouble;
        }
    }
    return 0;
}

static void free_members(struct rt_upstream *ups, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ups[i].address);
    free(ups);
}

/* The config refuses a pool that names one address twice; so does the API, or the member
 * would get twice its share and a later weight change would find only the first. */
static int member_index(const struct rt_upstream *ups, size_t n, const char *address)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ups[i].address, address) == 0)
            return (int)i;
    return -1;
}

static int patch_members(struct rt_service *s, const cJSON *ups, struct err *err)
{
    const cJSON *pool;
    cJSON_ArrayForEach(pool, ups)
    {
        struct rt_pool *p = find_pool(s, pool->string);
        if (!p)
            return err_set(err, -ENOENT, "no pool '%s' in service '%s'", pool->string, s->name);
        int n = cJSON_GetArraySize(pool);
        if (!cJSON_IsArray(pool) || n < 1 || n > 64)
            return err_set(err, -EINVAL, "upstreams.%s must be a list of 1..64 addresses",
                           pool->string);
        struct rt_upstream *nu = xcalloc((size_t)n, sizeof(*nu));
        for (int i = 0; i < n; i++) {
            const cJSON *a = cJSON_GetArrayItem(pool, i);
            if (!cJSON_IsString(a) || net_addr_parse(a->valuestring, &nu[i].sa, err) != 0) {
                free_members(nu, (size_t)i);
                return err_set(err, -EINVAL, "upstreams.%s[%d]: not a host:port address",
                               pool->string, i);
            }
            if (member_index(nu, (size_t)i, a->valuestring) >= 0) {
                free_members(nu, (size_t)i);
                return err_set(err, -EINVAL, "upstreams.%s[%d]: duplicate upstream '%s'",
                               pool->string, i, a->valuestring);
            }
            nu[i].address = xstrdup(a->valuestring);
            nu[i].host_id = router_id_host(a->valuestring);
            nu[i].weight = 1;
            for (size_t k = 0; k < p->nups; k++) /* keep the weight of a kept member */
                if (strcmp(p->ups[k].address, a->valuestring) == 0)
                    nu[i].weight = p->ups[k].weight;
        }
        for (size_t k = 0; k < p->nups; k++)
            free(p->ups[k].address);
        free(p->ups);
        p->ups = nu;
        p->nups = (size_t)n;
    }
    return 0;
}

static int apply_patch(struct rt_service *s, const cJSON *body, struct err *err)
{
    static const char *const keys[] = {"mirror", "weights", "upstreams"};
    const cJSON *it;
    cJSON_ArrayForEach(it, body)
    {
        bool ok = false;
        for (size_t i = 0; i < 3; i++)
            ok |= strcmp(it->string, keys[i]) == 0;
        if (!ok)
            return err_set(err, -EINVAL, "unknown field '%s' (mirror, weights, upstreams)",
                           it->string);
    }
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(body, "mirror");
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(body, "weights");
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(body, "upstreams");
    int rc = 0;
    if (m && (rc = cJSON_IsObject(m) ? patch_percent(s, m, err)
                                     : err_set(err, -EINVAL, "mirror must be an object")))
        return rc;
    if (u && (rc = cJSON_IsObject(u) ? patch_members(s, u, err)
                                     : err_set(err, -EINVAL, "upstreams must be an object")))
        return rc;
    if (w && (rc = cJSON_IsObject(w) ? patch_weights(s, w, err)
                                     : err_set(err, -EINVAL, "weights must be an object")))
        return rc;
    return 0;
}

static void patch_service(struct admin_api *api, const char *name, const struct admin_request *req,
                          struct admin_response *resp)
{
    const struct http_header *authz = http_head_find(req->head, "authorization");
    enum auth_result ar = AUTH_INVALID;
    if (api->auth)
        ar = auth_check(api->auth, authz ? authz->value : NULL, authz ? authz->value_len : 0);
    else if (!authz)
        ar = AUTH_MISSING;
    if (ar == AUTH_MISSING) {
        resp->extra_headers = "WWW-Authenticate: Bearer\r\n";
        put_error(resp, 401, "unauthenticated", "this endpoint needs a bearer token");
        return;
    }
    if (ar != AUTH_OK) {
        put_error(resp, 403, "permission_denied",
                  api->auth ? "the bearer token is not listed in the tokens file"
                            : "mutations are disabled: admin.tokens_file is not configured");
        return;
    }
    cJSON *body = cJSON_ParseWithLength(req->body, req->body_len);
    if (!cJSON_IsObject(body)) {
        cJSON_Delete(body);
        put_error(resp, 400, "invalid_argument", "the body must be a JSON object");
        return;
    }
    struct route_table *cur = router_acquire(api->router);
    struct route_table *t = cur ? route_table_clone(cur) : NULL;
    route_table_unref(cur);
    struct rt_service *s = NULL;
    for (size_t i = 0; t && i < t->nservices; i++)
        if (strcmp(t->services[i].name, name) == 0)
            s = &t->services[i];
    struct err err = {0};
    if (!s) {
        put_error(resp, 404, "not_found", "no such service");
        route_table_unref(t);
    } else if (apply_patch(s, body, &err) != 0) {
        put_error(resp, err.code == -ENOENT ? 404 : 400,
                  err.code == -ENOENT ? "not_found" : "invalid_argument", err.msg);
        route_table_unref(t);
    } else {
        cJSON *out = service_json(s);
        if (api->apply(api->ctx, t, &err) != 0) {
            cJSON_Delete(out);
            put_error(resp, 500, "internal", err.msg);
        } else {
            put_json(resp, 200, out);
        }
    }
    cJSON_Delete(body);
}

/* ---- dispatch ------------------------------------------------------------------------ */

static bool is(const struct admin_request *req, const char *method)
{
    return str_ieqz(req->head->method, req->head->method_len, method);
}

void admin_api_handle(void *ctx, const struct admin_request *req, struct admin_response *resp)
{
    struct admin_api *api = ctx;
    const char *p = req->path;
    bool get = is(req, "GET") || is(req, "HEAD");
    if (strcmp(p, "/metrics") == 0 && get) {
        resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
        if (metrics_write_prometheus(api->metrics, &resp->body) != 0)
            put_error(resp, 500, "internal", "metrics exposition exceeded its size cap");
        else if (api->more_metrics)
            api->more_metrics(api->ctx, &resp->body);
    } else if (strcmp(p, "/healthz") == 0 && get) {
        put_text(resp, 200, "ok\n");
    } else if (strcmp(p, "/readyz") == 0 && get) {
        bool ready = api->ready(api->ctx);
        put_text(resp, ready ? 200 : 503, ready ? "ready\n" : "not ready\n");
    } else if (strcmp(p, "/v1") == 0 && get) {
        get_v1(resp);
    } else if (strcmp(p, "/v1/services") == 0 && get) {
        get_services(api, NULL, resp);
    } else if (strncmp(p, "/v1/services/", 13) == 0 && p[13] && !strchr(p + 13, '/')) {
        if (get)
            get_services(api, p + 13, resp);
        else if (is(req, "PATCH"))
            patch_service(api, p + 13, req, resp);
        else {
            put_error(resp, 405, "method_not_allowed", "use GET or PATCH");
            resp->extra_headers = "Allow: GET, PATCH\r\n"; /* RFC 9110 15.5.6 */
        }
    } else {
        bool known = strcmp(p, "/metrics") == 0 || strcmp(p, "/healthz") == 0 ||
                     strcmp(p, "/readyz") == 0 || strcmp(p, "/v1") == 0 ||
                     strcmp(p, "/v1/services") == 0;
        if (known) {
            put_error(resp, 405, "method_not_allowed", "this endpoint only answers GET");
            resp->extra_headers = "Allow: GET\r\n";
        } else
            put_error(resp, 404, "not_found", "no such endpoint (GET /v1 lists them)");
    }
}
