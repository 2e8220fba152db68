/* SPDX-License-Identifier: Apache-2.0 */
/*
 * app_provision_api: the admin endpoints of managed instances, served through the admin
 * API's extra hook (the admin room does not know the provisioner):
 *   GET    /v1/instances[?service=S&role=primary|shadow&change=C]
 *   POST   /v1/services/{name}/shadows   {"pool","command","args","env","instances","change"}
 *   DELETE /v1/shadows/{id}
 * A POST starts instances in a shadow pool the config declares (its mirror rules and
 * metric series come from there), from that pool's `run` with the body's overrides; they
 * join the pool when ready. cJSON objects never leave these functions.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/api.h"
#include "app/app_provision.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "provision/provision.h"

static cJSON *instance_json(struct app_prov *ap, const struct provision_instance *in)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", in->id);
    cJSON *l = cJSON_AddObjectToObject(o, "labels");
    cJSON_AddStringToObject(l, "service", in->service);
    cJSON_AddStringToObject(l, "pool", in->pool);
    cJSON_AddStringToObject(l, "role", provision_role_name(in->role));
    cJSON_AddStringToObject(l, "shadow_of", in->shadow_of);
    cJSON_AddStringToObject(l, "change_id", in->change_id);
    cJSON_AddNumberToObject(l, "created_at_ms", (double)in->created_at_ms);
    cJSON_AddStringToObject(o, "state", provision_state_name(in->state));
    cJSON_AddNumberToObject(o, "pid", in->pid);
    cJSON_AddNumberToObject(o, "port", in->port);
    cJSON_AddBoolToObject(o, "sealed", in->sealed);
    cJSON_AddNumberToObject(o, "restarts", in->restarts);
    cJSON_AddNumberToObject(o, "last_exit", in->last_exit);
    cJSON_AddBoolToObject(o, "oom_killed", in->oom_killed);
    cJSON_AddNumberToObject(o, "oom_kills", in->oom_kills);
    cJSON_AddStringToObject(o, "cgroup", in->cgroup);
    struct provision_sample s;
    if (in->pid > 0 && provision_sample(ap->prov, in->id, &s) == 0) {
        cJSON *r = cJSON_AddObjectToObject(o, "resources");
        cJSON_AddNumberToObject(r, "cpu_percent", s.cpu_percent);
        cJSON_AddNumberToObject(r, "rss_bytes", (double)s.rss_bytes);
        cJSON_AddNumberToObject(r, "threads", s.threads);
        cJSON_AddNumberToObject(r, "open_fds", s.open_fds);
        cJSON_AddNumberToObject(r, "cgroup_memory_bytes", (double)s.cgroup_memory_bytes);
    }
    return o;
}

/* The value of name=... in the query (copied into out), or NULL. */
static const char *query_arg(const char *q, const char *name, char *out, size_t len)
{
    size_t nl = strlen(name);
    for (const char *p = q; p && *p; p = strchr(p, '&'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t vl = strcspn(p + nl + 1, "&");
            snprintf(out, len, "%.*s", (int)vl, p + nl + 1);
            return out;
        }
    }
    return NULL;
}

static void get_instances(struct app_prov *ap, const struct admin_request *req,
                          struct admin_response *resp)
{
    char svc[64], role[16], change[64];
    struct provision_selector sel = {.role = -1};
    sel.service = query_arg(req->query, "service", svc, sizeof(svc));
    sel.change_id = query_arg(req->query, "change", change, sizeof(change));
    if (query_arg(req->query, "role", role, sizeof(role))) {
        if (strcmp(role, "primary") && strcmp(role, "shadow")) {
            admin_api_error(resp, 400, "invalid_argument", "role must be primary or shadow");
            return;
        }
        sel.role = strcmp(role, "shadow") == 0 ? PROVISION_ROLE_SHADOW : PROVISION_ROLE_PRIMARY;
    }
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "instances");
    if (ap->prov) {
        size_t n;
        struct provision_instance *v = app_prov_list(ap, &sel, &n);
        for (size_t i = 0; i < n; i++)
            cJSON_AddItemToArray(arr, instance_json(ap, &v[i]));
        free(v);
    }
    cJSON_AddStringToObject(o, "driver", ap->prov ? ap->prov->ops->name : "none");
    admin_api_json(resp, 200, o);
}

