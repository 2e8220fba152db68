/* SPDX-License-Identifier: Apache-2.0 */
/*
 * provision_sample: resource samples of the process driver's instances -- CPU % since the
 * previous sample and CPU seconds so far (a counter that adds each sample's increase, so it
 * keeps growing across restarts: a new process starts from 0 ticks), resident memory, threads and
 * open descriptors from /proc, memory and CPU from the instance's cgroup -- and their Prometheus
 * exposition, labelled with the instance labels (service, pool, role, shadow_of, change_id,
 * instance).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "provision/provision_inst.h"
#include "provision/provision_proc.h"
#include "provision/provision_process.h"

static void sample_inst(struct pinst *in)
{
    struct pproc_stat st;
    if (!in->running || pproc_read_stat(in->info.pid, &st) != 0)
        return;
    uint64_t now = clock_mono_ns();
    struct provision_sample *s = &in->last;
    long hz = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    if (st.cpu_ticks >= in->sample_prev_ticks) /* else a stale pid read; the next one counts */
        in->cpu_ticks_total += st.cpu_ticks - in->sample_prev_ticks;
    s->cpu_seconds_total = (double)in->cpu_ticks_total / (double)hz;
    if (in->sample_prev_ns && now > in->sample_prev_ns && st.cpu_ticks >= in->sample_prev_ticks)
        s->cpu_percent = 100.0 * (double)(st.cpu_ticks - in->sample_prev_ticks) / (double)hz /
                         ((double)(now - in->sample_prev_ns) / 1e9);
    in->sample_prev_ticks = st.cpu_ticks;
    in->sample_prev_ns = now;
    s->rss_bytes = st.rss_pages * (uint64_t)page;
    s->threads = st.threads;
    int fds = pproc_count_fds(in->info.pid);
    s->open_fds = fds > 0 ? (uint32_t)fds : 0;
    pcgroup_usage(&in->cg, &s->cgroup_memory_bytes, &s->cgroup_cpu_usec);
    s->at_ms = clock_wall_ns() / CLOCK_NS_PER_MS;
}

int psample_one(struct provision *p, const char *id, struct provision_sample *out)
{
    struct pprov *pp = (struct pprov *)p;
    struct list *it, *t;
    list_for_each_safe(it, t, &pp->instances)
    {
        struct pinst *in = list_entry(it, struct pinst, node);
        if (strcmp(in->info.id, id) != 0)
            continue;
        if (!in->running)
            return -ESRCH;
        sample_inst(in);
        *out = in->last;
        return 0;
    }
    return -ENOENT;
}

void provision_process_sample_all(struct provision *p)
{
    struct pprov *pp = (struct pprov *)p;
    struct list *it, *t;
    list_for_each_safe(it, t, &pp->instances) sample_inst(list_entry(it, struct pinst, node));
}

static int labels(struct buf *out, const struct provision_instance *i)
{
    return buf_printf(out,
                      "{service=\"%s\",pool=\"%s\",role=\"%s\",shadow_of=\"%s\",change_id=\"%s\","
                      "instance=\"%s\"}",
                      i->service, i->pool, provision_role_name(i->role), i->shadow_of, i->change_id,
                      i->id);
}

struct gauge {
    const char *name, *type, *help;
};

static const struct gauge gauges[] = {
    {"doppel_instance_up", "gauge", "1 while the instance is ready, else 0"},
    {"doppel_instance_cpu_percent", "gauge", "CPU use since the previous sample (100 = one core)"},
    {"doppel_instance_rss_bytes", "gauge", "resident memory"},
    {"doppel_instance_threads", "gauge", "threads"},
    {"doppel_instance_open_fds", "gauge", "open file descriptors"},
    {"doppel_instance_cgroup_memory_bytes", "gauge", "memory charged to the instance's cgroup"},
    {"doppel_instance_restarts_total", "counter", "restarts by the restart policy or on request"},
    {"doppel_instance_oom_kills_total", "counter", "kills by the OOM killer (cgroup memory limit)"},
    {"doppel_instance_cpu_seconds_total", "counter",
     "CPU time (user + system) of the instance's processes, as of the latest sample"},
};
enum { GAUGE_CPU_SECONDS = 8 }; /* its index above */

static double gauge_value(int g, const struct pinst *in)
{
    const struct provision_sample *s = &in->last;
    bool live = in->running;
    switch (g) {
    case 0:
        return in->info.state == PROVISION_READY;
    case 1:
        return live ? s->cpu_percent : 0;
    case 2:
        return live ? (double)s->rss_bytes : 0;
    case 3:
        return live ? s->threads : 0;
    case 4:
        return live ? s->open_fds : 0;
    case 5:
        return live ? (double)s->cgroup_memory_bytes : 0;
    case 6:
        return in->info.restarts;
    case 7:
        return in->info.oom_kills;
    default:
        return s->cpu_seconds_total; /* a counter: kept while the instance is down */
    }
}

int provision_process_write_metrics(struct provision *p, struct buf *out)
{
    struct pprov *pp = (struct pprov *)p;
    int rc = 0;
    if (list_empty(&pp->instances))
        return 0;
    for (int g = 0; g < (int)(sizeof(gauges) / sizeof(gauges[0])) && !rc; g++) {
        rc = buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", gauges[g].name, gauges[g].help,
                        gauges[g].name, gauges[g].type);
        struct list *it, *t;
        list_for_each_safe(it, t, &pp->instances)
        {
            struct pinst *in = list_entry(it, struct pinst, node);
            if (!rc)
                rc = buf_appends(out, gauges[g].name);
            if (!rc)
                rc = labels(out, &in->info);
            /* CPU seconds grow large; "%.6g" would round away the increase of one step */
            if (!rc)
                rc = buf_printf(out, g == GAUGE_CPU_SECONDS ? " %.3f\n" : " %.6g\n",
                                gauge_value(g, in));
        }
    }
    return rc;
}
