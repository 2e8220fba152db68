/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_config_data: the data shadow's section, in a datashadow.yaml (config_load_data) and
 * as `data:` in a serve config: defaults, masking rules kept with their file:line:col, and
 * errors naming the line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "testlib.h"

static int load_data(const char *text, struct config **cfg, struct err *err)
{
    char *dir = testlib_tmpdir();
    char *path = testlib_write_file(dir, "ds.yaml", text);
    int rc = config_load_data(path, cfg, err);
    testlib_rmdir(dir);
    free(path);
    free(dir);
    return rc;
}

static void test_config_load_data_defaults_and_rules(void **state)
{
    (void)state;
    struct config *cfg = NULL;
    struct err err = {0};
    int rc = load_data("data:\n  source: \"host=a dbname=s\"\n  shadow: \"dbname=t\"\n"
                       "  tables:\n    users:\n      columns:\n        email: hash:email\n"
                       "        name: redact\n    public.orders:\n      columns:\n"
                       "        note: \"truncate:4\"\n",
                       &cfg, &err);
    if (rc)
        print_error("%s\n", err.msg);
    assert_int_equal(rc, 0);
    const struct config_data *d = &cfg->data;
    assert_string_equal(d->source, "host=a dbname=s");
    assert_string_equal(d->publication, "doppel");
    assert_string_equal(d->slot, "doppel");
    assert_true(d->create_publication);
    assert_int_equal(d->schema, CONFIG_DATA_SCHEMA_STRICT);
    assert_true(d->status_interval_ns == 10000000000ULL);
    assert_true(d->streaming);
    assert_int_equal(d->nrules, 3);
    assert_string_equal(d->rules[0].table, "users");
    assert_string_equal(d->rules[0].column, "email");
    assert_string_equal(d->rules[0].rule, "hash:email");
    assert_non_null(strstr(d->rules[0].where, "ds.yaml:7:16"));
    assert_string_equal(d->rules[2].table, "public.orders");
    assert_string_equal(d->rules[2].rule, "truncate:4");
    config_free(cfg);
}

static void test_config_load_data_errors_name_the_line(void **state)
{
    (void)state;
    struct config *cfg = NULL;
    struct err err = {0};
    assert_int_equal(load_data("data:\n  shadow: x\n", &cfg, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "missing required key 'source'"));
    assert_int_not_equal(
        load_data("data:\n  source: a\n  shadow: b\n  tables:\n    users: 3\n", &cfg, &err), 0);
    assert_non_null(strstr(err.msg, "ds.yaml:5:12"));
    assert_int_not_equal(load_data("data:\n  source: a\n  shadow: b\n  tables:\n    u:\n"
                                   "      columns:\n        c: [1]\n",
                                   &cfg, &err),
                         0);
    assert_non_null(strstr(err.msg, "ds.yaml:7:12"));
    assert_int_not_equal(
        load_data("data:\n  source: a\n  shadow: b\n  schema: loose\n", &cfg, &err), 0);
    assert_non_null(strstr(err.msg, "ds.yaml:4"));
    assert_int_not_equal(load_data("services: []\n", &cfg, &err), 0);
    assert_null(cfg);
}

static void test_config_load_serve_data_section_optional(void **state)
{
    (void)state;
    struct config *cfg = NULL;
    struct err err = {0};
    const char *base = "services:\n  - name: api\n    listen: 127.0.0.1:8080\n"
                       "    primary:\n      upstreams: [127.0.0.1:9001]\n";
    assert_int_equal(config_load_string("c.yaml", base, strlen(base), &cfg, &err), 0);
    assert_null(cfg->data.source);
    config_free(cfg);
    char text[512];
    snprintf(text, sizeof(text), "%sdata:\n  source: a\n  shadow: b\n  schema: follow\n", base);
    assert_int_equal(config_load_string("c.yaml", text, strlen(text), &cfg, &err), 0);
    assert_string_equal(cfg->data.shadow, "b");
    assert_int_equal(cfg->data.schema, CONFIG_DATA_SCHEMA_FOLLOW);
    config_free(cfg);
    snprintf(text, sizeof(text), "%sdata:\n  source: a\n  shadow: b\n  streaming: off\n", base);
    assert_int_equal(config_load_string("c.yaml", text, strlen(text), &cfg, &err), 0);
    assert_false(cfg->data.streaming);
    config_free(cfg);
    snprintf(text, sizeof(text), "%sdata:\n  source: a\n  shadow: b\n  streaming: maybe\n", base);
    assert_int_not_equal(config_load_string("c.yaml", text, strlen(text), &cfg, &err), 0);
    assert_non_null(strstr(err.msg, "c.yaml:9"));
}

/* The shipped example loads (run from the project root). */
static void test_config_load_data_example_loads(void **state)
{
    (void)state;
    struct config *cfg = NULL;
    struct err err = {0};
    int rc = config_load_data("examples/datashadow.yaml", &cfg, &err);
    if (rc)
        print_error("%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(cfg->data.nrules, 4);
    assert_non_null(strstr(cfg->data.key_file, "examples/anon.key"));
    config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_load_data_defaults_and_rules),
        cmocka_unit_test(test_config_load_data_errors_name_the_line),
        cmocka_unit_test(test_config_load_serve_data_section_optional),
        cmocka_unit_test(test_config_load_data_example_loads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
