/* SPDX-License-Identifier: Apache-2.0 */
/*
 * demo-app: the small service `make demo` puts behind doppel, once as the production
 * version (v1) and once as the proposed change (v2) in the shadow. It is example code, kept
 * plain on purpose: one libuv loop, http-parser for requests, one timer per connection for
 * the simulated service time, so thousands of slow requests overlap without a thread.
 *
 *   GET  /                 {"service":"demo","version":"v1"}
 *   GET  /api/items/{id}   v1: {"id":7,"name":"item-7","price":3.59}
 *                          v2: {"id":7,"name":"item-7","price_cents":359}  (the change)
 *   POST /api/items        201 {"id":N,"created":true}: N is the "id" of a JSON body, or new
 *   GET  /healthz          {"status":"ok"}, immediately, never a simulated error
 *
 * Every other answer waits a simulated service time drawn from --latency-dist (const, exp or
 * lognormal) with median --latency-ms, and fails with 500 at --error-rate. v2 is slower and
 * fails a little more often by default, which is what the demo shows doppel catching.
 * Pipelined requests on one connection are answered one after another, in order.
 * Prints "port <N>" on the first line of stdout; SIGTERM or SIGINT exits cleanly.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <http_parser.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define DEMO_BODY_MAX (64 * 1024)
#define DEMO_URL_MAX 2048

enum demo_dist { DEMO_DIST_CONST = 0, DEMO_DIST_EXP, DEMO_DIST_LOGNORMAL };

struct demo_opts {
    int port;
    int v2;            /* 0: version v1, 1: version v2 */
    double latency_ms; /* median service time; < 0 until chosen */
    enum demo_dist dist;
    double sigma;      /* lognormal shape */
    double error_rate; /* < 0 until chosen */
    uint64_t seed;
    double lifetime_s; /* 0: run until signalled */
};

struct demo {
    struct demo_opts opt;
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_signal_t sigterm, sigint;
    uv_timer_t lifetime;
    uint64_t rng;
    long next_id;
};

/* One client connection: the socket, its parser, and the request being answered. */
struct demo_conn {
    struct demo *app;
    uv_tcp_t tcp;
    uv_timer_t timer; /* the simulated service time of the current request */
    int open_handles; /* the connection is freed when both handles are closed */
    http_parser parser;
    char *in; /* bytes read but not parsed yet (pipelined requests wait here) */
    size_t in_len;
    bool busy, closing, keep_alive;
    /* the current request */
    char url[DEMO_URL_MAX];
    size_t url_len;
    char body[DEMO_BODY_MAX];
    size_t body_len;
    /* its response, written when the timer fires */
    int status;
    char *response;
};

struct demo_write {
    uv_write_t req;
    char *data;
};

static void conn_parse(struct demo_conn *c);

/* ---- random numbers: seeded, so a run can be repeated -------------------------------- */

static double demo_uniform(struct demo *app)
{
    /* xorshift64*, then the top 53 bits as a double in (0, 1) */
    app->rng ^= app->rng >> 12;
    app->rng ^= app->rng << 25;
    app->rng ^= app->rng >> 27;
    uint64_t x = app->rng * 2685821657736338717ull;
    return ((double)(x >> 11) + 0.5) * 0x1.0p-53;
}

static double demo_normal(struct demo *app)
{
    /* Box-Muller */
    double u1 = demo_uniform(app), u2 = demo_uniform(app);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* A service time in milliseconds whose median is --latency-ms. */
static double demo_latency_ms(struct demo *app)
{
    double m = app->opt.latency_ms;
    switch (app->opt.dist) {
    case DEMO_DIST_EXP:
        return -m * log(demo_uniform(app)) / M_LN2;
    case DEMO_DIST_LOGNORMAL:
        return m * exp(app->opt.sigma * demo_normal(app));
    default:
        return m;
    }
}

/* ---- the endpoints ------------------------------------------------------------------- */

static char *json_print(cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static char *item_json(struct demo *app, long id)
{
    cJSON *o = cJSON_CreateObject();
    char name[48];
    snprintf(name, sizeof(name), "item-%ld", id);
    cJSON_AddNumberToObject(o, "id", (double)id);
    cJSON_AddStringToObject(o, "name", name);
    long cents = 100 + (id * 37) % 900; /* any stable price will do */
    if (app->opt.v2)
        cJSON_AddNumberToObject(o, "price_cents", (double)cents);
    else
        cJSON_AddNumberToObject(o, "price", (double)cents / 100.0);
    return json_print(o);
}

static char *create_item(struct demo_conn *c)
{
    cJSON *in = cJSON_ParseWithLength(c->body, c->body_len);
    cJSON *id = cJSON_GetObjectItemCaseSensitive(in, "id");
    long n = cJSON_IsNumber(id) ? (long)id->valuedouble : ++c->app->next_id;
    cJSON_Delete(in);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)n);
    cJSON_AddBoolToObject(o, "created", 1);
    return json_print(o);
}

