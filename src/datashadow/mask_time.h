/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mask_time: dates and timestamps in PostgreSQL's ISO text form (DateStyle ISO, the
 * default), parsed into days and seconds on the proleptic Gregorian calendar so `shift`
 * can move them and `generalize` truncate them, then written back in the same form: the
 * fractional seconds and the zone offset are kept exactly as they came, as is "infinity".
 *   date         YYYY-MM-DD[ BC]
 *   timestamp    YYYY-MM-DD HH:MM:SS[.ffffff][ BC]
 *   timestamptz  YYYY-MM-DD HH:MM:SS[.ffffff]+HH[:MM[:SS]][ BC]
 * Pure; owns nothing (the struct points into the caller's text).
 */
#ifndef DOPPEL_DATASHADOW_MASK_TIME_H
#define DOPPEL_DATASHADOW_MASK_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

struct mask_time {
    bool infinite;    /* "infinity" or "-infinity": kept as written (text below) */
    bool has_time;    /* a timestamp, not a date */
    int64_t days;     /* since 1970-01-01 */
    int64_t secs;     /* into the day, 0..86399 */
    const char *frac; /* ".ffffff" or ""; borrowed */
    size_t frac_len;
    const char *zone; /* "+02", "-05:30" or ""; borrowed */
    size_t zone_len;
    const char *text; /* the whole input, for infinite values; borrowed */
    size_t text_len;
};

/* 0, or -EINVAL when s is not a date (has_time false) or timestamp in ISO form. */
int mask_time_parse(const char *s, size_t len, bool has_time, struct mask_time *t);
int mask_time_format(const struct mask_time *t, struct buf *out);
/* Moves by secs seconds (a date by whole days: secs / 86400, toward zero). */
void mask_time_shift(struct mask_time *t, int64_t secs);
/* Truncates to the start of its "year", "month", "day" or "hour"; -EINVAL on another
 * unit. Fractional seconds go. */
int mask_time_truncate(struct mask_time *t, const char *unit);
/* Days since 1970-01-01 of a proleptic Gregorian date (year 0 is 1 BC), and back. */
int64_t mask_days_from_civil(int64_t y, unsigned m, unsigned d);
void mask_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

#endif
