/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_chaos: the admin API's experiment endpoints — POST /v1/experiments (start a named
 * set of faults), GET /v1/experiments[/{id}] (state, faults, affected requests and the
 * event log), DELETE /v1/experiments/{id} (stop one) and DELETE /v1/experiments (the kill
 * switch: every fault removed at once). Parses and checks the JSON here (cJSON stays in
 * admin); the chaos room validates the faults and owns the experiments. Changes need a
 * bearer token, as every mutation of the API does.
 */
#include "admin/api_chaos.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/str.h"
#include "chaos/chaos.h"

#define STR_MAX 256 /* any string field */

static int get_duration(const cJSON *o, const char *key, uint64_t *out, struct err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v)
        return 0;
    if (!cJSON_IsString(v) || strlen(v->valuestring) > 32 ||
        str_to_duration_ns(v->valuestring, out) != 0)
        return err_set(err, -EINVAL, "'%s' must be a duration such as \"250ms\" or \"2s\"", key);
    return 0;
}

static int get_count(const cJSON *o, const char *key, uint64_t max, uint64_t *out, struct err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v)
        return 0;
    if (cJSON_IsString(v) && strlen(v->valuestring) <= 32 &&
        str_to_size(v->valuestring, out) == 0 && *out <= max)
        return 0;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > (double)max ||
        v->valuedouble != floor(v->valuedouble))
        return err_set(err, -EINVAL, "'%s' must be an integer from 0 to %llu", key,
                       (unsigned long long)max);
    *out = (uint64_t)v->valuedouble;
    return 0;
}

/* A string field; *out points into the JSON (valid while it lives). */
static int get_str(const cJSON *o, const char *key, const char **out, struct err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v)
        return 0;
    if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) > STR_MAX)
        return err_set(err, -EINVAL, "'%s' must be a string of 1..%d characters", key, STR_MAX);
    *out = v->valuestring;
    return 0;
}

static int only_keys(const cJSON *o, const char *const *keys, const char *what, struct err *err)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, o)
    {
        bool ok = false;
        for (size_t i = 0; keys[i] && !ok; i++)
            ok = strcmp(it->string, keys[i]) == 0;
        if (!ok)
            return err_set(err, -EINVAL, "unknown field '%.64s' in %s", it->string, what);
    }
    return 0;
}

static int parse_scope(const cJSON *s, struct fault *f, struct err *err)
{
    static const char *const keys[] = {"service", "pool",         "instance", "route",
                                       "header",  "header_value", NULL};
    if (!cJSON_IsObject(s))
        return err_set(err, -EINVAL, "'scope' must be an object");
    const char *v[6] = {0};
    int rc = only_keys(s, keys, "scope", err);
    for (int i = 0; i < 6 && !rc; i++)
        rc = get_str(s, keys[i], &v[i], err);
    if (rc)
        return rc;
    if (v[3] && v[3][0] != '/')
        return err_set(err, -EINVAL, "scope.route must be a path prefix starting with '/'");
    if (v[5] && !v[4])
        return err_set(err, -EINVAL, "scope.header_value needs scope.header");
    f->service = (char *)v[0];
    f->pool = (char *)v[1];
    f->instance = (char *)v[2];
    f->route_prefix = (char *)v[3];
    f->header = (char *)v[4];
    f->header_value = (char *)v[5];
    return 0;
}

static int parse_enums(const cJSON *o, struct fault *f, struct err *err)
{
    const char *kind = NULL, *dir = NULL, *dist = NULL;
    int rc = get_str(o, "kind", &kind, err);
    rc = rc ? rc : get_str(o, "direction", &dir, err);
    rc = rc ? rc : get_str(o, "distribution", &dist, err);
    if (rc)
        return rc;
    if (!kind || fault_kind_parse(kind, &f->kind) != 0)
        return err_set(err, -EINVAL,
                       "'kind' must be one of latency, bandwidth, abort, reset, hang, "
                       "slow_close, slicer, kill, pause, restart, cpu_burn, memory");
    if (dir && fault_direction_parse(dir, &f->direction) != 0)
        return err_set(err, -EINVAL, "'direction' must be request or response");
    if (dist && fault_dist_parse(dist, &f->dist) != 0)
        return err_set(err, -EINVAL, "'distribution' must be uniform, normal or exponential");
    return 0;
}

