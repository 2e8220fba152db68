/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for datashadow/mask: rule parsing and its errors, column type checks that name the
 * column and type, and mask_value end to end for every rule: formats kept (checked with
 * POSIX regular expressions), hashes deterministic across rows and tables (so joins
 * match), shift offsets against Python's hmac and datetime, UTF-8 truncation, noise
 * against scipy's Laplace moments, and bad values refused without echoing them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "datashadow/mask.h"
#include "testlib.h"

#define KEY "doppel-test-key"

struct fx {
    struct mask_key key;
    struct rng rng;
    struct buf out;
    struct mask_rule rule;
    struct err err;
    bool is_null;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->key.len = strlen(KEY);
    memcpy(f->key.bytes, KEY, f->key.len);
    rng_seed(&f->rng, 99);
    buf_init(&f->out, 1 << 16);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    buf_release(&f->out);
    mask_rule_release(&f->rule);
    free(f);
    return 0;
}

/* Parses spec into f->rule (asserting success). */
static void rule(struct fx *f, const char *spec)
{
    mask_rule_release(&f->rule);
    assert_int_equal(mask_rule_parse(spec, &f->rule, &f->err), 0);
}

/* Masks in with f->rule as type t and row key rk; returns the text (asserting success). */
static const char *mask(struct fx *f, enum mask_type t, const char *in, const char *rk)
{
    int rc = mask_value(&f->rule, t, &f->key, in, strlen(in), rk, rk ? strlen(rk) : 0, &f->rng,
                        &f->out, &f->is_null, &f->err);
    if (rc != 0)
        print_error("mask_value('%s'): %s\n", in, f->err.msg);
    assert_int_equal(rc, 0);
    return f->out.data ? f->out.data : "";
}

static bool matches(const char *re, const char *s)
{
    regex_t r;
    assert_int_equal(regcomp(&r, re, REG_EXTENDED | REG_NOSUB), 0);
    bool ok = regexec(&r, s, 0, NULL, 0) == 0;
    regfree(&r);
    return ok;
}

static void test_mask_rule_parse_accepts_every_rule(void **state)
{
    struct fx *f = *state;

    rule(f, "keep");
    assert_int_equal(f->rule.kind, MASK_KEEP);
    rule(f, "null");
    assert_int_equal(f->rule.kind, MASK_NULL);
    rule(f, "redact");
    assert_int_equal(f->rule.kind, MASK_REDACT);
    assert_null(f->rule.value);
    rule(f, "redact:a:b");
    assert_string_equal(f->rule.value, "a:b");
    rule(f, "hash");
    assert_int_equal(f->rule.kind, MASK_HASH);
    assert_false(f->rule.email);
    rule(f, "hash:email");
    assert_true(f->rule.email);
    rule(f, "truncate:4");
    assert_int_equal(f->rule.n, 4);
    rule(f, "shift:30d");
    assert_true(f->rule.range_s == 30 * 86400);
    rule(f, "shift:2w");
    assert_true(f->rule.range_s == 14 * 86400);
    rule(f, "shift:90m");
    assert_true(f->rule.range_s == 5400);
    rule(f, "noise:sensitivity=100,epsilon=0.5");
    assert_close(f->rule.epsilon, 0.5, 0);
    assert_close(f->rule.sensitivity, 100, 0);
    assert_false(f->rule.stable);
    rule(f, "noise:epsilon=1,stable,sensitivity=2");
    assert_true(f->rule.stable);
    rule(f, "generalize:0.25");
    assert_close(f->rule.step, 0.25, 0);
    rule(f, "generalize:month");
    assert_string_equal(f->rule.unit, "month");
}

