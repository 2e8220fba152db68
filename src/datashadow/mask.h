/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mask: the masking rules applied to each column value on its way from the source database
 * to the shadow (snapshot COPY rows and streamed changes alike). Values travel in
 * PostgreSQL's text representation (what COPY ... TEXT and pgoutput's text columns carry);
 * a rule reads one and writes its masked text, or NULL. Rules are pure functions of the
 * value, the column's type, a secret key and (for per-row rules) the row's primary key, so
 * the same source row always masks to the same shadow row: updates and deletes still find
 * their rows, joins and foreign keys still match across tables. The one random rule,
 * `noise`, draws from the caller's generator.
 */
#ifndef DOPPEL_DATASHADOW_MASK_H
#define DOPPEL_DATASHADOW_MASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/rng.h"

enum mask_kind {
    MASK_KEEP = 0,
    MASK_NULL,       /* always NULL (the column must be nullable: checked against the catalog) */
    MASK_REDACT,     /* a fixed value ("redact" or "redact:VALUE") */
    MASK_HASH,       /* keyed HMAC-SHA256, deterministic, format-preserving per type */
    MASK_TRUNCATE,   /* "truncate:N": first N characters */
    MASK_SHIFT,      /* dates/timestamps: per-row keyed offset within +-range */
    MASK_NOISE,      /* numbers: Laplace noise, scale = sensitivity / epsilon */
    MASK_GENERALIZE, /* numbers floored to a multiple of a step; dates truncated to a unit */
};

/* The column types rules know, from pg_type (the catalog's type OID decides). */
enum mask_type {
    MASK_T_TEXT = 0, /* text, varchar, bpchar, name, citext */
    MASK_T_INT,      /* int4 */
    MASK_T_NUMERIC,  /* numeric */
    MASK_T_UUID,
    MASK_T_DATE,
    MASK_T_TIMESTAMP, /* timestamp, timestamptz */
    MASK_T_BOOL,
    MASK_T_OTHER,
    /* Integer widths apart, so a hashed or noisy int2 stays within int2; floats apart from
     * numeric, whose text keeps its scale. */
    MASK_T_INT2,
    MASK_T_INT8,
    MASK_T_FLOAT, /* float4, float8 */
};

struct mask_rule {
    enum mask_kind kind;
    char *value;        /* MASK_REDACT; owned */
    uint32_t n;         /* MASK_TRUNCATE */
    int64_t range_s;    /* MASK_SHIFT: offsets drawn in [-range_s, +range_s] seconds */
    double epsilon;     /* MASK_NOISE */
    double sensitivity; /* MASK_NOISE */
    double step;        /* MASK_GENERALIZE on numbers */
    char unit[8];       /* MASK_GENERALIZE on dates: "year", "month", "day", "hour" */
    bool email;         /* MASK_HASH on text: keep the e-mail shape (local@domain.tld) */
    bool stable;        /* MASK_NOISE ",stable": noise keyed on (row key, value) instead of
                           drawn from the caller's generator, so a re-sent value repeats it */
};

/* Parses one rule as written in the config ("hash", "truncate:4", "redact:***",
 * "shift:30d", "noise:epsilon=1,sensitivity=100", "generalize:10", "generalize:month",
 * "hash:email", "keep", "null"; "noise:epsilon=1,sensitivity=100,stable"). */
int mask_rule_parse(const char *spec, struct mask_rule *out, struct err *err);
void mask_rule_release(struct mask_rule *r);
/* Type of a column from its pg_type OID (and type name, for extension types like citext). */
enum mask_type mask_type_of(uint32_t type_oid, const char *type_name);
/* Whether a rule can handle a column type; err names the rule and the type if not. */
int mask_rule_check(const struct mask_rule *r, enum mask_type t, const char *column,
                    struct err *err);

struct mask_key {
    unsigned char bytes[64];
    size_t len;
    void *mac; /* owned when mask_key_prepare set it: the keyed MAC every value reuses;
                  NULL: each masked value keys a MAC of its own (same results, slower) */
};

/* Keys the MAC once for every later mask_value with this key (bytes and len set; mac
 * NULL or from an earlier mask_key_prepare, which it replaces). */
void mask_key_prepare(struct mask_key *k);
/* Frees what mask_key_prepare made and wipes the key. */
void mask_key_release(struct mask_key *k);

/* Masks one non-NULL value `in` (text form) of column type t. row_key is the text of the
 * row's primary key (source values, before masking; required by the per-row rules, shift
 * and stable noise, may be NULL for the others). key is required by hash, shift and
 * stable noise; rng by noise without stable (either may be NULL where unused). Writes the
 * masked text to out (cleared first) and returns 0, or sets *is_null when the result is
 * NULL; -EINVAL with err set when the value cannot be parsed as its type (the message
 * names the rule and type, never the value), -ENOSPC past out's maximum. */
int mask_value(const struct mask_rule *r, enum mask_type t, const struct mask_key *key,
               const char *in, size_t len, const char *row_key, size_t row_key_len, struct rng *rng,
               struct buf *out, bool *is_null, struct err *err);

#endif