static int parse_fault(const cJSON *o, struct fault *f, struct err *err)
{
    static const char *const keys[] = {
        "kind",         "probability", "direction", "scope",      "latency",     "jitter",
        "distribution", "rate",        "status",    "slice_size", "slice_delay", "delay",
        "memory",       "start",       "duration",  "every",      "for",         NULL};
    if (!cJSON_IsObject(o))
        return err_set(err, -EINVAL, "must be an object");
    int rc = only_keys(o, keys, "a fault", err);
    rc = rc ? rc : parse_enums(o, f, err);
    if (rc)
        return rc;
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "probability");
    f->probability = 1.0;
    if (p && (!cJSON_IsNumber(p) || !(p->valuedouble >= 0.0 && p->valuedouble <= 1.0)))
        return err_set(err, -EINVAL, "'probability' must be a number from 0 to 1");
    if (p)
        f->probability = p->valuedouble;
    const cJSON *scope = cJSON_GetObjectItemCaseSensitive(o, "scope");
    if (scope && (rc = parse_scope(scope, f, err)) != 0)
        return rc;
    uint64_t status = 0;
    rc = get_duration(o, "latency", &f->latency_ns, err);
    rc = rc ? rc : get_duration(o, "jitter", &f->jitter_ns, err);
    rc = rc ? rc : get_count(o, "rate", 1ULL << 40, &f->rate, err);
    rc = rc ? rc : get_count(o, "status", 599, &status, err);
    rc = rc ? rc : get_count(o, "slice_size", 1ULL << 30, &f->slice_size, err);
    rc = rc ? rc : get_duration(o, "slice_delay", &f->slice_delay_ns, err);
    rc = rc ? rc : get_duration(o, "delay", &f->delay_ns, err);
    rc = rc ? rc : get_count(o, "memory", 1ULL << 40, &f->memory, err);
    rc = rc ? rc : get_duration(o, "start", &f->start_ns, err);
    rc = rc ? rc : get_duration(o, "duration", &f->duration_ns, err);
    rc = rc ? rc : get_duration(o, "every", &f->every_ns, err);
    rc = rc ? rc : get_duration(o, "for", &f->active_ns, err);
    f->status = (int)status;
    return rc;
}

static int parse_experiment(const cJSON *body, struct chaos_experiment_spec *spec,
                            struct fault *faults, struct err *err)
{
    static const char *const keys[] = {"name", "start", "duration", "stop", "faults", NULL};
    int rc = only_keys(body, keys, "the experiment", err);
    rc = rc ? rc : get_str(body, "name", &spec->name, err);
    rc = rc ? rc : get_duration(body, "start", &spec->start_ns, err);
    rc = rc ? rc : get_duration(body, "duration", &spec->duration_ns, err);
    if (rc)
        return rc;
    if (!spec->name)
        return err_set(err, -EINVAL, "'name' is required");
    const cJSON *stop = cJSON_GetObjectItemCaseSensitive(body, "stop");
    static const char *const stop_keys[] = {"max_affected", NULL};
    if (stop && (!cJSON_IsObject(stop) || only_keys(stop, stop_keys, "stop", err) ||
                 get_count(stop, "max_affected", 1ULL << 53, &spec->max_affected, err)))
        return err->code ? err->code
                         : err_set(err, -EINVAL, "'stop' must be an object: {max_affected: N}");
    const cJSON *fa = cJSON_GetObjectItemCaseSensitive(body, "faults");
    int n = cJSON_GetArraySize(fa);
    if (!cJSON_IsArray(fa) || n < 1 || n > CHAOS_MAX_FAULTS)
        return err_set(err, -EINVAL, "'faults' must be a list of 1..%d faults", CHAOS_MAX_FAULTS);
    for (int i = 0; i < n; i++)
        if ((rc = parse_fault(cJSON_GetArrayItem(fa, i), &faults[i], err)) != 0) {
            err_prefix(err, "faults[%d]", i);
            return rc;
        }
    spec->faults = faults;
    spec->nfaults = (size_t)n;
    return 0;
}

