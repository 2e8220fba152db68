/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mask_num: `noise` and `generalize:STEP` on numbers in PostgreSQL text form. Integers
 * are exact (int64 arithmetic, saturated to the column type's range); numeric and plain
 * decimal float text is floored to a multiple of the step exactly, in OpenSSL big
 * integers scaled by a power of ten (so generalize:0.1 of 0.3 is 0.3, not 0.2, and a
 * 30-digit numeric keeps every digit); float text with an exponent goes through doubles.
 * Noise is added in doubles and written back with the input's scale for numeric, rounded
 * for integers. Pure apart from the caller's generator.
 */
#include "datashadow/mask_num.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>

#include "base/err.h"
#include "base/str.h"
#include "base/xalloc.h"

#define NUM_TEXT_MAX 64 /* integers are shorter */

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
    if (!(step > 0 && step < 1e16))
        return false;
    int d = decimals_of(step);
    /* step * 10^d must be an exact double integer: it is written out in decimal. */
    return d >= 0 && step * pow(10, d) < 9e15;
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
    if (t == MASK_T_FLOAT && in[0] == ' ')
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

/* Decimal text without exponent (-?D+(.D+)?) as a big integer count of 10^-d, d at least
 * the text's decimals; NULL when the text is not of that form. */
static BIGNUM *scaled_bn(const char *in, size_t len, int d)
{
    char *digits = xmalloc(len + (size_t)d + 1), *p = digits;
    BIGNUM *v = NULL;
    int frac = -1;

    for (size_t i = in[0] == '-' ? 1 : 0; i < len; i++) {
        if (in[i] == '.' && frac < 0) {
            frac = 0;
            continue;
        }
        if (in[i] < '0' || in[i] > '9')
            goto out;
        *p++ = in[i];
        frac += frac >= 0;
    }
    for (frac = frac < 0 ? 0 : frac; frac < d; frac++)
        *p++ = '0';
    *p = '\0';
    if (p > digits && frac == d && BN_dec2bn(&v, digits) > 0)
        BN_set_negative(v, in[0] == '-');
out:
    free(digits);
    return v;
}

/* Writes v / 10^d with dstep decimals (v is a multiple of 10^(d - dstep)). */
static int write_scaled(const BIGNUM *v, int d, int dstep, struct buf *out)
{
    char *dec = BN_bn2dec(v);
    BUG_ON(!dec);
    const char *mag = dec + (dec[0] == '-');
    size_t n = strlen(mag), keep = n > (size_t)(d - dstep) ? n - (size_t)(d - dstep) : 0;
    size_t ipart = keep > (size_t)dstep ? keep - (size_t)dstep : 0;
    int rc = buf_printf(out, "%s%.*s", dec[0] == '-' ? "-" : "", (int)ipart, mag);
    if (rc == 0 && ipart == 0)
        rc = buf_append(out, "0", 1);
    if (rc == 0 && dstep > 0) /* left-pad the fraction with zeros when |v| < 10^dstep */
        rc = buf_printf(out, ".%.*s%.*s", dstep - (int)(keep - ipart), "000000000",
                        (int)(keep - ipart), mag + ipart);
    OPENSSL_free(dec);
    return rc;
}

/* Exact decimal flooring with big integers, in units of 10^-d, d the larger of the
 * value's and the step's decimals. False when in is not plain decimal text. */
static bool decimal_floor(const char *in, size_t len, double step, int dstep, struct buf *out,
                          int *rc)
{
    const char *dot = memchr(in, '.', len);
    int d = dot ? (int)(in + len - dot - 1) : 0;
    char sdig[32];

    d = d > dstep ? d : dstep;
    snprintf(sdig, sizeof(sdig), "%.*f", dstep, step);
    BIGNUM *x = scaled_bn(in, len, d), *s = scaled_bn(sdig, strlen(sdig), d);
    BIGNUM *q = BN_new(), *r = BN_new();
    BN_CTX *ctx = BN_CTX_new();
    bool ok = x && s && q && r && ctx && !BN_is_zero(s) && BN_div(q, r, x, s, ctx);
    if (ok && BN_is_negative(x) && !BN_is_zero(r))
        ok = BN_sub_word(q, 1);
    if (ok)
        ok = BN_mul(r, q, s, ctx);
    if (ok)
        *rc = write_scaled(r, d, dstep, out);
    BN_free(x);
    BN_free(s);
    BN_free(q);
    BN_free(r);
    BN_CTX_free(ctx);
    return ok;
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
    double r = floor(v / step) * step;
    /* Past 2^53 a double's decimals are noise: the shortest exact form says it all. */
    if (fabs(r) >= 9007199254740992.0)
        return buf_printf(out, "%.17g", r);
    return buf_printf(out, "%.*f", dstep, r);
}
