/* SPDX-License-Identifier: Apache-2.0 */
/*
 * capacity: the queueing-aware latency fit, resource lines and the instance plan (see
 * capacity.h). Pure: works only in the caller's memory.
 */
#include "analyzer/capacity.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define GN_ITERS 50

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double capacity_quantile(double *v, size_t n, double p)
{
    if (n == 0)
        return NAN;
    qsort(v, n, sizeof(*v), cmp_double);
    double h = (double)(n - 1) * p;
    size_t lo = (size_t)floor(h);
    size_t hi = lo + 1 < n ? lo + 1 : lo;
    return v[lo] + (h - (double)lo) * (v[hi] - v[lo]);
}

/* Weighted least squares line y = a + b x. Returns -EINVAL when x has no spread. */
static int line_fit(const double *x, const double *y, const double *w, size_t n, double *a,
                    double *b)
{
    double sw = 0, sx = 0, sy = 0;
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1;
        sw += wi, sx += wi * x[i], sy += wi * y[i];
    }
    double mx = sx / sw, my = sy / sw, sxx = 0, sxy = 0;
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1;
        sxx += wi * (x[i] - mx) * (x[i] - mx);
        sxy += wi * (x[i] - mx) * (y[i] - my);
    }
    if (!(sxx > 0))
        return -EINVAL;
    *b = sxy / sxx;
    *a = my - *b * mx;
    return 0;
}

/* Sum of squared residuals of the model; infinite when a point lies at or past cap. */
static double sse(const double *x, const double *y, size_t n, double base, double cap)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double u = 1 - x[i] / cap;
        if (!(u > 0))
            return INFINITY;
        double r = y[i] - base / u;
        s += r * r;
    }
    return s;
}

/* One Gauss-Newton step in (base, q = 1 / cap) with step halving; 0 when it improved. */
static int gn_step(const double *x, const double *y, size_t n, double *base, double *q)
{
    double jtj[3] = {0}, jtr[2] = {0};
    for (size_t i = 0; i < n; i++) {
        double u = 1 - x[i] * *q, f = *base / u;
        double db = 1 / u, dq = *base * x[i] / (u * u), r = y[i] - f;
        jtj[0] += db * db, jtj[1] += db * dq, jtj[2] += dq * dq;
        jtr[0] += db * r, jtr[1] += dq * r;
    }
    double det = jtj[0] * jtj[2] - jtj[1] * jtj[1];
    if (!(fabs(det) > 0))
        return -1;
    double sb = (jtj[2] * jtr[0] - jtj[1] * jtr[1]) / det;
    double sq = (jtj[0] * jtr[1] - jtj[1] * jtr[0]) / det;
    double old = sse(x, y, n, *base, 1 / *q);
    for (double t = 1; t > 1e-6; t /= 2) {
        double nb = *base + t * sb, nq = *q + t * sq;
        if (nb > 0 && nq > 0 && sse(x, y, n, nb, 1 / nq) < old) {
            *base = nb, *q = nq;
            return 0;
        }
    }
    return -1;
}

int capacity_fit_latency(const double *x, const double *y, size_t n, double *base, double *cap)
{
    if (n < 3)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!(x[i] >= 0) || !(y[i] > 0) || !isfinite(x[i]) || !isfinite(y[i]))
            return -EINVAL;
    /* 1/y = 1/base - x/(base cap) is a line; weights y^2 make its residuals comparable
     * to residuals in y, a good start for the fit on y itself. */
    double a0, a1, sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (size_t i = 0; i < n; i++) {
        double w = y[i] * y[i], z = 1 / y[i];
        sw += w, sx += w * x[i], sy += w * z;
        sxx += w * x[i] * x[i], sxy += w * x[i] * z;
    }
    double d = sw * sxx - sx * sx;
    if (!(d > 0))
        return -EINVAL;
    a1 = (sw * sxy - sx * sy) / d;
    a0 = (sy - a1 * sx) / sw;
    if (!(a1 < 0) || !(a0 > 0))
        return -EDOM;
    double b = 1 / a0, q = -a1 / a0;
    for (size_t i = 0; i < n; i++) /* the start must keep every point below cap */
        if (x[i] * q >= 0.999)
            q = 0.999 / x[i];
    for (int it = 0; it < GN_ITERS; it++) {
        double ob = b, oq = q;
        if (gn_step(x, y, n, &b, &q) != 0 ||
            (fabs(b - ob) <= 1e-12 * b && fabs(q - oq) <= 1e-12 * q))
            break;
    }
    *base = b;
    *cap = 1 / q;
    return 0;
}

