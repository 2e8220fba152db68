/* SPDX-License-Identifier: Apache-2.0 */
/*
 * model: learning the traffic model from capture records, its JSON form, rate curves and
 * the generating source (see model.h). Owns the model's strings and arrays.
 */
#include "replay/model.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/rng.h"
#include "base/str.h"
#include "base/xalloc.h"

#define THINK_MAX_NS (30 * 60 * CLOCK_NS_PER_S)

void traffic_model_init(struct traffic_model *m)
{
    memset(m, 0, sizeof(*m));
    for (int h = 0; h < 24; h++)
        m->hour_rate[h] = -1;
}

static void endpoint_release(struct traffic_endpoint *e)
{
    free(e->method);
    free(e->path);
    for (size_t i = 0; i < e->nheaders; i++) {
        free((char *)e->headers[i].name);
        free((char *)e->headers[i].value);
    }
    free(e->headers);
    free(e->body);
    for (size_t i = 0; i < e->nexamples; i++)
        free(e->examples[i]);
    free(e->examples);
}

void traffic_model_release(struct traffic_model *m)
{
    for (size_t i = 0; i < m->nep; i++)
        endpoint_release(&m->ep[i]);
    free(m->ep);
    free(m->client_ts);
    traffic_model_init(m);
}

static bool all_of(const char *s, size_t n, int (*pred)(int))
{
    for (size_t i = 0; i < n; i++)
        if (!pred((unsigned char)s[i]))
            return false;
    return n > 0;
}

static bool is_uuid(const char *s, size_t n)
{
    if (n != 36)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return false;
    }
    return true;
}

static const char *segment_kind(const char *s, size_t n)
{
    if (all_of(s, n, isdigit))
        return "{id}";
    if (is_uuid(s, n))
        return "{uuid}";
    if (n >= 8 && all_of(s, n, isxdigit))
        for (size_t i = 0; i < n; i++)
            if (isdigit((unsigned char)s[i]))
                return "{hex}";
    return NULL;
}

int traffic_model_template(const char *path, size_t len, struct buf *out)
{
    int rc = 0;
    size_t i = 0;
    while (i < len && !rc) {
        if (path[i] == '/') {
            rc = buf_append(out, "/", 1);
            i++;
            continue;
        }
        size_t j = i;
        while (j < len && path[j] != '/')
            j++;
        const char *kind = segment_kind(path + i, j - i);
        rc = kind ? buf_appends(out, kind) : buf_append(out, path + i, j - i);
        i = j;
    }
    return rc;
}

/* Header fields that identify one request, not the endpoint: not part of its template. */
static bool per_request_header(const char *name, size_t len)
{
    return str_ieqz(name, len, "x-forwarded-for") || str_ieqz(name, len, "x-request-id") ||
           str_ieqz(name, len, "content-length");
}

static void endpoint_new(struct traffic_endpoint *e, const struct capture_record *r,
                         const char *path)
{
    memset(e, 0, sizeof(*e));
    e->method = xstrndup(r->method, r->method_len);
    e->path = xstrdup(path);
    e->headers = xcalloc(r->nheaders + 1, sizeof(*e->headers));
    for (size_t i = 0; i < r->nheaders; i++) {
        const struct http_header *h = &r->headers[i];
        if (per_request_header(h->name, h->name_len))
            continue;
        e->headers[e->nheaders++] =
            (struct http_header){xstrndup(h->name, h->name_len), h->name_len,
                                 xstrndup(h->value, h->value_len), h->value_len};
    }
    if (r->body_len) {
        e->body_len = r->body_len < TRAFFIC_MODEL_BODY_MAX ? r->body_len : TRAFFIC_MODEL_BODY_MAX;
        e->body = xstrndup(r->body, e->body_len);
    }
    e->examples = xcalloc(TRAFFIC_MODEL_EXAMPLES, sizeof(*e->examples));
}

