/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_analyze_capacity: `doppel analyze capacity` reads per-instance observations
 * (load_rps,latency_p99_ms,cpu_cores,memory_mb), fits the capacity model
 * (analyzer/capacity.h) and prints the plan for a forecast peak with its explanation,
 * as text or --json. Owns the CSV it read and the scratch arrays.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer/capacity.h"
#include "base/err.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "cli/cli_analyze.h"
#include "cli/csv.h"

#define MAX_INPUT_BYTES (64u << 20)

static const char *const cols[] = {"load_rps", "latency_p99_ms", "cpu_cores", "memory_mb"};

struct cli_analyze_capacity_opts {
    const char *input;
    double target, peak, margin;
    int json;
};

static int parse_num(const char *flag, const char *s, double *out)
{
    if (str_to_double(s, out) != 0)
        return cli_usage_error(&cli_analyze_capacity, "%s '%s' is not a finite number", flag, s);
    return 0;
}

static int parse_opts(int argc, char **argv, struct cli_analyze_capacity_opts *o)
{
    static const struct option longopts[] = {
        {"input", required_argument, 0, 'i'},
        {"target-p99", required_argument, 0, 't'},
        {"forecast-peak", required_argument, 0, 'p'},
        {"margin", required_argument, 0, 'm'},
        {"json", no_argument, 0, 'j'},
        {0, 0, 0, 0},
    };
    int opt, rc = 0, have_t = 0, have_p = 0;
    o->margin = 0.2;
    optind = 1;
    while (!rc && (opt = getopt_long(argc, argv, "i:t:p:m:j", longopts, NULL)) != -1) {
        switch (opt) {
        case 'i':
            o->input = optarg;
            break;
        case 'j':
            o->json = 1;
            break;
        case 't':
            rc = parse_num("--target-p99", optarg, &o->target), have_t = 1;
            break;
        case 'p':
            rc = parse_num("--forecast-peak", optarg, &o->peak), have_p = 1;
            break;
        case 'm':
            rc = parse_num("--margin", optarg, &o->margin);
            break;
        default:
            return cli_usage_error(&cli_analyze_capacity, "unknown option");
        }
    }
    if (rc)
        return rc;
    if (optind < argc)
        return cli_usage_error(&cli_analyze_capacity, "unexpected argument '%s'", argv[optind]);
    if (!o->input || !have_t || !have_p)
        return cli_usage_error(&cli_analyze_capacity,
                               "--input, --target-p99 and --forecast-peak are required");
    if (!(o->target > 0) || !(o->peak > 0) || !(o->margin >= 0) || o->margin > 10)
        return cli_usage_error(&cli_analyze_capacity, "--target-p99 and --forecast-peak must be "
                                                      "> 0, --margin in [0, 10]");
    return 0;
}

static int read_obs(const struct csv *csv, struct capacity_obs *obs, struct err *err)
{
    int idx[4];
    for (int k = 0; k < 4; k++)
        if ((idx[k] = csv_column(csv, cols[k])) < 0)
            return err_set(err, -EINVAL,
                           "%s:%d: header has no column '%s' (expected "
                           "load_rps,latency_p99_ms,cpu_cores,memory_mb)",
                           csv->path, csv->header.line, cols[k]);
    for (size_t i = 0; i < csv->nrows; i++) {
        const struct csv_row *row = &csv->rows[i];
        double v[4];
        for (int k = 0; k < 4; k++) {
            int rc = csv_double(csv, row, (size_t)idx[k], &v[k], err);
            if (rc)
                return rc;
            if (v[k] < 0 || (k == 1 && v[k] == 0))
                return err_set(err, -EINVAL, "%s:%d: %s must be %s, got %g", csv->path, row->line,
                               cols[k], k == 1 ? "> 0" : ">= 0", v[k]);
        }
        obs[i] = (struct capacity_obs){v[0], v[1], v[2], v[3]};
    }
    return 0;
}

static void print_json(const struct cli_analyze_capacity_opts *o, const struct capacity_fit *f,
                       const struct capacity_plan *p)
{
    cJSON *j = cJSON_CreateObject(), *m = cJSON_AddObjectToObject(j, "model");
    cJSON_AddNumberToObject(m, "observations", (double)f->n);
    cJSON_AddNumberToObject(m, "base_latency_ms", f->base_ms);
    cJSON_AddNumberToObject(m, "capacity_rps", f->cap_rps);
    cJSON_AddNumberToObject(m, "latency_rmse_ms", f->latency_rmse_ms);
    cJSON_AddNumberToObject(m, "cpu_cores_at_0", f->cpu0);
    cJSON_AddNumberToObject(m, "cpu_cores_per_rps", f->cpu_per_rps);
    cJSON_AddNumberToObject(m, "memory_mb_at_0", f->mem0);
    cJSON_AddNumberToObject(m, "memory_mb_per_rps", f->mem_per_rps);
    cJSON *r = cJSON_AddObjectToObject(j, "recommendation");
    cJSON_AddNumberToObject(r, "target_p99_ms", o->target);
    cJSON_AddNumberToObject(r, "forecast_peak_rps", o->peak);
    cJSON_AddNumberToObject(r, "margin", o->margin);
    cJSON_AddNumberToObject(r, "knee_rps_per_instance", p->knee_rps);
    cJSON_AddNumberToObject(r, "safe_rps_per_instance", p->safe_rps);
    cJSON_AddNumberToObject(r, "instances", p->instances);
    cJSON_AddNumberToObject(r, "load_per_instance_rps", p->load_per_instance);
    cJSON_AddNumberToObject(r, "latency_p99_at_peak_ms", p->latency_at_peak_ms);
    cJSON_AddNumberToObject(r, "cpu_cores_per_instance", p->cpu_cores);
    cJSON_AddNumberToObject(r, "memory_mb_per_instance", p->memory_mb);
    cJSON_AddBoolToObject(r, "knee_extrapolated", p->extrapolated);
    char *s = cJSON_Print(j);
    printf("%s\n", s);
    free(s);
    cJSON_Delete(j);
}

