/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cnode: a YAML document as a tree of nodes that remember file:line:col, built with
 * libyaml. This is the only place YAML is parsed; schema.c/config.c turn trees into
 * validated, immutable structs, and any room with a YAML file of its own (the judge's
 * config, say) walks a cnode tree. Errors read "file:line:col: what is wrong".
 */
#ifndef DOPPEL_CONFIG_CNODE_H
#define DOPPEL_CONFIG_CNODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

enum cnode_kind { CNODE_SCALAR = 1, CNODE_MAP, CNODE_SEQ };

struct cnode {
    enum cnode_kind kind;
    const char *file;     /* borrowed from the tree root; every node of a tree shares it */
    int line, col;        /* 1-based position of the node's first character */
    char *scalar;         /* CNODE_SCALAR: the text ("" for an empty value); NULL otherwise */
    bool quoted;          /* CNODE_SCALAR: written in quotes (so "10" is a string) */
    size_t n;             /* CNODE_MAP: pairs; CNODE_SEQ: items */
    struct cnode **keys;  /* CNODE_MAP: key nodes (scalars), n of them */
    struct cnode **items; /* CNODE_MAP: values; CNODE_SEQ: items */
};

/* Parses a file (or a string, named `name` in errors). An empty document gives an empty
 * map. Duplicate keys, anchors/aliases, tags and multiple documents are errors. */
int cnode_load_file(const char *path, struct cnode **out, struct err *err);
int cnode_load_string(const char *name, const char *text, size_t len, struct cnode **out,
                      struct err *err);
void cnode_free(struct cnode *root);

/* Map lookup (NULL when absent or when map is not a map). */
const struct cnode *cnode_get(const struct cnode *map, const char *key);

/* Fills err with "file:line:col: <message>" and returns code. */
int cnode_error(struct err *err, const struct cnode *n, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Typed reads of a scalar node; on failure they fill err (file:line:col, what was expected
 * and what was found) and return -EINVAL or -ERANGE. Ranges are inclusive. */
int cnode_string(const struct cnode *n, const char **out, struct err *err);
int cnode_bool(const struct cnode *n, bool *out, struct err *err);
int cnode_i64(const struct cnode *n, int64_t min, int64_t max, int64_t *out, struct err *err);
int cnode_double(const struct cnode *n, double min, double max, double *out, struct err *err);
int cnode_duration_ns(const struct cnode *n, uint64_t min, uint64_t max, uint64_t *out,
                      struct err *err);
int cnode_size(const struct cnode *n, uint64_t min, uint64_t max, uint64_t *out, struct err *err);
/* Requires n to be a map whose keys are all in `allowed` (NULL-terminated); an unknown key
 * is an error naming it and, when one is close, the likely intended key. */
int cnode_check_keys(const struct cnode *map, const char *const *allowed, struct err *err);

/* Additions used by schema.c and config.c. */

/* "a map", "a list", "nothing" (an empty plain value) or the scalar quoted and shortened,
 * written into buf when needed; for "expected X, found Y" messages. */
const char *cnode_describe(const struct cnode *n, char *buf, size_t size);
/* The choice closest to word in edit distance, or NULL when none is close enough to be a
 * likely typo. choices is NULL-terminated. */
const char *cnode_closest(const char *word, const char *const *choices);
/* Shortest exact spelling: 250000000 -> "250ms", 65536 -> "64KiB". */
void cnode_format_duration(uint64_t ns, char *buf, size_t size);
void cnode_format_size(uint64_t bytes, char *buf, size_t size);

#endif
