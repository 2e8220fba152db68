/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_mask: the cost of one mask_value call per rule and column type, in microseconds of
 * process CPU time (median of 7 runs), next to the peer measured in the same run: one plain
 * HMAC-SHA256 of the value with OpenSSL's one-shot HMAC(), which is what a keyed hash that
 * does not keep formats (a pseudonym column) costs. Built and run by bench/mask/run.sh
 * against build/libdoppel.a.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "datashadow/mask.h"

#define RUNS 7

struct bcase {
    const char *spec;
    enum mask_type type;
    const char *label;
    const char *value;
    int calls;
};

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Microseconds per call of one case, one run. */
static double run_case(const struct bcase *c, const struct mask_key *key, struct rng *rng)
{
    struct mask_rule r;
    struct buf out;
    struct err err;
    char rk[24];
    bool is_null;

    if (mask_rule_parse(c->spec, &r, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    buf_init(&out, 1 << 16);
    size_t len = strlen(c->value);
    double t0 = cpu_now();
    for (int i = 0; i < c->calls; i++) {
        int n = snprintf(rk, sizeof(rk), "%d", i);
        if (mask_value(&r, c->type, key, c->value, len, rk, (size_t)n, rng, &out, &is_null, &err) !=
            0) {
            fprintf(stderr, "%s: %s\n", c->spec, err.msg);
            exit(1);
        }
    }
    double us = (cpu_now() - t0) * 1e6 / c->calls;
    buf_release(&out);
    mask_rule_release(&r);
    return us;
}

static double run_peer(const struct mask_key *key, const char *value, int calls)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen;
    unsigned sink = 0;
    size_t len = strlen(value);
    double t0 = cpu_now();
    for (int i = 0; i < calls; i++) {
        HMAC(EVP_sha256(), key->bytes, (int)key->len, (const unsigned char *)value, len, md,
             &mdlen);
        sink += md[0];
    }
    double us = (cpu_now() - t0) * 1e6 / calls;
    return sink == 0xFFFFFFFFu ? -1 : us;
}

int main(void)
{
    static const struct bcase cases[] = {
        {"keep", MASK_T_TEXT, "keep, text", "Alice Smith", 200000},
        {"redact", MASK_T_TEXT, "redact, text", "Alice Smith", 200000},
        {"truncate:4", MASK_T_TEXT, "truncate:4, text", "Alice Smith", 200000},
        {"hash", MASK_T_INT2, "hash, int2", "1234", 20000},
        {"hash", MASK_T_INT, "hash, int4", "123456", 20000},
        {"hash", MASK_T_INT8, "hash, int8", "1234567890123", 20000},
        {"hash", MASK_T_UUID, "hash, uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", 20000},
        {"hash", MASK_T_TEXT, "hash, text 11 chars", "Alice Smith", 20000},
        {"hash", MASK_T_TEXT, "hash, text 60 chars",
         "The quick brown fox jumps over the lazy dog near 42 Main St.", 5000},
        {"hash:email", MASK_T_TEXT, "hash:email", "alice.smith@example.com", 10000},
        {"hash", MASK_T_NUMERIC, "hash, numeric", "1234.56", 20000},
        {"shift:30d", MASK_T_TIMESTAMP, "shift:30d, timestamptz", "2024-05-17 13:14:15.5+02",
         50000},
        {"noise:epsilon=1,sensitivity=10", MASK_T_INT, "noise, int4", "1000", 200000},
        {"noise:epsilon=1,sensitivity=10", MASK_T_NUMERIC, "noise, numeric", "1000.25", 200000},
        {"noise:epsilon=1,sensitivity=10,stable", MASK_T_INT, "noise stable, int4", "1000", 50000},
        {"generalize:10", MASK_T_NUMERIC, "generalize:10, numeric", "1234.56", 100000},
        {"generalize:month", MASK_T_TIMESTAMP, "generalize:month, timestamp", "2024-05-17 13:14:15",
         200000},
    };
    struct mask_key key = {.len = 32};
    struct rng rng;
    double t[RUNS];

    memset(key.bytes, 0x5a, key.len);
    rng_seed(&rng, 1);
    printf("| rule, type | us per value (median of %d) | values/s |\n|---|---:|---:|\n", RUNS);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int k = 0; k < RUNS; k++)
            t[k] = run_case(&cases[i], &key, &rng);
        qsort(t, RUNS, sizeof(t[0]), cmp_double);
        printf("| %s | %.2f | %.0f |\n", cases[i].label, t[RUNS / 2], 1e6 / t[RUNS / 2]);
    }
    for (int k = 0; k < RUNS; k++)
        t[k] = run_peer(&key, "Alice Smith", 200000);
    qsort(t, RUNS, sizeof(t[0]), cmp_double);
    printf("| peer: one-shot HMAC() of the value (not format-preserving) | %.2f | %.0f |\n",
           t[RUNS / 2], 1e6 / t[RUNS / 2]);
    return 0;
}
