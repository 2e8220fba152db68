/* SPDX-License-Identifier: Apache-2.0 */
/*
 * capture_tap: per-worker queues and the writer thread that records exchanges (see
 * capture_tap.h). Each queue is a single-producer single-consumer ring of encoded records:
 * the worker owns the tail, the writer the head; both are atomics, nothing is locked. The
 * worker encodes a record straight into a buffer and puts the buffer in the ring; the
 * writer writes it from there. Once the writer has passed a slot, the worker queues its
 * buffer as free and reuses free buffers oldest first, making a new one only when none is
 * free. So the buffers that exist are about as many as records arrive between two of the
 * writer's wake-ups (a few hundred, a few hundred KiB that stay in cache), where a buffer
 * per slot would touch a new stretch of memory with every record (4,096 slots, a few MiB)
 * and push the worker's own data out of the cache (measured in bench/replay/capture.sh:
 * capture cost the gateway 2-4 us per request that way, about 1 us this way). Oldest
 * first, not the one freed last: the writer has just read that one on its own core, and
 * writing it again at once moves its lines back. A record costs no allocation and no copy
 * once the buffers exist; the writer frees a buffer grown past TAP_BUF_KEEP so a burst of
 * large records does not stay resident.
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
#define TAP_BUF_KEEP (16 * 1024)
#define TAP_HEAD_STEP 64

/* One worker's queue and the scratch it encodes with. Each cache line has one writer: the
 * worker's (tail, its view of head, its free buffers, its counters, its scratch), the
 * writer thread's (head) and one nobody writes after creation (the ring's address), so a
 * record moves no line between cores but its buffer's and the two indexes'. */
struct tap_queue {
    _Alignas(64) atomic_size_t tail; /* written by the worker: records published so far */
    size_t head_seen;                /* the worker's last read of head */
    size_t reclaimed;                /* slots below this have their buffers on free */
    struct buf **free;               /* [mask + 1], a queue: nfree from index ffirst on */
    size_t ffirst, nfree;
    atomic_uint_fast64_t nbufs; /* buffers made, at most the ring's size (worker-written) */
    /* written by the worker only (a load and a store, no locked add); read for metrics */
    atomic_uint_fast64_t dropped_full, dropped_large;
    struct buf head_text;
    struct http_header *hdrs; /* parsed from head_text */
    size_t hcap;
    _Alignas(64) atomic_size_t head; /* written by the writer thread */
    _Alignas(64) struct buf **ring;  /* [mask + 1]: slot i's record, the worker's until
                                        published, then the writer's until head passes it */
    size_t mask;
};

struct capture_tap {
    struct capture_tap_config cfg; /* path owned */
    struct tap_queue *q;           /* [nworkers] */
    struct capture_writer *w;      /* used by the writer thread only */
    pthread_t thread;
    bool started;
    atomic_bool stop;
    /* wall clock minus monotonic clock, refreshed by the writer thread at every wake-up: a
     * record's wall time is its exchange's monotonic start plus this, no clock read on the
     * worker (a clock step shows in records from the next wake-up, within TAP_SLEEP_MAX_NS) */
    _Atomic int64_t wall_offset;
    atomic_uint_fast64_t written, bytes, write_errors, files;
};

