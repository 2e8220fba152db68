/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router: route table publication, id registry and mirror decisions (see router.h).
 */
#include "router/router.h"

#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "base/xalloc.h"

void router_init(struct router *r)
{
    pthread_mutex_init(&r->mu, NULL);
    r->current = NULL;
    atomic_init(&r->generation, 0);
}

void router_release(struct router *r)
{
    route_table_unref(r->current);
    r->current = NULL;
    pthread_mutex_destroy(&r->mu);
}

uint64_t router_publish(struct router *r, struct route_table *t)
{
    pthread_mutex_lock(&r->mu);
    struct route_table *old = r->current;
    uint64_t gen = atomic_load(&r->generation) + 1;
    t->generation = gen;
    r->current = t;
    atomic_store_explicit(&r->generation, gen, memory_order_release);
    pthread_mutex_unlock(&r->mu);
    route_table_unref(old);
    return gen;
}

struct route_table *router_acquire(struct router *r)
{
    pthread_mutex_lock(&r->mu);
    struct route_table *t = r->current ? route_table_ref(r->current) : NULL;
    pthread_mutex_unlock(&r->mu);
    return t;
}

/* ---- ids ----------------------------------------------------------------------------- */

struct idmap {
    char **names;
    size_t n, cap;
};

static pthread_mutex_t ids_mu = PTHREAD_MUTEX_INITIALIZER;
static struct idmap ids_service, ids_pool, ids_host; /* guarded by ids_mu */

static uint32_t idmap_get(struct idmap *m, const char *name)
{
    pthread_mutex_lock(&ids_mu);
    uint32_t id;
    for (id = 0; id < m->n; id++)
        if (strcmp(m->names[id], name) == 0)
            goto out;
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->names = xreallocarray(m->names, m->cap, sizeof(char *));
    }
    m->names[m->n] = xstrdup(name);
    id = (uint32_t)m->n++;
out:
    pthread_mutex_unlock(&ids_mu);
    return id;
}

uint32_t router_id_service(const char *service)
{
    return idmap_get(&ids_service, service);
}

uint32_t router_id_pool(const char *service, const char *pool)
{
    char *k = xasprintf("%s\n%s", service, pool);
    uint32_t id = idmap_get(&ids_pool, k);
    free(k);
    return id;
}

uint32_t router_id_host(const char *address)
{
    return idmap_get(&ids_host, address);
}

/* ---- mirror decision ----------------------------------------------------------------- */

static bool method_allowed(const struct rt_mirror *m, const struct http_head *req)
{
    for (size_t i = 0; i < m->nmethods; i++)
        if (str_ieqz(req->method, req->method_len, m->methods[i]))
            return true;
    return false;
}

static bool path_allowed(const struct rt_mirror *m, const struct http_head *req)
{
    if (m->npath_prefixes == 0)
        return true;
    size_t plen = http_target_path_len(req->target, req->target_len);
    for (size_t i = 0; i < m->npath_prefixes; i++)
        if (str_has_prefix(req->target, plen, m->path_prefixes[i]))
            return true;
    return false;
}

static bool header_allowed(const struct rt_mirror *m, const struct http_head *req)
{
    if (!m->header_name)
        return true;
    const struct http_header *h = http_head_find(req, m->header_name);
    if (!h)
        return false;
    return !m->header_value || (h->value_len == strlen(m->header_value) &&
                                memcmp(h->value, m->header_value, h->value_len) == 0);
}

enum router_mirror router_mirror_decide(const struct rt_route *route, const struct http_head *req,
                                        struct rng *rng)
{
    const struct rt_mirror *m = &route->mirror;
    if ((req->flags & HTTP_HEAD_UPGRADE) || !method_allowed(m, req))
        return ROUTER_MIRROR_FILTERED_METHOD;
    if (!path_allowed(m, req))
        return ROUTER_MIRROR_FILTERED_PATH;
    if (!header_allowed(m, req))
        return ROUTER_MIRROR_FILTERED_HEADER;
    if (!sample_take(rng, m->percent_bp))
        return ROUTER_MIRROR_NOT_SAMPLED;
    if ((req->flags & HTTP_HEAD_HAS_LENGTH) && req->content_length > m->max_body)
        return ROUTER_MIRROR_BODY_TOO_LARGE;
    return ROUTER_MIRROR_SAMPLED;
}
