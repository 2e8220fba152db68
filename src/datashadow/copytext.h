/* SPDX-License-Identifier: Apache-2.0 */
/*
 * copytext: PostgreSQL's COPY text format, one row per line: fields separated by tabs,
 * `\N` for NULL, backslash escapes for tab, newline, carriage return, backslash and the
 * rest. The snapshot reads source rows in it and writes shadow rows in it; masked columns
 * pass through copytext_split (to values) and copytext_escape (back). Pure.
 */
#ifndef DOPPEL_DATASHADOW_COPYTEXT_H
#define DOPPEL_DATASHADOW_COPYTEXT_H

#include <stddef.h>

#include "base/buf.h"
#include "datashadow/pgoutput.h"

/* Splits one line (without its newline) into n values ('n' NULL or 't' text), unescaping
 * into store (reset first; the values point into it). Returns 0, or -EPROTO when the line
 * has a different number of fields or a bad escape, -ENOSPC when store is full. */
int copytext_split(const char *line, size_t len, struct pgoutput_value *out, size_t n,
                   struct buf *store);
/* Appends one value in COPY text form (`\N` for NULL). */
int copytext_escape(struct buf *out, const struct pgoutput_value *v);

#endif
