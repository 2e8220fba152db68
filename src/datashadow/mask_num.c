/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mask_num: `noise` and `generalize:STEP` on numbers in PostgreSQL text form. Integers
 * are exact (int64 arithmetic, saturated to the column type's range); numeric and float
 * values are rounded to a multiple of the step in scaled integers when the decimal text
 * allows it (so generalize:0.1 of 0.3 is 0.3, not 0.2), in doubles past 18 digits. Noise
 * is added in doubles and written back with the input's scale for numeric, rounded for
 * integers. Pure apart from the caller's generator.
 */
#include "datashadow/mask_num.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "base/xalloc.h"

#define NUM_TEXT_MAX 64 /* integers and floats are shorter; numeric goes through the heap */

static int decimals_of(double step)
{
    double p = 1;
    for (int d = 0; d <= MASK_STEP_MAX_DECIMALS; d++, p *= 10) {
        double v = step * p;
        if (fabs(v - nearbyint(v)) <= 1e-9 * v)
            return d;
    }
    return -1;
}

bool mask_num_step_ok(double step)
{
    return step > 0 && step < 1e18 && decimals_of(step) >= 0;
}

bool mask_num_step_whole(double step)
{
    return decimals_of(step) == 0;
}

double mask_laplace(struct rng *rng, double scale)
{
    /* u uniform on (-1/2, 1/2), never an end point, so the logarithm stays finite. */
    double u = ((double)(rng_next(rng) >> 11) + 0.5) / 9007199254740992.0 - 0.5;
    double x = -scale * log1p(-2 * fabs(u));
    return u < 0 ? -x : x;
}

void mask_int_range(enum mask_type t, int64_t *lo, int64_t *hi)
{
    *lo = t == MASK_T_INT2 ? INT16_MIN : t == MASK_T_INT ? INT32_MIN : INT64_MIN;
    *hi = t == MASK_T_INT2 ? INT16_MAX : t == MASK_T_INT ? INT32_MAX : INT64_MAX;
}

int mask_int_parse(enum mask_type t, const char *in, size_t len, int64_t *v)
{
    char num[NUM_TEXT_MAX];
    int64_t lo, hi;

    if (len == 0 || len >= sizeof(num) || !(in[0] == '-' || (in[0] >= '0' && in[0] <= '9')))
        return -EINVAL;
    memcpy(num, in, len);
    num[len] = '\0';
    mask_int_range(t, &lo, &hi);
    if (str_to_i64(num, v) < 0 || *v < lo || *v > hi)
        return -EINVAL;
    return 0;
}

static bool is_int_type(enum mask_type t)
{
    return t == MASK_T_INT2 || t == MASK_T_INT || t == MASK_T_INT8;
}

static bool is_special(const char *in, size_t len)
{
    return (len == 3 && memcmp(in, "NaN", 3) == 0) ||
           (len == 8 && memcmp(in, "Infinity", 8) == 0) ||
           (len == 9 && memcmp(in, "-Infinity", 9) == 0);
}

/* -?D+(.D+)?: numeric's output form; *scale gets the number of decimals. */
static bool numeric_syntax(const char *in, size_t len, int *scale)
{
    size_t i = in[0] == '-' ? 1 : 0, start = i, dot = 0;
    for (; i < len; i++) {
        if (in[i] == '.' && !dot && i > start)
            dot = i;
        else if (in[i] < '0' || in[i] > '9')
            return false;
    }
    *scale = dot ? (int)(len - dot - 1) : 0;
    return len > start && (!dot || dot < len - 1);
}

/* A finite double from numeric or float text; -EINVAL otherwise. */
static int to_double(enum mask_type t, const char *in, size_t len, double *v, int *scale)
{
    *scale = 0;
    if (len == 0 || (t == MASK_T_NUMERIC && !numeric_syntax(in, len, scale)))
        return -EINVAL;
    if (t == MASK_T_FLOAT && (len >= NUM_TEXT_MAX || in[0] == ' '))
        return -EINVAL;
    char *copy = xstrndup(in, len);
    int rc = str_to_double(copy, v) == 0 ? 0 : -EINVAL;
    free(copy);
    return rc;
}

bool mask_num_valid(enum mask_type t, const char *in, size_t len)
{
    int64_t i;
    double d;
    int scale;

    if (is_int_type(t))
        return mask_int_parse(t, in, len, &i) == 0;
    return is_special(in, len) || to_double(t, in, len, &d, &scale) == 0;
}

static int64_t saturate(enum mask_type t, int64_t v, double add)
{
    int64_t lo, hi;
    mask_int_range(t, &lo, &hi);
    double r = nearbyint(add);
    if (r >= 9.2e18)
        return hi;
    if (r <= -9.2e18)
        return lo;
    int64_t s;
    if (__builtin_add_overflow(v, (int64_t)r, &s))
        return r > 0 ? hi : lo;
    return s < lo ? lo : s > hi ? hi : s;
}

int mask_num_noise(enum mask_type t, const char *in, size_t len, double scale, struct rng *rng,
                   struct buf *out)
{
    int64_t i;
    double d;
    int dec;

    if (is_int_type(t)) {
        if (mask_int_parse(t, in, len, &i) < 0)
            return -EINVAL;
        return buf_printf(out, "%lld", (long long)saturate(t, i, mask_laplace(rng, scale)));
    }
    if (is_special(in, len))
        return buf_append(out, in, len);
    if (to_double(t, in, len, &d, &dec) < 0)
        return -EINVAL;
    d += mask_laplace(rng, scale);
    if (t == MASK_T_FLOAT)
        return buf_printf(out, "%.17g", d);
    return buf_printf(out, "%.*f", dec, d);
}

/* The largest multiple of s at or below x, within t's range (0 is always a multiple). */
static int64_t int_floor(enum mask_type t, int64_t x, int64_t s)
{
    int64_t q = x / s, r, lo, hi;

    if (x % s != 0 && x < 0)
        q--;
    mask_int_range(t, &lo, &hi);
    if (!__builtin_mul_overflow(q, s, &r) && r >= lo)
        return r;
    if (!__builtin_mul_overflow(q + 1, s, &r) && r <= hi)
        return r;
    return 0;
}

/* Decimal text without exponent as an integer count of 10^-d; false past int64 or when
 * the text has non-zero digits past d decimals. */
static bool scaled_int(const char *in, size_t len, int d, int64_t *out)
{
    size_t i = in[0] == '-' ? 1 : 0;
    int64_t v = 0;
    int frac = -1;

    for (; i < len; i++) {
        if (in[i] == '.' && frac < 0) {
            frac = 0;
            continue;
        }
        if (in[i] < '0' || in[i] > '9')
            return false;
        if (frac == d) {
            if (in[i] != '0')
                return false;
            continue;
        }
        if (frac >= 0)
            frac++;
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, in[i] - '0', &v))
            return false;
    }
    for (frac = frac < 0 ? 0 : frac; frac < d; frac++)
        if (__builtin_mul_overflow(v, 10, &v))
            return false;
    *out = in[0] == '-' ? -v : v;
    return true;
}

