/* SPDX-License-Identifier: Apache-2.0 */
/*
 * capserver: an HTTP/1.1 server with a known capacity, for the replay and stress tests.
 * It sits outside the pipeline (tests/lib/cmd, built as build/tests/capserver) and owns
 * one libuv loop, its listening socket, its connections and one FIFO of requests served
 * by a single simulated worker: each request takes --service-us of the worker's time,
 * in arrival order across all connections, so the server completes at most
 * 1e6 / service-us requests per second and a queue builds beyond that (a D/D/1 queue for
 * evenly spaced arrivals). The worker's clock is exact (completion k = max(arrival k,
 * completion k-1) + service); responses leave when a 1 ms timer finds them due.
 * --stall-after N --stall-ms M makes request N (1-based) take M ms more: every request
 * behind it waits, as behind a garbage-collection pause.
 *
 * Output: "port <N>" on the first line of stdout; at exit "served <N>" on stderr.
 * SIGTERM/SIGINT (or --lifetime) exit 0 after closing everything.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/list.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "http/reader.h"
#include "net/stream.h"

struct capserver {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_timer_t worker, lifetime;
    uv_signal_t sigterm, sigint;
    struct list conns, jobs; /* jobs in completion order */
    uint64_t service_ns, stall_ns, stall_after;
    uint64_t busy_until, arrived, served;
    bool stopping;
};

struct cconn {
    struct list node;
    struct capserver *cs;
    uv_tcp_t tcp;
    struct http_reader reader;
    int refs; /* the socket plus queued jobs */
    bool keep_alive, closing;
};

struct job {
    struct list node;
    struct cconn *c; /* ref held */
    uint64_t done_ns;
    bool keep_alive;
};

static struct capserver cs;
static char rbuf[65536];

static void conn_unref(struct cconn *c)
{
    if (--c->refs > 0)
        return;
    http_reader_release(&c->reader);
    free(c);
}

static void closed_cb(uv_handle_t *h)
{
    conn_unref(h->data);
}

static void conn_close(struct cconn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    list_remove(&c->node);
    uv_close((uv_handle_t *)&c->tcp, closed_cb);
}

static void worker_cb(uv_timer_t *t);

static void arm_worker(void)
{
    if (list_empty(&cs.jobs))
        return;
    struct job *j = list_entry(cs.jobs.next, struct job, node);
    uint64_t now = uv_hrtime();
    uint64_t ms = j->done_ns > now ? (j->done_ns - now + 999999) / 1000000 : 0;
    uv_update_time(cs.loop);
    uv_timer_start(&cs.worker, worker_cb, ms, 0);
}

static void worker_cb(uv_timer_t *t)
{
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n";
    static const char resp_close[] =
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";
    uint64_t now = uv_hrtime();
    (void)t;
    while (!list_empty(&cs.jobs)) {
        struct job *j = list_entry(cs.jobs.next, struct job, node);
        if (j->done_ns > now)
            break;
        list_remove(&j->node);
        cs.served++;
        if (!j->c->closing) {
            const char *r = j->keep_alive ? resp : resp_close;
            size_t n = j->keep_alive ? sizeof(resp) - 1 : sizeof(resp_close) - 1;
            if (net_write((uv_stream_t *)&j->c->tcp, r, n, NULL, NULL) < 0 || !j->keep_alive)
                conn_close(j->c);
        }
        conn_unref(j->c);
        free(j);
    }
    arm_worker();
}

static void enqueue(struct cconn *c)
{
    struct job *j = xcalloc(1, sizeof(*j));
    uint64_t now = uv_hrtime(), start = cs.busy_until > now ? cs.busy_until : now;
    cs.arrived++;
    j->c = c;
    c->refs++;
    j->keep_alive = c->keep_alive;
    j->done_ns = start + cs.service_ns + (cs.arrived == cs.stall_after ? cs.stall_ns : 0);
    cs.busy_until = j->done_ns;
    bool was_empty = list_empty(&cs.jobs);
    list_insert_tail(&cs.jobs, &j->node);
    if (was_empty)
        arm_worker();
}

static int on_head(void *ctx, struct http_head *h)
{
    struct cconn *c = ctx;
    c->keep_alive = (h->flags & HTTP_HEAD_KEEP_ALIVE) != 0;
    http_head_release(h);
    return 0;
}

static int on_body(void *ctx, const char *d, size_t n)
{
    (void)ctx, (void)d, (void)n;
    return 0;
}

static int on_complete(void *ctx)
{
    enqueue(ctx);
    return 0;
}

