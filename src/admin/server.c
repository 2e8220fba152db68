/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server: admin HTTP connections (see server.h). One request at a time per connection;
 * pipelined bytes wait in the reader until the answer is written. Each connection owns an
 * idle timer, restarted by every read, that closes it when the client goes quiet; the
 * connection is freed once both its handles (socket and timer) are closed.
 */
#include "admin/server.h"

#include <stdlib.h>
#include <string.h>

#include "base/list.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "http/reader.h"
#include "http/writer.h"
#include "net/addr.h"
#include "net/stream.h"

#define ADMIN_HEAD_MAX (16 * 1024)

struct admin_server {
    uv_tcp_t tcp;
    struct admin_server_limits lim;
    admin_handler_cb *handler;
    void *ctx;
    struct list conns;
    int port;
    bool closing;
    int open;
};

struct aconn {
    uv_tcp_t tcp;
    uv_timer_t idle;
    int handles; /* open handles: freed at 0 */
    struct admin_server *srv;
    struct list link;
    struct http_reader reader;
    struct http_head head;
    struct buf body;
    struct buf in;
    bool too_large, closing, keep_alive;
    bool last; /* an answer with Connection: close was written: shut down after it */
};

static void srv_maybe_free(struct admin_server *s)
{
    if (s->closing && s->open == 0)
        free(s);
}

static void on_conn_closed(uv_handle_t *h)
{
    struct aconn *c = h->data;
    struct admin_server *s = c->srv;
    if (--c->handles > 0)
        return;
    http_reader_release(&c->reader);
    http_head_release(&c->head);
    buf_release(&c->body);
    buf_release(&c->in);
    free(c);
    s->open--;
    srv_maybe_free(s);
}

static void conn_close(struct aconn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    list_remove(&c->link);
    uv_close((uv_handle_t *)&c->idle, on_conn_closed);
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    struct aconn *c = req->data;
    free(req);
    conn_close(c);
}

static void write_answer(struct aconn *c, struct admin_response *r)
{
    struct buf out;
    buf_init(&out, r->body.len + 4096);
    http_write_status_line(&out, r->status, NULL, 0);
    buf_printf(&out, "Content-Type: %s\r\nContent-Length: %zu\r\n",
               r->content_type ? r->content_type : "application/json", r->body.len);
    if (r->extra_headers)
        buf_appends(&out, r->extra_headers);
    if (!c->keep_alive) {
        buf_appends(&out, "Connection: close\r\n");
        c->last = true;
    }
    buf_appends(&out, "\r\n");
    buf_append(&out, r->body.data ? r->body.data : "", r->body.len);
    net_write((uv_stream_t *)&c->tcp, out.data, out.len, NULL, NULL);
    buf_release(&out);
}

static void respond_error(struct aconn *c, int status, const char *code, const char *msg)
{
    struct admin_response r = {.status = status, .content_type = "application/json"};
    buf_init(&r.body, 4096);
    buf_printf(&r.body, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}\n", code, msg);
    c->keep_alive = false;
    write_answer(c, &r);
    buf_release(&r.body);
}

static int on_head(void *ctx, struct http_head *head)
{
    struct aconn *c = ctx;
    http_head_release(&c->head);
    c->head = *head;
    buf_reset(&c->body);
    c->too_large = (head->flags & HTTP_HEAD_HAS_LENGTH) && head->content_length > ADMIN_BODY_MAX;
    c->keep_alive = head->flags & HTTP_HEAD_KEEP_ALIVE;
    return 0;
}

static int on_body(void *ctx, const char *data, size_t len)
{
    struct aconn *c = ctx;
    if (buf_append(&c->body, data, len) != 0)
        c->too_large = true;
    return 0;
}

static int on_complete(void *ctx)
{
    struct aconn *c = ctx;
    if (c->too_large) {
        respond_error(c, 413, "too_large", "request body larger than 64 KiB");
        return 0;
    }
    size_t plen = http_target_path_len(c->head.target, c->head.target_len);
    char *path = xstrndup(c->head.target, plen);
    char *query = plen < c->head.target_len
                      ? xstrndup(c->head.target + plen + 1, c->head.target_len - plen - 1)
                      : xstrdup("");
    struct admin_request req = {&c->head, path, query, c->body.data ? c->body.data : "",
                                c->body.len};
    struct admin_response resp = {.status = 200, .content_type = "application/json"};
    buf_init(&resp.body, 64 << 20);
    c->srv->handler(c->srv->ctx, &req, &resp);
    write_answer(c, &resp);
    buf_release(&resp.body);
    free(path);
    free(query);
    return 0;
}

