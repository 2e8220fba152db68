/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_analyze_detect: `doppel analyze detect` runs the analyzer's streaming anomaly
 * detector (analyzer/anomaly.h) over a `timestamp,value` CSV (NAB's layout), one point
 * at a time in file order, and writes `timestamp,value,anomaly_score` per row (--output),
 * a human summary of the top anomalies with their reasons, or the same as JSON (--json).
 * It owns only the file handling and printing; the detector decides.
 */
#include "cli/cli_analyze.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analyzer/anomaly.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "cli/csv.h"

#define DETECT_MAX_BYTES ((size_t)1 << 30)
#define DETECT_TOP_MAX 1000

struct detect_opts {
    const char *input;
    const char *output;
    int json;
    unsigned top;
    struct anomaly_params params;
};

/* One reported anomaly: the row and why it scored. */
struct detect_hit {
    size_t row;
    struct anomaly_reason why;
};

struct detect_param {
    const char *name;
    size_t off;
    int is_double; /* else uint32_t; "seed" is the one uint64_t */
};

#define P_U32(f)                                                                                   \
    {                                                                                              \
#f, offsetof(struct anomaly_params, f), 0                                                  \
    }
#define P_DBL(f)                                                                                   \
    {                                                                                              \
#f, offsetof(struct anomaly_params, f), 1                                                  \
    }
static const struct detect_param detect_params[] = {
    P_U32(warmup),       P_U32(grid_after),   P_DBL(alpha),        P_DBL(alpha_fast),
    P_DBL(clip),         P_U32(persist),      P_U32(levels),       P_U32(context_len),
    P_U32(table_bits),   P_U32(tod_contexts), P_DBL(z_level),      P_DBL(z_change),
    P_DBL(w_pattern),    P_DBL(fire),         P_U32(rest),         P_DBL(rest_damp),
    P_DBL(blend),        P_DBL(shift_rate),   P_DBL(z_power),      P_DBL(z_pattern),
    P_U32(rest_extend),  P_DBL(w_season),     P_DBL(season_rate),  P_DBL(season_floor),
    P_U32(season_slots), P_DBL(season_prior), P_DBL(nov_discount), P_DBL(nov_strong),
    P_DBL(w_likelihood), P_DBL(lik_rate),     {"seed", 0, 2},
};
#define NPARAMS (sizeof(detect_params) / sizeof(detect_params[0]))

/* Applies one "--param name=value". */
static int param_set(struct anomaly_params *p, const char *kv, struct err *err)
{
    const char *eq = strchr(kv, '=');
    size_t n = eq ? (size_t)(eq - kv) : 0;
    for (size_t i = 0; eq && i < NPARAMS; i++) {
        const struct detect_param *d = &detect_params[i];
        if (strlen(d->name) != n || strncmp(d->name, kv, n) != 0)
            continue;
        double v;
        uint64_t u;
        if (d->is_double == 2 && str_to_u64(eq + 1, &u) == 0) {
            p->seed = u;
            return 0;
        }
        if (d->is_double == 1 && str_to_double(eq + 1, &v) == 0 && isfinite(v)) {
            memcpy((char *)p + d->off, &v, sizeof(v));
            return 0;
        }
        if (d->is_double == 0 && str_to_u64(eq + 1, &u) == 0 && u <= UINT32_MAX) {
            uint32_t u32 = (uint32_t)u;
            memcpy((char *)p + d->off, &u32, sizeof(u32));
            return 0;
        }
        return err_set(err, -EINVAL, "--param %s: '%s' is not a valid value", d->name, eq + 1);
    }
    return err_set(err, -EINVAL, "--param '%s': expected NAME=VALUE with a known NAME", kv);
}

static int parse_opts(int argc, char **argv, struct detect_opts *o, struct err *err)
{
    static const struct option longopts[] = {
        {"input", required_argument, NULL, 'i'}, {"output", required_argument, NULL, 'o'},
        {"json", no_argument, NULL, 'j'},        {"top", required_argument, NULL, 't'},
        {"param", required_argument, NULL, 'p'}, {NULL, 0, NULL, 0},
    };
    uint64_t top;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":i:o:jt:p:", longopts, NULL)) != -1) {
        switch (c) {
        case 'i':
            o->input = optarg;
            break;
        case 'o':
            o->output = optarg;
            break;
        case 'j':
            o->json = 1;
            break;
        case 't':
            if (str_to_u64(optarg, &top) != 0 || top < 1 || top > DETECT_TOP_MAX)
                return err_set(err, -EINVAL, "--top: '%s' is not in 1..%d", optarg, DETECT_TOP_MAX);
            o->top = (unsigned)top;
            break;
        case 'p':
            if (param_set(&o->params, optarg, err) != 0)
                return -EINVAL;
            break;
        case ':':
            return err_set(err, -EINVAL, "option '%s' needs a value", argv[optind - 1]);
        default:
            return err_set(err, -EINVAL, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return err_set(err, -EINVAL, "unexpected argument '%s'", argv[optind]);
    if (!o->input)
        return err_set(err, -EINVAL, "--input is required");
    return anomaly_params_check(&o->params, err);
}

/* Reads digits [*s, *s + n) as a number; 0 or -EINVAL. */
static int take_num(const char **s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*s)++) {
        if (**s < '0' || **s > '9')
            return -EINVAL;
        v = v * 10 + (**s - '0');
    }
    *out = v;
    return 0;
}

