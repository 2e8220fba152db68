/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chaos: the experiment registry, publication of the fault set, the event ring and the
 * Prometheus counters (see chaos.h). Runs on the control loop and the admin handlers;
 * everything here holds the registry mutex, which the data path never takes.
 *
 * An experiment moves PENDING --start--> RUNNING --duration | stop condition | DELETE |
 * kill switch--> ENDED. Its faults are in the published set from PENDING on (the data
 * path checks their windows itself, so a fault starts and ends on time to the request,
 * whatever the tick); the tick records the events and acts on instances.
 */
#include "chaos/chaos.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "chaos/chaos_instance.h"

void chaos_init(struct chaos *c, bool allow_primary)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    atomic_init(&c->current, NULL);
    atomic_init(&c->generation, 0);
    atomic_init(&c->readers, 0);
    c->allow_primary = allow_primary;
    c->next_id = 1;
}

void chaos_set_instance_ops(struct chaos *c, const struct chaos_instance_ops *ops)
{
    pthread_mutex_lock(&c->mu);
    c->ops = *ops;
    pthread_mutex_unlock(&c->mu);
}

const char *chaos_state_name(enum chaos_state s)
{
    static const char *const names[] = {"pending", "running", "ended"};
    return (unsigned)s < 3 ? names[s] : "unknown";
}

static void event_add(struct chaos *c, const struct chaos_experiment *e, int fault,
                      const char *what, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void event_add(struct chaos *c, const struct chaos_experiment *e, int fault,
                      const char *what, const char *fmt, ...)
{
    struct chaos_event *ev = &c->ring[(c->ring_head + c->ring_count) % CHAOS_EVENTS];
    if (c->ring_count == CHAOS_EVENTS)
        c->ring_head = (c->ring_head + 1) % CHAOS_EVENTS;
    else
        c->ring_count++;
    memset(ev, 0, sizeof(*ev));
    ev->wall_ns = clock_wall_ns();
    snprintf(ev->experiment, sizeof(ev->experiment), "%s", e->id);
    ev->fault = fault;
    snprintf(ev->what, sizeof(ev->what), "%s", what);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ev->detail, sizeof(ev->detail), fmt, ap);
    va_end(ap);
    log_info("chaos", "experiment '%s' (%s): %s%s%s", e->name, e->id, what,
             ev->detail[0] ? ": " : "", ev->detail);
}

/* Builds the set of every experiment not ended and swaps it in. Waits (briefly, on this
 * control thread) for workers that loaded the old pointer to have taken their reference. */
static void publish_locked(struct chaos *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->nexps; i++)
        if (c->exps[i]->state != CHAOS_ENDED)
            n += c->exps[i]->nfaults;
    struct chaos_set *s = xcalloc(1, sizeof(*s) + n * sizeof(s->items[0]));
    atomic_init(&s->refs, 1);
    s->allow_primary = c->allow_primary;
    for (size_t i = 0; i < c->nexps; i++) {
        struct chaos_experiment *e = c->exps[i];
        if (e->state == CHAOS_ENDED)
            continue;
        for (size_t k = 0; k < e->nfaults; k++) {
            struct chaos_set_item *it = &s->items[s->n++];
            it->exp = chaos_experiment_ref(e);
            it->fault = &e->faults[k];
            it->stats = &e->stats[k];
            it->start_ns = e->start_ns;
            it->end_ns = e->end_ns ? e->end_ns : UINT64_MAX;
            s->has_instance_scope |= e->faults[k].instance != NULL;
        }
    }
    struct chaos_set *old = atomic_exchange(&c->current, s);
    atomic_fetch_add(&c->generation, 1);
    while (atomic_load(&c->readers) != 0)
        sched_yield();
    chaos_set_unref(old);
}

static void end_all_locked(struct chaos *c, const char *reason, int *n);

void chaos_release(struct chaos *c)
{
    pthread_mutex_lock(&c->mu);
    int n = 0;
    end_all_locked(c, "shutdown", &n); /* resumes paused instances, stops helpers */
    chaos_set_unref(atomic_exchange(&c->current, NULL));
    for (size_t i = 0; i < c->nexps; i++)
        chaos_experiment_unref(c->exps[i]);
    free(c->exps);
    c->exps = NULL;
    c->nexps = 0;
    pthread_mutex_unlock(&c->mu);
    pthread_mutex_destroy(&c->mu);
}

static bool name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] == '-' || s[i] == '_' || s[i] == '.' || (s[i] >= '0' && s[i] <= '9') ||
              (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
            return false;
    return true;
}