static const struct http_reader_cbs reader_cbs = {on_head, on_body, on_complete};

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    b->base = xmalloc(suggested);
    b->len = suggested;
}

/* Sends what is written, then closes (the answer of a last request, or a refusal). */
static void shutdown_conn(struct aconn *c)
{
    uv_shutdown_t *req = xmalloc(sizeof(*req));
    req->data = c;
    uv_read_stop((uv_stream_t *)&c->tcp);
    if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        free(req);
        conn_close(c);
    }
}

static void on_idle(uv_timer_t *t)
{
    conn_close(t->data);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct aconn *c = s->data;
    if (nread > 0 && !c->closing)
        uv_timer_again(&c->idle);
    if (nread < 0 || c->closing) {
        free(b->base);
        conn_close(c);
        return;
    }
    if (buf_append(&c->in, b->base, (size_t)nread) != 0) {
        free(b->base);
        conn_close(c);
        return;
    }
    free(b->base);
    while (c->in.len && !c->closing) {
        ssize_t n = http_reader_feed(&c->reader, c->in.data, c->in.len);
        if (n < 0) {
            respond_error(c, n == HTTP_READER_E_HEAD_TOO_LARGE ? 431 : 400, "invalid_request",
                          http_reader_strerror((int)n));
            break;
        }
        buf_consume(&c->in, (size_t)n);
        if (!http_reader_paused(&c->reader))
            break;
        if (c->last)
            break;
        http_reader_resume(&c->reader);
    }
    if (c->last && !c->closing)
        shutdown_conn(c);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct admin_server *s = server->data;
    if (status < 0 || s->closing)
        return;
    struct aconn *c = xcalloc(1, sizeof(*c));
    c->srv = s;
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    uv_timer_init(server->loop, &c->idle);
    c->idle.data = c;
    c->handles = 2;
    list_insert_tail(&s->conns, &c->link);
    bool over = (unsigned)(s->open - 1) >= s->lim.max_conns; /* open counts the listener */
    s->open++;
    buf_init(&c->body, ADMIN_BODY_MAX);
    buf_init(&c->in, ADMIN_BODY_MAX + ADMIN_HEAD_MAX);
    http_reader_init(&c->reader, HTTP_READER_REQUEST, ADMIN_HEAD_MAX, &reader_cbs, c);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    uint64_t ms = s->lim.idle_ns / 1000000u;
    uv_timer_start(&c->idle, on_idle, ms ? ms : 1, ms ? ms : 1);
    if (over) {
        log_warn("admin", "%u connections open (admin.max_connections): refusing one",
                 s->lim.max_conns);
        respond_error(c, 503, "too_many_connections",
                      "too many admin connections open (admin.max_connections)");
        shutdown_conn(c);
        return;
    }
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
}

struct admin_server *admin_server_new(uv_loop_t *loop, const struct sockaddr *sa,
                                      const struct admin_server_limits *lim,
                                      admin_handler_cb *handler, void *ctx, struct err *err)
{
    int fd = net_listen_socket(sa, 128);
    char addr[80];
    net_addr_str(sa, addr, sizeof(addr));
    if (fd < 0) {
        err_set(err, fd, "admin: cannot listen on %s: %s", addr, uv_strerror(fd));
        return NULL;
    }
    struct admin_server *s = xcalloc(1, sizeof(*s));
    s->lim = *lim;
    s->handler = handler;
    s->ctx = ctx;
    list_init(&s->conns);
    uv_tcp_init(loop, &s->tcp);
    s->tcp.data = s;
    s->open = 1;
    int rc = uv_tcp_open(&s->tcp, fd);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->tcp, 128, on_connection);
    struct sockaddr_storage bound;
    int blen = sizeof(bound);
    if (rc == 0)
        rc = uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&bound, &blen);
    if (rc != 0) {
        err_set(err, rc, "admin: cannot listen on %s: %s", addr, uv_strerror(rc));
        admin_server_close(s);
        return NULL;
    }
    s->port = net_addr_port((struct sockaddr *)&bound);
    return s;
}

int admin_server_port(const struct admin_server *s)
{
    return s->port;
}

static void on_server_closed(uv_handle_t *h)
{
    struct admin_server *s = h->data;
    s->open--;
    srv_maybe_free(s);
}

void admin_server_close(struct admin_server *s)
{
    if (!s || s->closing)
        return;
    s->closing = true;
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &s->conns)
    {
        conn_close(list_entry(pos, struct aconn, link));
    }
    uv_close((uv_handle_t *)&s->tcp, on_server_closed);
}
