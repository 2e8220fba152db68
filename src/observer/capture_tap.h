/* SPDX-License-Identifier: Apache-2.0 */
/*
 * capture_tap: records finished exchanges into capture files (docs/capture-format.md) off
 * the data path. The worker that finishes an exchange (or a shadow's copy of it) encodes a
 * compact record — the anonymized request exactly as the mirror sends it and the primary's
 * response, or a shadow's response alone (its request is in the primary record, same id) —
 * and pushes it into its own bounded single-producer queue; one writer thread drains every
 * queue to disk (replay/capture_writer.h rotates the files). A full queue drops the record
 * and counts it; nothing on the worker ever waits for the disk. Sampling is decided from the
 * exchange id, so the primary and shadow records of one request are kept or dropped together.
 * The anonymized head is the one the mirror kept on the exchange (ex->copy_head) when it
 * sent copies; otherwise it comes from a hook the composition root sets (mirror_copy_head),
 * so this room needs no mirror code. Owns the queues, the writer thread and its writer.
 */
#ifndef DOPPEL_OBSERVER_CAPTURE_TAP_H
#define DOPPEL_OBSERVER_CAPTURE_TAP_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "model/exchange.h"

/* Appends the anonymized request head (request line, header fields, empty line) of ex. */
typedef int capture_tap_head_cb(const struct exchange *ex, struct buf *out);

struct capture_tap_config {
    const char *path; /* strftime pattern (replay/capture_writer.h) */
    uint64_t max_file;
    unsigned sample_percent; /* 0..100 */
    unsigned nworkers;
    unsigned queue; /* records per worker queue */
    capture_tap_head_cb *head;
};

struct capture_tap_stats {
    uint64_t queued, dropped, written, bytes, write_errors, files;
    uint64_t buffers; /* record buffers the queues have made (each reused once written) */
};

struct capture_tap;

/* Creates the tap; the writer thread starts with capture_tap_start. */
struct capture_tap *capture_tap_new(const struct capture_tap_config *cfg, struct err *err);
int capture_tap_start(struct capture_tap *t);
/* Hooks for exchanges (exchange_done_cb / exchange_shadow_cb); ctx is the tap. Called on
 * the exchange's worker thread (ex->worker selects the queue). */
void capture_tap_exchange_done(struct exchange *ex, void *ctx);
void capture_tap_shadow_done(struct exchange *ex, const struct shadow_result *r, void *ctx);
/* Counters (approximate while workers run). */
void capture_tap_stats(struct capture_tap *t, struct capture_tap_stats *out);
/* A metrics_extra_cb: appends the doppel_capture_* families. */
int capture_tap_write_metrics(void *ctx, struct buf *out);
/* Stops the writer after it has written everything queued, then frees. */
void capture_tap_free(struct capture_tap *t);

#endif
