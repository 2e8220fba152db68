/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stream: try-then-copy writes on libuv streams (see stream.h).
 */
#include "net/stream.h"

#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

struct wreq {
    uv_write_t req;
    net_write_cb *cb;
    void *ctx;
    char data[]; /* the bytes the kernel did not take at once */
};

static void on_written(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    if (w->cb)
        w->cb(w->ctx, status);
    free(w);
}

int net_writev(uv_stream_t *s, const uv_buf_t *bufs, unsigned nbufs, net_write_cb *cb, void *ctx)
{
    size_t total = 0, done = 0;
    for (unsigned i = 0; i < nbufs; i++)
        total += bufs[i].len;
    if (s->write_queue_size == 0) {
        int n = uv_try_write(s, bufs, nbufs);
        if (n < 0 && n != UV_EAGAIN)
            return n;
        if (n > 0)
            done = (size_t)n;
        if (done == total)
            return 0;
    }
    /* Copy what the kernel did not take, skipping the done prefix across the pieces. */
    struct wreq *w = xmalloc(sizeof(*w) + (total - done));
    size_t off = 0, skip = done;
    for (unsigned i = 0; i < nbufs; i++) {
        size_t len = bufs[i].len, from = skip < len ? skip : len;
        skip -= from;
        memcpy(w->data + off, bufs[i].base + from, len - from);
        off += len - from;
    }
    w->cb = cb;
    w->ctx = ctx;
    uv_buf_t rest = uv_buf_init(w->data, (unsigned)off);
    int rc = uv_write(&w->req, s, &rest, 1, on_written);
    if (rc < 0) {
        free(w);
        return rc;
    }
    return 1;
}

int net_write2(uv_stream_t *s, const void *a, size_t alen, const void *b, size_t blen,
               net_write_cb *cb, void *ctx)
{
    uv_buf_t bufs[2] = {uv_buf_init((char *)a, (unsigned)alen),
                        uv_buf_init((char *)b, (unsigned)blen)};
    return net_writev(s, bufs, blen ? 2 : 1, cb, ctx);
}

int net_write(uv_stream_t *s, const void *data, size_t len, net_write_cb *cb, void *ctx)
{
    return net_write2(s, data, len, NULL, 0, cb, ctx);
}

void net_tune_tcp(uv_tcp_t *t)
{
    uv_tcp_nodelay(t, 1);
}
