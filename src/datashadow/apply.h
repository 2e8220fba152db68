/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apply: writes decoded source changes into the shadow database, masked, one shadow
 * transaction per source transaction. Statements are prepared per table and sent in
 * libpq's pipeline mode, so a transaction of many rows costs few round trips. At the
 * source's Commit the shadow transaction also records the commit's end LSN in
 * doppel_datashadow.progress and commits; only then is the LSN reported as flushed to the
 * source. A restart resumes from that recorded LSN and skips every transaction that ended
 * at or before it, so nothing is applied twice and nothing is lost.
 *
 * States: IDLE --Begin--> IN_TXN (or SKIPPING when already applied) --Commit--> IDLE.
 * Invariant in IDLE: no shadow transaction is open and done_lsn is durable on the shadow.
 */
#ifndef DOPPEL_DATASHADOW_APPLY_H
#define DOPPEL_DATASHADOW_APPLY_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/rng.h"
#include "datashadow/mask.h"
#include "datashadow/pgoutput.h"
#include "datashadow/relation.h"

enum apply_state { APPLY_IDLE = 0, APPLY_IN_TXN, APPLY_SKIPPING };

struct apply {
    PGconn *shadow;        /* borrowed */
    PGconn *src;           /* borrowed: type names when following schema changes */
    struct relation *rels; /* borrowed */
    size_t nrels;
    const struct mask_key *key; /* borrowed */
    struct rng rng;
    const char *slot; /* borrowed */
    bool follow;
    enum apply_state state;
    uint64_t done_lsn; /* end LSN of the last transaction committed on the shadow */
    int64_t done_ts;   /* its commit time (microseconds since 2000-01-01) */
    uint64_t txn_lsn;  /* Begin: the transaction's commit LSN */
    int64_t txn_ts;
    uint64_t txn_changes;
    uint64_t rows_applied, txns_applied; /* since start */
    unsigned pending;                    /* statements sent since the last pipeline sync */
    struct relation_row row, old;
    struct buf params; /* NUL-separated parameter texts */
    const char **pv;   /* parameter pointers into params */
    size_t pv_cap;
    struct buf sql;
};

void apply_init(struct apply *a, PGconn *shadow, PGconn *src, struct relation *rels, size_t n,
                const struct mask_key *key, const char *slot, bool follow, uint64_t done_lsn);
void apply_release(struct apply *a);
/* Prepares the statements of every table and of the progress record (outside a
 * transaction). */
int apply_prepare(struct apply *a, struct err *err);
/* Applies one message; *committed is set when it was a Commit now durable on the shadow. */
int apply_message(struct apply *a, const struct pgoutput_msg *m, bool *committed, struct err *err);

#endif
