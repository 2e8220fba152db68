/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chaos_set: the data path's side of the chaos room — the published fault set, a worker's
 * view of it, and the per-copy evaluation (see chaos.h). Nothing here locks or allocates
 * but the rare re-take of a reference after a publish, which is a few atomic operations.
 */
#include <stdint.h>
#include <stdlib.h>

#include "chaos/chaos.h"

struct chaos_set *chaos_set_ref(struct chaos_set *s)
{
    if (s)
        atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void chaos_set_unref(struct chaos_set *s)
{
    if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < s->n; i++)
        chaos_experiment_unref(s->items[i].exp);
    free(s);
}

/* Experiments are freed by whoever drops the last reference: the registry, or a worker
 * dropping an old set. Their faults and stats are plain memory, so any thread may. */
struct chaos_experiment *chaos_experiment_ref(struct chaos_experiment *e)
{
    atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
    return e;
}

void chaos_experiment_unref(struct chaos_experiment *e)
{
    if (!e || atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < e->nfaults; i++)
        fault_release(&e->faults[i]);
    free(e->faults);
    free(e->stats);
    free(e->runs);
    free(e->name);
    free(e);
}

const struct chaos_set *chaos_view_get(struct chaos_view *v, struct chaos *c)
{
    uint64_t g = atomic_load(&c->generation);
    if (g == v->generation)
        return v->set;
    /* The publisher waits for `readers` to reach zero after swapping before it drops the
     * old set, so the set loaded here cannot be freed before the reference is taken. */
    atomic_fetch_add(&c->readers, 1);
    struct chaos_set *s = chaos_set_ref(atomic_load(&c->current));
    atomic_fetch_sub(&c->readers, 1);
    chaos_set_unref(v->set);
    v->set = s;
    v->generation = g;
    return s;
}

void chaos_view_release(struct chaos_view *v)
{
    chaos_set_unref(v->set);
    v->set = NULL;
    v->generation = 0;
}

void chaos_set_eval(const struct chaos_set *s, const struct fault_probe *p, uint64_t now_ns,
                    struct rng *rng, struct fault_decision *d)
{
    if (!s || (p->primary && !s->allow_primary))
        return;
    if (p->instance && !s->has_instance_scope)
        return;
    for (size_t i = 0; i < s->n; i++) {
        const struct chaos_set_item *it = &s->items[i];
        const struct fault *f = it->fault;
        if (fault_kind_is_instance(f->kind) || now_ns < it->start_ns || now_ns >= it->end_ns)
            continue;
        if (!fault_scheduled(f, now_ns - it->start_ns) || !fault_in_scope(f, p))
            continue;
        if (!fault_fires(f, rng))
            continue;
        fault_apply(f, rng, d);
        fault_stats_hit(it->stats, p);
    }
}