/* "YYYY-MM-DD HH:MM:SS[.frac]" (or 'T' between), or unix seconds, to unix seconds. */
static int parse_time(const char *s, double *out)
{
    int y, mo, d, h, mi, sec;
    const char *p = s;
    if (strlen(s) < 19 || s[4] != '-')
        return str_to_double(s, out) == 0 && isfinite(*out) ? 0 : -EINVAL;
    if (take_num(&p, 4, &y) || *p++ != '-' || take_num(&p, 2, &mo) || *p++ != '-' ||
        take_num(&p, 2, &d) || (*p != ' ' && *p != 'T') || !*p++ || take_num(&p, 2, &h) ||
        *p++ != ':' || take_num(&p, 2, &mi) || *p++ != ':' || take_num(&p, 2, &sec))
        return -EINVAL;
    double frac = 0;
    if (*p == '.' && (str_to_double(p, &frac) != 0 || frac >= 1))
        return -EINVAL;
    else if (*p != '.' && *p != '\0')
        return -EINVAL;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -EINVAL;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    *out = (double)timegm(&tm) + frac;
    return 0;
}

/* Keeps hits[0..*n) sorted by score, best first, at most cap of them. */
static void hits_offer(struct detect_hit *hits, size_t *n, size_t cap, size_t row,
                       const struct anomaly_reason *why)
{
    if (why->score <= 0 || (*n == cap && why->score <= hits[cap - 1].why.score))
        return;
    size_t i = *n < cap ? (*n)++ : cap - 1;
    while (i > 0 && hits[i - 1].why.score < why->score) {
        hits[i] = hits[i - 1];
        i--;
    }
    hits[i] = (struct detect_hit){.row = row, .why = *why};
}

struct detect_run {
    struct csv csv;
    int tcol, vcol;
    double *scores;          /* owned; one per row */
    struct detect_hit *hits; /* owned; the top anomalies, best first */
    size_t nhits;
};

static void run_release(struct detect_run *r)
{
    csv_release(&r->csv);
    free(r->scores);
    free(r->hits);
}

