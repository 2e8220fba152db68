/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_analyze_degrade: `doppel analyze degrade` feeds a `timestamp,value` CSV through the
 * streaming breach predictor (analyzer/degrade.h), row by row, exactly as the controller
 * does online. With --output it writes every row's probability and time to breach;
 * otherwise it prints a summary of the last row (human or --json). Owns only its file
 * handles and the CSV it read.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer/degrade.h"
#include "base/err.h"
#include "base/str.h"
#include "cli/cli_analyze.h"
#include "cli/csv.h"

#define MAX_INPUT_BYTES (512u << 20)

struct cli_analyze_degrade_opts {
    const char *input, *output;
    double threshold, horizon_s;
    int have_threshold, json;
};

static int parse_opts(int argc, char **argv, struct cli_analyze_degrade_opts *o)
{
    static const struct option longopts[] = {
        {"input", required_argument, 0, 'i'},   {"threshold", required_argument, 0, 't'},
        {"horizon", required_argument, 0, 'H'}, {"output", required_argument, 0, 'o'},
        {"json", no_argument, 0, 'j'},          {0, 0, 0, 0},
    };
    const struct cli_cmd *c = &cli_analyze_degrade;
    uint64_t ns = 0;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "i:t:H:o:j", longopts, NULL)) != -1) {
        switch (opt) {
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
            if (str_to_double(optarg, &o->threshold) != 0)
                return cli_usage_error(c, "--threshold '%s' is not a finite number", optarg);
            o->have_threshold = 1;
            break;
        case 'H':
            if (str_to_duration_ns(optarg, &ns) != 0 || ns == 0)
                return cli_usage_error(c,
                                       "--horizon '%s' is not a positive duration "
                                       "(e.g. 90m, 1h, 5400)",
                                       optarg);
            o->horizon_s = (double)ns / 1e9;
            break;
        default:
            return cli_usage_error(c, "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
    if (!o->input || !o->have_threshold || !(o->horizon_s > 0))
        return cli_usage_error(c, "--input, --threshold and --horizon are required");
    return 0;
}

static int columns(const struct csv *csv, int *ct, int *cv, struct err *err)
{
    *ct = csv_column(csv, "timestamp");
    *cv = csv_column(csv, "value");
    if (*ct < 0 || *cv < 0)
        return err_set(err, -EINVAL,
                       "%s:%d: header must name the columns 'timestamp' and "
                       "'value'",
                       csv->path, csv->header.line);
    return 0;
}

static void print_ttb(FILE *f, double ttb)
{
    if (ttb >= 0)
        fprintf(f, "%.0f", ttb);
}

static void print_summary(const struct cli_analyze_degrade_opts *o, const struct degrade_result *r,
                          size_t rows)
{
    if (o->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "rows", (double)rows);
        cJSON_AddNumberToObject(j, "threshold", o->threshold);
        cJSON_AddNumberToObject(j, "horizon_s", o->horizon_s);
        cJSON_AddNumberToObject(j, "breach_probability", r->probability);
        if (r->time_to_breach_s >= 0)
            cJSON_AddNumberToObject(j, "time_to_breach_s", r->time_to_breach_s);
        else
            cJSON_AddNullToObject(j, "time_to_breach_s");
        cJSON_AddNumberToObject(j, "level", r->level);
        cJSON_AddNumberToObject(j, "trend_per_hour", r->trend_per_s * 3600);
        cJSON_AddNumberToObject(j, "sd_at_horizon", r->sd_horizon);
        char *s = cJSON_Print(j);
        printf("%s\n", s);
        free(s);
        cJSON_Delete(j);
        return;
    }
    printf("rows:                 %zu\n", rows);
    printf("threshold:            %g within %g s\n", o->threshold, o->horizon_s);
    printf("breach probability:   %.3f\n", r->probability);
    if (r->time_to_breach_s >= 0)
        printf("time to breach:       %.0f s (%.1f min)\n", r->time_to_breach_s,
               r->time_to_breach_s / 60);
    else
        printf("time to breach:       none expected within the horizon\n");
    printf("fitted trend:         level %g, %+g per hour, forecast sd at horizon %g\n", r->level,
           r->trend_per_s * 3600, r->sd_horizon);
}

static int run_rows(const struct cli_analyze_degrade_opts *o, const struct csv *csv, FILE *out,
                    struct degrade_result *last, struct err *err)
{
    struct degrade d;
    int ct, cv, rc = columns(csv, &ct, &cv, err);
    if (rc)
        return rc;
    if (degrade_init(&d, o->threshold, o->horizon_s) != 0)
        return err_set(err, -EINVAL, "threshold or horizon out of range");
    if (out)
        fprintf(out, "timestamp,value,breach_probability,time_to_breach_s\n");
    for (size_t i = 0; i < csv->nrows; i++) {
        const struct csv_row *row = &csv->rows[i];
        double t, v;
        if ((rc = csv_double(csv, row, (size_t)ct, &t, err)) ||
            (rc = csv_double(csv, row, (size_t)cv, &v, err)))
            return rc;
        if (degrade_update(&d, t, v, last) != 0)
            return err_set(err, -EINVAL,
                           "%s:%d: timestamp '%s' is not after the previous "
                           "row's",
                           csv->path, row->line, row->fields[ct]);
        if (out) {
            fprintf(out, "%s,%s,%.6f,", row->fields[ct], row->fields[cv], last->probability);
            print_ttb(out, last->time_to_breach_s);
            fputc('\n', out);
        }
    }
    if (csv->nrows == 0)
        return err_set(err, -EINVAL, "%s: no data rows", csv->path);
    return 0;
}

static int run(int argc, char **argv)
{
    struct cli_analyze_degrade_opts o = {0};
    struct csv csv;
    struct err err;
    struct degrade_result last = {0};
    FILE *out = NULL;
    err_clear(&err);
    int rc = parse_opts(argc, argv, &o);
    if (rc)
        return rc;
    memset(&csv, 0, sizeof(csv));
    rc = csv_read_file(o.input, 1, MAX_INPUT_BYTES, &csv, &err);
    if (rc)
        goto out;
    if (o.output && !(out = fopen(o.output, "w"))) {
        rc = err_set(&err, -errno, "%s: cannot write: %s", o.output, strerror(errno));
        goto out;
    }
    rc = run_rows(&o, &csv, out, &last, &err);
    if (out && fclose(out) != 0 && !rc)
        rc = err_set(&err, -EIO, "%s: write error", o.output);
    out = NULL;
    if (!rc && !o.output)
        print_summary(&o, &last, csv.nrows);
out:
    if (out)
        fclose(out);
    csv_release(&csv);
    if (rc) {
        fprintf(stderr, "doppel analyze degrade: %s\n", err.msg);
        return CLI_FAILED;
    }
    return CLI_OK;
}

const struct cli_cmd cli_analyze_degrade = {
    .name = "degrade",
    .usage = "analyze degrade --input FILE --threshold X --horizon DURATION [--output FILE] "
             "[--json]",
    .summary = "probability that an SLO indicator breaches a threshold within a horizon",
    .help = "Reads a CSV with the header timestamp,value (unix seconds, strictly increasing)\n"
            "and feeds it row by row through the streaming breach predictor.\n\n"
            "  --input FILE        the series ('-' reads standard input)\n"
            "  --threshold X       breach means value > X\n"
            "  --horizon D         look-ahead: 90m, 1h, 5400 (seconds)\n"
            "  --output FILE       write timestamp,value,breach_probability,time_to_breach_s\n"
            "                      for every row, each from the rows up to it\n"
            "  --json              summary of the last row as JSON\n",
    .run = run,
};
