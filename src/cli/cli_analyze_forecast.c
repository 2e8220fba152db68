/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_analyze_forecast: `doppel analyze forecast` reads a series (or, with --wide, many
 * series in M4's layout) from CSV, runs the analyzer's forecaster (analyzer/forecast.h)
 * and prints the fitted model and the forecast with intervals, as text or JSON, or one
 * row of point forecasts per series. Owns the parsed options and the CSV; all modelling
 * is in the analyzer. Wide files are fitted in parallel by a small pthread pool.
 */
#include "cli/cli_analyze.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyzer/forecast.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "cli/csv.h"

#define MAX_FILE_BYTES (1024UL * 1024 * 1024)
#define MAX_JOBS 256

struct fc_args {
    const char *input, *output, *bounds;
    struct forecast_opts opts;
    int json, wide;
    size_t jobs;
};

/* Parses "24" or "24,168" (ascending) into periods. */
static int parse_periods(const char *s, struct forecast_opts *o)
{
    if (strcmp(s, "auto") == 0) {
        o->auto_period = 1;
        o->nperiods = 0;
        return 0;
    }
    o->auto_period = 0;
    o->nperiods = 0;
    if (strcmp(s, "none") == 0)
        return 0;
    char *copy = xstrdup(s), *save = NULL, *tok;
    int rc = 0;
    for (tok = strtok_r(copy, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save)) {
        uint64_t v;
        if (o->nperiods == FORECAST_MAX_PERIODS || str_to_u64(tok, &v) != 0 || v < 2 ||
            v > 1000000 || (o->nperiods && v <= o->periods[o->nperiods - 1]))
            rc = -EINVAL;
        else
            o->periods[o->nperiods++] = (size_t)v;
    }
    free(copy);
    return o->nperiods || rc ? rc : -EINVAL;
}

static int parse_levels(const char *s, struct forecast_opts *o)
{
    char *copy = xstrdup(s), *save = NULL, *tok;
    int rc = 0;
    o->nlevels = 0;
    for (tok = strtok_r(copy, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save)) {
        double v;
        if (o->nlevels == FORECAST_MAX_LEVELS || str_to_double(tok, &v) != 0 || !(v > 0) ||
            !(v < 100))
            rc = -EINVAL;
        else
            o->levels[o->nlevels++] = v;
    }
    free(copy);
    return rc;
}

static int parse_size(const char *s, size_t lo, size_t hi, size_t *out)
{
    uint64_t v;
    if (str_to_u64(s, &v) != 0 || v < lo || v > hi)
        return -EINVAL;
    *out = (size_t)v;
    return 0;
}

static int parse_transform(const char *s, struct forecast_opts *o)
{
    if (strcmp(s, "auto") == 0)
        o->transform = FORECAST_TRANSFORM_AUTO;
    else if (strcmp(s, "none") == 0)
        o->transform = FORECAST_TRANSFORM_NONE;
    else if (strcmp(s, "log") == 0)
        o->transform = FORECAST_TRANSFORM_LOG;
    else
        return -EINVAL;
    return 0;
}

static int parse_args(int argc, char **argv, struct fc_args *a)
{
    static const struct option longopts[] = {
        {"input", required_argument, NULL, 'i'},
        {"horizon", required_argument, NULL, 'H'},
        {"period", required_argument, NULL, 'p'},
        {"level", required_argument, NULL, 'l'},
        {"json", no_argument, NULL, 'j'},
        {"wide", no_argument, NULL, 'w'},
        {"output", required_argument, NULL, 'o'},
        {"jobs", required_argument, NULL, 'J'},
        {"transform", required_argument, NULL, 't'},
        {"bounds", required_argument, NULL, 'b'},
        {NULL, 0, NULL, 0},
    };
    const struct cli_cmd *c = &cli_analyze_forecast;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    *a =
        (struct fc_args){.opts = {.horizon = 0, .auto_period = 1, .nlevels = 2, .levels = {80, 95}},
                         .jobs = ncpu > 0 ? (size_t)ncpu : 1};
    int ch;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "i:o:", longopts, NULL)) != -1) {
        switch (ch) {
        case 'i':
            a->input = optarg;
            break;
        case 'o':
            a->output = optarg;
            break;
        case 'b':
            a->bounds = optarg;
            break;
        case 'j':
            a->json = 1;
            break;
        case 'w':
            a->wide = 1;
            break;
        case 'H':
            if (parse_size(optarg, 1, FORECAST_MAX_HORIZON, &a->opts.horizon))
                return cli_usage_error(c, "--horizon '%s' is not an integer in 1..%d", optarg,
                                       FORECAST_MAX_HORIZON);
            break;
        case 'p':
            if (parse_periods(optarg, &a->opts))
                return cli_usage_error(c,
                                       "--period '%s': expected auto, none or ascending "
                                       "integers >= 2 such as 24,168",
                                       optarg);
            break;
        case 'l':
            if (parse_levels(optarg, &a->opts))
                return cli_usage_error(c,
                                       "--level '%s': expected percentages in (0,100) "
                                       "such as 80,95",
                                       optarg);
            break;
        case 'J':
            if (parse_size(optarg, 1, MAX_JOBS, &a->jobs))
                return cli_usage_error(c, "--jobs '%s' is not an integer in 1..%d", optarg,
                                       MAX_JOBS);
            break;
        case 't':
            if (parse_transform(optarg, &a->opts))
                return cli_usage_error(c, "--transform '%s': expected auto, none or log", optarg);
            break;
        default:
            return cli_usage_error(c, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
    if (!a->input)
        return cli_usage_error(c, "--input FILE is required");
    if (!a->opts.horizon)
        return cli_usage_error(c, "--horizon N is required");
    if (a->bounds && !a->wide)
        return cli_usage_error(c, "--bounds needs --wide");
    if (a->json && a->wide)
        return cli_usage_error(c, "--json and --wide cannot be combined");
    return CLI_OK;
}

/* Reads one series: the last column of each row; a first row that is not a number is a
 * header. */
static int read_series(const char *path, double **ys, size_t *n, struct err *err)
{
    struct csv c;
    int rc = csv_read_file(path, 0, MAX_FILE_BYTES, &c, err);
    if (rc)
        return rc;
    *ys = xcalloc(c.nrows ? c.nrows : 1, sizeof(double));
    *n = 0;
    for (size_t i = 0; i < c.nrows && !rc; i++) {
        const struct csv_row *r = &c.rows[i];
        double v;
        if (i == 0 && str_to_double(r->fields[r->nfields - 1], &v) != 0)
            continue;
        rc = csv_double(&c, r, r->nfields - 1, &(*ys)[(*n)++], err);
    }
    if (!rc && *n == 0)
        rc = err_set(err, -EINVAL, "%s: no values", path);
    csv_release(&c);
    if (rc) {
        free(*ys);
        *ys = NULL;
    }
    return rc;
}

static const char *member_name(const struct forecast_hw *m)
{
    if (m->season == FORECAST_SEASON_NONE)
        return m->trend
                   ? (m->phi < 1 ? "damped Holt, seasonally adjusted" : "Holt, seasonally adjusted")
                   : "SES, seasonally adjusted";
    return m->trend ? "Holt-Winters additive damped" : "Holt-Winters additive";
}

static void print_params(const struct forecast *f, FILE *out)
{
    fprintf(out, "model      %s\n", f->description);
    fprintf(out, "transform  %s\n", f->lambda == 0 ? "log (Box-Cox lambda 0)" : "none");
    fprintf(out, "periods    ");
    for (size_t i = 0; i < f->nperiods; i++)
        fprintf(out, "%s%zu", i ? "," : "", f->periods[i]);
    fprintf(out, "%s%s\n", f->nperiods ? "" : "none", f->periods_detected ? " (detected)" : "");
    for (size_t i = 0; i < FORECAST_MEMBERS - 1; i++) {
        const struct forecast_hw *m = &f->hw[i];
        fprintf(out, "%-10s %s, m %zu: alpha %.4f", i ? "" : "members", member_name(m), m->period,
                m->alpha);
        if (m->trend)
            fprintf(out, " beta %.4f phi %.4f", m->beta, m->phi);
        if (m->season != FORECAST_SEASON_NONE)
            fprintf(out, " gamma %.4f", m->gamma);
        fprintf(out, "; hold-out sMAPE %.3f\n", f->member[i]);
    }
    fprintf(out, "%-10s %s; hold-out sMAPE %.3f\n", "", f->nperiods ? "seasonal naive" : "naive",
            f->member[FORECAST_MEMBERS - 1]);
    fprintf(out, "error      in-sample MAE %.6g RMSE %.6g MASE %.4f; hold-out sMAPE %.3f\n", f->mae,
            f->rmse, f->mase, f->holdout_smape);
    fprintf(out, "intervals  one-step sd %.6g (transformed), calibration x%.3f\n", f->sigma,
            f->calibration);
}

static void print_human(const struct forecast *f, FILE *out)
{
    print_params(f, out);
    fprintf(out, "\n%6s %14s", "step", "forecast");
    for (size_t l = 0; l < f->nlevels; l++) {
        char lo[32], hi[32];
        snprintf(lo, sizeof(lo), "lo%g", f->levels[l]);
        snprintf(hi, sizeof(hi), "hi%g", f->levels[l]);
        fprintf(out, " %14s %14s", lo, hi);
    }
    fprintf(out, "\n");
    for (size_t k = 0; k < f->horizon; k++) {
        fprintf(out, "%6zu %14.6g", k + 1, f->mean[k]);
        for (size_t l = 0; l < f->nlevels; l++)
            fprintf(out, " %14.6g %14.6g", f->lower[l * f->horizon + k],
                    f->upper[l * f->horizon + k]);
        fprintf(out, "\n");
    }
}

static cJSON *json_model(const struct forecast *f)
{
    cJSON *m = cJSON_CreateObject(), *p = cJSON_AddArrayToObject(m, "periods");
    cJSON_AddStringToObject(m, "description", f->description);
    cJSON_AddStringToObject(m, "transform", f->lambda == 0 ? "log" : "none");
    for (size_t i = 0; i < f->nperiods; i++)
        cJSON_AddItemToArray(p, cJSON_CreateNumber((double)f->periods[i]));
    cJSON_AddBoolToObject(m, "periods_detected", f->periods_detected);
    cJSON *mem = cJSON_AddArrayToObject(m, "members");
    for (size_t i = 0; i < FORECAST_MEMBERS - 1; i++) {
        const struct forecast_hw *hw = &f->hw[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "kind", member_name(hw));
        cJSON_AddNumberToObject(o, "period", (double)hw->period);
        cJSON_AddNumberToObject(o, "alpha", hw->alpha);
        if (hw->trend) {
            cJSON_AddNumberToObject(o, "beta", hw->beta);
            cJSON_AddNumberToObject(o, "phi", hw->phi);
        }
        if (hw->season != FORECAST_SEASON_NONE)
            cJSON_AddNumberToObject(o, "gamma", hw->gamma);
        cJSON_AddNumberToObject(o, "holdout_smape", f->member[i]);
        cJSON_AddItemToArray(mem, o);
    }
    cJSON *sn = cJSON_CreateObject();
    cJSON_AddStringToObject(sn, "kind", f->nperiods ? "seasonal naive" : "naive");
    cJSON_AddNumberToObject(sn, "holdout_smape", f->member[FORECAST_MEMBERS - 1]);
    cJSON_AddItemToArray(mem, sn);
    cJSON_AddNumberToObject(m, "sigma", f->sigma);
    cJSON_AddNumberToObject(m, "calibration", f->calibration);
    return m;
}

static void print_json(const struct forecast *f, FILE *out)
{
    cJSON *root = cJSON_CreateObject(), *acc, *arr;
    cJSON_AddItemToObject(root, "model", json_model(f));
    acc = cJSON_AddObjectToObject(root, "accuracy");
    cJSON_AddNumberToObject(acc, "mae", f->mae);
    cJSON_AddNumberToObject(acc, "rmse", f->rmse);
    cJSON_AddNumberToObject(acc, "mase", isfinite(f->mase) ? f->mase : 0);
    cJSON_AddNumberToObject(acc, "holdout_smape", f->holdout_smape);
    arr = cJSON_AddArrayToObject(root, "forecast");
    for (size_t k = 0; k < f->horizon; k++) {
        cJSON *s = cJSON_CreateObject(), *lo, *hi;
        cJSON_AddNumberToObject(s, "step", (double)(k + 1));
        cJSON_AddNumberToObject(s, "mean", f->mean[k]);
        cJSON_AddNumberToObject(s, "sd", f->sd[k]);
        lo = cJSON_AddObjectToObject(s, "lower");
        hi = cJSON_AddObjectToObject(s, "upper");
        for (size_t l = 0; l < f->nlevels; l++) {
            char key[32];
            snprintf(key, sizeof(key), "%g", f->levels[l]);
            cJSON_AddNumberToObject(lo, key, f->lower[l * f->horizon + k]);
            cJSON_AddNumberToObject(hi, key, f->upper[l * f->horizon + k]);
        }
        cJSON_AddItemToArray(arr, s);
    }
    char *text = cJSON_Print(root);
    fprintf(out, "%s\n", text);
    free(text);
    cJSON_Delete(root);
}

static int run_single(const struct fc_args *a)
{
    struct err err = {0};
    double *y = NULL;
    size_t n = 0;
    struct forecast *f = NULL;
    int rc = read_series(a->input, &y, &n, &err);
    if (!rc && forecast_new(y, n, &a->opts, &f, &err) != 0) {
        err_prefix(&err, "%s", a->input);
        rc = -EINVAL;
    }
    if (rc) {
        fprintf(stderr, "doppel analyze forecast: %s\n", err.msg);
        free(y);
        return CLI_USAGE;
    }
    FILE *out = a->output ? fopen(a->output, "w") : stdout;
    if (!out) {
        fprintf(stderr, "doppel analyze forecast: %s: cannot open for writing\n", a->output);
        rc = CLI_FAILED;
        goto out;
    }
    if (a->json)
        print_json(f, out);
    else
        print_human(f, out);
    if (out != stdout)
        fclose(out);
out:
    forecast_free(f);
    free(y);
    return rc;
}

/* Many series (--wide): parsed up front, fitted by a pool of threads. */
struct wide_series {
    const char *id; /* borrowed from the csv */
    int line;
    double *y; /* owned */
    size_t n;
    double *mean; /* owned: horizon point forecasts, then lower and upper per level */
    struct err err;
};

struct wide_pool {
    struct wide_series *s;
    size_t ns, next;
    const struct forecast_opts *opts;
    pthread_mutex_t lock;
};

static int wide_parse_row(const struct csv *c, const struct csv_row *r, struct wide_series *s,
                          struct err *err)
{
    size_t nf = r->nfields;
    while (nf > 1 && r->fields[nf - 1][strspn(r->fields[nf - 1], " \t")] == '\0')
        nf--; /* M4 pads shorter series with empty fields */
    s->id = r->fields[0];
    s->line = r->line;
    if (nf < 2)
        return err_set(err, -EINVAL, "%s:%d: series '%s' has no values", c->path, r->line, s->id);
    s->n = nf - 1;
    s->y = xcalloc(s->n, sizeof(double));
    for (size_t j = 1; j < nf; j++) {
        int rc = csv_double(c, r, j, &s->y[j - 1], err);
        if (rc)
            return rc;
    }
    return 0;
}

static void *wide_worker(void *arg)
{
    struct wide_pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        size_t i = p->next++;
        pthread_mutex_unlock(&p->lock);
        if (i >= p->ns)
            return NULL;
        struct wide_series *s = &p->s[i];
        struct forecast *f = NULL;
        if (forecast_new(s->y, s->n, p->opts, &f, &s->err) == 0) {
            size_t h = f->horizon, nl = f->nlevels;
            s->mean = xcalloc(h * (1 + 2 * nl), sizeof(double));
            memcpy(s->mean, f->mean, h * sizeof(double));
            memcpy(s->mean + h, f->lower, nl * h * sizeof(double));
            memcpy(s->mean + h + nl * h, f->upper, nl * h * sizeof(double));
        }
        forecast_free(f);
    }
}

static void wide_fit(struct wide_pool *p, size_t jobs)
{
    pthread_t th[MAX_JOBS];
    size_t started = 0;
    if (jobs > p->ns)
        jobs = p->ns ? p->ns : 1;
    pthread_mutex_init(&p->lock, NULL);
    for (; started < jobs; started++)
        if (pthread_create(&th[started], NULL, wide_worker, p) != 0)
            break;
    if (started == 0)
        wide_worker(p); /* no thread could start: do the work here */
    for (size_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&p->lock);
}

static void write_id(const char *id, FILE *out)
{
    if (strpbrk(id, ",\n"))
        fprintf(out, "\"%s\"", id); /* ids with quotes are rejected before */
    else
        fprintf(out, "%s", id);
}

/* Writes the point forecasts (what = -1) or the bounds: one row per series and bound. */
static void wide_write(const struct wide_pool *p, const struct forecast_opts *o, int bounds,
                       FILE *out)
{
    size_t h = o->horizon, nl = o->nlevels;
    fprintf(out, bounds ? "id,bound" : "id");
    for (size_t k = 0; k < h; k++)
        fprintf(out, ",F%zu", k + 1);
    fprintf(out, "\n");
    for (size_t i = 0; i < p->ns; i++) {
        for (size_t r = 0; r < (bounds ? 2 * nl : 1); r++) {
            const double *v = p->s[i].mean + (bounds ? h + r * h : 0);
            write_id(p->s[i].id, out);
            if (bounds)
                fprintf(out, ",%s%g", r < nl ? "lo" : "hi", o->levels[r % nl]);
            for (size_t k = 0; k < h; k++)
                fprintf(out, ",%.10g", v[k]);
            fprintf(out, "\n");
        }
    }
}

static int wide_output(const struct wide_pool *p, const struct fc_args *a, struct err *err)
{
    const char *paths[2] = {a->output, a->bounds};
    for (int b = 0; b < 2; b++) {
        if (b == 1 && !a->bounds)
            break;
        FILE *out = paths[b] ? fopen(paths[b], "w") : stdout;
        if (!out)
            return err_set(err, -errno, "%s: cannot open for writing: %s", paths[b],
                           strerror(errno));
        wide_write(p, &a->opts, b, out);
        int bad = out == stdout ? fflush(stdout) : fclose(out);
        if (bad != 0)
            return err_set(err, -EIO, "%s: write error", paths[b] ? paths[b] : "stdout");
    }
    return 0;
}

static int run_wide(const struct fc_args *a)
{
    struct err err = {0};
    struct csv c;
    struct wide_pool p = {.opts = &a->opts};
    int rc = csv_read_file(a->input, 0, MAX_FILE_BYTES, &c, &err), ret = CLI_USAGE;
    if (rc)
        goto out_msg;
    /* M4's files start with a header ("V1","V2",...); a first row whose first value is a
     * number is data. */
    double v;
    if (c.nrows && (c.rows[0].nfields < 2 || str_to_double(c.rows[0].fields[1], &v) != 0)) {
        c.header = c.rows[0]; /* the csv owns header and rows alike */
        memmove(c.rows, c.rows + 1, --c.nrows * sizeof(*c.rows));
    }
    p.ns = c.nrows;
    p.s = xcalloc(p.ns ? p.ns : 1, sizeof(*p.s));
    for (size_t i = 0; i < p.ns && !rc; i++) {
        rc = wide_parse_row(&c, &c.rows[i], &p.s[i], &err);
        if (!rc && strchr(p.s[i].id, '"'))
            rc = err_set(&err, -EINVAL, "%s:%d: series id contains a quote", c.path, p.s[i].line);
    }
    if (rc)
        goto out_msg;
    wide_fit(&p, a->jobs);
    for (size_t i = 0; i < p.ns && !rc; i++)
        if (!p.s[i].mean)
            rc = err_set(&err, -EINVAL, "%s:%d: series '%s': %s", c.path, p.s[i].line, p.s[i].id,
                         p.s[i].err.msg);
    if (rc)
        goto out_msg;
    ret = wide_output(&p, a, &err) == 0 ? CLI_OK : CLI_FAILED;
out_msg:
    if (err.code)
        fprintf(stderr, "doppel analyze forecast: %s\n", err.msg);
    for (size_t i = 0; i < p.ns; i++) {
        free(p.s[i].y);
        free(p.s[i].mean);
    }
    free(p.s);
    csv_release(&c);
    return ret;
}

static int run(int argc, char **argv)
{
    struct fc_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc != CLI_OK)
        return rc;
    return a.wide ? run_wide(&a) : run_single(&a);
}

