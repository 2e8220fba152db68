/* SPDX-License-Identifier: Apache-2.0 */
/*
 * accesslog: one structured line per finished exchange (JSON or logfmt), off by default.
 * Workers append under a mutex into a stdio buffer; the control loop flushes it every
 * second, so a worker writes to the file only when the buffer fills.
 */
#ifndef DOPPEL_OBSERVER_ACCESSLOG_H
#define DOPPEL_OBSERVER_ACCESSLOG_H

#include "base/buf.h"
#include "base/err.h"
#include "model/exchange.h"

enum accesslog_format { ACCESSLOG_JSON = 1, ACCESSLOG_LOGFMT };

struct accesslog;

/* path "-" is standard error. */
struct accesslog *accesslog_open(const char *path, enum accesslog_format fmt, struct err *err);
void accesslog_close(struct accesslog *al);
void accesslog_flush(struct accesslog *al);
/* Formats one exchange into out (no trailing newline); exposed for tests. */
int accesslog_format(enum accesslog_format fmt, const struct exchange *ex, struct buf *out);
/* An exchange_done_cb: ctx is the struct accesslog. */
void accesslog_exchange_done(struct exchange *ex, void *ctx);

#endif
