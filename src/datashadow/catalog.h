/* SPDX-License-Identifier: Apache-2.0 */
/*
 * catalog: what the data shadow learns from the databases' catalogs. From the source: the
 * tables of the publication with their columns, types, primary keys and replica identity
 * (catalog_load), against which the masking rules are parsed and checked
 * (catalog_apply_rules). On the shadow: the tables created to match at the snapshot
 * (catalog_create_shadow), compared again at every start (catalog_check_shadow), and the
 * state schema `doppel_datashadow` that records progress in the same transactions as the
 * data (catalog_state_init).
 */
#ifndef DOPPEL_DATASHADOW_CATALOG_H
#define DOPPEL_DATASHADOW_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "base/err.h"
#include "config/config.h"
#include "datashadow/relation.h"

/* The published tables (sorted by schema and name), or an error naming a table without a
 * primary key or with a replica identity the shadow cannot follow. */
int catalog_load(PGconn *src, const char *publication, struct relation **out, size_t *n,
                 struct err *err);
void catalog_free(struct relation *rels, size_t n);
/* The relation with this source OID or qualified name ("t" means "public.t"), or NULL. */
struct relation *catalog_find(struct relation *rels, size_t n, uint32_t relid);
struct relation *catalog_find_name(struct relation *rels, size_t n, const char *name);
/* Parses the config's rules onto the relations; unknown tables or columns, rules a column's
 * type cannot take and NULL on NOT NULL columns are errors naming file:line:col. */
int catalog_apply_rules(struct relation *rels, size_t n, const struct config_data *cfg,
                        struct err *err);
/* Creates the shadow table (and its schema) when missing, or checks the existing one has
 * the same columns; then empties it. Run inside the snapshot's shadow transaction. */
int catalog_create_shadow(PGconn *shadow, const struct relation *r, struct err *err);
/* At a restart: the shadow table must have the relation's columns. With follow, source
 * columns the shadow lacks are left out of r (the stream's Relation message adds them). */
int catalog_check_shadow(PGconn *shadow, struct relation *r, bool follow, struct err *err);
/* The statement adding column i of r to the shadow table (schema: follow); free() it. */
char *catalog_add_column_sql(const struct relation *r, size_t i);
/* Creates the state schema and tables if missing. */
int catalog_state_init(PGconn *shadow, struct err *err);

#endif
