/* SPDX-License-Identifier: Apache-2.0 */
/*
 * health: the optional active health check of pools that configure one (HTTP GET of a
 * path every interval; 2xx within the timeout is healthy). Runs on the control loop, one
 * probe per distinct host, and publishes verdicts with upstream_host_set_down(), which
 * every worker reads when picking a host.
 */
#ifndef DOPPEL_UPSTREAM_HEALTH_H
#define DOPPEL_UPSTREAM_HEALTH_H

#include <uv.h>

#include "model/route_table.h"

struct health_checker;

struct health_checker *health_checker_new(uv_loop_t *loop);
/* Replaces the set of probed hosts with those of t's pools that have a check. */
void health_checker_update(struct health_checker *hc, const struct route_table *t);
/* Stops probing (handles close on the next loop turn). */
void health_checker_stop(struct health_checker *hc);
/* Frees after health_checker_stop and a loop run. */
void health_checker_free(struct health_checker *hc);

#endif
