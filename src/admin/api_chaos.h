/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_chaos: the experiment endpoints of the admin API (/v1/experiments), dispatched from
 * api.c; the chaos room owns the experiments, this file only speaks JSON about them.
 */
#ifndef DOPPEL_ADMIN_API_CHAOS_H
#define DOPPEL_ADMIN_API_CHAOS_H

#include <stdbool.h>

#include "admin/api.h"

/* Whether path is /v1/experiments or /v1/experiments/{id}. */
bool admin_chaos_path(const char *path);
void admin_chaos_handle(struct admin_api *api, const struct admin_request *req,
                        struct admin_response *resp);

#endif
