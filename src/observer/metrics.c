/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics: the observer's registry (series lookup, per-worker shards, hot-path updates,
 * snapshots) and its Prometheus text exposition, which the admin API serves on /metrics.
 * The registry owns every series and its shards; series are freed only with the registry.
 */
#include "observer/metrics.h"

#include "base/err.h"
#include "base/list.h"
#include "base/xalloc.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Shards end with a cache line of padding so that two workers never write the same line. */
#define METRICS_PAD 64

struct metrics_series_shard {
    struct hist latency;
    _Atomic uint64_t status[METRICS_CLASS_COUNT];
    _Atomic uint64_t upstream[METRICS_UPSTREAM_COUNT];
    _Atomic uint64_t bytes_in, bytes_out;
    char pad[METRICS_PAD];
};

struct metrics_mirror_shard {
    _Atomic uint64_t decisions[METRICS_DECISION_COUNT];
    _Atomic uint64_t drops[METRICS_DROP_COUNT];
    char pad[METRICS_PAD];
};

struct metrics_service_shard {
    _Atomic uint64_t accepted, closed, refused;
    _Atomic uint64_t rejected[METRICS_REJECT_COUNT];
    char pad[METRICS_PAD];
};

struct metrics_service {
    struct list node; /* in metrics.services */
    char *name;       /* owned */
    unsigned nshards;
    struct metrics_service_shard *shards; /* owned, nshards */
};

struct metrics_series {
    struct list node;            /* in metrics.series */
    struct metrics_service *svc; /* borrowed from the registry */
    char *pool, *route;          /* owned */
    unsigned nshards;
    struct metrics_series_shard *shards; /* owned, nshards */
};

struct metrics_mirror {
    struct list node;            /* in metrics.mirrors */
    struct metrics_service *svc; /* borrowed from the registry */
    char *route, *shadow;        /* owned */
    unsigned nshards;
    struct metrics_mirror_shard *shards; /* owned, nshards */
};

struct metrics {
    pthread_mutex_t lock; /* guards the three lists, not the counters */
    unsigned nworkers;
    char *version; /* owned */
    struct list services, series, mirrors;
    metrics_extra_cb *extra; /* set once before serving */
    void *extra_ctx;
};

const uint64_t metrics_le_ns[METRICS_LE_COUNT] = {
    500000ULL,     1000000ULL,     2500000ULL,     5000000ULL,     10000000ULL,
    25000000ULL,   50000000ULL,    75000000ULL,    100000000ULL,   250000000ULL,
    500000000ULL,  750000000ULL,   1000000000ULL,  2500000000ULL,  5000000000ULL,
    7500000000ULL, 10000000000ULL, 20000000000ULL, 30000000000ULL, 60000000000ULL,
};
const char *const metrics_le_text[METRICS_LE_COUNT] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25",
    "0.5",    "0.75",  "1",      "2.5",   "5",    "7.5",   "10",   "20",    "30",  "60",
};

static const char *const class_names[METRICS_CLASS_COUNT] = {
    [METRICS_CLASS_1XX] = "1xx", [METRICS_CLASS_2XX] = "2xx", [METRICS_CLASS_3XX] = "3xx",
    [METRICS_CLASS_4XX] = "4xx", [METRICS_CLASS_5XX] = "5xx", [METRICS_CLASS_OTHER] = "other",
};
static const char *const upstream_names[METRICS_UPSTREAM_COUNT] = {
    [METRICS_UPSTREAM_REFUSED] = "refused", [METRICS_UPSTREAM_RESET] = "reset",
    [METRICS_UPSTREAM_TIMEOUT] = "timeout", [METRICS_UPSTREAM_BAD_RESPONSE] = "bad_response",
    [METRICS_UPSTREAM_OTHER] = "other",
};
static const char *const decision_names[METRICS_DECISION_COUNT] = {
    [METRICS_DECISION_SAMPLED] = "sampled",
    [METRICS_DECISION_NOT_SAMPLED] = "not_sampled",
    [METRICS_DECISION_FILTERED_METHOD] = "filtered_method",
    [METRICS_DECISION_FILTERED_PATH] = "filtered_path",
    [METRICS_DECISION_FILTERED_HEADER] = "filtered_header",
    [METRICS_DECISION_BODY_TOO_LARGE] = "body_too_large",
};
static const char *const drop_names[METRICS_DROP_COUNT] = {
    [METRICS_DROP_INFLIGHT_LIMIT] = "inflight_limit",
    [METRICS_DROP_BYTES_LIMIT] = "bytes_limit",
    [METRICS_DROP_CONNECT_FAILED] = "connect_failed",
    [METRICS_DROP_TIMEOUT] = "timeout",
    [METRICS_DROP_RESET] = "reset",
    [METRICS_DROP_BAD_RESPONSE] = "bad_response",
    [METRICS_DROP_DRAINING] = "draining",
    [METRICS_DROP_OTHER] = "other",
};
static const struct {
    int status;
    const char *name;
} reject_table[METRICS_REJECT_COUNT] = {
    [METRICS_REJECT_400] = {400, "400"}, [METRICS_REJECT_408] = {408, "408"},
    [METRICS_REJECT_413] = {413, "413"}, [METRICS_REJECT_431] = {431, "431"},
    [METRICS_REJECT_502] = {502, "502"}, [METRICS_REJECT_503] = {503, "503"},
    [METRICS_REJECT_504] = {504, "504"}, [METRICS_REJECT_OTHER] = {0, "other"},
};

