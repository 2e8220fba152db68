/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_chaos: the `chaos:` section of the configuration — whether faults may touch the
 * primary pool, and the fault experiments `doppel serve` starts with. One schema table per
 * level (section, experiment, fault, scope); the fault parameters are those of
 * POST /v1/experiments, so a config experiment and an API one read the same. The app
 * turns these into chaos experiments at start-up (the chaos room checks the faults).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config/config.h"
#include "config/config_table.h"

#define MS 1000000ULL
#define DAY (24 * 3600 * 1000 * MS)

const char *const config_fault_kinds[] = {"latency",    "bandwidth", "abort", "reset", "hang",
                                          "slow_close", "slicer",    "kill",  "pause", "restart",
                                          "cpu_burn",   "memory",    NULL};
static const char *const directions[] = {"request", "response", NULL};
static const char *const distributions[] = {"uniform", "normal", "exponential", NULL};

static int parse_probability(const struct schema_key *k, const struct cnode *n, void *base,
                             const struct schema_ctx *ctx, struct err *err)
{
    (void)ctx;
    return cnode_double(n, 0.0, 1.0, (double *)((char *)base + k->offset), err);
}

/* clang-format off */
#define SC(f) offsetof(struct config_fault, f)
static const struct schema_key scope_keys[] = {
    {.name = "service", .type = SCHEMA_STRING, .flags = SCHEMA_NAME, .offset = SC(service),
     .doc = "only this service's copies"},
    {.name = "pool", .type = SCHEMA_STRING, .flags = SCHEMA_NAME, .offset = SC(pool),
     .doc = "only this pool; without it every shadow pool; `primary` needs `allow_primary_faults`"},
    {.name = "instance", .type = SCHEMA_STRING, .flags = SCHEMA_NONEMPTY, .offset = SC(instance),
     .doc = "only copies to this upstream address (`host:port`), or for instance faults this "
            "managed instance"},
    {.name = "route", .type = SCHEMA_STRING, .flags = SCHEMA_URLPATH, .offset = SC(route),
     .doc = "only requests whose path starts with this prefix"},
    {.name = "header", .type = SCHEMA_STRING, .flags = SCHEMA_TOKEN | SCHEMA_LOWER,
     .offset = SC(header), .doc = "only requests with this header"},
    {.name = "header_value", .type = SCHEMA_STRING, .flags = SCHEMA_NOCTL,
     .offset = SC(header_value), .doc = "... with exactly this value"},
    {0},
};