static struct traffic_endpoint *endpoint_find(struct traffic_model *m,
                                              const struct capture_record *r, const char *path)
{
    for (size_t i = 0; i < m->nep; i++) {
        struct traffic_endpoint *e = &m->ep[i];
        if (strlen(e->method) == r->method_len &&
            memcmp(e->method, r->method, r->method_len) == 0 && strcmp(e->path, path) == 0)
            return e;
    }
    m->ep = xreallocarray(m->ep, m->nep + 1, sizeof(*m->ep));
    endpoint_new(&m->ep[m->nep], r, path);
    return &m->ep[m->nep++];
}

static void example_add(struct traffic_endpoint *e, const char *target, size_t len)
{
    if (e->nexamples == TRAFFIC_MODEL_EXAMPLES)
        return;
    for (size_t i = 0; i < e->nexamples; i++)
        if (strlen(e->examples[i]) == len && memcmp(e->examples[i], target, len) == 0)
            return;
    e->examples[e->nexamples++] = xstrndup(target, len);
}

/* FNV-1a of the last address in X-Forwarded-For (the pseudonym of the client). */
static uint64_t client_of(const struct capture_record *r)
{
    for (size_t i = r->nheaders; i-- > 0;) {
        const struct http_header *h = &r->headers[i];
        if (!str_ieqz(h->name, h->name_len, "x-forwarded-for"))
            continue;
        size_t start = h->value_len;
        while (start > 0 && h->value[start - 1] != ',')
            start--;
        uint64_t x = 0xcbf29ce484222325ULL;
        for (size_t k = start; k < h->value_len; k++)
            if (h->value[k] != ' ')
                x = (x ^ (unsigned char)h->value[k]) * 0x100000001b3ULL;
        return x;
    }
    return 0;
}

void traffic_model_add(struct traffic_model *m, const struct capture_record *r)
{
    if (!r->primary.present)
        return;
    struct buf path;
    buf_init(&path, 4096);
    if (traffic_model_template(r->target, http_target_path_len(r->target, r->target_len), &path) ||
        !path.data) {
        buf_release(&path);
        return;
    }
    struct traffic_endpoint *e = endpoint_find(m, r, path.data);
    buf_release(&path);
    e->count++;
    example_add(e, r->target, r->target_len);
    if (m->requests++ == 0 || r->ts_ns < m->first_ns)
        m->first_ns = r->ts_ns;
    if (r->ts_ns > m->last_ns)
        m->last_ns = r->ts_ns;
    m->hour_count[(r->ts_ns / (3600 * CLOCK_NS_PER_S)) % 24]++;
    uint64_t client = client_of(r);
    if (!client)
        return;
    if (m->nclient_ts + 2 > m->cap_client_ts) {
        m->cap_client_ts = m->cap_client_ts ? 2 * m->cap_client_ts : 1024;
        m->client_ts = xreallocarray(m->client_ts, m->cap_client_ts, sizeof(*m->client_ts));
    }
    m->client_ts[m->nclient_ts++] = client;
    m->client_ts[m->nclient_ts++] = r->ts_ns;
}

