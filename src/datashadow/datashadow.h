/* SPDX-License-Identifier: Apache-2.0 */
/*
 * datashadow: PostgreSQL change data capture into a masked shadow database, the room's
 * entrance. datashadow_run() connects to both databases, makes sure of the publication,
 * reads the catalog and checks the masking rules against it, then either copies the
 * initial snapshot (first start) or resumes from the LSN the shadow recorded (any later
 * start, also after kill -9), and streams changes until asked to stop or an error.
 * datashadow_status() and datashadow_verify() are the read-only views behind
 * `doppel datashadow --status` and `--verify`.
 *
 * Threads: datashadow_run blocks; `doppel serve` runs it on a thread of its own. The
 * counters in struct datashadow_stats are atomics, readable from any thread while it runs.
 */
#ifndef DOPPEL_DATASHADOW_DATASHADOW_H
#define DOPPEL_DATASHADOW_DATASHADOW_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "config/config.h"
#include "datashadow/mask.h"

enum datashadow_phase {
    DATASHADOW_STARTING = 0,
    DATASHADOW_SNAPSHOT,
    DATASHADOW_STREAMING,
    DATASHADOW_STOPPED,
    DATASHADOW_FAILED,
};

/* Live figures of a running data shadow (all atomics: written by the run thread). */
struct datashadow_stats {
    _Atomic int phase;              /* enum datashadow_phase */
    _Atomic uint64_t applied_lsn;   /* last LSN durable on the shadow */
    _Atomic uint64_t source_lsn;    /* the source's WAL end, as last reported */
    _Atomic uint64_t rows_applied;  /* changes applied since start */
    _Atomic uint64_t txns_applied;  /* source transactions applied since start */
    _Atomic uint64_t streamed_txns; /* of them, streamed before their commit (protocol v2) */
    _Atomic int64_t last_commit_us; /* commit time of the last applied transaction (Unix us) */
    _Atomic uint64_t lag_bytes;     /* source_lsn - applied_lsn */
    _Atomic uint64_t retained_wal;  /* bytes the slot holds on the source (polled) */
};

struct datashadow;

/* Checks what can be checked without connecting (slot name, key) and reads the key. The
 * config must outlive the datashadow. */
int datashadow_new(const struct config_data *cfg, struct datashadow **out, struct err *err);
void datashadow_free(struct datashadow *ds);
/* Runs until *stop is set (returns 0) or an error (returns -errno, err set). */
int datashadow_run(struct datashadow *ds, const atomic_bool *stop, struct err *err);
/* The live counters (borrowed; valid until datashadow_free). */
const struct datashadow_stats *datashadow_stats(const struct datashadow *ds);
/* Appends the Prometheus text of the live counters. */
void datashadow_metrics(const struct datashadow *ds, struct buf *out);

/* --status: lag, rows applied, last LSN, per table. Prints text or JSON into out. */
int datashadow_status(const struct config_data *cfg, bool json, struct buf *out, struct err *err);
/* --verify: masks every source row and compares the shadow table by table. *clean is set
 * when every table matches. A report of each table goes to out. */
int datashadow_verify(const struct config_data *cfg, bool json, struct buf *out, bool *clean,
                      struct err *err);

/* Reads the masking key of cfg (key_file or key_env; raw or hex, 16 to 64 bytes);
 * *has_key is false when neither is set. A key read is prepared (mask_key_prepare): the
 * caller releases it with mask_key_release. */
int datashadow_read_key(const struct config_data *cfg, struct mask_key *key, bool *has_key,
                        struct err *err);

#endif