/* ---- answers ------------------------------------------------------------------------- */

static void add_opt(cJSON *o, const char *k, const char *v)
{
    if (v)
        cJSON_AddStringToObject(o, k, v);
}

static cJSON *fault_json(const struct fault *f, const struct fault_stats *st,
                         const struct chaos_fault_run *run)
{
    cJSON *o = cJSON_CreateObject(), *s = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", fault_kind_name(f->kind));
    cJSON_AddNumberToObject(o, "probability", f->probability);
    cJSON_AddStringToObject(o, "direction", fault_direction_name(f->direction));
    add_opt(s, "service", f->service);
    add_opt(s, "pool", f->pool);
    add_opt(s, "instance", f->instance);
    add_opt(s, "route", f->route_prefix);
    add_opt(s, "header", f->header);
    add_opt(s, "header_value", f->header_value);
    cJSON_AddItemToObject(o, "scope", s);
    if (f->kind == FAULT_LATENCY) {
        cJSON_AddNumberToObject(o, "latency_ms", (double)f->latency_ns / 1e6);
        cJSON_AddNumberToObject(o, "jitter_ms", (double)f->jitter_ns / 1e6);
        cJSON_AddStringToObject(o, "distribution", fault_dist_name(f->dist));
    }
    if (f->kind == FAULT_ABORT)
        cJSON_AddNumberToObject(o, "status", f->status);
    cJSON_AddBoolToObject(o, "active", run->on);
    cJSON_AddNumberToObject(o, "affected", (double)atomic_load(&st->affected));
    cJSON *pools = cJSON_AddObjectToObject(o, "affected_by_pool");
    for (size_t j = 0; j < FAULT_POOL_SLOTS; j++) {
        const struct fault_pool_count *c = &st->pools[j];
        if (atomic_load(&c->state) != 2)
            continue;
        char key[2 * FAULT_NAME_MAX + 2];
        snprintf(key, sizeof(key), "%s/%s", c->service, c->pool);
        cJSON *prev = cJSON_GetObjectItemCaseSensitive(pools, key);
        double n = (double)atomic_load(&c->count) + (prev ? prev->valuedouble : 0);
        if (prev)
            cJSON_SetNumberValue(prev, n);
        else
            cJSON_AddNumberToObject(pools, key, n);
    }
    return o;
}

static cJSON *experiment_json(const struct chaos_experiment *e, const struct chaos_event *ev,
                              size_t nev, bool with_events)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", e->id);
    cJSON_AddStringToObject(o, "name", e->name);
    cJSON_AddStringToObject(o, "state", chaos_state_name(e->state));
    if (e->end_reason)
        cJSON_AddStringToObject(o, "end_reason", e->end_reason);
    cJSON_AddNumberToObject(o, "created_unix_ms", (double)(e->created_wall_ns / 1000000));
    if (e->max_affected)
        cJSON_AddNumberToObject(o, "stop_max_affected", (double)e->max_affected);
    cJSON *fa = cJSON_AddArrayToObject(o, "faults");
    for (size_t i = 0; i < e->nfaults; i++)
        cJSON_AddItemToArray(fa, fault_json(&e->faults[i], &e->stats[i], &e->runs[i]));
    if (!with_events)
        return o;
    cJSON *evs = cJSON_AddArrayToObject(o, "events");
    for (size_t i = 0; i < nev; i++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "unix_ms", (double)(ev[i].wall_ns / 1000000));
        cJSON_AddStringToObject(x, "event", ev[i].what);
        if (ev[i].fault >= 0)
            cJSON_AddNumberToObject(x, "fault", ev[i].fault);
        cJSON_AddStringToObject(x, "detail", ev[i].detail);
        cJSON_AddItemToArray(evs, x);
    }
    return o;
}

struct visit {
    cJSON *out; /* an array (list) or NULL (one: set to the object) */
    cJSON *one;
};

