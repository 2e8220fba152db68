/* SPDX-License-Identifier: Apache-2.0 */
/*
 * anonymize: rewriting of the request copies sent to shadows (see anonymize.h). Pseudonyms
 * are HMAC-SHA256 from OpenSSL, through the key the route table prepared (model/hmac_key.h)
 * or, for rules without one, the one-shot HMAC(); the rest is byte copying into the
 * caller's buffer, which is rolled back to where it was when the cap is reached, so a
 * failed call leaves no half header behind. No state of its own: the rules are borrowed.
 */
#include "mirror/anonymize.h"

#include <errno.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/err.h"
#include "base/str.h"
#include "http/writer.h"
#include "model/hmac_key.h"

/* Fields that repeat a client address; pseudonymized when hash_client_ip is set, so the
 * address a proxy in front of doppel recorded does not leak past the one doppel hashes. */
static const char *const client_addr_fields[] = {
    "x-real-ip", "forwarded", "true-client-ip", "cf-connecting-ip", "x-client-ip",
};

static int rollback(struct buf *out, size_t mark, int rc)
{
    if (rc && out->data) {
        out->len = mark;
        out->data[mark] = '\0';
    }
    return rc;
}

static bool list_has_ci(char *const *list, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (str_ieqz(name, len, list[i]))
            return true;
    return false;
}

static bool list_has_raw(char *const *list, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(list[i]) == len && memcmp(list[i], name, len) == 0)
            return true;
    return false;
}

int anonymize_pseudonym(const struct anonymize_rules *r, const char *value, size_t len,
                        struct buf *out)
{
    static const char digits[] = "0123456789abcdef";
    static const unsigned char empty[1];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char text[ANONYMIZE_PSEUDONYM_LEN];

    BUG_ON(r->key_len > sizeof(r->key));
    if (r->prepared) {
        if (hmac_key_sha256(r->prepared, value, len, md) != 0)
            return -EIO;
    } else {
        /* Rules built without a prepared key (tools, tests): the one-shot form. OpenSSL
         * refuses a NULL key even of length 0, and a NULL message pointer. */
        const void *key = r->key_len ? (const void *)r->key : (const void *)empty;
        const unsigned char *msg = len ? (const unsigned char *)value : empty;
        if (!HMAC(EVP_sha256(), key, (int)r->key_len, msg, len, md, &mdlen) || mdlen < 16)
            return -EIO;
    }
    memcpy(text, "anon-", 5);
    for (size_t i = 0; i < 16; i++) {
        text[5 + 2 * i] = digits[md[i] >> 4];
        text[6 + 2 * i] = digits[md[i] & 15];
    }
    return buf_append(out, text, sizeof(text));
}

/* One name[=value] parameter, value pseudonymized when the name is in hash_query. */
static int write_param(const struct anonymize_rules *r, const char *p, size_t n, struct buf *out)
{
    const char *eq = memchr(p, '=', n);
    if (!eq || eq + 1 == p + n || !list_has_raw(r->hash_query, r->nhash_query, p, (size_t)(eq - p)))
        return buf_append(out, p, n);
    int rc = buf_append(out, p, (size_t)(eq - p) + 1);
    if (!rc)
        rc = anonymize_pseudonym(r, eq + 1, (size_t)(p + n - eq - 1), out);
    return rc;
}

/* The query (after '?', before '#'), '?' included; the '?' goes when every parameter was
 * removed. */
static int write_query(const struct anonymize_rules *r, const char *q, size_t n, struct buf *out)
{
    size_t mark = out->len, i = 0;
    bool kept = false, removed = false;
    int rc = buf_append(out, "?", 1);
    while (!rc) {
        const char *amp = memchr(q + i, '&', n - i);
        size_t end = amp ? (size_t)(amp - q) : n;
        const char *eq = memchr(q + i, '=', end - i);
        size_t name_len = eq ? (size_t)(eq - q) - i : end - i;
        if (list_has_raw(r->strip_query, r->nstrip_query, q + i, name_len)) {
            removed = true;
        } else {
            if (kept)
                rc = buf_append(out, "&", 1);
            if (!rc)
                rc = write_param(r, q + i, end - i, out);
            kept = true;
        }
        if (!amp)
            break;
        i = end + 1;
    }
    if (!rc && removed && !kept) {
        out->len = mark;
        out->data[mark] = '\0';
    }
    return rc;
}