/* Reads the file and scores every row in order. */
static int run_detector(const struct detect_opts *o, struct detect_run *r, struct err *err)
{
    int rc = csv_read_file(o->input, 1, DETECT_MAX_BYTES, &r->csv, err);
    if (rc)
        return rc;
    r->tcol = csv_column(&r->csv, "timestamp");
    r->vcol = csv_column(&r->csv, "value");
    int hline = r->csv.header.line ? r->csv.header.line : 1;
    if (r->tcol < 0 || r->vcol < 0)
        return err_set(err, -EINVAL, "%s:%d: header must name the columns 'timestamp' and 'value'",
                       o->input, hline);
    struct anomaly *a = anomaly_new(&o->params);
    BUG_ON(!a);
    r->scores = xcalloc(r->csv.nrows ? r->csv.nrows : 1, sizeof(*r->scores));
    r->hits = xcalloc(o->top, sizeof(*r->hits));
    for (size_t i = 0; i < r->csv.nrows; i++) {
        const struct csv_row *row = &r->csv.rows[i];
        double t, v;
        if ((size_t)r->tcol >= row->nfields || parse_time(row->fields[r->tcol], &t) != 0) {
            rc = err_set(err, -EINVAL,
                         "%s:%d: timestamp '%s' is not 'YYYY-MM-DD HH:MM:SS' "
                         "or unix seconds",
                         o->input, row->line,
                         (size_t)r->tcol < row->nfields ? row->fields[r->tcol] : "");
            break;
        }
        if ((rc = csv_double(&r->csv, row, (size_t)r->vcol, &v, err)) != 0)
            break;
        struct anomaly_reason why;
        r->scores[i] = anomaly_update(a, t, v);
        anomaly_explain(a, &why);
        hits_offer(r->hits, &r->nhits, o->top, i, &why);
    }
    anomaly_free(a);
    return rc;
}

static int write_scores(const struct detect_opts *o, const struct detect_run *r, struct err *err)
{
    FILE *f = strcmp(o->output, "-") == 0 ? stdout : fopen(o->output, "w");
    if (!f)
        return err_set(err, -errno, "%s: cannot write: %s", o->output, strerror(errno));
    fprintf(f, "timestamp,value,anomaly_score\n");
    for (size_t i = 0; i < r->csv.nrows; i++) {
        const struct csv_row *row = &r->csv.rows[i];
        fprintf(f, "%s,%s,%.9g\n", row->fields[r->tcol], row->fields[r->vcol], r->scores[i]);
    }
    int bad = ferror(f);
    if (f != stdout)
        bad |= fclose(f) != 0;
    else
        bad |= fflush(f) != 0;
    if (bad)
        return err_set(err, -EIO, "%s: write failed", o->output);
    return 0;
}

/* "level 85.2 vs usual 20.1 +- 3.2 (z 20.1)" and the like. */
static void reason_text(const struct anomaly_reason *w, char *out, size_t n)
{
    switch (w->feature) {
    case ANOMALY_FEATURE_LEVEL:
        snprintf(out, n, "level: value %g vs usual %g +- %g (z %.1f)", w->observed, w->expected,
                 w->scale, w->strength);
        break;
    case ANOMALY_FEATURE_CHANGE:
        snprintf(out, n, "change: step %+g vs usual %+g +- %g (z %.1f)", w->observed, w->expected,
                 w->scale, w->strength);
        break;
    case ANOMALY_FEATURE_SHIFT:
        snprintf(out, n, "shift: recent mean %g vs usual %g +- %g (z %.1f over ~%u points)",
                 w->observed, w->expected, w->scale, w->strength, w->span);
        break;
    case ANOMALY_FEATURE_SEASON:
        snprintf(out, n, "season: value %g vs usual %g +- %g at this time of day (z %.1f)",
                 w->observed, w->expected, w->scale, w->strength);
        break;
    case ANOMALY_FEATURE_PATTERN:
        snprintf(out, n,
                 "pattern: last %u values (to %g) form a sequence not seen before "
                 "(%.0f%% of contexts new)",
                 w->span, w->observed, 100 * w->strength);
        break;
    default:
        snprintf(out, n, "none");
    }
    if (w->resting) {
        size_t len = strlen(out);
        snprintf(out + len, n - len, "; damped, an alarm fired recently");
    }
}

