/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_http: the blocking GET the status and stress subcommands use to ask a running doppel
 * (admin API, /metrics): one connection, Connection: close, the response parsed by the
 * project's HTTP reader. Owns nothing past the call; the body is the caller's.
 */
#include "cli/cli_http.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/reader.h"
#include "net/addr.h"

static int on_head(void *ctx, struct http_head *head)
{
    struct cli_http_fetch *f = ctx;
    f->status = head->status;
    http_head_release(head);
    return 0;
}

static int on_body(void *ctx, const char *data, size_t len)
{
    struct cli_http_fetch *f = ctx;
    return buf_append(&f->body, data, len);
}

static int on_complete(void *ctx)
{
    ((struct cli_http_fetch *)ctx)->done = true;
    return 0;
}

static const struct http_reader_cbs fetch_cbs = {on_head, on_body, on_complete};

static int send_all(int fd, const char *s, size_t len)
{
    while (len) {
        ssize_t n = send(fd, s, len, MSG_NOSIGNAL);
        if (n <= 0)
            return -errno;
        s += n;
        len -= (size_t)n;
    }
    return 0;
}

static int exchange(int fd, const char *addr, const char *path, int timeout_ms,
                    struct cli_http_fetch *f)
{
    char req[1024];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nUser-Agent: "
                     "doppel-cli\r\n\r\n",
                     path, addr);
    if (n < 0 || (size_t)n >= sizeof(req))
        return -EINVAL;
    struct http_reader r;
    http_reader_init(&r, HTTP_READER_RESPONSE, 64 * 1024, &fetch_cbs, f);
    int rc = send_all(fd, req, (size_t)n);
    char b[16384];
    while (!rc && !f->done) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t got = poll(&p, 1, timeout_ms) == 1 ? recv(fd, b, sizeof(b), 0) : -1;
        if (got < 0 || http_reader_feed(&r, b, (size_t)got) < 0 || (got == 0 && !f->done))
            rc = -EIO;
    }
    http_reader_release(&r);
    return rc;
}

int cli_http_get(const char *addr, const char *path, const char *what, int timeout_ms,
                 struct cli_http_fetch *f, struct err *err)
{
    struct sockaddr_storage sa;
    if (net_addr_parse(addr, &sa, err) != 0)
        return err->code;
    int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), rc = 0;
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        rc = err_set(err, -errno, "cannot connect to %s at %s: %s", what, addr, strerror(errno));
        goto out;
    }
    rc = exchange(fd, addr, path, timeout_ms, f);
    if (rc)
        err_set(err, rc, "no valid answer from %s at %s", what, addr);
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

int cli_http_split_url(const char *url, char *addr, size_t addr_len, char *path, size_t path_len)
{
    const char *p = "http://";
    if (strncmp(url, p, strlen(p)) != 0)
        return -EINVAL;
    const char *host = url + strlen(p), *slash = strchr(host, '/');
    size_t hl = slash ? (size_t)(slash - host) : strlen(host);
    const char *rest = slash ? slash : "/";
    if (hl == 0 || hl >= addr_len || strlen(rest) >= path_len)
        return -EINVAL;
    memcpy(addr, host, hl);
    addr[hl] = '\0';
    snprintf(path, path_len, "%s", rest);
    return 0;
}
