/* SPDX-License-Identifier: Apache-2.0 */
/*
 * err: error sentences for users and the BUG_ON trap for broken invariants.
 */
#include "base/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void err_clear(struct err *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}

int err_setv(struct err *err, int code, const char *fmt, va_list ap)
{
    if (err) {
        err->code = code;
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    }
    return code;
}

int err_set(struct err *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_setv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

void err_prefix(struct err *err, const char *fmt, ...)
{
    char pre[ERR_MSG_MAX], old[ERR_MSG_MAX];
    va_list ap;
    if (!err)
        return;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof(pre), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    /* Joined by hand: snprintf("%s: %s") into a buffer of the same size trips
     * -Wformat-truncation, which CI builds treat as an error. Truncation is intended. */
    size_t n = 0, cap = sizeof(err->msg) - 1;
    for (const char *parts[] = {pre, ": ", old}, **p = parts; p < parts + 3; p++) {
        size_t len = strlen(*p);
        if (len > cap - n)
            len = cap - n;
        memcpy(err->msg + n, *p, len);
        n += len;
    }
    err->msg[n] = '\0';
}

void err_bug(const char *file, int line, const char *what)
{
    fprintf(stderr, "doppel: BUG at %s:%d: %s\n", file, line, what);
    abort();
}
