/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_analyze_judge: `doppel analyze judge --baseline B.csv --canary C.csv [--json]` reads
 * two `metric,value` sample files, runs the canary judge (analyzer/judge.h) and prints the
 * verdict, the score and per metric the deciding test, effect, interval and reason, for
 * people or (--json) as one JSON object. --config FILE reads per-metric settings and the
 * score thresholds from YAML through config/cnode.h. Owns the samples and the config tree
 * of one run.
 * Exit 0 whenever a verdict was produced, 2 on usage or input errors.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer/judge.h"
#include "base/clock.h"
#include "base/xalloc.h"
#include "cli/cli_analyze.h"
#include "cli/csv.h"
#include "config/cnode.h"

#define JUDGE_MAX_FILE (1024UL * 1024 * 1024)

/* Samples of one metric from both files. */
struct series {
    char *name; /* owned */
    double *v[2];
    size_t n[2], cap[2];
    int proportion; /* values must be 0 or 1 */
};

struct samples {
    struct series *s;
    size_t n, cap;
};

static struct series *series_get(struct samples *all, const char *name)
{
    for (size_t i = 0; i < all->n; i++)
        if (strcmp(all->s[i].name, name) == 0)
            return &all->s[i];
    if (all->n == all->cap) {
        all->cap = all->cap ? all->cap * 2 : 4;
        all->s = xreallocarray(all->s, all->cap, sizeof(*all->s));
    }
    struct series *s = &all->s[all->n++];
    memset(s, 0, sizeof(*s));
    s->name = xstrdup(name);
    return s;
}

static void series_push(struct series *s, int side, double v)
{
    if (s->n[side] == s->cap[side]) {
        s->cap[side] = s->cap[side] ? s->cap[side] * 2 : 256;
        s->v[side] = xreallocarray(s->v[side], s->cap[side], sizeof(double));
    }
    s->v[side][s->n[side]++] = v;
}

static void samples_release(struct samples *all)
{
    for (size_t i = 0; i < all->n; i++) {
        free(all->s[i].name);
        free(all->s[i].v[0]);
        free(all->s[i].v[1]);
    }
    free(all->s);
    memset(all, 0, sizeof(*all));
}

/* Reads one file's rows into the series; side 0 is the baseline, 1 the canary. */
static int read_side(const char *path, int side, const struct judge_config *cfg,
                     struct samples *all, struct err *err)
{
    struct csv csv;
    int rc = csv_read_file(path, 1, JUDGE_MAX_FILE, &csv, err);
    if (rc)
        return rc;
    int cm = csv_column(&csv, "metric"), cv = csv_column(&csv, "value");
    if (cm < 0 || cv < 0) {
        rc = err_set(err, -EINVAL, "%s:%d: header must name the columns 'metric' and 'value'", path,
                     csv.header.line);
        goto out;
    }
    struct series *cur = NULL;
    for (size_t i = 0; i < csv.nrows && !rc; i++) {
        const struct csv_row *row = &csv.rows[i];
        double v;
        if ((size_t)cm >= row->nfields || row->fields[cm][0] == '\0') {
            rc = err_set(err, -EINVAL, "%s:%d: the metric name is missing", path, row->line);
            break;
        }
        if ((rc = csv_double(&csv, row, (size_t)cv, &v, err)) != 0)
            break;
        if (!cur || strcmp(cur->name, row->fields[cm]) != 0) {
            struct judge_metric_config mc;
            cur = series_get(all, row->fields[cm]);
            judge_metric_lookup(cfg, cur->name, &mc);
            cur->proportion = mc.kind == JUDGE_PROPORTION;
        }
        if (cur->proportion && v != 0 && v != 1)
            rc = err_set(err, -EINVAL, "%s:%d: metric '%s' is a proportion: '%s' is not 0 or 1",
                         path, row->line, cur->name, row->fields[cv]);
        series_push(cur, side, v);
    }
out:
    csv_release(&csv);
    return rc;
}

