/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_load: the flags, progress line and summary that replay, loadgen and stress share
 * (see cli_load.h). Calls the replay room; prints.
 */
#include "cli/cli_load.h"

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
#include "net/addr.h"
#include "model/exchange.h"
#include "replay/capture.h"
#include "replay/capture_writer.h"
#include "replay/model.h"
#include "replay/source_fixed.h"

void cli_load_init(struct cli_load *l, const struct cli_cmd *cmd)
{
    memset(l, 0, sizeof(*l));
    l->cmd = cmd;
    replay_opts_init(&l->ro);
}

static int add_to(struct cli_load *l, const char **list, size_t *n, const char *arg,
                  const char *flag)
{
    if (*n >= CLI_LOAD_MAX_LIST)
        return cli_usage_error(l->cmd, "at most %d %s flags", CLI_LOAD_MAX_LIST, flag);
    list[(*n)++] = arg;
    list[*n] = NULL;
    return 1;
}

static int parse_u64_flag(struct cli_load *l, const char *flag, const char *arg, uint64_t *out,
                          uint64_t min)
{
    if (str_to_u64(arg, out) != 0 || *out < min)
        return cli_usage_error(l->cmd, "%s '%s' is not a whole number >= %llu", flag, arg,
                               (unsigned long long)min);
    return 1;
}

static int parse_dur_flag(struct cli_load *l, const char *flag, const char *arg, uint64_t *out)
{
    if (str_to_duration_ns(arg, out) != 0 || *out == 0)
        return cli_usage_error(l->cmd, "%s '%s' is not a duration > 0 (250ms, 10s, 5m)", flag, arg);
    return 1;
}

int cli_load_flag(struct cli_load *l, int opt, const char *arg)
{
    uint64_t v;
    int rc;
    switch (opt) {
    case CLI_LOAD_O_TARGET:
        l->target = arg;
        return 1;
    case CLI_LOAD_O_CONNECTIONS:
        rc = parse_u64_flag(l, "--connections", arg, &v, 1);
        if (rc == 1 && v > 100000)
            return cli_usage_error(l->cmd, "--connections %s is over 100000", arg);
        l->ro.connections = (unsigned)v;
        return rc;
    case CLI_LOAD_O_TIMEOUT:
        return parse_dur_flag(l, "--timeout", arg, &l->ro.timeout_ns);
    case CLI_LOAD_O_DURATION:
        return parse_dur_flag(l, "--duration", arg, &l->ro.duration_ns);
    case CLI_LOAD_O_MAX_REQUESTS:
        return parse_u64_flag(l, "--max-requests", arg, &l->ro.max_requests, 1);
    case CLI_LOAD_O_HOST:
        l->host_set = true;
        snprintf(l->host, sizeof(l->host), "%s", arg);
        return 1;
    case CLI_LOAD_O_HEADER:
        if (!replay_rewrite_header_valid(arg))
            return cli_usage_error(l->cmd, "--header '%s' is not 'Name: value'", arg);
        return add_to(l, l->add, &l->nadd, arg, "--header");
    case CLI_LOAD_O_REMOVE_HEADER:
        return add_to(l, l->remove, &l->nremove, arg, "--remove-header");
    case CLI_LOAD_O_PATH_PREFIX:
        if (arg[0] != '/')
            return cli_usage_error(l->cmd, "--path-prefix '%s' must start with '/'", arg);
        l->ro.rewrite.path_prefix = arg;
        return 1;
    case CLI_LOAD_O_METHOD:
        return add_to(l, l->methods, &l->nmethods, arg, "--method");
    case CLI_LOAD_O_PATH:
        return add_to(l, l->paths, &l->npaths, arg, "--path");
    case CLI_LOAD_O_JSON:
        l->json = true;
        return 1;
    case CLI_LOAD_O_PROGRESS:
        l->progress = true;
        return 1;
    case CLI_LOAD_O_LOOP:
        l->ro.loop = true;
        return 1;
    case CLI_LOAD_O_RECORD:
        l->record_path = arg;
        return 1;
    case CLI_LOAD_O_THREADS:
        rc = parse_u64_flag(l, "--threads", arg, &v, 1);
        if (rc == 1 && v > REPLAY_MAX_THREADS)
            return cli_usage_error(l->cmd, "--threads %s is over %d", arg, REPLAY_MAX_THREADS);
        l->nthreads = (unsigned)v;
        return rc;
    default:
        return 0;
    }
}

