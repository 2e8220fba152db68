/* SPDX-License-Identifier: Apache-2.0 */
/*
 * capture_tap: per-worker queues and the writer thread that records exchanges (see
 * capture_tap.h). Each queue is a single-producer single-consumer ring of encoded records:
 * the worker owns the tail, the writer the head; both are atomics, nothing is locked. A
 * slot's buffer is reused record after record (the worker encodes straight into it, the
 * writer writes it from there), so a record costs no allocation and no copy once the ring
 * has gone round; the writer frees a buffer grown past TAP_SLOT_KEEP so a burst of large
 * records does not stay resident.
 */
#include "observer/capture_tap.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "replay/capture.h"
#include "replay/capture_writer.h"

#define TAP_HEAD_MAX (256 * 1024)
#define TAP_SLEEP_MIN_NS (1 * CLOCK_NS_PER_MS)
#define TAP_SLEEP_MAX_NS (20 * CLOCK_NS_PER_MS)
#define TAP_FLUSH_NS (100 * CLOCK_NS_PER_MS)
#define TAP_SLOT_KEEP (16 * 1024)

/* One worker's queue and the scratch it encodes with (touched by that worker only). */
struct tap_queue {
    _Alignas(64) atomic_size_t tail; /* written by the worker */
    _Alignas(64) atomic_size_t head; /* written by the writer thread */
    _Alignas(64) struct buf *slots;  /* [mask + 1] encoded records; slot i belongs to the
                                        worker until published, then to the writer */
    size_t mask;
    atomic_uint_fast64_t queued, dropped_full, dropped_large;
    struct buf head_text;
    struct http_header *hdrs; /* parsed from head_text */
    size_t hcap;
};

struct capture_tap {
    struct capture_tap_config cfg; /* path owned */
    struct tap_queue *q;           /* [nworkers] */
    struct capture_writer *w;      /* used by the writer thread only */
    pthread_t thread;
    bool started;
    atomic_bool stop;
    atomic_uint_fast64_t written, bytes, write_errors, files;
};

struct capture_tap *capture_tap_new(const struct capture_tap_config *cfg, struct err *err)
{
    struct capture_writer *w = NULL;
    if (capture_writer_new(cfg->path, cfg->max_file, &w, err) != 0)
        return NULL;
    struct capture_tap *t = xcalloc(1, sizeof(*t));
    t->cfg = *cfg;
    t->cfg.path = xstrdup(cfg->path);
    t->cfg.nworkers = cfg->nworkers ? cfg->nworkers : 1;
    t->w = w;
    size_t cap = 16;
    while (cap < cfg->queue)
        cap *= 2;
    t->q = aligned_alloc(64, sizeof(*t->q) * t->cfg.nworkers);
    BUG_ON(!t->q);
    memset(t->q, 0, sizeof(*t->q) * t->cfg.nworkers);
    for (unsigned i = 0; i < t->cfg.nworkers; i++) {
        t->q[i].slots = xcalloc(cap, sizeof(*t->q[i].slots));
        for (size_t j = 0; j < cap; j++)
            buf_init(&t->q[i].slots[j], CAPTURE_RECORD_MAX);
        t->q[i].mask = cap - 1;
        buf_init(&t->q[i].head_text, TAP_HEAD_MAX);
    }
    return t;
}

/* splitmix64's finalizer: ids are sequential per worker, their low bits are not random. */
static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static bool sampled(const struct capture_tap *t, const struct exchange *ex)
{
    return t->cfg.sample_percent >= 100 || mix(ex->id) % 100 < t->cfg.sample_percent;
}

static bool queue_full(const struct tap_queue *q)
{
    size_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    return tail - atomic_load_explicit(&q->head, memory_order_acquire) > q->mask;
}

/* The slot the next record is encoded into (free: the queue is not full). */
static struct buf *next_slot(struct tap_queue *q)
{
    return &q->slots[atomic_load_explicit(&q->tail, memory_order_relaxed) & q->mask];
}

static void publish(struct tap_queue *q)
{
    size_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
    atomic_fetch_add_explicit(&q->queued, 1, memory_order_relaxed);
}