static char *error_json(const char *what)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", what);
    return json_print(o);
}

/* Decides status and body of the current request (c->status, c->response). */
static void demo_route(struct demo_conn *c)
{
    struct demo *app = c->app;
    const char *path = c->url;
    int method = c->parser.method;
    char *end;
    c->status = 200;
    if (strcmp(path, "/") == 0 && method == HTTP_GET) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "service", "demo");
        cJSON_AddStringToObject(o, "version", app->opt.v2 ? "v2" : "v1");
        c->response = json_print(o);
    } else if (strncmp(path, "/api/items/", 11) == 0 && method == HTTP_GET) {
        errno = 0;
        long id = strtol(path + 11, &end, 10);
        if (end == path + 11 || *end || errno) {
            c->status = 404;
            c->response = error_json("no such item");
        } else {
            c->response = item_json(app, id);
        }
    } else if (strcmp(path, "/api/items") == 0 && method == HTTP_POST) {
        c->status = 201;
        c->response = create_item(c);
    } else {
        c->status = 404;
        c->response = error_json("not found");
    }
}

/* ---- writing responses --------------------------------------------------------------- */

static void conn_handle_closed(uv_handle_t *h)
{
    struct demo_conn *c = h->data;
    if (--c->open_handles > 0)
        return;
    free(c->in);
    free(c->response);
    free(c);
}

static void conn_close(struct demo_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
}

static void write_done(uv_write_t *req, int status)
{
    struct demo_write *w = (struct demo_write *)req;
    (void)status;
    free(w->data);
    free(w);
}

static void shutdown_done(uv_shutdown_t *req, int status)
{
    (void)status;
    conn_close(req->handle->data);
    free(req);
}

static void conn_send_response(struct demo_conn *c)
{
    struct demo_write *w = calloc(1, sizeof(*w));
    const char *body = c->response ? c->response : "";
    size_t cap = strlen(body) + 256;
    w->data = malloc(cap);
    if (!w->data)
        abort();
    int n = snprintf(w->data, cap,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                     "X-Demo-Version: %s\r\nContent-Length: %zu\r\n%s\r\n%s",
                     c->status, http_status_str((enum http_status)c->status),
                     c->app->opt.v2 ? "v2" : "v1", strlen(body),
                     c->keep_alive ? "" : "Connection: close\r\n", body);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_done) != 0) {
        write_done(&w->req, 0);
        conn_close(c);
    }
    free(c->response);
    c->response = NULL;
}

/* The simulated service time is over: answer, then go on with the next pipelined request. */
static void service_time_over(uv_timer_t *t)
{
    struct demo_conn *c = t->data;
    conn_send_response(c);
    c->busy = false;
    if (!c->keep_alive) {
        uv_shutdown_t *req = calloc(1, sizeof(*req));
        if (!req || uv_shutdown(req, (uv_stream_t *)&c->tcp, shutdown_done) != 0) {
            free(req);
            conn_close(c);
        }
        return;
    }
    conn_parse(c);
}

/* A whole request has arrived: decide the answer and when it goes out. */
static void demo_handle(struct demo_conn *c)
{
    struct demo *app = c->app;
    double delay_ms = 0;
    c->busy = true;
    c->keep_alive = http_should_keep_alive(&c->parser);
    c->url[strcspn(c->url, "?#")] = '\0'; /* route on the path alone */
    if (strcmp(c->url, "/healthz") == 0) {
        c->status = 200;
        c->response = strdup("{\"status\":\"ok\"}");
    } else {
        delay_ms = demo_latency_ms(app);
        if (demo_uniform(app) < app->opt.error_rate) {
            c->status = 500;
            c->response = error_json("simulated failure");
        } else {
            demo_route(c);
        }
    }
    uv_timer_start(&c->timer, service_time_over, (uint64_t)llround(delay_ms), 0);
}