/* Out-of-range enum values are caller bugs; naming them "other" keeps output parseable. */
#define NAME_OF(table, count, i) ((unsigned)(i) < (count) ? (table)[i] : "other")

const char *metrics_class_name(enum metrics_class c)
{
    return NAME_OF(class_names, METRICS_CLASS_COUNT, c);
}

const char *metrics_upstream_error_name(enum metrics_upstream_error kind)
{
    return NAME_OF(upstream_names, METRICS_UPSTREAM_COUNT, kind);
}

const char *metrics_decision_name(enum metrics_decision d)
{
    return NAME_OF(decision_names, METRICS_DECISION_COUNT, d);
}

const char *metrics_drop_name(enum metrics_drop reason)
{
    return NAME_OF(drop_names, METRICS_DROP_COUNT, reason);
}

const char *metrics_reject_name(enum metrics_reject r)
{
    return (unsigned)r < METRICS_REJECT_COUNT ? reject_table[r].name : "other";
}

enum metrics_upstream_error metrics_upstream_error_of(enum exchange_error e)
{
    switch (e) {
    case EXCHANGE_E_REFUSED:
        return METRICS_UPSTREAM_REFUSED;
    case EXCHANGE_E_TIMEOUT:
        return METRICS_UPSTREAM_TIMEOUT;
    case EXCHANGE_E_RESET:
        return METRICS_UPSTREAM_RESET;
    case EXCHANGE_E_BAD_RESPONSE:
        return METRICS_UPSTREAM_BAD_RESPONSE;
    default:
        return METRICS_UPSTREAM_OTHER;
    }
}

enum metrics_class metrics_class_of(int status)
{
    if (status < 100 || status > 599)
        return METRICS_CLASS_OTHER;
    return (enum metrics_class)(status / 100 - 1);
}

enum metrics_reject metrics_reject_of(int status)
{
    for (unsigned i = 0; i < METRICS_REJECT_OTHER; i++)
        if (reject_table[i].status == status)
            return (enum metrics_reject)i;
    return METRICS_REJECT_OTHER;
}

/* ---- the single-writer counter primitive ---- */

static inline void add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static inline uint64_t get(const _Atomic uint64_t *c)
{
    return atomic_load_explicit((_Atomic uint64_t *)c, memory_order_relaxed);
}

/* ---- registry ---- */

struct metrics *metrics_new(unsigned nworkers, const char *version)
{
    BUG_ON(nworkers == 0);
    struct metrics *m = xcalloc(1, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
    m->nworkers = nworkers;
    m->version = xstrdup(version ? version : "");
    list_init(&m->services);
    list_init(&m->series);
    list_init(&m->mirrors);
    return m;
}

void metrics_free(struct metrics *m)
{
    if (!m)
        return;
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &m->series)
    {
        struct metrics_series *s = list_entry(pos, struct metrics_series, node);
        free(s->pool);
        free(s->route);
        free(s->shards);
        free(s);
    }
    list_for_each_safe(pos, tmp, &m->mirrors)
    {
        struct metrics_mirror *ms = list_entry(pos, struct metrics_mirror, node);
        free(ms->route);
        free(ms->shadow);
        free(ms->shards);
        free(ms);
    }
    list_for_each_safe(pos, tmp, &m->services)
    {
        struct metrics_service *svc = list_entry(pos, struct metrics_service, node);
        free(svc->name);
        free(svc->shards);
        free(svc);
    }
    pthread_mutex_destroy(&m->lock);
    free(m->version);
    free(m);
}

