/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_loadgen: `doppel loadgen` generates open-loop load from a traffic model (or any
 * request source: capture files, one URL) at a fixed --rate or following a --rate-curve
 * (a CSV of time and requests/s, e.g. a forecast), and prints the summary (text or
 * --json). The source is replayed in a loop: the curve, not the source, sets the pace.
 * Owns the curve it read and the source it opened.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "cli/cli_load.h"
#include "cli/csv.h"

#define CURVE_MAX_BYTES (16u << 20)

enum { O_MODEL = CLI_LOAD_O_LAST, O_FROM, O_RATE, O_CURVE, O_SEED };

struct loadgen_opts {
    struct cli_load load;
    const char *model, *from, *curve_path;
    double rate;
    uint64_t seed; /* of the model source */
    bool have_seed;
    struct replay_curve_point *curve; /* owned */
    size_t ncurve;
};

static int own_flag(struct loadgen_opts *o, int opt, const char *arg)
{
    switch (opt) {
    case O_MODEL:
        o->model = arg;
        return 0;
    case O_FROM:
        o->from = arg;
        return 0;
    case O_RATE:
        if (cli_load_parse_rate(arg, &o->rate))
            return cli_usage_error(&cli_cmd_loadgen, "--rate '%s' is not a rate (2000/s)", arg);
        return 0;
    case O_CURVE:
        o->curve_path = arg;
        return 0;
    case O_SEED:
        if (str_to_u64(arg, &o->seed))
            return cli_usage_error(&cli_cmd_loadgen, "--seed '%s' is not a whole number", arg);
        o->have_seed = true;
        return 0;
    default:
        return cli_usage_error(&cli_cmd_loadgen, "unknown option");
    }
}

static int parse(int argc, char **argv, struct loadgen_opts *o)
{
    static const struct option longopts[] = {
        CLI_LOAD_LONGOPTS,
        {"model", required_argument, 0, O_MODEL},
        {"from", required_argument, 0, O_FROM},
        {"rate", required_argument, 0, O_RATE},
        {"rate-curve", required_argument, 0, O_CURVE},
        {"seed", required_argument, 0, O_SEED},
        {0, 0, 0, 0},
    };
    int opt, rc;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        rc = cli_load_flag(&o->load, opt, optarg);
        if (rc == 0)
            rc = own_flag(o, opt, optarg);
        else if (rc == 1)
            rc = 0;
        if (rc)
            return rc;
    }
    if (optind < argc)
        return cli_usage_error(&cli_cmd_loadgen, "unexpected argument '%s'", argv[optind]);
    if (!o->model == !o->from)
        return cli_usage_error(&cli_cmd_loadgen, "name one of --model FILE or --from SPEC");
    if (o->have_seed && !o->model)
        return cli_usage_error(&cli_cmd_loadgen, "--seed applies to --model only");
    if (o->rate > 0 && o->curve_path)
        return cli_usage_error(&cli_cmd_loadgen, "--rate and --rate-curve exclude each other");
    if (!o->model && !(o->rate > 0) && !o->curve_path)
        return cli_usage_error(&cli_cmd_loadgen, "give one of --rate R or --rate-curve CSV");
    return cli_load_finish(&o->load);
}

/* One curve row: time (relative to the first row's) and rate, checked. */
static int curve_row(const struct csv *c, const struct csv_row *row, const int col[2],
                     struct replay_curve_point *out, const struct replay_curve_point *prev,
                     struct err *err)
{
    double t, r;
    int rc = csv_double(c, row, (size_t)col[0], &t, err);
    if (!rc)
        rc = csv_double(c, row, (size_t)col[1], &r, err);
    if (rc)
        return rc;
    if (r < 0)
        return err_set(err, -EINVAL, "%s:%d: the rate %g is negative", c->path, row->line, r);
    if (prev && !(t > prev->t_s))
        return err_set(err, -EINVAL, "%s:%d: time %g does not increase", c->path, row->line, t);
    *out = (struct replay_curve_point){t, r};
    return 0;
}

