/* SPDX-License-Identifier: Apache-2.0 */
/*
 * buf: a growable byte buffer with a hard maximum. Appending past the maximum fails with
 * -ENOSPC and leaves the buffer unchanged, so user-sized input can never grow memory
 * without bound.
 */
#ifndef DOPPEL_BASE_BUF_H
#define DOPPEL_BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data; /* owned; NUL-terminated after every append (not counted in len) */
    size_t len;
    size_t cap;
    size_t max; /* appends past this fail with -ENOSPC */
};

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
void buf_reset(struct buf *b);
int buf_append(struct buf *b, const void *data, size_t n);
int buf_appends(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Makes room for n more bytes in one allocation, content unchanged (-ENOSPC past the
 * maximum, which later appends would meet anyway). */
int buf_reserve(struct buf *b, size_t n);
/* Appends n bytes for the caller to fill and returns where they start (NULL, the buffer
 * unchanged, when that would pass the maximum). */
void *buf_extend(struct buf *b, size_t n);
/* Removes the first n bytes. */
void buf_consume(struct buf *b, size_t n);
/* Hands the data to the caller (who frees it) and resets the buffer. */
char *buf_steal(struct buf *b, size_t *len);

#endif
