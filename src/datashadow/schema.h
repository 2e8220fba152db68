/* SPDX-License-Identifier: Apache-2.0 */
/*
 * schema: what makes the shadow database usable by a shadow application beyond columns and
 * primary keys (which catalog.c creates): the source's secondary indexes, its foreign keys
 * between published tables, and the sequences behind serial and identity columns with the
 * column defaults that call them. Created at the snapshot, after the COPY of every table
 * and inside the same shadow transaction, from the source's catalog read in the snapshot's
 * transaction. Masking decides what can be kept: a foreign key only when its columns mask
 * equal values to equal values on both sides (keep/keep, or hash/hash with the same
 * parameters and type); a unique index only over keep or hash columns; an expression or
 * partial index only when it uses no masked column. What is left out is said in one
 * warning line each. The pure decisions and rewrites are exported for the unit tests.
 */
#ifndef DOPPEL_DATASHADOW_SCHEMA_H
#define DOPPEL_DATASHADOW_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "base/err.h"
#include "datashadow/relation.h"

/* The rule as written in a config ("keep", "hash:email", "redact", ...). */
const char *schema_rule_name(const struct mask_rule *r);

/* Whether a referencing column and the column it references still hold equal shadow
 * values for equal source values: both keep, or both hash with the same parameters on
 * the same masking type (enum mask_type: text and varchar are one, int4 and int8 two). */
bool schema_fk_pair_ok(const struct relation_column *from, const struct relation_column *to);

/* The constraint definition of pg_get_constraintdef for a foreign key, made DEFERRABLE
 * INITIALLY DEFERRED (whatever deferral it had); NOT VALID is kept. free() it. */
char *schema_fk_def(const char *def);

enum schema_index_action {
    SCHEMA_INDEX_CREATE = 0, /* as on the source */
    SCHEMA_INDEX_NOT_UNIQUE, /* unique on the source, plain on the shadow */
    SCHEMA_INDEX_SKIP,       /* not created */
};

/* What to do with an index over cols (every column it uses: its nkey plain key columns
 * first, then INCLUDE, expression and predicate columns), unique or not, with
 * expressions or a predicate or not. Only key columns decide uniqueness. *breaker is the
 * column that decided a NOT_UNIQUE or SKIP. */
enum schema_index_action schema_index_decide(const struct relation_column *const *cols, size_t n,
                                             size_t nkey, bool unique, bool expr,
                                             const struct relation_column **breaker);

/* The statement creating index name (unqualified) of r on the shadow from its
 * pg_get_indexdef text: "CREATE [UNIQUE] INDEX IF NOT EXISTS name ON <r->qname> USING ...",
 * unique only when unique is set. NULL when def does not have that shape. free() it. */
char *schema_index_sql(const char *def, const char *name, const struct relation *r, bool unique);

/* At the snapshot, before the copy: drops the foreign keys of the published shadow tables
 * (made by an earlier snapshot), so that the tables can be emptied and filled in any
 * order. */
int schema_drop_fks(PGconn *shadow, const struct relation *rels, size_t n, struct err *err);

/* At the snapshot, after the copy, in both databases' snapshot transactions: creates the
 * indexes, foreign keys and sequences (with their column defaults). */
int schema_create(PGconn *src, PGconn *shadow, const struct relation *rels, size_t n,
                  struct err *err);

/* At a restart: moves every shadow sequence of a published column up to the source's
 * current value when that is further on (never back). */
int schema_sync_sequences(PGconn *src, PGconn *shadow, const struct relation *rels, size_t n,
                          struct err *err);

#endif
