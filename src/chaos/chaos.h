/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chaos: the fault registry of `doppel serve`. Experiments (a named set of faults with a
 * start, a duration and a stop condition) are added and removed on the control loop; the
 * faults of the running ones are published to the data path as one immutable, refcounted
 * fault set (struct chaos_set), swapped atomically. A worker keeps a reference in its
 * chaos_view and re-takes one only when the generation changes, so evaluating a copy takes
 * no lock and is O(faults). The kill switch (chaos_stop_all) publishes an empty set.
 *
 * The control loop calls chaos_tick: it starts and ends experiments and scheduled faults,
 * records each event in a bounded in-memory ring (for reports) and applies instance faults
 * through the instance ops table the app fills from the provisioner. Counters of events
 * and affected requests are exposed in Prometheus text by chaos_write_prometheus.
 *
 * Owns the experiments, the published sets (shared with the workers by reference) and
 * the helper processes of CPU burn and memory faults.
 */
#ifndef DOPPEL_CHAOS_CHAOS_H
#define DOPPEL_CHAOS_CHAOS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/rng.h"
#include "chaos/fault.h"

#define CHAOS_ID_MAX 24           /* experiment ids */
#define CHAOS_INSTANCE_ID_MAX 128 /* instance ids, as the provisioner names them */
#define CHAOS_EVENTS 1024         /* events kept in memory, oldest dropped first */
#define CHAOS_MAX_FAULTS 32       /* per experiment */
#define CHAOS_MAX_FINISHED 64     /* ended experiments kept for GET */
#define CHAOS_MAX_TARGETS 16      /* instances one instance fault acts on */

/* What the app provides from the provisioner: instances are named by id strings. Each call
 * returns 0 or -errno. list fills up to max ids (CHAOS_INSTANCE_ID_MAX bytes each) of the
 * instances a fault's scope names (service, pool, instance: NULL = any) and returns their
 * count. */
struct chaos_instance_ops {
    int (*list)(void *ctx, const char *service, const char *pool, const char *instance,
                char (*ids)[CHAOS_INSTANCE_ID_MAX], int max);
    int (*kill)(void *ctx, const char *id);
    int (*pause)(void *ctx, const char *id);
    int (*resume)(void *ctx, const char *id);
    int (*restart)(void *ctx, const char *id);
    /* The instance's main pid (> 0) for placing helper processes beside it. */
    pid_t (*pid)(void *ctx, const char *id);
    /* The instance's cgroup directory, or "" when it has none. */
    int (*cgroup)(void *ctx, const char *id, char *path, size_t len);
    void *ctx;
};

enum chaos_state { CHAOS_PENDING = 0, CHAOS_RUNNING, CHAOS_ENDED };

/* One fault's runtime on the control loop. */
struct chaos_fault_run {
    bool on;
    uint64_t started, stopped; /* activation events */
    char targets[CHAOS_MAX_TARGETS][CHAOS_INSTANCE_ID_MAX];
    int ntargets;
    pid_t helpers[CHAOS_MAX_TARGETS]; /* cpu_burn / memory processes */
};

struct chaos_experiment {
    atomic_uint refs;
    char id[CHAOS_ID_MAX];
    char *name;
    struct fault *faults; /* [nfaults], immutable */
    size_t nfaults;
    struct fault_stats *stats; /* [nfaults], atomics written by the workers */
    uint64_t created_wall_ns;
    uint64_t start_ns, end_ns; /* monotonic; end 0 = until stopped */
    uint64_t max_affected;     /* stop condition: 0 = none */
    /* guarded by the registry's mutex: */
    enum chaos_state state;
    const char *end_reason; /* static: "duration", "stop condition", "deleted", "kill switch" */
    uint64_t ended_wall_ns;
    struct chaos_fault_run *runs; /* [nfaults] */
};

/* The published fault set: read-only once published. */
struct chaos_set_item {
    struct chaos_experiment *exp; /* ref held */
    const struct fault *fault;    /* in exp */
    struct fault_stats *stats;    /* in exp */
    uint64_t start_ns, end_ns;    /* exp's window; end UINT64_MAX = open */
};

