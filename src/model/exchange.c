/* SPDX-License-Identifier: Apache-2.0 */
/*
 * exchange: lifetime of the per-request record (see exchange.h).
 */
#include "model/exchange.h"

#include <stdio.h>
#include <stdlib.h>

#include "base/xalloc.h"

struct exchange *exchange_new(struct route_table *table, const struct rt_service *svc,
                              unsigned worker, uint64_t id, size_t req_cap, size_t resp_cap)
{
    struct exchange *ex = xcalloc(1, sizeof(*ex));
    atomic_init(&ex->refs, 1);
    ex->table = route_table_ref(table);
    ex->service = svc;
    ex->worker = worker;
    ex->id = id;
    snprintf(ex->id_str, sizeof(ex->id_str), "%016llx", (unsigned long long)id);
    buf_init(&ex->req_body, req_cap);
    buf_init(&ex->resp_body, resp_cap);
    buf_init(&ex->copy_head, 0);
    return ex;
}

struct exchange *exchange_ref(struct exchange *ex)
{
    atomic_fetch_add_explicit(&ex->refs, 1, memory_order_relaxed);
    return ex;
}

void exchange_unref(struct exchange *ex)
{
    if (!ex || atomic_fetch_sub_explicit(&ex->refs, 1, memory_order_acq_rel) != 1)
        return;
    http_head_release(&ex->req);
    http_head_release(&ex->resp);
    buf_release(&ex->req_body);
    buf_release(&ex->resp_body);
    buf_release(&ex->copy_head);
    route_table_unref(ex->table);
    free(ex);
}

const char *exchange_error_name(enum exchange_error e)
{
    switch (e) {
    case EXCHANGE_OK:
        return "ok";
    case EXCHANGE_E_REFUSED:
        return "refused";
    case EXCHANGE_E_RESET:
        return "reset";
    case EXCHANGE_E_TIMEOUT:
        return "timeout";
    case EXCHANGE_E_BAD_RESPONSE:
        return "bad_response";
    case EXCHANGE_E_CLIENT_GONE:
        return "client_gone";
    default:
        return "other";
    }
}
