/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mask: the masking rules of a data shadow, from their config spelling ("hash",
 * "noise:epsilon=1,sensitivity=100", ...) to the masked text of one column value. The
 * replication calls mask_rule_parse and mask_rule_check once per configured column when
 * it reads the catalog, then mask_value for every value of every row it copies or
 * streams. The keyed permutations behind `hash` live in mask_hash.c, calendar arithmetic
 * in mask_time.c, number rules (noise, generalize) in mask_num.c; this file parses,
 * type-checks and dispatches. Owns the rule's strings (mask_rule_release frees them).
 */
#include "datashadow/mask.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "base/xalloc.h"
#include "datashadow/mask_hash.h"
#include "datashadow/mask_num.h"
#include "datashadow/mask_time.h"

#define SHIFT_MAX_S ((int64_t)36525 * 86400) /* 100 years */
#define TRUNCATE_MAX 10000000u

/* "30d": a positive integer and a unit (s, m, h, d, w). */
static int parse_range(const char *s, int64_t *out)
{
    static const struct {
        char unit;
        int64_t secs;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 7 * 86400}};
    size_t n = strlen(s);
    char num[24];
    int64_t v;

    if (n < 2 || n - 1 >= sizeof(num))
        return -EINVAL;
    memcpy(num, s, n - 1);
    num[n - 1] = '\0';
    if (num[0] < '0' || num[0] > '9' || str_to_i64(num, &v) < 0 || v <= 0)
        return -EINVAL;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (s[n - 1] == units[i].unit) {
            if (v > SHIFT_MAX_S / units[i].secs)
                return -ERANGE;
            *out = v * units[i].secs;
            return 0;
        }
    return -EINVAL;
}

static int parse_shift(const char *spec, const char *arg, struct mask_rule *r, struct err *err)
{
    int rc = arg ? parse_range(arg, &r->range_s) : -EINVAL;
    if (rc == -ERANGE)
        return err_set(err, -EINVAL, "mask rule '%s': range above 100 years", spec);
    if (rc < 0)
        return err_set(err, -EINVAL,
                       "mask rule '%s': want shift:RANGE, a whole number and a unit s, m, h, "
                       "d or w (e.g. shift:30d)",
                       spec);
    return 0;
}

static int parse_positive(const char *s, double *out)
{
    return str_to_double(s, out) == 0 && *out > 0 && *out < 1e300 ? 0 : -EINVAL;
}

/* "epsilon=E,sensitivity=S" in either order, both required. */
static int parse_noise(const char *spec, const char *arg, struct mask_rule *r, struct err *err)
{
    char *copy = xstrdup(arg ? arg : ""), *save = NULL;
    int rc = 0;

    for (char *kv = strtok_r(copy, ",", &save); kv && rc == 0; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        double *dst = NULL;
        if (strcmp(kv, "stable") == 0) {
            if (r->stable)
                rc = err_set(err, -EINVAL, "mask rule '%s': 'stable' given twice", spec);
            r->stable = true;
            continue;
        }
        if (eq) {
            *eq = '\0';
            dst = strcmp(kv, "epsilon") == 0       ? &r->epsilon
                  : strcmp(kv, "sensitivity") == 0 ? &r->sensitivity
                                                   : NULL;
        }
        if (!dst)
            rc = err_set(err, -EINVAL, "mask rule '%s': unknown noise parameter '%s'", spec, kv);
        else if (*dst != 0)
            rc = err_set(err, -EINVAL, "mask rule '%s': '%s' given twice", spec, kv);
        else if (parse_positive(eq + 1, dst) < 0)
            rc = err_set(err, -EINVAL, "mask rule '%s': %s must be a number above 0", spec, kv);
    }
    if (rc == 0 && (r->epsilon == 0 || r->sensitivity == 0))
        rc = err_set(err, -EINVAL,
                     "mask rule '%s': want noise:epsilon=E,sensitivity=S[,stable] (E and S "
                     "above 0)",
                     spec);
    free(copy);
    return rc;
}