static int cmp_pair(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;
    if (x[0] != y[0])
        return x[0] < y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_endpoint(const void *a, const void *b)
{
    const struct traffic_endpoint *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    int c = strcmp(x->path, y->path);
    return c ? c : strcmp(x->method, y->method);
}

/* Think time: gaps between consecutive requests of one client, shorter than 30 minutes. */
static void finish_think(struct traffic_model *m)
{
    size_t npairs = m->nclient_ts / 2;
    if (npairs > 1) /* client_ts is NULL when no record named its client */
        qsort(m->client_ts, npairs, 2 * sizeof(uint64_t), cmp_pair);
    uint64_t *gaps = xcalloc(npairs + 1, sizeof(*gaps));
    size_t ng = 0;
    double sum = 0;
    for (size_t i = 1; i < npairs; i++) {
        const uint64_t *p = m->client_ts + 2 * (i - 1), *q = p + 2;
        if (p[0] == q[0] && q[1] - p[1] < THINK_MAX_NS) {
            gaps[ng++] = q[1] - p[1];
            sum += (double)(q[1] - p[1]) / 1e9;
        }
    }
    qsort(gaps, ng, sizeof(*gaps), cmp_u64);
    m->think_n = ng;
    m->think_mean_s = ng ? sum / (double)ng : 0;
    m->think_p50_s = ng ? (double)gaps[(ng - 1) / 2] / 1e9 : 0;
    free(gaps);
    free(m->client_ts);
    m->client_ts = NULL;
    m->nclient_ts = m->cap_client_ts = 0;
}

/* Requests per second per hour of day: count over the seconds of that hour the span covers. */
static void finish_hours(struct traffic_model *m)
{
    const uint64_t hour = 3600 * CLOCK_NS_PER_S;
    double covered[24] = {0};
    for (uint64_t h = m->first_ns / hour; h <= m->last_ns / hour; h++) {
        uint64_t lo = h * hour > m->first_ns ? h * hour : m->first_ns;
        uint64_t hi = (h + 1) * hour < m->last_ns ? (h + 1) * hour : m->last_ns;
        covered[h % 24] += (double)(hi - lo) / 1e9;
    }
    for (int h = 0; h < 24; h++)
        m->hour_rate[h] = covered[h] > 0 ? (double)m->hour_count[h] / covered[h] : -1;
}

void traffic_model_finish(struct traffic_model *m)
{
    if (m->nep > 1)
        qsort(m->ep, m->nep, sizeof(*m->ep), cmp_endpoint);
    for (size_t i = 0; i < m->nep; i++)
        m->ep[i].weight = (double)m->ep[i].count / (double)m->requests;
    double span = (double)(m->last_ns - m->first_ns) / 1e9;
    m->mean_rate = span > 0 ? (double)m->requests / span : 0;
    if (m->requests)
        finish_hours(m);
    finish_think(m);
}

static void body_to_json(cJSON *o, const char *body, size_t len)
{
    if (!body)
        return;
    if (str_utf8_text((const void *)body, len)) {
        cJSON_AddStringToObject(o, "body", body);
        return;
    }
    char *hex = xmalloc(2 * len + 1);
    for (size_t i = 0; i < len; i++)
        snprintf(hex + 2 * i, 3, "%02x", (unsigned char)body[i]);
    cJSON_AddStringToObject(o, "body_hex", hex);
    free(hex);
}

static cJSON *endpoint_to_json(const struct traffic_endpoint *e)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "method", e->method);
    cJSON_AddStringToObject(o, "path", e->path);
    cJSON_AddNumberToObject(o, "count", (double)e->count);
    cJSON_AddNumberToObject(o, "weight", e->weight);
    cJSON *h = cJSON_AddArrayToObject(o, "headers");
    for (size_t i = 0; i < e->nheaders; i++) {
        cJSON *pair = cJSON_CreateArray();
        cJSON_AddItemToArray(pair, cJSON_CreateString(e->headers[i].name));
        cJSON_AddItemToArray(pair, cJSON_CreateString(e->headers[i].value));
        cJSON_AddItemToArray(h, pair);
    }
    body_to_json(o, e->body, e->body_len);
    cJSON *ex = cJSON_AddArrayToObject(o, "examples");
    for (size_t i = 0; i < e->nexamples; i++)
        cJSON_AddItemToArray(ex, cJSON_CreateString(e->examples[i]));
    return o;
}

