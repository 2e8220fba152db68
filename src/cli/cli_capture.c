/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_capture: `doppel capture inspect|cat|stats FILE...`, the human-readable (or --json)
 * views of capture files (docs/capture.md). inspect: each file's header, record count,
 * time span and what was skipped; cat: one line per record; stats: the method, path and
 * status mix, the rate and latency percentiles. Reading is replay/capture_reader's; this
 * file only prints. A damaged file is read as far as it goes (warnings on stderr); a file
 * that is not a capture fails the command (exit 1).
 */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "replay/capture_reader.h"

static void fmt_time(uint64_t ns, char *out, size_t len)
{
    time_t t = (time_t)(ns / CLOCK_NS_PER_S);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, len - n,
             ".%06llu"
             "Z",
             (unsigned long long)((ns % CLOCK_NS_PER_S) / 1000));
}

static void add_bytes(cJSON *o, const char *key, const void *p, size_t n)
{
    char *s = xstrndup(p ? p : "", n);
    if (str_utf8_text((const void *)s, n)) {
        cJSON_AddStringToObject(o, key, s);
    } else {
        char k[64];
        snprintf(k, sizeof(k), "%s_hex", key);
        struct buf h;
        buf_init(&h, 2 * n + 1);
        for (size_t i = 0; i < n; i++)
            buf_printf(&h, "%02x", ((const unsigned char *)p)[i]);
        cJSON_AddStringToObject(o, k, h.data ? h.data : "");
        buf_release(&h);
    }
    free(s);
}

static cJSON *headers_json(const struct http_header *h, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        cJSON *pair = cJSON_CreateObject();
        add_bytes(pair, "name", h[i].name, h[i].name_len);
        add_bytes(pair, "value", h[i].value, h[i].value_len);
        cJSON_AddItemToArray(a, pair);
    }
    return a;
}

static cJSON *resp_json(const struct capture_resp *r)
{
    cJSON *o = cJSON_CreateObject();
    add_bytes(o, "pool", r->pool, r->pool_len);
    cJSON_AddNumberToObject(o, "status", r->status);
    cJSON_AddNumberToObject(o, "error", r->error);
    cJSON_AddNumberToObject(o, "latency_ms", (double)r->latency_ns / 1e6);
    cJSON_AddItemToObject(o, "headers", headers_json(r->headers, r->nheaders));
    add_bytes(o, "body", r->body, r->body_len);
    cJSON_AddBoolToObject(o, "body_truncated", r->body_truncated);
    return o;
}

static void print_record_json(const struct capture_record *r)
{
    char ts[64];
    fmt_time(r->ts_ns, ts, sizeof(ts));
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "time", ts);
    char id[24];
    snprintf(id, sizeof(id), "%016" PRIx64, r->id);
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddBoolToObject(o, "answer_only", r->answer_only);
    add_bytes(o, "method", r->method, r->method_len);
    add_bytes(o, "target", r->target, r->target_len);
    cJSON_AddItemToObject(o, "headers", headers_json(r->headers, r->nheaders));
    add_bytes(o, "body", r->body, r->body_len);
    cJSON_AddBoolToObject(o, "body_truncated", r->body_truncated);
    if (r->primary.present)
        cJSON_AddItemToObject(o, "primary", resp_json(&r->primary));
    if (r->shadow.present)
        cJSON_AddItemToObject(o, "shadow", resp_json(&r->shadow));
    char *s = cJSON_PrintUnformatted(o);
    puts(s);
    free(s);
    cJSON_Delete(o);
}

static void print_record_line(const struct capture_record *r)
{
    char ts[64];
    fmt_time(r->ts_ns, ts, sizeof(ts));
    const struct capture_resp *resp = r->primary.present ? &r->primary : &r->shadow;
    if (r->method_len)
        printf("%s %016" PRIx64 " %.*s %.*s", ts, r->id, (int)r->method_len, r->method,
               (int)r->target_len, r->target);
    else
        printf("%s %016" PRIx64 " (request in the primary record)", ts, r->id);
    if (r->body_len)
        printf(" (%zu bytes%s)", r->body_len, r->body_truncated ? ", truncated" : "");
    if (resp->present)
        printf(" -> %.*s %d %.3f ms", (int)resp->pool_len, resp->pool, resp->status,
               (double)resp->latency_ns / 1e6);
    putchar('\n');
}

/* A count per distinct string (methods, paths); few distinct keys, so a linear search. */
struct tally {
    char **keys;
    uint64_t *n;
    size_t len, cap;
};

