/* SPDX-License-Identifier: Apache-2.0 */
/*
 * provision_probe: the readiness probe of a starting instance. Every probe interval one
 * attempt: connect to 127.0.0.1:<port> (inside the instance's network namespace when it is
 * sealed) and, for HTTP, send `GET <path>` and read the status line; 2xx or 3xx (or, for
 * TCP, an accepted connection) makes the instance ready. An attempt older than the probe
 * timeout is abandoned. The start timeout itself is provision_process.c's deadline.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "net/netns.h"
#include "provision/provision_inst.h"

static void attempt_closed(uv_handle_t *h)
{
    struct pinst *in = h->data;
    bool ok = in->presp_len == SIZE_MAX;
    in->probing = false;
    in->presp_len = 0;
    if (pinst_handle_closed(in))
        return; /* the instance was freed */
    if (ok && in->info.state == PROVISION_STARTING && !in->stopping)
        pinst_ready(in);
}

static void finish_attempt(struct pinst *in, bool ok)
{
    if (ok)
        in->presp_len = SIZE_MAX; /* marks success for attempt_closed */
    if (!uv_is_closing((uv_handle_t *)&in->ptcp))
        uv_close((uv_handle_t *)&in->ptcp, attempt_closed);
}

/* "HTTP/1.1 204 ..." -> true for 2xx/3xx once the status code has arrived. */
static int status_ok(const char *s, size_t len)
{
    if (len < 12)
        return -1;
    if (strncmp(s, "HTTP/1.", 7) != 0 || s[8] != ' ')
        return 0;
    return s[9] == '2' || s[9] == '3';
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)suggested;
    struct pinst *in = h->data;
    size_t room = sizeof(in->presp) - 1 - in->presp_len;
    *b = uv_buf_init(in->presp + in->presp_len, (unsigned)room);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    struct pinst *in = s->data;
    if (n < 0) {
        finish_attempt(in, false);
        return;
    }
    in->presp_len += (size_t)n;
    int ok = status_ok(in->presp, in->presp_len);
    if (ok >= 0 || in->presp_len >= sizeof(in->presp) - 1)
        finish_attempt(in, ok > 0);
}

static void on_written(uv_write_t *w, int status)
{
    struct pinst *in = w->data;
    if (status < 0)
        finish_attempt(in, false);
}

static void on_connect(uv_connect_t *c, int status)
{
    struct pinst *in = c->data;
    if (status < 0 || uv_is_closing((uv_handle_t *)&in->ptcp)) {
        if (status != UV_ECANCELED)
            finish_attempt(in, false);
        return;
    }
    if (in->probe.kind == PROVISION_PROBE_TCP) {
        finish_attempt(in, true);
        return;
    }
    int n = snprintf(in->preq, sizeof(in->preq),
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUser-Agent: doppel-probe\r\n"
                     "Connection: close\r\n\r\n",
                     in->probe.path, (unsigned)in->info.port);
    uv_buf_t b = uv_buf_init(in->preq, (unsigned)n);
    in->pwrite.data = in;
    if (uv_write(&in->pwrite, (uv_stream_t *)&in->ptcp, &b, 1, on_written) != 0 ||
        uv_read_start((uv_stream_t *)&in->ptcp, on_alloc, on_read) != 0)
        finish_attempt(in, false);
}

static void start_attempt(struct pinst *in)
{
    uv_tcp_init(in->pp->loop, &in->ptcp);
    in->ptcp.data = in;
    in->open_handles++;
    in->probing = true;
    in->presp_len = 0;
    in->probe_started_ns = clock_mono_ns();
    if (in->sealed) {
        int fd = net_netns_tcp_socket(in->info.netns);
        if (fd < 0 || uv_tcp_open(&in->ptcp, fd) != 0) {
            if (fd >= 0)
                close(fd);
            finish_attempt(in, false);
            return;
        }
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(in->info.port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    in->pconn.data = in;
    if (uv_tcp_connect(&in->pconn, &in->ptcp, (struct sockaddr *)&sa, on_connect) != 0)
        finish_attempt(in, false);
}

static void on_tick(uv_timer_t *t)
{
    struct pinst *in = t->data;
    if (in->info.state != PROVISION_STARTING || in->stopping)
        return;
    if (in->probing) {
        if (clock_mono_ns() - in->probe_started_ns > in->probe.timeout_ns)
            finish_attempt(in, false);
        return;
    }
    start_attempt(in);
}

void pprobe_start(struct pinst *in)
{
    if (in->probe.kind == PROVISION_PROBE_NONE) {
        pinst_ready(in);
        return;
    }
    uint64_t ms = in->probe.interval_ns / CLOCK_NS_PER_MS;
    uv_timer_start(&in->timer, on_tick, 0, ms ? ms : 1);
}

void pprobe_cancel(struct pinst *in)
{
    uv_timer_stop(&in->timer);
    if (in->probing)
        finish_attempt(in, false);
}