/* "http://HOST:PORT[/PREFIX]" into the address, the default Host and a path prefix. */
static int parse_target(struct cli_load *l)
{
    const char *u = l->target;
    struct err err = {0};
    char hostport[300];
    if (strncmp(u, "https://", 8) == 0)
        return cli_usage_error(l->cmd, "--target '%s': https is not supported (use http)", u);
    if (strncmp(u, "http://", 7) != 0)
        return cli_usage_error(l->cmd, "--target '%s' is not http://HOST:PORT", u);
    const char *hp = u + 7, *slash = strchr(hp, '/');
    size_t n = slash ? (size_t)(slash - hp) : strlen(hp);
    if (n == 0 || n >= sizeof(hostport) - 4)
        return cli_usage_error(l->cmd, "--target '%s' has no host", u);
    memcpy(hostport, hp, n);
    hostport[n] = '\0';
    if (!strchr(hostport, ':') || hostport[n - 1] == ']')
        snprintf(hostport + n, sizeof(hostport) - n, ":80");
    if (net_addr_parse(hostport, &l->ro.addr, &err) != 0)
        return cli_usage_error(l->cmd, "--target '%s': %s", u, err.msg);
    if (!l->host_set)
        snprintf(l->host, sizeof(l->host), "%.*s", (int)n, hp);
    if (slash && slash[1] && !l->ro.rewrite.path_prefix)
        l->ro.rewrite.path_prefix = slash;
    return 0;
}

int cli_load_finish(struct cli_load *l)
{
    if (!l->target)
        return cli_usage_error(l->cmd, "--target URL is required");
    if (l->nthreads > 1 && l->record_path)
        return cli_usage_error(l->cmd, "--record needs one thread (no --threads)");
    if (l->nthreads == 0)
        l->nthreads = 1;
    int rc = parse_target(l);
    if (rc)
        return rc;
    l->ro.rewrite.host = l->host;
    l->ro.rewrite.add = l->nadd ? l->add : NULL;
    l->ro.rewrite.remove = l->nremove ? l->remove : NULL;
    l->ro.filter.methods = l->nmethods ? l->methods : NULL;
    l->ro.filter.paths = l->npaths ? l->paths : NULL;
    return 0;
}

int cli_load_parse_rate(const char *s, double *out)
{
    char num[64];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    double unit = 1;
    if (n == 0 || n >= sizeof(num))
        return -EINVAL;
    if (slash) {
        if (!strcmp(slash, "/s"))
            unit = 1;
        else if (!strcmp(slash, "/m") || !strcmp(slash, "/min"))
            unit = 60;
        else if (!strcmp(slash, "/h"))
            unit = 3600;
        else
            return -EINVAL;
    }
    memcpy(num, s, n);
    num[n] = '\0';
    if (str_to_double(num, out) != 0 || !(*out > 0) || !isfinite(*out))
        return -EINVAL;
    *out /= unit;
    return *out > 1e7 ? -ERANGE : 0;
}

int cli_load_parse_speed(const char *s, double *out)
{
    char num[64];
    size_t n = strlen(s);
    if (n && (s[n - 1] == 'x' || s[n - 1] == 'X'))
        n--;
    if (n == 0 || n >= sizeof(num))
        return -EINVAL;
    memcpy(num, s, n);
    num[n] = '\0';
    if (str_to_double(num, out) != 0 || !(*out > 0) || *out > 1e6)
        return -EINVAL;
    return 0;
}

