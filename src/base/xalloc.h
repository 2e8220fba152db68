/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xalloc: allocation that aborts on exhaustion. User-sized input is capped elsewhere
 * (see buf.h), so running out of memory here is a broken machine, not bad input.
 */
#ifndef DOPPEL_BASE_XALLOC_H
#define DOPPEL_BASE_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
/* Grows an array of nmemb elements of size to at least need elements (doubling). */
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
