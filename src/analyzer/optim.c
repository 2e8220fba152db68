/* SPDX-License-Identifier: Apache-2.0 */
/*
 * optim: Nelder-Mead simplex minimisation (Nelder & Mead 1965, with the standard
 * coefficients reflection 1, expansion 2, contraction 1/2, shrink 1/2 as in R's optim()).
 * Sits under the forecaster in the analyzer; owns nothing beyond its stack frame.
 */
#include "analyzer/optim.h"

#include <errno.h>
#include <math.h>
#include <string.h>

struct simplex {
    size_t dim;
    double pt[OPTIM_MAX_DIM + 1][OPTIM_MAX_DIM];
    double val[OPTIM_MAX_DIM + 1];
};

/* Index of the best, worst and second-worst vertices. */
static void simplex_order(const struct simplex *s, size_t *lo, size_t *hi, size_t *nh)
{
    *lo = 0;
    *hi = 0;
    for (size_t i = 1; i <= s->dim; i++) {
        if (s->val[i] < s->val[*lo])
            *lo = i;
        if (s->val[i] > s->val[*hi])
            *hi = i;
    }
    *nh = *lo;
    for (size_t i = 0; i <= s->dim; i++)
        if (i != *hi && s->val[i] > s->val[*nh])
            *nh = i;
}

/* out = centroid + t * (centroid - worst), the centroid taken without the worst vertex. */
static void simplex_line(const struct simplex *s, size_t hi, double t, double *out)
{
    for (size_t j = 0; j < s->dim; j++) {
        double c = 0;
        for (size_t i = 0; i <= s->dim; i++)
            if (i != hi)
                c += s->pt[i][j];
        c /= (double)s->dim;
        out[j] = c + t * (c - s->pt[hi][j]);
    }
}

static double eval(optim_fn_cb *fn, void *ctx, const double *x, size_t *nev)
{
    (*nev)++;
    double v = fn(x, ctx);
    return isnan(v) ? INFINITY : v;
}

static void simplex_shrink(struct simplex *s, size_t lo, optim_fn_cb *fn, void *ctx, size_t *nev)
{
    for (size_t i = 0; i <= s->dim; i++) {
        if (i == lo)
            continue;
        for (size_t j = 0; j < s->dim; j++)
            s->pt[i][j] = s->pt[lo][j] + 0.5 * (s->pt[i][j] - s->pt[lo][j]);
        s->val[i] = eval(fn, ctx, s->pt[i], nev);
    }
}

/* One Nelder-Mead iteration on the worst vertex. */
static void simplex_step(struct simplex *s, optim_fn_cb *fn, void *ctx, size_t *nev)
{
    size_t lo, hi, nh;
    double xr[OPTIM_MAX_DIM], xe[OPTIM_MAX_DIM];
    simplex_order(s, &lo, &hi, &nh);
    simplex_line(s, hi, 1.0, xr);
    double fr = eval(fn, ctx, xr, nev);
    if (fr < s->val[lo]) {
        simplex_line(s, hi, 2.0, xe);
        double fe = eval(fn, ctx, xe, nev);
        int use_e = fe < fr;
        memcpy(s->pt[hi], use_e ? xe : xr, s->dim * sizeof(double));
        s->val[hi] = use_e ? fe : fr;
        return;
    }
    if (fr < s->val[nh]) {
        memcpy(s->pt[hi], xr, s->dim * sizeof(double));
        s->val[hi] = fr;
        return;
    }
    /* Contract: outside when the reflected point beats the worst, inside otherwise. */
    double t = fr < s->val[hi] ? 0.5 : -0.5;
    simplex_line(s, hi, t, xe);
    double fc = eval(fn, ctx, xe, nev);
    if (fc < fmin(fr, s->val[hi])) {
        memcpy(s->pt[hi], xe, s->dim * sizeof(double));
        s->val[hi] = fc;
        return;
    }
    simplex_shrink(s, lo, fn, ctx, nev);
}

int optim_nelder_mead(optim_fn_cb *fn, void *ctx, double *x, const double *step, size_t dim,
                      size_t max_evals, double tol, double *fmin_out)
{
    if (dim == 0 || dim > OPTIM_MAX_DIM)
        return -EINVAL;
    struct simplex s = {.dim = dim};
    size_t nev = 0, lo, hi, nh;
    for (size_t i = 0; i <= dim; i++) {
        memcpy(s.pt[i], x, dim * sizeof(double));
        if (i > 0)
            s.pt[i][i - 1] += step[i - 1];
        s.val[i] = eval(fn, ctx, s.pt[i], &nev);
    }
    for (;;) {
        simplex_order(&s, &lo, &hi, &nh);
        double spread = fabs(s.val[hi] - s.val[lo]);
        if (nev >= max_evals || spread <= tol * (fabs(s.val[lo]) + tol))
            break;
        simplex_step(&s, fn, ctx, &nev);
    }
    memcpy(x, s.pt[lo], dim * sizeof(double));
    if (fmin_out)
        *fmin_out = s.val[lo];
    return 0;
}