static void print_text(const struct cli_analyze_capacity_opts *o, const struct capacity_fit *f,
                       const struct capacity_plan *p)
{
    printf("recommendation: %d instance%s, %.2f CPU cores and %.0f MB memory each\n\n",
           p->instances, p->instances == 1 ? "" : "s", p->cpu_cores, p->memory_mb);
    printf("why:\n");
    printf("  latency model (%zu observations): p99 = %.1f ms / (1 - load / %.1f rps), "
           "rmse %.1f ms\n",
           f->n, f->base_ms, f->cap_rps, f->latency_rmse_ms);
    printf("  the p99 target %.1f ms is reached at %.1f rps per instance (the knee)%s\n", o->target,
           p->knee_rps,
           p->extrapolated ? "; beyond the highest load observed, so extrapolated" : "");
    printf("  with a %.0f %% margin one instance takes at most %.1f rps\n", o->margin * 100,
           p->safe_rps);
    printf("  the forecast peak %.1f rps needs ceil(%.1f / %.1f) = %d instances, %.1f rps "
           "each, p99 %.1f ms\n",
           o->peak, o->peak, p->safe_rps, p->instances, p->load_per_instance,
           p->latency_at_peak_ms);
    printf("  cpu = %.3f + %.5f x load cores; at %.1f rps plus the p90 residual %.3f, "
           "x %.2f\n",
           f->cpu0, f->cpu_per_rps, p->load_per_instance, f->cpu_resid_p90, 1 + o->margin);
    printf("  memory = %.1f + %.4f x load MB; at %.1f rps plus the p95 residual %.1f, "
           "x %.2f\n",
           f->mem0, f->mem_per_rps, p->load_per_instance, f->mem_resid_p95, 1 + o->margin);
}

static int analyze(const struct cli_analyze_capacity_opts *o, const struct csv *csv,
                   struct err *err)
{
    size_t n = csv->nrows;
    struct capacity_obs *obs = xcalloc(n ? n : 1, sizeof(*obs));
    double *work = xcalloc(3 * (n ? n : 1), sizeof(double));
    struct capacity_fit fit;
    struct capacity_plan plan;
    int rc = read_obs(csv, obs, err);
    if (rc)
        goto out;
    rc = capacity_fit_all(obs, n, work, &fit);
    if (rc == -EDOM)
        rc = err_set(err, rc,
                     "%s: latency does not grow with load, so the data show no "
                     "capacity limit (ramp the load further)",
                     csv->path);
    else if (rc)
        rc = err_set(err, rc, "%s: need at least 3 rows with different loads", csv->path);
    if (rc)
        goto out;
    rc = capacity_plan(&fit, o->target, o->peak, o->margin, &plan);
    if (rc) {
        rc = err_set(err, rc, "no load meets the p99 target %g ms: the base latency is %.1f ms",
                     o->target, fit.base_ms);
        goto out;
    }
    if (o->json)
        print_json(o, &fit, &plan);
    else
        print_text(o, &fit, &plan);
out:
    free(obs);
    free(work);
    return rc;
}

static int run(int argc, char **argv)
{
    struct cli_analyze_capacity_opts o = {0};
    struct csv csv;
    struct err err;
    err_clear(&err);
    int rc = parse_opts(argc, argv, &o);
    if (rc)
        return rc;
    memset(&csv, 0, sizeof(csv));
    rc = csv_read_file(o.input, 1, MAX_INPUT_BYTES, &csv, &err);
    if (!rc)
        rc = analyze(&o, &csv, &err);
    csv_release(&csv);
    if (rc) {
        fprintf(stderr, "doppel analyze capacity: %s\n", err.msg);
        return CLI_FAILED;
    }
    return CLI_OK;
}

const struct cli_cmd cli_analyze_capacity = {
    .name = "capacity",
    .usage = "analyze capacity --input FILE --target-p99 MS --forecast-peak RPS [--margin F] "
             "[--json]",
    .summary = "fit how latency and resources grow with load; instances and sizes for a peak",
    .help = "Reads a CSV with the header load_rps,latency_p99_ms,cpu_cores,memory_mb (one row\n"
            "per observation of one instance, e.g. the steps of a stress ramp).\n\n"
            "  --input FILE          the observations ('-' reads standard input)\n"
            "  --target-p99 MS       the latency SLO\n"
            "  --forecast-peak RPS   total load to plan for\n"
            "  --margin F            safety margin (default 0.2 = 20 %)\n"
            "  --json                machine-readable output\n",
    .run = run,
};