static void test_mask_rule_parse_rejects_bad_specs(void **state)
{
    (void)state;
    static const char *const bad[][2] = {
        {"", "unknown rule"},
        {"frob", "unknown rule 'frob'"},
        {"keep:1", "takes no argument"},
        {"hash:sha1", "want hash or hash:email"},
        {"truncate", "want truncate:N"},
        {"truncate:0", "want truncate:N"},
        {"truncate:-3", "want truncate:N"},
        {"truncate:4x", "want truncate:N"},
        {"shift", "want shift:RANGE"},
        {"shift:30", "want shift:RANGE"},
        {"shift:30x", "want shift:RANGE"},
        {"shift:-5d", "want shift:RANGE"},
        {"shift:0d", "want shift:RANGE"},
        {"shift:40000d", "above 100 years"},
        {"noise", "want noise:epsilon=E,sensitivity=S"},
        {"noise:epsilon=1", "want noise:epsilon=E,sensitivity=S"},
        {"noise:epsilon=0,sensitivity=1", "epsilon must be a number above 0"},
        {"noise:epsilon=1,sensitivity=x", "sensitivity must be a number above 0"},
        {"noise:epsilon=1,epsilon=2,sensitivity=1", "'epsilon' given twice"},
        {"noise:epsilon=1,delta=2,sensitivity=1", "unknown noise parameter 'delta'"},
        {"noise:epsilon=1,sensitivity=1,stable,stable", "'stable' given twice"},
        {"noise:epsilon=1,sensitivity=1,stable=1", "unknown noise parameter 'stable'"},
        {"generalize", "want generalize:STEP"},
        {"generalize:week", "want generalize:STEP"},
        {"generalize:0", "want generalize:STEP"},
        {"generalize:0.0000000001", "want generalize:STEP"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct mask_rule r;
        struct err e;
        err_clear(&e);
        assert_int_equal(mask_rule_parse(bad[i][0], &r, &e), -EINVAL);
        if (!strstr(e.msg, bad[i][1]))
            print_error("'%s': got '%s', want '%s'\n", bad[i][0], e.msg, bad[i][1]);
        assert_non_null(strstr(e.msg, bad[i][1]));
        assert_null(r.value); /* nothing left to release */
    }
}

static void test_mask_type_of_maps_oids_and_names(void **state)
{
    (void)state;
    assert_int_equal(mask_type_of(25, NULL), MASK_T_TEXT);
    assert_int_equal(mask_type_of(1043, "varchar"), MASK_T_TEXT);
    assert_int_equal(mask_type_of(1042, NULL), MASK_T_TEXT);
    assert_int_equal(mask_type_of(21, NULL), MASK_T_INT2);
    assert_int_equal(mask_type_of(23, NULL), MASK_T_INT);
    assert_int_equal(mask_type_of(20, NULL), MASK_T_INT8);
    assert_int_equal(mask_type_of(1700, NULL), MASK_T_NUMERIC);
    assert_int_equal(mask_type_of(700, NULL), MASK_T_FLOAT);
    assert_int_equal(mask_type_of(701, NULL), MASK_T_FLOAT);
    assert_int_equal(mask_type_of(2950, NULL), MASK_T_UUID);
    assert_int_equal(mask_type_of(1082, NULL), MASK_T_DATE);
    assert_int_equal(mask_type_of(1114, NULL), MASK_T_TIMESTAMP);
    assert_int_equal(mask_type_of(1184, NULL), MASK_T_TIMESTAMP);
    assert_int_equal(mask_type_of(16, NULL), MASK_T_BOOL);
    assert_int_equal(mask_type_of(16384, "citext"), MASK_T_TEXT);
    assert_int_equal(mask_type_of(3802, "jsonb"), MASK_T_OTHER);
    assert_int_equal(mask_type_of(0, NULL), MASK_T_OTHER);
}

static void expect_check_error(const char *spec, enum mask_type t, const char *want)
{
    struct mask_rule r;
    struct err e;

    assert_int_equal(mask_rule_parse(spec, &r, NULL), 0);
    err_clear(&e);
    assert_int_equal(mask_rule_check(&r, t, "users.col", &e), -EINVAL);
    if (!strstr(e.msg, want) || !strstr(e.msg, "users.col"))
        print_error("'%s': got '%s', want '%s'\n", spec, e.msg, want);
    assert_non_null(strstr(e.msg, want));
    assert_non_null(strstr(e.msg, "column 'users.col'"));
    mask_rule_release(&r);
}

static void test_mask_rule_check_names_column_and_type(void **state)
{
    (void)state;
    expect_check_error("noise:epsilon=1,sensitivity=1", MASK_T_TEXT,
                       "rule 'noise' cannot handle type text");
    expect_check_error("shift:30d", MASK_T_INT, "rule 'shift' cannot handle type int4");
    expect_check_error("truncate:3", MASK_T_INT8, "rule 'truncate' cannot handle type int8");
    expect_check_error("hash", MASK_T_DATE, "rule 'hash' cannot handle type date");
    expect_check_error("hash", MASK_T_FLOAT, "rule 'hash' cannot handle type float");
    expect_check_error("hash", MASK_T_BOOL, "rule 'hash' cannot handle type bool");
    expect_check_error("hash:email", MASK_T_INT, "rule 'hash' cannot handle type int4");
    expect_check_error("generalize:month", MASK_T_NUMERIC,
                       "rule 'generalize' cannot handle type numeric");
    expect_check_error("generalize:10", MASK_T_TIMESTAMP,
                       "rule 'generalize' cannot handle type timestamp");
    expect_check_error("generalize:hour", MASK_T_DATE, "generalize:hour on a date");
    expect_check_error("generalize:2.5", MASK_T_INT2, "must be a whole number");
    expect_check_error("shift:12h", MASK_T_DATE, "below one day");
    expect_check_error("redact:abc", MASK_T_INT, "redact value 'abc' is not a valid int4");
    expect_check_error("redact:2024-02-30", MASK_T_DATE, "is not a valid date");
    expect_check_error("redact", MASK_T_OTHER, "needs a value");
}

static void test_mask_rule_check_accepts_fitting_types(void **state)
{
    (void)state;
    static const struct {
        const char *spec;
        enum mask_type t;
    } ok[] = {
        {"keep", MASK_T_OTHER},          {"null", MASK_T_BOOL},
        {"redact", MASK_T_UUID},         {"redact:{}", MASK_T_OTHER},
        {"redact:42", MASK_T_INT2},      {"redact:t", MASK_T_BOOL},
        {"hash", MASK_T_TEXT},           {"hash", MASK_T_INT2},
        {"hash", MASK_T_INT8},           {"hash", MASK_T_NUMERIC},
        {"hash", MASK_T_UUID},           {"hash:email", MASK_T_TEXT},
        {"truncate:1", MASK_T_TEXT},     {"shift:1d", MASK_T_DATE},
        {"shift:1s", MASK_T_TIMESTAMP},  {"noise:epsilon=1,sensitivity=1", MASK_T_FLOAT},
        {"generalize:5", MASK_T_INT},    {"generalize:0.5", MASK_T_NUMERIC},
        {"generalize:day", MASK_T_DATE}, {"generalize:hour", MASK_T_TIMESTAMP},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct mask_rule r;
        struct err e;
        assert_int_equal(mask_rule_parse(ok[i].spec, &r, NULL), 0);
        if (mask_rule_check(&r, ok[i].t, "t.c", &e) != 0)
            print_error("'%s': %s\n", ok[i].spec, e.msg);
        assert_int_equal(mask_rule_check(&r, ok[i].t, "t.c", &e), 0);
        mask_rule_release(&r);
    }
}

static void test_mask_value_keep_null_redact(void **state)
{
    struct fx *f = *state;

    rule(f, "keep");
    assert_string_equal(mask(f, MASK_T_TEXT, "alice", NULL), "alice");
    assert_false(f->is_null);
    rule(f, "null");
    mask(f, MASK_T_INT, "5", NULL);
    assert_true(f->is_null);
    rule(f, "redact");
    assert_string_equal(mask(f, MASK_T_TEXT, "alice", NULL), "redacted");
    assert_false(f->is_null);
    assert_string_equal(mask(f, MASK_T_INT8, "12", NULL), "0");
    assert_string_equal(mask(f, MASK_T_UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", NULL),
                        "00000000-0000-0000-0000-000000000000");
    assert_string_equal(mask(f, MASK_T_DATE, "2024-01-02", NULL), "1970-01-01");
    rule(f, "redact:***");
    assert_string_equal(mask(f, MASK_T_TEXT, "alice", NULL), "***");
}

#define RE_UUID "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"

static void test_mask_value_hash_keeps_formats(void **state)
{
    struct fx *f = *state;
    char a[128];

    rule(f, "hash");
    assert_true(matches("^-?[0-9]+$", mask(f, MASK_T_INT2, "-12", NULL)));
    long v = strtol(f->out.data, NULL, 10);
    assert_true(v < 0 && v >= -32768);
    assert_true(
        matches(RE_UUID, mask(f, MASK_T_UUID, "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", NULL)));
    snprintf(a, sizeof(a), "%s", f->out.data);
    assert_string_equal(mask(f, MASK_T_UUID, "{a0eebc999c0b4ef8bb6d6bb9bd380a11}", NULL), a);
    assert_true(
        matches("^[a-z]{5}@[a-z]{7}\\.com$", mask(f, MASK_T_TEXT, "alice@example.com", NULL)));
    assert_true(matches("^[A-Z][a-z]{4} [A-Z][a-z]{4}-[A-Z][a-z]{4}, [0-9]{2}$",
                        mask(f, MASK_T_TEXT, "Alice Smith-Jones, 42", NULL)));
    assert_true(
        matches("^[1-9][0-9]{3}\\.[0-9][1-9]0$", mask(f, MASK_T_NUMERIC, "1234.560", NULL)));
    assert_string_equal(mask(f, MASK_T_NUMERIC, "NaN", NULL), "NaN");
    assert_string_equal(mask(f, MASK_T_TEXT, "", NULL), "");
    rule(f, "hash:email");
    assert_true(matches("^[a-z]{3}\\.[a-z]{5}@[a-z]{4}\\.[a-z]{2}\\.uk$",
                        mask(f, MASK_T_TEXT, "bob.jones@mail.co.uk", NULL)));
    assert_true(matches("^[a-z]{8}$", mask(f, MASK_T_TEXT, "notemail", NULL)));
}

static void test_mask_value_hash_is_deterministic_so_joins_match(void **state)
{
    struct fx *f = *state;
    char users_id[32], orders_user_id[32], email[64];

    rule(f, "hash");
    /* users.id and orders.user_id: other rows, same value, same masked value */
    snprintf(users_id, sizeof(users_id), "%s", mask(f, MASK_T_INT, "1042", "1042"));
    snprintf(orders_user_id, sizeof(orders_user_id), "%s", mask(f, MASK_T_INT, "1042", "77"));
    assert_string_equal(users_id, orders_user_id);
    assert_string_not_equal(users_id, "1042");
    snprintf(email, sizeof(email), "%s", mask(f, MASK_T_TEXT, "alice@example.com", "1"));
    assert_string_equal(mask(f, MASK_T_TEXT, "alice@example.com", "2"), email);
    /* another key, another mapping */
    f->key.bytes[0] ^= 1;
    assert_string_not_equal(mask(f, MASK_T_INT, "1042", "1042"), users_id);
    f->key.bytes[0] ^= 1;
}

static void test_mask_value_hash_keys_stay_unique(void **state)
{
    struct fx *f = *state;
    enum { N = 5000 };
    int64_t *seen = malloc(N * sizeof(*seen));
    char in[16];

    rule(f, "hash");
    for (int i = 0; i < N; i++) {
        snprintf(in, sizeof(in), "%d", i + 1);
        seen[i] = strtoll(mask(f, MASK_T_INT, in, NULL), NULL, 10);
        assert_true(seen[i] > 0 && seen[i] <= INT32_MAX);
        for (int j = 0; j < i; j++)
            assert_true(seen[i] != seen[j]);
    }
    free(seen);
}

static void test_mask_value_shift_matches_python(void **state)
{
    struct fx *f = *state;

    /* /usr/bin/python3 -c 'import hmac,hashlib; from datetime import datetime, timedelta;
     *   u = int.from_bytes(hmac.new(b"doppel-test-key", b"doppel-mask/shift\0" + b"42",
     *     hashlib.sha256).digest()[:8], "big"); R = 30 * 86400; off = u % (2 * R + 1) - R;
     *   print(off, datetime(2024,2,29,12,34,56) + timedelta(seconds=off))'
     *   -> -1070304 2024-02-17 03:16:32 (a date moves by int(off / 86400) = -12 days) */
    rule(f, "shift:30d");
    assert_string_equal(mask(f, MASK_T_TIMESTAMP, "2024-02-29 12:34:56.789+05:30", "42"),
                        "2024-02-17 03:16:32.789+05:30");
    assert_string_equal(mask(f, MASK_T_TIMESTAMP, "2024-02-29 12:34:56", "42"),
                        "2024-02-17 03:16:32");
    assert_string_equal(mask(f, MASK_T_DATE, "2024-02-29", "42"), "2024-02-17");
    assert_string_equal(mask(f, MASK_T_DATE, "infinity", "42"), "infinity");
}

static int64_t seconds_of(const char *ts)
{
    struct tm tm = {0};
    assert_non_null(strptime(ts, "%Y-%m-%d %H:%M:%S", &tm));
    return (int64_t)timegm(&tm);
}

static void test_mask_value_shift_stays_within_range_per_row(void **state)
{
    struct fx *f = *state;
    const int64_t base = seconds_of("2024-06-15 12:00:00"), range = 7 * 86400;
    int64_t lo = 0, hi = 0;
    char rk[16], first[64];

    rule(f, "shift:7d");
    for (int i = 0; i < 2000; i++) {
        snprintf(rk, sizeof(rk), "%d", i);
        int64_t off = seconds_of(mask(f, MASK_T_TIMESTAMP, "2024-06-15 12:00:00+00", rk)) - base;
        assert_true(off >= -range && off <= range);
        lo = off < lo ? off : lo;
        hi = off > hi ? off : hi;
        /* another column of the same row moves by the same offset */
        assert_true(seconds_of(mask(f, MASK_T_TIMESTAMP, "2024-06-16 12:00:00", rk)) - base ==
                    off + 86400);
    }
    assert_true(lo < -range * 9 / 10 && hi > range * 9 / 10); /* spread over the range */
    snprintf(first, sizeof(first), "%s", mask(f, MASK_T_TIMESTAMP, "2024-06-15 12:00:00", "7"));
    assert_string_equal(mask(f, MASK_T_TIMESTAMP, "2024-06-15 12:00:00", "7"), first);
    assert_string_not_equal(mask(f, MASK_T_TIMESTAMP, "2024-06-15 12:00:00", "8"), first);
}

static void test_mask_value_truncate_counts_utf8_characters(void **state)
{
    struct fx *f = *state;

    rule(f, "truncate:3");
    assert_string_equal(mask(f, MASK_T_TEXT, "Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m", NULL),
                        "Zo\xc3\xab");
    assert_string_equal(
        mask(f, MASK_T_TEXT, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xf0\x9f\x98\x80", NULL),
        "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
    assert_string_equal(mask(f, MASK_T_TEXT, "ab", NULL), "ab");
    assert_string_equal(mask(f, MASK_T_TEXT, "abc", NULL), "abc");
    assert_string_equal(mask(f, MASK_T_TEXT, "", NULL), "");
    assert_int_equal(mask_value(&f->rule, MASK_T_TEXT, &f->key, "ab\xff", 3, NULL, 0, NULL, &f->out,
                                &f->is_null, &f->err),
                     -EINVAL);
}

static void test_mask_value_noise_matches_scipy_moments(void **state)
{
    struct fx *f = *state;
    enum { N = 20000 };
    double sum = 0, sq = 0;

    /* b = sensitivity / epsilon = 4:
     *   /usr/bin/python3 -c 'from scipy.stats import laplace;
     *     print(laplace(scale=4).stats(moments="mv"), laplace(scale=4).moment(4))'
     *   -> mean 0, variance 32, 4th moment 6144; 5 standard errors as tolerance */
    rule(f, "noise:epsilon=0.5,sensitivity=2");
    for (int i = 0; i < N; i++) {
        double x = strtod(mask(f, MASK_T_FLOAT, "250", NULL), NULL) - 250;
        sum += x;
        sq += x * x;
    }
    double mean = sum / N, var = sq / N - mean * mean;
    assert_close(mean, 0, 5 * sqrt(32.0 / N));
    assert_close(var, 32, 5 * sqrt((6144 - 32 * 32) / (double)N));
    assert_true(matches("^-?[0-9]+$", mask(f, MASK_T_INT, "250", NULL)));
    assert_true(matches("^-?[0-9]+\\.[0-9]{2}$", mask(f, MASK_T_NUMERIC, "250.00", NULL)));
}

static void test_mask_value_stable_noise_repeats_per_row_and_value(void **state)
{
    struct fx *f = *state;
    enum { N = 20000 };
    double sum = 0, sq = 0;
    char rk[16], first[32];

    rule(f, "noise:epsilon=0.5,sensitivity=2,stable");
    snprintf(first, sizeof(first), "%s", mask(f, MASK_T_FLOAT, "250", "7"));
    rng_seed(&f->rng, 12345); /* the caller's generator plays no part */
    assert_string_equal(mask(f, MASK_T_FLOAT, "250", "7"), first);
    assert_string_not_equal(mask(f, MASK_T_FLOAT, "250", "8"), first);
    assert_true(strtod(mask(f, MASK_T_FLOAT, "251", "7"), NULL) - 1 != strtod(first, NULL));
    /* Across rows the draws are Laplace(0, 4): the moments of
     *   /usr/bin/python3 -c 'from scipy.stats import laplace;
     *     print(laplace(scale=4).stats(moments="mv"), laplace(scale=4).moment(4))'
     *   -> mean 0, variance 32, 4th moment 6144; 5 standard errors as tolerance */
    for (int i = 0; i < N; i++) {
        snprintf(rk, sizeof(rk), "%d", i);
        double x = strtod(mask(f, MASK_T_FLOAT, "250", rk), NULL) - 250;
        sum += x;
        sq += x * x;
    }
    double mean = sum / N, var = sq / N - mean * mean;
    assert_close(mean, 0, 5 * sqrt(32.0 / N));
    assert_close(var, 32, 5 * sqrt((6144 - 32 * 32) / (double)N));
    assert_int_equal(mask_value(&f->rule, MASK_T_INT, &f->key, "5", 1, NULL, 0, NULL, &f->out,
                                &f->is_null, &f->err),
                     -EINVAL);
    assert_non_null(strstr(f->err.msg, "needs the row's key"));
}

/* A prepared key (one keyed MAC reused by every value) masks exactly like a key that keys
 * a MAC per value: the same outputs for every keyed rule and type. */
static void test_mask_value_prepared_key_gives_the_same_outputs(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *rule;
        enum mask_type t;
        const char *in;
    } cases[] = {
        {"hash", MASK_T_INT, "1042"},
        {"hash", MASK_T_INT8, "-9223372036854775808"},
        {"hash", MASK_T_TEXT, "alice@example.com"},
        {"hash", MASK_T_TEXT, "Zoë Müller, 12 Rue de la Paix"},
        {"hash", MASK_T_NUMERIC, "1234.50"},
        {"hash", MASK_T_UUID, "6f1c2a7e-4b1d-4c3e-9a2b-0c1d2e3f4a5b"},
        {"shift:30d", MASK_T_DATE, "2024-02-29"},
        {"noise:epsilon=0.5,sensitivity=2,stable", MASK_T_FLOAT, "250"},
    };
    char plain[128];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rule(f, cases[i].rule);
        snprintf(plain, sizeof(plain), "%s", mask(f, cases[i].t, cases[i].in, "7"));
        mask_key_prepare(&f->key);
        assert_non_null(f->key.mac);
        assert_string_equal(mask(f, cases[i].t, cases[i].in, "7"), plain);
        assert_string_equal(mask(f, cases[i].t, cases[i].in, "7"), plain); /* reused */
        mask_key_release(&f->key);
        assert_null(f->key.mac);
        f->key.len = strlen(KEY);
        memcpy(f->key.bytes, KEY, f->key.len);
    }
}

static void test_mask_value_generalize_gives_exact_answers(void **state)
{
    struct fx *f = *state;

    /* /usr/bin/python3 -c 'from decimal import Decimal as D, ROUND_FLOOR;
     *   print((D(X) / D(S)).to_integral_value(rounding=ROUND_FLOOR) * D(S))' */
    rule(f, "generalize:10");
    assert_string_equal(mask(f, MASK_T_INT, "37", NULL), "30");
    assert_string_equal(mask(f, MASK_T_INT, "-37", NULL), "-40");
    rule(f, "generalize:0.1");
    assert_string_equal(mask(f, MASK_T_NUMERIC, "0.3", NULL), "0.3");
    assert_string_equal(mask(f, MASK_T_NUMERIC, "2.79", NULL), "2.7");
    rule(f, "generalize:year");
    assert_string_equal(mask(f, MASK_T_DATE, "1987-06-05", NULL), "1987-01-01");
    rule(f, "generalize:hour");
    assert_string_equal(mask(f, MASK_T_TIMESTAMP, "2024-05-17 13:14:15.5-07", NULL),
                        "2024-05-17 13:00:00-07");
}

static void expect_bad_value(struct fx *f, const char *spec, enum mask_type t, const char *v,
                             const char *type)
{
    char want[64];

    rule(f, spec);
    err_clear(&f->err);
    assert_int_equal(mask_value(&f->rule, t, &f->key, v, strlen(v), "1", 1, &f->rng, &f->out,
                                &f->is_null, &f->err),
                     -EINVAL);
    snprintf(want, sizeof(want), "is not a valid %s", type);
    assert_non_null(strstr(f->err.msg, want));
    if (strlen(v) > 2)
        assert_null(strstr(f->err.msg, v)); /* personal data stays out of logs */
}

static void test_mask_value_rejects_bad_values(void **state)
{
    struct fx *f = *state;

    expect_bad_value(f, "hash", MASK_T_INT2, "70000", "int2");
    expect_bad_value(f, "hash", MASK_T_INT, "12a", "int4");
    expect_bad_value(f, "hash", MASK_T_UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1", "uuid");
    expect_bad_value(f, "hash", MASK_T_UUID, "a0eebc99--9c0b4ef8bb6d6bb9bd380a11", "uuid");
    expect_bad_value(f, "hash", MASK_T_NUMERIC, "12,5", "numeric");
    expect_bad_value(f, "hash", MASK_T_TEXT, "secret\xc3", "text");
    expect_bad_value(f, "shift:1d", MASK_T_DATE, "2023-02-29", "date");
    expect_bad_value(f, "shift:1d", MASK_T_TIMESTAMP, "05/17/2024 13:14", "timestamp");
    expect_bad_value(f, "noise:epsilon=1,sensitivity=1", MASK_T_FLOAT, "lots", "float");
    expect_bad_value(f, "generalize:month", MASK_T_DATE, "17.05.2024", "date");
    /* a rule on a type it cannot handle is refused here too, not only by the check */
    rule(f, "truncate:3");
    assert_int_equal(mask_value(&f->rule, MASK_T_INT, &f->key, "5", 1, NULL, 0, NULL, &f->out,
                                &f->is_null, &f->err),
                     -EINVAL);
    assert_non_null(strstr(f->err.msg, "cannot handle type int4"));
    rule(f, "shift:1d");
    assert_int_equal(mask_value(&f->rule, MASK_T_DATE, &f->key, "2024-01-01", 10, NULL, 0, NULL,
                                &f->out, &f->is_null, &f->err),
                     -EINVAL);
    assert_non_null(strstr(f->err.msg, "needs the row's key"));
}

/* A valid value of type t, mutated (a byte replaced, deleted or inserted) half the time,
 * so the rules see both well-formed values and near misses. */
static size_t random_value(struct rng *g, enum mask_type t, char *s, size_t cap)
{
    static const char *const seeds[][3] = {
        [MASK_T_TEXT] = {"Alice Smith", "bob@example.com", "Zo\xc3\xab \xe6\x9d\xb1"},
        [MASK_T_INT] = {"12345", "-7", "0"},
        [MASK_T_NUMERIC] = {"1234.50", "-0.05", "NaN"},
        [MASK_T_UUID] = {"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                         "{A0EEBC999C0B4EF8BB6D6BB9BD380A11}",
                         "00000000-0000-0000-0000-000000000000"},
        [MASK_T_DATE] = {"2024-02-29", "0044-03-15 BC", "infinity"},
        [MASK_T_TIMESTAMP] = {"2024-02-29 12:34:56.5+05:30", "2024-01-01 00:00:00",
                              "0001-12-31 23:59:59+00 BC"},
        [MASK_T_BOOL] = {"t", "f", "true"},
        [MASK_T_OTHER] = {"{}", "[1,2]", "x"},
        [MASK_T_INT2] = {"-32768", "32767", "123"},
        [MASK_T_INT8] = {"9223372036854775807", "-9223372036854775808", "42"},
        [MASK_T_FLOAT] = {"1.5e+20", "-0.25", "Infinity"},
    };
    static const char alpha[] = "0123456789-.: +eEaf{}BCNIT\xc3\xa9\xff@";
    const char *seed = seeds[t][rng_below32(g, 3)];
    size_t n = strlen(seed);

    memcpy(s, seed, n);
    for (uint32_t k = rng_below32(g, 2) ? 0 : 1 + rng_below32(g, 2); k > 0 && n > 0; k--) {
        size_t at = rng_below32(g, (uint32_t)n);
        char c = alpha[rng_below32(g, sizeof(alpha) - 1)];
        uint32_t op = rng_below32(g, 3);
        if (op == 0)
            s[at] = c;
        else if (op == 1)
            memmove(s + at, s + at + 1, --n - at);
        else if (n + 1 < cap) {
            memmove(s + at + 1, s + at, n++ - at);
            s[at] = c;
        }
    }
    return n;
}

static void test_mask_value_random_input_never_crashes(void **state)
{
    struct fx *f = *state;
    static const char *const specs[] = {"keep",
                                        "null",
                                        "redact",
                                        "hash",
                                        "hash:email",
                                        "truncate:3",
                                        "shift:3d",
                                        "noise:epsilon=1,sensitivity=5",
                                        "noise:epsilon=1,sensitivity=5,stable",
                                        "generalize:0.5",
                                        "generalize:7",
                                        "generalize:month"};
    char v[48];
    struct rng g;

    rng_seed(&g, 2024);
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        rule(f, specs[i]);
        for (int t = MASK_T_TEXT; t <= MASK_T_FLOAT; t++) {
            if (mask_rule_check(&f->rule, (enum mask_type)t, "t.c", NULL) != 0)
                continue;
            for (int k = 0; k < 300; k++) {
                size_t n = random_value(&g, (enum mask_type)t, v, sizeof(v));
                int rc = mask_value(&f->rule, (enum mask_type)t, &f->key, v, n, "rk", 2, &f->rng,
                                    &f->out, &f->is_null, &f->err);
                assert_true(rc == 0 || rc == -EINVAL);
                if (rc != 0 || f->is_null || f->rule.kind == MASK_KEEP)
                    continue;
                /* what a rule writes is a valid value of the type: it masks again */
                char *again = strndup(f->out.data ? f->out.data : "", f->out.len);
                assert_int_equal(strlen(again), f->out.len);
                rc = mask_value(&f->rule, (enum mask_type)t, &f->key, again, strlen(again), "rk", 2,
                                &f->rng, &f->out, &f->is_null, &f->err);
                if (rc != 0)
                    print_error("%s on type %d: '%s' from '%.*s'\n", specs[i], t, again, (int)n, v);
                assert_int_equal(rc, 0);
                free(again);
            }
        }
    }
}

static void test_mask_value_caps_output(void **state)
{
    struct fx *f = *state;
    struct buf small;

    buf_init(&small, 4);
    rule(f, "hash");
    assert_int_equal(mask_value(&f->rule, MASK_T_TEXT, &f->key, "abcdefgh", 8, NULL, 0, NULL,
                                &small, &f->is_null, &f->err),
                     -ENOSPC);
    assert_non_null(strstr(f->err.msg, "longer than 4 bytes"));
    buf_release(&small);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mask_rule_parse_accepts_every_rule),
        cmocka_unit_test(test_mask_rule_parse_rejects_bad_specs),
        cmocka_unit_test(test_mask_type_of_maps_oids_and_names),
        cmocka_unit_test(test_mask_rule_check_names_column_and_type),
        cmocka_unit_test(test_mask_rule_check_accepts_fitting_types),
        cmocka_unit_test(test_mask_value_keep_null_redact),
        cmocka_unit_test(test_mask_value_hash_keeps_formats),
        cmocka_unit_test(test_mask_value_hash_is_deterministic_so_joins_match),
        cmocka_unit_test(test_mask_value_hash_keys_stay_unique),
        cmocka_unit_test(test_mask_value_shift_matches_python),
        cmocka_unit_test(test_mask_value_shift_stays_within_range_per_row),
        cmocka_unit_test(test_mask_value_truncate_counts_utf8_characters),
        cmocka_unit_test(test_mask_value_noise_matches_scipy_moments),
        cmocka_unit_test(test_mask_value_stable_noise_repeats_per_row_and_value),
        cmocka_unit_test(test_mask_value_prepared_key_gives_the_same_outputs),
        cmocka_unit_test(test_mask_value_generalize_gives_exact_answers),
        cmocka_unit_test(test_mask_value_rejects_bad_values),
        cmocka_unit_test(test_mask_value_random_input_never_crashes),
        cmocka_unit_test(test_mask_value_caps_output),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
