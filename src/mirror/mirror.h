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
 */
#ifndef DOPPEL_MIRROR_MIRROR_H
#define DOPPEL_MIRROR_MIRROR_H

#include <stdbool.h>

#include "model/exchange.h"
#include "upstream/upstream.h"

struct mirror_worker;

struct mirror_worker *mirror_worker_new(struct upstream_worker *uw, unsigned worker);
/* Stops accepting copies (each further one is dropped as "draining"). */
void mirror_worker_drain(struct mirror_worker *mw);
/* Copies in flight on this worker. */
unsigned mirror_worker_inflight(const struct mirror_worker *mw);
void mirror_worker_free(struct mirror_worker *mw);
/* Appends the head of the copy a shadow is sent of ex's request (ex->route must be set):
 * request line, anonymized end-to-end headers, X-Forwarded-For, the headers the copy adds,
 * the empty line. The capture records this same copy (app.c hands it to the observer). */
int mirror_copy_head(const struct exchange *ex, struct buf *out);
/* Sends ex's request to every shadow of its service (ex->route must be set). */
void mirror_submit(struct mirror_worker *mw, struct exchange *ex);

#endif
