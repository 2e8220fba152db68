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

int net_write2(uv_stream_t *s, const void *a, size_t alen, const void *b, size_t blen,
               net_write_cb *cb, void *ctx)
{
    uv_buf_t bufs[2] = {uv_buf_init((char *)a, (unsigned)alen),
                        uv_buf_init((char *)b, (unsigned)blen)};
    unsigned nb = blen ? 2 : 1;
    size_t total = alen + blen, done = 0;
    if (s->write_queue_size == 0) {
        int n = uv_try_write(s, bufs, nb);
        if (n < 0 && n != UV_EAGAIN)
            return n;
        if (n > 0)
            done = (size_t)n;
        if (done == total)
            return 0;
    }
    struct wreq *w = xmalloc(sizeof(*w) + (total - done));
    size_t off = 0;
    if (done < alen) {
        memcpy(w->data, (const char *)a + done, alen - done);
        off = alen - done;
        if (blen)
            memcpy(w->data + off, b, blen);
        off += blen;
    } else {
        memcpy(w->data, (const char *)b + (done - alen), total - done);
        off = total - done;
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

int net_write(uv_stream_t *s, const void *data, size_t len, net_write_cb *cb, void *ctx)
{
    return net_write2(s, data, len, NULL, 0, cb, ctx);
}

void net_tune_tcp(uv_tcp_t *t)
{
    uv_tcp_nodelay(t, 1);
}