/* The end of the line that starts at p (the CR of its CRLF), or NULL. */
static const char *line_end(const char *p, const char *end)
{
    const char *cr = memchr(p, '\r', (size_t)(end - p));
    return cr && cr + 1 < end && cr[1] == '\n' ? cr : NULL;
}

/* Headers the record does not keep: its body length is its own, and a replayed request is
 * no longer a mirrored copy. */
static bool skipped_header(const char *name, size_t len)
{
    return str_ieqz(name, len, "content-length") || str_ieqz(name, len, "x-doppel-shadow");
}

static int parse_field(struct tap_queue *q, size_t *n, const char *p, const char *eol)
{
    const char *colon = memchr(p, ':', (size_t)(eol - p));
    if (!colon || colon == p)
        return -EBADMSG;
    const char *v = colon + 1, *ve = eol;
    while (v < ve && (*v == ' ' || *v == '\t'))
        v++;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;
    if (skipped_header(p, (size_t)(colon - p)))
        return 0;
    if (*n == q->hcap) {
        q->hcap = q->hcap ? 2 * q->hcap : 32;
        q->hdrs = xreallocarray(q->hdrs, q->hcap, sizeof(*q->hdrs));
    }
    q->hdrs[(*n)++] = (struct http_header){p, (size_t)(colon - p), v, (size_t)(ve - v)};
    return *n > CAPTURE_HEADERS_MAX ? -ENOSPC : 0;
}

/* Splits the head text the mirror sent (or would send) into the record's request fields. */
static int parse_head(struct tap_queue *q, const struct buf *text, struct capture_record *r)
{
    const char *p = text->data, *end = p + text->len;
    const char *eol = line_end(p, end);
    const char *sp1 = eol ? memchr(p, ' ', (size_t)(eol - p)) : NULL;
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (!sp2)
        return -EBADMSG;
    r->method = p;
    r->method_len = (size_t)(sp1 - p);
    r->target = sp1 + 1;
    r->target_len = (size_t)(sp2 - sp1 - 1);
    size_t n = 0;
    for (p = eol + 2; (eol = line_end(p, end)) != NULL && eol != p; p = eol + 2) {
        int rc = parse_field(q, &n, p, eol);
        if (rc)
            return rc;
    }
    r->headers = q->hdrs;
    r->nheaders = n;
    return eol ? 0 : -EBADMSG;
}

static void fill_resp(struct capture_resp *out, const struct http_head *head,
                      const struct buf *body, bool truncated)
{
    out->present = true;
    out->headers = head->headers;
    out->nheaders = head->nheaders;
    out->body = body->data;
    out->body_len = body->len;
    out->body_truncated = truncated;
}

/* The record's request fields from the head the mirror kept on the exchange, or, when it
 * sent no copy, from the head built here the same way. */
static int request_head(struct capture_tap *t, struct tap_queue *q, struct exchange *ex,
                        struct capture_record *r)
{
    if (!ex->route)
        return -EINVAL;
    if (ex->copy_head.len)
        return parse_head(q, &ex->copy_head, r);
    buf_reset(&q->head_text);
    int rc = t->cfg.head(ex, &q->head_text);
    return rc ? rc : parse_head(q, &q->head_text, r);
}

/* Encodes r's request part from ex (unless with_request is false: a shadow record, whose
 * request is in its primary record) plus the response the caller filled, and queues it. */
static void submit(struct capture_tap *t, struct exchange *ex, struct capture_record *r,
                   bool with_request)
{
    struct tap_queue *q = &t->q[ex->worker % t->cfg.nworkers];
    if (queue_full(q)) {
        atomic_fetch_add_explicit(&q->dropped_full, 1, memory_order_relaxed);
        return;
    }
    struct buf *slot = next_slot(q);
    buf_reset(slot);
    uint64_t now_mono = clock_mono_ns();
    r->ts_ns = clock_wall_ns() - (now_mono > ex->t_start ? now_mono - ex->t_start : 0);
    r->id = ex->id;
    if (with_request) {
        r->body = ex->req_body.data;
        r->body_len = ex->req_body.len;
        r->body_truncated = ex->req_body_truncated;
    }
    if ((with_request && request_head(t, q, ex, r) != 0) || capture_encode_payload(r, slot) != 0) {
        atomic_fetch_add_explicit(&q->dropped_large, 1, memory_order_relaxed);
        return;
    }
    publish(q);
}