int anonymize_target(const struct anonymize_rules *r, const char *target, size_t len,
                     struct buf *out)
{
    size_t mark = out->len;
    const char *frag = memchr(target, '#', len);
    size_t before_frag = frag ? (size_t)(frag - target) : len;
    const char *q = memchr(target, '?', before_frag);
    if (!q)
        return buf_append(out, target, len);
    size_t path_len = (size_t)(q - target);
    int rc = buf_append(out, target, path_len);
    if (!rc)
        rc = write_query(r, q + 1, before_frag - path_len - 1, out);
    if (!rc && frag)
        rc = buf_append(out, frag, len - before_frag);
    return rollback(out, mark, rc);
}

/* X-Forwarded-For is a list of addresses: each is pseudonymized on its own, so the shadow
 * still sees how many proxies the request passed. *first says whether no address has been
 * written yet (for the ", " between them). */
static int write_addr_list(const struct anonymize_rules *r, const char *v, size_t n, bool hash,
                           bool *first, struct buf *out)
{
    size_t i = 0;
    int rc = 0;
    while (!rc && i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',' && v[i] != ' ' && v[i] != '\t')
            i++;
        if (i == s)
            break;
        if (!*first)
            rc = buf_append(out, ", ", 2);
        if (!rc)
            rc = hash ? anonymize_pseudonym(r, v + s, i - s, out) : buf_append(out, v + s, i - s);
        *first = false;
    }
    return rc;
}

static int write_hashed_field(const struct anonymize_rules *r, const struct http_header *h,
                              bool is_list, struct buf *out)
{
    int rc = buf_append(out, h->name, h->name_len);
    if (!rc)
        rc = buf_append(out, ": ", 2);
    bool first = true;
    if (!rc && h->value_len)
        rc = is_list ? write_addr_list(r, h->value, h->value_len, true, &first, out)
                     : anonymize_pseudonym(r, h->value, h->value_len, out);
    if (!rc)
        rc = buf_append(out, "\r\n", 2);
    return rc;
}

static bool is_client_addr_field(const struct http_header *h)
{
    for (size_t i = 0; i < sizeof(client_addr_fields) / sizeof(client_addr_fields[0]); i++)
        if (str_ieqz(h->name, h->name_len, client_addr_fields[i]))
            return true;
    return false;
}

static bool skipped(const struct http_header *h, const char *const *skip)
{
    for (; skip && *skip; skip++)
        if (str_ieqz(h->name, h->name_len, *skip))
            return true;
    return false;
}

int anonymize_headers(const struct anonymize_rules *r, const struct http_head *req,
                      const char *const *skip, struct buf *out)
{
    size_t mark = out->len;
    int rc = 0;
    for (size_t i = 0; !rc && i < req->nheaders; i++) {
        const struct http_header *h = &req->headers[i];
        if (http_head_is_hop_by_hop(req, h) || skipped(h, skip) ||
            list_has_ci(r->drop_headers, r->ndrop_headers, h->name, h->name_len))
            continue;
        bool xff = str_ieqz(h->name, h->name_len, "x-forwarded-for");
        if (r->hash_client_ip && (xff || is_client_addr_field(h)))
            rc = write_hashed_field(r, h, xff, out);
        else if (list_has_ci(r->hash_headers, r->nhash_headers, h->name, h->name_len))
            rc = write_hashed_field(r, h, false, out);
        else
            rc = http_write_header(out, h->name, h->name_len, h->value, h->value_len);
    }
    return rollback(out, mark, rc);
}

int anonymize_client_ip(const struct anonymize_rules *r, const char *ip, struct buf *out)
{
    if (r->hash_client_ip)
        return anonymize_pseudonym(r, ip, strlen(ip), out);
    return buf_appends(out, ip);
}

int anonymize_forwarded_for(const struct anonymize_rules *r, const struct http_head *req,
                            const char *ip, struct buf *out)
{
    size_t mark = out->len;
    bool first = true;
    int rc = 0;
    for (size_t i = 0; !rc && i < req->nheaders; i++) {
        const struct http_header *h = &req->headers[i];
        if (str_ieqz(h->name, h->name_len, "x-forwarded-for"))
            rc = write_addr_list(r, h->value, h->value_len, r->hash_client_ip, &first, out);
    }
    if (!rc && !first)
        rc = buf_append(out, ", ", 2);
    if (!rc)
        rc = anonymize_client_ip(r, ip, out);
    return rollback(out, mark, rc);
}