static void refresh_offset(struct capture_tap *t)
{
    int64_t off = (int64_t)(clock_wall_ns() - clock_mono_ns());
    atomic_store_explicit(&t->wall_offset, off, memory_order_relaxed);
}

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
    refresh_offset(t);
    size_t cap = 16;
    while (cap < cfg->queue)
        cap *= 2;
    t->q = aligned_alloc(64, sizeof(*t->q) * t->cfg.nworkers);
    BUG_ON(!t->q);
    memset(t->q, 0, sizeof(*t->q) * t->cfg.nworkers);
    for (unsigned i = 0; i < t->cfg.nworkers; i++) {
        t->q[i].ring = xcalloc(cap, sizeof(*t->q[i].ring));
        t->q[i].free = xcalloc(cap, sizeof(*t->q[i].free));
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

/* Reads head only when the last value read says the queue is full. */
static bool queue_full(struct tap_queue *q)
{
    size_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    if (tail - q->head_seen <= q->mask)
        return false;
    q->head_seen = atomic_load_explicit(&q->head, memory_order_acquire);
    return tail - q->head_seen > q->mask;
}

static void count(atomic_uint_fast64_t *c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* Queues the buffers of the slots the writer has passed as free, in the order written. */
static void reclaim(struct tap_queue *q)
{
    q->head_seen = atomic_load_explicit(&q->head, memory_order_acquire);
    for (; q->reclaimed != q->head_seen; q->reclaimed++)
        q->free[(q->ffirst + q->nfree++) & q->mask] = q->ring[q->reclaimed & q->mask];
}

/* A buffer for the next record (the queue is not full): the one freed longest ago. */
static struct buf *take_buf(struct tap_queue *q)
{
    if (q->nfree == 0)
        reclaim(q);
    if (q->nfree > 0) {
        q->nfree--;
        return q->free[q->ffirst++ & q->mask];
    }
    struct buf *b = xmalloc(sizeof(*b)); /* all nbufs are in the ring: nbufs <= its size */
    buf_init(b, CAPTURE_RECORD_MAX);
    count(&q->nbufs);
    return b;
}

static void publish(struct tap_queue *q, struct buf *b)
{
    size_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    q->ring[tail & q->mask] = b;
    atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
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
    return (len == 14 && str_ieq(name, len, "content-length", 14)) ||
           (len == 15 && str_ieq(name, len, "x-doppel-shadow", 15));
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
        count(&q->dropped_full);
        return;
    }
    r->ts_ns = ex->t_start + (uint64_t)atomic_load_explicit(&t->wall_offset, memory_order_relaxed);
    r->id = ex->id;
    if (with_request) {
        r->body = ex->req_body.data;
        r->body_len = ex->req_body.len;
        r->body_truncated = ex->req_body_truncated;
        if (request_head(t, q, ex, r) != 0) {
            count(&q->dropped_large);
            return;
        }
    }
    struct buf *b = take_buf(q);
    buf_reset(b);
    if (capture_encode_payload(r, b) != 0) {
        q->free[(q->ffirst + q->nfree++) & q->mask] = b; /* unused: free again */
        count(&q->dropped_large);
        return;
    }
    publish(q, b);
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
    uint64_t now = clock_wall_ns();
    for (unsigned i = 0; i < t->cfg.nworkers; i++) {
        struct tap_queue *q = &t->q[i];
        size_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
        size_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
        /* head moves every TAP_HEAD_STEP records, not every record: each store sends
         * the line to the worker */
        for (; head != tail; n++) {
            struct buf *it = q->ring[head & q->mask];
            capture_writer_write(t->w, now, it->data, it->len);
            if (it->cap > TAP_BUF_KEEP)
                buf_release(it);
            if (++head % TAP_HEAD_STEP == 0 || head == tail)
                atomic_store_explicit(&q->head, head, memory_order_release);
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
        refresh_offset(t);
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
        out->queued += atomic_load_explicit(&t->q[i].tail, memory_order_relaxed);
        out->buffers += atomic_load_explicit(&t->q[i].nbufs, memory_order_relaxed);
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
    drain(t); /* what came after the writer's last pass, or everything if it never ran */
    for (unsigned i = 0; i < t->cfg.nworkers; i++) {
        struct tap_queue *q = &t->q[i];
        reclaim(q); /* everything is written: head == tail, every buffer is free */
        BUG_ON(q->nfree != atomic_load(&q->nbufs));
        for (size_t j = 0; j < q->nfree; j++) {
            buf_release(q->free[(q->ffirst + j) & q->mask]);
            free(q->free[(q->ffirst + j) & q->mask]);
        }
        free(q->free);
        free(q->ring);
        free(q->hdrs);
        buf_release(&q->head_text);
    }
    free(t->q);
    capture_writer_free(t->w);
    free((char *)t->cfg.path);
    free(t);
}
