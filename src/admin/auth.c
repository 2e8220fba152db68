/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth: the admin API's bearer tokens (file format and rules in auth.h). Owns the digest
 * array of a struct auth; hashing and constant-time comparison are OpenSSL's.
 */
#include "admin/auth.h"

#include "base/buf.h"
#include "base/str.h"
#include "base/xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

void auth_init(struct auth *a)
{
    a->digests = NULL;
    a->n = 0;
}

void auth_release(struct auth *a)
{
    if (!a)
        return;
    free(a->digests);
    auth_init(a);
}

static int sha256(const void *data, size_t len, unsigned char out[AUTH_DIGEST_LEN])
{
    unsigned int n = 0;
    if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) || n != AUTH_DIGEST_LEN)
        return -EIO;
    return 0;
}

int auth_hash_hex(const char *token, char out[2 * AUTH_DIGEST_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char d[AUTH_DIGEST_LEN];
    int rc = sha256(token, strlen(token), d);
    if (rc)
        return rc;
    for (int i = 0; i < AUTH_DIGEST_LEN; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[2 * AUTH_DIGEST_LEN] = '\0';
    return 0;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Parses one trimmed, non-empty, non-comment line (starting at column col + 1) into out. */
static int parse_digest(const char *s, size_t len, const char *name, int line, size_t col,
                        unsigned char out[AUTH_DIGEST_LEN], struct err *err)
{
    for (size_t i = 0; i < len; i++)
        if (hex_value(s[i]) < 0)
            return err_set(err, -EINVAL,
                           "%s:%d:%zu: not a hex digit: expected a SHA-256 digest of 64 hex "
                           "characters (printf %%s TOKEN | sha256sum)",
                           name, line, col + i + 1);
    if (len != 2 * AUTH_DIGEST_LEN)
        return err_set(err, -EINVAL,
                       "%s:%d: expected a SHA-256 digest of 64 hex characters, got %zu", name, line,
                       len);
    for (size_t i = 0; i < AUTH_DIGEST_LEN; i++)
        out[i] = (unsigned char)(hex_value(s[2 * i]) << 4 | hex_value(s[2 * i + 1]));
    return 0;
}

int auth_parse(struct auth *a, const char *name, const char *text, size_t len, struct err *err)
{
    unsigned char(*d)[AUTH_DIGEST_LEN] = NULL;
    size_t n = 0, cap = 0;
    int rc = 0, line = 0;
    for (size_t pos = 0; pos < len; line++) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t start = pos, end = nl ? (size_t)(nl - text) : len, b = pos, e = end;
        pos = end + 1;
        while (b < e && is_space(text[b]))
            b++;
        while (e > b && is_space(text[e - 1]))
            e--;
        if (b == e || text[b] == '#')
            continue;
        if (n == cap)
            d = xreallocarray(d, cap = cap ? 2 * cap : 4, sizeof(*d));
        rc = parse_digest(text + b, e - b, name, line + 1, b - start, d[n++], err);
        if (rc)
            goto out;
    }
    if (n == 0) {
        rc = err_set(err, -EINVAL, "%s: no token digests (one SHA-256 hex digest per line)", name);
        goto out;
    }
    free(a->digests);
    a->digests = d;
    a->n = n;
    d = NULL;
out:
    free(d);
    return rc;
}

static int read_file(const char *path, struct buf *b, struct err *err)
{
    FILE *f = fopen(path, "rb");
    char chunk[4096];
    int rc = 0;
    if (!f)
        return err_set(err, -errno, "%s: cannot open: %s", path, strerror(errno));
    for (size_t got; (got = fread(chunk, 1, sizeof(chunk), f)) > 0;) {
        if (buf_append(b, chunk, got) != 0) {
            rc = err_set(err, -EFBIG, "%s: larger than %d bytes", path, AUTH_FILE_MAX);
            goto out;
        }
    }
    if (ferror(f))
        rc = err_set(err, -EIO, "%s: cannot read", path);
out:
    fclose(f);
    return rc;
}

int auth_load(struct auth *a, const char *path, struct err *err)
{
    struct buf b;
    buf_init(&b, AUTH_FILE_MAX);
    int rc = read_file(path, &b, err);
    if (rc == 0)
        rc = auth_parse(a, path, b.data ? b.data : "", b.len, err);
    buf_release(&b);
    return rc;
}

static int is_token68_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

/* token68 (RFC 7235): one or more of ALPHA DIGIT - . _ ~ + /, then any number of "=". */
static int is_token68(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && is_token68_char(s[i]))
        i++;
    while (i > 0 && i < len && s[i] == '=')
        i++;
    return i > 0 && i == len;
}

enum auth_result auth_check(const struct auth *a, const char *authorization, size_t len)
{
    size_t b = 0, e = len;
    if (!authorization)
        return AUTH_MISSING;
    while (b < e && is_space(authorization[b]))
        b++;
    while (e > b && is_space(authorization[e - 1]))
        e--;
    if (b == e)
        return AUTH_MISSING;
    if (e - b < 6 || !str_ieq(authorization + b, 6, "Bearer", 6) ||
        (e - b > 6 && !is_space(authorization[b + 6])))
        return AUTH_MISSING; /* another scheme: no bearer credentials were offered */
    b += 6;
    while (b < e && is_space(authorization[b]))
        b++;
    if (!is_token68(authorization + b, e - b))
        return AUTH_INVALID;
    unsigned char d[AUTH_DIGEST_LEN];
    if (sha256(authorization + b, e - b, d) != 0)
        return AUTH_INVALID;
    int match = 0;
    for (size_t i = 0; i < a->n; i++) /* no early exit: every digest costs the same */
        match |= CRYPTO_memcmp(d, a->digests[i], AUTH_DIGEST_LEN) == 0;
    return match ? AUTH_OK : AUTH_INVALID;
}