static int check_spec(const struct chaos *c, const struct chaos_experiment_spec *spec,
                      struct err *err)
{
    if (!name_ok(spec->name))
        return err_set(err, -EINVAL, "experiment name must be 1..64 of [A-Za-z0-9_.-]");
    if (spec->nfaults < 1 || spec->nfaults > CHAOS_MAX_FAULTS)
        return err_set(err, -EINVAL, "an experiment has 1..%d faults", CHAOS_MAX_FAULTS);
    uint64_t month = 30ULL * 24 * 3600 * CLOCK_NS_PER_S;
    if (spec->start_ns > month || spec->duration_ns > month)
        return err_set(err, -EINVAL, "start and duration must be at most 30 days");
    for (size_t i = 0; i < spec->nfaults; i++) {
        struct fault f = spec->faults[i]; /* shallow: fault_check only fills defaults */
        int rc = fault_check(&f, err);
        if (rc) {
            err_prefix(err, "faults[%zu]", i);
            return rc;
        }
        if (f.pool && strcmp(f.pool, "primary") == 0) {
            if (!c->allow_primary)
                return err_set(err, -EPERM,
                               "faults[%zu]: faults on the primary pool need "
                               "chaos.allow_primary_faults: true",
                               i);
            const char *why = fault_primary_refusal(&f);
            if (why)
                return err_set(err, -ENOTSUP, "faults[%zu]: '%s': %s", i, fault_kind_name(f.kind),
                               why);
        }
        if (fault_kind_is_instance(f.kind) && !c->ops.list)
            return err_set(err, -ENOTSUP,
                           "faults[%zu]: '%s' acts on managed instances, and no provisioner "
                           "manages any",
                           i, fault_kind_name(f.kind));
    }
    return 0;
}

static struct chaos_experiment *
experiment_new(struct chaos *c, const struct chaos_experiment_spec *spec, uint64_t now_ns)
{
    struct chaos_experiment *e = xcalloc(1, sizeof(*e));
    atomic_init(&e->refs, 1);
    snprintf(e->id, sizeof(e->id), "e%llu", (unsigned long long)c->next_id++);
    e->name = xstrdup(spec->name);
    e->nfaults = spec->nfaults;
    e->faults = xcalloc(spec->nfaults, sizeof(*e->faults));
    e->stats = xcalloc(spec->nfaults, sizeof(*e->stats));
    e->runs = xcalloc(spec->nfaults, sizeof(*e->runs));
    for (size_t i = 0; i < spec->nfaults; i++) {
        fault_copy(&e->faults[i], &spec->faults[i]);
        fault_check(&e->faults[i], NULL);
    }
    e->created_wall_ns = clock_wall_ns();
    e->start_ns = now_ns + spec->start_ns;
    e->end_ns = spec->duration_ns ? e->start_ns + spec->duration_ns : 0;
    e->max_affected = spec->max_affected;
    return e;
}

static void tick_locked(struct chaos *c, uint64_t now_ns);

