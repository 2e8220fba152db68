/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics: the observer's registry of counters and latency histograms, and its Prometheus
 * text exposition. The gateway's worker threads update it on every request; the admin
 * listener renders it on GET /metrics and the admin JSON reads snapshots of it.
 *
 * Three kinds of series, each created on first lookup by name and never removed (so the
 * counters survive config reloads and the pointers stay valid for the registry's life):
 *   metrics_series   (service, pool, route); pool is "primary" or a shadow's name:
 *                    end-to-end latency histogram, responses by status class, upstream
 *                    errors by kind, request and response bytes
 *   metrics_mirror   (service, route, shadow): mirror decisions and drops by reason
 *   metrics_service  (service): connections accepted, active, refused; requests the
 *                    gateway itself rejected, by status
 *
 * Sharding. The registry is created for N worker threads and every series holds N shards;
 * worker i only ever writes shard i, so the hot-path calls below are O(1), take no lock,
 * allocate nothing and use relaxed atomic loads and stores. Readers merge the shards. The
 * lookups (metrics_*_get) take the registry mutex and may allocate: call them when route
 * tables are built (startup, reload), never per request.
 *
 * Adding an error kind, decision or drop reason: add the constant before its _COUNT and
 * its name to the table in metrics.c; the exposition and the tests pick it up.
 */
#ifndef DOPPEL_OBSERVER_METRICS_H
#define DOPPEL_OBSERVER_METRICS_H

#include <stdint.h>

#include "base/buf.h"
#include "base/hist.h"
#include "model/exchange.h"

/* Response status classes; OTHER is a status outside 100..599 (e.g. none was sent). */
enum metrics_class {
    METRICS_CLASS_1XX = 0,
    METRICS_CLASS_2XX,
    METRICS_CLASS_3XX,
    METRICS_CLASS_4XX,
    METRICS_CLASS_5XX,
    METRICS_CLASS_OTHER,
    METRICS_CLASS_COUNT
};

/* Why a request to an upstream instance failed. */
enum metrics_upstream_error {
    METRICS_UPSTREAM_REFUSED = 0,
    METRICS_UPSTREAM_RESET,
    METRICS_UPSTREAM_TIMEOUT,
    METRICS_UPSTREAM_BAD_RESPONSE,
    METRICS_UPSTREAM_OTHER,
    METRICS_UPSTREAM_COUNT
};

/* What the mirror decided for one request and one shadow. */
enum metrics_decision {
    METRICS_DECISION_SAMPLED = 0,
    METRICS_DECISION_NOT_SAMPLED,
    METRICS_DECISION_FILTERED_METHOD,
    METRICS_DECISION_FILTERED_PATH,
    METRICS_DECISION_FILTERED_HEADER,
    METRICS_DECISION_BODY_TOO_LARGE,
    METRICS_DECISION_COUNT
};

/* Why a sampled copy never completed at the shadow. */
enum metrics_drop {
    METRICS_DROP_INFLIGHT_LIMIT = 0,
    METRICS_DROP_BYTES_LIMIT,
    METRICS_DROP_CONNECT_FAILED,
    METRICS_DROP_TIMEOUT,
    METRICS_DROP_RESET,
    METRICS_DROP_BAD_RESPONSE,
    METRICS_DROP_DRAINING,
    METRICS_DROP_OTHER,
    METRICS_DROP_COUNT
};

/* Statuses of the responses the gateway generates itself; OTHER is any other status. */
enum metrics_reject {
    METRICS_REJECT_400 = 0,
    METRICS_REJECT_408,
    METRICS_REJECT_413,
    METRICS_REJECT_431,
    METRICS_REJECT_502,
    METRICS_REJECT_503,
    METRICS_REJECT_504,
    METRICS_REJECT_OTHER,
    METRICS_REJECT_COUNT
};

/* The Prometheus histogram's upper bounds (seconds), 0.0005 .. 60, without +Inf. */
#define METRICS_LE_COUNT 20
extern const uint64_t metrics_le_ns[METRICS_LE_COUNT];
extern const char *const metrics_le_text[METRICS_LE_COUNT];

struct metrics;
struct metrics_series;
struct metrics_mirror;
struct metrics_service;

/* Label values ("1xx", "timeout", "sampled", "503", ...) as exposed. */
const char *metrics_class_name(enum metrics_class c);
const char *metrics_upstream_error_name(enum metrics_upstream_error kind);
const char *metrics_decision_name(enum metrics_decision d);
const char *metrics_drop_name(enum metrics_drop reason);
const char *metrics_reject_name(enum metrics_reject r);
enum metrics_class metrics_class_of(int status);
/* The kind an exchange's upstream failure is counted as. */
enum metrics_upstream_error metrics_upstream_error_of(enum exchange_error e);
enum metrics_reject metrics_reject_of(int status);

/* A registry for nworkers (>= 1) worker shards. version goes into doppel_build_info. */
struct metrics *metrics_new(unsigned nworkers, const char *version);
void metrics_free(struct metrics *m);
unsigned metrics_workers(const struct metrics *m);

/* Finds or creates a series. Takes the registry mutex, may allocate; never fails. */
struct metrics_service *metrics_service_get(struct metrics *m, const char *service);
struct metrics_series *metrics_series_get(struct metrics *m, const char *service, const char *pool,
                                          const char *route);
struct metrics_mirror *metrics_mirror_get(struct metrics *m, const char *service, const char *route,
                                          const char *shadow);

/* Hot path: worker < metrics_workers(m); each worker passes its own index. */
/* One response sent for a request routed to this pool (generated ones included).
 * bytes_in counts the request, bytes_out the response. */
void metrics_record(struct metrics_series *s, unsigned worker, uint64_t latency_ns, int status,
                    uint64_t bytes_in, uint64_t bytes_out);
void metrics_upstream_error(struct metrics_series *s, unsigned worker,
                            enum metrics_upstream_error kind);
void metrics_mirror_decision(struct metrics_mirror *ms, unsigned worker, enum metrics_decision d);
void metrics_mirror_drop(struct metrics_mirror *ms, unsigned worker, enum metrics_drop reason);
/* A client connection was accepted / closed (on the same worker) / refused because the
 * service was at max_connections. */
void metrics_conn_accepted(struct metrics_service *svc, unsigned worker);
void metrics_conn_closed(struct metrics_service *svc, unsigned worker);
void metrics_conn_refused(struct metrics_service *svc, unsigned worker);
/* The gateway answered a request itself with this status (400, 408, 413, 431, 502, 503,
 * 504; anything else counts as "other"). */
void metrics_gateway_rejected(struct metrics_service *svc, unsigned worker, int status);

/* Snapshots: the shards merged (exact sums of the counters; a concurrent writer may make
 * the snapshot slightly torn, never wrong by more than the updates in flight). */
struct metrics_summary {
    uint64_t count; /* responses recorded (the latency histogram's total) */
    uint64_t sum_ns, min_ns, max_ns;
    uint64_t p50_ns, p90_ns, p99_ns, p999_ns; /* 0 when count == 0 */
    uint64_t le[METRICS_LE_COUNT];            /* responses with latency <= metrics_le_ns[i] */
    uint64_t status[METRICS_CLASS_COUNT];
    uint64_t upstream_errors[METRICS_UPSTREAM_COUNT];
    uint64_t upstream_errors_total;
    uint64_t bytes_in, bytes_out;
};

struct metrics_mirror_summary {
    uint64_t decisions[METRICS_DECISION_COUNT];
    uint64_t drops[METRICS_DROP_COUNT];
    uint64_t drops_total;
};

struct metrics_service_summary {
    uint64_t accepted, active, refused;
    uint64_t rejected[METRICS_REJECT_COUNT];
};

void metrics_snapshot_series(const struct metrics_series *s, struct metrics_summary *out);
void metrics_snapshot_mirror(const struct metrics_mirror *ms, struct metrics_mirror_summary *out);
void metrics_snapshot_service(const struct metrics_service *svc,
                              struct metrics_service_summary *out);
/* Adds the series' latency shards into dst (which has no other writer). */
void metrics_series_merge_hist(const struct metrics_series *s, struct hist *dst);

/* Visits every (service, pool, route) series in creation order, under the registry mutex
 * (the callback must not call metrics_*_get). */
typedef void metrics_series_cb(const struct metrics_series *s, const char *service,
                               const char *pool, const char *route, void *arg);
void metrics_series_each(struct metrics *m, metrics_series_cb *cb, void *arg);

/* Appends the whole registry in Prometheus text format 0.0.4 (content type
 * "text/plain; version=0.0.4"). Returns 0, or -ENOSPC past out's maximum, in which case
 * out is left as it was. */
int metrics_write_prometheus(struct metrics *m, struct buf *out);

/* Families kept outside the registry (the capture tap's counters): cb appends them after
 * the registry's own, on the thread that writes the exposition. One at most; NULL clears. */
typedef int metrics_extra_cb(void *ctx, struct buf *out);
void metrics_set_extra(struct metrics *m, metrics_extra_cb *cb, void *ctx);

#endif
