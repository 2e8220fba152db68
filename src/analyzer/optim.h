/* SPDX-License-Identifier: Apache-2.0 */
/*
 * optim: derivative-free minimisation (Nelder-Mead simplex) of a small number of
 * parameters, used by the forecaster to fit smoothing parameters. Part of the pure
 * analyzer: no allocation (the simplex lives on the stack, OPTIM_MAX_DIM parameters at
 * most), no I/O, no state between calls, so it is deterministic and thread-safe.
 */
#ifndef DOPPEL_ANALYZER_OPTIM_H
#define DOPPEL_ANALYZER_OPTIM_H

#include <stddef.h>

#define OPTIM_MAX_DIM 8

/* The objective: x has dim values; returns the value to minimise (may be +inf). */
typedef double optim_fn_cb(const double *x, void *ctx);

/*
 * Minimises fn starting from x (dim values, overwritten with the best point found),
 * with initial simplex steps step[i] along each axis. Stops after max_evals evaluations
 * or when the simplex values differ by less than tol (relative to their size).
 * Returns 0 and the minimum in *fmin, or -EINVAL for a bad dim.
 */
int optim_nelder_mead(optim_fn_cb *fn, void *ctx, double *x, const double *step, size_t dim,
                      size_t max_evals, double tol, double *fmin);

#endif
