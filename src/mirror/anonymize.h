/* SPDX-License-Identifier: Apache-2.0 */
/*
 * anonymize: what a request copied to a shadow may carry. The mirror calls these while it
 * writes the shadow's copy of a request: the request-target with sensitive query
 * parameters removed or pseudonymized, the end-to-end header fields minus the dropped
 * ones and with sensitive values pseudonymized, and the client address for
 * X-Forwarded-For. A pseudonym is a keyed hash (HMAC-SHA256), so the same value always
 * maps to the same pseudonym under one key (sessions still correlate on the shadow) but
 * cannot be reversed or recomputed without the key. The rules are owned by the caller
 * (built from config, immutable while in use); every function appends to a capped
 * struct buf and returns 0 or -ENOSPC, leaving the buffer as it was on failure.
 */
#ifndef DOPPEL_MIRROR_ANONYMIZE_H
#define DOPPEL_MIRROR_ANONYMIZE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "http/head.h"
#include "model/route_table.h"

/* "anon-" and 16 bytes of HMAC-SHA256 in lower-case hex. */
#define ANONYMIZE_PSEUDONYM_LEN (5 + 32)

/* struct anonymize_rules (the rules) is a noun of the route table: model/route_table.h. */

/* Appends "anon-" + the first 16 bytes of HMAC-SHA256(key, value) in lower-case hex. */
int anonymize_pseudonym(const struct anonymize_rules *r, const char *value, size_t len,
                        struct buf *out);
/* Appends the request-target with strip_query parameters removed and hash_query values
 * pseudonymized; everything else is copied byte for byte (order, separators, parameters
 * without '=', fragments). Names are compared as raw bytes, case-sensitively. An empty
 * value stays empty. If every parameter is removed the '?' goes too. */
int anonymize_target(const struct anonymize_rules *r, const char *target, size_t len,
                     struct buf *out);
/* Appends the end-to-end header fields of req (as http_write_end_to_end does) minus
 * drop_headers and skip (a NULL-terminated list of lower-case names the caller writes
 * itself; NULL for none), with hash_headers values replaced by pseudonyms. */
int anonymize_headers(const struct anonymize_rules *r, const struct http_head *req,
                      const char *const *skip, struct buf *out);
/* Appends the address as the shadow's X-Forwarded-For should show it: the pseudonym of ip
 * when hash_client_ip is set, else ip itself. */
int anonymize_client_ip(const struct anonymize_rules *r, const char *ip, struct buf *out);
/* Appends the whole value for the shadow's X-Forwarded-For: the addresses of req's own
 * X-Forwarded-For fields, in order, then ip; each one pseudonymized when hash_client_ip.
 * For callers that put x-forwarded-for in anonymize_headers' skip list and still want the
 * chain of proxies kept. */
int anonymize_forwarded_for(const struct anonymize_rules *r, const struct http_head *req,
                            const char *ip, struct buf *out);

#endif