/* ---- --config ---------------------------------------------------------------------- */

struct judge_yaml {
    struct cnode *root;                  /* owned; metric names point into it */
    struct judge_metric_config *metrics; /* owned */
};

static int pick(const struct cnode *n, const char *const *names, int *out, struct err *err)
{
    const char *s;
    int rc = cnode_string(n, &s, err);
    if (rc)
        return rc;
    for (int i = 0; names[i]; i++) {
        if (strcmp(names[i], s) == 0) {
            *out = i;
            return 0;
        }
    }
    char list[160] = "";
    for (int i = 0; names[i]; i++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "", names[i]);
    return cnode_error(err, n, -EINVAL, "'%s' is not one of: %s", s, list);
}

/* A tolerance: a fraction >= 0, or "off" where the check may be disabled. */
static int tolerance(const struct cnode *n, int may_disable, double *out, struct err *err)
{
    if (may_disable && n->kind == CNODE_SCALAR && strcmp(n->scalar, "off") == 0) {
        *out = -1;
        return 0;
    }
    return cnode_double(n, 0, 10, out, err);
}

static int metric_enums(const struct cnode *m, struct judge_metric_config *mc, struct err *err)
{
    static const char *const kinds[] = {"continuous", "proportion", NULL};
    static const char *const dirs[] = {"increase", "decrease", "either", NULL};
    static const char *const miss[] = {"ignore", "pass", "marginal", "fail", NULL};
    static const char *const outl[] = {"keep", "clip", NULL};
    const struct cnode *n;
    int v, rc = 0;
    if (!rc && (n = cnode_get(m, "kind")) && !(rc = pick(n, kinds, &v, err)))
        mc->kind = (enum judge_kind)v;
    if (!rc && (n = cnode_get(m, "direction")) && !(rc = pick(n, dirs, &v, err)))
        mc->direction = (enum judge_direction)v;
    if (!rc && (n = cnode_get(m, "missing")) && !(rc = pick(n, miss, &v, err)))
        mc->missing = (enum judge_missing)v;
    if (!rc && (n = cnode_get(m, "outliers")) && !(rc = pick(n, outl, &v, err)))
        mc->outliers = (enum judge_outliers)v;
    return rc;
}

static int metric_numbers(const struct cnode *m, struct judge_metric_config *mc, struct err *err)
{
    const struct cnode *n;
    int64_t k;
    int rc = 0;
    if (!rc && (n = cnode_get(m, "tolerance")))
        rc = tolerance(n, 0, &mc->tolerance, err);
    if (!rc && (n = cnode_get(m, "tail_tolerance")))
        rc = tolerance(n, 1, &mc->tail_tolerance, err);
    if (!rc && (n = cnode_get(m, "spread_tolerance")))
        rc = tolerance(n, 1, &mc->spread_tolerance, err);
    if (!rc && (n = cnode_get(m, "weight")))
        rc = cnode_double(n, 0, 1000, &mc->weight, err);
    if (!rc && (n = cnode_get(m, "clip_quantile")))
        rc = cnode_double(n, 0.5, 1, &mc->clip_quantile, err);
    if (!rc && (n = cnode_get(m, "critical")))
        rc = cnode_bool(n, &mc->critical, err);
    if (!rc && (n = cnode_get(m, "windowed")))
        rc = cnode_bool(n, &mc->windowed, err);
    if (!rc && (n = cnode_get(m, "min_samples")) && !(rc = cnode_i64(n, 2, 1000000000, &k, err)))
        mc->min_samples = (size_t)k;
    return rc;
}