static int parse_generalize(const char *spec, const char *arg, struct mask_rule *r, struct err *err)
{
    static const char *const units[] = {"year", "month", "day", "hour"};
    for (size_t i = 0; arg && i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(arg, units[i]) == 0) {
            memcpy(r->unit, units[i], strlen(units[i]) + 1);
            return 0;
        }
    if (arg && parse_positive(arg, &r->step) == 0 && mask_num_step_ok(r->step))
        return 0;
    return err_set(
        err, -EINVAL,
        "mask rule '%s': want generalize:STEP (a number above 0 with at most 15 digits, 9 of them "
        "decimals) or generalize:year|month|day|hour",
        spec);
}

static int parse_truncate(const char *spec, const char *arg, struct mask_rule *r, struct err *err)
{
    uint64_t n;
    if (!arg || arg[0] < '0' || arg[0] > '9' || str_to_u64(arg, &n) < 0 || n == 0 ||
        n > TRUNCATE_MAX)
        return err_set(err, -EINVAL, "mask rule '%s': want truncate:N, N characters from 1 to %u",
                       spec, TRUNCATE_MAX);
    r->n = (uint32_t)n;
    return 0;
}

static int parse_none(const char *spec, const char *arg, struct mask_rule *r, struct err *err)
{
    (void)r;
    return arg ? err_set(err, -EINVAL, "mask rule '%s': takes no argument", spec) : 0;
}

static int parse_redact(const char *spec, const char *arg, struct mask_rule *r, struct err *err)
{
    (void)spec;
    (void)err;
    r->value = arg ? xstrdup(arg) : NULL;
    return 0;
}

static int parse_hash(const char *spec, const char *arg, struct mask_rule *r, struct err *err)
{
    r->email = arg != NULL;
    if (arg && strcmp(arg, "email") != 0)
        return err_set(err, -EINVAL, "mask rule '%s': want hash or hash:email", spec);
    return 0;
}

typedef int mask_arg_cb(const char *spec, const char *arg, struct mask_rule *r, struct err *err);

static const struct {
    const char *name;
    enum mask_kind kind;
    mask_arg_cb *parse;
} rule_table[] = {
    {"keep", MASK_KEEP, parse_none},
    {"null", MASK_NULL, parse_none},
    {"redact", MASK_REDACT, parse_redact},
    {"hash", MASK_HASH, parse_hash},
    {"truncate", MASK_TRUNCATE, parse_truncate},
    {"shift", MASK_SHIFT, parse_shift},
    {"noise", MASK_NOISE, parse_noise},
    {"generalize", MASK_GENERALIZE, parse_generalize},
};

int mask_rule_parse(const char *spec, struct mask_rule *out, struct err *err)
{
    const char *colon = strchr(spec, ':');
    size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
    int rc = 1;

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < sizeof(rule_table) / sizeof(rule_table[0]) && rc > 0; i++)
        if (strlen(rule_table[i].name) == n && memcmp(rule_table[i].name, spec, n) == 0) {
            out->kind = rule_table[i].kind;
            rc = rule_table[i].parse(spec, colon ? colon + 1 : NULL, out, err);
        }
    if (rc > 0)
        rc = err_set(err, -EINVAL,
                     "mask rule '%s': unknown rule '%.*s' (want keep, null, redact, hash, "
                     "truncate, shift, noise or generalize)",
                     spec, (int)n, spec);
    if (rc < 0)
        mask_rule_release(out);
    return rc;
}

void mask_rule_release(struct mask_rule *r)
{
    if (!r)
        return;
    free(r->value);
    r->value = NULL;
}

/* pg_type OIDs of the built-in types (src/include/catalog/pg_type.dat). */
enum mask_oid {
    OID_BOOL = 16,
    OID_NAME = 19,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_TEXT = 25,
    OID_FLOAT4 = 700,
    OID_FLOAT8 = 701,
    OID_BPCHAR = 1042,
    OID_VARCHAR = 1043,
    OID_DATE = 1082,
    OID_TIMESTAMP = 1114,
    OID_TIMESTAMPTZ = 1184,
    OID_NUMERIC = 1700,
    OID_UUID = 2950,
};

