/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_stress: `doppel stress` steps the open-loop arrival rate (start, start + step, ...)
 * each for --every, until a step's p99 breaks the SLO or its errors pass --max-errors,
 * and reports the knee (the last rate that met the SLO), the latency curve per step and,
 * with --pid, the target's CPU and memory per step read from /proc (or, with --metrics and
 * --instance, from a doppel admin /metrics answer read at each step's start and end: the
 * CPU counter's increase over the step). --output writes the
 * steps as the CSV `doppel analyze capacity --input` reads. Owns the steps it measured.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "cli/cli_http.h"
#include "cli/cli_prom.h"
#include "cli/cli_load.h"

#define STRESS_MAX_STEPS 1000
#define STRESS_METRICS_MAX (16 << 20)
#define STRESS_METRICS_TIMEOUT_MS 5000

struct stress_step {
    double rate, achieved, p50_ms, p90_ms, p99_ms, max_ms, error_rate, cpu_cores, memory_mb;
    uint64_t sent, responses, errors;
    bool ok;
};

struct stress_opts {
    struct cli_load load;
    const char *from, *output, *metrics, *instance;
    char metrics_addr[256], metrics_path[512];
    double start, step, max_rate, max_errors;
    uint64_t every_ns, slo_ns;
    long pid;
};

enum {
    O_FROM = CLI_LOAD_O_LAST,
    O_START,
    O_STEP,
    O_EVERY,
    O_SLO,
    O_MAX_RATE,
    O_MAX_ERRORS,
    O_PID,
    O_OUTPUT,
    O_METRICS,
    O_INSTANCE,
};

static int rate_flag(const char *flag, const char *arg, double *out)
{
    if (cli_load_parse_rate(arg, out) != 0)
        return cli_usage_error(&cli_cmd_stress, "%s '%s' is not a rate (100/s, 6000/m)", flag, arg);
    return 0;
}

static int own_flag(struct stress_opts *o, int opt, const char *arg)
{
    switch (opt) {
    case O_FROM:
        o->from = arg;
        return 0;
    case O_START:
        return rate_flag("--start", arg, &o->start);
    case O_STEP:
        return rate_flag("--step", arg, &o->step);
    case O_MAX_RATE:
        return rate_flag("--max-rate", arg, &o->max_rate);
    case O_EVERY:
        if (str_to_duration_ns(arg, &o->every_ns) || o->every_ns < 100 * CLOCK_NS_PER_MS)
            return cli_usage_error(&cli_cmd_stress, "--every '%s' is not a duration >= 100ms", arg);
        return 0;
    case O_SLO:
        if (str_to_duration_ns(arg, &o->slo_ns) || o->slo_ns == 0)
            return cli_usage_error(&cli_cmd_stress, "--slo-p99 '%s' is not a duration > 0", arg);
        return 0;
    case O_MAX_ERRORS:
        if (str_to_double(arg, &o->max_errors) || !(o->max_errors >= 0) || o->max_errors > 1)
            return cli_usage_error(&cli_cmd_stress, "--max-errors '%s' is not in [0, 1]", arg);
        return 0;
    case O_PID: {
        int64_t v;
        if (str_to_i64(arg, &v) || v <= 0)
            return cli_usage_error(&cli_cmd_stress, "--pid '%s' is not a process id", arg);
        o->pid = (long)v;
        return 0;
    }
    case O_OUTPUT:
        o->output = arg;
        return 0;
    case O_METRICS:
        o->metrics = arg;
        if (cli_http_split_url(arg, o->metrics_addr, sizeof(o->metrics_addr), o->metrics_path,
                               sizeof(o->metrics_path)) != 0)
            return cli_usage_error(&cli_cmd_stress, "--metrics '%s' is not http://HOST:PORT/PATH",
                                   arg);
        return 0;
    case O_INSTANCE:
        o->instance = arg;
        return 0;
    default:
        return cli_usage_error(&cli_cmd_stress, "unknown option");
    }
}