static int load_metric(const struct cnode *key, const struct cnode *m,
                       struct judge_metric_config *mc, struct err *err)
{
    static const char *const keys[] = {
        "kind",          "direction",   "tolerance", "tail_tolerance", "spread_tolerance",
        "weight",        "critical",    "windowed",  "missing",        "outliers",
        "clip_quantile", "min_samples", NULL};
    if (m->kind != CNODE_MAP)
        return cnode_error(err, m, -EINVAL, "metric '%s': expected a map of settings", key->scalar);
    int rc = cnode_check_keys(m, keys, err);
    if (rc)
        return rc;
    judge_metric_defaults(key->scalar, mc);
    if ((rc = metric_enums(m, mc, err)) || (rc = metric_numbers(m, mc, err)))
        return rc;
    return 0;
}

static int load_top(const struct cnode *root, struct judge_config *cfg, struct err *err)
{
    static const char *const keys[] = {
        "alpha", "pass_score", "marginal_score", "bootstrap", "seed", "metrics", NULL};
    const struct cnode *n;
    int64_t k;
    int rc = cnode_check_keys(root, keys, err);
    if (!rc && (n = cnode_get(root, "alpha")))
        rc = cnode_double(n, 1e-6, 0.5, &cfg->alpha, err);
    if (!rc && (n = cnode_get(root, "pass_score")))
        rc = cnode_double(n, 0, 100, &cfg->pass_score, err);
    if (!rc && (n = cnode_get(root, "marginal_score")))
        rc = cnode_double(n, 0, 100, &cfg->marginal_score, err);
    if (!rc && (n = cnode_get(root, "bootstrap")) && !(rc = cnode_i64(n, 0, 100000, &k, err)))
        cfg->bootstrap = (unsigned)k;
    if (!rc && (n = cnode_get(root, "seed")) && !(rc = cnode_i64(n, 0, INT64_MAX, &k, err)))
        cfg->seed = (uint64_t)k;
    if (!rc && cfg->marginal_score > cfg->pass_score)
        rc = cnode_error(err, cnode_get(root, "marginal_score"), -EINVAL,
                         "marginal_score %g is above pass_score %g", cfg->marginal_score,
                         cfg->pass_score);
    return rc;
}

static int load_config(const char *path, struct judge_config *cfg, struct judge_yaml *y,
                       struct err *err)
{
    int rc = cnode_load_file(path, &y->root, err);
    if (rc)
        return rc;
    if (y->root->kind != CNODE_MAP)
        return cnode_error(err, y->root, -EINVAL, "expected a map at the top of the file");
    if ((rc = load_top(y->root, cfg, err)) != 0)
        return rc;
    const struct cnode *ms = cnode_get(y->root, "metrics");
    if (!ms)
        return 0;
    if (ms->kind != CNODE_MAP)
        return cnode_error(err, ms, -EINVAL, "'metrics' must map metric names to settings");
    y->metrics = xcalloc(ms->n ? ms->n : 1, sizeof(*y->metrics));
    for (size_t i = 0; i < ms->n; i++)
        if ((rc = load_metric(ms->keys[i], ms->items[i], &y->metrics[i], err)) != 0)
            return rc;
    cfg->metrics = y->metrics;
    cfg->nmetrics = ms->n;
    return 0;
}

static void judge_yaml_release(struct judge_yaml *y)
{
    cnode_free(y->root);
    free(y->metrics);
}

static void print_human(const struct judge_result *r, double alpha)
{
    printf("verdict: %s (score %.0f/100)\n", judge_status_name(r->verdict), r->score);
    printf("because: %s\n\n", r->reason);
    for (size_t i = 0; i < r->nmetrics; i++) {
        const struct judge_metric_result *m = &r->metrics[i];
        printf("%s: %s%s, %zu baseline / %zu canary samples\n  %s\n", m->name,
               judge_status_name(m->status), m->config.critical ? " (critical)" : "", m->nbaseline,
               m->ncanary, m->reason);
        const char *u = m->config.kind == JUDGE_PROPORTION ? " pts" : "%";
        for (size_t j = 0; j < m->nchecks; j++) {
            const struct judge_check *k = &m->checks[j];
            printf("    %-8s %-20s %-16s %+9.3g%s  [%+.3g%s, %+.3g%s]  p=%.3g adj=%.3g\n",
                   judge_status_name(k->status), k->test, k->measure, k->effect * 100, u,
                   k->lo * 100, u, k->hi * 100, u, k->p, k->p_adjusted);
        }
    }
    printf("\nintervals at %g%%; p-values test the change beyond each tolerance; "
           "adjusted by Holm across all tests\n",
           (1 - alpha) * 100);
}

