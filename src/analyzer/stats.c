/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stats: pure statistics for the analyzer (see stats.h). Distributions first (normal,
 * incomplete beta, binomial), then sorting and quantiles, then the two-sample tests, the
 * Hodges-Lehmann interval, proportion tests and the bootstrap. Every result here has a
 * known-answer test against scipy or R in tests/unit/analyzer/test_stats.c.
 */
#include "analyzer/stats.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

/* ---- random numbers ---------------------------------------------------------------- */

/* ---- distributions ----------------------------------------------------------------- */

double stats_norm_cdf(double z)
{
    return 0.5 * erfc(-z / M_SQRT2);
}

double stats_norm_sf(double z)
{
    return 0.5 * erfc(z / M_SQRT2);
}

/* Acklam's rational approximation refined by one Halley step on erfc (full precision). */
double stats_norm_ppf(double p)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    if (!(p > 0))
        return -INFINITY;
    if (!(p < 1))
        return INFINITY;
    double x, q, r;
    if (p < 0.02425 || p > 1 - 0.02425) {
        q = sqrt(-2 * log(p < 0.5 ? p : 1 - p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        if (p > 0.5)
            x = -x;
    } else {
        q = p - 0.5;
        r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }
    /* cdf(x) - p, from the side where it keeps its digits */
    double e = p > 0.5 ? (1 - p) - stats_norm_sf(x) : stats_norm_cdf(x) - p;
    double u = e * sqrt(2 * M_PI) * exp(x * x / 2);
    return x - u / (1 + x * u / 2);
}

/* Continued fraction for the incomplete beta (modified Lentz). */
static double betacf(double a, double b, double x)
{
    const double tiny = 1e-300;
    double c = 1, d = 1 - (a + b) * x / (a + 1);
    d = 1 / (fabs(d) < tiny ? tiny : d);
    double h = d;
    for (int m = 1; m <= 10000; m++) {
        double m2 = 2.0 * m;
        double aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
        for (int half = 0; half < 2; half++) {
            d = 1 + aa * d;
            d = 1 / (fabs(d) < tiny ? tiny : d);
            c = 1 + aa / c;
            c = fabs(c) < tiny ? tiny : c;
            h *= d * c;
            if (half == 0)
                aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
        }
        if (fabs(d * c - 1) < 1e-16)
            break;
    }
    return h;
}

double stats_betainc(double a, double b, double x)
{
    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    double lbt = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    if (x < (a + 1) / (a + b + 2))
        return exp(lbt) * betacf(a, b, x) / a;
    return 1 - exp(lbt) * betacf(b, a, 1 - x) / b;
}

double stats_binom_cdf(double k, double n, double p)
{
    k = floor(k);
    if (k < 0)
        return 0;
    if (k >= n)
        return 1;
    return stats_betainc(n - k, k + 1, 1 - p);
}

double stats_binom_ppf(double q, double n, double p)
{
    double lo = 0, hi = n; /* invariant: cdf(hi) >= q; answer in [lo, hi] */
    if (stats_binom_cdf(0, n, p) >= q)
        return 0;
    while (hi - lo > 1) {
        double mid = floor((lo + hi) / 2);
        if (stats_binom_cdf(mid, n, p) >= q)
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

/* ---- sorting and quantiles --------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static uint64_t sort_key(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof(u));
    return (u >> 63) ? ~u : u ^ (1ULL << 63);
}

static double key_value(uint64_t k)
{
    uint64_t u = (k >> 63) ? k ^ (1ULL << 63) : ~k;
    double v;
    memcpy(&v, &u, sizeof(v));
    return v;
}

static uint64_t load_key(const double *v, size_t i)
{
    uint64_t k;
    memcpy(&k, (const char *)v + i * sizeof(k), sizeof(k));
    return k;
}

static void store_key(double *v, size_t i, uint64_t k)
{
    memcpy((char *)v + i * sizeof(k), &k, sizeof(k));
}

/* LSD radix sort, 11-bit digits, keys kept in v's own storage plus one buffer; digits on
 * which all keys agree are skipped. */
static void radix_sort(double *v, size_t n)
{
    enum { BITS = 11, NB = 1 << BITS, PASSES = 6 };
    double *t = xmalloc(n * sizeof(*t));
    size_t(*cnt)[NB] = xcalloc(PASSES, sizeof(*cnt));
    for (size_t i = 0; i < n; i++) {
        uint64_t k = sort_key(v[i]);
        store_key(v, i, k);
        for (int p = 0; p < PASSES; p++)
            cnt[p][(k >> (p * BITS)) & (NB - 1)]++;
    }
    double *a = v, *b = t;
    for (int p = 0; p < PASSES; p++) {
        int shift = p * BITS;
        if (cnt[p][(load_key(a, 0) >> shift) & (NB - 1)] == n)
            continue;
        size_t sum = 0;
        for (int d = 0; d < NB; d++) {
            size_t c = cnt[p][d];
            cnt[p][d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) {
            uint64_t k = load_key(a, i);
            store_key(b, cnt[p][(k >> shift) & (NB - 1)]++, k);
        }
        double *s = a;
        a = b;
        b = s;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = key_value(load_key(a, i));
    free(t);
    free(cnt);
}

void stats_sort(double *v, size_t n)
{
    if (n < 4096)
        qsort(v, n, sizeof(*v), cmp_double);
    else
        radix_sort(v, n);
}

double stats_quantile_sorted(const double *v, size_t n, double q)
{
    double h = (double)(n - 1) * q;
    size_t i = (size_t)floor(h);
    if (i >= n - 1)
        return v[n - 1];
    return v[i] + (h - (double)i) * (v[i + 1] - v[i]);
}

int stats_quantile_ci(const double *v, size_t n, double q, double conf, double *lo, double *hi)
{
    if (n == 0 || !(q > 0 && q < 1) || !(conf > 0 && conf < 1))
        return -EINVAL;
    double a = 1 - conf;
    double l = stats_binom_ppf(a / 2, (double)n, q);
    double u = stats_binom_ppf(1 - a / 2, (double)n, q) + 1;
    if (l < 1)
        l = 1;
    if (u > (double)n)
        u = (double)n;
    *lo = v[(size_t)l - 1];
    *hi = v[(size_t)u - 1];
    return 0;
}

/* |v - center| of sorted v is two sorted runs (below and above center): merge them. */
void stats_abs_dev_sorted(const double *v, size_t n, double center, double *out)
{
    size_t k = 0;
    while (k < n && v[k] < center)
        k++;
    size_t i = k, j = k, o = 0; /* i walks down from k - 1, j up from k */
    while (o < n) {
        double below = i > 0 ? center - v[i - 1] : INFINITY;
        double above = j < n ? v[j] - center : INFINITY;
        if (below <= above) {
            out[o++] = below;
            i--;
        } else {
            out[o++] = above;
            j++;
        }
    }
}

double stats_mad_sorted(const double *v, size_t n, double *scratch)
{
    stats_abs_dev_sorted(v, n, stats_quantile_sorted(v, n, 0.5), scratch);
    return stats_quantile_sorted(scratch, n, 0.5) / stats_norm_ppf(0.75);
}

/* ---- Mann-Whitney U ---------------------------------------------------------------- */

/* Sum of t^3 - t over the runs of equal values in sorted v. */
static double tie_term(const double *v, size_t n)
{
    double tt = 0;
    for (size_t i = 0; i < n;) {
        size_t a = 1;
        while (i + a < n && v[i + a] == v[i])
            a++;
        tt += (double)a * (double)a * (double)a - (double)a;
        i += a;
    }
    return tt;
}

/* Rank sum of x - d in the pooled sample with mid-ranks, as
 * R_x = m(m+1)/2 + sum_i (#{y < x_i - d} + #{y == x_i - d} / 2), and the pooled tie term
 * sum(t^3 - t): ty (y's own, shift-invariant) corrected where a run of x meets one of y.
 * x and y sorted ascending; one pass. */
static void rank_sum(const double *x, size_t m, const double *y, size_t n, double d, double ty,
                     double *rx, double *ties)
{
    size_t i = 0, j = 0;
    double less = 0, eq = 0, tt = ty;
    while (i < m) {
        double v = x[i] - d, a = 1;
        while (i + (size_t)a < m && x[i + (size_t)a] - d == v)
            a++;
        while (j < n && y[j] < v)
            j++;
        size_t k = j;
        while (k < n && y[k] == v)
            k++;
        double b = (double)(k - j), t = a + b;
        less += a * (double)j;
        eq += a * b;
        tt += t * t * t - t - (b * b * b - b);
        i += (size_t)a;
    }
    *rx = (double)m * ((double)m + 1) / 2 + less + eq / 2;
    *ties = tt;
}

/* Counts of U = 0..mn under the null: coefficients of the Gaussian binomial
 * [m+n choose m]_q = prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i). Returns the total. */
static double mw_counts(size_t m, size_t n, double *c)
{
    size_t top = m * n;
    memset(c, 0, (top + 1) * sizeof(*c));
    c[0] = 1;
    for (size_t i = 1; i <= m; i++) {
        for (size_t u = i; u <= top; u++)
            c[u] += c[u - i];
        for (size_t u = top; u >= n + i; u--)
            c[u] -= c[u - n - i];
    }
    double total = 0;
    for (size_t u = 0; u <= top; u++)
        total += c[u];
    return total;
}

static double counts_cdf(const double *c, size_t top, double total, double u)
{
    if (u < 0)
        return 0;
    double s = 0;
    for (size_t k = 0; k <= top && (double)k <= u; k++)
        s += c[k];
    return s / total > 1 ? 1 : s / total;
}

double stats_mw_exact_cdf(double u, size_t m, size_t n)
{
    if (m * n > 250000)
        return NAN;
    double *c = xmalloc((m * n + 1) * sizeof(*c));
    double total = mw_counts(m, n, c);
    double p = counts_cdf(c, m * n, total, floor(u));
    free(c);
    return p;
}

static double clip01(double p)
{
    return p < 0 ? 0 : p > 1 ? 1 : p;
}

/* P(U >= u) by symmetry: P(U <= mn - u). */
static double mw_exact_p(double u1, size_t m, size_t n, enum stats_alt alt)
{
    double mn = (double)(m * n), u2 = mn - u1;
    switch (alt) {
    case STATS_GREATER:
        return stats_mw_exact_cdf(mn - u1, m, n);
    case STATS_LESS:
        return stats_mw_exact_cdf(mn - u2, m, n);
    default:
        return clip01(2 * stats_mw_exact_cdf(mn - fmax(u1, u2), m, n));
    }
}

int stats_mann_whitney(const double *x, size_t m, const double *y, size_t n, enum stats_alt alt,
                       struct stats_mw *out)
{
    return stats_mann_whitney_shifted(x, m, y, n, 0, alt, out);
}

int stats_mann_whitney_shifted(const double *x, size_t m, const double *y, size_t n, double d,
                               enum stats_alt alt, struct stats_mw *out)
{
    if (m == 0 || n == 0)
        return -EINVAL;
    double rx, ties, mm = (double)m, nn = (double)n, N = mm + nn;
    rank_sum(x, m, y, n, d, tie_term(y, n), &rx, &ties);
    out->u = rx - mm * (mm + 1) / 2;
    out->exact = ties == 0 && m < 50 && n < 50;
    double mu = mm * nn / 2;
    double s = sqrt(mm * nn / 12 * ((N + 1) - ties / (N * (N - 1))));
    double u = alt == STATS_GREATER ? out->u
               : alt == STATS_LESS  ? mm * nn - out->u
                                    : fmax(out->u, mm * nn - out->u);
    out->z = s > 0 ? (u - mu - 0.5) / s : 0;
    if (out->exact) {
        out->p = mw_exact_p(out->u, m, n, alt);
        return 0;
    }
    out->p = s > 0 ? stats_norm_sf(out->z) : 1;
    if (alt == STATS_TWO_SIDED)
        out->p = clip01(2 * out->p);
    return 0;
}

int stats_van_elteren(const double *x, const size_t *xo, const double *y, const size_t *yo,
                      size_t k, double d, enum stats_alt alt, struct stats_mw *out)
{
    double sum = 0, var = 0;
    int used = 0;
    for (size_t s = 0; s < k; s++) {
        size_t m = xo[s + 1] - xo[s], n = yo[s + 1] - yo[s];
        if (m == 0 || n == 0)
            continue;
        double rx, ties, mm = (double)m, nn = (double)n, N = mm + nn, w = 1 / (N + 1);
        rank_sum(x + xo[s], m, y + yo[s], n, d, tie_term(y + yo[s], n), &rx, &ties);
        sum += w * (rx - mm * (mm + 1) / 2 - mm * nn / 2);
        var += w * w * mm * nn / 12 * ((N + 1) - ties / (N * (N - 1)));
        used = 1;
    }
    if (!used)
        return -EINVAL;
    out->u = sum;
    out->exact = 0;
    double z = var > 0 ? sum / sqrt(var) : 0;
    out->z = alt == STATS_LESS ? -z : alt == STATS_GREATER ? z : fabs(z);
    out->p = var > 0 ? stats_norm_sf(out->z) : 1;
    if (alt == STATS_TWO_SIDED)
        out->p = clip01(2 * out->p);
    return 0;
}

/* ---- Hodges-Lehmann ---------------------------------------------------------------- */

struct hl_ctx {
    const double *x, *y;
    size_t m, n;
    double ty;   /* tie term of y */
    int correct; /* continuity correction sign(dz) / 2, as R for the interval */
};

/* R's W(d): the normal score of the rank sum of x - d, minus zq. Decreasing in d. */
static double hl_w(const struct hl_ctx *c, double d, double zq)
{
    double rx, ties, mm = (double)c->m, nn = (double)c->n, N = mm + nn;
    rank_sum(c->x, c->m, c->y, c->n, d, c->ty, &rx, &ties);
    double dz = rx - mm * (mm + 1) / 2 - mm * nn / 2;
    double corr = c->correct ? (dz > 0 ? 0.5 : dz < 0 ? -0.5 : 0) : 0;
    double s = sqrt(mm * nn / 12 * ((N + 1) - ties / (N * (N - 1))));
    return (s > 0 ? (dz - corr) / s : 0) - zq;
}

/* Grows [a, b] from a guess until f changes sign, within [lo, hi]; fa, fb are f there. */
static void hl_bracket(const struct hl_ctx *c, double zq, double guess, double step, double lo,
                       double hi, double ab[2], double fab[2])
{
    double fg = hl_w(c, guess, zq), prev = guess, fprev = fg;
    double dir = fg > 0 ? 1 : -1;
    for (;;) {
        double next = guess + dir * step, fn;
        if (next <= lo || next >= hi) {
            next = dir > 0 ? hi : lo;
            fn = hl_w(c, next, zq);
        } else {
            fn = hl_w(c, next, zq);
            if ((fn > 0) == (fg > 0) && fn != 0) {
                prev = next;
                fprev = fn;
                step *= 2;
                continue;
            }
        }
        ab[0] = dir > 0 ? prev : next;
        fab[0] = dir > 0 ? fprev : fn;
        ab[1] = dir > 0 ? next : prev;
        fab[1] = dir > 0 ? fn : fprev;
        return;
    }
}

/* Root of the decreasing step function W(d) - zq bracketed by ab (Illinois, with a
 * bisection every third step so that steps of W cannot stall it). */
static double hl_root(const struct hl_ctx *c, double zq, const double ab[2], const double fab[2])
{
    double a = ab[0], b = ab[1], fa = fab[0], fb = fab[1];
    if (fa <= 0)
        return a;
    if (fb >= 0)
        return b;
    int side = 0;
    for (int it = 0; it < 200; it++) {
        double width = b - a;
        if (width <= 1e-9 * fmax(1, fmax(fabs(a), fabs(b))))
            break;
        double d = b - fb * (b - a) / (fb - fa);
        if (!(d > a && d < b) || it % 3 == 2)
            d = a + width / 2;
        double fd = hl_w(c, d, zq);
        if (fd == 0)
            return d;
        if (fd > 0) {
            a = d;
            fa = fd;
            if (side == 1)
                fb /= 2;
            side = 1;
        } else {
            b = d;
            fb = fd;
            if (side == -1)
                fa /= 2;
            side = -1;
        }
    }
    return a + (b - a) / 2;
}

static int hl_exact(const double *x, size_t m, const double *y, size_t n, double conf,
                    struct stats_interval *out)
{
    size_t mn = m * n;
    double *dif = xmalloc(mn * sizeof(*dif)), *cnt = xmalloc((mn + 1) * sizeof(*cnt));
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++)
            dif[i * n + j] = x[i] - y[j];
    qsort(dif, mn, sizeof(*dif), cmp_double);
    double total = mw_counts(m, n, cnt), a = 1 - conf, s = 0;
    size_t qu = 0; /* qwilcox(a/2, m, n): least q with P(U <= q) >= a/2 */
    for (; qu <= mn; qu++) {
        s += cnt[qu];
        if (s / total >= a / 2)
            break;
    }
    if (qu == 0)
        qu = 1;
    size_t ql = mn - qu;
    out->est = stats_quantile_sorted(dif, mn, 0.5);
    out->lo = dif[qu - 1];
    out->hi = dif[ql];
    free(dif);
    free(cnt);
    return 0;
}

int stats_hodges_lehmann(const double *x, size_t m, const double *y, size_t n, double conf,
                         struct stats_interval *out)
{
    if (m == 0 || n == 0 || !(conf > 0 && conf < 1))
        return -EINVAL;
    double ty = tie_term(y, n), rx, ties;
    rank_sum(x, m, y, n, 0, ty, &rx, &ties);
    if (ties == 0 && m < 50 && n < 50)
        return hl_exact(x, m, y, n, conf, out);
    double lo = x[0] - y[n - 1], hi = x[m - 1] - y[0], ab[2], fab[2];
    double guess = stats_quantile_sorted(x, m, 0.5) - stats_quantile_sorted(y, n, 0.5);
    double spread = (stats_quantile_sorted(x, m, 0.75) - stats_quantile_sorted(x, m, 0.25)) +
                    (stats_quantile_sorted(y, n, 0.75) - stats_quantile_sorted(y, n, 0.25));
    double step = spread > 0 ? spread / sqrt((double)(m < n ? m : n)) : (hi - lo) / 16 + 1e-300;
    double z = stats_norm_ppf(1 - (1 - conf) / 2);
    struct hl_ctx c = {.x = x, .y = y, .m = m, .n = n, .ty = ty, .correct = 0};
    hl_bracket(&c, 0, guess, step, lo, hi, ab, fab);
    out->est = hl_root(&c, 0, ab, fab);
    c.correct = 1;
    hl_bracket(&c, z, out->est, step, lo, hi, ab, fab);
    out->lo = hl_root(&c, z, ab, fab);
    hl_bracket(&c, -z, out->est, step, lo, hi, ab, fab);
    out->hi = hl_root(&c, -z, ab, fab);
    return 0;
}

/* ---- proportions ------------------------------------------------------------------- */

int stats_two_proportion(uint64_t k1, uint64_t n1, uint64_t k2, uint64_t n2, enum stats_alt alt,
                         double conf, struct stats_prop *out)
{
    if (n1 == 0 || n2 == 0 || k1 > n1 || k2 > n2 || !(conf > 0 && conf < 1))
        return -EINVAL;
    double a = (double)n1, b = (double)n2;
    out->p1 = (double)k1 / a;
    out->p2 = (double)k2 / b;
    double pp = (double)(k1 + k2) / (a + b), diff = out->p1 - out->p2;
    double se0 = sqrt(pp * (1 - pp) * (1 / a + 1 / b));
    out->z = se0 > 0 ? diff / se0 : 0;
    if (se0 == 0)
        out->p = 1;
    else if (alt == STATS_GREATER)
        out->p = stats_norm_sf(out->z);
    else if (alt == STATS_LESS)
        out->p = stats_norm_cdf(out->z);
    else
        out->p = clip01(2 * stats_norm_sf(fabs(out->z)));
    double se = sqrt(out->p1 * (1 - out->p1) / a + out->p2 * (1 - out->p2) / b);
    double z = stats_norm_ppf(1 - (1 - conf) / 2);
    out->lo = diff - z * se;
    out->hi = diff + z * se;
    return 0;
}

static double lchoose(double n, double k)
{
    return lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1);
}

static int fisher_take(enum stats_alt alt, double x, double x0, double rel)
{
    if (alt == STATS_GREATER)
        return x >= x0;
    if (alt == STATS_LESS)
        return x <= x0;
    return rel <= 1 + 1e-7; /* as likely as the table or less (R's and scipy's rule) */
}

/* Hypergeometric terms relative to the mode by the ratio recurrence, walked out from the
 * mode until they underflow, so large tables cost O(spread) and no lgamma per term. */
double stats_fisher_exact(uint64_t a, uint64_t b, uint64_t c, uint64_t d, enum stats_alt alt)
{
    double r1 = (double)(a + b), r2 = (double)(c + d), c1 = (double)(a + c);
    double xmin = fmax(0, c1 - r2), xmax = fmin(c1, r1), x0 = (double)a;
    double mode = floor((c1 + 1) * (r1 + 1) / (r1 + r2 + 2));
    mode = fmin(fmax(mode, xmin), xmax);
    double l0 = lchoose(r1, x0) + lchoose(r2, c1 - x0),
           lm = lchoose(r1, mode) + lchoose(r2, c1 - mode);
    double rel0 = exp(l0 - lm); /* P(x0) / P(mode) */
    double total = 0, taken = 0, t = 1;
    for (double x = mode; x <= xmax && t > 1e-300; x++) {
        total += t;
        taken += fisher_take(alt, x, x0, t / rel0) ? t : 0;
        t *= (r1 - x) * (c1 - x) / ((x + 1) * (r2 - c1 + x + 1));
    }
    t = 1;
    for (double x = mode - 1; x >= xmin && t > 1e-300; x--) {
        t *= (x + 1) * (r2 - c1 + x + 1) / ((r1 - x) * (c1 - x));
        total += t;
        taken += fisher_take(alt, x, x0, t / rel0) ? t : 0;
    }
    return clip01(taken / total);
}

/* k-th smallest (0-based) of the union of sorted a and sorted b shifted down by sb. */
static double kth_of_two(const double *a, size_t na, const double *b, size_t nb, double sb,
                         size_t k)
{
    size_t lo = k + 1 > nb ? k + 1 - nb : 0, hi = k + 1 < na ? k + 1 : na;
    while (lo < hi) {
        size_t i = lo + (hi - lo) / 2, j = k + 1 - i;
        if (j > 0 && i < na && a[i] < b[j - 1] - sb)
            lo = i + 1;
        else
            hi = i;
    }
    size_t j = k + 1 - lo;
    double va = lo > 0 ? a[lo - 1] : -INFINITY, vb = j > 0 ? b[j - 1] - sb : -INFINITY;
    return va > vb ? va : vb;
}

/* Number of values of sorted v, shifted down by s, above t. */
static size_t count_above(const double *v, size_t n, double s, double t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] - s <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return n - lo;
}

double stats_top_exceedance(const double *x, size_t m, const double *y, size_t n, double d,
                            size_t r)
{
    if (r == 0 || r >= m + n)
        return 1;
    double t = kth_of_two(y, n, x, m, d, m + n - r - 1);
    size_t ex = count_above(x, m, d, t), ey = count_above(y, n, 0, t);
    return stats_fisher_exact(ex, m - ex, ey, n - ey, STATS_GREATER);
}

/* ---- bootstrap and multiplicity ---------------------------------------------------- */

static void resample(const double *v, size_t n, double *out, struct rng *rng)
{
    for (size_t i = 0; i < n; i++)
        out[i] = v[rng_below64(rng, n)];
}

int stats_bootstrap_ci(const double *x, size_t m, const double *y, size_t n, stats_stat_cb *stat,
                       void *arg, unsigned b, double conf, struct rng *rng, double *lo, double *hi)
{
    if (m == 0 || n == 0 || b < 10 || !(conf > 0 && conf < 1))
        return -EINVAL;
    double *rx = xmalloc(m * sizeof(*rx)), *ry = xmalloc(n * sizeof(*ry));
    double *theta = xmalloc(b * sizeof(*theta));
    size_t k = 0;
    for (unsigned i = 0; i < b; i++) {
        resample(x, m, rx, rng);
        resample(y, n, ry, rng);
        double t = stat(rx, m, ry, n, arg);
        if (isfinite(t))
            theta[k++] = t;
    }
    int rc = 0;
    if (k < 2) {
        rc = -EDOM;
        goto out;
    }
    stats_sort(theta, k);
    *lo = stats_quantile_sorted(theta, k, (1 - conf) / 2);
    *hi = stats_quantile_sorted(theta, k, 1 - (1 - conf) / 2);
out:
    free(rx);
    free(ry);
    free(theta);
    return rc;
}

void stats_holm_weighted(double *p, const double *w, size_t k)
{
    size_t *idx = xmalloc((k ? k : 1) * sizeof(*idx));
    double left = 0;
    for (size_t i = 0; i < k; i++) {
        size_t j = i;
        for (; j > 0 && p[idx[j - 1]] / w[idx[j - 1]] > p[i] / w[i]; j--)
            idx[j] = idx[j - 1];
        idx[j] = i;
        left += w[i];
    }
    double run = 0;
    for (size_t r = 0; r < k; r++) {
        size_t i = idx[r];
        double adj = fmin(1, p[i] * left / w[i]);
        left -= w[i];
        run = fmax(run, adj);
        p[i] = run;
    }
    free(idx);
}

void stats_holm(double *p, size_t k)
{
    double *w = xmalloc((k ? k : 1) * sizeof(*w));
    for (size_t i = 0; i < k; i++)
        w[i] = 1;
    stats_holm_weighted(p, w, k);
    free(w);
}