unsigned metrics_workers(const struct metrics *m)
{
    return m->nworkers;
}

/* Shards come zeroed from xcalloc; all-zero is a valid start for every counter. */
static struct metrics_service *service_find_locked(struct metrics *m, const char *name)
{
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &m->services)
    {
        struct metrics_service *svc = list_entry(pos, struct metrics_service, node);
        if (strcmp(svc->name, name) == 0)
            return svc;
    }
    struct metrics_service *svc = xcalloc(1, sizeof(*svc));
    svc->name = xstrdup(name);
    svc->nshards = m->nworkers;
    svc->shards = xcalloc(m->nworkers, sizeof(*svc->shards));
    list_insert_tail(&m->services, &svc->node);
    return svc;
}

struct metrics_service *metrics_service_get(struct metrics *m, const char *service)
{
    BUG_ON(!service);
    pthread_mutex_lock(&m->lock);
    struct metrics_service *svc = service_find_locked(m, service);
    pthread_mutex_unlock(&m->lock);
    return svc;
}

static struct metrics_series *series_find_locked(struct metrics *m, const char *service,
                                                 const char *pool, const char *route)
{
    struct metrics_service *svc = service_find_locked(m, service);
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &m->series)
    {
        struct metrics_series *s = list_entry(pos, struct metrics_series, node);
        if (s->svc == svc && strcmp(s->pool, pool) == 0 && strcmp(s->route, route) == 0)
            return s;
    }
    struct metrics_series *s = xcalloc(1, sizeof(*s));
    s->svc = svc;
    s->pool = xstrdup(pool);
    s->route = xstrdup(route);
    s->nshards = m->nworkers;
    s->shards = xcalloc(m->nworkers, sizeof(*s->shards));
    for (unsigned i = 0; i < m->nworkers; i++)
        hist_init(&s->shards[i].latency);
    list_insert_tail(&m->series, &s->node);
    return s;
}

struct metrics_series *metrics_series_get(struct metrics *m, const char *service, const char *pool,
                                          const char *route)
{
    BUG_ON(!service || !pool || !route);
    pthread_mutex_lock(&m->lock);
    struct metrics_series *s = series_find_locked(m, service, pool, route);
    pthread_mutex_unlock(&m->lock);
    return s;
}

static struct metrics_mirror *mirror_find_locked(struct metrics *m, const char *service,
                                                 const char *route, const char *shadow)
{
    struct metrics_service *svc = service_find_locked(m, service);
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &m->mirrors)
    {
        struct metrics_mirror *ms = list_entry(pos, struct metrics_mirror, node);
        if (ms->svc == svc && strcmp(ms->route, route) == 0 && strcmp(ms->shadow, shadow) == 0)
            return ms;
    }
    struct metrics_mirror *ms = xcalloc(1, sizeof(*ms));
    ms->svc = svc;
    ms->route = xstrdup(route);
    ms->shadow = xstrdup(shadow);
    ms->nshards = m->nworkers;
    ms->shards = xcalloc(m->nworkers, sizeof(*ms->shards));
    list_insert_tail(&m->mirrors, &ms->node);
    return ms;
}

struct metrics_mirror *metrics_mirror_get(struct metrics *m, const char *service, const char *route,
                                          const char *shadow)
{
    BUG_ON(!service || !route || !shadow);
    pthread_mutex_lock(&m->lock);
    struct metrics_mirror *ms = mirror_find_locked(m, service, route, shadow);
    pthread_mutex_unlock(&m->lock);
    return ms;
}

void metrics_series_each(struct metrics *m, metrics_series_cb *cb, void *arg)
{
    struct list *pos, *tmp;
    pthread_mutex_lock(&m->lock);
    list_for_each_safe(pos, tmp, &m->series)
    {
        struct metrics_series *s = list_entry(pos, struct metrics_series, node);
        cb(s, s->svc->name, s->pool, s->route, arg);
    }
    pthread_mutex_unlock(&m->lock);
}

/* ---- hot path ---- */

