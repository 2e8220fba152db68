/* SPDX-License-Identifier: Apache-2.0 */
/*
 * backend: the HTTP/1.1 upstream the end-to-end tests put behind doppel, as a primary or as
 * a shadow. It sits outside the pipeline (tests/lib/cmd, built as build/tests/backend) and
 * owns one libuv loop, its listening socket and its client connections. Flags choose how it
 * misbehaves (delay, status, error rate, reset, garbage, hang, close); --record writes one
 * JSON line per received request so a test can assert what a shadow was sent, and --echo
 * returns the request bytes exactly as received. It answers pipelined requests in order
 * (each response waits in its connection's queue until it and every one before it are due),
 * reads Content-Length and chunked bodies, answers `Expect: 100-continue`, and turns
 * `Upgrade: websocket` into a raw echo tunnel.
 *
 * Two request headers override the flags for one request, so one backend can serve a whole
 * test: `X-Delay-Ms: N` and `X-Status: N`.
 *
 * Output: "port <N>" on the first line of stdout; SIGUSR1 prints
 * "stats requests=N conns=N resets=N" to stderr; SIGTERM/SIGINT exit 0 after closing all.
 */
#include "base/buf.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "base/list.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <http_parser.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define BACKEND_RAW_MAX (64u << 20)   /* one request as received, for --echo */
#define BACKEND_FIELD_MAX (64u << 10) /* url, one header name or value */
#define BACKEND_HEADERS_MAX 256
#define BACKEND_SMALL_BODY 1024 /* --record keeps bodies up to this size verbatim */
#define BACKEND_WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

struct backend_opts {
    int port;
    const char *name;
    uint64_t delay_ms;
    int status;
    double error_rate;
    uint64_t seed;
    bool reset, garbage, hang, close, echo, chunked;
    int64_t body_size; /* -1: the default short body */
    uint64_t max_requests;
    uint64_t lifetime_ns;
    const char *record;
};

struct backend {
    struct backend_opts opt;
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_signal_t sigterm, sigint, sigusr1;
    uv_timer_t lifetime;
    FILE *record; /* owned; NULL without --record */
    struct list conns;
    uint64_t rng;
    uint64_t requests, nconns, resets;
    bool stopping;
};

struct header {
    struct buf name, value;
};

/* One accepted connection. Freed when its socket and every pending timer are closed. */
struct bconn {
    struct list node; /* in backend.conns */
    struct backend *be;
    uv_tcp_t tcp;
    http_parser parser;
    struct list pending; /* struct pending, in request order */
    int handles;         /* open libuv handles: the socket and the timers of timed pendings */
    bool closing, shutting, tunnel, eof;
    char peer[64];
    /* the request being parsed */
    struct buf raw, url, small_body;
    struct header headers[BACKEND_HEADERS_MAX];
    int nheaders;
    bool last_was_value, too_big;
    uint64_t body_len;
    EVP_MD_CTX *sha;
};

/* A response waiting for its turn: written once it is due and all before it are written. */
struct pending {
    struct list node; /* in bconn.pending */
    struct bconn *c;
    uv_timer_t timer; /* initialized only when timed */
    struct buf out;
    bool timed, ready, close_after;
};

struct wreq {
    uv_write_t req;
    char *data; /* owned */
};

static void conn_close(struct bconn *c);
static void conn_flush(struct bconn *c);

/* ---- small utilities ------------------------------------------------------------------ */

static uint64_t backend_rand(struct backend *be)
{
    /* splitmix64: seeded and reproducible, so --error-rate runs are repeatable */
    uint64_t z = (be->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void write_cb(uv_write_t *req, int status)
{
    (void)status;
    struct wreq *w = (struct wreq *)req;
    free(w->data);
    free(w);
}

/* Writes n bytes (taking ownership of data); errors surface as a read error later. */
static void conn_write(struct bconn *c, char *data, size_t n)
{
    if (c->closing || n == 0) {
        free(data);
        return;
    }
    struct wreq *w = xcalloc(1, sizeof(*w));
    w->data = data;
    uv_buf_t b = uv_buf_init(data, (unsigned)n);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_cb) != 0) {
        free(data);
        free(w);
    }
}

