/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "base/xalloc.h"
#include "model/route_table.h"

static void add_route(struct rt_service *s, size_t i, const char *name, const char *prefix)
{
    s->routes[i].name = xstrdup(name);
    s->routes[i].path_prefix = xstrdup(prefix);
    s->routes[i].prefix_len = strlen(prefix);
}

static struct route_table *make_table(void)
{
    struct route_table *t = route_table_new(1);
    struct rt_service *s = &t->services[0];
    s->name = xstrdup("api");
    s->primary.name = xstrdup("primary");
    s->primary.nups = 1;
    s->primary.ups = xcalloc(1, sizeof(*s->primary.ups));
    s->primary.ups[0].address = xstrdup("127.0.0.1:1");
    s->primary.ups[0].weight = 2;
    s->nroutes = 3;
    s->routes = xcalloc(3, sizeof(*s->routes));
    add_route(s, 0, "items", "/api/items");
    add_route(s, 1, "api", "/api");
    add_route(s, 2, "default", "/");
    s->routes[0].mirror.percent_bp = 5000;
    s->routes[0].mirror.nmethods = 1;
    s->routes[0].mirror.methods = xcalloc(1, sizeof(char *));
    s->routes[0].mirror.methods[0] = xstrdup("GET");
    return t;
}

static void test_route_table_match_longest_prefix_first(void **state)
{
    (void)state;
    struct route_table *t = make_table();
    const struct rt_service *s = route_table_service(t, "api");
    assert_non_null(s);
    assert_string_equal(route_table_match(s, "/api/items/7", 12)->name, "items");
    assert_string_equal(route_table_match(s, "/api/other", 10)->name, "api");
    assert_string_equal(route_table_match(s, "/", 1)->name, "default");
    assert_string_equal(route_table_match(s, "", 0)->name, "default");
    assert_null(route_table_service(t, "nope"));
    route_table_unref(t);
}

static void test_route_table_clone_is_deep_and_independent(void **state)
{
    (void)state;
    struct route_table *t = make_table();
    t->generation = 7;
    struct route_table *c = route_table_clone(t);
    assert_int_equal(c->generation, 8);
    c->services[0].primary.ups[0].weight = 9;
    c->services[0].routes[0].mirror.percent_bp = 1;
    assert_int_equal(t->services[0].primary.ups[0].weight, 2);
    assert_int_equal(t->services[0].routes[0].mirror.percent_bp, 5000);
    assert_ptr_not_equal(c->services[0].routes[0].mirror.methods[0],
                         t->services[0].routes[0].mirror.methods[0]);
    assert_string_equal(c->services[0].routes[0].mirror.methods[0], "GET");
    route_table_unref(t); /* the clone must survive its source (ASan checks) */
    assert_string_equal(c->services[0].routes[1].name, "api");
    route_table_unref(c);
}

static void test_route_table_refcount_frees_on_last_unref(void **state)
{
    (void)state;
    struct route_table *t = make_table();
    route_table_ref(t);
    route_table_unref(t);
    assert_int_equal(atomic_load(&t->refs), 1);
    route_table_unref(t); /* freed: LeakSanitizer would report otherwise */
    route_table_unref(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_table_match_longest_prefix_first),
        cmocka_unit_test(test_route_table_clone_is_deep_and_independent),
        cmocka_unit_test(test_route_table_refcount_frees_on_last_unref),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