static const struct http_reader_cbs cbs = {on_head, on_body, on_complete};

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)h, (void)hint;
    *b = uv_buf_init(rbuf, sizeof(rbuf));
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct cconn *c = s->data;
    size_t off = 0;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    while (off < (size_t)nread && !c->closing) {
        if (http_reader_paused(&c->reader))
            http_reader_resume(&c->reader);
        ssize_t n = http_reader_feed(&c->reader, b->base + off, (size_t)nread - off);
        if (n < 0) {
            conn_close(c);
            return;
        }
        if (n == 0 && !http_reader_paused(&c->reader))
            break;
        off += (size_t)n;
    }
}

static void accept_cb(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    struct cconn *c = xcalloc(1, sizeof(*c));
    c->refs = 1;
    uv_tcp_init(cs.loop, &c->tcp);
    c->tcp.data = c;
    http_reader_init(&c->reader, HTTP_READER_REQUEST, 64 * 1024, &cbs, c);
    list_insert_tail(&cs.conns, &c->node);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) != 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
}

static void stop(void)
{
    if (cs.stopping)
        return;
    cs.stopping = true;
    while (!list_empty(&cs.jobs)) {
        struct job *j = list_entry(cs.jobs.next, struct job, node);
        list_remove(&j->node);
        conn_unref(j->c);
        free(j);
    }
    while (!list_empty(&cs.conns))
        conn_close(list_entry(cs.conns.next, struct cconn, node));
    uv_close((uv_handle_t *)&cs.listener, NULL);
    uv_close((uv_handle_t *)&cs.worker, NULL);
    uv_close((uv_handle_t *)&cs.lifetime, NULL);
    uv_close((uv_handle_t *)&cs.sigterm, NULL);
    uv_close((uv_handle_t *)&cs.sigint, NULL);
}

static void signal_cb(uv_signal_t *s, int signum)
{
    (void)s, (void)signum;
    stop();
}

static void lifetime_cb(uv_timer_t *t)
{
    (void)t;
    stop();
}

static int usage(void)
{
    fprintf(stderr, "usage: capserver [--port N] [--service-us N] [--stall-after N "
                    "--stall-ms N] [--lifetime DURATION]\n");
    return 2;
}

static int parse(int argc, char **argv, int *port, uint64_t *lifetime_ns)
{
    static const struct option opts[] = {
        {"port", 1, 0, 'p'},     {"service-us", 1, 0, 's'}, {"stall-after", 1, 0, 'a'},
        {"stall-ms", 1, 0, 'm'}, {"lifetime", 1, 0, 'l'},   {0, 0, 0, 0},
    };
    int opt;
    uint64_t v;
    cs.service_ns = 1000000;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        const char *a = optarg;
        if (opt == 'l') {
            if (str_to_duration_ns(a, lifetime_ns))
                return usage();
            continue;
        }
        if (opt == '?' || str_to_u64(a, &v))
            return usage();
        if (opt == 'p')
            *port = (int)v;
        else if (opt == 's')
            cs.service_ns = v * 1000;
        else if (opt == 'a')
            cs.stall_after = v;
        else if (opt == 'm')
            cs.stall_ns = v * 1000000;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int port = 0;
    uint64_t lifetime_ns = 120000000000ULL;
    struct sockaddr_in sa;
    struct sockaddr_storage bound;
    int len = sizeof(bound);
    signal(SIGPIPE, SIG_IGN);
    if (parse(argc, argv, &port, &lifetime_ns))
        return 2;
    cs.loop = uv_default_loop();
    list_init(&cs.conns);
    list_init(&cs.jobs);
    uv_tcp_init(cs.loop, &cs.listener);
    uv_ip4_addr("127.0.0.1", port, &sa);
    if (uv_tcp_bind(&cs.listener, (struct sockaddr *)&sa, 0) ||
        uv_listen((uv_stream_t *)&cs.listener, 1024, accept_cb) ||
        uv_tcp_getsockname(&cs.listener, (struct sockaddr *)&bound, &len)) {
        fprintf(stderr, "capserver: cannot listen on port %d\n", port);
        return 1;
    }
    printf("port %d\n", ntohs(((struct sockaddr_in *)&bound)->sin_port));
    fflush(stdout);
    uv_timer_init(cs.loop, &cs.worker);
    uv_timer_init(cs.loop, &cs.lifetime);
    uv_timer_start(&cs.lifetime, lifetime_cb, lifetime_ns / 1000000, 0);
    uv_signal_init(cs.loop, &cs.sigterm);
    uv_signal_init(cs.loop, &cs.sigint);
    uv_signal_start(&cs.sigterm, signal_cb, SIGTERM);
    uv_signal_start(&cs.sigint, signal_cb, SIGINT);
    uv_run(cs.loop, UV_RUN_DEFAULT);
    fprintf(stderr, "served %llu\n", (unsigned long long)cs.served);
    return uv_loop_close(cs.loop) == 0 ? 0 : 1;
}
