/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "http/reader.h"
#include "router/router.h"

static void test_router_publish_bumps_generation_and_swaps(void **state)
{
    (void)state;
    struct router r;
    router_init(&r);
    assert_int_equal(router_generation(&r), 0);
    assert_null(router_acquire(&r));
    struct route_table *a = route_table_new(0), *b = route_table_new(0);
    assert_int_equal(router_publish(&r, a), 1);
    struct route_table *held = router_acquire(&r);
    assert_ptr_equal(held, a);
    assert_int_equal(router_publish(&r, b), 2);
    assert_int_equal(router_generation(&r), 2);
    /* the old table lives while a reader holds it */
    assert_int_equal(held->generation, 1);
    route_table_unref(held);
    struct route_table *now = router_acquire(&r);
    assert_ptr_equal(now, b);
    route_table_unref(now);
    router_release(&r);
}

static void test_router_ids_stable_per_name(void **state)
{
    (void)state;
    uint32_t a = router_id_pool("svc", "primary"), b = router_id_pool("svc", "v2");
    assert_int_not_equal(a, b);
    assert_int_equal(router_id_pool("svc", "primary"), a);
    assert_int_not_equal(router_id_pool("other", "primary"), a);
    uint32_t h = router_id_host("127.0.0.1:1");
    assert_int_equal(router_id_host("127.0.0.1:1"), h);
    assert_int_not_equal(router_id_host("127.0.0.1:2"), h);
}

/* Parses one request head into *out (test helper around the http reader). */
static struct http_head parsed;
static int on_head(void *ctx, struct http_head *h)
{
    (void)ctx;
    parsed = *h;
    return 0;
}
static int on_body(void *ctx, const char *d, size_t n)
{
    (void)ctx, (void)d, (void)n;
    return 0;
}
static int on_complete(void *ctx)
{
    (void)ctx;
    return 0;
}
static const struct http_reader_cbs cbs = {on_head, on_body, on_complete};

static struct http_head parse(const char *req)
{
    struct http_reader r;
    http_reader_init(&r, HTTP_READER_REQUEST, 8192, &cbs, NULL);
    memset(&parsed, 0, sizeof(parsed));
    assert_true(http_reader_feed(&r, req, strlen(req)) > 0);
    http_reader_release(&r);
    return parsed;
}

static void test_router_mirror_decide_filters_in_order(void **state)
{
    (void)state;
    struct rt_route route = {0};
    char *methods[] = {"GET", "HEAD"}, *prefixes[] = {"/api"};
    route.mirror.methods = methods;
    route.mirror.nmethods = 2;
    route.mirror.path_prefixes = prefixes;
    route.mirror.npath_prefixes = 1;
    route.mirror.percent_bp = 10000;
    route.mirror.max_body = 10;
    struct rng rng;
    rng_seed(&rng, 1);
    struct http_head h = parse("GET /api/x?q=1 HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_int_equal(router_mirror_decide(&route, &h, &rng), ROUTER_MIRROR_SAMPLED);
    http_head_release(&h);
    h = parse("POST /api/x HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert_int_equal(router_mirror_decide(&route, &h, &rng), ROUTER_MIRROR_FILTERED_METHOD);
    http_head_release(&h);
    h = parse("GET /other HTTP/1.1\r\n\r\n");
    assert_int_equal(router_mirror_decide(&route, &h, &rng), ROUTER_MIRROR_FILTERED_PATH);
    http_head_release(&h);
    h = parse("GET /api HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n");
    assert_int_equal(router_mirror_decide(&route, &h, &rng), ROUTER_MIRROR_FILTERED_METHOD);
    http_head_release(&h);
    route.mirror.header_name = "x-mirror";
    route.mirror.header_value = "1";
    h = parse("GET /api HTTP/1.1\r\nX-Mirror: 2\r\n\r\n");
    assert_int_equal(router_mirror_decide(&route, &h, &rng), ROUTER_MIRROR_FILTERED_HEADER);
    http_head_release(&h);
    h = parse("GET /api HTTP/1.1\r\nX-Mirror: 1\r\nContent-Length: 11\r\n\r\n");
    assert_int_equal(router_mirror_decide(&route, &h, &rng), ROUTER_MIRROR_BODY_TOO_LARGE);
    http_head_release(&h);
    route.mirror.percent_bp = 0;
    h = parse("GET /api HTTP/1.1\r\nX-Mirror: 1\r\n\r\n");
    assert_int_equal(router_mirror_decide(&route, &h, &rng), ROUTER_MIRROR_NOT_SAMPLED);
    http_head_release(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_router_publish_bumps_generation_and_swaps),
        cmocka_unit_test(test_router_ids_stable_per_name),
        cmocka_unit_test(test_router_mirror_decide_filters_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