/* Strings of a JSON array into v (borrowed from the cJSON tree); -EINVAL if not strings. */
static int string_array(const cJSON *a, const char **v, size_t max, size_t *n)
{
    const cJSON *it;
    *n = 0;
    if (!cJSON_IsArray(a) || (size_t)cJSON_GetArraySize(a) > max)
        return -EINVAL;
    cJSON_ArrayForEach(it, a)
    {
        if (!cJSON_IsString(it))
            return -EINVAL;
        v[(*n)++] = it->valuestring;
    }
    return 0;
}

struct shadow_req {
    const char *args[256], *env[512];
    struct provision_spec spec;
};

static const struct config_pool *pick_pool(const struct config_service *s, const char *name)
{
    for (size_t j = 0; j < s->nshadows; j++)
        if (s->shadows[j].run.enabled && (!name || strcmp(s->shadows[j].name, name) == 0))
            return &s->shadows[j];
    return NULL;
}

static size_t env_key_len(const char *kv)
{
    const char *eq = strchr(kv, '=');
    return eq ? (size_t)(eq - kv) : strlen(kv);
}

/* The pool's env, then the body's (a later KEY wins in execve's environment, so entries
 * of the pool that the body sets are left out). */
static int merge_env(struct shadow_req *sr, const cJSON *env)
{
    const char *add[256];
    size_t nadd = 0, n = 0;
    if (env && string_array(env, add, 256, &nadd) != 0)
        return -EINVAL;
    for (size_t i = 0; i < sr->spec.nenv; i++) {
        bool over = false;
        for (size_t j = 0; j < nadd && !over; j++)
            over = env_key_len(add[j]) == env_key_len(sr->spec.env[i]) &&
                   !strncmp(add[j], sr->spec.env[i], env_key_len(add[j]));
        if (!over)
            sr->env[n++] = sr->spec.env[i];
    }
    for (size_t j = 0; j < nadd; j++) {
        if (!strchr(add[j], '=') || add[j][0] == '=')
            return -EINVAL;
        sr->env[n++] = add[j];
    }
    sr->spec.env = sr->env;
    sr->spec.nenv = n;
    return 0;
}

static int apply_body(struct shadow_req *sr, const cJSON *body, struct err *err)
{
    const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(body, "command"),
                *args = cJSON_GetObjectItemCaseSensitive(body, "args"),
                *n = cJSON_GetObjectItemCaseSensitive(body, "instances"),
                *ch = cJSON_GetObjectItemCaseSensitive(body, "change");
    if (cmd && (!cJSON_IsString(cmd) || !cmd->valuestring[0]))
        return err_set(err, -EINVAL, "command must be a non-empty string");
    if (cmd)
        sr->spec.command = cmd->valuestring;
    if (args && string_array(args, sr->args, 256, &sr->spec.nargs) != 0)
        return err_set(err, -EINVAL, "args must be a list of at most 256 strings");
    if (args)
        sr->spec.args = sr->args;
    if (merge_env(sr, cJSON_GetObjectItemCaseSensitive(body, "env")) != 0)
        return err_set(err, -EINVAL, "env must be a list of KEY=VALUE strings");
    if (n && (!cJSON_IsNumber(n) || n->valuedouble < 1 || n->valuedouble > 64 ||
              n->valuedouble != (int)n->valuedouble))
        return err_set(err, -EINVAL, "instances must be an integer from 1 to 64");
    if (n)
        sr->spec.replicas = (uint32_t)n->valuedouble;
    if (ch && (!cJSON_IsString(ch) || !ch->valuestring[0] || strlen(ch->valuestring) > 63))
        return err_set(err, -EINVAL, "change must be a string of 1 to 63 characters");
    if (ch)
        sr->spec.labels.change_id = ch->valuestring;
    return 0;
}

static void started_json(struct app_prov *ap, const char *name, size_t before, uint32_t count,
                         struct admin_response *resp)
{
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "instances");
    size_t n;
    struct provision_instance *v = app_prov_list(ap, NULL, &n);
    size_t nl = strlen(name);
    for (size_t i = 0; i < n; i++) { /* the newest `count` of this pool */
        unsigned long seq = strtoul(v[i].id + nl + 1, NULL, 10);
        if (!strncmp(v[i].id, name, nl) && v[i].id[nl] == '-' && seq > before &&
            seq <= before + count)
            cJSON_AddItemToArray(arr, instance_json(ap, &v[i]));
    }
    free(v);
    admin_api_json(resp, 201, o);
}