static const struct header *req_header(const struct bconn *c, const char *name)
{
    for (int i = 0; i < c->nheaders; i++)
        if (str_ieqz(c->headers[i].name.data, c->headers[i].name.len, name))
            return &c->headers[i];
    return NULL;
}

static bool req_header_u64(const struct bconn *c, const char *name, uint64_t *out)
{
    const struct header *h = req_header(c, name);
    return h && str_to_u64(h->value.data, out) == 0;
}

/* ---- connection lifetime -------------------------------------------------------------- */

static void conn_unref(struct bconn *c)
{
    if (--c->handles > 0)
        return;
    for (int i = 0; i < BACKEND_HEADERS_MAX; i++) {
        buf_release(&c->headers[i].name);
        buf_release(&c->headers[i].value);
    }
    buf_release(&c->raw);
    buf_release(&c->url);
    buf_release(&c->small_body);
    EVP_MD_CTX_free(c->sha);
    list_remove(&c->node);
    free(c);
}

static void conn_tcp_closed(uv_handle_t *h)
{
    conn_unref(h->data);
}

static void pending_timer_closed(uv_handle_t *h)
{
    struct pending *p = h->data;
    struct bconn *c = p->c;
    buf_release(&p->out);
    free(p);
    conn_unref(c);
}

static void pending_free(struct pending *p)
{
    list_remove(&p->node);
    if (p->timed) {
        uv_timer_stop(&p->timer);
        uv_close((uv_handle_t *)&p->timer, pending_timer_closed);
        return;
    }
    buf_release(&p->out);
    free(p);
}

static void conn_close(struct bconn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    while (!list_empty(&c->pending))
        pending_free(list_entry(c->pending.next, struct pending, node));
    uv_close((uv_handle_t *)&c->tcp, conn_tcp_closed);
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
    (void)status;
    struct bconn *c = req->handle->data;
    free(req);
    conn_close(c);
}

/* Closes after everything written so far has gone out. */
static void conn_close_after_writes(struct bconn *c)
{
    if (c->closing || c->shutting)
        return;
    c->shutting = true;
    uv_shutdown_t *req = xcalloc(1, sizeof(*req));
    if (uv_shutdown(req, (uv_stream_t *)&c->tcp, shutdown_cb) != 0) {
        free(req);
        conn_close(c);
    }
}

/* ---- the response queue --------------------------------------------------------------- */

static void conn_flush(struct bconn *c)
{
    while (!c->closing && !list_empty(&c->pending)) {
        struct pending *p = list_entry(c->pending.next, struct pending, node);
        if (!p->ready)
            return;
        size_t n;
        char *data = buf_steal(&p->out, &n);
        bool close_after = p->close_after;
        conn_write(c, data, n);
        pending_free(p);
        if (close_after) {
            conn_close_after_writes(c);
            return;
        }
    }
    if ((c->be->stopping || c->eof) && list_empty(&c->pending))
        conn_close_after_writes(c);
}

static void pending_due(uv_timer_t *t)
{
    struct pending *p = t->data;
    p->ready = true;
    conn_flush(p->c);
}

/* Queues out (taken over) to be written after delay_ms and after every earlier response. */
static void conn_queue(struct bconn *c, struct buf *out, uint64_t delay_ms, bool close_after)
{
    struct pending *p = xcalloc(1, sizeof(*p));
    p->c = c;
    p->out = *out;
    buf_init(out, out->max);
    p->close_after = close_after;
    list_insert_tail(&c->pending, &p->node);
    if (delay_ms == 0) {
        p->ready = true;
        conn_flush(c);
        return;
    }
    p->timed = true;
    uv_timer_init(c->be->loop, &p->timer);
    p->timer.data = p;
    c->handles++;
    uv_timer_start(&p->timer, pending_due, delay_ms, 0);
}

static void conn_queue_str(struct bconn *c, const char *s, size_t n, bool close_after)
{
    struct buf out;
    buf_init(&out, n + 1);
    buf_append(&out, s, n);
    conn_queue(c, &out, 0, close_after);
}

/* ---- building responses --------------------------------------------------------------- */

