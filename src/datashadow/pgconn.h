/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pgconn: the few libpq calls every part of the data shadow makes, each turning a failure
 * into a sentence: connect (plain or replication=database), run a query or a command,
 * quote an identifier. libpq itself stays inside src/datashadow.
 */
#ifndef DOPPEL_DATASHADOW_PGCONN_H
#define DOPPEL_DATASHADOW_PGCONN_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "base/err.h"

/* Connects with conninfo (a libpq connection string or URI). what names the database in
 * messages ("source", "shadow"). */
int pgconn_open(const char *conninfo, bool replication, uint64_t timeout_ns, const char *what,
                PGconn **out, struct err *err);
/* Runs sql with text parameters; returns the result (PQclear it) or NULL with err set. */
PGresult *pgconn_query(PGconn *c, const char *what, const char *sql, int nparams,
                       const char *const *params, struct err *err);
/* Runs a command whose result is not needed. */
int pgconn_cmd(PGconn *c, const char *what, const char *sql, struct err *err);
/* "name" quoted as an SQL identifier (free it with free()). */
char *pgconn_ident(const char *name);
/* The text of an LSN ("16/B374D848") and back. */
void pgconn_lsn_format(uint64_t lsn, char *out, size_t size);
int pgconn_lsn_parse(const char *s, uint64_t *out);

#endif
