/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apply_run: the rows of a long run of consecutive streamed inserts into one table, masked
 * and written in COPY text form on their way into one COPY ... FROM STDIN, which
 * PostgreSQL loads far faster than one prepared INSERT per row (apply.c decides which
 * runs go this way). The buffer and its rows are pure; the apply_run_copy_* functions
 * are the ones that talk to the shadow. The run owns its text; the relation is borrowed.
 */
#ifndef DOPPEL_DATASHADOW_APPLY_RUN_H
#define DOPPEL_DATASHADOW_APPLY_RUN_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "base/buf.h"
#include "base/err.h"
#include "datashadow/pgoutput.h"
#include "datashadow/relation.h"

struct apply_run {
    const struct relation *rel; /* borrowed: the run's table, NULL when empty */
    size_t rows;
    struct buf text; /* one COPY text line per row, each ending in a newline */
};

void apply_run_init(struct apply_run *run);
void apply_run_release(struct apply_run *run);
/* Empties the run (keeps its memory). */
void apply_run_reset(struct apply_run *run);
/* Appends one whole row of n values ('t' text or 'n' NULL) of table rel (which must be
 * the run's table when it is not empty). -EINVAL for an unchanged-TOAST ('u') or binary
 * value, which an insert never carries; -ENOSPC when the row would not fit (a run holding
 * no row takes any row up to 1 GiB). The run is unchanged on error. */
int apply_run_add(struct apply_run *run, const struct relation *rel, const struct pgoutput_value *v,
                  size_t n);
/* The statement that loads the run: COPY "schema"."table" ("c1", ...) FROM STDIN. */
void apply_run_sql(struct buf *b, const struct relation *r);
/* The COPY of a run, in three steps, so that the shadow loads rows while more are masked:
 * start (c must not be in pipeline mode and must be inside the shadow transaction), send
 * the rows held so far (any number of times; the text is emptied, the run's table and row
 * count stay), end (reads the result). A failure names the table and leaves the shadow
 * transaction aborted; after a failed send, end still has to be called (failed: true). */
int apply_run_copy_start(PGconn *c, const struct relation *r, struct err *err);
int apply_run_copy_send(PGconn *c, struct apply_run *run, struct err *err);
int apply_run_copy_end(PGconn *c, const struct relation *r, bool failed, struct err *err);

#endif
