/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mask_num: the number rules, `noise` (Laplace noise of scale sensitivity / epsilon,
 * drawn from the caller's generator) and `generalize:STEP` (down to a multiple of STEP),
 * on integers (int2, int4, int8: results stay integers within the type's range), numeric
 * (text keeps its scale) and floats. Values come and go in PostgreSQL's text form; "NaN"
 * and the infinities are kept. Pure apart from the caller's generator; owns nothing.
 */
#ifndef DOPPEL_DATASHADOW_MASK_NUM_H
#define DOPPEL_DATASHADOW_MASK_NUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/rng.h"
#include "datashadow/mask.h"

#define MASK_STEP_MAX_DECIMALS 9

/* Whether step (> 0) has at most MASK_STEP_MAX_DECIMALS decimals. */
bool mask_num_step_ok(double step);
/* Whether step is a whole number (what integer columns need). */
bool mask_num_step_whole(double step);
/* One Laplace(0, scale) draw by inversion of 53 uniform bits. */
double mask_laplace(struct rng *rng, double scale);
/* An integer of type t (MASK_T_INT2, MASK_T_INT, MASK_T_INT8) in its range: 0 or -EINVAL. */
int mask_int_parse(enum mask_type t, const char *in, size_t len, int64_t *v);
void mask_int_range(enum mask_type t, int64_t *lo, int64_t *hi);
/* Whether in is a value of number type t (integer, numeric or float text). */
bool mask_num_valid(enum mask_type t, const char *in, size_t len);
/* Both append to out: 0, -EINVAL (in is not a number of type t) or -ENOSPC. */
int mask_num_noise(enum mask_type t, const char *in, size_t len, double scale, struct rng *rng,
                   struct buf *out);
int mask_num_generalize(enum mask_type t, const char *in, size_t len, double step, struct buf *out);

#endif
