/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_config_chaos: the `chaos:` section through config_load — every fault key parsed
 * into its field, the defaults, and each cross-field error with its file:line:col.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "config/config.h"
#include "testlib.h"

#define SVC                                                                                        \
    "services:\n  - name: api\n    listen: 127.0.0.1:8080\n"                                       \
    "    primary: { upstreams: [127.0.0.1:9001] }\n"                                               \
    "    shadows: [ { name: v2, upstreams: [127.0.0.1:9101] } ]\n"

static int load(const char *text, struct config **cfg, struct err *err)
{
    *cfg = NULL;
    return config_load_string("c.yaml", text, strlen(text), cfg, err);
}

static void test_config_chaos_parses_every_fault_key(void **state)
{
    (void)state;
    const char *text =
        SVC "chaos:\n"
            "  allow_primary_faults: true\n"
            "  experiments:\n"
            "    - name: slow-v2\n"
            "      start: 2s\n"
            "      duration: 10m\n"
            "      max_affected: 500\n"
            "      faults:\n"
            "        - kind: latency\n"
            "          latency: 80ms\n"
            "          jitter: 5ms\n"
            "          distribution: normal\n"
            "          probability: 0.25\n"
            "          direction: response\n"
            "          scope: { service: api, pool: v2, route: /items, header: X-Test, "
            "header_value: yes }\n"
            "          every: 1m\n"
            "          for: 10s\n"
            "        - { kind: abort, scope: { pool: primary } }\n"
            "        - { kind: bandwidth, rate: 64KiB }\n";
    struct config *cfg;
    struct err err = {0};
    assert_int_equal(load(text, &cfg, &err), 0);
    const struct config_chaos *c = &cfg->chaos;
    assert_true(c->allow_primary_faults);
    assert_int_equal(c->nexperiments, 1);
    const struct config_experiment *e = &c->experiments[0];
    assert_string_equal(e->name, "slow-v2");
    assert_int_equal(e->start_ns, 2000000000ULL);
    assert_int_equal(e->duration_ns, 600000000000ULL);
    assert_int_equal(e->max_affected, 500);
    assert_int_equal(e->nfaults, 3);
    const struct config_fault *f = &e->faults[0];
    assert_string_equal(config_fault_kinds[f->kind], "latency");
    assert_int_equal(f->latency_ns, 80000000);
    assert_int_equal(f->jitter_ns, 5000000);
    assert_int_equal(f->distribution, 1);
    assert_close(f->probability, 0.25, 0);
    assert_int_equal(f->direction, 1);
    assert_string_equal(f->route, "/items");
    assert_string_equal(f->header, "x-test");
    assert_string_equal(f->header_value, "yes");
    assert_int_equal(f->every_ns, 60000000000ULL);
    assert_int_equal(f->for_ns, 10000000000ULL);
    assert_string_equal(config_fault_kinds[e->faults[1].kind], "abort");
    assert_int_equal(e->faults[1].status, 503); /* default */
    assert_close(e->faults[1].probability, 1.0, 0);
    assert_int_equal(e->faults[2].rate, 65536);
    config_free(cfg);
}

static void fails(const char *chaos, const char *msg)
{
    char text[2048];
    snprintf(text, sizeof(text), "%s%s", SVC, chaos);
    struct config *cfg;
    struct err err = {0};
    assert_int_not_equal(load(text, &cfg, &err), 0);
    assert_null(cfg);
    assert_string_equal(err.msg, msg);
}

static void test_config_chaos_reports_errors_at_the_fault(void **state)
{
    (void)state;
    fails("chaos:\n  experiments:\n    - name: x\n      faults:\n        - { kind: latency }\n",
          "c.yaml:10:11: a latency fault needs 'latency' or 'jitter'");
    fails("chaos:\n  experiments:\n    - name: x\n      faults:\n"
          "        - { kind: hang, scope: { pool: primary } }\n",
          "c.yaml:10:11: faults on the primary pool need chaos.allow_primary_faults: true");
    fails("chaos:\n  allow_primary_faults: true\n  experiments:\n    - name: x\n      faults:\n"
          "        - { kind: hang, scope: { pool: primary } }\n",
          "c.yaml:11:11: 'hang': on the primary path only 'latency', 'abort' and 'reset' apply");
    fails("chaos:\n  allow_primary_faults: true\n  experiments:\n    - name: x\n      faults:\n"
          "        - { kind: latency, latency: 5ms, direction: response, scope: { pool: primary } "
          "}\n",
          "c.yaml:11:11: 'latency': on the primary path faults act in the request direction only");
    fails("chaos:\n  experiments:\n    - name: x\n      faults:\n"
          "        - { kind: hang, scope: { pool: v3 } }\n",
          "c.yaml:10:11: the scope names no shadow pool of its service");
    fails("chaos:\n  experiments:\n    - name: x\n      faults:\n"
          "        - { kind: hang, scope: { service: web } }\n",
          "c.yaml:10:11: the scope names no service of this file");
    fails("chaos:\n  experiments:\n    - name: x\n      faults:\n"
          "        - { kind: hang, probability: 2 }\n",
          "c.yaml:10:38: 2 is out of range (0..1)");
    fails("chaos:\n  experiments:\n    - name: x\n      faults:\n"
          "        - { kind: hang, every: 1s }\n",
          "c.yaml:10:11: 'every' and 'for' go together, and 'for' must not exceed 'every'");
    fails("chaos:\n  experiments:\n    - name: x\n      faults: [ { kind: hang } ]\n"
          "    - name: x\n      faults: [ { kind: hang } ]\n",
          "c.yaml:10:7: experiment name 'x' is used twice");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_chaos_parses_every_fault_key),
        cmocka_unit_test(test_config_chaos_reports_errors_at_the_fault),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
