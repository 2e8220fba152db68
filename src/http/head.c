/* SPDX-License-Identifier: Apache-2.0 */
/*
 * head: queries on a parsed HTTP/1.x head (header lookup, hop-by-hop rules, reasons).
 */
#include "http/head.h"

#include <stdlib.h>
#include <string.h>

#include "base/str.h"

void http_head_release(struct http_head *h)
{
    if (!h)
        return;
    free(h->headers);
    free(h->raw);
    memset(h, 0, sizeof(*h));
}

const struct http_header *http_head_find(const struct http_head *h, const char *name)
{
    for (size_t i = 0; i < h->nheaders; i++)
        if (str_ieqz(h->headers[i].name, h->headers[i].name_len, name))
            return &h->headers[i];
    return NULL;
}

static const char *const hop_by_hop[] = {
    "connection", "keep-alive",          "proxy-connection",   "te", "trailer", "transfer-encoding",
    "upgrade",    "proxy-authorization", "proxy-authenticate",
};

/* Whether the comma-separated token list in (v, n) contains name. */
static bool list_has(const char *v, size_t n, const char *name, size_t name_len)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',' && v[i] != ' ' && v[i] != '\t')
            i++;
        if (i > s && str_ieq(v + s, i - s, name, name_len))
            return true;
    }
    return false;
}

bool http_head_is_hop_by_hop(const struct http_head *h, const struct http_header *hdr)
{
    for (size_t i = 0; i < sizeof(hop_by_hop) / sizeof(hop_by_hop[0]); i++)
        if (str_ieqz(hdr->name, hdr->name_len, hop_by_hop[i]))
            return true;
    for (size_t i = 0; i < h->nheaders; i++) {
        const struct http_header *c = &h->headers[i];
        if (str_ieqz(c->name, c->name_len, "connection") &&
            list_has(c->value, c->value_len, hdr->name, hdr->name_len))
            return true;
    }
    return false;
}

const char *http_status_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 417:
        return "Expectation Failed";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

bool http_method_idempotent(const char *m, size_t n)
{
    static const char *const ok[] = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (n == strlen(ok[i]) && memcmp(m, ok[i], n) == 0)
            return true;
    return false;
}

size_t http_target_path_len(const char *target, size_t len)
{
    const char *q = memchr(target, '?', len);
    return q ? (size_t)(q - target) : len;
}