static int parse(int argc, char **argv, struct stress_opts *o)
{
    static const struct option longopts[] = {
        CLI_LOAD_LONGOPTS,
        {"from", required_argument, 0, O_FROM},
        {"start", required_argument, 0, O_START},
        {"step", required_argument, 0, O_STEP},
        {"every", required_argument, 0, O_EVERY},
        {"slo-p99", required_argument, 0, O_SLO},
        {"max-rate", required_argument, 0, O_MAX_RATE},
        {"max-errors", required_argument, 0, O_MAX_ERRORS},
        {"pid", required_argument, 0, O_PID},
        {"output", required_argument, 0, O_OUTPUT},
        {"metrics", required_argument, 0, O_METRICS},
        {"instance", required_argument, 0, O_INSTANCE},
        {0, 0, 0, 0},
    };
    int opt, rc = 0;
    o->every_ns = 20 * CLOCK_NS_PER_S;
    o->max_errors = 0.01;
    o->from = "url:/";
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
        return cli_usage_error(&cli_cmd_stress, "unexpected argument '%s'", argv[optind]);
    if (o->load.ro.duration_ns)
        return cli_usage_error(&cli_cmd_stress, "--duration does not apply: use --every");
    if (!(o->start > 0) || !(o->step > 0) || !o->slo_ns)
        return cli_usage_error(&cli_cmd_stress, "--start, --step and --slo-p99 are required");
    if (o->max_rate > 0 && o->max_rate < o->start)
        return cli_usage_error(&cli_cmd_stress, "--max-rate is below --start");
    if (!o->metrics != !o->instance)
        return cli_usage_error(&cli_cmd_stress, "--metrics and --instance go together");
    if (o->metrics && o->pid)
        return cli_usage_error(&cli_cmd_stress, "--pid and --metrics both sample the target: "
                                                "choose one");
    return cli_load_finish(&o->load);
}

/* ---- the target's resources ------------------------------------------------------------ */

