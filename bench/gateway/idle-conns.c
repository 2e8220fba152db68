/* SPDX-License-Identifier: Apache-2.0 */
/*
 * idle-conns: the client side of bench/gateway/memory.sh. It opens many keep-alive
 * connections to a gateway on 127.0.0.1, sends a few GET requests on each (one after the
 * other, waiting for every response), and then holds the connections open and idle, so the
 * gateway's resident memory can be read with a known number of connections or of mirrored
 * requests behind it. One libuv loop; connects are paced (at most --burst at once) so the
 * listen backlog never overflows.
 *
 *   idle-conns --port P --conns N [--requests K] [--path /] [--burst 256] [--hold SECS]
 *
 * Prints "ready conns=N ok=A failed=B responses=R" once every connection has finished its
 * requests (or failed), then holds until SIGTERM/SIGINT or --hold seconds pass.
 * Built by memory.sh: cc -O2 idle-conns.c $(pkg-config --cflags --libs libuv) -lhttp_parser
 */
#include <errno.h>
#include <getopt.h>
#include <http_parser.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

struct client {
    uv_loop_t *loop;
    struct sockaddr_in addr;
    int conns, requests, burst;
    double hold_s;
    char request[512];
    int started, connecting, done, ok, failed;
    int failed_connect, failed_read, failed_parse; /* the failures by kind */
    int first_error;
    long responses;
    struct conn *all;
    uv_signal_t sigterm, sigint;
    uv_timer_t hold;
    bool reported;
    char slab[65536];
};

struct conn {
    struct client *cl;
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    http_parser parser;
    int answered;
    bool finished, open;
};

static void start_more(struct client *cl);
static void hold_cb(uv_timer_t *t);

static void report(struct client *cl)
{
    if (cl->reported || cl->done < cl->conns)
        return;
    cl->reported = true;
    printf("ready conns=%d ok=%d failed=%d responses=%ld (connect %d, read %d, parse %d%s%s)\n",
           cl->conns, cl->ok, cl->failed, cl->responses, cl->failed_connect, cl->failed_read,
           cl->failed_parse, cl->first_error ? "; first error: " : "",
           cl->first_error ? uv_strerror(cl->first_error) : "");
    fflush(stdout);
    if (cl->hold_s > 0)
        uv_timer_start(&cl->hold, hold_cb, (uint64_t)(cl->hold_s * 1000), 0);
}

static void conn_finish(struct conn *c, bool ok)
{
    if (c->finished)
        return;
    c->finished = true;
    c->cl->done++;
    if (ok)
        c->cl->ok++;
    else
        c->cl->failed++;
    report(c->cl);
}

static void send_request(struct conn *c);

static int on_message_complete(http_parser *p)
{
    struct conn *c = p->data;
    c->cl->responses++;
    if (++c->answered < c->cl->requests)
        send_request(c);
    else
        conn_finish(c, true);
    return 0;
}

static const http_parser_settings settings = {.on_message_complete = on_message_complete};

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct conn *c = h->data;
    (void)suggested;
    *b = uv_buf_init(c->cl->slab, sizeof(c->cl->slab)); /* one thread: one read buffer */
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct conn *c = s->data;
    if (n < 0) {
        uv_read_stop(s);
        if (!c->finished) {
            c->cl->failed_read++;
            c->cl->first_error = c->cl->first_error ? c->cl->first_error : (int)n;
        }
        conn_finish(c, false);
        return;
    }
    size_t used = http_parser_execute(&c->parser, &settings, b->base, (size_t)n);
    if (used != (size_t)n && HTTP_PARSER_ERRNO(&c->parser) != HPE_OK) {
        uv_read_stop(s);
        c->cl->failed_parse += !c->finished;
        conn_finish(c, false);
    }
}

static void write_cb(uv_write_t *w, int status)
{
    if (status < 0)
        conn_finish(w->data, false);
}

static void send_request(struct conn *c)
{
    uv_buf_t b = uv_buf_init(c->cl->request, (unsigned)strlen(c->cl->request));
    c->write.data = c;
    if (uv_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, write_cb) != 0)
        conn_finish(c, false);
}

