/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snapshot: the initial copy. Creates the replication slot with an exported snapshot,
 * reads every published table in that snapshot (COPY, in one repeatable-read transaction
 * on the source) and writes it, masked, into the shadow in one transaction that also
 * creates the shadow tables and records the slot's consistent point as the progress LSN.
 * Streaming then starts at that point: changes committed before it are in the copy, later
 * ones come from the slot, so none is lost or applied twice. Killed half-way, the shadow
 * transaction never commits; the next start sees no progress row, drops the slot and copies
 * again.
 */
#ifndef DOPPEL_DATASHADOW_SNAPSHOT_H
#define DOPPEL_DATASHADOW_SNAPSHOT_H

#include <stdint.h>

#include <libpq-fe.h>

#include "base/err.h"
#include "datashadow/mask.h"
#include "datashadow/relation.h"

struct snapshot_src {
    PGconn *repl;   /* replication=database connection (borrowed) */
    PGconn *src;    /* plain source connection (borrowed) */
    PGconn *shadow; /* shadow connection (borrowed) */
    const char *slot;
    const struct mask_key *key;
};

/* Copies every relation; *lsn is the consistent point streaming starts from. */
int snapshot_run(const struct snapshot_src *s, struct relation *rels, size_t n, uint64_t *lsn,
                 struct err *err);

#endif