/* CPU seconds (user + system) and resident MB of pid; -errno when it is gone. */
static int read_proc(long pid, double *cpu_s, double *rss_mb)
{
    char path[64], line[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    size_t n = fread(line, 1, sizeof(line) - 1, f);
    fclose(f);
    line[n] = '\0';
    const char *p = strrchr(line, ')'); /* the command name may hold spaces */
    unsigned long long ut, st;
    long rss;
    if (!p || sscanf(p + 2,
                     "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
                     "%*d %*d %*u %*u %ld",
                     &ut, &st, &rss) != 3)
        return -EINVAL;
    double tck = (double)sysconf(_SC_CLK_TCK);
    *cpu_s = (double)(ut + st) / tck;
    *rss_mb = (double)rss * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
    return 0;
}

/* One reading of o->instance's series on a doppel admin /metrics. */
struct inst_reading {
    bool have_cpu_s; /* doppel_instance_cpu_seconds_total is there (newer doppels) */
    double cpu_s, cpu_pct, rss;
};

/* Reads o->instance's series from the doppel /metrics at o->metrics; 0 or CLI_FAILED with
 * the reason printed. The CPU counter is optional, the instant CPU and the RSS are not. */
static int read_metrics(const struct stress_opts *o, struct inst_reading *r)
{
    struct cli_http_fetch f = {0};
    struct err err = {0};
    buf_init(&f.body, STRESS_METRICS_MAX);
    int rc = cli_http_get(o->metrics_addr, o->metrics_path, "the metrics endpoint",
                          STRESS_METRICS_TIMEOUT_MS, &f, &err);
    if (rc) {
        fprintf(stderr, "doppel stress: --metrics: %s\n", err.msg);
        goto out;
    }
    if ((rc = f.status == 200 ? 0 : -EIO) != 0) {
        fprintf(stderr, "doppel stress: --metrics: %s answered %d\n", o->metrics, f.status);
        goto out;
    }
    const char *t = f.body.data ? f.body.data : "";
    rc = cli_prom_instance_value(t, f.body.len, "doppel_instance_cpu_seconds_total", o->instance,
                                 &r->cpu_s);
    r->have_cpu_s = rc == 0;
    rc = rc == -ENOENT ? 0 : rc;
    if (!rc)
        rc = cli_prom_instance_value(t, f.body.len, "doppel_instance_cpu_percent", o->instance,
                                     &r->cpu_pct);
    if (!rc)
        rc = cli_prom_instance_value(t, f.body.len, "doppel_instance_rss_bytes", o->instance,
                                     &r->rss);
    if (rc)
        fprintf(stderr,
                "doppel stress: --metrics: %s %s instance=\"%s\" in "
                "doppel_instance_cpu_percent and doppel_instance_rss_bytes\n",
                o->metrics, rc == -ENOENT ? "has no series with" : "has a malformed sample for",
                o->instance);
out:
    buf_release(&f.body);
    return rc ? CLI_FAILED : CLI_OK;
}

/* A step's CPU in cores from the readings at its start and end: the counter's increase over
 * the step's wall time, or, without the counter (an older doppel, or a counter that went
 * back: that doppel restarted), the instant value at the end. */
static double metrics_cores(const struct inst_reading *r0, const struct inst_reading *r1,
                            double wall)
{
    if (r0->have_cpu_s && r1->have_cpu_s && r1->cpu_s >= r0->cpu_s && wall > 0)
        return (r1->cpu_s - r0->cpu_s) / wall;
    return r1->cpu_pct / 100.0;
}

/* ---- the ramp -------------------------------------------------------------------------- */

static void measure(const struct stress_opts *o, const struct replay_stats *st,
                    struct stress_step *s)
{
    s->achieved = replay_stats_achieved_rps(st);
    s->p50_ms = (double)hist_quantile(&st->latency, 0.5) / 1e6;
    s->p90_ms = (double)hist_quantile(&st->latency, 0.9) / 1e6;
    s->p99_ms = (double)hist_quantile(&st->latency, 0.99) / 1e6;
    s->max_ms = (double)hist_max(&st->latency) / 1e6;
    s->sent = st->sent;
    s->responses = st->responses;
    s->errors = replay_stats_errors(st);
    s->error_rate = st->scheduled ? (double)s->errors / (double)st->scheduled : 0;
    /* a step whose errors took every response also has no p99 to meet the SLO with */
    s->ok =
        s->responses > 0 && s->p99_ms * 1e6 <= (double)o->slo_ns && s->error_rate <= o->max_errors;
}

static int run_step(struct stress_opts *o, struct replay_source *src, struct stress_step *s,
                    struct replay_stats *st)
{
    double cpu0 = 0, cpu1 = 0, mem = 0;
    struct inst_reading r0 = {0}, r1 = {0};
    int have_proc = o->pid && read_proc(o->pid, &cpu0, &mem) == 0;
    if (o->metrics && read_metrics(o, &r0) != CLI_OK)
        return CLI_FAILED;
    uint64_t t0 = clock_mono_ns();
    replay_sched_init_rate(&o->load.ro.sched, s->rate);
    int rc = cli_load_run(&o->load, src, st);
    double wall = (double)(clock_mono_ns() - t0) / 1e9;
    if (rc)
        return rc;
    measure(o, st, s);
    if (have_proc && read_proc(o->pid, &cpu1, &mem) == 0 && wall > 0) {
        s->cpu_cores = (cpu1 - cpu0) / wall;
        s->memory_mb = mem;
    }
    if (o->metrics) {
        if (read_metrics(o, &r1) != CLI_OK)
            return CLI_FAILED;
        s->cpu_cores = metrics_cores(&r0, &r1, wall);
        s->memory_mb = r1.rss / (1024.0 * 1024.0);
    }
    return 0;
}

static void print_step_text(size_t i, const struct stress_step *s)
{
    if (i == 0)
        printf("step      rate  achieved    p50_ms    p90_ms    p99_ms    max_ms  errors  "
               "cpu_cores  memory_mb  slo\n");
    printf("%4zu %9.1f %9.1f %9.2f %9.2f %9.2f %9.2f %7llu %10.3f %10.1f  %s\n", i + 1, s->rate,
           s->achieved, s->p50_ms, s->p90_ms, s->p99_ms, s->max_ms, (unsigned long long)s->errors,
           s->cpu_cores, s->memory_mb, s->ok ? "met" : "BROKEN");
    fflush(stdout);
}

static int write_csv(const char *path, const struct stress_step *steps, size_t n)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "doppel stress: cannot write '%s': %s\n", path, strerror(errno));
        return CLI_FAILED;
    }
    fprintf(f, "load_rps,latency_p99_ms,cpu_cores,memory_mb\n");
    for (size_t i = 0; i < n; i++)
        if (steps[i].responses > 0)
            fprintf(f, "%.3f,%.3f,%.4f,%.2f\n",
                    steps[i].achieved > 0 ? steps[i].achieved : steps[i].rate, steps[i].p99_ms,
                    steps[i].cpu_cores, steps[i].memory_mb);
    if (fclose(f) != 0) {
        fprintf(stderr, "doppel stress: cannot write '%s': %s\n", path, strerror(errno));
        return CLI_FAILED;
    }
    return CLI_OK;
}

