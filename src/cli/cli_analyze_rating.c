/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_analyze_rating: `doppel analyze rating` reads fault-injection outcomes as JSON
 * (cJSON, here only: the analyzer gets plain struct rating_run arrays), rates every
 * service with analyzer/rating.h and prints a table or --json. Owns the file text, the
 * cJSON tree and the run arrays, all freed before it returns.
 *
 * Input: {"recovery_target_s": 60, "services": [{"name": "api", "recovery_target_s": 30,
 *          "runs": [{"fault": "kill-instance", "failed": false, "recovery_s": 12.5,
 *                    "error_budget_burned": 0.02}, ...]}, ...]}
 * recovery_target_s is optional (service, then file, then 60 s); in a run, "fault" is a
 * free label, recovery_s is required unless failed is true, error_budget_burned defaults
 * to 0.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer/rating.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/xalloc.h"
#include "cli/cli_analyze.h"

#define MAX_INPUT_BYTES (16u << 20)
#define DEFAULT_TARGET_S 60.0

static int read_text(const char *path, struct buf *b, struct err *err)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return err_set(err, -errno, "%s: cannot open: %s", path, strerror(errno));
    char chunk[65536];
    size_t n;
    int rc = 0;
    while (!rc && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (buf_append(b, chunk, n) != 0)
            rc = err_set(err, -EFBIG, "%s: file is larger than %u bytes", path, MAX_INPUT_BYTES);
    if (!rc && ferror(f))
        rc = err_set(err, -EIO, "%s: read error", path);
    if (f != stdin)
        fclose(f);
    return rc;
}

/* Line of the byte at p in text, for cJSON's parse error position. */
static int line_of(const char *text, const char *p)
{
    int line = 1;
    for (const char *q = text; q < p && *q; q++)
        line += *q == '\n';
    return line;
}

static int number_field(const cJSON *o, const char *key, double dflt, double *out,
                        const char *where, struct err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        *out = dflt;
        return isnan(dflt) ? err_set(err, -EINVAL, "%s: '%s' is missing", where, key) : 0;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0)
        return err_set(err, -EINVAL, "%s: '%s' must be a number >= 0", where, key);
    *out = v->valuedouble;
    return 0;
}

static int parse_run(const cJSON *o, struct rating_run *run, const char *where, struct err *err)
{
    if (!cJSON_IsObject(o))
        return err_set(err, -EINVAL, "%s: a run must be an object", where);
    const cJSON *failed = cJSON_GetObjectItemCaseSensitive(o, "failed");
    if (failed && !cJSON_IsBool(failed))
        return err_set(err, -EINVAL, "%s: 'failed' must be true or false", where);
    run->failed = cJSON_IsTrue(failed);
    int rc = number_field(o, "recovery_s", run->failed ? 0 : NAN, &run->recovery_s, where, err);
    if (!rc)
        rc = number_field(o, "error_budget_burned", 0, &run->budget_burned, where, err);
    return rc;
}

struct cli_analyze_rating_row {
    const char *name; /* borrowed from the cJSON tree */
    double target_s;
    struct rating_result r;
};

static int rate_service(const cJSON *svc, size_t i, double dflt, const char *path,
                        struct cli_analyze_rating_row *out, struct err *err)
{
    char where[160];
    snprintf(where, sizeof(where), "%s: services[%zu]", path, i);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(svc, "name");
    const cJSON *runs = cJSON_GetObjectItemCaseSensitive(svc, "runs");
    if (!cJSON_IsString(name) || !cJSON_IsArray(runs) || cJSON_GetArraySize(runs) == 0)
        return err_set(err, -EINVAL, "%s: needs a string 'name' and a non-empty array 'runs'",
                       where);
    out->name = name->valuestring;
    int rc = number_field(svc, "recovery_target_s", dflt, &out->target_s, where, err);
    if (rc)
        return rc;
    size_t n = (size_t)cJSON_GetArraySize(runs), k = 0;
    struct rating_run *rr = xcalloc(n, sizeof(*rr));
    const cJSON *run;
    cJSON_ArrayForEach(run, runs)
    {
        char w[200];
        snprintf(w, sizeof(w), "%s.runs[%zu]", where, k);
        if ((rc = parse_run(run, &rr[k++], w, err)))
            goto out;
    }
    if (rating_compute(rr, n, out->target_s, &out->r) != 0)
        rc = err_set(err, -EINVAL, "%s: 'recovery_target_s' must be > 0", where);
out:
    free(rr);
    return rc;
}

