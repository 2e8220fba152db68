/* SPDX-License-Identifier: Apache-2.0 */
/*
 * relation: one published source table as the data shadow knows it: its columns with
 * their types (from the source catalog), primary key, replica identity and masking rule
 * per column, and the counters of what was applied to it. catalog.c builds them, apply.c
 * and snapshot.c use them; relation_mask() turns a source row into its shadow row.
 */
#ifndef DOPPEL_DATASHADOW_RELATION_H
#define DOPPEL_DATASHADOW_RELATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/rng.h"
#include "datashadow/mask.h"
#include "datashadow/pgoutput.h"

struct relation_column {
    char *name;     /* owned */
    char *type_sql; /* owned: format_type(), e.g. "character varying(40)" */
    uint32_t type_oid;
    int32_t typmod;
    bool not_null;
    bool key;              /* part of the primary key */
    struct mask_rule rule; /* MASK_KEEP unless configured */
    enum mask_type mtype;
};

struct relation_counts {
    uint64_t inserts, updates, deletes, truncates;
};

struct relation {
    uint32_t relid;               /* the source table's OID */
    char *nspname, *relname;      /* owned */
    char *qname;                  /* owned: quoted for SQL, "schema"."table" */
    char *display;                /* owned: schema.table */
    char replident;               /* 'd' default, 'f' full, 'i' index, 'n' nothing */
    struct relation_column *cols; /* owned */
    size_t ncols;
    size_t *key; /* owned: indexes of the primary key's columns, in key order */
    size_t nkey;
    bool masked;                  /* some column has a rule other than keep */
    unsigned ver;                 /* bumped when the columns change (prepared statement names) */
    struct relation_counts total; /* applied since the snapshot (from the shadow's state) */
    struct relation_counts txn;   /* in the source transaction being applied */
    uint64_t snapshot_rows;
};

/* Scratch for masking a row: one buffer per column. */
struct relation_row {
    struct pgoutput_value *v; /* owned */
    struct buf *b;            /* owned, one per column */
    struct buf key;           /* the row key given to per-row rules */
    size_t cap;
};

void relation_release(struct relation *r);
/* The index of a column by name, or -1. */
long relation_column_index(const struct relation *r, const char *name);

void relation_row_init(struct relation_row *row);
void relation_row_release(struct relation_row *row);
/* Masks the n source values in (a whole row, or a key tuple whose non-key columns are
 * NULL) into row->v. key_from gives the values the row key (primary key text) is read
 * from (in itself, or the new tuple of an update). 'u' (unchanged) values stay 'u'. */
int relation_mask(const struct relation *r, const struct mask_key *key, struct rng *rng,
                  const struct pgoutput_value *in, size_t n, const struct pgoutput_value *key_from,
                  struct relation_row *row, struct err *err);

#endif