static void print_json(const struct stress_opts *o, const struct stress_step *steps, size_t n,
                       double knee)
{
    cJSON *j = cJSON_CreateObject(), *arr;
    if (knee > 0)
        cJSON_AddNumberToObject(j, "knee_rps", knee);
    else
        cJSON_AddNullToObject(j, "knee_rps");
    cJSON_AddNumberToObject(j, "slo_p99_ms", (double)o->slo_ns / 1e6);
    cJSON_AddBoolToObject(j, "slo_broken", n > 0 && !steps[n - 1].ok);
    arr = cJSON_AddArrayToObject(j, "steps");
    for (size_t i = 0; i < n; i++) {
        const struct stress_step *s = &steps[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "rate_rps", s->rate);
        cJSON_AddNumberToObject(e, "achieved_rps", s->achieved);
        cJSON_AddNumberToObject(e, "p50_ms", s->p50_ms);
        cJSON_AddNumberToObject(e, "p90_ms", s->p90_ms);
        cJSON_AddNumberToObject(e, "p99_ms", s->p99_ms);
        cJSON_AddNumberToObject(e, "max_ms", s->max_ms);
        cJSON_AddNumberToObject(e, "sent", (double)s->sent);
        cJSON_AddNumberToObject(e, "errors", (double)s->errors);
        cJSON_AddNumberToObject(e, "error_rate", s->error_rate);
        cJSON_AddNumberToObject(e, "cpu_cores", s->cpu_cores);
        cJSON_AddNumberToObject(e, "memory_mb", s->memory_mb);
        cJSON_AddBoolToObject(e, "slo_met", s->ok);
        cJSON_AddItemToArray(arr, e);
    }
    char *txt = cJSON_Print(j);
    printf("%s\n", txt);
    free(txt);
    cJSON_Delete(j);
}

static void print_knee(const struct stress_opts *o, const struct stress_step *steps, size_t n,
                       double knee)
{
    double slo = (double)o->slo_ns / 1e6;
    if (n > 0 && steps[n - 1].ok)
        printf("knee: at least %.1f/s (p99 stayed within %.1f ms up to --max-rate)\n", knee, slo);
    else if (knee > 0)
        printf("knee: %.1f/s (the last rate whose p99 met %.1f ms with errors <= %.1f %%; "
               "%.1f/s broke it)\n",
               knee, slo, o->max_errors * 100, steps[n - 1].rate);
    else
        printf("knee: none (the first step, %.1f/s, already broke p99 %.1f ms or the error "
               "bound)\n",
               o->start, slo);
}

