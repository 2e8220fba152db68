/* SPDX-License-Identifier: Apache-2.0 */
/*
 * str: strict number parsing (whole string or error, no atoi), durations ("250ms", "2s",
 * "1m", "1h"), sizes ("64KiB", "8MiB", "1024"), and ASCII case-insensitive comparison of
 * non-terminated byte ranges, as HTTP header names need.
 */
#ifndef DOPPEL_BASE_STR_H
#define DOPPEL_BASE_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* All parsers return 0 or -EINVAL (not a number of that kind) or -ERANGE. */
int str_to_i64(const char *s, int64_t *out);
int str_to_u64(const char *s, uint64_t *out);
int str_to_double(const char *s, double *out);
/* "250ms", "2s", "1.5s", "1m", "1h", "100us"; a bare number is seconds. */
int str_to_duration_ns(const char *s, uint64_t *out);
/* "1024", "64KiB", "64KB", "8MiB", "1GiB"; K/M/G are powers of 1024. */
int str_to_size(const char *s, uint64_t *out);
/* Parses "true/false/yes/no/on/off". */
int str_to_bool(const char *s, bool *out);

bool str_ieq(const char *a, size_t alen, const char *b, size_t blen);
bool str_ieqz(const char *a, size_t alen, const char *z);
bool str_has_prefix(const char *s, size_t len, const char *prefix);
/* Whether n bytes are well-formed UTF-8 without NUL (so they can be a JSON string). */
bool str_utf8_text(const void *p, size_t n);

#endif
