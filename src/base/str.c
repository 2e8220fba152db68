/* SPDX-License-Identifier: Apache-2.0 */
/*
 * str: strict parsing and comparison helpers.
 */
#include "base/str.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int str_to_i64(const char *s, int64_t *out)
{
    char *end;
    if (!s || !*s)
        return -EINVAL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end)
        return -EINVAL;
    if (errno == ERANGE)
        return -ERANGE;
    *out = v;
    return 0;
}

int str_to_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return -EINVAL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end)
        return -EINVAL;
    if (errno == ERANGE)
        return -ERANGE;
    *out = v;
    return 0;
}

int str_to_double(const char *s, double *out)
{
    char *end;
    if (!s || !*s)
        return -EINVAL;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || isnan(v))
        return -EINVAL;
    if (errno == ERANGE || isinf(v))
        return -ERANGE;
    *out = v;
    return 0;
}

static int scaled(const char *s, const char *const *units, const double *mult, size_t n,
                  double bare, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return -EINVAL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || isnan(v) || v < 0)
        return -EINVAL;
    double m = 0;
    if (!*end) {
        m = bare;
    } else {
        for (size_t i = 0; i < n; i++)
            if (strcasecmp(end, units[i]) == 0)
                m = mult[i];
    }
    if (m == 0)
        return -EINVAL;
    double r = v * m;
    if (errno == ERANGE || r >= 1.8e19)
        return -ERANGE;
    *out = (uint64_t)llround(r);
    return 0;
}

int str_to_duration_ns(const char *s, uint64_t *out)
{
    static const char *const u[] = {"ns", "us", "ms", "s", "m", "min", "h"};
    static const double m[] = {1, 1e3, 1e6, 1e9, 60e9, 60e9, 3600e9};
    return scaled(s, u, m, sizeof(m) / sizeof(m[0]), 1e9, out);
}

int str_to_size(const char *s, uint64_t *out)
{
    static const char *const u[] = {"b", "k", "kb", "kib", "m", "mb", "mib", "g", "gb", "gib"};
    static const double m[] = {1,         1024.0,    1024.0,  1024.0,  1048576.0,
                               1048576.0, 1048576.0, 1 << 30, 1 << 30, 1 << 30};
    return scaled(s, u, m, sizeof(m) / sizeof(m[0]), 1, out);
}

int str_to_bool(const char *s, bool *out)
{
    static const char *const t[] = {"true", "yes", "on"}, *const f[] = {"false", "no", "off"};
    for (int i = 0; i < 3; i++) {
        if (strcasecmp(s, t[i]) == 0)
            return *out = true, 0;
        if (strcasecmp(s, f[i]) == 0)
            return *out = false, 0;
    }
    return -EINVAL;
}

bool str_ieq(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && strncasecmp(a, b, alen) == 0;
}

bool str_ieqz(const char *a, size_t alen, const char *z)
{
    return str_ieq(a, alen, z, strlen(z));
}

bool str_has_prefix(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(s, prefix, n) == 0;
}

bool str_utf8_text(const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (c == 0 || len == 0 || i + len > n || (len == 2 && c < 0xc2))
            return false;
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
        i += len;
    }
    return true;
}