char *traffic_model_to_json(const struct traffic_model *m)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "version", 1);
    cJSON_AddNumberToObject(o, "requests", (double)m->requests);
    cJSON_AddNumberToObject(o, "span_s", (double)(m->last_ns - m->first_ns) / 1e9);
    cJSON_AddNumberToObject(o, "mean_rate_per_s", m->mean_rate);
    cJSON *hr = cJSON_AddArrayToObject(o, "hour_rate_per_s");
    for (int h = 0; h < 24; h++)
        cJSON_AddItemToArray(hr, m->hour_rate[h] < 0 ? cJSON_CreateNull()
                                                     : cJSON_CreateNumber(m->hour_rate[h]));
    cJSON *t = cJSON_AddObjectToObject(o, "think_time_s");
    cJSON_AddNumberToObject(t, "mean", m->think_mean_s);
    cJSON_AddNumberToObject(t, "p50", m->think_p50_s);
    cJSON_AddNumberToObject(t, "n", (double)m->think_n);
    cJSON *eps = cJSON_AddArrayToObject(o, "endpoints");
    for (size_t i = 0; i < m->nep; i++)
        cJSON_AddItemToArray(eps, endpoint_to_json(&m->ep[i]));
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    return s;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int body_from_json(const cJSON *o, struct traffic_endpoint *e)
{
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "body");
    const cJSON *hx = cJSON_GetObjectItemCaseSensitive(o, "body_hex");
    if (cJSON_IsString(b)) {
        e->body_len = strlen(b->valuestring);
        e->body = xstrdup(b->valuestring);
    } else if (cJSON_IsString(hx)) {
        size_t n = strlen(hx->valuestring);
        if (n % 2)
            return -EINVAL;
        e->body = xmalloc(n / 2 + 1);
        for (size_t i = 0; i < n / 2; i++) {
            int hi = hexval(hx->valuestring[2 * i]), lo = hexval(hx->valuestring[2 * i + 1]);
            if (hi < 0 || lo < 0)
                return -EINVAL;
            e->body[i] = (char)(hi << 4 | lo);
        }
        e->body_len = n / 2;
    }
    return 0;
}

static int strings_from_json(const cJSON *a, struct traffic_endpoint *e)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, a)
    {
        if (!cJSON_IsString(it) || e->nexamples == TRAFFIC_MODEL_EXAMPLES || !*it->valuestring)
            return -EINVAL;
        e->examples[e->nexamples++] = xstrdup(it->valuestring);
    }
    return 0;
}

static int headers_from_json(const cJSON *a, struct traffic_endpoint *e)
{
    int n = cJSON_GetArraySize(a);
    e->headers = xcalloc((size_t)n + 1, sizeof(*e->headers));
    const cJSON *it;
    cJSON_ArrayForEach(it, a)
    {
        const cJSON *k = cJSON_GetArrayItem(it, 0), *v = cJSON_GetArrayItem(it, 1);
        if (cJSON_GetArraySize(it) != 2 || !cJSON_IsString(k) || !cJSON_IsString(v))
            return -EINVAL;
        e->headers[e->nheaders++] =
            (struct http_header){xstrdup(k->valuestring), strlen(k->valuestring),
                                 xstrdup(v->valuestring), strlen(v->valuestring)};
    }
    return 0;
}

static int endpoint_from_json(const cJSON *o, struct traffic_endpoint *e, const char **what)
{
    const cJSON *method = cJSON_GetObjectItemCaseSensitive(o, "method");
    const cJSON *path = cJSON_GetObjectItemCaseSensitive(o, "path");
    const cJSON *weight = cJSON_GetObjectItemCaseSensitive(o, "weight");
    const cJSON *count = cJSON_GetObjectItemCaseSensitive(o, "count");
    const cJSON *headers = cJSON_GetObjectItemCaseSensitive(o, "headers");
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(o, "examples");
    memset(e, 0, sizeof(*e));
    e->examples = xcalloc(TRAFFIC_MODEL_EXAMPLES, sizeof(*e->examples));
    *what = "'method' and 'path' must be non-empty strings";
    if (!cJSON_IsString(method) || !cJSON_IsString(path) || !*method->valuestring ||
        path->valuestring[0] != '/')
        return -EINVAL;
    e->method = xstrdup(method->valuestring);
    e->path = xstrdup(path->valuestring);
    *what = "'weight' must be a number from 0 to 1";
    if (!cJSON_IsNumber(weight) || !(weight->valuedouble >= 0 && weight->valuedouble <= 1))
        return -EINVAL;
    e->weight = weight->valuedouble;
    e->count = cJSON_IsNumber(count) && count->valuedouble > 0 ? (uint64_t)count->valuedouble : 0;
    *what = "'headers' must be a list of [name, value] pairs";
    if (headers && (!cJSON_IsArray(headers) || headers_from_json(headers, e)))
        return -EINVAL;
    *what = "'examples' must be a list of at most 32 targets";
    if (ex && (!cJSON_IsArray(ex) || strings_from_json(ex, e)))
        return -EINVAL;
    *what = "'body_hex' must be hex digits";
    return body_from_json(o, e);
}

