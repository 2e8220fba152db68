/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_analyze_judge: `doppel analyze judge --baseline B.csv --canary C.csv [--json]` reads
 * two `metric,value` sample files, runs the canary judge (analyzer/judge.h) and prints the
 * verdict, the score and per metric the deciding test, effect, interval and reason, for
 * people or (--json) as one JSON object. Owns only the samples it reads for one run.
 * Exit 0 whenever a verdict was produced, 2 on usage or input errors.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer/judge.h"
#include "base/xalloc.h"
#include "cli/cli_analyze.h"
#include "cli/csv.h"

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
        rc = err_set(err, -EINVAL, "%s:%d: header must name the columns 'metric' and 'value'",
                     path, csv.header.line);
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

static void print_human(const struct judge_result *r, double alpha)
{
    printf("verdict: %s (score %.0f/100)\n", judge_status_name(r->verdict), r->score);
    printf("because: %s\n\n", r->reason);
    for (size_t i = 0; i < r->nmetrics; i++) {
        const struct judge_metric_result *m = &r->metrics[i];
        printf("%s: %s%s, %zu baseline / %zu canary samples\n  %s\n", m->name,
               judge_status_name(m->status), m->config.critical ? " (critical)" : "",
               m->nbaseline, m->ncanary, m->reason);
        for (size_t j = 0; j < m->nchecks; j++) {
            const struct judge_check *k = &m->checks[j];
            printf("    %-8s %-20s %-16s %+9.3g%%  [%+.3g%%, %+.3g%%]  p=%.3g adj=%.3g\n",
                   judge_status_name(k->status), k->test, k->measure, k->effect * 100,
                   k->lo * 100, k->hi * 100, k->p, k->p_adjusted);
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
    int json;
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option longs[] = {{"baseline", required_argument, NULL, 'b'},
                                          {"canary", required_argument, NULL, 'c'},
                                          {"json", no_argument, NULL, 'j'},
                                          {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof(*o));
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (ch) {
        case 'b': o->baseline = optarg; break;
        case 'c': o->canary = optarg; break;
        case 'j': o->json = 1; break;
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
    int rc = read_side(o->baseline, 0, cfg, &all, &err);
    if (!rc)
        rc = read_side(o->canary, 1, cfg, &all, &err);
    if (rc)
        goto out;
    js = xcalloc(all.n ? all.n : 1, sizeof(*js));
    for (size_t i = 0; i < all.n; i++)
        js[i] = (struct judge_sample){.name = all.s[i].name, .baseline = all.s[i].v[0],
                                      .nbaseline = all.s[i].n[0], .canary = all.s[i].v[1],
                                      .ncanary = all.s[i].n[1]};
    if ((rc = judge_run(cfg, js, all.n, &res, &err)) != 0)
        goto out;
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
    if (parse_opts(argc, argv, &o) != 0)
        return CLI_USAGE;
    judge_config_init(&cfg);
    return judge_files(&o, &cfg);
}

const struct cli_cmd cli_analyze_judge = {
    .name = "judge",
    .usage = "analyze judge --baseline B.csv --canary C.csv [--json]",
    .summary = "canary verdict (pass/marginal/fail) from baseline and canary samples",
    .help = "Reads two CSV files with the header `metric,value` (one row per sample) and\n"
            "judges the canary against the baseline per metric: latency* (increase is bad;\n"
            "location, p90/p99 and spread), error* (0/1 per request; Fisher exact), cpu* and\n"
            "mem* (windows; increase is bad), any other metric (a change either way).\n\n"
            "  --baseline FILE   samples of the baseline (\"-\" reads standard input)\n"
            "  --canary FILE     samples of the canary\n"
            "  --json            print one JSON object instead of the summary\n\n"
            "Exit status: 0 when a verdict was produced (pass, marginal or fail), 2 on usage\n"
            "or input errors (file:line: what is wrong).\n",
    .run = run,
};