static const struct {
    uint32_t oid;
    const char *name;
    enum mask_type type;
} type_table[] = {
    {OID_BOOL, "bool", MASK_T_BOOL},
    {OID_NAME, "name", MASK_T_TEXT},
    {OID_INT8, "int8", MASK_T_INT8},
    {OID_INT2, "int2", MASK_T_INT2},
    {OID_INT4, "int4", MASK_T_INT},
    {OID_TEXT, "text", MASK_T_TEXT},
    {OID_FLOAT4, "float4", MASK_T_FLOAT},
    {OID_FLOAT8, "float8", MASK_T_FLOAT},
    {OID_BPCHAR, "bpchar", MASK_T_TEXT},
    {OID_VARCHAR, "varchar", MASK_T_TEXT},
    {OID_DATE, "date", MASK_T_DATE},
    {OID_TIMESTAMP, "timestamp", MASK_T_TIMESTAMP},
    {OID_TIMESTAMPTZ, "timestamptz", MASK_T_TIMESTAMP},
    {OID_NUMERIC, "numeric", MASK_T_NUMERIC},
    {OID_UUID, "uuid", MASK_T_UUID},
    {0, "citext", MASK_T_TEXT}, /* an extension: its OID differs per database */
};

enum mask_type mask_type_of(uint32_t type_oid, const char *type_name)
{
    for (size_t i = 0; i < sizeof(type_table) / sizeof(type_table[0]); i++)
        if ((type_oid && type_oid == type_table[i].oid) ||
            (type_name && strcmp(type_name, type_table[i].name) == 0))
            return type_table[i].type;
    return MASK_T_OTHER;
}

static const char *type_label(enum mask_type t)
{
    static const char *const names[] = {
        [MASK_T_TEXT] = "text",       [MASK_T_INT] = "int4",
        [MASK_T_NUMERIC] = "numeric", [MASK_T_UUID] = "uuid",
        [MASK_T_DATE] = "date",       [MASK_T_TIMESTAMP] = "timestamp",
        [MASK_T_BOOL] = "bool",       [MASK_T_OTHER] = "a type the masking rules do not know",
        [MASK_T_INT2] = "int2",       [MASK_T_INT8] = "int8",
        [MASK_T_FLOAT] = "float",
    };
    return (unsigned)t < sizeof(names) / sizeof(names[0]) && names[t] ? names[t] : "?";
}

static const char *rule_label(enum mask_kind k)
{
    static const char *const names[] = {
        [MASK_KEEP] = "keep",         [MASK_NULL] = "null",
        [MASK_REDACT] = "redact",     [MASK_HASH] = "hash",
        [MASK_TRUNCATE] = "truncate", [MASK_SHIFT] = "shift",
        [MASK_NOISE] = "noise",       [MASK_GENERALIZE] = "generalize",
    };
    return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

static bool is_int(enum mask_type t)
{
    return t == MASK_T_INT2 || t == MASK_T_INT || t == MASK_T_INT8;
}

static bool is_number(enum mask_type t)
{
    return is_int(t) || t == MASK_T_NUMERIC || t == MASK_T_FLOAT;
}

static bool is_time(enum mask_type t)
{
    return t == MASK_T_DATE || t == MASK_T_TIMESTAMP;
}

/* What each rule accepts, as said in the error when a column's type is not among it. */
static const char *rule_accepts(const struct mask_rule *r, enum mask_type t)
{
    switch (r->kind) {
    case MASK_KEEP:
    case MASK_NULL:
    case MASK_REDACT:
        return NULL;
    case MASK_HASH:
        if (r->email)
            return t == MASK_T_TEXT ? NULL : "text";
        return t == MASK_T_TEXT || is_int(t) || t == MASK_T_NUMERIC || t == MASK_T_UUID
                   ? NULL
                   : "text, int2, int4, int8, numeric and uuid";
    case MASK_TRUNCATE:
        return t == MASK_T_TEXT ? NULL : "text";
    case MASK_SHIFT:
        return is_time(t) ? NULL : "date and timestamp";
    case MASK_NOISE:
        return is_number(t) ? NULL : "int2, int4, int8, numeric and float";
    case MASK_GENERALIZE:
        if (r->unit[0])
            return is_time(t) ? NULL : "date and timestamp (generalize:STEP takes numbers)";
        return is_number(t) ? NULL : "numbers (generalize:year|month|day|hour takes dates)";
    }
    return "no type";
}

/* PostgreSQL's uuid input: 32 hex digits, a hyphen allowed after any group of four,
 * optionally in braces. */
static int uuid_parse(const char *s, size_t len, unsigned char out[16])
{
    size_t n = 0;

    if (len >= 2 && s[0] == '{' && s[len - 1] == '}') {
        s++;
        len -= 2;
    }
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i], v;
        if (c == '-' && n % 4 == 0 && n > 0 && n < 32 && i + 1 < len && s[i + 1] != '-')
            continue;
        v = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
        if (v < 0 || n == 32)
            return -EINVAL;
        out[n / 2] = (unsigned char)(n % 2 ? (out[n / 2] | v) : v << 4);
        n++;
    }
    return n == 32 ? 0 : -EINVAL;
}