static void print_results(const struct cli_analyze_rating_row *s, size_t n, int json)
{
    if (!json) {
        printf("%-20s %5s %6s %8s %9s %8s %8s %7s %s\n", "service", "runs", "failed", "survival",
               "recovery", "budget", "mean_rec", "score", "grade");
        for (size_t i = 0; i < n; i++) {
            const struct rating_result *r = &s[i].r;
            printf("%-20s %5zu %6zu %8.3f %9.3f %8.3f %7.1fs %7.1f %c\n", s[i].name, r->runs,
                   r->failures, r->survival, r->recovery, r->budget,
                   isnan(r->mean_recovery_s) ? 0.0 : r->mean_recovery_s, r->score, r->grade);
        }
        printf("\nscore = 100 (0.5 survival + 0.3 recovery + 0.2 budget); "
               "A >= 90, B >= 80, C >= 70, D >= 60, else F\n");
        return;
    }
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        const struct rating_result *r = &s[i].r;
        cJSON *o = cJSON_CreateObject();
        char g[2] = {r->grade, 0};
        cJSON_AddStringToObject(o, "service", s[i].name);
        cJSON_AddNumberToObject(o, "runs", (double)r->runs);
        cJSON_AddNumberToObject(o, "failures", (double)r->failures);
        cJSON_AddNumberToObject(o, "survival", r->survival);
        cJSON_AddNumberToObject(o, "recovery", r->recovery);
        cJSON_AddNumberToObject(o, "budget", r->budget);
        cJSON_AddNumberToObject(o, "recovery_target_s", s[i].target_s);
        if (isnan(r->mean_recovery_s))
            cJSON_AddNullToObject(o, "mean_recovery_s");
        else
            cJSON_AddNumberToObject(o, "mean_recovery_s", r->mean_recovery_s);
        cJSON_AddNumberToObject(o, "score", r->score);
        cJSON_AddStringToObject(o, "grade", g);
        cJSON_AddItemToArray(arr, o);
    }
    char *txt = cJSON_Print(arr);
    printf("%s\n", txt);
    free(txt);
    cJSON_Delete(arr);
}

static int rate_file(const char *path, int json, struct err *err)
{
    struct buf b;
    cJSON *root = NULL;
    struct cli_analyze_rating_row *s = NULL;
    buf_init(&b, MAX_INPUT_BYTES);
    int rc = read_text(path, &b, err);
    if (rc)
        goto out;
    const char *text = b.data ? b.data : "";
    const char *end = NULL;
    root = cJSON_ParseWithOpts(text, &end, 1);
    if (!root) {
        rc = err_set(err, -EINVAL, "%s:%d: not valid JSON", path, line_of(text, end));
        goto out;
    }
    const cJSON *svcs = cJSON_GetObjectItemCaseSensitive(root, "services");
    double dflt = DEFAULT_TARGET_S;
    if (!cJSON_IsObject(root) || !cJSON_IsArray(svcs) || cJSON_GetArraySize(svcs) == 0) {
        rc =
            err_set(err, -EINVAL, "%s: expected an object with a non-empty 'services' array", path);
        goto out;
    }
    if ((rc = number_field(root, "recovery_target_s", dflt, &dflt, path, err)))
        goto out;
    size_t n = (size_t)cJSON_GetArraySize(svcs), i = 0;
    s = xcalloc(n, sizeof(*s));
    const cJSON *svc;
    cJSON_ArrayForEach(svc, svcs)
    {
        if ((rc = rate_service(svc, i, dflt, path, &s[i], err)))
            goto out;
        i++;
    }
    print_results(s, n, json);
out:
    free(s);
    cJSON_Delete(root);
    buf_release(&b);
    return rc;
}

static int run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"input", required_argument, 0, 'i'}, {"json", no_argument, 0, 'j'}, {0, 0, 0, 0}};
    const char *input = NULL;
    int json = 0, opt;
    struct err err;
    err_clear(&err);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "i:j", longopts, NULL)) != -1) {
        if (opt == 'i')
            input = optarg;
        else if (opt == 'j')
            json = 1;
        else
            return cli_usage_error(&cli_analyze_rating, "unknown option");
    }
    if (optind < argc)
        return cli_usage_error(&cli_analyze_rating, "unexpected argument '%s'", argv[optind]);
    if (!input)
        return cli_usage_error(&cli_analyze_rating, "--input is required");
    if (rate_file(input, json, &err) != 0) {
        fprintf(stderr, "doppel analyze rating: %s\n", err.msg);
        return CLI_FAILED;
    }
    return CLI_OK;
}

const struct cli_cmd cli_analyze_rating = {
    .name = "rating",
    .usage = "analyze rating --input FILE [--json]",
    .summary = "resilience score and grade per service from fault-injection runs",
    .help = "Reads fault-injection outcomes as JSON:\n"
            "  {\"recovery_target_s\": 60, \"services\": [{\"name\": \"api\", \"runs\": [\n"
            "     {\"fault\": \"kill-instance\", \"failed\": false, \"recovery_s\": 12.5,\n"
            "      \"error_budget_burned\": 0.02}]}]}\n"
            "score = 100 (0.5 survival + 0.3 recovery + 0.2 budget), graded A-F.\n\n"
            "  --input FILE   the runs ('-' reads standard input)\n"
            "  --json         machine-readable output\n",
    .run = run,
};
