/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stream: the replication side of the data shadow. Starts logical replication from the
 * slot at an LSN (pgoutput, the configured publication; protocol version 1, or 2 with
 * streaming of large in-progress transactions when asked and the source is PostgreSQL 14
 * or later), hands each
 * XLogData payload to a callback, answers keepalives, and sends standby status updates
 * (written = flushed = applied = the last LSN durable on the shadow) at least every
 * status interval and whenever the source asks, so the slot keeps advancing on a quiet
 * database and its retained WAL stays small.
 */
#ifndef DOPPEL_DATASHADOW_STREAM_H
#define DOPPEL_DATASHADOW_STREAM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "base/err.h"

struct stream;
/* One message's payload; return 0 or -errno (stops the stream with err set). Called with
 * data NULL once per status interval just before the status update (and before the last
 * one), for periodic work such as making applied commits durable. */
typedef int stream_data_cb(struct stream *s, const char *data, size_t len, void *arg,
                           struct err *err);

/* Called when every message received so far has been handed over, before waiting. */
typedef int stream_idle_cb(struct stream *s, void *arg, struct err *err);

struct stream {
    PGconn *repl;         /* borrowed, replication=database */
    uint64_t flushed;     /* reported to the source as written, flushed and applied */
    uint64_t server_end;  /* the source's WAL end, from the last message */
    uint64_t last_status; /* monotonic ns of the last status update */
    uint64_t interval_ns;
    /* set by the callback owner: no transaction half-applied or held in a spool, all
     * durable; only then may a keepalive move flushed up to the source's end */
    bool idle;
    bool streaming; /* set before stream_start: ask for protocol version 2 streaming */
    int proto;      /* set by stream_start: the protocol version requested (1 or 2) */
    stream_data_cb *on_data;
    stream_idle_cb *on_idle; /* optional, set after stream_init */
    void *arg;
};

void stream_init(struct stream *s, PGconn *repl, uint64_t from, uint64_t interval_ns,
                 stream_data_cb *on_data, void *arg);
/* Protocol version 2 with `streaming 'on'` when s->streaming and the source is version 14
 * or later, else version 1. -EBUSY when the slot is still held by another connection
 * (say, the walsender of a process killed a moment ago, which the source has not noticed
 * yet). */
int stream_start(struct stream *s, const char *slot, const char *publication, struct err *err);
/* Reads and dispatches until *stop is set or an error; sends a last status update. */
int stream_run(struct stream *s, const atomic_bool *stop, struct err *err);
/* Sends a standby status update now. */
int stream_status(struct stream *s, bool reply, struct err *err);

#endif
