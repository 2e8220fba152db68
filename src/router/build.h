/* SPDX-License-Identifier: Apache-2.0 */
/*
 * build: config → route table (see build.c).
 */
#ifndef DOPPEL_ROUTER_BUILD_H
#define DOPPEL_ROUTER_BUILD_H

#include "base/err.h"
#include "config/config.h"
#include "router/router.h"

struct metrics;

/* A new table (refcount 1) or NULL with err filled. */
struct route_table *router_build(const struct config *cfg, struct metrics *m, struct err *err);

#endif