static const struct schema_key fault_keys[] = {
    {.name = "kind", .type = SCHEMA_ENUM, .required = true, .choices = config_fault_kinds,
     .offset = SC(kind), .doc = "what the fault does (docs/chaos.md)"},
    {.name = "probability", .type = SCHEMA_CUSTOM, .def = "1", .parse = parse_probability,
     .elem_size = sizeof(double), .offset = SC(probability), .type_doc = "number 0..1",
     .doc = "share of the copies in scope it acts on"},
    {.name = "direction", .type = SCHEMA_ENUM, .def = "request", .choices = directions,
     .offset = SC(direction), .doc = "on the way to the shadow or back"},
    {.name = "scope", .type = SCHEMA_SECTION, .sub = scope_keys, .offset = 0,
     .doc = "which copies or instances; every key narrows it"},
    {.name = "latency", .type = SCHEMA_DURATION, .min = 0, .max = 3600000 * MS,
     .offset = SC(latency_ns), .doc = "latency: added delay (the mean for a distribution)"},
    {.name = "jitter", .type = SCHEMA_DURATION, .min = 0, .max = 3600000 * MS,
     .offset = SC(jitter_ns), .doc = "latency: ± jitter (uniform) or standard deviation (normal)"},
    {.name = "distribution", .type = SCHEMA_ENUM, .def = "uniform", .choices = distributions,
     .offset = SC(distribution), .doc = "latency: how delays are drawn"},
    {.name = "rate", .type = SCHEMA_SIZE, .min = 0, .max = 1ULL << 40, .offset = SC(rate),
     .doc = "bandwidth: bytes per second"},
    {.name = "status", .type = SCHEMA_U32, .def = "503", .min = 100, .max = 599,
     .offset = SC(status), .doc = "abort: the status the copy is recorded with"},
    {.name = "slice_size", .type = SCHEMA_SIZE, .min = 0, .max = 1ULL << 30,
     .offset = SC(slice_size), .doc = "slicer: bytes per slice"},
    {.name = "slice_delay", .type = SCHEMA_DURATION, .min = 0, .max = 3600000 * MS,
     .offset = SC(slice_delay_ns), .doc = "slicer: pause between slices"},
    {.name = "delay", .type = SCHEMA_DURATION, .min = 0, .max = 3600000 * MS,
     .offset = SC(delay_ns), .doc = "slow_close: how long the connection is held"},
    {.name = "memory", .type = SCHEMA_SIZE, .min = 0, .max = 1ULL << 40, .offset = SC(memory),
     .doc = "memory: bytes held inside the instance's limits"},
    {.name = "start", .type = SCHEMA_DURATION, .min = 0, .max = 30 * DAY, .offset = SC(start_ns),
     .doc = "active from this long after the experiment starts"},
    {.name = "duration", .type = SCHEMA_DURATION, .min = 0, .max = 30 * DAY,
     .offset = SC(duration_ns), .doc = "active this long; 0: until the experiment ends"},
    {.name = "every", .type = SCHEMA_DURATION, .min = 0, .max = 30 * DAY, .offset = SC(every_ns),
     .doc = "schedule: a period ..."},
    {.name = "for", .type = SCHEMA_DURATION, .min = 0, .max = 30 * DAY, .offset = SC(for_ns),
     .doc = "... of which the fault is active this long"},
    {0},
};

#define EX(f) offsetof(struct config_experiment, f)
static const struct schema_key experiment_keys[] = {
    {.name = "name", .type = SCHEMA_STRING, .required = true, .flags = SCHEMA_NAME,
     .offset = EX(name), .doc = "shown in /v1/experiments and the metrics"},
    {.name = "start", .type = SCHEMA_DURATION, .min = 0, .max = 30 * DAY, .offset = EX(start_ns),
     .doc = "starts this long after `doppel serve` does"},
    {.name = "duration", .type = SCHEMA_DURATION, .min = 0, .max = 30 * DAY,
     .offset = EX(duration_ns), .doc = "ends after this long; 0: runs until deleted"},
    {.name = "max_affected", .type = SCHEMA_U32, .min = 0, .max = 4000000000U,
     .offset = EX(max_affected), .doc = "stop condition: ends once this many copies were affected"},
    {.name = "faults", .type = SCHEMA_LIST, .required = true, .min = 1, .max = 32,
     .sub = fault_keys, .elem_size = sizeof(struct config_fault), .offset = EX(faults),
     .offset_n = EX(nfaults), .doc = "what it does"},
    {0},
};

#define CH(f) offsetof(struct config_chaos, f)
const struct schema_key config_table_chaos[] = {
    {.name = "allow_primary_faults", .type = SCHEMA_BOOL, .def = "false",
     .offset = CH(allow_primary_faults),
     .doc = "let faults act on the primary path: request latency, abort, reset (test environments only)"},
    {.name = "experiments", .type = SCHEMA_LIST, .min = 0, .max = 64, .sub = experiment_keys,
     .elem_size = sizeof(struct config_experiment), .offset = CH(experiments),
     .offset_n = CH(nexperiments), .doc = "fault experiments started with `doppel serve`"},
    {0},
};
/* clang-format on */

