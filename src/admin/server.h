/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server: the admin listener's HTTP/1.1 plumbing on the main (control) loop — accept,
 * parse with the http reader, cap the body, hand one complete request at a time to a
 * handler, write its answer, keep the connection alive (within an idle timeout and a cap
 * on open connections). It never runs on a data-path
 * worker, so handlers may take locks and allocate freely.
 */
#ifndef DOPPEL_ADMIN_SERVER_H
#define DOPPEL_ADMIN_SERVER_H

#include <stddef.h>
#include <sys/socket.h>
#include <uv.h>

#include "base/buf.h"
#include "base/err.h"
#include "http/head.h"

#define ADMIN_BODY_MAX (64 * 1024)

struct admin_request {
    const struct http_head *head;
    const char *path;  /* NUL-terminated copy of the target's path */
    const char *query; /* after '?', or "" */
    const char *body;
    size_t body_len;
};

struct admin_response {
    int status;
    const char *content_type; /* static string */
    struct buf body;
    const char *extra_headers; /* static "Name: value\r\n" lines, or NULL */
};

typedef void admin_handler_cb(void *ctx, const struct admin_request *req,
                              struct admin_response *resp);

struct admin_server;

/* What one client may hold: a connection that sends nothing for idle_ns (between requests
 * or stalled inside one) is closed; beyond max_conns open connections a new one is answered
 * 503 and closed. */
struct admin_server_limits {
    uint64_t idle_ns;
    unsigned max_conns;
};

struct admin_server *admin_server_new(uv_loop_t *loop, const struct sockaddr *sa,
                                      const struct admin_server_limits *lim,
                                      admin_handler_cb *handler, void *ctx, struct err *err);
/* The port actually bound (for listen addresses with port 0). */
int admin_server_port(const struct admin_server *s);
/* Closes the listener and every connection; frees once the handles are closed. */
void admin_server_close(struct admin_server *s);

#endif
