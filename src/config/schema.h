/* SPDX-License-Identifier: Apache-2.0 */
/*
 * schema: the table engine behind the configuration. A schema table is an array of
 * designated-initializer entries, one per YAML key, giving the key's type, default (as
 * YAML text), range, where the value lands in a C struct (offsetof) and a sentence of
 * documentation. The same tables drive parsing (schema_apply), deep copies for inherited
 * settings (schema_copy), freeing (schema_release) and the generated reference
 * (schema_markdown), so code, defaults and docs cannot drift apart.
 *
 * Sits between cnode.c (the YAML tree) and config.c (which holds doppel's own tables and
 * the cross-field checks). Owns nothing: the structs it fills belong to the caller.
 */
#ifndef DOPPEL_CONFIG_SCHEMA_H
#define DOPPEL_CONFIG_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "config/cnode.h"

enum schema_type {
    SCHEMA_U32 = 1,  /* uint32_t in min..max */
    SCHEMA_DURATION, /* uint64_t nanoseconds in min..max */
    SCHEMA_SIZE,     /* uint64_t bytes in min..max */
    SCHEMA_BOOL,     /* bool */
    SCHEMA_STRING,   /* char * (owned); NULL when absent without default */
    SCHEMA_ENUM,     /* int: index into choices */
    SCHEMA_STRLIST,  /* char ** + size_t count at offset_n; item count in min..max */
    SCHEMA_ADDRESS,  /* char * "host:port" + char * host at offset_host + uint16_t port */
    SCHEMA_SECTION,  /* a map described by sub; sub's offsets are relative to offset */
    SCHEMA_LIST,     /* a list of maps described by sub: pointer at offset + size_t count */
    SCHEMA_CUSTOM,   /* parsed by parse; stored as the callback decides */
};

/* Flags refine a type. */
enum {
    SCHEMA_LOWER = 1 << 0,    /* STRING/STRLIST: lower-cased */
    SCHEMA_UPPER = 1 << 1,    /* STRING/STRLIST: upper-cased */
    SCHEMA_TOKEN = 1 << 2,    /* STRING/STRLIST: an HTTP token (method, header name) */
    SCHEMA_URLPATH = 1 << 3,  /* STRING/STRLIST: starts with '/', no spaces */
    SCHEMA_NAME = 1 << 4,     /* STRING: [a-z0-9_-]{1,64} */
    SCHEMA_FILEPATH = 1 << 5, /* STRING: resolved against the config file's directory */
    SCHEMA_OFF = 1 << 6,      /* ADDRESS: "off" means NULL (disabled) */
    SCHEMA_PORT0 = 1 << 7,    /* ADDRESS: port 0 allowed (the system picks one) */
    SCHEMA_OVERLAY = 1 << 8,  /* SECTION: no defaults; only keys given change the field */
    SCHEMA_NONEMPTY = 1 << 9, /* STRING/STRLIST items: not "" */
    SCHEMA_NOCTL = 1 << 10,   /* STRING/STRLIST: no control characters but tab (headers) */
};

struct schema_key;
struct schema_ctx;

/* Parses n into the struct at base (the struct the entry's table describes). */
typedef int schema_parse_cb(const struct schema_key *k, const struct cnode *n, void *base,
                            const struct schema_ctx *ctx, struct err *err);
/* Frees what a CUSTOM entry's parse stored (a CUSTOM entry with release is not inherited:
 * schema_copy copies its bytes only). */
typedef void schema_release_cb(const struct schema_key *k, void *base);
/* Prepares a new list element from the struct that holds the list (inheritance). */
typedef void schema_init_cb(const void *parent, void *elem);

struct schema_key {
    const char *name; /* NULL ends a table */
    enum schema_type type;
    unsigned variants; /* 0: in every variant; else only where ctx variant & variants */
    const char *def;   /* default, as YAML text; NULL: zero / NULL / empty */
    bool required;
    uint64_t min, max; /* numbers, or item counts of lists (max 0 = no limit) */
    size_t offset;
    size_t offset_n;    /* STRLIST/LIST: the count */
    size_t offset_host; /* ADDRESS */
    size_t offset_port; /* ADDRESS */
    unsigned flags;
    const char *const *choices;   /* ENUM: NULL-terminated */
    const struct schema_key *sub; /* SECTION/LIST */
    unsigned sub_variant;         /* SECTION/LIST: variant for sub (0: inherit) */
    size_t elem_size;             /* LIST */
    const char *scalar_key;       /* LIST: a scalar item means {scalar_key: item} */
    schema_init_cb *elem_init;    /* LIST */
    schema_parse_cb *parse;       /* CUSTOM */
    schema_release_cb *release;   /* CUSTOM: frees what parse stored (may be NULL) */
    const char *type_doc;         /* CUSTOM: the type as the reference shows it */
    const char *doc;
};

struct schema_ctx {
    const char *dir;  /* the config file's directory, for SCHEMA_FILEPATH */
    unsigned variant; /* selects entries with variants set */
};

/* Fills base from map: checks keys (unknown key: error with a hint), parses each present
 * key, applies defaults for absent ones (unless overlay), enforces required keys. Fields
 * are freed before being replaced, so an overlay onto a copied struct is safe. */
int schema_apply(const struct schema_key *table, const struct cnode *map, void *base,
                 const struct schema_ctx *ctx, bool overlay, struct err *err);
/* Applies only the defaults (as if map were empty). */
void schema_defaults(const struct schema_key *table, void *base, const struct schema_ctx *ctx);
/* Deep copy of every field the table describes (dst must be released or zeroed). */
void schema_copy(const struct schema_key *table, void *dst, const void *src);
/* Frees every owned field the table describes (not base itself). NULL-safe. */
void schema_release(const struct schema_key *table, void *base);
/* Appends the reference for table (rooted at prefix, e.g. "" or "services[]") to out. */
void schema_markdown(const struct schema_key *table, const char *prefix, unsigned variant,
                     struct buf *out);
/* The entry for name in table under variant, or NULL. */
const struct schema_key *schema_find(const struct schema_key *table, const char *name,
                                     unsigned variant);
/* Parses "host:port" (IPv4, [IPv6] or localhost); host without brackets (caller frees). */
int schema_parse_address(const struct cnode *n, bool port0, char **host, uint16_t *port,
                         struct err *err);

#endif