static int pick_status(struct bconn *c)
{
    struct backend *be = c->be;
    uint64_t forced;
    if (req_header_u64(c, "x-status", &forced) && forced >= 100 && forced <= 999)
        return (int)forced;
    if (be->opt.error_rate > 0 && (double)(backend_rand(be) >> 11) * 0x1.0p-53 < be->opt.error_rate)
        return 500;
    return be->opt.status;
}

/* The response body: the request as received (--echo), a pattern, or a one-line default. */
static void response_body(struct bconn *c, struct buf *body)
{
    const struct backend_opts *o = &c->be->opt;
    if (o->echo) {
        buf_append(body, c->raw.data, c->raw.len);
    } else if (o->body_size >= 0) {
        static const char pat[] =
            "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n";
        for (int64_t i = 0; i < o->body_size; i++)
            buf_append(body, &pat[i % (int64_t)(sizeof(pat) - 1)], 1);
    } else {
        buf_printf(body, "%s %s %s\n", o->name, http_method_str(c->parser.method), c->url.data);
    }
}

static void append_chunked(struct buf *out, const struct buf *body)
{
    for (size_t off = 0; off < body->len; off += 4096) {
        size_t n = body->len - off < 4096 ? body->len - off : 4096;
        buf_printf(out, "%zx\r\n", n);
        buf_append(out, body->data + off, n);
        buf_appends(out, "\r\n");
    }
    buf_appends(out, "0\r\n\r\n");
}

static void build_response(struct bconn *c, struct buf *out, bool close_after)
{
    const struct backend_opts *o = &c->be->opt;
    struct buf body;
    buf_init(&body, SIZE_MAX);
    response_body(c, &body);
    int status = pick_status(c);
    const char *reason = http_status_str((enum http_status)status);
    buf_printf(out, "HTTP/1.1 %d %s\r\nX-Backend: %s\r\nContent-Type: %s\r\n", status,
               reason ? reason : "Status", o->name,
               o->echo ? "application/octet-stream" : "text/plain");
    if (close_after)
        buf_appends(out, "Connection: close\r\n");
    else if (c->parser.http_major == 1 && c->parser.http_minor == 0)
        buf_appends(out, "Connection: keep-alive\r\n");
    bool head = c->parser.method == HTTP_HEAD;
    if (o->chunked) {
        buf_appends(out, "Transfer-Encoding: chunked\r\n\r\n");
        if (!head)
            append_chunked(out, &body);
    } else {
        buf_printf(out, "Content-Length: %zu\r\n\r\n", body.len);
        if (!head)
            buf_append(out, body.data, body.len);
    }
    buf_release(&body);
}

/* Answers `Upgrade: websocket` with 101 and turns the connection into a raw echo tunnel. */
static bool answer_upgrade(struct bconn *c)
{
    const struct header *up = req_header(c, "upgrade");
    const struct header *key = req_header(c, "sec-websocket-key");
    if (!up || !str_ieqz(up->value.data, up->value.len, "websocket") || !key)
        return false;
    unsigned char sha[EVP_MAX_MD_SIZE];
    unsigned int shalen = 0;
    char accept[64];
    char *in = xasprintf("%s%s", key->value.data, BACKEND_WS_GUID);
    EVP_Digest(in, strlen(in), sha, &shalen, EVP_sha1(), NULL);
    free(in);
    EVP_EncodeBlock((unsigned char *)accept, sha, (int)shalen);
    struct buf out;
    buf_init(&out, SIZE_MAX);
    buf_printf(&out,
               "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Accept: %s\r\nX-Backend: %s\r\n\r\n",
               accept, c->be->opt.name);
    conn_queue(c, &out, 0, false);
    c->tunnel = true;
    return true;
}

/* ---- --record ------------------------------------------------------------------------- */

static bool printable(const struct buf *b)
{
    for (size_t i = 0; i < b->len; i++) {
        unsigned char ch = (unsigned char)b->data[i];
        if ((ch < 0x20 && ch != '\t' && ch != '\r' && ch != '\n') || ch > 0x7e)
            return false;
    }
    return true;
}