static const struct cnode *fault_node(const struct cnode *root, size_t e, size_t f)
{
    const struct cnode *n = cnode_get(root, "chaos");
    n = n ? cnode_get(n, "experiments") : NULL;
    n = n && n->kind == CNODE_SEQ && e < n->n ? n->items[e] : n;
    const struct cnode *fl = n ? cnode_get(n, "faults") : NULL;
    return fl && fl->kind == CNODE_SEQ && f < fl->n ? fl->items[f] : (n ? n : root);
}

/* The sentence for what a fault of its kind lacks, or NULL. */
static const char *fault_missing(const struct config_fault *f)
{
    const char *k = config_fault_kinds[f->kind];
    if (!strcmp(k, "latency") && !f->latency_ns && !f->jitter_ns)
        return "a latency fault needs 'latency' or 'jitter'";
    if (!strcmp(k, "bandwidth") && !f->rate)
        return "a bandwidth fault needs 'rate' (bytes per second)";
    if (!strcmp(k, "slicer") && !f->slice_size)
        return "a slicer fault needs 'slice_size'";
    if (!strcmp(k, "slow_close") && !f->delay_ns)
        return "a slow_close fault needs 'delay'";
    if (!strcmp(k, "memory") && f->memory < 4096)
        return "a memory fault needs 'memory' of at least 4KiB";
    if ((f->every_ns == 0) != (f->for_ns == 0) || f->for_ns > f->every_ns)
        return "'every' and 'for' go together, and 'for' must not exceed 'every'";
    return NULL;
}

/* A fault on the primary path: request-direction latency, abort and reset only (the
 * chaos room's fault_primary_refusal says the same for the API). */
static const char *primary_refusal(const struct config_fault *f)
{
    const char *k = config_fault_kinds[f->kind];
    if (strcmp(k, "latency") && strcmp(k, "abort") && strcmp(k, "reset"))
        return "on the primary path only 'latency', 'abort' and 'reset' apply";
    if (f->direction != 0)
        return "on the primary path faults act in the request direction only";
    if (f->instance)
        return "on the primary path the scope cannot name an instance";
    return NULL;
}

/* The scope names a service and pool that exist; the primary only where allowed. */
static const char *scope_unknown(const struct config *cfg, const struct config_fault *f)
{
    if (f->pool && !strcmp(f->pool, "primary") && !cfg->chaos.allow_primary_faults)
        return "faults on the primary pool need chaos.allow_primary_faults: true";
    bool service = !f->service, pool = !f->pool || !strcmp(f->pool, "primary");
    for (size_t i = 0; i < cfg->nservices; i++) {
        const struct config_service *s = &cfg->services[i];
        if (f->service && strcmp(f->service, s->name) != 0)
            continue;
        service = true;
        for (size_t j = 0; j < s->nshadows && !pool; j++)
            pool = !strcmp(s->shadows[j].name, f->pool);
    }
    if (!service)
        return "the scope names no service of this file";
    return pool ? NULL : "the scope names no shadow pool of its service";
}

int config_chaos_check(const struct config *cfg, const struct cnode *root, struct err *err)
{
    const struct config_chaos *c = &cfg->chaos;
    for (size_t e = 0; e < c->nexperiments; e++) {
        for (size_t k = 0; k < e; k++)
            if (!strcmp(c->experiments[k].name, c->experiments[e].name))
                return cnode_error(err, fault_node(root, e, SIZE_MAX), -EINVAL,
                                   "experiment name '%s' is used twice", c->experiments[e].name);
        for (size_t f = 0; f < c->experiments[e].nfaults; f++) {
            const struct config_fault *cf = &c->experiments[e].faults[f];
            const char *why = fault_missing(cf);
            if (!why)
                why = scope_unknown(cfg, cf);
            if (!why && cf->pool && !strcmp(cf->pool, "primary") && (why = primary_refusal(cf)))
                return cnode_error(err, fault_node(root, e, f), -EINVAL, "'%s': %s",
                                   config_fault_kinds[cf->kind], why);
            if (why)
                return cnode_error(err, fault_node(root, e, f), -EINVAL, "%s", why);
        }
    }
    return 0;
}
