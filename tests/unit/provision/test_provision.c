/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "provision/provision.h"

static void test_provision_expand_replaces_placeholders(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 256);
    assert_int_equal(
        provision_expand("--listen=127.0.0.1:{port}/{instance}/{port}", 8081, "api-primary-1", &b),
        0);
    assert_string_equal(b.data, "--listen=127.0.0.1:8081/api-primary-1/8081");
    buf_release(&b);
}

static void test_provision_expand_keeps_other_braces(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 256);
    assert_int_equal(provision_expand("{\"a\":{x}} {por", 1, "i", &b), 0);
    assert_string_equal(b.data, "{\"a\":{x}} {por");
    buf_release(&b);
}

static void test_provision_expand_fails_past_cap(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 8);
    assert_int_equal(provision_expand("{instance}{instance}", 1, "abcdef", &b), -ENOSPC);
    buf_release(&b);
}

static void test_provision_selector_match_by_label(void **state)
{
    (void)state;
    struct provision_instance in = {.role = PROVISION_ROLE_SHADOW};
    snprintf(in.id, sizeof(in.id), "api-v2-1");
    snprintf(in.service, sizeof(in.service), "api");
    snprintf(in.pool, sizeof(in.pool), "v2");
    snprintf(in.change_id, sizeof(in.change_id), "c1");
    struct provision_selector any = {.role = -1};
    assert_true(provision_selector_match(&any, &in));
    assert_true(provision_selector_match(NULL, &in));
    struct provision_selector s = {.service = "api", .role = PROVISION_ROLE_SHADOW};
    assert_true(provision_selector_match(&s, &in));
    s.role = PROVISION_ROLE_PRIMARY;
    assert_false(provision_selector_match(&s, &in));
    struct provision_selector c = {.change_id = "c2", .role = -1};
    assert_false(provision_selector_match(&c, &in));
    struct provision_selector p = {.pool = "v2", .id = "api-v2-1", .role = -1};
    assert_true(provision_selector_match(&p, &in));
}

static void test_provision_state_name_covers_every_state(void **state)
{
    (void)state;
    assert_string_equal(provision_state_name(PROVISION_STARTING), "starting");
    assert_string_equal(provision_state_name(PROVISION_EXITED), "exited");
    assert_string_equal(provision_state_name((enum provision_state)99), "unknown");
    assert_string_equal(provision_role_name(PROVISION_ROLE_SHADOW), "shadow");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_provision_expand_replaces_placeholders),
        cmocka_unit_test(test_provision_expand_keeps_other_braces),
        cmocka_unit_test(test_provision_expand_fails_past_cap),
        cmocka_unit_test(test_provision_selector_match_by_label),
        cmocka_unit_test(test_provision_state_name_covers_every_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