static void record_request(struct bconn *c, const char *sha_hex)
{
    cJSON *o = cJSON_CreateObject();
    char version[16];
    snprintf(version, sizeof(version), "%u.%u", c->parser.http_major, c->parser.http_minor);
    cJSON_AddStringToObject(o, "method", http_method_str(c->parser.method));
    cJSON_AddStringToObject(o, "url", c->url.len ? c->url.data : "");
    cJSON_AddStringToObject(o, "version", version);
    cJSON *hs = cJSON_AddArrayToObject(o, "headers");
    for (int i = 0; i < c->nheaders; i++) {
        cJSON *pair = cJSON_CreateArray();
        cJSON_AddItemToArray(pair, cJSON_CreateString(c->headers[i].name.data));
        cJSON_AddItemToArray(pair, cJSON_CreateString(c->headers[i].value.data));
        cJSON_AddItemToArray(hs, pair);
    }
    cJSON_AddNumberToObject(o, "body_len", (double)c->body_len);
    cJSON_AddStringToObject(o, "body_sha256", sha_hex);
    if (c->body_len <= BACKEND_SMALL_BODY && printable(&c->small_body))
        cJSON_AddStringToObject(o, "body", c->small_body.len ? c->small_body.data : "");
    cJSON_AddStringToObject(o, "peer", c->peer);
    char *line = cJSON_PrintUnformatted(o);
    fprintf(c->be->record, "%s\n", line);
    fflush(c->be->record);
    free(line);
    cJSON_Delete(o);
}

static void body_sha_hex(struct bconn *c, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(c->sha, md, &n);
    for (unsigned int i = 0; i < n && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    hex[64] = '\0';
}

/* ---- one complete request ------------------------------------------------------------- */

static void backend_stop(struct backend *be, bool graceful);

static void handle_request(struct bconn *c)
{
    struct backend *be = c->be;
    char hex[65];
    be->requests++;
    body_sha_hex(c, hex);
    if (be->record)
        record_request(c, hex);
    bool close_after = be->opt.close || !http_should_keep_alive(&c->parser) || c->too_big;
    if (be->opt.hang) {
        /* read on, never answer */
    } else if (c->parser.upgrade && !c->too_big && answer_upgrade(c)) {
        /* tunnel from here on */
    } else {
        uint64_t delay = be->opt.delay_ms;
        req_header_u64(c, "x-delay-ms", &delay);
        struct buf out;
        buf_init(&out, SIZE_MAX);
        if (be->opt.garbage)
            buf_appends(&out, "\x01\x02garbage, not HTTP\xff\xfe\r\n\r\n");
        else
            build_response(c, &out, close_after || c->parser.upgrade);
        conn_queue(c, &out, delay, close_after || be->opt.garbage || c->parser.upgrade);
    }
    buf_reset(&c->raw);
    if (be->opt.max_requests && be->requests >= be->opt.max_requests && !be->stopping)
        backend_stop(be, true);
}

/* ---- http-parser callbacks ------------------------------------------------------------ */

static int on_message_begin(http_parser *hp)
{
    struct bconn *c = hp->data;
    for (int i = 0; i < c->nheaders; i++) {
        buf_reset(&c->headers[i].name);
        buf_reset(&c->headers[i].value);
    }
    c->nheaders = 0;
    c->last_was_value = true;
    c->too_big = false;
    c->body_len = 0;
    buf_reset(&c->url);
    buf_reset(&c->small_body);
    EVP_DigestInit_ex(c->sha, EVP_sha256(), NULL);
    return 0;
}

static void field_append(struct bconn *c, struct buf *b, const char *at, size_t n)
{
    if (buf_append(b, at, n) != 0)
        c->too_big = true;
}

static int on_url(http_parser *hp, const char *at, size_t n)
{
    struct bconn *c = hp->data;
    field_append(c, &c->url, at, n);
    return 0;
}

static int on_header_field(http_parser *hp, const char *at, size_t n)
{
    struct bconn *c = hp->data;
    if (c->last_was_value) {
        if (c->nheaders == BACKEND_HEADERS_MAX) {
            c->too_big = true;
            return 0;
        }
        c->nheaders++;
        c->last_was_value = false;
    }
    field_append(c, &c->headers[c->nheaders - 1].name, at, n);
    return 0;
}

static int on_header_value(http_parser *hp, const char *at, size_t n)
{
    struct bconn *c = hp->data;
    if (c->nheaders == 0)
        return 0;
    c->last_was_value = true;
    field_append(c, &c->headers[c->nheaders - 1].value, at, n);
    return 0;
}

static int on_headers_complete(http_parser *hp)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    struct bconn *c = hp->data;
    const struct header *h = req_header(c, "expect");
    if (h && str_ieqz(h->value.data, h->value.len, "100-continue") && !c->be->opt.hang)
        conn_queue_str(c, cont, sizeof(cont) - 1, false);
    return 0;
}