static size_t highest_seq(struct app_prov *ap, const char *name)
{
    size_t n, max = 0, nl = strlen(name);
    struct provision_instance *v = app_prov_list(ap, NULL, &n);
    for (size_t i = 0; i < n; i++)
        if (!strncmp(v[i].id, name, nl) && v[i].id[nl] == '-') {
            size_t k = strtoul(v[i].id + nl + 1, NULL, 10);
            max = k > max ? k : max;
        }
    free(v);
    return max;
}

static void post_shadows(struct app_prov *ap, const struct admin_api *api, const char *svc_name,
                         const struct admin_request *req, struct admin_response *resp)
{
    if (!admin_api_authorize(api, req, resp))
        return;
    const struct config_service *svc = NULL;
    for (size_t i = 0; ap->cfg && i < ap->cfg->nservices; i++)
        if (strcmp(ap->cfg->services[i].name, svc_name) == 0)
            svc = &ap->cfg->services[i];
    cJSON *body = cJSON_ParseWithLength(req->body, req->body_len);
    const cJSON *pool_j = cJSON_GetObjectItemCaseSensitive(body, "pool");
    const struct config_pool *pool =
        svc ? pick_pool(svc, cJSON_IsString(pool_j) ? pool_j->valuestring : NULL) : NULL;
    struct shadow_req *sr = xcalloc(1, sizeof(*sr));
    struct err err = {0};
    char name[160];
    if (!cJSON_IsObject(body))
        admin_api_error(resp, 400, "invalid_argument", "the body must be a JSON object");
    else if (!svc)
        admin_api_error(resp, 404, "not_found", "no such service");
    else if (!pool || !ap->prov)
        admin_api_error(resp, 404, "not_found",
                        "no such shadow pool with `run` in this service (declare it in the "
                        "config)");
    else {
        app_prov_spec(svc, pool, ap->cfg, &sr->spec);
        snprintf(name, sizeof(name), "%s-%s", svc->name, pool->name);
        sr->spec.name = name;
        size_t before = highest_seq(ap, name);
        if (apply_body(sr, body, &err) != 0)
            admin_api_error(resp, 400, "invalid_argument", err.msg);
        else if (provision_start(ap->prov, &sr->spec, &err) != 0)
            admin_api_error(resp, err.code == -EPERM ? 403 : 500,
                            err.code == -EPERM ? "permission_denied" : "internal", err.msg);
        else
            started_json(ap, name, before, sr->spec.replicas, resp);
    }
    free(sr);
    cJSON_Delete(body);
}

static void delete_shadow(struct app_prov *ap, const struct admin_api *api, const char *id,
                          const struct admin_request *req, struct admin_response *resp)
{
    if (!admin_api_authorize(api, req, resp))
        return;
    struct provision_instance in;
    if (!ap->prov || provision_get(ap->prov, id, &in) != 0 || in.role != PROVISION_ROLE_SHADOW) {
        admin_api_error(resp, 404, "not_found", "no such shadow instance");
        return;
    }
    provision_stop(ap->prov, id);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "state", "stopping");
    admin_api_json(resp, 202, o);
}

static bool is(const struct admin_request *req, const char *method)
{
    return str_ieqz(req->head->method, req->head->method_len, method);
}

bool app_prov_api(void *ctx, const struct admin_request *req, struct admin_response *resp)
{
    struct app_prov *ap = ctx;
    const struct admin_api *api = ap->api;
    const char *p = req->path;
    char name[128];
    if (strcmp(p, "/v1/instances") == 0) {
        if (is(req, "GET") || is(req, "HEAD"))
            get_instances(ap, req, resp);
        else
            admin_api_error(resp, 405, "method_not_allowed", "this endpoint only answers GET");
        return true;
    }
    if (strncmp(p, "/v1/shadows/", 12) == 0 && p[12] && !strchr(p + 12, '/')) {
        if (is(req, "DELETE"))
            delete_shadow(ap, api, p + 12, req, resp);
        else
            admin_api_error(resp, 405, "method_not_allowed", "use DELETE");
        return true;
    }
    size_t sl = strlen("/shadows"), pl = strlen(p);
    if (strncmp(p, "/v1/services/", 13) == 0 && pl > 13 + sl &&
        strcmp(p + pl - sl, "/shadows") == 0 && pl - sl - 13 < sizeof(name)) {
        snprintf(name, sizeof(name), "%.*s", (int)(pl - sl - 13), p + 13);
        if (strchr(name, '/'))
            return false;
        if (is(req, "POST"))
            post_shadows(ap, api, name, req, resp);
        else
            admin_api_error(resp, 405, "method_not_allowed", "use POST");
        return true;
    }
    return false;
}