static double resid_quantile(const double *x, const double *y, size_t n, double a, double b,
                             double p, double *work)
{
    for (size_t i = 0; i < n; i++)
        work[i] = y[i] - (a + b * x[i]);
    return fmax(0, capacity_quantile(work, n, p));
}

/* Copies one column of obs into dst. */
static void column(const struct capacity_obs *obs, size_t n, size_t off, double *dst)
{
    for (size_t i = 0; i < n; i++)
        memcpy(&dst[i], (const char *)&obs[i] + off, sizeof(double));
}

int capacity_fit_all(const struct capacity_obs *obs, size_t n, double *work,
                     struct capacity_fit *fit)
{
    memset(fit, 0, sizeof(*fit));
    if (n < 3)
        return -EINVAL;
    double *x = work, *y = work + n, *r = work + 2 * n;
    column(obs, n, offsetof(struct capacity_obs, load_rps), x);
    column(obs, n, offsetof(struct capacity_obs, latency_p99_ms), y);
    int rc = capacity_fit_latency(x, y, n, &fit->base_ms, &fit->cap_rps);
    if (rc)
        return rc;
    double s = sse(x, y, n, fit->base_ms, fit->cap_rps);
    fit->latency_rmse_ms = sqrt(s / (double)n);
    fit->n = n;
    for (size_t i = 0; i < n; i++)
        fit->max_load_rps = fmax(fit->max_load_rps, x[i]);
    column(obs, n, offsetof(struct capacity_obs, cpu_cores), y);
    if ((rc = line_fit(x, y, NULL, n, &fit->cpu0, &fit->cpu_per_rps)))
        return rc;
    fit->cpu_resid_p90 = resid_quantile(x, y, n, fit->cpu0, fit->cpu_per_rps, 0.90, r);
    column(obs, n, offsetof(struct capacity_obs, memory_mb), y);
    if ((rc = line_fit(x, y, NULL, n, &fit->mem0, &fit->mem_per_rps)))
        return rc;
    fit->mem_resid_p95 = resid_quantile(x, y, n, fit->mem0, fit->mem_per_rps, 0.95, r);
    return 0;
}

int capacity_plan(const struct capacity_fit *fit, double target_p99_ms, double peak_rps,
                  double margin, struct capacity_plan *plan)
{
    memset(plan, 0, sizeof(*plan));
    if (!(peak_rps > 0) || !(margin >= 0) || !isfinite(target_p99_ms) || !isfinite(peak_rps) ||
        !isfinite(margin) || !(fit->cap_rps > 0) || !(fit->base_ms > 0))
        return -EINVAL;
    if (!(target_p99_ms > fit->base_ms))
        return -EDOM;
    /* base / (1 - x / cap) = target  <=>  x = cap (1 - base / target) */
    plan->knee_rps = fit->cap_rps * (1 - fit->base_ms / target_p99_ms);
    plan->safe_rps = plan->knee_rps / (1 + margin);
    plan->extrapolated = plan->knee_rps > fit->max_load_rps;
    double k = ceil(peak_rps / plan->safe_rps - 1e-9);
    if (!(k <= 1e6))
        return -EDOM;
    plan->instances = k < 1 ? 1 : (int)k;
    double x = peak_rps / plan->instances;
    plan->load_per_instance = x;
    plan->latency_at_peak_ms = fit->base_ms / (1 - x / fit->cap_rps);
    plan->cpu_cores = (fit->cpu0 + fit->cpu_per_rps * x + fit->cpu_resid_p90) * (1 + margin);
    plan->memory_mb = (fit->mem0 + fit->mem_per_rps * x + fit->mem_resid_p95) * (1 + margin);
    return 0;
}
