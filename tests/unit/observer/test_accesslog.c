/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for observer/accesslog: the JSON line of an exchange is one valid JSON object whose
 * path is the request path without the query, escaped so that client bytes (quotes,
 * backslashes, control bytes, bytes that are not UTF-8) can never break the line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "model/exchange.h"
#include "observer/accesslog.h"
#include "testlib.h"

/* Formats an exchange whose request-target is TARGET (len bytes) and returns the parsed
 * "path" of the JSON line, or NULL when the line is not JSON. The caller frees it. */
static char *json_path_of(const char *target, size_t len)
{
    struct exchange ex;
    memset(&ex, 0, sizeof(ex));
    snprintf(ex.id_str, sizeof(ex.id_str), "0000000000000001");
    snprintf(ex.client_ip, sizeof(ex.client_ip), "127.0.0.1");
    ex.req.method = "GET";
    ex.req.method_len = 3;
    ex.req.target = target;
    ex.req.target_len = len;
    ex.status = 200;
    struct buf out;
    buf_init(&out, 4096);
    assert_int_equal(accesslog_format(ACCESSLOG_JSON, &ex, &out), 0);
    char *path = NULL;
    cJSON *j = cJSON_ParseWithLength(out.data, out.len);
    if (j && cJSON_IsString(cJSON_GetObjectItem(j, "path")))
        path = strdup(cJSON_GetObjectItem(j, "path")->valuestring);
    cJSON_Delete(j);
    buf_release(&out);
    return path;
}

static void test_accesslog_format_json_path_without_query(void **state)
{
    (void)state;
    char *p = json_path_of("/items/7?email=a@b", 18);
    assert_non_null(p);
    assert_string_equal(p, "/items/7");
    free(p);
}

static void test_accesslog_format_json_escapes_quote_backslash_control(void **state)
{
    (void)state;
    char *p = json_path_of("/a\"b\\c\x01", 7);
    assert_non_null(p);
    assert_string_equal(p, "/a\"b\\c\x01");
    free(p);
}

static void test_accesslog_format_json_keeps_valid_utf8(void **state)
{
    (void)state;
    const char t[] = "/caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x98\x80";
    char *p = json_path_of(t, sizeof(t) - 1);
    assert_non_null(p);
    assert_string_equal(p, t);
    free(p);
}

static void test_accesslog_format_json_replaces_invalid_utf8(void **state)
{
    (void)state;
    /* a lone continuation byte, 0xff, an overlong '/', a surrogate, a truncated sequence */
    const char t[] = "/\x80\xff\xc0\xaf\xed\xa0\x80\xe2\x82";
    char *p = json_path_of(t, sizeof(t) - 1);
    assert_non_null(p);
    char want[64] = "/";
    for (int i = 0; i < 9; i++) /* one U+FFFD per byte */
        memcpy(want + 1 + 3 * i, "\xef\xbf\xbd", 4);
    assert_string_equal(p, want);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accesslog_format_json_path_without_query),
        cmocka_unit_test(test_accesslog_format_json_escapes_quote_backslash_control),
        cmocka_unit_test(test_accesslog_format_json_keeps_valid_utf8),
        cmocka_unit_test(test_accesslog_format_json_replaces_invalid_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