static int uuid_format(const unsigned char u[16], struct buf *out)
{
    static const char hex[] = "0123456789abcdef";
    char s[36];
    size_t k = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            s[k++] = '-';
        s[k++] = hex[u[i] >> 4];
        s[k++] = hex[u[i] & 15];
    }
    return buf_append(out, s, sizeof(s));
}

static bool utf8_valid(const char *s, size_t len)
{
    uint32_t cp;
    for (size_t i = 0, k; i < len; i += k)
        if ((k = mask_utf8_decode((const unsigned char *)s + i, len - i, &cp)) == 0 || cp == 0)
            return false;
    return true;
}

/* Whether s is a value of type t in PostgreSQL's text form. */
static bool value_valid(enum mask_type t, const char *s, size_t len)
{
    unsigned char u[16];
    struct mask_time tm;

    switch (t) {
    case MASK_T_TEXT:
        return utf8_valid(s, len);
    case MASK_T_UUID:
        return uuid_parse(s, len, u) == 0;
    case MASK_T_DATE:
    case MASK_T_TIMESTAMP:
        return mask_time_parse(s, len, t == MASK_T_TIMESTAMP, &tm) == 0;
    case MASK_T_BOOL:
        return (len == 1 && (s[0] == 't' || s[0] == 'f')) || (len == 4 && !memcmp(s, "true", 4)) ||
               (len == 5 && !memcmp(s, "false", 5));
    case MASK_T_OTHER:
        return true;
    default:
        return mask_num_valid(t, s, len);
    }
}

int mask_rule_check(const struct mask_rule *r, enum mask_type t, const char *column,
                    struct err *err)
{
    const char *accepts = rule_accepts(r, t);

    if (accepts)
        return err_set(err, -EINVAL, "column '%s': rule '%s' cannot handle type %s (it takes %s)",
                       column, rule_label(r->kind), type_label(t), accepts);
    if (r->kind == MASK_REDACT && !r->value && t == MASK_T_OTHER)
        return err_set(err, -EINVAL,
                       "column '%s': redact on %s needs a value of the column's type "
                       "(redact:VALUE)",
                       column, type_label(t));
    if (r->kind == MASK_REDACT && r->value && !value_valid(t, r->value, strlen(r->value)))
        return err_set(err, -EINVAL, "column '%s': redact value '%s' is not a valid %s", column,
                       r->value, type_label(t));
    if (r->kind == MASK_SHIFT && t == MASK_T_DATE && r->range_s < 86400)
        return err_set(err, -EINVAL,
                       "column '%s': shift range below one day leaves a date unchanged", column);
    if (r->kind == MASK_GENERALIZE && r->unit[0] && t == MASK_T_DATE && !strcmp(r->unit, "hour"))
        return err_set(err, -EINVAL, "column '%s': generalize:hour on a date changes nothing",
                       column);
    if (r->kind == MASK_GENERALIZE && !r->unit[0] && is_int(t) && !mask_num_step_whole(r->step))
        return err_set(err, -EINVAL, "column '%s': generalize step %g on %s must be a whole number",
                       column, r->step, type_label(t));
    return 0;
}