int chaos_experiment_add(struct chaos *c, const struct chaos_experiment_spec *spec, uint64_t now_ns,
                         char id[CHAOS_ID_MAX], struct err *err)
{
    pthread_mutex_lock(&c->mu);
    int rc = check_spec(c, spec, err);
    if (rc == 0) {
        struct chaos_experiment *e = experiment_new(c, spec, now_ns);
        c->exps = xreallocarray(c->exps, c->nexps + 1, sizeof(*c->exps));
        c->exps[c->nexps++] = e;
        memcpy(id, e->id, CHAOS_ID_MAX);
        event_add(c, e, -1, "created", "%zu faults", e->nfaults);
        publish_locked(c);
        tick_locked(c, now_ns);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static void fault_switch(struct chaos *c, struct chaos_experiment *e, size_t i, bool on)
{
    struct chaos_fault_run *run = &e->runs[i];
    const struct fault *f = &e->faults[i];
    run->on = on;
    if (on) {
        run->started++;
        event_add(c, e, (int)i, "fault_on", "%s", fault_kind_name(f->kind));
        if (fault_kind_is_instance(f->kind))
            chaos_instance_start(&c->ops, f, run, e->id, (int)i);
    } else {
        run->stopped++;
        if (fault_kind_is_instance(f->kind))
            chaos_instance_stop(&c->ops, f, run);
        event_add(c, e, (int)i, "fault_off", "%s, %llu affected requests", fault_kind_name(f->kind),
                  (unsigned long long)atomic_load(&e->stats[i].affected));
    }
}

static void end_locked(struct chaos *c, struct chaos_experiment *e, const char *reason)
{
    for (size_t i = 0; i < e->nfaults; i++)
        if (e->runs[i].on)
            fault_switch(c, e, i, false);
    e->state = CHAOS_ENDED;
    e->end_reason = reason;
    e->ended_wall_ns = clock_wall_ns();
    event_add(c, e, -1, "stopped", "%s", reason);
}

static uint64_t affected_total(const struct chaos_experiment *e)
{
    uint64_t n = 0;
    for (size_t i = 0; i < e->nfaults; i++)
        n += atomic_load(&e->stats[i].affected);
    return n;
}

/* One experiment's due transitions; true when it ended. */
static bool tick_one(struct chaos *c, struct chaos_experiment *e, uint64_t now_ns)
{
    if (e->state == CHAOS_ENDED || now_ns < e->start_ns)
        return false;
    if (e->state == CHAOS_PENDING) {
        e->state = CHAOS_RUNNING;
        event_add(c, e, -1, "started", "%s", "");
    }
    if (e->end_ns && now_ns >= e->end_ns) {
        end_locked(c, e, "duration");
        return true;
    }
    if (e->max_affected && affected_total(e) >= e->max_affected) {
        end_locked(c, e, "stop condition");
        return true;
    }
    for (size_t i = 0; i < e->nfaults; i++) {
        bool on = fault_scheduled(&e->faults[i], now_ns - e->start_ns);
        if (on != e->runs[i].on)
            fault_switch(c, e, i, on);
    }
    return false;
}

/* Drops the oldest ended experiments past CHAOS_MAX_FINISHED. */
static void prune_locked(struct chaos *c)
{
    size_t ended = 0;
    for (size_t i = 0; i < c->nexps; i++)
        ended += c->exps[i]->state == CHAOS_ENDED;
    size_t w = 0;
    for (size_t i = 0; i < c->nexps; i++) {
        struct chaos_experiment *e = c->exps[i];
        if (e->state == CHAOS_ENDED && ended > CHAOS_MAX_FINISHED) {
            ended--;
            chaos_experiment_unref(e);
            continue;
        }
        c->exps[w++] = e;
    }
    c->nexps = w;
}

static void tick_locked(struct chaos *c, uint64_t now_ns)
{
    bool changed = false;
    for (size_t i = 0; i < c->nexps; i++)
        changed |= tick_one(c, c->exps[i], now_ns);
    if (changed) {
        publish_locked(c);
        prune_locked(c);
    }
}

void chaos_tick(struct chaos *c, uint64_t now_ns)
{
    pthread_mutex_lock(&c->mu);
    tick_locked(c, now_ns);
    pthread_mutex_unlock(&c->mu);
}

int chaos_experiment_stop(struct chaos *c, const char *id, uint64_t now_ns)
{
    (void)now_ns;
    int rc = -ENOENT;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->nexps; i++) {
        struct chaos_experiment *e = c->exps[i];
        if (strcmp(e->id, id) == 0 && e->state != CHAOS_ENDED) {
            end_locked(c, e, "deleted");
            publish_locked(c);
            prune_locked(c);
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static void end_all_locked(struct chaos *c, const char *reason, int *n)
{
    for (size_t i = 0; i < c->nexps; i++)
        if (c->exps[i]->state != CHAOS_ENDED) {
            end_locked(c, c->exps[i], reason);
            (*n)++;
        }
}

int chaos_stop_all(struct chaos *c, uint64_t now_ns)
{
    (void)now_ns;
    int n = 0;
    pthread_mutex_lock(&c->mu);
    end_all_locked(c, "kill switch", &n);
    c->kill_switches++;
    publish_locked(c);
    prune_locked(c);
    pthread_mutex_unlock(&c->mu);
    if (n)
        log_warn("chaos", "kill switch: %d experiments stopped, every fault removed", n);
    return n;
}

size_t chaos_visit(struct chaos *c, const char *id, chaos_visit_cb *cb, void *arg)
{
    size_t visited = 0;
    struct chaos_event *evs = xcalloc(CHAOS_EVENTS, sizeof(*evs));
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->nexps; i++) {
        const struct chaos_experiment *e = c->exps[i];
        if (id && strcmp(e->id, id) != 0)
            continue;
        size_t nev = 0;
        for (size_t k = 0; k < c->ring_count; k++) {
            const struct chaos_event *ev = &c->ring[(c->ring_head + k) % CHAOS_EVENTS];
            if (strcmp(ev->experiment, e->id) == 0)
                evs[nev++] = *ev;
        }
        cb(e, evs, nev, arg);
        visited++;
    }
    pthread_mutex_unlock(&c->mu);
    free(evs);
    return visited;
}