static int on_body(http_parser *hp, const char *at, size_t n)
{
    struct bconn *c = hp->data;
    c->body_len += n;
    EVP_DigestUpdate(c->sha, at, n);
    if (c->small_body.len + n <= BACKEND_SMALL_BODY)
        buf_append(&c->small_body, at, n);
    return 0;
}

static int on_message_complete(http_parser *hp)
{
    /* Pausing makes http_parser_execute return right after this message, so pipelined
     * requests are handled one at a time and the raw bytes of each are known. */
    http_parser_pause(hp, 1);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- reading -------------------------------------------------------------------------- */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    b->base = xmalloc(suggested);
    b->len = suggested;
}

static void tunnel_echo(struct bconn *c, const char *data, size_t n)
{
    if (n == 0)
        return;
    conn_queue_str(c, data, n, false);
}

static void bad_request(struct bconn *c)
{
    static const char msg[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                              "Connection: close\r\n\r\n";
    uv_read_stop((uv_stream_t *)&c->tcp);
    conn_queue_str(c, msg, sizeof(msg) - 1, true);
}

/* Feeds bytes to the parser one message at a time. */
static void conn_parse(struct bconn *c, const char *data, size_t len)
{
    size_t off = 0;
    while (off < len && !c->closing && !c->tunnel) {
        size_t n = http_parser_execute(&c->parser, &parser_settings, data + off, len - off);
        if (c->be->opt.echo && buf_append(&c->raw, data + off, n) != 0)
            c->too_big = true; /* only --echo keeps the request bytes */
        off += n;
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        if (e == HPE_PAUSED) {
            http_parser_pause(&c->parser, 0);
            handle_request(c);
            if (c->parser.upgrade && !c->tunnel)
                return; /* refused upgrade: the rest is not HTTP; the answer closes */
            continue;
        }
        if (e != HPE_OK) {
            bad_request(c);
            return;
        }
    }
    if (c->tunnel && !c->closing)
        tunnel_echo(c, data + off, len - off);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct bconn *c = s->data;
    if (nread < 0) {
        if (nread == UV_EOF && !list_empty(&c->pending)) {
            /* half-closed client: answer what it sent, then close (conn_flush) */
            c->eof = true;
            uv_read_stop(s);
        } else {
            conn_close(c);
        }
    } else if (c->tunnel) {
        tunnel_echo(c, b->base, (size_t)nread);
    } else {
        conn_parse(c, b->base, (size_t)nread);
    }
    free(b->base);
}

/* ---- accepting ------------------------------------------------------------------------ */

static void conn_peer(struct bconn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET) {
            uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else {
            uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof(ip));
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
    }
    snprintf(c->peer, sizeof(c->peer), "%s:%d", ip, port);
}

static struct bconn *conn_new(struct backend *be)
{
    struct bconn *c = xcalloc(1, sizeof(*c));
    c->be = be;
    list_init(&c->pending);
    list_insert_tail(&be->conns, &c->node);
    uv_tcp_init(be->loop, &c->tcp);
    c->tcp.data = c;
    c->handles = 1;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    buf_init(&c->raw, BACKEND_RAW_MAX);
    buf_init(&c->url, BACKEND_FIELD_MAX);
    buf_init(&c->small_body, BACKEND_SMALL_BODY + 1);
    for (int i = 0; i < BACKEND_HEADERS_MAX; i++) {
        buf_init(&c->headers[i].name, BACKEND_FIELD_MAX);
        buf_init(&c->headers[i].value, BACKEND_FIELD_MAX);
    }
    c->sha = EVP_MD_CTX_new();
    return c;
}