static void print_summary(const struct detect_opts *o, const struct detect_run *r)
{
    char why[256];
    printf("%s: %zu points, warm-up %u points; top %zu anomalies:\n", o->input, r->csv.nrows,
           o->params.warmup, r->nhits);
    for (size_t i = 0; i < r->nhits; i++) {
        const struct detect_hit *h = &r->hits[i];
        reason_text(&h->why, why, sizeof(why));
        printf("  %s  score %.3f  line %d  %s\n", r->csv.rows[h->row].fields[r->tcol], h->why.score,
               r->csv.rows[h->row].line, why);
    }
}

static void print_json(const struct detect_opts *o, const struct detect_run *r)
{
    cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "anomalies");
    cJSON_AddStringToObject(root, "input", o->input);
    cJSON_AddNumberToObject(root, "points", (double)r->csv.nrows);
    cJSON_AddNumberToObject(root, "warmup", o->params.warmup);
    for (size_t i = 0; i < r->nhits; i++) {
        const struct detect_hit *h = &r->hits[i];
        cJSON *it = cJSON_CreateObject();
        cJSON_AddStringToObject(it, "timestamp", r->csv.rows[h->row].fields[r->tcol]);
        cJSON_AddNumberToObject(it, "line", r->csv.rows[h->row].line);
        cJSON_AddNumberToObject(it, "score", h->why.score);
        cJSON_AddStringToObject(it, "feature", anomaly_feature_name(h->why.feature));
        cJSON_AddNumberToObject(it, "strength", h->why.strength);
        cJSON_AddNumberToObject(it, "observed", h->why.observed);
        cJSON_AddNumberToObject(it, "expected", h->why.expected);
        cJSON_AddNumberToObject(it, "scale", h->why.scale);
        cJSON_AddNumberToObject(it, "span", h->why.span);
        cJSON_AddBoolToObject(it, "damped", h->why.resting);
        cJSON_AddItemToArray(arr, it);
    }
    char *s = cJSON_Print(root);
    printf("%s\n", s);
    free(s);
    cJSON_Delete(root);
}

static int run(int argc, char **argv)
{
    struct detect_opts o = {.top = 10};
    struct detect_run r = {0};
    struct err err = {0};
    anomaly_params_default(&o.params);
    if (parse_opts(argc, argv, &o, &err) != 0)
        return cli_usage_error(&cli_analyze_detect, "%s", err.msg);
    int rc = run_detector(&o, &r, &err);
    if (rc == 0 && o.output)
        rc = write_scores(&o, &r, &err);
    if (rc != 0) {
        fprintf(stderr, "doppel analyze detect: %s\n", err.msg);
        rc = rc == -EINVAL ? CLI_USAGE : CLI_FAILED;
        goto out;
    }
    if (o.json)
        print_json(&o, &r);
    else if (!o.output)
        print_summary(&o, &r);
    rc = CLI_OK;
out:
    run_release(&r);
    return rc;
}

const struct cli_cmd cli_analyze_detect = {
    .name = "detect",
    .usage = "analyze detect --input series.csv [--output scores.csv] [--json] [--top N] "
             "[--param NAME=VALUE]...",
    .summary = "streaming anomaly detection on a timestamp,value series",
    .help = "Scores every point of a `timestamp,value` CSV (NAB's layout; timestamps\n"
            "'YYYY-MM-DD HH:MM:SS' or unix seconds) with the analyzer's streaming detector,\n"
            "in file order and without look-ahead. Scores are in [0, 1].\n\n"
            "  -i, --input FILE     the series ('-' reads standard input)\n"
            "  -o, --output FILE    write timestamp,value,anomaly_score per row ('-': stdout)\n"
            "  -j, --json           print the top anomalies as JSON\n"
            "  -t, --top N          how many anomalies the summary lists (default 10)\n"
            "  -p, --param N=V      override a detector parameter (see docs); for experiments\n\n"
            "Without --output, prints the top anomalies with time, score and reason.\n"
            "Errors in the file read 'file:line: what is wrong' and exit 2.",
    .run = run,
};