void metrics_record(struct metrics_series *s, unsigned worker, uint64_t latency_ns, int status,
                    uint64_t bytes_in, uint64_t bytes_out)
{
    BUG_ON(worker >= s->nshards);
    struct metrics_series_shard *sh = &s->shards[worker];
    hist_record(&sh->latency, latency_ns);
    add(&sh->status[metrics_class_of(status)], 1);
    add(&sh->bytes_in, bytes_in);
    add(&sh->bytes_out, bytes_out);
}

void metrics_upstream_error(struct metrics_series *s, unsigned worker,
                            enum metrics_upstream_error kind)
{
    BUG_ON(worker >= s->nshards);
    if ((unsigned)kind >= METRICS_UPSTREAM_COUNT)
        kind = METRICS_UPSTREAM_OTHER;
    add(&s->shards[worker].upstream[kind], 1);
}

void metrics_mirror_decision(struct metrics_mirror *ms, unsigned worker, enum metrics_decision d)
{
    BUG_ON(worker >= ms->nshards || (unsigned)d >= METRICS_DECISION_COUNT);
    add(&ms->shards[worker].decisions[d], 1);
}

void metrics_mirror_drop(struct metrics_mirror *ms, unsigned worker, enum metrics_drop reason)
{
    BUG_ON(worker >= ms->nshards);
    if ((unsigned)reason >= METRICS_DROP_COUNT)
        reason = METRICS_DROP_OTHER;
    add(&ms->shards[worker].drops[reason], 1);
}

void metrics_conn_accepted(struct metrics_service *svc, unsigned worker)
{
    BUG_ON(worker >= svc->nshards);
    add(&svc->shards[worker].accepted, 1);
}

void metrics_conn_closed(struct metrics_service *svc, unsigned worker)
{
    BUG_ON(worker >= svc->nshards);
    add(&svc->shards[worker].closed, 1);
}

void metrics_conn_refused(struct metrics_service *svc, unsigned worker)
{
    BUG_ON(worker >= svc->nshards);
    add(&svc->shards[worker].refused, 1);
}

void metrics_gateway_rejected(struct metrics_service *svc, unsigned worker, int status)
{
    BUG_ON(worker >= svc->nshards);
    add(&svc->shards[worker].rejected[metrics_reject_of(status)], 1);
}

/* ---- snapshots ---- */

void metrics_series_merge_hist(const struct metrics_series *s, struct hist *dst)
{
    for (unsigned w = 0; w < s->nshards; w++)
        hist_merge(dst, &s->shards[w].latency);
}

static void summary_latency(struct metrics_summary *out, const struct hist *h)
{
    out->count = hist_count_le(h, UINT64_MAX);
    out->sum_ns = hist_sum(h);
    out->min_ns = hist_min(h);
    out->max_ns = hist_max(h);
    out->p50_ns = hist_quantile(h, 0.5);
    out->p90_ns = hist_quantile(h, 0.9);
    out->p99_ns = hist_quantile(h, 0.99);
    out->p999_ns = hist_quantile(h, 0.999);
    for (unsigned i = 0; i < METRICS_LE_COUNT; i++)
        out->le[i] = hist_count_le(h, metrics_le_ns[i]);
}

void metrics_snapshot_series(const struct metrics_series *s, struct metrics_summary *out)
{
    memset(out, 0, sizeof(*out));
    struct hist *h = xmalloc(sizeof(*h)); /* 26 KiB: kept off the caller's stack */
    hist_init(h);
    metrics_series_merge_hist(s, h);
    summary_latency(out, h);
    free(h);
    for (unsigned w = 0; w < s->nshards; w++) {
        const struct metrics_series_shard *sh = &s->shards[w];
        for (unsigned c = 0; c < METRICS_CLASS_COUNT; c++)
            out->status[c] += get(&sh->status[c]);
        for (unsigned k = 0; k < METRICS_UPSTREAM_COUNT; k++)
            out->upstream_errors[k] += get(&sh->upstream[k]);
        out->bytes_in += get(&sh->bytes_in);
        out->bytes_out += get(&sh->bytes_out);
    }
    for (unsigned k = 0; k < METRICS_UPSTREAM_COUNT; k++)
        out->upstream_errors_total += out->upstream_errors[k];
}

