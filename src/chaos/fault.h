/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fault: one fault — what it does (kind and parameters), where (scope: service, pool,
 * instance address, route prefix, header match), in which direction, how often
 * (probability) and when (offset, duration, on/off schedule) — and the per-copy decision
 * built from the faults that fire. Request-level faults are applied by the mirror room on
 * the way to and from a shadow pool; instance faults (kill, pause, restart, CPU burn,
 * memory pressure) by chaos.c through the instance ops table.
 *
 * Sits beside the mirror on the shadow path: fault_eval is called once per copy by a
 * worker thread and must not block, lock or allocate. Owns nothing but its strings.
 */
#ifndef DOPPEL_CHAOS_FAULT_H
#define DOPPEL_CHAOS_FAULT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/rng.h"
#include "http/head.h"

enum fault_kind {
    FAULT_LATENCY = 1, /* delay: fixed, jitter or a distribution */
    FAULT_BANDWIDTH,   /* bytes per second */
    FAULT_ABORT,       /* no copy sent; the outcome is recorded as `status` */
    FAULT_RESET,       /* the connection is closed under the exchange */
    FAULT_HANG,        /* the response is never read: the shadow's timeout ends it */
    FAULT_SLOW_CLOSE,  /* the connection is closed `delay` after the response, not reused */
    FAULT_SLICER,      /* bytes move in slices of `slice_size` with `slice_delay` between */
    FAULT_KILL,        /* instance: SIGKILL */
    FAULT_PAUSE,       /* instance: SIGSTOP at start, SIGCONT at stop */
    FAULT_RESTART,     /* instance: restarted through the provisioner */
    FAULT_CPU_BURN,    /* instance: a busy process in the instance's cgroup */
    FAULT_MEMORY,      /* instance: a process holding `memory` bytes in the instance's cgroup */
    FAULT_KIND_COUNT
};

enum fault_direction { FAULT_DIR_REQUEST = 0, FAULT_DIR_RESPONSE };

enum fault_dist {
    FAULT_DIST_UNIFORM = 0, /* latency ± jitter, uniform (jitter 0: fixed) */
    FAULT_DIST_NORMAL,      /* mean latency, standard deviation jitter, cut at 0 */
    FAULT_DIST_EXPONENTIAL, /* mean latency */
};

#define FAULT_NAME_MAX 64
#define FAULT_POOL_SLOTS 16 /* pools counted apart per fault; the rest as "other" */

/* Affected requests of one fault in one pool; claimed lock-free on the first hit. */
struct fault_pool_count {
    _Atomic uint32_t state; /* 0 free, 1 being written, 2 ready */
    uint32_t pool_id;
    char service[FAULT_NAME_MAX], pool[FAULT_NAME_MAX];
    _Atomic uint64_t count;
};

struct fault_stats {
    _Atomic uint64_t affected;
    struct fault_pool_count pools[FAULT_POOL_SLOTS];
    _Atomic uint64_t other; /* hits in pools past the slots */
};

struct fault {
    enum fault_kind kind;
    enum fault_direction direction;
    double probability; /* 0..1 */
    /* scope: NULL = any */
    char *service, *pool, *instance, *route_prefix, *header, *header_value;
    /* latency */
    uint64_t latency_ns, jitter_ns;
    enum fault_dist dist;
    /* bandwidth (bytes/s), abort status, slicer, slow close */
    uint64_t rate;
    int status;
    uint64_t slice_size, slice_delay_ns, delay_ns;
    /* instance faults */
    uint64_t memory;
    /* schedule, relative to the experiment's start: active from `start_ns` for
     * `duration_ns` (0: until the experiment ends); with `every_ns`, only the first
     * `active_ns` of each period */
    uint64_t start_ns, duration_ns, every_ns, active_ns;
};

/* How a copy to a shadow is changed; the sum of the faults that fired. */
struct fault_throttle {
    uint64_t chunk;    /* bytes per step, 0 = no throttle */
    uint64_t delay_ns; /* pause after each step */
};

struct fault_decision {
    unsigned fired;
    int abort_status; /* !0: not sent, recorded as this status */
    bool abort_after; /* response direction: sent, the answer replaced */
    bool reset_request, reset_response, hang;
    uint64_t req_delay_ns, resp_delay_ns, close_delay_ns;
    struct fault_throttle req, resp;
};

/* What a copy is: matched against the faults' scopes. instance is NULL before the host is
 * picked; path/req may be NULL. */
struct fault_probe {
    const char *service, *pool;
    uint32_t pool_id;
    bool primary;
    const char *instance;
    const char *path;
    size_t path_len;
    const struct http_head *req;
};

const char *fault_kind_name(enum fault_kind k);
int fault_kind_parse(const char *s, enum fault_kind *out);
const char *fault_direction_name(enum fault_direction d);
int fault_direction_parse(const char *s, enum fault_direction *out);
const char *fault_dist_name(enum fault_dist d);
int fault_dist_parse(const char *s, enum fault_dist *out);
bool fault_kind_is_instance(enum fault_kind k);
/* Whether the fault can act on the primary path (request-direction latency, abort and
 * reset, no instance scope): NULL, or why not (a static message naming what is refused). */
const char *fault_primary_refusal(const struct fault *f);

/* Checks parameters and fills defaults (abort status 503, ...); err says what is wrong. */
int fault_check(struct fault *f, struct err *err);
void fault_copy(struct fault *dst, const struct fault *src);
void fault_release(struct fault *f);

/* Whether the fault's schedule has it active at `since_ns` after the experiment started. */
bool fault_scheduled(const struct fault *f, uint64_t since_ns);
/* Whether the probe is in the fault's scope (instance-scoped faults match only a probe
 * with an instance; the others only one without, so each copy evaluates each fault once). */
bool fault_in_scope(const struct fault *f, const struct fault_probe *p);
/* One latency draw, in ns. */
uint64_t fault_latency_draw(const struct fault *f, struct rng *rng);
/* Whether the fault fires for one copy: probability p, one draw. */
bool fault_fires(const struct fault *f, struct rng *rng);
/* Adds the fired fault's effect to d. */
void fault_apply(const struct fault *f, struct rng *rng, struct fault_decision *d);
/* Counts one affected copy in st (lock-free, no allocation). */
void fault_stats_hit(struct fault_stats *st, const struct fault_probe *p);

#endif