static cJSON *check_json(const struct judge_check *k)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "test", k->test);
    cJSON_AddStringToObject(o, "measure", k->measure);
    cJSON_AddStringToObject(o, "status", judge_status_name(k->status));
    cJSON_AddNumberToObject(o, "p_value", k->p);
    cJSON_AddNumberToObject(o, "p_adjusted", k->p_adjusted);
    cJSON_AddNumberToObject(o, "effect", k->effect);
    cJSON *iv = cJSON_AddArrayToObject(o, "interval");
    cJSON_AddItemToArray(iv, cJSON_CreateNumber(k->lo));
    cJSON_AddItemToArray(iv, cJSON_CreateNumber(k->hi));
    cJSON_AddNumberToObject(o, "tolerance", k->tolerance);
    return o;
}

static cJSON *metric_json(const struct judge_metric_result *m)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", m->name);
    cJSON_AddStringToObject(o, "status", judge_status_name(m->status));
    cJSON_AddBoolToObject(o, "critical", m->config.critical);
    cJSON_AddNumberToObject(o, "n_baseline", (double)m->nbaseline);
    cJSON_AddNumberToObject(o, "n_canary", (double)m->ncanary);
    if (m->nchecks) {
        const struct judge_check *k = &m->checks[m->worst];
        cJSON_AddStringToObject(o, "test", k->test);
        cJSON_AddNumberToObject(o, "p_value", k->p);
        cJSON_AddNumberToObject(o, "p_adjusted", k->p_adjusted);
        cJSON_AddStringToObject(o, "measure", k->measure);
        cJSON_AddNumberToObject(o, "effect", k->effect);
        cJSON *iv = cJSON_AddArrayToObject(o, "interval");
        cJSON_AddItemToArray(iv, cJSON_CreateNumber(k->lo));
        cJSON_AddItemToArray(iv, cJSON_CreateNumber(k->hi));
    }
    cJSON_AddStringToObject(o, "reason", m->reason);
    cJSON *checks = cJSON_AddArrayToObject(o, "checks");
    for (size_t j = 0; j < m->nchecks; j++)
        cJSON_AddItemToArray(checks, check_json(&m->checks[j]));
    return o;
}

static void print_json(const struct judge_result *r, const struct judge_config *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "verdict", judge_status_name(r->verdict));
    cJSON_AddNumberToObject(o, "score", r->score);
    cJSON_AddStringToObject(o, "reason", r->reason);
    cJSON_AddNumberToObject(o, "alpha", c->alpha);
    cJSON *ms = cJSON_AddArrayToObject(o, "metrics");
    for (size_t i = 0; i < r->nmetrics; i++)
        cJSON_AddItemToArray(ms, metric_json(&r->metrics[i]));
    char *text = cJSON_PrintUnformatted(o);
    printf("%s\n", text);
    cJSON_free(text);
    cJSON_Delete(o);
}