void metrics_snapshot_mirror(const struct metrics_mirror *ms, struct metrics_mirror_summary *out)
{
    memset(out, 0, sizeof(*out));
    for (unsigned w = 0; w < ms->nshards; w++) {
        for (unsigned d = 0; d < METRICS_DECISION_COUNT; d++)
            out->decisions[d] += get(&ms->shards[w].decisions[d]);
        for (unsigned r = 0; r < METRICS_DROP_COUNT; r++)
            out->drops[r] += get(&ms->shards[w].drops[r]);
    }
    for (unsigned r = 0; r < METRICS_DROP_COUNT; r++)
        out->drops_total += out->drops[r];
}

void metrics_snapshot_service(const struct metrics_service *svc,
                              struct metrics_service_summary *out)
{
    uint64_t closed = 0;
    memset(out, 0, sizeof(*out));
    for (unsigned w = 0; w < svc->nshards; w++) {
        const struct metrics_service_shard *sh = &svc->shards[w];
        out->accepted += get(&sh->accepted);
        closed += get(&sh->closed);
        out->refused += get(&sh->refused);
        for (unsigned r = 0; r < METRICS_REJECT_COUNT; r++)
            out->rejected[r] += get(&sh->rejected[r]);
    }
    /* a torn read may see a close before its accept */
    out->active = out->accepted > closed ? out->accepted - closed : 0;
}

/* ---- Prometheus text exposition (format 0.0.4) ---- */

/* What one scrape reads: every series summarised under the registry mutex, then written
 * without it. labels is the escaped `service="..",...` prefix shared by a series' samples. */
struct expo_row {
    char *labels; /* owned */
    union {
        struct metrics_summary series;
        struct metrics_mirror_summary mirror;
        struct metrics_service_summary service;
    } u;
};

struct expo {
    struct buf *out;
    int rc; /* sticky: the first append error stops all later writes */
    struct expo_row *series, *mirrors, *services;
    size_t nseries, nmirrors, nservices;
};