void capture_tap_exchange_done(struct exchange *ex, void *ctx)
{
    struct capture_tap *t = ctx;
    if (!sampled(t, ex))
        return;
    struct capture_record r = {0};
    fill_resp(&r.primary, &ex->resp, &ex->resp_body, ex->resp_body_truncated);
    r.primary.status = ex->status;
    r.primary.error = ex->error;
    r.primary.latency_ns = ex->t_done > ex->t_start ? ex->t_done - ex->t_start : 0;
    r.primary.pool = "primary";
    r.primary.pool_len = 7;
    submit(t, ex, &r, true);
}

void capture_tap_shadow_done(struct exchange *ex, const struct shadow_result *res, void *ctx)
{
    struct capture_tap *t = ctx;
    if (!sampled(t, ex))
        return;
    struct capture_record r = {0};
    fill_resp(&r.shadow, &res->head, &res->body, res->body.max && res->body.len >= res->body.max);
    r.shadow.status = res->status;
    r.shadow.error = res->error;
    r.shadow.latency_ns = res->latency_ns;
    r.shadow.pool = res->pool && res->pool->name ? res->pool->name : "";
    r.shadow.pool_len = strlen(r.shadow.pool);
    r.answer_only = true;
    submit(t, ex, &r, false);
}

/* Writes what the queues hold now; returns how many records it took. */
static size_t drain(struct capture_tap *t)
{
    size_t n = 0;
    for (unsigned i = 0; i < t->cfg.nworkers; i++) {
        struct tap_queue *q = &t->q[i];
        size_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
        size_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
        for (; head != tail; head++, n++) {
            struct buf *it = &q->slots[head & q->mask];
            capture_writer_write(t->w, clock_wall_ns(), it->data, it->len);
            if (it->cap > TAP_SLOT_KEEP)
                buf_release(it);
            atomic_store_explicit(&q->head, head + 1, memory_order_release);
        }
    }
    struct capture_writer_stats st;
    capture_writer_stats(t->w, &st);
    atomic_store_explicit(&t->written, st.records, memory_order_relaxed);
    atomic_store_explicit(&t->bytes, st.bytes, memory_order_relaxed);
    atomic_store_explicit(&t->write_errors, st.errors, memory_order_relaxed);
    atomic_store_explicit(&t->files, st.files, memory_order_relaxed);
    return n;
}

/* How long the writer sleeps when the queues are empty: longer while little arrives (each
 * wake-up costs a context switch, most of the writer's CPU at a few thousand requests/s),
 * shorter when a wake-up finds an eighth of a queue's worth, so no queue fills while it
 * sleeps (at the longest sleep, a queue of 4096 holds 200,000 records/s). */
static uint64_t next_sleep(const struct capture_tap *t, uint64_t sleep_ns, size_t taken)
{
    size_t cap = t->q[0].mask + 1;
    if (taken > cap / 8)
        sleep_ns /= 2;
    else if (taken < cap / 32)
        sleep_ns *= 2;
    if (sleep_ns < TAP_SLEEP_MIN_NS)
        return TAP_SLEEP_MIN_NS;
    return sleep_ns > TAP_SLEEP_MAX_NS ? TAP_SLEEP_MAX_NS : sleep_ns;
}