static const char *redact_default(enum mask_type t)
{
    switch (t) {
    case MASK_T_TEXT:
        return "redacted";
    case MASK_T_UUID:
        return "00000000-0000-0000-0000-000000000000";
    case MASK_T_DATE:
        return "1970-01-01";
    case MASK_T_TIMESTAMP:
        return "1970-01-01 00:00:00+00"; /* a timestamp without zone ignores the offset */
    case MASK_T_BOOL:
        return "f";
    default:
        return "0";
    }
}

static int hash_int(const struct mask_mac *m, enum mask_type t, const char *in, size_t len,
                    struct buf *out)
{
    int64_t v;
    unsigned bits = t == MASK_T_INT2 ? 16 : t == MASK_T_INT ? 32 : 64;
    if (mask_int_parse(t, in, len, &v) < 0)
        return -EINVAL;
    return buf_printf(out, "%lld", (long long)mask_hash_int(m, bits, v));
}

static void mask_key_release_mac(struct mask_key *k)
{
    mask_mac_release(k->mac);
    free(k->mac);
    k->mac = NULL;
}

void mask_key_prepare(struct mask_key *k)
{
    struct mask_mac *m = xmalloc(sizeof(*m));
    mask_key_release_mac(k);
    mask_mac_init(m, k);
    k->mac = m;
}

void mask_key_release(struct mask_key *k)
{
    if (!k)
        return;
    mask_key_release_mac(k);
    explicit_bzero(k, sizeof(*k));
}

/* The key's prepared MAC, or tmp keyed now (released by mac_done). */
static const struct mask_mac *mac_of(const struct mask_key *key, struct mask_mac *tmp)
{
    if (key->mac)
        return key->mac;
    mask_mac_init(tmp, key);
    return tmp;
}

static void mac_done(const struct mask_mac *m, struct mask_mac *tmp)
{
    if (m == tmp)
        mask_mac_release(tmp);
}

static int hash_value(enum mask_type t, const struct mask_key *key, const char *in, size_t len,
                      struct buf *out)
{
    struct mask_mac tmp;
    const struct mask_mac *m = mac_of(key, &tmp);
    unsigned char u[16], h[16];
    int rc = -EINVAL;

    if (t == MASK_T_TEXT && mask_is_email(in, len))
        rc = mask_hash_email(m, in, len, out);
    else if (t == MASK_T_TEXT)
        rc = mask_hash_text(m, "text", MASK_TEXT_PLAIN, in, len, out);
    else if (is_int(t))
        rc = hash_int(m, t, in, len, out);
    else if (t == MASK_T_NUMERIC && mask_num_valid(t, in, len) && !(in[0] >= 'A' && in[0] <= 'Z'))
        rc = mask_hash_text(m, "numeric", MASK_TEXT_NUMERIC, in, len, out);
    else if (t == MASK_T_NUMERIC && mask_num_valid(t, in, len))
        rc = buf_append(out, in, len); /* NaN, Infinity, -Infinity */
    else if (t == MASK_T_UUID && uuid_parse(in, len, u) == 0) {
        mask_hash_uuid(m, u, h);
        rc = uuid_format(h, out);
    }
    mac_done(m, &tmp);
    return rc;
}

static int truncate_value(uint32_t n, const char *in, size_t len, struct buf *out)
{
    uint32_t cp, chars = 0;
    size_t i = 0, k, cut = len;

    for (; i < len; i += k, chars++) {
        if (chars == n && cut == len)
            cut = i;
        if ((k = mask_utf8_decode((const unsigned char *)in + i, len - i, &cp)) == 0 || cp == 0)
            return -EINVAL;
    }
    return buf_append(out, in, cut);
}

static int shift_value(const struct mask_rule *r, enum mask_type t, const struct mask_key *key,
                       const char *in, size_t len, const char *row_key, size_t row_key_len,
                       struct buf *out)
{
    struct mask_time tm;
    struct mask_mac tmp;

    if (mask_time_parse(in, len, t == MASK_T_TIMESTAMP, &tm) < 0)
        return -EINVAL;
    const struct mask_mac *m = mac_of(key, &tmp);
    uint64_t h = mask_mac_u64(m, "doppel-mask/shift", row_key, row_key_len);
    mac_done(m, &tmp);
    mask_time_shift(&tm, (int64_t)(h % (uint64_t)(2 * r->range_s + 1)) - r->range_s);
    return mask_time_format(&tm, out);
}