/* ---- progress -------------------------------------------------------------------------- */

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

static void progress_cb(void *ctx, const struct replay_stats *st, uint64_t now_ns)
{
    struct cli_load *l = ctx;
    uint64_t dt = now_ns - l->prev_ns, ds = st->sent - l->prev_sent;
    double rate = dt ? (double)ds * 1e9 / (double)dt : 0;
    /* the schedule's own rate: requests are taken from it only as connections free up, so
     * when the target falls behind, how far behind is shown instead */
    double asked = replay_stats_asked_rps(st);
    l->prev_ns = now_ns, l->prev_sent = st->sent;
    char behind[48] = "", left[48] = "";
    if (st->last_sched_ns && now_ns > st->last_sched_ns + 100 * CLOCK_NS_PER_MS)
        snprintf(behind, sizeof(behind), ", %.1f s behind schedule",
                 (double)(now_ns - st->last_sched_ns) / 1e9);
    if (l->ro.duration_ns)
        snprintf(left, sizeof(left), ", %.1f s left",
                 now_ns < l->ro.duration_ns ? (double)(l->ro.duration_ns - now_ns) / 1e9 : 0.0);
    fprintf(stderr,
            "%s%s%s%.1f s: %.0f/s sent (asked %.0f/s), p50 %.2f ms, p99 %.2f ms, "
            "%llu errors%s%s%s",
            l->tty ? "\r\033[K" : "", l->label ? l->label : "", l->label ? ": " : "",
            (double)now_ns / 1e9, rate, asked, ms(hist_quantile(&st->latency, 0.5)),
            ms(hist_quantile(&st->latency, 0.99)), (unsigned long long)replay_stats_errors(st),
            behind, left, l->tty ? "" : "\n");
    fflush(stderr);
}

void cli_load_enable_progress(struct cli_load *l)
{
    l->tty = isatty(STDERR_FILENO) != 0;
    if (!l->tty && !l->progress)
        return;
    l->ro.progress = progress_cb;
    l->ro.progress_ctx = l;
    l->ro.progress_ns = l->tty ? 500 * CLOCK_NS_PER_MS : CLOCK_NS_PER_S;
}

void cli_load_progress_end(struct cli_load *l)
{
    if (l->ro.progress && l->tty)
        fprintf(stderr, "\n");
    l->prev_ns = l->prev_sent = 0;
}

/* ---- summary --------------------------------------------------------------------------- */

static const double quantiles[] = {0.5, 0.9, 0.99, 0.999};
static const char *const qnames[] = {"p50", "p90", "p99", "p999"};

void cli_load_print_text(const struct replay_stats *st, FILE *out)
{
    fprintf(out,
            "requests: %llu scheduled, %llu sent, %llu responses (1xx %llu, 2xx %llu, "
            "3xx %llu, 4xx %llu, 5xx %llu), %llu filtered out\n",
            (unsigned long long)st->scheduled, (unsigned long long)st->sent,
            (unsigned long long)st->responses, (unsigned long long)st->status[1],
            (unsigned long long)st->status[2], (unsigned long long)st->status[3],
            (unsigned long long)st->status[4], (unsigned long long)st->status[5],
            (unsigned long long)st->filtered);
    fprintf(out, "errors: %llu", (unsigned long long)replay_stats_errors(st));
    for (int e = 0; e < REPLAY_E_COUNT; e++)
        fprintf(out, "%s%s %llu", e ? ", " : " (", replay_error_name(e),
                (unsigned long long)st->errors[e]);
    fprintf(out, ")\nrate: asked %.1f/s, achieved %.1f/s, run %.2f s, %llu connections opened%s\n",
            replay_stats_asked_rps(st), replay_stats_achieved_rps(st), (double)st->elapsed_ns / 1e9,
            (unsigned long long)st->conns_opened, st->interrupted ? " (interrupted)" : "");
    fprintf(out, "latency from the scheduled time (ms):");
    for (size_t i = 0; i < 4; i++)
        fprintf(out, " %s %.2f", qnames[i], ms(hist_quantile(&st->latency, quantiles[i])));
    fprintf(out, " max %.2f mean %.2f\n", ms(hist_max(&st->latency)),
            hist_count(&st->latency) ? ms(hist_sum(&st->latency)) / (double)hist_count(&st->latency)
                                     : 0.0);
    fprintf(out, "send lag behind the schedule (ms): p50 %.2f p99 %.2f max %.2f\n",
            ms(hist_quantile(&st->send_lag, 0.5)), ms(hist_quantile(&st->send_lag, 0.99)),
            ms(hist_max(&st->send_lag)));
}