static int64_t pow10i(int d)
{
    int64_t p = 1;
    while (d-- > 0)
        p *= 10;
    return p;
}

/* Exact decimal flooring in units of 10^-d, d the larger of the value's and the step's
 * decimals; false when the numbers do not fit in int64 (the caller uses doubles). */
static bool decimal_floor(const char *in, size_t len, double step, int dstep, struct buf *out,
                          int *rc)
{
    const char *dot = memchr(in, '.', len);
    int d = dot ? (int)(in + len - dot - 1) : 0;
    int64_t x, s, q, r;
    double sd = nearbyint(step * (double)pow10i(dstep));

    d = d > dstep ? d : dstep;
    if (d > 18 || sd >= 9e18 || !scaled_int(in, len, d, &x) ||
        __builtin_mul_overflow((int64_t)sd, pow10i(d - dstep), &s))
        return false;
    q = x / s;
    if (x % s != 0 && x < 0)
        q--;
    if (__builtin_mul_overflow(q, s, &r))
        return false;
    r /= pow10i(d - dstep); /* exact: s is a multiple of 10^(d - dstep) */
    uint64_t mag = r < 0 ? (uint64_t)0 - (uint64_t)r : (uint64_t)r, p = (uint64_t)pow10i(dstep);
    *rc = buf_printf(out, "%s%llu", r < 0 ? "-" : "", (unsigned long long)(mag / p));
    if (*rc == 0 && dstep > 0)
        *rc = buf_printf(out, ".%0*llu", dstep, (unsigned long long)(mag % p));
    return true;
}

int mask_num_generalize(enum mask_type t, const char *in, size_t len, double step, struct buf *out)
{
    int64_t i;
    double v;
    int dec, dstep = decimals_of(step), rc = 0;

    if (is_int_type(t)) {
        if (mask_int_parse(t, in, len, &i) < 0 || dstep != 0)
            return -EINVAL;
        return buf_printf(out, "%lld", (long long)int_floor(t, i, (int64_t)nearbyint(step)));
    }
    if (is_special(in, len))
        return buf_append(out, in, len);
    if (to_double(t, in, len, &v, &dec) < 0 || dstep < 0)
        return -EINVAL;
    if (decimal_floor(in, len, step, dstep, out, &rc))
        return rc;
    return buf_printf(out, "%.*f", dstep, floor(v / step) * step);
}