/* Noise from the caller's generator, or with `stable` from one seeded by
 * HMAC(key, len(row_key) || row_key || value): the same value of the same row always gets
 * the same noise, distinct values and rows independent noise. */
static int noise_value(const struct mask_rule *r, enum mask_type t, const struct mask_key *key,
                       const char *in, size_t len, const char *row_key, size_t row_key_len,
                       struct rng *rng, struct buf *out)
{
    struct rng keyed;

    if (r->stable) {
        struct mask_mac tmp;
        unsigned char *msg = xmalloc(8 + row_key_len + len);
        for (int i = 0; i < 8; i++)
            msg[i] = (unsigned char)((uint64_t)row_key_len >> (56 - 8 * i));
        memcpy(msg + 8, row_key, row_key_len);
        memcpy(msg + 8 + row_key_len, in, len);
        const struct mask_mac *m = mac_of(key, &tmp);
        rng_seed(&keyed, mask_mac_u64(m, "doppel-mask/noise", msg, 8 + row_key_len + len));
        mac_done(m, &tmp);
        free(msg);
        rng = &keyed;
    }
    return mask_num_noise(t, in, len, r->sensitivity / r->epsilon, rng, out);
}

static int generalize_time(const struct mask_rule *r, enum mask_type t, const char *in, size_t len,
                           struct buf *out)
{
    struct mask_time tm;
    if (mask_time_parse(in, len, t == MASK_T_TIMESTAMP, &tm) < 0 ||
        mask_time_truncate(&tm, r->unit) < 0)
        return -EINVAL;
    return mask_time_format(&tm, out);
}

static int apply(const struct mask_rule *r, enum mask_type t, const struct mask_key *key,
                 const char *in, size_t len, const char *row_key, size_t row_key_len,
                 struct rng *rng, struct buf *out, bool *is_null)
{
    switch (r->kind) {
    case MASK_KEEP:
        return buf_append(out, in, len);
    case MASK_NULL:
        *is_null = true;
        return 0;
    case MASK_REDACT:
        return buf_appends(out, r->value ? r->value : redact_default(t));
    case MASK_HASH:
        return hash_value(t, key, in, len, out);
    case MASK_TRUNCATE:
        return truncate_value(r->n, in, len, out);
    case MASK_SHIFT:
        return shift_value(r, t, key, in, len, row_key, row_key_len, out);
    case MASK_NOISE:
        return noise_value(r, t, key, in, len, row_key, row_key_len, rng, out);
    case MASK_GENERALIZE:
        if (r->unit[0])
            return generalize_time(r, t, in, len, out);
        return mask_num_generalize(t, in, len, r->step, out);
    }
    return -EINVAL;
}

int mask_value(const struct mask_rule *r, enum mask_type t, const struct mask_key *key,
               const char *in, size_t len, const char *row_key, size_t row_key_len, struct rng *rng,
               struct buf *out, bool *is_null, struct err *err)
{
    buf_reset(out);
    *is_null = false;
    if (rule_accepts(r, t))
        return err_set(err, -EINVAL, "rule '%s' cannot handle type %s", rule_label(r->kind),
                       type_label(t));
    bool keyed =
        r->kind == MASK_HASH || r->kind == MASK_SHIFT || (r->kind == MASK_NOISE && r->stable);
    BUG_ON(keyed && !key);
    BUG_ON(r->kind == MASK_NOISE && !r->stable && !rng);
    if (keyed && r->kind != MASK_HASH && !row_key)
        return err_set(err, -EINVAL, "rule '%s' needs the row's key", rule_label(r->kind));
    int rc = apply(r, t, key, in, len, row_key, row_key_len, rng, out, is_null);
    if (rc == -ENOSPC)
        return err_set(err, rc, "masked value longer than %zu bytes", out->max);
    if (rc < 0) /* the value itself stays out of the message: it may be personal data */
        return err_set(err, rc, "rule '%s': value of %zu bytes is not a valid %s",
                       rule_label(r->kind), len, type_label(t));
    return 0;
}
