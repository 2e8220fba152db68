/* SPDX-License-Identifier: Apache-2.0 */
/*
 * accesslog: structured access lines (see accesslog.h).
 */
#include "observer/accesslog.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/xalloc.h"

struct accesslog {
    FILE *f;
    bool own;
    enum accesslog_format fmt;
    pthread_mutex_t mu;
};

struct accesslog *accesslog_open(const char *path, enum accesslog_format fmt, struct err *err)
{
    FILE *f = strcmp(path, "-") == 0 ? stderr : fopen(path, "a");
    if (!f) {
        err_set(err, -errno, "access log '%s': %s", path, strerror(errno));
        return NULL;
    }
    struct accesslog *al = xcalloc(1, sizeof(*al));
    al->f = f;
    al->own = f != stderr;
    al->fmt = fmt;
    pthread_mutex_init(&al->mu, NULL);
    if (al->own)
        setvbuf(f, NULL, _IOFBF, 64 * 1024);
    return al;
}

void accesslog_close(struct accesslog *al)
{
    if (!al)
        return;
    accesslog_flush(al);
    if (al->own)
        fclose(al->f);
    pthread_mutex_destroy(&al->mu);
    free(al);
}

void accesslog_flush(struct accesslog *al)
{
    pthread_mutex_lock(&al->mu);
    fflush(al->f);
    pthread_mutex_unlock(&al->mu);
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates,
 * nothing past U+10FFFF), or 0 when the bytes there are not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
    if (s[0] < 0xc2 || s[0] > 0xf4 || n < len)
        return 0;
    unsigned char lo = 0x80, hi = 0xbf;
    if (s[0] == 0xe0)
        lo = 0xa0;
    else if (s[0] == 0xed)
        hi = 0x9f;
    else if (s[0] == 0xf0)
        lo = 0x90;
    else if (s[0] == 0xf4)
        hi = 0x8f;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

/* Appends s as a JSON string body (quotes not included), escaping what JSON requires. A
 * request target is client bytes: a byte that is not part of well-formed UTF-8 becomes
 * U+FFFD, so every line stays valid JSON (RFC 8259 text is UTF-8). */
static void json_escape(struct buf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        size_t len;
        if (ch == '"' || ch == '\\')
            buf_printf(out, "\\%c", ch);
        else if (ch < 0x20 || ch == 0x7f)
            buf_printf(out, "\\u%04x", ch);
        else if (ch < 0x80)
            buf_append(out, &s[i], 1);
        else if ((len = utf8_len((const unsigned char *)s + i, n - i)) != 0) {
            buf_append(out, &s[i], len);
            i += len - 1;
        } else
            buf_appends(out, "\\ufffd");
    }
}

int accesslog_format(enum accesslog_format fmt, const struct exchange *ex, struct buf *out)
{
    uint64_t lat_us = ex->t_done > ex->t_start ? (ex->t_done - ex->t_start) / 1000 : 0;
    const char *route = ex->route ? ex->route->name : "";
    const char *svc = ex->service ? ex->service->name : "";
    size_t plen = ex->req.target ? http_target_path_len(ex->req.target, ex->req.target_len) : 0;
    if (fmt == ACCESSLOG_JSON) {
        buf_printf(out,
                   "{\"id\":\"%s\",\"service\":\"%s\",\"route\":\"%s\",\"client\":\"%s\","
                   "\"method\":\"",
                   ex->id_str, svc, route, ex->client_ip);
        json_escape(out, ex->req.method ? ex->req.method : "", ex->req.method_len);
        buf_appends(out, "\",\"path\":\"");
        json_escape(out, ex->req.target ? ex->req.target : "", plen);
        return buf_printf(out,
                          "\",\"status\":%d,\"error\":\"%s\",\"latency_us\":%llu,"
                          "\"bytes_in\":%llu,\"bytes_out\":%llu}",
                          ex->status, exchange_error_name(ex->error), (unsigned long long)lat_us,
                          (unsigned long long)ex->bytes_in, (unsigned long long)ex->bytes_out);
    }
    buf_printf(out, "id=%s service=%s route=%s client=%s method=%.*s path=\"", ex->id_str, svc,
               route, ex->client_ip, (int)ex->req.method_len, ex->req.method ? ex->req.method : "");
    json_escape(out, ex->req.target ? ex->req.target : "", plen);
    return buf_printf(out, "\" status=%d error=%s latency_us=%llu bytes_in=%llu bytes_out=%llu",
                      ex->status, exchange_error_name(ex->error), (unsigned long long)lat_us,
                      (unsigned long long)ex->bytes_in, (unsigned long long)ex->bytes_out);
}

void accesslog_exchange_done(struct exchange *ex, void *ctx)
{
    struct accesslog *al = ctx;
    struct buf line;
    buf_init(&line, 16 * 1024);
    accesslog_format(al->fmt, ex, &line);
    pthread_mutex_lock(&al->mu);
    fwrite(line.data, 1, line.len, al->f);
    fputc('\n', al->f);
    pthread_mutex_unlock(&al->mu);
    buf_release(&line);
}
