/* SPDX-License-Identifier: Apache-2.0 */
/*
 * csv: reads the comma-separated files `doppel analyze` takes (NAB, M4, metric samples)
 * into rows of fields, keeping each row's line number so errors read "file:line: ...".
 * Double quotes around a field are removed ("" inside is a quote); CRLF is accepted;
 * blank lines are skipped; rows may be ragged. The path "-" reads standard input. The file
 * is split in place (three allocations in all, whatever its size).
 */
#ifndef DOPPEL_CLI_CSV_H
#define DOPPEL_CLI_CSV_H

#include <stddef.h>

#include "base/err.h"

struct csv_row {
    int line; /* 1-based line in the file */
    size_t nfields;
    char **fields; /* point into the csv's data */
};

struct csv {
    char *path;            /* owned copy, for messages */
    struct csv_row header; /* the first non-blank line when read with header = 1 */
    size_t nrows;
    struct csv_row *rows;
    char *data;    /* the file, split in place: every field is a NUL-terminated piece */
    char **fieldv; /* every row's field pointers, one array (rows point into it) */
};

/* Reads a whole file. max_bytes caps the file size (-EFBIG and a message past it). */
int csv_read_file(const char *path, int header, size_t max_bytes, struct csv *out, struct err *err);
void csv_release(struct csv *c);
/* Index of a header column (case-sensitive), or -1. */
int csv_column(const struct csv *c, const char *name);
/* Parses field col of row as a finite double; err reads "file:line: column N ('name'):
 * 'text' is not a number" (or "is missing"). */
int csv_double(const struct csv *c, const struct csv_row *row, size_t col, double *out,
               struct err *err);

#endif