static int ramp(struct stress_opts *o, struct replay_source *src)
{
    struct stress_step *steps = xcalloc(STRESS_MAX_STEPS, sizeof(*steps));
    struct replay_stats *st = xmalloc(sizeof(*st));
    size_t n = 0;
    double knee = 0;
    char label[64];
    int rc = CLI_OK;
    o->load.label = label;
    o->load.ro.duration_ns = o->every_ns;
    o->load.ro.loop = true;
    for (double rate = o->start; n < STRESS_MAX_STEPS; rate = o->start + (double)n * o->step) {
        if (o->max_rate > 0 && rate > o->max_rate * (1 + 1e-9))
            break;
        struct stress_step *s = &steps[n];
        s->rate = rate;
        snprintf(label, sizeof(label), "step %zu (%.0f/s)", n + 1, rate);
        if ((rc = run_step(o, src, s, st)) != CLI_OK)
            break;
        if (!o->load.json)
            print_step_text(n, s);
        n++;
        if (!s->ok || st->interrupted)
            break;
        knee = rate;
    }
    if (o->load.json)
        print_json(o, steps, n, knee);
    else if (n > 0)
        print_knee(o, steps, n, knee);
    if (rc == CLI_OK && o->output)
        rc = write_csv(o->output, steps, n);
    free(st);
    free(steps);
    return rc;
}

static int stress_run(int argc, char **argv)
{
    struct stress_opts o = {0};
    struct replay_source *src = NULL;
    cli_load_init(&o.load, &cli_cmd_stress);
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc;
    rc = cli_load_open_source(&o.load, o.from, &src);
    if (rc)
        return rc;
    cli_load_enable_progress(&o.load);
    rc = ramp(&o, src);
    replay_source_free(src);
    cli_load_release(&o.load);
    return rc;
}

const struct cli_cmd cli_cmd_stress = {
    .name = "stress",
    .usage = "stress --target URL [--from url:PATH|capture:FILES|model:M] --start R --step R "
             "[--every DUR] --slo-p99 DUR [--max-rate R] [--pid PID | --metrics URL --instance ID] "
             "[--output steps.csv] "
             "[--json]",
    .summary = "step the arrival rate until the p99 SLO breaks; report the knee",
    .help = "Sends open-loop load at --start requests/s for --every (default 20s), then\n"
            "--step more, and so on, until a step's p99 latency (from each request's\n"
            "scheduled time) exceeds --slo-p99 or more than --max-errors of its requests\n"
            "fail. The knee is the last rate that met the SLO.\n\n"
            "  --from SPEC           url:PATH (one GET, the default url:/), capture:F1,F2\n"
            "                        (recorded requests, same mix), model:FILE\n"
            "  --start R, --step R   rates such as 100/s or 6000/m\n"
            "  --every DUR           length of each step (default 20s)\n"
            "  --slo-p99 DUR         the p99 latency a step must stay within\n"
            "  --max-rate R          stop after the step at R even if the SLO holds\n"
            "  --max-errors P        fraction of failed requests a step tolerates (0.01)\n"
            "  --pid PID             sample the target's CPU and memory from /proc/PID\n"
            "  --metrics URL         at the start and end of each step, read the CPU and memory\n"
            "  --instance ID         of a doppel-managed instance from a doppel admin /metrics\n"
            "                        (http://HOST:PORT/metrics; ID as in `doppel status`)\n"
            "  --output FILE         load_rps,latency_p99_ms,cpu_cores,memory_mb per step,\n"
            "                        the input of `doppel analyze capacity` (0 when "
            "unknown)\n" CLI_LOAD_HELP,
    .run = stress_run,
};