static void tally_add(struct tally *t, const char *k, size_t klen)
{
    for (size_t i = 0; i < t->len; i++)
        if (strlen(t->keys[i]) == klen && memcmp(t->keys[i], k, klen) == 0) {
            t->n[i]++;
            return;
        }
    if (t->len == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 16;
        t->keys = xreallocarray(t->keys, t->cap, sizeof(*t->keys));
        t->n = xreallocarray(t->n, t->cap, sizeof(*t->n));
    }
    t->keys[t->len] = xstrndup(k, klen);
    t->n[t->len++] = 1;
}

static void tally_release(struct tally *t)
{
    for (size_t i = 0; i < t->len; i++)
        free(t->keys[i]);
    free(t->keys);
    free(t->n);
}

/* Indices of t ordered by count, largest first (caller frees). */
static size_t *tally_order(const struct tally *t)
{
    size_t *o = xcalloc(t->len + 1, sizeof(*o));
    for (size_t i = 0; i < t->len; i++) {
        size_t j = i;
        for (; j > 0 && t->n[o[j - 1]] < t->n[i]; j--)
            o[j] = o[j - 1];
        o[j] = i;
    }
    return o;
}

struct lat {
    uint64_t *v;
    size_t len, cap;
};

static void lat_add(struct lat *l, uint64_t ns)
{
    if (l->len == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 1024;
        l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
    }
    l->v[l->len++] = ns;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile (the smallest value with at least p of the values at or below
 * it), in ms; l sorted. */
static double lat_pct(const struct lat *l, double p)
{
    if (!l->len)
        return 0;
    size_t rank = (size_t)(p * (double)l->len + 0.999999999);
    rank = rank < 1 ? 1 : rank > l->len ? l->len : rank;
    return (double)l->v[rank - 1] / 1e6;
}

struct stats {
    uint64_t records, primary, shadow, answers, skipped, skipped_bytes, torn;
    uint64_t first, last;
    uint64_t id_min, id_max; /* exchange ids */
    uint64_t classes[7];     /* primary status: none, 1xx..5xx, other */
    struct tally methods, paths;
    struct lat plat, slat;
};

static void stats_add(struct stats *s, const struct capture_record *r)
{
    if (s->records == 0 || r->id < s->id_min)
        s->id_min = r->id;
    if (r->id > s->id_max)
        s->id_max = r->id;
    s->answers += r->answer_only;
    if (s->records++ == 0 || r->ts_ns < s->first)
        s->first = r->ts_ns;
    if (r->ts_ns > s->last)
        s->last = r->ts_ns;
    if (r->shadow.present) {
        s->shadow++;
        if (r->shadow.status)
            lat_add(&s->slat, r->shadow.latency_ns);
    }
    if (!r->primary.present)
        return; /* each request counted once, by its primary record */
    s->primary++;
    int st = r->primary.status;
    s->classes[st == 0 ? 0 : st >= 100 && st < 600 ? st / 100 : 6]++;
    if (st)
        lat_add(&s->plat, r->primary.latency_ns);
    tally_add(&s->methods, r->method, r->method_len);
    tally_add(&s->paths, r->target, http_target_path_len(r->target, r->target_len));
}

enum mode { MODE_INSPECT = 1, MODE_CAT, MODE_STATS };

static void inspect_print(const char *path, const struct capture_reader_stats *st,
                          const struct stats *s, cJSON *arr)
{
    char created[64], first[64], last[64], idmin[24], idmax[24];
    fmt_time(st->created_ns, created, sizeof(created));
    snprintf(idmin, sizeof(idmin), "%016" PRIx64, s->id_min);
    snprintf(idmax, sizeof(idmax), "%016" PRIx64, s->id_max);
    fmt_time(s->first, first, sizeof(first));
    fmt_time(s->last, last, sizeof(last));
    double span = s->records ? (double)(s->last - s->first) / 1e9 : 0;
    if (arr) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "file", path);
        cJSON_AddNumberToObject(o, "version", st->version);
        cJSON_AddStringToObject(o, "created", st->created_ns ? created : "");
        cJSON_AddNumberToObject(o, "records", (double)st->records);
        cJSON_AddNumberToObject(o, "primary_records", (double)s->primary);
        cJSON_AddNumberToObject(o, "shadow_records", (double)s->shadow);
        cJSON_AddNumberToObject(o, "answer_only_records", (double)s->answers);
        cJSON_AddStringToObject(o, "id_min", s->records ? idmin : "");
        cJSON_AddStringToObject(o, "id_max", s->records ? idmax : "");
        cJSON_AddStringToObject(o, "first", s->records ? first : "");
        cJSON_AddStringToObject(o, "last", s->records ? last : "");
        cJSON_AddNumberToObject(o, "span_s", span);
        cJSON_AddNumberToObject(o, "skipped", (double)st->skipped);
        cJSON_AddNumberToObject(o, "skipped_bytes", (double)st->skipped_bytes);
        cJSON_AddBoolToObject(o, "torn", st->torn);
        cJSON_AddItemToArray(arr, o);
        return;
    }
    printf("%s: capture version %u, created %s\n", path, st->version,
           st->created_ns ? created : "(header torn)");
    printf("  records %" PRIu64 " (primary %" PRIu64 ", shadow %" PRIu64 ", answer-only %" PRIu64
           ")\n",
           st->records, s->primary, s->shadow, s->answers);
    if (s->records)
        printf("  from %s to %s (%.3f s)\n  ids %s to %s\n", first, last, span, idmin, idmax);
    printf("  skipped %" PRIu64 " corrupt stretch(es), %" PRIu64 " bytes; torn tail: %s\n",
           st->skipped, st->skipped_bytes, st->torn ? "yes" : "no");
}

