/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_config_provision: the `run:` and `provision:` keys through config_load -- the
 * defaults, a shadow's inheritance from the primary (overrides, env merged by KEY, scale),
 * the either-upstreams-or-run rule, the sealed-writes rule and the value parsers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"

#define SVC "services:\n  - name: api\n    listen: 127.0.0.1:8080\n"
#define RUN_PRIMARY                                                                                \
    "    primary:\n      run:\n        command: ./api\n        args: [--port, \"{port}\"]\n"       \
    "        env: [A=1, B=2]\n        instances: 4\n        limits: { memory: 64MiB, cpu: 0.5 }\n"

static struct config *load(const char *text)
{
    struct config *cfg = NULL;
    struct err err = {0};
    int rc = config_load_string("c.yaml", text, strlen(text), &cfg, &err);
    if (rc)
        print_error("unexpected error: %s\n", err.msg);
    assert_int_equal(rc, 0);
    return cfg;
}

static void fails(const char *text, const char *msg)
{
    struct config *cfg = NULL;
    struct err err = {0};
    if (config_load_string("c.yaml", text, strlen(text), &cfg, &err) == 0) {
        print_error("loaded without the expected error: %s\n", msg);
        config_free(cfg);
        fail();
    }
    assert_string_equal(err.msg, msg);
}

static void test_config_provision_run_defaults(void **state)
{
    (void)state;
    struct config *cfg = load(SVC RUN_PRIMARY);
    const struct config_run *r = &cfg->services[0].primary.run;
    assert_true(r->enabled);
    assert_string_equal(r->command, "./api");
    assert_int_equal(r->nargs, 2);
    assert_string_equal(r->args[1], "{port}");
    assert_int_equal(r->instances, 4);
    assert_string_equal(r->cwd, "./.");
    assert_null(r->ready_path);
    assert_int_equal(r->ready_interval_ns, 10000000ULL);
    assert_int_equal(r->start_timeout_ns, 30000000000ULL);
    assert_int_equal(r->restart, CONFIG_RESTART_ON_FAILURE);
    assert_int_equal(r->backoff_ns, 100000000ULL);
    assert_int_equal(r->memory_limit, 64ULL << 20);
    assert_int_equal(r->cpu_limit_milli, 500);
    assert_int_equal(r->log_max_bytes, 10ULL << 20);
    assert_string_equal(r->log_dir, "./doppel-state/logs");
    assert_string_equal(cfg->provision.state_dir, "./doppel-state");
    assert_int_equal(cfg->provision.sample_interval_ns, 5000000000ULL);
    assert_int_equal(cfg->services[0].primary.nupstreams, 0);
    config_free(cfg);
}

static void test_config_provision_shadow_inherits_and_overrides(void **state)
{
    (void)state;
    struct config *cfg =
        load(SVC RUN_PRIMARY "    shadows:\n      - name: v2\n        run:\n"
                             "          command: ./api-v2\n          env: [B=3, C=4]\n"
                             "          scale: 0.5\n          isolation: netns\n"
                             "          egress: [\"127.0.0.1:5432\"]\n          change: c42\n"
                             "          limits: { memory: 32MiB }\n"
                             "      - name: same\n        upstreams: [127.0.0.1:9101]\n");
    const struct config_service *s = &cfg->services[0];
    const struct config_run *r = &s->shadows[0].run;
    assert_true(r->enabled);
    assert_string_equal(r->command, "./api-v2");
    assert_int_equal(r->nargs, 2); /* inherited */
    assert_int_equal(r->nenv, 3);
    assert_string_equal(r->env[0], "A=1");
    assert_string_equal(r->env[1], "B=3");
    assert_string_equal(r->env[2], "C=4");
    assert_int_equal(r->instances, 2); /* 4 x 0.5 */
    assert_int_equal(r->isolation, CONFIG_ISOLATION_NETNS);
    assert_int_equal(r->negress, 1);
    assert_string_equal(r->change_id, "c42");
    assert_int_equal(r->memory_limit, 32ULL << 20);
    assert_int_equal(r->cpu_limit_milli, 500); /* inherited inside an overlaid section */
    assert_false(s->shadows[1].run.enabled);
    assert_int_equal(s->shadows[1].nupstreams, 1);
    assert_int_equal(s->primary.run.isolation, CONFIG_ISOLATION_NONE);
    config_free(cfg);
}