/* Columns t_s,rps; or timestamp,value (a metrics export), times taken from the first. */
static int read_curve(struct loadgen_opts *o, struct err *err)
{
    struct csv c;
    int col[2], rc = csv_read_file(o->curve_path, 1, CURVE_MAX_BYTES, &c, err);
    if (rc)
        return rc;
    col[0] = csv_column(&c, "t_s") >= 0 ? csv_column(&c, "t_s") : csv_column(&c, "timestamp");
    col[1] = csv_column(&c, "rps") >= 0 ? csv_column(&c, "rps") : csv_column(&c, "value");
    if (col[0] < 0 || col[1] < 0)
        rc = err_set(err, -EINVAL, "%s:%d: header needs columns t_s,rps (or timestamp,value)",
                     c.path, c.header.line);
    else if (c.nrows == 0)
        rc = err_set(err, -EINVAL, "%s: no rows after the header", c.path);
    o->curve = xcalloc(c.nrows ? c.nrows : 1, sizeof(*o->curve));
    for (size_t i = 0; !rc && i < c.nrows; i++)
        rc = curve_row(&c, &c.rows[i], col, &o->curve[i], i ? &o->curve[i - 1] : NULL, err);
    o->ncurve = rc ? 0 : c.nrows;
    for (size_t i = 1; i < o->ncurve; i++)
        o->curve[i].t_s -= o->curve[0].t_s;
    if (o->ncurve)
        o->curve[0].t_s = 0;
    csv_release(&c);
    return rc;
}

static int setup(struct loadgen_opts *o, struct replay_source **src)
{
    struct err err = {0};
    if (o->curve_path) {
        if (read_curve(o, &err)) {
            fprintf(stderr, "doppel loadgen: %s\n", err.msg);
            return CLI_USAGE;
        }
        replay_sched_init_curve(&o->load.ro.sched, o->curve, o->ncurve);
        /* the curve's end is the run's end unless --duration says otherwise */
        if (!o->load.ro.duration_ns && o->ncurve > 1)
            o->load.ro.duration_ns =
                (uint64_t)llround(o->curve[o->ncurve - 1].t_s * (double)CLOCK_NS_PER_S);
    } else if (o->rate > 0) {
        replay_sched_init_rate(&o->load.ro.sched, o->rate);
    } else {
        /* the model's own hourly arrival curve: its times, as they come */
        replay_sched_init_speed(&o->load.ro.sched, 1.0);
        o->load.model_own_pace = true;
    }
    o->load.ro.loop = true;
    o->load.seed = o->seed;
    if (o->model) {
        char spec[4096];
        snprintf(spec, sizeof(spec), "model:%s", o->model);
        return cli_load_open_source(&o->load, spec, src);
    }
    return cli_load_open_source(&o->load, o->from, src);
}

static int loadgen_run(int argc, char **argv)
{
    struct loadgen_opts o = {0};
    struct replay_source *src = NULL;
    struct replay_stats *st = NULL;
    cli_load_init(&o.load, &cli_cmd_loadgen);
    int rc = parse(argc, argv, &o);
    if (!rc)
        rc = setup(&o, &src);
    if (rc)
        goto out;
    cli_load_enable_progress(&o.load);
    st = xmalloc(sizeof(*st));
    rc = cli_load_run(&o.load, src, st);
    if (o.load.json) {
        cJSON *j = cli_load_stats_json(st);
        char *s = cJSON_Print(j);
        printf("%s\n", s);
        free(s);
        cJSON_Delete(j);
    } else {
        cli_load_print_text(st, stdout);
    }
out:
    free(st);
    free(o.curve);
    replay_source_free(src);
    cli_load_release(&o.load);
    return rc;
}

const struct cli_cmd cli_cmd_loadgen = {
    .name = "loadgen",
    .usage = "loadgen (--model FILE | --from SPEC) --target URL [--rate R | --rate-curve CSV] "
             "[--seed N] [--duration DUR] [--json]",
    .summary = "generate open-loop load from a traffic model at a rate or along a curve",
    .help = "Requests come from a traffic model (`doppel learn`) or from --from url:PATH or\n"
            "capture:F1,F2 (looped); their pace is set by --rate or --rate-curve, open loop.\n"
            "With --model and neither, arrivals follow the model's own hourly rates (UTC hours\n"
            "from hour 0), a Poisson process; bound the run with --duration.\n\n"
            "  --model FILE          traffic model JSON\n"
            "  --from SPEC           url:PATH or capture:F1,F2 instead of a model\n"
            "  --rate R              fixed arrival rate (2000/s, 6000/m)\n"
            "  --rate-curve CSV      columns t_s,rps (or timestamp,value): requests/s over\n"
            "                        time, linear in between; the run ends at the last row\n"
            "  --seed N              seed of the model's random choices (deterministic "
            "runs)\n" CLI_LOAD_HELP,
    .run = loadgen_run,
};
