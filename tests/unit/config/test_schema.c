/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_schema: the table engine on a small table of its own: defaults parsed from YAML
 * text, overlays, list shorthand, deep copy and release, enum hints, text checks,
 * addresses and the generated reference.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/schema.h"
#include "testlib.h"

struct item {
    char *addr, *host;
    uint16_t port;
    uint32_t weight;
};

struct inner {
    bool flag;
    char **tags;
    size_t ntags;
};

struct outer {
    uint32_t count;
    uint64_t wait_ns, bytes;
    int color;
    char *name, *file;
    struct inner in;
    struct item *items;
    size_t nitems;
};

static const char *const colors[] = {"red", "green", "blue", NULL};

static const struct schema_key item_keys[] = {
    {.name = "address",
     .type = SCHEMA_ADDRESS,
     .required = true,
     .offset = offsetof(struct item, addr),
     .offset_host = offsetof(struct item, host),
     .offset_port = offsetof(struct item, port)},
    {.name = "weight",
     .type = SCHEMA_U32,
     .def = "1",
     .min = 1,
     .max = 9,
     .offset = offsetof(struct item, weight)},
    {0},
};

static const struct schema_key inner_keys[] = {
    {.name = "flag", .type = SCHEMA_BOOL, .def = "true", .offset = offsetof(struct inner, flag)},
    {.name = "tags",
     .type = SCHEMA_STRLIST,
     .def = "[GET, Put]",
     .max = 3,
     .flags = SCHEMA_TOKEN | SCHEMA_UPPER,
     .offset = offsetof(struct inner, tags),
     .offset_n = offsetof(struct inner, ntags)},
    {0},
};

static const struct schema_key outer_keys[] = {
    {.name = "count",
     .type = SCHEMA_U32,
     .def = "7",
     .min = 0,
     .max = 100,
     .offset = offsetof(struct outer, count),
     .doc = "how many"},
    {.name = "wait",
     .type = SCHEMA_DURATION,
     .def = "250ms",
     .min = 1000000,
     .max = 60000000000ULL,
     .offset = offsetof(struct outer, wait_ns)},
    {.name = "bytes",
     .type = SCHEMA_SIZE,
     .def = "64KiB",
     .min = 0,
     .max = 1048576,
     .offset = offsetof(struct outer, bytes)},
    {.name = "color",
     .type = SCHEMA_ENUM,
     .def = "green",
     .choices = colors,
     .offset = offsetof(struct outer, color)},
    {.name = "name",
     .type = SCHEMA_STRING,
     .flags = SCHEMA_NAME,
     .offset = offsetof(struct outer, name)},
    {.name = "file",
     .type = SCHEMA_STRING,
     .flags = SCHEMA_FILEPATH,
     .offset = offsetof(struct outer, file)},
    {.name = "in", .type = SCHEMA_SECTION, .sub = inner_keys, .offset = offsetof(struct outer, in)},
    {.name = "items",
     .type = SCHEMA_LIST,
     .max = 4,
     .sub = item_keys,
     .elem_size = sizeof(struct item),
     .scalar_key = "address",
     .offset = offsetof(struct outer, items),
     .offset_n = offsetof(struct outer, nitems)},
    {0},
};

static const struct schema_ctx ctx = {.dir = "/etc/doppel"};

static int apply(const char *text, struct outer *o, bool overlay, struct err *err)
{
    struct cnode *root = NULL;
    int rc = cnode_load_string("s.yaml", text, strlen(text), &root, err);
    assert_int_equal(rc, 0);
    rc = schema_apply(outer_keys, root, o, &ctx, overlay, err);
    cnode_free(root);
    return rc;
}

static void test_schema_apply_fills_defaults(void **state)
{
    (void)state;
    struct outer o = {0};
    struct err err = {0};
    assert_int_equal(apply("{}", &o, false, &err), 0);
    assert_int_equal(o.count, 7);
    assert_int_equal(o.wait_ns, 250000000ULL);
    assert_int_equal(o.bytes, 65536);
    assert_int_equal(o.color, 1);
    assert_null(o.name);
    assert_true(o.in.flag);
    assert_int_equal(o.in.ntags, 2);
    assert_string_equal(o.in.tags[1], "PUT");
    assert_int_equal(o.nitems, 0);
    schema_release(outer_keys, &o);
    assert_null(o.in.tags);
}