static void test_config_provision_scale_rounds_to_at_least_one(void **state)
{
    (void)state;
    struct config *cfg = load(SVC "    primary:\n      upstreams: [127.0.0.1:9001, 127.0.0.1:9002, "
                                  "127.0.0.1:9003]\n"
                                  "    shadows:\n      - name: a\n        run: { command: x, "
                                  "scale: 0.1 }\n      - name: b\n        run: { command: x, "
                                  "scale: 0.5 }\n      - name: c\n        run: { command: x, "
                                  "scale: 2 }\n");
    const struct config_service *s = &cfg->services[0];
    assert_int_equal(s->shadows[0].run.instances, 1); /* 0.3 -> at least 1 */
    assert_int_equal(s->shadows[1].run.instances, 2); /* 1.5 rounds half up */
    assert_int_equal(s->shadows[2].run.instances, 6);
    config_free(cfg);
}

static void test_config_provision_pool_needs_upstreams_or_run(void **state)
{
    (void)state;
    fails(SVC "    primary:\n      connect_timeout: 1s\n",
          "c.yaml:5:7: pool 'primary': missing 'upstreams' (or 'run')");
    fails(SVC "    primary:\n      upstreams: [127.0.0.1:1]\n      run: { command: x }\n",
          "c.yaml:6:12: pool 'primary': give either 'upstreams' or 'run', not both");
    fails(SVC "    primary:\n      run: { instances: 2 }\n",
          "c.yaml:5:12: pool 'primary': 'run' needs a 'command'");
    fails(SVC "    primary:\n      run: { command: x, env: [NOEQUALS] }\n",
          "c.yaml:5:12: env entry \"NOEQUALS\" must be KEY=VALUE");
    fails(SVC "    primary:\n      run: { command: x, scale: 2 }\n",
          "c.yaml:5:26: key 'scale' is not allowed here");
}

static void test_config_provision_writes_need_sealed_shadows(void **state)
{
    (void)state;
    const char *unsealed =
        SVC RUN_PRIMARY "    shadows:\n      - name: v2\n        run: { scale: 1 }\n"
                        "    mirror: { percent: 10, methods: [GET, POST] }\n";
    fails(unsealed, "c.yaml:14:37: service 'api', route 'default': mirroring POST to shadow 'v2' "
                    "needs it sealed (run.isolation: netns)");
    struct config *cfg =
        load(SVC RUN_PRIMARY "    shadows:\n      - name: v2\n        run: { isolation: netns }\n"
                             "    mirror: { percent: 10, methods: [GET, POST] }\n");
    config_free(cfg);
    cfg = load(SVC RUN_PRIMARY "    shadows:\n      - name: v2\n        run: { scale: 1 }\n"
                               "    mirror: { percent: 10 }\n"); /* reads only: fine */
    config_free(cfg);
}

static void test_config_provision_cpu_and_scale_values(void **state)
{
    (void)state;
    struct config *cfg = load(SVC "    primary:\n      run: { command: x, limits: { cpu: 250m }, "
                                  "requests: { cpu: 2 } }\n");
    assert_int_equal(cfg->services[0].primary.run.cpu_limit_milli, 250);
    assert_int_equal(cfg->services[0].primary.run.cpu_request_milli, 2000);
    config_free(cfg);
    fails(SVC "    primary:\n      run: { command: x, limits: { cpu: lots } }\n",
          "c.yaml:5:41: 'cpu' must be a number of cores (0.5, 2) or millicores (250m), found "
          "\"lots\"");
    fails(SVC "    primary:\n      upstreams: [127.0.0.1:1]\n    shadows:\n      - name: s\n"
              "        run: { command: x, scale: -1 }\n",
          "c.yaml:8:35: 'scale' must be a fraction of the primary's instances (0.5, 1, 2), found "
          "\"-1\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_provision_run_defaults),
        cmocka_unit_test(test_config_provision_shadow_inherits_and_overrides),
        cmocka_unit_test(test_config_provision_scale_rounds_to_at_least_one),
        cmocka_unit_test(test_config_provision_pool_needs_upstreams_or_run),
        cmocka_unit_test(test_config_provision_writes_need_sealed_shadows),
        cmocka_unit_test(test_config_provision_cpu_and_scale_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