/* ---- reading requests ---------------------------------------------------------------- */

static int on_message_begin(http_parser *p)
{
    struct demo_conn *c = p->data;
    c->url_len = 0;
    c->url[0] = '\0';
    c->body_len = 0;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    struct demo_conn *c = p->data;
    if (c->url_len + n >= sizeof(c->url))
        return -1; /* too long: the parser stops with an error, we answer 414-ish by closing */
    memcpy(c->url + c->url_len, at, n);
    c->url_len += n;
    c->url[c->url_len] = '\0';
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct demo_conn *c = p->data;
    size_t room = sizeof(c->body) - c->body_len;
    if (n > room)
        n = room; /* the demo only looks at the start of a body */
    memcpy(c->body + c->body_len, at, n);
    c->body_len += n;
    return 0;
}

static int on_message_complete(http_parser *p)
{
    /* stop here: the rest of the input is the next pipelined request */
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings demo_parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void read_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    b->base = malloc(suggested);
    b->len = b->base ? suggested : 0;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

/* Parses buffered input until one request is complete (then answers it) or input runs out. */
static void conn_parse(struct demo_conn *c)
{
    if (c->closing || c->busy)
        return;
    size_t used = http_parser_execute(&c->parser, &demo_parser_settings, c->in, c->in_len);
    memmove(c->in, c->in + used, c->in_len - used);
    c->in_len -= used;
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_PAUSED) {
        http_parser_pause(&c->parser, 0);
        uv_read_stop((uv_stream_t *)&c->tcp); /* one request at a time */
        demo_handle(c);
    } else if (e != HPE_OK) {
        conn_close(c); /* not HTTP we understand */
    } else {
        uv_read_start((uv_stream_t *)&c->tcp, read_alloc, on_read);
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct demo_conn *c = s->data;
    if (nread < 0) {
        if (!c->busy)
            conn_close(c);
        else
            uv_read_stop(s); /* the client is done sending; still answer */
    } else if (nread > 0) {
        char *in = realloc(c->in, c->in_len + (size_t)nread);
        if (!in)
            abort();
        memcpy(in + c->in_len, b->base, (size_t)nread);
        c->in = in;
        c->in_len += (size_t)nread;
        conn_parse(c);
    }
    free(b->base);
}

/* ---- accepting connections ----------------------------------------------------------- */

static void on_connection(uv_stream_t *server, int status)
{
    struct demo *app = server->data;
    if (status < 0)
        return;
    struct demo_conn *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    c->app = app;
    c->open_handles = 2;
    uv_tcp_init(app->loop, &c->tcp);
    uv_timer_init(app->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, read_alloc, on_read);
}

/* The app's own handles carry the app as data; a connection's carry the connection. */
static void close_any(uv_handle_t *h, void *arg)
{
    struct demo *app = arg;
    if (h->data != app)
        conn_close(h->data);
    else if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* SIGTERM, SIGINT or the end of --lifetime: close everything, and uv_run returns. */
static void demo_stop(struct demo *app)
{
    uv_walk(app->loop, close_any, app);
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    demo_stop(s->data);
}

static void on_lifetime(uv_timer_t *t)
{
    demo_stop(t->data);
}

static int demo_listen(struct demo *app)
{
    struct sockaddr_in addr;
    struct sockaddr_storage bound;
    int len = sizeof(bound);
    uv_ip4_addr("127.0.0.1", app->opt.port, &addr);
    uv_tcp_init(app->loop, &app->listener);
    app->listener.data = app;
    int r = uv_tcp_bind(&app->listener, (const struct sockaddr *)&addr, 0);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&app->listener, 1024, on_connection);
    if (r == 0)
        r = uv_tcp_getsockname(&app->listener, (struct sockaddr *)&bound, &len);
    if (r != 0) {
        fprintf(stderr, "demo-app: cannot listen on 127.0.0.1:%d: %s\n", app->opt.port,
                uv_strerror(r));
        return r;
    }
    printf("port %d\n", ntohs(((struct sockaddr_in *)&bound)->sin_port));
    fflush(stdout);
    return 0;
}

/* ---- command line -------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f, "usage: demo-app [--port N] [--version v1|v2] [--latency-ms MEDIAN]\n"
               "                [--latency-dist const|exp|lognormal] [--latency-sigma S]\n"
               "                [--error-rate P] [--seed N] [--lifetime SECONDS]\n"
               "The demo service. Defaults: v1 20 ms median, 0.5 %% errors; v2 35 ms, 2 %%;\n"
               "lognormal latency with sigma 0.5; port 0 picks a free port (printed first).\n");
}

static bool parse_number(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}

/* Applies one flag; returns false when its value is not valid. */
static bool demo_flag(struct demo_opts *o, const char *name, const char *v)
{
    double d;
    if (!strcmp(name, "version")) {
        o->v2 = !strcmp(v, "v2");
        return !strcmp(v, "v1") || o->v2;
    }
    if (!strcmp(name, "latency-dist")) {
        o->dist = !strcmp(v, "exp")         ? DEMO_DIST_EXP
                  : !strcmp(v, "lognormal") ? DEMO_DIST_LOGNORMAL
                                            : DEMO_DIST_CONST;
        return o->dist != DEMO_DIST_CONST || !strcmp(v, "const");
    }
    if (!strcmp(name, "port") && parse_number(v, 0, 65535, &d) && d == floor(d))
        return (o->port = (int)d), true;
    if (!strcmp(name, "latency-ms") && parse_number(v, 0, 3600e3, &d))
        return (o->latency_ms = d), true;
    if (!strcmp(name, "latency-sigma") && parse_number(v, 0, 10, &d))
        return (o->sigma = d), true;
    if (!strcmp(name, "error-rate") && parse_number(v, 0, 1, &d))
        return (o->error_rate = d), true;
    if (!strcmp(name, "seed") && parse_number(v, 0, 1e15, &d) && d == floor(d))
        return (o->seed = (uint64_t)d), true;
    if (!strcmp(name, "lifetime") && parse_number(v, 0, 1e7, &d))
        return (o->lifetime_s = d), true;
    return false;
}

static int demo_parse_args(struct demo_opts *o, int argc, char **argv)
{
    static const struct option flags[] = {{"port", 1, 0, 0},          {"version", 1, 0, 0},
                                          {"latency-ms", 1, 0, 0},    {"latency-dist", 1, 0, 0},
                                          {"latency-sigma", 1, 0, 0}, {"error-rate", 1, 0, 0},
                                          {"seed", 1, 0, 0},          {"lifetime", 1, 0, 0},
                                          {"help", 0, 0, 'h'},        {0, 0, 0, 0}};
    int ch, i;
    while ((ch = getopt_long(argc, argv, "", flags, &i)) != -1) {
        if (ch == 'h') {
            usage(stdout);
            return 1;
        }
        if (ch != 0 || !demo_flag(o, flags[i].name, optarg)) {
            if (ch == 0)
                fprintf(stderr, "demo-app: invalid value '%s' for --%s\n", optarg, flags[i].name);
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    /* version defaults: v2 is the slower, slightly less reliable change */
    if (o->latency_ms < 0)
        o->latency_ms = o->v2 ? 35 : 20;
    if (o->error_rate < 0)
        o->error_rate = o->v2 ? 0.02 : 0.005;
    return 0;
}

int main(int argc, char **argv)
{
    struct demo app = {.opt = {.latency_ms = -1,
                               .dist = DEMO_DIST_LOGNORMAL,
                               .sigma = 0.5,
                               .error_rate = -1,
                               .seed = 1}};
    int rc = demo_parse_args(&app.opt, argc, argv);
    if (rc)
        return rc == 1 ? 0 : rc;
    signal(SIGPIPE, SIG_IGN);
    app.rng = app.opt.seed * 0x9E3779B97F4A7C15ull + 1; /* never zero */
    app.loop = uv_default_loop();
    uv_signal_init(app.loop, &app.sigterm);
    uv_signal_init(app.loop, &app.sigint);
    app.sigterm.data = app.sigint.data = &app;
    uv_signal_start(&app.sigterm, on_signal, SIGTERM);
    uv_signal_start(&app.sigint, on_signal, SIGINT);
    uv_timer_init(app.loop, &app.lifetime);
    app.lifetime.data = &app;
    if (app.opt.lifetime_s > 0)
        uv_timer_start(&app.lifetime, on_lifetime, (uint64_t)(app.opt.lifetime_s * 1000), 0);
    /* listen last: once "port N" is printed, signals are already handled */
    if (demo_listen(&app) != 0)
        return 1;
    uv_run(app.loop, UV_RUN_DEFAULT);
    return uv_loop_close(app.loop) == 0 ? 0 : 1;
}