static void visit_cb(const struct chaos_experiment *e, const struct chaos_event *ev, size_t nev,
                     void *arg)
{
    struct visit *v = arg;
    if (v->out)
        cJSON_AddItemToArray(v->out, experiment_json(e, ev, nev, false));
    else
        v->one = experiment_json(e, ev, nev, true);
}

static void get_experiments(struct admin_api *api, const char *id, struct admin_response *resp)
{
    struct visit v = {0};
    if (!id) {
        cJSON *o = cJSON_CreateObject();
        v.out = cJSON_AddArrayToObject(o, "experiments");
        chaos_visit(api->chaos, NULL, visit_cb, &v);
        admin_api_json(resp, 200, o);
        return;
    }
    if (chaos_visit(api->chaos, id, visit_cb, &v) == 0)
        admin_api_error(resp, 404, "not_found", "no such experiment");
    else
        admin_api_json(resp, 200, v.one);
}

static void post_experiment(struct admin_api *api, const struct admin_request *req,
                            struct admin_response *resp)
{
    cJSON *body = cJSON_ParseWithLength(req->body, req->body_len);
    struct fault faults[CHAOS_MAX_FAULTS];
    memset(faults, 0, sizeof(faults));
    struct chaos_experiment_spec spec = {0};
    struct err err = {0};
    char id[CHAOS_ID_MAX];
    if (!cJSON_IsObject(body)) {
        admin_api_error(resp, 400, "invalid_argument", "the body must be a JSON object");
    } else if (parse_experiment(body, &spec, faults, &err) != 0 ||
               chaos_experiment_add(api->chaos, &spec, clock_mono_ns(), id, &err) != 0) {
        bool perm = err.code == -EPERM || err.code == -ENOTSUP;
        admin_api_error(resp, perm ? 403 : 400, perm ? "failed_precondition" : "invalid_argument",
                        err.msg);
    } else {
        struct visit v = {0};
        chaos_visit(api->chaos, id, visit_cb, &v);
        admin_api_json(resp, 201, v.one);
    }
    cJSON_Delete(body); /* the faults' strings pointed into it */
}

static void delete_experiments(struct admin_api *api, const char *id, struct admin_response *resp)
{
    cJSON *o = cJSON_CreateObject();
    if (!id) {
        int n = chaos_stop_all(api->chaos, clock_mono_ns());
        cJSON_AddNumberToObject(o, "stopped", n);
        admin_api_json(resp, 200, o);
        return;
    }
    if (chaos_experiment_stop(api->chaos, id, clock_mono_ns()) != 0) {
        cJSON_Delete(o);
        admin_api_error(resp, 404, "not_found", "no running or pending experiment with that id");
        return;
    }
    cJSON_AddStringToObject(o, "stopped", id);
    admin_api_json(resp, 200, o);
}

bool admin_chaos_path(const char *path)
{
    return strncmp(path, "/v1/experiments", 15) == 0 &&
           (path[15] == 0 || (path[15] == '/' && path[16] && !strchr(path + 16, '/')));
}

void admin_chaos_handle(struct admin_api *api, const struct admin_request *req,
                        struct admin_response *resp)
{
    const char *id = req->path[15] == '/' ? req->path + 16 : NULL;
    bool get = str_ieqz(req->head->method, req->head->method_len, "GET") ||
               str_ieqz(req->head->method, req->head->method_len, "HEAD");
    bool post = str_ieqz(req->head->method, req->head->method_len, "POST");
    bool del = str_ieqz(req->head->method, req->head->method_len, "DELETE");
    if (!api->chaos) {
        admin_api_error(resp, 503, "unavailable", "fault injection is not running");
    } else if (get) {
        get_experiments(api, id, resp);
    } else if ((post && !id) || del) {
        if (!admin_api_authorize(api, req, resp))
            return;
        if (post)
            post_experiment(api, req, resp);
        else
            delete_experiments(api, id, resp);
    } else {
        admin_api_error(resp, 405, "method_not_allowed",
                        id ? "use GET or DELETE" : "use GET, POST or DELETE");
        resp->extra_headers = id ? "Allow: GET, DELETE\r\n" : "Allow: GET, POST, DELETE\r\n";
    }
}