static void *writer_main(void *arg)
{
    struct capture_tap *t = arg;
    pthread_setname_np(pthread_self(), "doppel-capture");
    uint64_t sleep_ns = TAP_SLEEP_MIN_NS, last_flush = clock_mono_ns();
    for (;;) {
        bool stop = atomic_load(&t->stop);
        size_t taken = 0, n;
        while ((n = drain(t)) > 0)
            taken += n;
        /* the file gets what is buffered at least every TAP_FLUSH_NS (and whenever the
         * buffer fills): one write per wake-up would cost more than the records */
        uint64_t now = clock_mono_ns();
        if (stop || now - last_flush >= TAP_FLUSH_NS) {
            capture_writer_flush(t->w);
            last_flush = now;
        }
        if (stop)
            break;
        sleep_ns = next_sleep(t, sleep_ns, taken);
        struct timespec ts = {0, (long)sleep_ns}; /* below a second */
        nanosleep(&ts, NULL);
    }
    return NULL;
}

int capture_tap_start(struct capture_tap *t)
{
    int rc = -pthread_create(&t->thread, NULL, writer_main, t);
    t->started = rc == 0;
    return rc;
}

void capture_tap_stats(struct capture_tap *t, struct capture_tap_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (unsigned i = 0; i < t->cfg.nworkers; i++) {
        out->queued += atomic_load_explicit(&t->q[i].queued, memory_order_relaxed);
        out->dropped += atomic_load_explicit(&t->q[i].dropped_full, memory_order_relaxed) +
                        atomic_load_explicit(&t->q[i].dropped_large, memory_order_relaxed);
    }
    out->written = atomic_load_explicit(&t->written, memory_order_relaxed);
    out->bytes = atomic_load_explicit(&t->bytes, memory_order_relaxed);
    out->write_errors = atomic_load_explicit(&t->write_errors, memory_order_relaxed);
    out->files = atomic_load_explicit(&t->files, memory_order_relaxed);
}

int capture_tap_write_metrics(void *ctx, struct buf *out)
{
    struct capture_tap *t = ctx;
    uint64_t full = 0, large = 0;
    for (unsigned i = 0; i < t->cfg.nworkers; i++) {
        full += atomic_load_explicit(&t->q[i].dropped_full, memory_order_relaxed);
        large += atomic_load_explicit(&t->q[i].dropped_large, memory_order_relaxed);
    }
    struct capture_tap_stats st;
    capture_tap_stats(t, &st);
    return buf_printf(out,
                      "# HELP doppel_capture_records_total Records written to capture files.\n"
                      "# TYPE doppel_capture_records_total counter\n"
                      "doppel_capture_records_total %llu\n"
                      "# HELP doppel_capture_bytes_total Bytes written to capture files.\n"
                      "# TYPE doppel_capture_bytes_total counter\n"
                      "doppel_capture_bytes_total %llu\n"
                      "# HELP doppel_capture_dropped_total Records not captured, by reason.\n"
                      "# TYPE doppel_capture_dropped_total counter\n"
                      "doppel_capture_dropped_total{reason=\"queue_full\"} %llu\n"
                      "doppel_capture_dropped_total{reason=\"too_large\"} %llu\n"
                      "# HELP doppel_capture_write_errors_total Records lost to write errors.\n"
                      "# TYPE doppel_capture_write_errors_total counter\n"
                      "doppel_capture_write_errors_total %llu\n"
                      "# HELP doppel_capture_files_total Capture files opened.\n"
                      "# TYPE doppel_capture_files_total counter\n"
                      "doppel_capture_files_total %llu\n",
                      (unsigned long long)st.written, (unsigned long long)st.bytes,
                      (unsigned long long)full, (unsigned long long)large,
                      (unsigned long long)st.write_errors, (unsigned long long)st.files);
}

void capture_tap_free(struct capture_tap *t)
{
    if (!t)
        return;
    atomic_store(&t->stop, true);
    if (t->started)
        pthread_join(t->thread, NULL);
    else
        drain(t);
    for (unsigned i = 0; i < t->cfg.nworkers; i++) {
        for (size_t j = 0; j <= t->q[i].mask; j++)
            buf_release(&t->q[i].slots[j]);
        free(t->q[i].slots);
        free(t->q[i].hdrs);
        buf_release(&t->q[i].head_text);
    }
    free(t->q);
    capture_writer_free(t->w);
    free((char *)t->cfg.path);
    free(t);
}