static void rates_from_json(const cJSON *root, struct traffic_model *m)
{
    const cJSON *mr = cJSON_GetObjectItemCaseSensitive(root, "mean_rate_per_s");
    const cJSON *hr = cJSON_GetObjectItemCaseSensitive(root, "hour_rate_per_s");
    const cJSON *rq = cJSON_GetObjectItemCaseSensitive(root, "requests");
    m->mean_rate = cJSON_IsNumber(mr) && mr->valuedouble > 0 ? mr->valuedouble : 0;
    m->requests = cJSON_IsNumber(rq) && rq->valuedouble > 0 ? (uint64_t)rq->valuedouble : 0;
    for (int h = 0; h < 24 && cJSON_GetArraySize(hr) == 24; h++) {
        const cJSON *v = cJSON_GetArrayItem(hr, h);
        m->hour_rate[h] = cJSON_IsNumber(v) && v->valuedouble >= 0 ? v->valuedouble : -1;
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "think_time_s");
    const cJSON *mean = cJSON_GetObjectItemCaseSensitive(t, "mean");
    const cJSON *p50 = cJSON_GetObjectItemCaseSensitive(t, "p50");
    m->think_mean_s = cJSON_IsNumber(mean) ? mean->valuedouble : 0;
    m->think_p50_s = cJSON_IsNumber(p50) ? p50->valuedouble : 0;
}

int traffic_model_from_json(const char *name, const char *text, size_t len, struct traffic_model *m,
                            struct err *err)
{
    traffic_model_init(m);
    cJSON *root = cJSON_ParseWithLength(text, len);
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(root, "endpoints");
    int rc = 0;
    if (!root || !cJSON_IsArray(eps) || cJSON_GetArraySize(eps) == 0) {
        rc = err_set(err, -EINVAL, "%s: not a traffic model (no 'endpoints' list)", name);
        goto out;
    }
    m->ep = xcalloc((size_t)cJSON_GetArraySize(eps), sizeof(*m->ep));
    const cJSON *it;
    double total = 0;
    cJSON_ArrayForEach(it, eps)
    {
        const char *what = "";
        rc = endpoint_from_json(it, &m->ep[m->nep++], &what);
        if (rc) {
            rc = err_set(err, rc, "%s: endpoints[%zu]: %s", name, m->nep - 1, what);
            goto out;
        }
        total += m->ep[m->nep - 1].weight;
    }
    if (!(total > 0)) {
        rc = err_set(err, -EINVAL, "%s: the endpoint weights add up to 0", name);
        goto out;
    }
    for (size_t i = 0; i < m->nep; i++)
        m->ep[i].weight /= total;
    rates_from_json(root, m);
out:
    if (rc)
        traffic_model_release(m);
    cJSON_Delete(root);
    return rc;
}