static void stats_json(const struct stats *s, double span, size_t *mo, size_t *po)
{
    static const char *const cls[7] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx", "other"};
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "records", (double)s->records);
    cJSON_AddNumberToObject(o, "requests", (double)s->primary);
    cJSON_AddNumberToObject(o, "shadow_records", (double)s->shadow);
    cJSON_AddNumberToObject(o, "span_s", span);
    cJSON_AddNumberToObject(o, "rate_per_s", span > 0 ? (double)s->primary / span : 0);
    cJSON *m = cJSON_AddObjectToObject(o, "methods");
    for (size_t i = 0; i < s->methods.len; i++)
        cJSON_AddNumberToObject(m, s->methods.keys[mo[i]], (double)s->methods.n[mo[i]]);
    cJSON *c = cJSON_AddObjectToObject(o, "status");
    for (int i = 0; i < 7; i++)
        if (s->classes[i])
            cJSON_AddNumberToObject(c, cls[i], (double)s->classes[i]);
    cJSON *p = cJSON_AddArrayToObject(o, "paths");
    for (size_t i = 0; i < s->paths.len && i < 20; i++) {
        cJSON *e = cJSON_CreateObject();
        add_bytes(e, "path", s->paths.keys[po[i]], strlen(s->paths.keys[po[i]]));
        cJSON_AddNumberToObject(e, "count", (double)s->paths.n[po[i]]);
        cJSON_AddItemToArray(p, e);
    }
    const struct lat *ls[2] = {&s->plat, &s->slat};
    const char *names[2] = {"latency_ms_primary", "latency_ms_shadow"};
    for (int k = 0; k < 2; k++) {
        cJSON *l = cJSON_AddObjectToObject(o, names[k]);
        cJSON_AddNumberToObject(l, "n", (double)ls[k]->len);
        cJSON_AddNumberToObject(l, "p50", lat_pct(ls[k], 0.50));
        cJSON_AddNumberToObject(l, "p90", lat_pct(ls[k], 0.90));
        cJSON_AddNumberToObject(l, "p99", lat_pct(ls[k], 0.99));
        cJSON_AddNumberToObject(l, "max", lat_pct(ls[k], 1.0));
    }
    cJSON_AddNumberToObject(o, "skipped", (double)s->skipped);
    cJSON_AddNumberToObject(o, "skipped_bytes", (double)s->skipped_bytes);
    char *txt = cJSON_Print(o);
    puts(txt);
    free(txt);
    cJSON_Delete(o);
}

static void stats_print(struct stats *s, bool json)
{
    qsort(s->plat.v, s->plat.len, sizeof(uint64_t), cmp_u64);
    qsort(s->slat.v, s->slat.len, sizeof(uint64_t), cmp_u64);
    size_t *mo = tally_order(&s->methods), *po = tally_order(&s->paths);
    double span = s->records ? (double)(s->last - s->first) / 1e9 : 0;
    if (json) {
        stats_json(s, span, mo, po);
    } else {
        printf("requests %" PRIu64 " (records %" PRIu64 ", shadow %" PRIu64 ") over %.3f s",
               s->primary, s->records, s->shadow, span);
        printf(": %.2f req/s\nmethods:", span > 0 ? (double)s->primary / span : 0.0);
        for (size_t i = 0; i < s->methods.len; i++)
            printf(" %s %" PRIu64 " (%.1f%%)", s->methods.keys[mo[i]], s->methods.n[mo[i]],
                   100.0 * (double)s->methods.n[mo[i]] / (double)s->primary);
        static const char *const cls[7] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx", "other"};
        printf("\nstatus:");
        for (int i = 0; i < 7; i++)
            if (s->classes[i])
                printf(" %s %" PRIu64, cls[i], s->classes[i]);
        const struct lat *ls[2] = {&s->plat, &s->slat};
        for (int k = 0; k < 2; k++)
            printf("\nlatency %s ms: p50 %.3f p90 %.3f p99 %.3f max %.3f (n=%zu)",
                   k ? "shadow" : "primary", lat_pct(ls[k], .5), lat_pct(ls[k], .9),
                   lat_pct(ls[k], .99), lat_pct(ls[k], 1), ls[k]->len);
        printf("\ntop paths:\n");
        for (size_t i = 0; i < s->paths.len && i < 20; i++)
            printf("  %8" PRIu64 "  %s\n", s->paths.n[po[i]], s->paths.keys[po[i]]);
        if (s->skipped || s->skipped_bytes)
            printf("skipped %" PRIu64 " corrupt stretch(es), %" PRIu64 " bytes\n", s->skipped,
                   s->skipped_bytes);
    }
    free(mo);
    free(po);
}

