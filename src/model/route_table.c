/* SPDX-License-Identifier: Apache-2.0 */
/*
 * route_table: lifetime (refcount), deep copy and matching of route tables.
 */
#include "model/route_table.h"

#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "model/hmac_key.h"

static char **strv_copy(char *const *v, size_t n)
{
    if (!n)
        return NULL;
    char **c = xcalloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        c[i] = xstrdup(v[i]);
    return c;
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static char *str_copy(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

struct route_table *route_table_new(size_t nservices)
{
    struct route_table *t = xcalloc(1, sizeof(*t));
    atomic_init(&t->refs, 1);
    t->nservices = nservices;
    t->services = xcalloc(nservices ? nservices : 1, sizeof(*t->services));
    return t;
}

struct route_table *route_table_ref(struct route_table *t)
{
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    return t;
}

void rt_pool_release(struct rt_pool *p)
{
    free(p->name);
    for (size_t i = 0; i < p->nups; i++) {
        free(p->ups[i].address);
        free(p->ups[i].netns);
    }
    free(p->ups);
    free(p->health.check_path);
    memset(p, 0, sizeof(*p));
}

void rt_pool_copy(struct rt_pool *dst, const struct rt_pool *src)
{
    *dst = *src;
    dst->name = str_copy(src->name);
    dst->health.check_path = str_copy(src->health.check_path);
    dst->ups = xcalloc(src->nups ? src->nups : 1, sizeof(*dst->ups));
    for (size_t i = 0; i < src->nups; i++) {
        dst->ups[i] = src->ups[i];
        dst->ups[i].address = xstrdup(src->ups[i].address);
        dst->ups[i].netns = str_copy(src->ups[i].netns);
    }
}

void rt_mirror_release(struct rt_mirror *m)
{
    strv_free(m->methods, m->nmethods);
    strv_free(m->path_prefixes, m->npath_prefixes);
    free(m->header_name);
    free(m->header_value);
    strv_free(m->anon.drop_headers, m->anon.ndrop_headers);
    strv_free(m->anon.hash_headers, m->anon.nhash_headers);
    strv_free(m->anon.hash_query, m->anon.nhash_query);
    strv_free(m->anon.strip_query, m->anon.nstrip_query);
    hmac_key_free(m->anon.prepared);
    memset(m, 0, sizeof(*m));
}

void rt_mirror_copy(struct rt_mirror *dst, const struct rt_mirror *src)
{
    *dst = *src;
    dst->methods = strv_copy(src->methods, src->nmethods);
    dst->path_prefixes = strv_copy(src->path_prefixes, src->npath_prefixes);
    dst->header_name = str_copy(src->header_name);
    dst->header_value = str_copy(src->header_value);
    dst->anon.drop_headers = strv_copy(src->anon.drop_headers, src->anon.ndrop_headers);
    dst->anon.hash_headers = strv_copy(src->anon.hash_headers, src->anon.nhash_headers);
    dst->anon.hash_query = strv_copy(src->anon.hash_query, src->anon.nhash_query);
    dst->anon.strip_query = strv_copy(src->anon.strip_query, src->anon.nstrip_query);
    dst->anon.prepared = src->anon.prepared ? hmac_key_new(src->anon.key, src->anon.key_len) : NULL;
}

static void service_release(struct rt_service *s)
{
    free(s->name);
    free(s->listen);
    rt_pool_release(&s->primary);
    for (size_t i = 0; i < s->nshadows; i++)
        rt_pool_release(&s->shadows[i]);
    free(s->shadows);
    for (size_t i = 0; i < s->nroutes; i++) {
        struct rt_route *r = &s->routes[i];
        free(r->name);
        free(r->path_prefix);
        rt_mirror_release(&r->mirror);
        free(r->shadow_series);
        free(r->mirror_series);
    }
    free(s->routes);
}

void route_table_unref(struct route_table *t)
{
    if (!t || atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < t->nservices; i++)
        service_release(&t->services[i]);
    free(t->services);
    free(t);
}

static void route_copy(struct rt_route *d, const struct rt_route *s, size_t nshadows)
{
    *d = *s;
    d->name = xstrdup(s->name);
    d->path_prefix = xstrdup(s->path_prefix);
    rt_mirror_copy(&d->mirror, &s->mirror);
    d->shadow_series = xcalloc(nshadows ? nshadows : 1, sizeof(*d->shadow_series));
    d->mirror_series = xcalloc(nshadows ? nshadows : 1, sizeof(*d->mirror_series));
    if (nshadows) {
        memcpy(d->shadow_series, s->shadow_series, nshadows * sizeof(*d->shadow_series));
        memcpy(d->mirror_series, s->mirror_series, nshadows * sizeof(*d->mirror_series));
    }
}

struct route_table *route_table_clone(const struct route_table *t)
{
    struct route_table *c = route_table_new(t->nservices);
    c->generation = t->generation + 1;
    for (size_t i = 0; i < t->nservices; i++) {
        const struct rt_service *s = &t->services[i];
        struct rt_service *d = &c->services[i];
        *d = *s;
        d->name = xstrdup(s->name);
        d->listen = str_copy(s->listen);
        rt_pool_copy(&d->primary, &s->primary);
        d->shadows = xcalloc(s->nshadows ? s->nshadows : 1, sizeof(*d->shadows));
        for (size_t j = 0; j < s->nshadows; j++)
            rt_pool_copy(&d->shadows[j], &s->shadows[j]);
        d->routes = xcalloc(s->nroutes ? s->nroutes : 1, sizeof(*d->routes));
        for (size_t j = 0; j < s->nroutes; j++)
            route_copy(&d->routes[j], &s->routes[j], s->nshadows);
    }
    return c;
}

const struct rt_service *route_table_service(const struct route_table *t, const char *name)
{
    for (size_t i = 0; i < t->nservices; i++)
        if (strcmp(t->services[i].name, name) == 0)
            return &t->services[i];
    return NULL;
}

const struct rt_route *route_table_match(const struct rt_service *s, const char *path, size_t len)
{
    for (size_t i = 0; i < s->nroutes; i++) {
        const struct rt_route *r = &s->routes[i];
        if (len >= r->prefix_len && memcmp(path, r->path_prefix, r->prefix_len) == 0)
            return r;
    }
    return s->nroutes ? &s->routes[s->nroutes - 1] : NULL;
}