/* One CSV line of a rate curve: 1 or 2 fields (timestamp, value). */
static int curve_line(char *line, double *ts, double *v, int *nf)
{
    char *comma = strchr(line, ',');
    *nf = comma ? 2 : 1;
    if (comma) {
        *comma = '\0';
        if (strchr(comma + 1, ',') || str_to_double(line, ts) != 0)
            return -EINVAL;
        line = comma + 1;
    }
    return str_to_double(line, v) == 0 && isfinite(*v) && *v >= 0 ? 0 : -EINVAL;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

int traffic_curve_parse(const char *name, const char *text, size_t len, uint64_t default_step_ns,
                        double **values, size_t *n, uint64_t *step_ns, struct err *err)
{
    char *copy = xstrndup(text, len), *save = NULL;
    double *v = NULL, t0 = 0, prev = 0;
    size_t nv = 0;
    int rc = 0, fields = 0, lineno = 0;
    *step_ns = default_step_ns;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        char *l = trim(line);
        double ts = 0, val;
        int nf;
        if (!*l)
            continue;
        if (curve_line(l, &ts, &val, &nf) != 0) {
            if (nv == 0 && !fields && !isdigit((unsigned char)*l)) {
                fields = -1; /* a header line */
                continue;
            }
            rc = err_set(err, -EINVAL,
                         "%s:%d: expected `value` or `timestamp,value` with a rate "
                         "of requests per second >= 0",
                         name, lineno);
            goto out;
        }
        if (fields > 0 && nf != fields) {
            rc = err_set(err, -EINVAL, "%s:%d: %d field(s) here, %d above", name, lineno, nf,
                         fields);
            goto out;
        }
        fields = nf;
        if (nf == 2 && nv == 1) {
            if (!(ts > t0)) {
                rc = err_set(err, -EINVAL, "%s:%d: timestamps must increase", name, lineno);
                goto out;
            }
            *step_ns = (uint64_t)((ts - t0) * 1e9);
        } else if (nf == 2 && nv > 1 &&
                   fabs((ts - prev) * 1e9 - (double)*step_ns) > 0.01 * (double)*step_ns) {
            rc = err_set(err, -EINVAL, "%s:%d: timestamps must be evenly spaced (%.6g s apart)",
                         name, lineno, (double)*step_ns / 1e9);
            goto out;
        }
        t0 = nv == 0 ? ts : t0;
        prev = ts;
        v = xreallocarray(v, nv + 1, sizeof(*v));
        v[nv++] = val;
    }
    if (nv == 0 || *step_ns == 0)
        rc = err_set(err, -EINVAL, "%s: no rate values", name);
out:
    free(copy);
    if (rc) {
        free(v);
        v = NULL;
        nv = 0;
    }
    *values = v;
    *n = nv;
    return rc;
}

/* The generating source. Time t is in seconds from the start; rates are per second. */
struct source_model {
    struct replay_source base; /* first: the replayer sees only this */
    const struct traffic_model *m;
    uint64_t seed;
    struct rng rng;
    struct traffic_gen gen; /* curve owned */
    double *cum;            /* cumulative endpoint weights */
    double t;
    uint64_t seq;
    struct buf target;
};