static cJSON *hist_json(const struct hist *h)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "count", (double)hist_count(h));
    for (size_t i = 0; i < 4; i++)
        cJSON_AddNumberToObject(j, qnames[i], ms(hist_quantile(h, quantiles[i])));
    cJSON_AddNumberToObject(j, "max", ms(hist_max(h)));
    cJSON_AddNumberToObject(j, "mean", hist_count(h) ? ms(hist_sum(h)) / (double)hist_count(h) : 0);
    return j;
}

cJSON *cli_load_stats_json(const struct replay_stats *st)
{
    static const char *const classes[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "scheduled", (double)st->scheduled);
    cJSON_AddNumberToObject(j, "sent", (double)st->sent);
    cJSON_AddNumberToObject(j, "responses", (double)st->responses);
    cJSON_AddNumberToObject(j, "filtered", (double)st->filtered);
    cJSON *s = cJSON_AddObjectToObject(j, "status");
    for (int i = 0; i < 6; i++)
        cJSON_AddNumberToObject(s, classes[i], (double)st->status[i]);
    cJSON *e = cJSON_AddObjectToObject(j, "errors");
    cJSON_AddNumberToObject(e, "total", (double)replay_stats_errors(st));
    for (int i = 0; i < REPLAY_E_COUNT; i++)
        cJSON_AddNumberToObject(e, replay_error_name(i), (double)st->errors[i]);
    cJSON_AddNumberToObject(j, "asked_rps", replay_stats_asked_rps(st));
    cJSON_AddNumberToObject(j, "achieved_rps", replay_stats_achieved_rps(st));
    cJSON_AddNumberToObject(j, "elapsed_s", (double)st->elapsed_ns / 1e9);
    cJSON_AddNumberToObject(j, "connections_opened", (double)st->conns_opened);
    cJSON_AddBoolToObject(j, "interrupted", st->interrupted);
    cJSON_AddItemToObject(j, "latency_ms", hist_json(&st->latency));
    cJSON_AddItemToObject(j, "send_lag_ms", hist_json(&st->send_lag));
    return j;
}

/* ---- --record -------------------------------------------------------------------------- */

static unsigned exchange_error_of(int e)
{
    switch (e) {
    case REPLAY_E_CONNECT:
        return EXCHANGE_E_REFUSED;
    case REPLAY_E_TIMEOUT:
        return EXCHANGE_E_TIMEOUT;
    case REPLAY_E_RESET:
        return EXCHANGE_E_RESET;
    case REPLAY_E_BAD_RESPONSE:
        return EXCHANGE_E_BAD_RESPONSE;
    default:
        return EXCHANGE_E_OTHER;
    }
}

/* The target's answer goes in the record's shadow slot (pool "replay"): the target is the
 * copy under test. The record carries its request (it is not answer-only), so a recording
 * replays again; its exchange id is the source's (a capture record's id, pairing it with
 * the original's primary response), or the request's 1-based position in its pass over a
 * source without ids. */
