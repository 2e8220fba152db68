/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mirror: copies of finished client requests to every shadow pool of their service,
 * anonymized, bounded and measured. A copy is sent only after the whole request has been
 * read (its body is in the exchange's capped copy), over the shadow pool's own keep-alive
 * connections (upstream room), with the shadow's own timeouts. Per worker and shadow pool,
 * in-flight copies and bytes are bounded; past a bound, or while draining, a copy is
 * dropped and the drop counted by reason. The shadow's response is read in full (so it is
 * measured), handed to the exchange's on_shadow_done hook, then discarded. Nothing here can
 * delay the primary: the listener calls mirror_submit and never waits for anything it does.
 *
 * Faults (chaos room) act here, per copy, after the bounds: the worker's view of the
 * published fault set decides, without a lock, whether the copy is delayed, throttled or
 * sliced, aborted with a status, reset, left hanging or closed slowly; the outcome is
 * measured like any other, so the shadow's metrics show the fault.
 */
#ifndef DOPPEL_MIRROR_MIRROR_H
#define DOPPEL_MIRROR_MIRROR_H

#include <stdbool.h>

#include "model/exchange.h"
#include "upstream/upstream.h"

struct chaos;
struct mirror_worker;

struct mirror_worker *mirror_worker_new(struct upstream_worker *uw, unsigned worker);
/* Stops accepting copies (each further one is dropped as "draining"). */
void mirror_worker_drain(struct mirror_worker *mw);
/* Copies in flight on this worker. */
unsigned mirror_worker_inflight(const struct mirror_worker *mw);
void mirror_worker_free(struct mirror_worker *mw);
/* Applies the faults chaos publishes to this worker's copies (chaos borrowed, NULL =
 * none); loop is the worker's, for the timers of delayed and throttled copies. Copies a
 * fault delays or throttles are ended at once (as "other") when the worker drains. */
void mirror_worker_set_chaos(struct mirror_worker *mw, struct chaos *chaos, uv_loop_t *loop);
/* What the faults scoped to the pool "primary" (chaos.allow_primary_faults) do to one
 * client request: forward it later, answer it with a status and no upstream request, or
 * close the client's connection. */
struct mirror_primary_fault {
    uint64_t delay_ns;
    int abort_status; /* !0: answered with this status, not forwarded */
    bool reset;
};
/* Evaluates the published faults for ex's request to its primary pool (ex->route must be
 * set) with this worker's lock-free view of the fault set; false when none fired. */
bool mirror_primary_fault(struct mirror_worker *mw, const struct exchange *ex,
                          struct mirror_primary_fault *out);
/* Appends the head of the copy a shadow is sent of ex's request (ex->route must be set):
 * request line, anonymized end-to-end headers, X-Forwarded-For, the headers the copy adds,
 * the empty line. The capture records this same copy (app.c hands it to the observer). */
int mirror_copy_head(const struct exchange *ex, struct buf *out);
/* Sends ex's request to every shadow of its service (ex->route must be set) and keeps the
 * copy's head in ex->copy_head. */
void mirror_submit(struct mirror_worker *mw, struct exchange *ex);

#endif