const struct cli_cmd cli_analyze_forecast = {
    .name = "forecast",
    .usage = "analyze forecast --input FILE --horizon N [--period auto|none|P[,P2]] "
             "[--level 80,95] [--transform auto|none|log] [--json] "
             "[--wide [--output FILE] [--bounds FILE] [--jobs N]]",
    .summary = "seasonal forecast with prediction intervals (Holt-Winters family ensemble)",
    .help = "Reads a series from CSV (the last column is the value; a header line and a\n"
            "timestamp column are optional) and forecasts N steps: the fitted model and\n"
            "its parameters, then each step's forecast with prediction intervals.\n"
            "  --period auto     detect seasonal periods (default); none; or 24 / 24,168\n"
            "  --level 80,95     interval coverage levels in percent\n"
            "  --transform auto  log when every value is positive (auto), none, log\n"
            "  --json            machine-readable output\n"
            "  --wide            many series, one per row: id,v1,v2,... (first line is a\n"
            "                    header, ragged rows allowed, as M4's files); writes\n"
            "                    id,F1,...,FN rows to --output (default stdout), fitting\n"
            "                    series in parallel on --jobs threads (default: cores)\n"
            "  --bounds FILE     with --wide: also write the interval bounds, rows\n"
            "                    id,bound,F1,...,FN with bound lo80, ..., hi95\n"
            "Errors in the input read \"file:line: what is wrong\" and exit with 2.\n",
    .run = run,
};
