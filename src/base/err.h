/* SPDX-License-Identifier: Apache-2.0 */
/*
 * err: a sentence for a human beside an errno-style code. Functions whose failure a
 * user must read (config, CLI, API) fill a struct err; everything else returns -errno.
 */
#ifndef DOPPEL_BASE_ERR_H
#define DOPPEL_BASE_ERR_H

#include <stdarg.h>

#define ERR_MSG_MAX 512

struct err {
    int code;              /* 0 or a negative errno */
    char msg[ERR_MSG_MAX]; /* lowercase, problem first; "" when code == 0 */
};

/* Clears err (NULL is allowed). */
void err_clear(struct err *err);
/* Fills err (NULL is allowed) and returns code, so callers can `return err_set(...)`. */
int err_set(struct err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int err_setv(struct err *err, int code, const char *fmt, va_list ap);
/* Prefixes the existing message with "prefix: ". */
void err_prefix(struct err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define BUG_ON(cond)                                                                               \
    do {                                                                                           \
        if (cond)                                                                                  \
            err_bug(__FILE__, __LINE__, #cond);                                                    \
    } while (0)
_Noreturn void err_bug(const char *file, int line, const char *what);

#endif