static double uniform01(struct rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* The rate in the step holding t, its end (INFINITY for a fixed rate); -1 past the curve. */
static double rate_at(const struct source_model *s, double t, double *end)
{
    *end = INFINITY;
    if (s->gen.rate_per_s > 0)
        return s->gen.rate_per_s;
    double step = (double)s->gen.step_ns / 1e9;
    size_t k = (size_t)(t / step);
    *end = (double)(k + 1) * step;
    if (s->gen.curve)
        return k < s->gen.ncurve ? s->gen.curve[k] : -1;
    double r = s->m->hour_rate[k % 24];
    return r >= 0 ? r : s->m->mean_rate;
}

/* Advances t to the next arrival of the Poisson process; false when the curve is over. A
 * draw that crosses a step's end restarts there (the process is memoryless), so every step
 * runs at its own rate exactly. */
static bool next_arrival(struct source_model *s)
{
    for (;;) {
        double end, rate = rate_at(s, s->t, &end);
        if (rate < 0)
            return false;
        if (rate == 0) {
            s->t = end;
            continue;
        }
        double dt = -log(1.0 - uniform01(&s->rng)) / rate;
        if (s->t + dt < end) {
            s->t += dt;
            return true;
        }
        s->t = end;
    }
}

static void fill_placeholders(struct source_model *s, const char *path)
{
    static const char hexd[] = "0123456789abcdef";
    for (const char *p = path; *p; p++) {
        if (strncmp(p, "{id}", 4) == 0) {
            buf_printf(&s->target, "%u", 1 + rng_below32(&s->rng, 1000000));
            p += 3;
        } else if (strncmp(p, "{uuid}", 6) == 0 || strncmp(p, "{hex}", 5) == 0) {
            bool uuid = p[1] == 'u';
            for (int i = 0; i < (uuid ? 32 : 16); i++) {
                if (uuid && (i == 8 || i == 12 || i == 16 || i == 20))
                    buf_append(&s->target, "-", 1);
                buf_append(&s->target, &hexd[rng_below32(&s->rng, 16)], 1);
            }
            p += uuid ? 5 : 4;
        } else {
            buf_append(&s->target, p, 1);
        }
    }
}

static int model_next(struct replay_source *src, struct replay_req *out)
{
    struct source_model *s = (struct source_model *)src;
    if ((s->gen.max_requests && s->seq >= s->gen.max_requests) || !next_arrival(s))
        return 0;
    double u = uniform01(&s->rng);
    size_t lo = 0, hi = s->m->nep - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (u < s->cum[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    const struct traffic_endpoint *e = &s->m->ep[lo];
    buf_reset(&s->target);
    if (e->nexamples)
        buf_appends(&s->target, e->examples[rng_below32(&s->rng, (uint32_t)e->nexamples)]);
    else
        fill_placeholders(s, e->path);
    *out = (struct replay_req){.at_ns = (uint64_t)(s->t * 1e9),
                               .method = e->method,
                               .method_len = strlen(e->method),
                               .target = s->target.data,
                               .target_len = s->target.len,
                               .headers = e->headers,
                               .nheaders = e->nheaders,
                               .body = e->body,
                               .body_len = e->body_len,
                               .seq = s->seq++};
    return 1;
}

static int model_rewind(struct replay_source *src)
{
    struct source_model *s = (struct source_model *)src;
    rng_seed(&s->rng, s->seed);
    s->t = 0;
    s->seq = 0;
    return 0;
}

static void model_free(struct replay_source *src)
{
    struct source_model *s = (struct source_model *)src;
    free((double *)s->gen.curve);
    free(s->cum);
    buf_release(&s->target);
    free(s);
}

static const struct replay_source_ops model_ops = {
    .next = model_next,
    .rewind = model_rewind,
    .free = model_free,
};

static bool has_rate(const struct traffic_model *m, const struct traffic_gen *g)
{
    if (g->rate_per_s > 0 || (g->curve && g->ncurve && g->step_ns))
        return true;
    for (int h = 0; h < 24; h++)
        if (m->hour_rate[h] > 0)
            return true;
    return m->mean_rate > 0;
}

int replay_source_model_new(const struct traffic_model *m, uint64_t seed,
                            const struct traffic_gen *gen, struct replay_source **out,
                            struct err *err)
{
    if (m->nep == 0)
        return err_set(err, -EINVAL, "the traffic model has no endpoints");
    if (!has_rate(m, gen))
        return err_set(err, -EINVAL, "no arrival rate: the model has none, give a rate or a curve");
    struct source_model *s = xcalloc(1, sizeof(*s));
    s->base.ops = &model_ops;
    s->m = m;
    s->seed = seed;
    s->gen = *gen;
    if (gen->rate_per_s <= 0 && gen->curve) {
        double *c = xcalloc(gen->ncurve, sizeof(*c));
        memcpy(c, gen->curve, gen->ncurve * sizeof(*c));
        s->gen.curve = c;
    } else {
        s->gen.curve = NULL;
        if (gen->rate_per_s <= 0)
            s->gen.step_ns = 3600 * CLOCK_NS_PER_S;
    }
    s->cum = xcalloc(m->nep, sizeof(*s->cum));
    double acc = 0;
    for (size_t i = 0; i < m->nep; i++)
        s->cum[i] = acc += m->ep[i].weight;
    s->cum[m->nep - 1] = INFINITY; /* rounding can leave the sum just under 1 */
    buf_init(&s->target, 64 * 1024);
    model_rewind(&s->base);
    *out = &s->base;
    return 0;
}