struct opts {
    const char *baseline, *canary, *config;
    int json, timing;
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option longs[] = {
        {"baseline", required_argument, NULL, 'b'}, {"canary", required_argument, NULL, 'c'},
        {"config", required_argument, NULL, 'f'},   {"json", no_argument, NULL, 'j'},
        {"timing", no_argument, NULL, 't'},         {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof(*o));
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (ch) {
        case 'b':
            o->baseline = optarg;
            break;
        case 'c':
            o->canary = optarg;
            break;
        case 'f':
            o->config = optarg;
            break;
        case 'j':
            o->json = 1;
            break;
        case 't':
            o->timing = 1;
            break;
        default:
            return cli_usage_error(&cli_analyze_judge, "unknown or incomplete option '%s'",
                                   argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error(&cli_analyze_judge, "unexpected argument '%s'", argv[optind]);
    if (!o->baseline || !o->canary)
        return cli_usage_error(&cli_analyze_judge, "--baseline and --canary are required");
    return 0;
}

static int judge_files(const struct opts *o, const struct judge_config *cfg)
{
    struct samples all = {0};
    struct judge_result res = {0};
    struct judge_sample *js = NULL;
    struct err err;
    err_clear(&err);
    uint64_t t0 = clock_mono_ns();
    int rc = read_side(o->baseline, 0, cfg, &all, &err);
    if (!rc)
        rc = read_side(o->canary, 1, cfg, &all, &err);
    if (!rc && all.n == 0)
        rc = err_set(&err, -EINVAL, "%s, %s: no samples in either file", o->baseline, o->canary);
    if (rc)
        goto out;
    js = xcalloc(all.n ? all.n : 1, sizeof(*js));
    for (size_t i = 0; i < all.n; i++)
        js[i] = (struct judge_sample){.name = all.s[i].name,
                                      .baseline = all.s[i].v[0],
                                      .nbaseline = all.s[i].n[0],
                                      .canary = all.s[i].v[1],
                                      .ncanary = all.s[i].n[1]};
    uint64_t t1 = clock_mono_ns();
    if ((rc = judge_run(cfg, js, all.n, &res, &err)) != 0)
        goto out;
    if (o->timing)
        fprintf(stderr, "timing: read %.1f ms, judge %.1f ms\n", (double)(t1 - t0) / 1e6,
                (double)(clock_mono_ns() - t1) / 1e6);
    if (o->json)
        print_json(&res, cfg);
    else
        print_human(&res, cfg->alpha);
out:
    if (rc)
        fprintf(stderr, "doppel analyze judge: %s\n", err.msg);
    judge_result_release(&res);
    free(js);
    samples_release(&all);
    return rc ? CLI_USAGE : CLI_OK;
}

static int run(int argc, char **argv)
{
    struct opts o;
    struct judge_config cfg;
    struct judge_yaml y = {0};
    struct err err;
    if (parse_opts(argc, argv, &o) != 0)
        return CLI_USAGE;
    judge_config_init(&cfg);
    err_clear(&err);
    if (o.config && load_config(o.config, &cfg, &y, &err) != 0) {
        fprintf(stderr, "doppel analyze judge: %s\n", err.msg);
        judge_yaml_release(&y);
        return CLI_USAGE;
    }
    int rc = judge_files(&o, &cfg);
    judge_yaml_release(&y);
    return rc;
}

const struct cli_cmd cli_analyze_judge = {
    .name = "judge",
    .usage = "analyze judge --baseline B.csv --canary C.csv [--config judge.yaml] [--json]",
    .summary = "canary verdict (pass/marginal/fail) from baseline and canary samples",
    .help = "Reads two CSV files with the header `metric,value` (one row per sample) and\n"
            "judges the canary against the baseline per metric: latency* (increase is bad;\n"
            "location, tail and spread), error* (0/1 per request; Fisher exact), cpu* and\n"
            "mem* (windows; increase is bad), any other metric (a change either way).\n\n"
            "  --baseline FILE   samples of the baseline (\"-\" reads standard input)\n"
            "  --canary FILE     samples of the canary\n"
            "  --config FILE     YAML: alpha, pass_score, marginal_score and per metric\n"
            "                    direction, tolerances, critical, missing, outliers (see\n"
            "                    examples/judge.yaml)\n"
            "  --json            print one JSON object instead of the summary\n"
            "  --timing          print the time spent reading and judging to stderr\n\n"
            "Exit status: 0 when a verdict was produced (pass, marginal or fail), 2 on usage\n"
            "or input errors (file:line: what is wrong).\n",
    .run = run,
};