static void test_schema_apply_parses_values_and_shorthand(void **state)
{
    (void)state;
    struct outer o = {0};
    struct err err = {0};
    assert_int_equal(apply("count: 3\ncolor: blue\nname: a-1\nfile: k.key\n"
                           "items: [127.0.0.1:80, {address: \"[::1]:81\", weight: 4}]\n",
                           &o, false, &err),
                     0);
    assert_int_equal(o.count, 3);
    assert_int_equal(o.color, 2);
    assert_string_equal(o.name, "a-1");
    assert_string_equal(o.file, "/etc/doppel/k.key");
    assert_int_equal(o.nitems, 2);
    assert_string_equal(o.items[0].host, "127.0.0.1");
    assert_int_equal(o.items[0].port, 80);
    assert_int_equal(o.items[0].weight, 1);
    assert_string_equal(o.items[1].addr, "[::1]:81");
    assert_string_equal(o.items[1].host, "::1");
    assert_int_equal(o.items[1].weight, 4);
    schema_release(outer_keys, &o);
}

static void test_schema_apply_overlay_keeps_unset_fields(void **state)
{
    (void)state;
    struct outer base = {0}, o = {0};
    struct err err = {0};
    assert_int_equal(apply("count: 3\nname: x\nin: {tags: [a]}\n", &base, false, &err), 0);
    schema_copy(outer_keys, &o, &base);
    assert_int_equal(apply("wait: 2s\nin: {flag: false}\n", &o, true, &err), 0);
    assert_int_equal(o.count, 3);
    assert_int_equal(o.wait_ns, 2000000000ULL);
    assert_string_equal(o.name, "x");
    assert_false(o.in.flag);
    assert_int_equal(o.in.ntags, 1);
    assert_string_equal(o.in.tags[0], "A");
    /* A list given in the overlay replaces the inherited one; the copy is independent. */
    assert_int_equal(apply("in: {tags: [b, c]}\nname: y\n", &o, true, &err), 0);
    assert_int_equal(o.in.ntags, 2);
    assert_string_equal(base.in.tags[0], "A");
    assert_string_equal(base.name, "x");
    schema_release(outer_keys, &o);
    schema_release(outer_keys, &base);
}

static void test_schema_apply_reports_position_and_hint(void **state)
{
    (void)state;
    struct outer o = {0};
    struct err err = {0};
    assert_int_equal(apply("count: 3\ncolour: red\n", &o, false, &err), -EINVAL);
    assert_string_equal(err.msg, "s.yaml:2:1: unknown key 'colour' (did you mean 'color'?)");
    schema_release(outer_keys, &o);
    assert_int_equal(apply("color: gren\n", &o, false, &err), -EINVAL);
    assert_string_equal(err.msg, "s.yaml:1:8: 'color' must be one of red|green|blue, found "
                                 "\"gren\" (did you mean 'green'?)");
    schema_release(outer_keys, &o);
    assert_int_equal(apply("count: 101\n", &o, false, &err), -ERANGE);
    assert_string_equal(err.msg, "s.yaml:1:8: 101 is out of range (0..100)");
    schema_release(outer_keys, &o);
    assert_int_equal(apply("in:\n  tags: [a, b, c, d]\n", &o, false, &err), -ERANGE);
    assert_string_equal(err.msg, "s.yaml:2:9: 'tags' has 4 items; allowed: 0..3");
    schema_release(outer_keys, &o);
    assert_int_equal(apply("in: {tags: [\"a b\"]}\n", &o, false, &err), -EINVAL);
    assert_string_equal(err.msg, "s.yaml:1:13: 'A B' is not a valid HTTP token");
    schema_release(outer_keys, &o);
    assert_int_equal(apply("in: {tags: [a, A]}\n", &o, false, &err), -EINVAL);
    assert_string_equal(err.msg, "s.yaml:1:16: 'A' is listed twice");
    schema_release(outer_keys, &o);
    assert_int_equal(apply("name: Big\n", &o, false, &err), -EINVAL);
    assert_string_equal(err.msg, "s.yaml:1:7: name 'Big' must be 1 to 64 of a-z, 0-9, '_' and '-'");
    schema_release(outer_keys, &o);
    assert_int_equal(apply("items: [{weight: 2}]\n", &o, false, &err), -EINVAL);
    assert_string_equal(err.msg, "s.yaml:1:9: missing required key 'address'");
    schema_release(outer_keys, &o);
    assert_int_equal(apply("items: x\n", &o, false, &err), -EINVAL);
    assert_string_equal(err.msg, "s.yaml:1:8: 'items': expected a list, found \"x\"");
    schema_release(outer_keys, &o);
}

