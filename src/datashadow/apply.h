/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apply: writes decoded source changes into the shadow database, masked, each source
 * transaction whole inside one shadow transaction. Statements are prepared per table and
 * sent in libpq's pipeline mode, so a transaction of many rows costs few round trips. A
 * long run of consecutive inserts into one table is loaded with one COPY instead (the
 * pipeline is synced and left for it, then entered again; see apply_run.h). The
 * shadow transaction also records the end LSN of its last source transaction in
 * doppel_datashadow.progress and commits. A restart resumes from that recorded LSN and
 * skips every transaction that ended at or before it, so nothing is applied twice.
 *
 * Like PostgreSQL's own apply worker, the shadow commits with synchronous_commit off (no
 * WAL flush wait per transaction), so a commit is visible at once but durable only once
 * the shadow's WAL is flushed past it. durable_lsn is what may be reported to the source
 * as flushed: at most once per sync interval a commit runs with synchronous_commit on,
 * which flushes its own and every earlier commit's WAL, and only then does durable_lsn
 * move up to it (apply_sync does the same between transactions). So the source never
 * drops WAL the shadow could still lose in a crash, and nothing is lost.
 *
 * Source transactions that arrive back to back are applied in one shadow transaction (a
 * group, up to a bound): each is committed at the source already, the group commits
 * atomically with the progress record of its last one, and its end LSN is the one
 * confirmed, so a restart resumes after the last whole group.
 *
 * States: IDLE --Begin--> IN_TXN (or SKIPPING when already applied) --Commit--> GROUPED
 * --Begin--> IN_TXN ...; GROUPED --apply_flush, a full group or any other message-->
 * IDLE (the group committed).
 * Invariant in IDLE: no shadow transaction is open, done_lsn is committed on the shadow
 * and durable_lsn <= done_lsn is durable there.
 */
#ifndef DOPPEL_DATASHADOW_APPLY_H
#define DOPPEL_DATASHADOW_APPLY_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/rng.h"
#include "datashadow/apply_run.h"
#include "datashadow/mask.h"
#include "datashadow/pgoutput.h"
#include "datashadow/relation.h"

enum apply_state {
    APPLY_IDLE = 0,
    APPLY_IN_TXN,
    APPLY_SKIPPING,
    APPLY_GROUPED, /* source transactions applied, their shadow transaction still open */
};

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
    uint64_t done_lsn;      /* end LSN of the last transaction committed on the shadow */
    uint64_t durable_lsn;   /* end LSN of the last one known durable (WAL flushed) there */
    uint64_t sync_every_ns; /* how often a commit waits for its WAL flush (0: every one) */
    uint64_t last_sync_ns;  /* monotonic time of the last such commit */
    int64_t done_ts;        /* its commit time (microseconds since 2000-01-01) */
    uint64_t txn_lsn;       /* Begin: the transaction's commit LSN */
    int64_t txn_ts;
    uint64_t txn_changes;
    uint64_t group_lsn; /* the group's last source transaction: end LSN, commit time */
    int64_t group_ts;
    uint64_t group_txns, group_changes;
    uint64_t rows_applied, txns_applied; /* since start */
    unsigned pending;                    /* statements sent since the last pipeline sync */
    struct relation_row row, old;
    struct buf params; /* NUL-separated parameter texts */
    const char **pv;   /* parameter pointers into params */
    size_t pv_cap;
    struct buf sql;
    const struct relation *run_rel; /* borrowed: the table of the current run of inserts */
    size_t run_len;                 /* inserts in that run so far */
    bool copying;                   /* the run's COPY is open on the shadow (pipeline left) */
    struct apply_run run;           /* its rows not yet sent to the COPY */
};

void apply_init(struct apply *a, PGconn *shadow, PGconn *src, struct relation *rels, size_t n,
                const struct mask_key *key, const char *slot, bool follow, uint64_t done_lsn);
void apply_release(struct apply *a);
/* Prepares the statements of every table and of the progress record (outside a
 * transaction). */
int apply_prepare(struct apply *a, struct err *err);
/* Applies one message; *committed is set when a group was committed on the shadow by it
 * (visible there; durable up to durable_lsn). */
int apply_message(struct apply *a, const struct pgoutput_msg *m, bool *committed, struct err *err);
/* Commits the open group, if any (call when no further message is waiting). */
int apply_flush(struct apply *a, bool *committed, struct err *err);
/* Between transactions, when commits since the last flush are not known durable: one
 * small synchronous commit on the shadow flushes them, and durable_lsn = done_lsn. Does
 * nothing inside a transaction or when everything is durable already. */
int apply_sync(struct apply *a, struct err *err);

#endif