struct chaos_set {
    atomic_uint refs;
    bool allow_primary;
    bool has_instance_scope; /* a fault is scoped to one instance address */
    size_t n;
    struct chaos_set_item items[];
};

struct chaos_event {
    uint64_t wall_ns;
    char experiment[CHAOS_ID_MAX];
    int fault;     /* index, -1 for the experiment itself */
    char what[16]; /* "started", "stopped", "fault_on", "fault_off", "error" */
    char detail[112];
};

struct chaos {
    pthread_mutex_t mu;                  /* control side only; the data path never takes it */
    _Atomic(struct chaos_set *) current; /* ref held */
    atomic_uint_fast64_t generation;
    atomic_uint readers; /* workers between loading `current` and taking their ref */
    bool allow_primary;
    struct chaos_experiment **exps; /* ref held each, in creation order */
    size_t nexps;
    uint64_t next_id;
    struct chaos_event ring[CHAOS_EVENTS];
    size_t ring_head, ring_count;
    uint64_t kill_switches;
    struct chaos_instance_ops ops; /* .list NULL: instance faults refused */
};

/* What a caller asks for; copied by chaos_experiment_add. */
struct chaos_experiment_spec {
    const char *name;
    uint64_t start_ns;    /* delay from now */
    uint64_t duration_ns; /* 0 = until stopped */
    uint64_t max_affected;
    const struct fault *faults;
    size_t nfaults;
};

void chaos_init(struct chaos *c, bool allow_primary);
/* Stops every experiment (and its helper processes) and frees everything. */
void chaos_release(struct chaos *c);
void chaos_set_instance_ops(struct chaos *c, const struct chaos_instance_ops *ops);

/* Validates and adds an experiment; id receives its id. err says what is wrong. */
int chaos_experiment_add(struct chaos *c, const struct chaos_experiment_spec *spec, uint64_t now_ns,
                         char id[CHAOS_ID_MAX], struct err *err);
/* Ends one experiment at once (-ENOENT when no running or pending one has that id). */
int chaos_experiment_stop(struct chaos *c, const char *id, uint64_t now_ns);
/* The kill switch: ends every experiment and publishes an empty set. Returns how many. */
int chaos_stop_all(struct chaos *c, uint64_t now_ns);
/* Starts/ends experiments and scheduled faults due by now; call every ~100 ms. */
void chaos_tick(struct chaos *c, uint64_t now_ns);

/* Visits experiments (all, or the one with id) under the mutex with their events, oldest
 * first. Returns how many were visited. */
typedef void chaos_visit_cb(const struct chaos_experiment *e, const struct chaos_event *ev,
                            size_t nev, void *arg);
size_t chaos_visit(struct chaos *c, const char *id, chaos_visit_cb *cb, void *arg);
const char *chaos_state_name(enum chaos_state s);

/* Appends the chaos counters in Prometheus text format; 0 or -ENOSPC. */
int chaos_write_prometheus(struct chaos *c, struct buf *out);

struct chaos_experiment *chaos_experiment_ref(struct chaos_experiment *e);
void chaos_experiment_unref(struct chaos_experiment *e);

/* ---- data path ----------------------------------------------------------------------- */

struct chaos_set *chaos_set_ref(struct chaos_set *s);
void chaos_set_unref(struct chaos_set *s);

/* A worker's reference to the current set. */
struct chaos_view {
    struct chaos_set *set; /* ref held */
    uint64_t generation;
};
/* The current set (NULL when there is none), re-taken only after a publish. */
const struct chaos_set *chaos_view_get(struct chaos_view *v, struct chaos *c);
void chaos_view_release(struct chaos_view *v);

/* Evaluates every fault of s for one copy at now; adds the fired ones to d and counts
 * them. No lock, no allocation. */
void chaos_set_eval(const struct chaos_set *s, const struct fault_probe *p, uint64_t now_ns,
                    struct rng *rng, struct fault_decision *d);

#endif