static void accept_cb(uv_stream_t *server, int status)
{
    struct backend *be = server->data;
    if (status < 0 || be->stopping)
        return;
    struct bconn *c = conn_new(be);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    be->nconns++;
    if (be->opt.reset) {
        /* SO_LINGER 0 then close: the peer sees a TCP RST */
        be->resets++;
        c->closing = true;
        uv_tcp_close_reset(&c->tcp, conn_tcp_closed);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    conn_peer(c);
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
}

/* ---- start and stop ------------------------------------------------------------------- */

static void print_stats(struct backend *be)
{
    fprintf(stderr, "stats requests=%llu conns=%llu resets=%llu\n",
            (unsigned long long)be->requests, (unsigned long long)be->nconns,
            (unsigned long long)be->resets);
    fflush(stderr);
}

/* Stops accepting; graceful lets queued responses go out first, otherwise all is cut. */
static void backend_stop(struct backend *be, bool graceful)
{
    struct list *pos, *tmp;
    if (!be->stopping) {
        be->stopping = true;
        uv_close((uv_handle_t *)&be->listener, NULL);
        uv_close((uv_handle_t *)&be->sigterm, NULL);
        uv_close((uv_handle_t *)&be->sigint, NULL);
        uv_close((uv_handle_t *)&be->sigusr1, NULL);
        uv_close((uv_handle_t *)&be->lifetime, NULL);
    }
    list_for_each_safe(pos, tmp, &be->conns)
    {
        struct bconn *c = list_entry(pos, struct bconn, node);
        if (!graceful)
            conn_close(c);
        else if (list_empty(&c->pending))
            conn_close_after_writes(c);
    }
}

static void signal_cb(uv_signal_t *s, int signum)
{
    struct backend *be = s->data;
    if (signum == SIGUSR1) {
        print_stats(be);
        return;
    }
    backend_stop(be, false);
}

static void lifetime_cb(uv_timer_t *t)
{
    backend_stop(t->data, false);
}

static int backend_listen(struct backend *be)
{
    struct sockaddr_in addr;
    struct sockaddr_storage bound;
    int len = sizeof(bound);
    uv_ip4_addr("127.0.0.1", be->opt.port, &addr);
    uv_tcp_init(be->loop, &be->listener);
    be->listener.data = be;
    int r = uv_tcp_bind(&be->listener, (struct sockaddr *)&addr, 0);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&be->listener, 4096, accept_cb);
    if (r == 0)
        r = uv_tcp_getsockname(&be->listener, (struct sockaddr *)&bound, &len);
    if (r != 0) {
        fprintf(stderr, "backend: cannot listen on 127.0.0.1:%d: %s\n", be->opt.port,
                uv_strerror(r));
        return r;
    }
    printf("port %d\n", ntohs(((struct sockaddr_in *)&bound)->sin_port));
    fflush(stdout);
    return 0;
}

static void backend_signals(struct backend *be)
{
    uv_signal_t *sigs[] = {&be->sigterm, &be->sigint, &be->sigusr1};
    int nums[] = {SIGTERM, SIGINT, SIGUSR1};
    for (int i = 0; i < 3; i++) {
        uv_signal_init(be->loop, sigs[i]);
        sigs[i]->data = be;
        uv_signal_start(sigs[i], signal_cb, nums[i]);
    }
    uv_timer_init(be->loop, &be->lifetime);
    be->lifetime.data = be;
    if (be->opt.lifetime_ns)
        uv_timer_start(&be->lifetime, lifetime_cb, be->opt.lifetime_ns / 1000000, 0);
}

