/* SPDX-License-Identifier: Apache-2.0 */
/*
 * build: a route table from a validated config — addresses resolved, ids assigned,
 * metric series looked up (the only place series are created, so never per request).
 */
#include "router/build.h"

#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "model/hmac_key.h"
#include "net/addr.h"
#include "observer/metrics.h"

static char **strv_dup(char *const *v, size_t n)
{
    if (!n)
        return NULL;
    char **c = xcalloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        c[i] = xstrdup(v[i]);
    return c;
}

static int build_pool(struct rt_pool *p, const char *service, const struct config_pool *cp,
                      bool shadow, struct err *err)
{
    p->pool_id = router_id_pool(service, cp->name);
    p->name = xstrdup(cp->name);
    p->shadow = shadow;
    p->nups = cp->nupstreams;
    p->ups = xcalloc(cp->nupstreams ? cp->nupstreams : 1, sizeof(*p->ups));
    for (size_t i = 0; i < cp->nupstreams; i++) {
        struct rt_upstream *u = &p->ups[i];
        u->address = xstrdup(cp->upstreams[i].address);
        u->weight = cp->upstreams[i].weight;
        u->host_id = router_id_host(u->address);
        if (net_addr_parse(u->address, &u->sa, err) != 0) {
            err_prefix(err, "service '%s' pool '%s'", service, cp->name);
            return err->code;
        }
    }
    p->connect_timeout_ns = cp->connect_timeout_ns;
    p->timeout_ns = cp->timeout_ns;
    p->keepalive = cp->keepalive;
    /* Copies to a shadow reuse its connections instead of opening one per copy. */
    p->max_conns = shadow ? (cp->keepalive ? cp->keepalive : 1) : 0;
    p->retries = shadow ? 0 : cp->retries;
    p->health.fail_threshold = cp->fail_threshold;
    p->health.eject_ns = cp->eject_ns;
    p->health.check_path = cp->check_path ? xstrdup(cp->check_path) : NULL;
    p->health.check_interval_ns = cp->check_interval_ns;
    p->health.check_timeout_ns = cp->check_timeout_ns;
    p->max_inflight = cp->max_inflight;
    p->max_bytes = cp->max_bytes;
    return 0;
}

static void build_mirror(struct rt_mirror *m, const struct config_mirror *cm)
{
    m->percent_bp = cm->percent_bp;
    m->methods = strv_dup(cm->methods, cm->nmethods);
    m->nmethods = cm->nmethods;
    m->path_prefixes = strv_dup(cm->path_prefixes, cm->npath_prefixes);
    m->npath_prefixes = cm->npath_prefixes;
    m->header_name = cm->header_name ? xstrdup(cm->header_name) : NULL;
    m->header_value = cm->header_value ? xstrdup(cm->header_value) : NULL;
    m->max_body = cm->max_body;
    const struct config_anonymize *a = &cm->anonymize;
    m->anon.drop_headers = strv_dup(a->drop_headers, a->ndrop_headers);
    m->anon.ndrop_headers = a->ndrop_headers;
    m->anon.hash_headers = strv_dup(a->hash_headers, a->nhash_headers);
    m->anon.nhash_headers = a->nhash_headers;
    m->anon.hash_query = strv_dup(a->hash_query, a->nhash_query);
    m->anon.nhash_query = a->nhash_query;
    m->anon.strip_query = strv_dup(a->strip_query, a->nstrip_query);
    m->anon.nstrip_query = a->nstrip_query;
    m->anon.hash_client_ip = a->hash_client_ip;
    m->anon.key_len = a->key_len < sizeof(m->anon.key) ? a->key_len : sizeof(m->anon.key);
    memcpy(m->anon.key, a->key, m->anon.key_len);
    m->anon.prepared = hmac_key_new(m->anon.key, m->anon.key_len);
}

static void build_route(struct rt_route *r, const struct rt_service *s,
                        const struct config_route *cr, struct metrics *m)
{
    r->name = xstrdup(cr->name);
    r->path_prefix = xstrdup(cr->path_prefix);
    r->prefix_len = strlen(cr->path_prefix);
    build_mirror(&r->mirror, &cr->mirror);
    r->primary_series = metrics_series_get(m, s->name, "primary", r->name);
    r->shadow_series = xcalloc(s->nshadows ? s->nshadows : 1, sizeof(*r->shadow_series));
    r->mirror_series = xcalloc(s->nshadows ? s->nshadows : 1, sizeof(*r->mirror_series));
    for (size_t i = 0; i < s->nshadows; i++) {
        r->shadow_series[i] = metrics_series_get(m, s->name, s->shadows[i].name, r->name);
        r->mirror_series[i] = metrics_mirror_get(m, s->name, r->name, s->shadows[i].name);
    }
}

static int build_service(struct rt_service *s, const struct config_service *cs, struct metrics *m,
                         struct err *err)
{
    s->service_id = router_id_service(cs->name);
    s->name = xstrdup(cs->name);
    s->listen = xstrdup(cs->listen);
    s->limits.max_connections = cs->limits.max_connections;
    s->limits.max_header_bytes = cs->limits.max_header_bytes;
    s->limits.max_body_bytes = cs->limits.max_body_bytes;
    s->limits.client_timeout_ns = cs->limits.client_timeout_ns;
    s->limits.keepalive_timeout_ns = cs->limits.keepalive_timeout_ns;
    s->limits.drain_timeout_ns = cs->limits.drain_timeout_ns;
    s->body_cap = cs->compare_body_cap;
    int rc = build_pool(&s->primary, cs->name, &cs->primary, false, err);
    if (rc)
        return rc;
    s->nshadows = cs->nshadows;
    s->shadows = xcalloc(cs->nshadows ? cs->nshadows : 1, sizeof(*s->shadows));
    for (size_t i = 0; i < cs->nshadows; i++)
        if ((rc = build_pool(&s->shadows[i], cs->name, &cs->shadows[i], true, err)) != 0)
            return rc;
    s->nroutes = cs->nroutes;
    s->routes = xcalloc(cs->nroutes ? cs->nroutes : 1, sizeof(*s->routes));
    for (size_t i = 0; i < cs->nroutes; i++)
        build_route(&s->routes[i], s, &cs->routes[i], m);
    return 0;
}

_Static_assert(CONFIG_MAX_SHADOWS <= RT_MAX_SHADOWS,
               "the mirror sizes per-request arrays by RT_MAX_SHADOWS");

struct route_table *router_build(const struct config *cfg, struct metrics *m, struct err *err)
{
    struct route_table *t = route_table_new(cfg->nservices);
    for (size_t i = 0; i < cfg->nservices; i++) {
        if (build_service(&t->services[i], &cfg->services[i], m, err) != 0) {
            route_table_unref(t);
            return NULL;
        }
    }
    return t;
}
