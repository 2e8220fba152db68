/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stream: writing to libuv streams without the caller keeping buffers alive. A write is
 * tried at once (uv_try_write); only what the kernel did not take is copied and queued.
 * Callers watch stream->write_queue_size for backpressure; the completion callback
 * (called for queued writes only, also with UV_ECANCELED when the handle closes) lets
 * them resume when the queue drains.
 */
#ifndef DOPPEL_NET_STREAM_H
#define DOPPEL_NET_STREAM_H

#include <stddef.h>
#include <uv.h>

typedef void net_write_cb(void *ctx, int status);

/* Returns 0 (all written now), 1 (rest queued; cb will be called), or a negative libuv
 * error (nothing queued, cb not called). */
int net_write(uv_stream_t *s, const void *data, size_t len, net_write_cb *cb, void *ctx);
/* Several pieces in one system call (a response head, a chunk head, its data, ...). */
int net_writev(uv_stream_t *s, const uv_buf_t *bufs, unsigned nbufs, net_write_cb *cb, void *ctx);
/* Two pieces in one write (a chunk head and its data, say). */
int net_write2(uv_stream_t *s, const void *a, size_t alen, const void *b, size_t blen,
               net_write_cb *cb, void *ctx);
/* Sets TCP_NODELAY and keepalive on a connected TCP handle. */
void net_tune_tcp(uv_tcp_t *t);

#endif