/* ---- flags ---------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f, "usage: backend [--port N] [--name S] [--delay-ms N] [--status N]\n"
               "               [--error-rate P] [--seed N] [--reset|--garbage|--hang]\n"
               "               [--close] [--echo] [--chunked] [--body-size N]\n"
               "               [--record FILE] [--max-requests N] [--lifetime DURATION]\n"
               "Test HTTP/1.1 server on 127.0.0.1; prints \"port <N>\" first.\n"
               "Per request, X-Delay-Ms: N and X-Status: N override --delay-ms and --status.\n");
}

static int bad_flag(const char *flag, const char *value)
{
    fprintf(stderr, "backend: invalid value '%s' for --%s\n", value, flag);
    return 2;
}

static int parse_value(struct backend_opts *o, const char *flag, const char *v)
{
    uint64_t u = 0;
    int64_t i = 0;
    bool ok;
    if (!strcmp(flag, "port"))
        ok = str_to_u64(v, &u) == 0 && u <= 65535 && ((o->port = (int)u), true);
    else if (!strcmp(flag, "name"))
        ok = *v && ((o->name = v), true);
    else if (!strcmp(flag, "delay-ms"))
        ok = str_to_u64(v, &o->delay_ms) == 0;
    else if (!strcmp(flag, "status"))
        ok = str_to_u64(v, &u) == 0 && u >= 100 && u <= 999 && ((o->status = (int)u), true);
    else if (!strcmp(flag, "error-rate"))
        ok = str_to_double(v, &o->error_rate) == 0 && o->error_rate >= 0 && o->error_rate <= 1;
    else if (!strcmp(flag, "seed"))
        ok = str_to_u64(v, &o->seed) == 0;
    else if (!strcmp(flag, "body-size"))
        ok = str_to_i64(v, &i) == 0 && i >= 0 && i <= (1 << 30) && ((o->body_size = i), true);
    else if (!strcmp(flag, "max-requests"))
        ok = str_to_u64(v, &o->max_requests) == 0;
    else if (!strcmp(flag, "lifetime"))
        ok = str_to_duration_ns(v, &o->lifetime_ns) == 0;
    else
        ok = *v && ((o->record = v), true);
    return ok ? 0 : bad_flag(flag, v);
}

static int parse_flags(struct backend_opts *o, int argc, char **argv)
{
    static const struct option longs[] = {
        {"port", 1, 0, 0},      {"name", 1, 0, 0},         {"delay-ms", 1, 0, 0},
        {"status", 1, 0, 0},    {"error-rate", 1, 0, 0},   {"seed", 1, 0, 0},
        {"body-size", 1, 0, 0}, {"max-requests", 1, 0, 0}, {"lifetime", 1, 0, 0},
        {"record", 1, 0, 0},    {"reset", 0, 0, 'R'},      {"garbage", 0, 0, 'G'},
        {"hang", 0, 0, 'H'},    {"close", 0, 0, 'C'},      {"echo", 0, 0, 'E'},
        {"chunked", 0, 0, 'K'}, {"help", 0, 0, 'h'},       {0, 0, 0, 0}};
    int ch, idx;
    while ((ch = getopt_long(argc, argv, "", longs, &idx)) != -1) {
        bool *flag = ch == 'R'   ? &o->reset
                     : ch == 'G' ? &o->garbage
                     : ch == 'H' ? &o->hang
                     : ch == 'C' ? &o->close
                     : ch == 'E' ? &o->echo
                     : ch == 'K' ? &o->chunked
                                 : NULL;
        if (flag) {
            *flag = true;
        } else if (ch == 'h') {
            usage(stdout);
            return 1;
        } else if (ch != 0) {
            usage(stderr);
            return 2;
        } else if (parse_value(o, longs[idx].name, optarg) != 0) {
            return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct backend be = {.opt = {.name = "backend", .status = 200, .seed = 1, .body_size = -1}};
    int rc = parse_flags(&be.opt, argc, argv);
    if (rc)
        return rc == 1 ? 0 : rc;
    signal(SIGPIPE, SIG_IGN);
    be.rng = be.opt.seed;
    list_init(&be.conns);
    if (be.opt.record && !(be.record = fopen(be.opt.record, "a"))) {
        fprintf(stderr, "backend: cannot open '%s': %s\n", be.opt.record, strerror(errno));
        return 1;
    }
    be.loop = uv_default_loop();
    backend_signals(&be); /* before "port N" is printed: a test may signal right after */
    if (backend_listen(&be) != 0)
        return 1;
    uv_run(be.loop, UV_RUN_DEFAULT);
    print_stats(&be);
    if (be.record)
        fclose(be.record);
    rc = uv_loop_close(be.loop);
    if (rc != 0)
        fprintf(stderr, "backend: loop closed with open handles\n");
    return rc ? 1 : 0;
}