static void record_cb(void *ctx, const struct replay_exchange *x)
{
    struct cli_load *l = ctx;
    const struct replay_req *q = x->req;
    struct capture_record r = {
        .ts_ns = x->sched_wall_ns,
        .id = q->id ? q->id : q->seq + 1,
        .method = q->method,
        .method_len = q->method_len,
        .target = q->target,
        .target_len = q->target_len,
        .headers = q->headers,
        .nheaders = q->nheaders,
        .body = q->body,
        .body_len = q->body_len,
        .shadow = {.present = true, .latency_ns = x->latency_ns, .pool = "replay", .pool_len = 6},
    };
    if (x->head) {
        r.shadow.status = x->head->status;
        r.shadow.headers = x->head->headers;
        r.shadow.nheaders = x->head->nheaders;
        r.shadow.body = x->body;
        r.shadow.body_len = x->body_len;
        r.shadow.body_truncated = x->body_truncated;
    } else {
        r.shadow.error = exchange_error_of(x->error);
    }
    struct buf b;
    buf_init(&b, CAPTURE_RECORD_MAX);
    if (capture_encode_payload(&r, &b) != 0 ||
        capture_writer_write(l->record, x->sched_wall_ns, b.data, b.len) != 0)
        l->record_lost++;
    buf_release(&b);
}

static int open_record(struct cli_load *l)
{
    struct err err = {0};
    if (!l->record_path || l->record)
        return 0;
    if (capture_writer_new(l->record_path, 0, &l->record, &err) != 0) {
        fprintf(stderr, "doppel %s: --record: %s\n", l->cmd->name, err.msg);
        return CLI_FAILED;
    }
    l->ro.record = record_cb;
    l->ro.record_ctx = l;
    return 0;
}

void cli_load_release(struct cli_load *l)
{
    for (unsigned i = 1; i < l->nthreads; i++)
        replay_source_free(l->extra[i - 1]);
    if (l->model) {
        traffic_model_release(l->model);
        free(l->model);
        l->model = NULL;
    }
    if (!l->record)
        return;
    capture_writer_free(l->record);
    l->record = NULL;
    if (l->record_lost)
        fprintf(stderr, "doppel %s: --record: %llu exchanges could not be written\n", l->cmd->name,
                (unsigned long long)l->record_lost);
}

int cli_load_run(struct cli_load *l, struct replay_source *src, struct replay_stats *st)
{
    struct err err = {0};
    int rc = open_record(l);
    if (rc) {
        memset(st, 0, sizeof(*st));
        return rc;
    }
    struct replay_source *srcs[REPLAY_MAX_THREADS];
    srcs[0] = src;
    for (unsigned i = 1; i < l->nthreads; i++)
        srcs[i] = l->extra[i - 1];
    rc = replay_run_threads(&l->ro, srcs, l->nthreads ? l->nthreads : 1, st, &err);
    if (l->record)
        capture_writer_flush(l->record);
    cli_load_progress_end(l);
    if (rc) {
        fprintf(stderr, "doppel %s: %s\n", l->cmd->name, err.msg);
        return CLI_FAILED;
    }
    return CLI_OK;
}

static int open_files(struct cli_load *l, const char *const *paths, size_t n,
                      struct replay_source **out)
{
    struct err err = {0};
    if (replay_source_capture_new(paths, n, out, &err) != 0) {
        fprintf(stderr, "doppel %s: %s\n", l->cmd->name, err.msg);
        return CLI_FAILED;
    }
    return 0;
}

/* "F1,F2,...": capture files in order. */
static int open_captures(struct cli_load *l, const char *list, struct replay_source **out)
{
    char *copy = xstrdup(list), *save = NULL;
    const char **paths = xcalloc(strlen(list) / 2 + 2, sizeof(*paths));
    size_t n = 0;
    for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save))
        paths[n++] = p;
    int rc = n ? open_files(l, paths, n, out)
               : cli_usage_error(l->cmd, "capture: names no file (capture:F1,F2)");
    free(paths);
    free(copy);
    return rc;
}

static int open_spec(struct cli_load *l, const char *spec, struct replay_source **out);

#define MODEL_MAX_BYTES (64u << 20)