static void connect_cb(uv_connect_t *req, int status)
{
    struct conn *c = req->data;
    c->cl->connecting--;
    if (status < 0) {
        c->cl->failed_connect++;
        c->cl->first_error = c->cl->first_error ? c->cl->first_error : status;
        conn_finish(c, false);
    } else if (c->cl->requests == 0) {
        conn_finish(c, true);
    } else {
        uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
        send_request(c);
    }
    start_more(c->cl);
}

static void start_more(struct client *cl)
{
    while (cl->started < cl->conns && cl->connecting < cl->burst) {
        struct conn *c = &cl->all[cl->started++];
        c->cl = cl;
        c->tcp.data = c->connect.data = c;
        http_parser_init(&c->parser, HTTP_RESPONSE);
        c->parser.data = c;
        uv_tcp_init(cl->loop, &c->tcp);
        c->open = true;
        cl->connecting++;
        if (uv_tcp_connect(&c->connect, &c->tcp, (struct sockaddr *)&cl->addr, connect_cb)) {
            cl->connecting--;
            conn_finish(c, false);
        }
    }
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void stop_cb(uv_signal_t *s, int signum)
{
    (void)signum;
    uv_walk(s->loop, close_walk, NULL);
}

/* --hold counts from the moment every connection is ready. */
static void hold_cb(uv_timer_t *t)
{
    uv_walk(t->loop, close_walk, NULL);
}

static int parse_args(struct client *cl, int argc, char **argv, int *port, const char **path)
{
    static const struct option opts[] = {
        {"port", 1, 0, 'p'}, {"conns", 1, 0, 'n'}, {"requests", 1, 0, 'k'},
        {"path", 1, 0, 'u'}, {"burst", 1, 0, 'b'}, {"hold", 1, 0, 'H'},
        {0, 0, 0, 0}};
    int ch;
    char *end;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        errno = 0;
        double v = ch == 'u' ? 0 : strtod(optarg, &end);
        if (ch != 'u' && (errno || *end || v < 0)) {
            fprintf(stderr, "idle-conns: bad value '%s'\n", optarg);
            return 2;
        }
        switch (ch) {
        case 'p':
            *port = (int)v;
            break;
        case 'n':
            cl->conns = (int)v;
            break;
        case 'k':
            cl->requests = (int)v;
            break;
        case 'u':
            *path = optarg;
            break;
        case 'b':
            cl->burst = v >= 1 ? (int)v : 1;
            break;
        case 'H':
            cl->hold_s = v;
            break;
        default:
            return 2;
        }
    }
    return *port > 0 && *port < 65536 && cl->conns > 0 ? 0 : 2;
}

int main(int argc, char **argv)
{
    static struct client cl = {.conns = 0, .requests = 1, .burst = 256};
    int port = 0;
    const char *path = "/";
    if (parse_args(&cl, argc, argv, &port, &path) != 0) {
        fprintf(stderr, "usage: idle-conns --port P --conns N [--requests K] [--path /]"
                        " [--burst 256] [--hold SECS]\n");
        return 2;
    }
    snprintf(cl.request, sizeof(cl.request), "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", path,
             port);
    cl.loop = uv_default_loop();
    uv_ip4_addr("127.0.0.1", port, &cl.addr);
    cl.all = calloc((size_t)cl.conns, sizeof(*cl.all));
    if (!cl.all)
        return 1;
    uv_signal_init(cl.loop, &cl.sigterm);
    uv_signal_init(cl.loop, &cl.sigint);
    uv_signal_start(&cl.sigterm, stop_cb, SIGTERM);
    uv_signal_start(&cl.sigint, stop_cb, SIGINT);
    uv_timer_init(cl.loop, &cl.hold);
    cl.hold.data = &cl;
    start_more(&cl);
    uv_run(cl.loop, UV_RUN_DEFAULT);
    uv_loop_close(cl.loop);
    free(cl.all);
    return 0;
}