static void expo_printf(struct expo *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void expo_printf(struct expo *e, const char *fmt, ...)
{
    va_list ap;
    if (e->rc)
        return;
    va_start(ap, fmt);
    e->rc = buf_vprintf(e->out, fmt, ap);
    va_end(ap);
}

static void expo_family(struct expo *e, const char *name, const char *type, const char *help)
{
    expo_printf(e, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Label values escape backslash, double quote and line feed (exposition format 0.0.4). */
static void label_append(struct buf *b, int first, const char *key, const char *value)
{
    buf_printf(b, "%s%s=\"", first ? "" : ",", key);
    for (const char *c = value; *c; c++) {
        if (*c == '\\')
            buf_appends(b, "\\\\");
        else if (*c == '"')
            buf_appends(b, "\\\"");
        else if (*c == '\n')
            buf_appends(b, "\\n");
        else
            buf_append(b, c, 1);
    }
    buf_appends(b, "\"");
}

static char *labels_make(const char *k1, const char *v1, const char *k2, const char *v2,
                         const char *k3, const char *v3)
{
    struct buf b;
    buf_init(&b, SIZE_MAX / 2); /* names come from the validated config */
    label_append(&b, 1, k1, v1);
    if (k2)
        label_append(&b, 0, k2, v2);
    if (k3)
        label_append(&b, 0, k3, v3);
    return buf_steal(&b, NULL);
}

static struct expo_row *rows_new(const struct list *head, size_t *n)
{
    size_t count = 0;
    for (const struct list *p = head->next; p != head; p = p->next)
        count++;
    *n = count;
    return xcalloc(count ? count : 1, sizeof(struct expo_row));
}

static void expo_collect(struct expo *e, struct metrics *m)
{
    struct list *pos, *tmp;
    size_t i = 0;
    pthread_mutex_lock(&m->lock);
    e->series = rows_new(&m->series, &e->nseries);
    list_for_each_safe(pos, tmp, &m->series)
    {
        struct metrics_series *s = list_entry(pos, struct metrics_series, node);
        e->series[i].labels =
            labels_make("service", s->svc->name, "pool", s->pool, "route", s->route);
        metrics_snapshot_series(s, &e->series[i++].u.series);
    }
    i = 0;
    e->mirrors = rows_new(&m->mirrors, &e->nmirrors);
    list_for_each_safe(pos, tmp, &m->mirrors)
    {
        struct metrics_mirror *ms = list_entry(pos, struct metrics_mirror, node);
        e->mirrors[i].labels =
            labels_make("service", ms->svc->name, "route", ms->route, "shadow", ms->shadow);
        metrics_snapshot_mirror(ms, &e->mirrors[i++].u.mirror);
    }
    i = 0;
    e->services = rows_new(&m->services, &e->nservices);
    list_for_each_safe(pos, tmp, &m->services)
    {
        struct metrics_service *svc = list_entry(pos, struct metrics_service, node);
        e->services[i].labels = labels_make("service", svc->name, NULL, NULL, NULL, NULL);
        metrics_snapshot_service(svc, &e->services[i++].u.service);
    }
    pthread_mutex_unlock(&m->lock);
}

static void rows_free(struct expo_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(rows[i].labels);
    free(rows);
}

/* Seconds from nanoseconds, exactly: integer part, then nine decimals. */
static void expo_seconds(struct expo *e, const char *name, const char *labels, const char *extra,
                         uint64_t ns)
{
    expo_printf(e, "%s{%s%s} %" PRIu64 ".%09" PRIu64 "\n", name, labels, extra, ns / 1000000000u,
                ns % 1000000000u);
}

static void expo_count(struct expo *e, const char *name, const char *labels, const char *key,
                       const char *value, uint64_t n)
{
    if (key)
        expo_printf(e, "%s{%s,%s=\"%s\"} %" PRIu64 "\n", name, labels, key, value, n);
    else
        expo_printf(e, "%s{%s} %" PRIu64 "\n", name, labels, n);
}

static void expo_requests(struct expo *e)
{
    expo_family(e, "doppel_requests_total", "counter",
                "Responses sent for requests routed to a pool, by status class.");
    for (size_t i = 0; i < e->nseries; i++)
        for (unsigned c = 0; c < METRICS_CLASS_COUNT; c++)
            expo_count(e, "doppel_requests_total", e->series[i].labels, "class", class_names[c],
                       e->series[i].u.series.status[c]);
}

static void expo_duration(struct expo *e)
{
    expo_family(e, "doppel_request_duration_seconds", "histogram",
                "End-to-end request latency seen by the gateway.");
    for (size_t i = 0; i < e->nseries; i++) {
        const struct metrics_summary *s = &e->series[i].u.series;
        const char *l = e->series[i].labels;
        for (unsigned k = 0; k < METRICS_LE_COUNT; k++)
            expo_count(e, "doppel_request_duration_seconds_bucket", l, "le", metrics_le_text[k],
                       s->le[k]);
        expo_count(e, "doppel_request_duration_seconds_bucket", l, "le", "+Inf", s->count);
        expo_seconds(e, "doppel_request_duration_seconds_sum", l, "", s->sum_ns);
        expo_count(e, "doppel_request_duration_seconds_count", l, NULL, NULL, s->count);
    }
}

/* A summary, not a gauge: the brief's quantile label is reserved for summaries (promtool
 * rejects it elsewhere), and a summary's _sum and _count make the family self-contained. */
static void expo_quantiles(struct expo *e)
{
    static const char *const q_text[] = {",quantile=\"0.5\"", ",quantile=\"0.9\"",
                                         ",quantile=\"0.99\"", ",quantile=\"0.999\""};
    const char *name = "doppel_request_duration_quantile_seconds";
    expo_family(e, name, "summary",
                "Latency quantiles since start from the merged histogram (NaN when empty).");
    for (size_t i = 0; i < e->nseries; i++) {
        const struct metrics_summary *s = &e->series[i].u.series;
        const char *l = e->series[i].labels;
        const uint64_t q[] = {s->p50_ns, s->p90_ns, s->p99_ns, s->p999_ns};
        for (unsigned k = 0; k < 4; k++) {
            if (s->count)
                expo_seconds(e, name, l, q_text[k], q[k]);
            else
                expo_printf(e, "%s{%s%s} NaN\n", name, l, q_text[k]);
        }
        expo_seconds(e, "doppel_request_duration_quantile_seconds_sum", l, "", s->sum_ns);
        expo_count(e, "doppel_request_duration_quantile_seconds_count", l, NULL, NULL, s->count);
    }
}

static void expo_upstream_and_bytes(struct expo *e)
{
    expo_family(e, "doppel_upstream_errors_total", "counter",
                "Failed requests to upstream instances of a pool, by kind.");
    for (size_t i = 0; i < e->nseries; i++)
        for (unsigned k = 0; k < METRICS_UPSTREAM_COUNT; k++)
            expo_count(e, "doppel_upstream_errors_total", e->series[i].labels, "kind",
                       upstream_names[k], e->series[i].u.series.upstream_errors[k]);
    expo_family(e, "doppel_bytes_total", "counter",
                "Request (in) and response (out) bytes of requests routed to a pool.");
    for (size_t i = 0; i < e->nseries; i++) {
        expo_count(e, "doppel_bytes_total", e->series[i].labels, "direction", "in",
                   e->series[i].u.series.bytes_in);
        expo_count(e, "doppel_bytes_total", e->series[i].labels, "direction", "out",
                   e->series[i].u.series.bytes_out);
    }
}

static void expo_mirror(struct expo *e)
{
    expo_family(e, "doppel_mirror_decisions_total", "counter",
                "Mirror decisions per request and shadow.");
    for (size_t i = 0; i < e->nmirrors; i++)
        for (unsigned d = 0; d < METRICS_DECISION_COUNT; d++)
            expo_count(e, "doppel_mirror_decisions_total", e->mirrors[i].labels, "decision",
                       decision_names[d], e->mirrors[i].u.mirror.decisions[d]);
    expo_family(e, "doppel_mirror_dropped_total", "counter",
                "Sampled copies that did not complete at the shadow, by reason.");
    for (size_t i = 0; i < e->nmirrors; i++)
        for (unsigned r = 0; r < METRICS_DROP_COUNT; r++)
            expo_count(e, "doppel_mirror_dropped_total", e->mirrors[i].labels, "reason",
                       drop_names[r], e->mirrors[i].u.mirror.drops[r]);
}

static void expo_services(struct expo *e)
{
    static const struct {
        const char *name, *type, *help;
        size_t offset;
    } fam[] = {
        {"doppel_connections_accepted_total", "counter", "Client connections accepted.",
         offsetof(struct metrics_service_summary, accepted)},
        {"doppel_connections_active", "gauge", "Client connections open now.",
         offsetof(struct metrics_service_summary, active)},
        {"doppel_connections_refused_total", "counter",
         "Client connections refused at max_connections.",
         offsetof(struct metrics_service_summary, refused)},
    };
    for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
        expo_family(e, fam[f].name, fam[f].type, fam[f].help);
        for (size_t i = 0; i < e->nservices; i++) {
            const char *base = (const char *)&e->services[i].u.service;
            uint64_t v;
            memcpy(&v, base + fam[f].offset, sizeof(v));
            expo_count(e, fam[f].name, e->services[i].labels, NULL, NULL, v);
        }
    }
    expo_family(e, "doppel_gateway_rejected_total", "counter",
                "Requests the gateway answered itself with an error, by status.");
    for (size_t i = 0; i < e->nservices; i++)
        for (unsigned r = 0; r < METRICS_REJECT_COUNT; r++)
            expo_count(e, "doppel_gateway_rejected_total", e->services[i].labels, "status",
                       reject_table[r].name, e->services[i].u.service.rejected[r]);
}

int metrics_write_prometheus(struct metrics *m, struct buf *out)
{
    struct expo e = {.out = out};
    size_t start = out->len;
    expo_collect(&e, m);
    expo_family(&e, "doppel_up", "gauge", "1 while doppel is serving.");
    expo_printf(&e, "doppel_up 1\n");
    expo_family(&e, "doppel_build_info", "gauge", "Always 1; the label carries the version.");
    char *version = labels_make("version", m->version, NULL, NULL, NULL, NULL);
    expo_printf(&e, "doppel_build_info{%s} 1\n", version);
    free(version);
    expo_requests(&e);
    expo_duration(&e);
    expo_quantiles(&e);
    expo_upstream_and_bytes(&e);
    expo_mirror(&e);
    expo_services(&e);
    rows_free(e.series, e.nseries);
    rows_free(e.mirrors, e.nmirrors);
    rows_free(e.services, e.nservices);
    if (!e.rc && m->extra)
        e.rc = m->extra(m->extra_ctx, out);
    if (e.rc && out->data) {
        out->len = start;
        out->data[start] = '\0';
    }
    return e.rc;
}

void metrics_set_extra(struct metrics *m, metrics_extra_cb *cb, void *ctx)
{
    m->extra = cb;
    m->extra_ctx = ctx;
}