/* Reads a model JSON file once (every thread's source shares it). */
static int load_model(struct cli_load *l, const char *path, struct err *err)
{
    struct buf b;
    char chunk[65536];
    size_t n;
    int rc = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_set(err, -errno, "%s: %s", path, strerror(errno));
    buf_init(&b, MODEL_MAX_BYTES);
    while (!rc && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (buf_append(&b, chunk, n))
            rc = err_set(err, -EFBIG, "%s: larger than 64 MiB", path);
    if (!rc && ferror(f))
        rc = err_set(err, -EIO, "%s: read error", path);
    fclose(f);
    if (!rc) {
        l->model = xcalloc(1, sizeof(*l->model));
        traffic_model_init(l->model);
        rc = traffic_model_from_json(path, b.data ? b.data : "", b.len, l->model, err);
        if (rc) {
            traffic_model_release(l->model);
            free(l->model);
            l->model = NULL;
        }
    }
    buf_release(&b);
    return rc;
}

/* A model source: the mix from the model; the pace from the replayer's schedule (its
 * times are ignored at a fixed rate or along a curve), or the model's own hourly curve. */
static int open_model(struct cli_load *l, const char *path, struct replay_source **out)
{
    struct err err = {0};
    struct traffic_gen gen = {.rate_per_s = l->model_own_pace ? 0 : 1.0};
    if (!l->model && load_model(l, path, &err)) {
        fprintf(stderr, "doppel %s: %s\n", l->cmd->name, err.msg);
        return CLI_USAGE;
    }
    if (replay_source_model_new(l->model, l->seed, &gen, out, &err)) {
        fprintf(stderr, "doppel %s: %s\n", l->cmd->name, err.msg);
        return CLI_FAILED;
    }
    return 0;
}

static int open_names(struct cli_load *l, char *const *names, size_t n, struct replay_source **out)
{
    *out = NULL;
    for (size_t i = 0; i < n; i++)
        if (strncmp(names[i], "url:", 4) == 0 && n > 1)
            return cli_usage_error(l->cmd, "url:PATH cannot be mixed with other sources");
    if (n == 1 && strncmp(names[0], "url:", 4) == 0)
        return open_spec(l, names[0], out);
    return open_files(l, (const char *const *)names, n, out);
}

/* --threads: every thread reads its own copy of the source. */
static int open_extra(struct cli_load *l, const char *spec, char *const *names, size_t n)
{
    for (unsigned i = 1; i < l->nthreads; i++) {
        int rc =
            spec ? open_spec(l, spec, &l->extra[i - 1]) : open_names(l, names, n, &l->extra[i - 1]);
        if (rc)
            return rc;
    }
    return 0;
}

int cli_load_open_sources(struct cli_load *l, char *const *names, size_t n,
                          struct replay_source **out)
{
    int rc = open_names(l, names, n, out);
    return rc ? rc : open_extra(l, NULL, names, n);
}

int cli_load_open_source(struct cli_load *l, const char *spec, struct replay_source **out)
{
    int rc = open_spec(l, spec, out);
    return rc ? rc : open_extra(l, spec, NULL, 0);
}

static int open_spec(struct cli_load *l, const char *spec, struct replay_source **out)
{
    *out = NULL;
    if (strncmp(spec, "url:", 4) == 0) {
        const char *path = spec + 4;
        if (path[0] != '/' || strpbrk(path, " \t\r\n"))
            return cli_usage_error(l->cmd, "'%s': url: takes a path such as url:/api?id=1", spec);
        *out = source_fixed_new("GET", path, NULL, NULL, 0);
        return 0;
    }
    if (strncmp(spec, "capture:", 8) == 0)
        return open_captures(l, spec + 8, out);
    if (strncmp(spec, "model:", 6) == 0)
        return open_model(l, spec + 6, out);
    return cli_usage_error(l->cmd, "'%s' is not url:PATH, capture:FILES or model:FILE", spec);
}