static void address_fails(const char *text, bool port0, const char *msg)
{
    struct cnode *n = NULL;
    struct err err = {0};
    char *host = NULL;
    uint16_t port;
    assert_int_equal(cnode_load_string("a.yaml", text, strlen(text), &n, &err), 0);
    assert_int_not_equal(schema_parse_address(n, port0, &host, &port, &err), 0);
    assert_null(host);
    assert_string_equal(err.msg, msg);
    cnode_free(n);
}

static void test_schema_parse_address_forms(void **state)
{
    (void)state;
    const char *ok[] = {"127.0.0.1:8080", "\"[::1]:9\"", "localhost:65535", "0.0.0.0:0"};
    const char *hosts[] = {"127.0.0.1", "::1", "localhost", "0.0.0.0"};
    const uint16_t ports[] = {8080, 9, 65535, 0};
    for (size_t i = 0; i < 4; i++) {
        struct cnode *n = NULL;
        struct err err = {0};
        char *host = NULL;
        uint16_t port = 1;
        assert_int_equal(cnode_load_string("a.yaml", ok[i], strlen(ok[i]), &n, &err), 0);
        assert_int_equal(schema_parse_address(n, true, &host, &port, &err), 0);
        assert_string_equal(host, hosts[i]);
        assert_int_equal(port, ports[i]);
        free(host);
        cnode_free(n);
    }
    address_fails("127.0.0.1", false,
                  "a.yaml:1:1: expected an address like 127.0.0.1:8080, [::1]:8080 or "
                  "localhost:8080, found \"127.0.0.1\"");
    address_fails("999.1.1.1:80", false,
                  "a.yaml:1:1: host in \"999.1.1.1:80\" must be an IPv4 address, [IPv6 "
                  "address] or localhost");
    address_fails("::1:80", false,
                  "a.yaml:1:1: host in \"::1:80\" must be an IPv4 address, [IPv6 address] or "
                  "localhost");
    address_fails("example.com:80", false,
                  "a.yaml:1:1: host in \"example.com:80\" must be an IPv4 address, [IPv6 "
                  "address] or localhost");
    address_fails("1.2.3.4:70000", false, "a.yaml:1:1: port 70000 is out of range (1..65535)");
    address_fails("1.2.3.4:0", false, "a.yaml:1:1: port 0 is out of range (1..65535)");
    address_fails("1.2.3.4:+80", false,
                  "a.yaml:1:1: expected an address like 127.0.0.1:8080, [::1]:8080 or "
                  "localhost:8080, found \"1.2.3.4:+80\"");
}

static void test_schema_markdown_lists_every_key(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 65536);
    schema_markdown(outer_keys, "", 0, &b);
    assert_non_null(strstr(b.data, "| `count` | integer | `7` | 0..100 | how many |\n"));
    assert_non_null(strstr(b.data, "| `wait` | duration | `250ms` | 1ms..1m |"));
    assert_non_null(strstr(b.data, "| `color` | enum | `green` | `red`, `green`, `blue` |"));
    assert_non_null(strstr(b.data, "### `in`\n"));
    assert_non_null(strstr(b.data, "| `in.tags` | list of strings | `[GET, Put]` | HTTP tokens; "
                                   "0..3 items |"));
    assert_non_null(strstr(b.data, "### `items[]`\n"));
    assert_non_null(strstr(b.data, "| `items[].address` | address | required | port 1..65535 |"));
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_apply_fills_defaults),
        cmocka_unit_test(test_schema_apply_parses_values_and_shorthand),
        cmocka_unit_test(test_schema_apply_overlay_keeps_unset_fields),
        cmocka_unit_test(test_schema_apply_reports_position_and_hint),
        cmocka_unit_test(test_schema_parse_address_forms),
        cmocka_unit_test(test_schema_markdown_lists_every_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
