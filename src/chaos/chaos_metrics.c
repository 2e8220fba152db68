/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chaos_metrics: the chaos room's counters in Prometheus text format, appended to the
 * observer's exposition by the admin /metrics handler: fault activations, affected
 * requests by experiment, fault kind and pool, active experiments, kill switch uses.
 */
#include <errno.h>
#include <string.h>

#include "chaos/chaos.h"

static int write_events(struct buf *b, const struct chaos_experiment *e)
{
    int rc = 0;
    for (size_t i = 0; i < e->nfaults && !rc; i++) {
        const char *k = fault_kind_name(e->faults[i].kind);
        rc = buf_printf(b,
                        "doppel_chaos_fault_events_total{experiment=\"%s\",id=\"%s\",fault=\"%zu\","
                        "kind=\"%s\",event=\"started\"} %llu\n"
                        "doppel_chaos_fault_events_total{experiment=\"%s\",id=\"%s\",fault=\"%zu\","
                        "kind=\"%s\",event=\"stopped\"} %llu\n",
                        e->name, e->id, i, k, (unsigned long long)e->runs[i].started, e->name,
                        e->id, i, k, (unsigned long long)e->runs[i].stopped);
    }
    return rc;
}

/* Adds up the slots a pool may hold more than once (see fault_stats_hit). */
static uint64_t pool_sum(const struct fault_stats *st, size_t first)
{
    const struct fault_pool_count *c0 = &st->pools[first];
    uint64_t n = 0;
    for (size_t j = 0; j < FAULT_POOL_SLOTS; j++) {
        const struct fault_pool_count *c = &st->pools[j];
        if (atomic_load(&c->state) == 2 && c->pool_id == c0->pool_id) {
            if (j < first)
                return UINT64_MAX; /* counted with its first slot */
            n += atomic_load(&c->count);
        }
    }
    return n;
}

static int write_affected(struct buf *b, const struct chaos_experiment *e)
{
    int rc = 0;
    for (size_t i = 0; i < e->nfaults && !rc; i++) {
        const struct fault_stats *st = &e->stats[i];
        const char *k = fault_kind_name(e->faults[i].kind);
        for (size_t j = 0; j < FAULT_POOL_SLOTS && !rc; j++) {
            const struct fault_pool_count *c = &st->pools[j];
            uint64_t n = atomic_load(&c->state) == 2 ? pool_sum(st, j) : UINT64_MAX;
            if (n == UINT64_MAX)
                continue;
            rc = buf_printf(b,
                            "doppel_chaos_affected_requests_total{experiment=\"%s\",id=\"%s\","
                            "fault=\"%zu\",kind=\"%s\",service=\"%s\",pool=\"%s\"} %llu\n",
                            e->name, e->id, i, k, c->service, c->pool, (unsigned long long)n);
        }
        uint64_t other = atomic_load(&st->other);
        if (!rc && other)
            rc = buf_printf(b,
                            "doppel_chaos_affected_requests_total{experiment=\"%s\",id=\"%s\","
                            "fault=\"%zu\",kind=\"%s\",service=\"\",pool=\"other\"} %llu\n",
                            e->name, e->id, i, k, (unsigned long long)other);
    }
    return rc;
}

int chaos_write_prometheus(struct chaos *c, struct buf *out)
{
    struct buf b;
    buf_init(&b, out->max > out->len ? out->max - out->len : 0);
    pthread_mutex_lock(&c->mu);
    unsigned active = 0;
    for (size_t i = 0; i < c->nexps; i++)
        active += c->exps[i]->state == CHAOS_RUNNING;
    int rc = buf_printf(&b,
                        "# HELP doppel_chaos_experiments_active Experiments running now.\n"
                        "# TYPE doppel_chaos_experiments_active gauge\n"
                        "doppel_chaos_experiments_active %u\n"
                        "# HELP doppel_chaos_kill_switch_total Uses of the kill switch.\n"
                        "# TYPE doppel_chaos_kill_switch_total counter\n"
                        "doppel_chaos_kill_switch_total %llu\n"
                        "# HELP doppel_chaos_fault_events_total Faults switched on (started) "
                        "and off (stopped).\n"
                        "# TYPE doppel_chaos_fault_events_total counter\n",
                        active, (unsigned long long)c->kill_switches);
    for (size_t i = 0; i < c->nexps && !rc; i++)
        rc = write_events(&b, c->exps[i]);
    if (!rc)
        rc = buf_appends(&b, "# HELP doppel_chaos_affected_requests_total Copies a fault "
                             "changed, by experiment, fault kind and pool.\n"
                             "# TYPE doppel_chaos_affected_requests_total counter\n");
    for (size_t i = 0; i < c->nexps && !rc; i++)
        rc = write_affected(&b, c->exps[i]);
    pthread_mutex_unlock(&c->mu);
    if (!rc)
        rc = buf_append(out, b.data, b.len);
    buf_release(&b);
    return rc ? -ENOSPC : 0;
}