/* Reads one file in the given mode; 0, or CLI_FAILED when it is not a capture. */
static int one_file(const char *path, enum mode mode, bool json, struct stats *all, cJSON *arr)
{
    struct err err = {0};
    struct capture_reader *r;
    if (capture_reader_open(path, false, &r, &err) != 0) {
        fprintf(stderr, "doppel capture: %s\n", err.msg);
        return CLI_FAILED;
    }
    struct stats one = {0};
    struct capture_record rec;
    while (capture_reader_next(r, &rec) == 1) {
        if (mode == MODE_CAT)
            json ? print_record_json(&rec) : print_record_line(&rec);
        stats_add(mode == MODE_STATS ? all : &one, &rec);
    }
    const struct capture_reader_stats *st = capture_reader_stats(r);
    all->skipped += st->skipped;
    all->skipped_bytes += st->skipped_bytes;
    if (mode == MODE_INSPECT)
        inspect_print(path, st, &one, arr);
    tally_release(&one.methods);
    tally_release(&one.paths);
    free(one.plat.v);
    free(one.slat.v);
    capture_reader_free(r);
    return CLI_OK;
}

static int run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    bool json = false;
    int ch;
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        cli_print_help(&cli_cmd_capture, stdout);
        return CLI_OK;
    }
    if (argc < 2)
        return cli_usage_error(&cli_cmd_capture, "missing inspect, cat or stats");
    const char *verb = argv[1];
    enum mode mode = strcmp(verb, "inspect") == 0 ? MODE_INSPECT
                     : strcmp(verb, "cat") == 0   ? MODE_CAT
                     : strcmp(verb, "stats") == 0 ? MODE_STATS
                                                  : 0;
    if (!mode)
        return cli_usage_error(&cli_cmd_capture, "unknown view '%s' (inspect, cat, stats)", verb);
    argc--, argv++; /* the view is the command getopt sees */
    optind = 1;
    while ((ch = getopt_long(argc, argv, "jh", longopts, NULL)) != -1)
        if (ch == 'j')
            json = true;
        else
            return cli_usage_error(&cli_cmd_capture, "unknown option");
    if (optind >= argc)
        return cli_usage_error(&cli_cmd_capture, "no capture FILE given");
    struct stats all = {0};
    cJSON *arr = mode == MODE_INSPECT && json ? cJSON_CreateArray() : NULL;
    int rc = CLI_OK;
    for (int i = optind; i < argc; i++)
        if (one_file(argv[i], mode, json, &all, arr) != CLI_OK)
            rc = CLI_FAILED;
    if (arr) {
        char *s = cJSON_Print(arr);
        puts(s);
        free(s);
        cJSON_Delete(arr);
    }
    if (mode == MODE_STATS && rc == CLI_OK)
        stats_print(&all, json);
    tally_release(&all.methods);
    tally_release(&all.paths);
    free(all.plat.v);
    free(all.slat.v);
    return rc;
}

const struct cli_cmd cli_cmd_capture = {
    .name = "capture",
    .usage = "capture inspect|cat|stats [--json] FILE...",
    .summary = "show capture files: header and counts, one line per record, or the traffic mix",
    .help = "  inspect   per file: format version, creation time, records, time span, and\n"
            "            what was skipped (corrupt stretches, a torn tail)\n"
            "  cat       one line per record (time, id, method, target, response, latency);\n"
            "            with --json one JSON object per line with headers and bodies\n"
            "  stats     over all files: requests, rate, method and status mix, top paths,\n"
            "            latency percentiles (nearest rank) of primary and shadow responses\n"
            "  --json    machine-readable output\n"
            "Damaged files are read as far as they go (warnings on stderr, exit 0); a file\n"
            "that is not a capture file fails the command (exit 1). See docs/capture.md.\n",
    .run = run,
};
