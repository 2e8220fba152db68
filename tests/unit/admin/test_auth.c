/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for admin/auth: digests match sha256sum, the tokens file accepts comments and
 * blank lines and reports bad lines as file:line, and Authorization headers map to
 * OK / MISSING (401) / INVALID (403).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "admin/auth.h"
#include "base/xalloc.h"
#include "testlib.h"

/* printf %s s3cr3t-admin-token | sha256sum */
#define DIGEST_ADMIN "0b161da9734ab9a1095547e8bb438c60e84c3e55b8a76bf5a6fe491b54dfb196"
/* printf %s other-token | sha256sum */
#define DIGEST_OTHER "6c67163bbed989f232b31acc4f04df54b31285bfc01bd022c735b71e041a4754"
/* printf %s abc | sha256sum */
#define DIGEST_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/* printf %s '' | sha256sum */
#define DIGEST_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const char tokens_text[] =
    "# admin tokens\n"
    "\n"
    "  " DIGEST_ADMIN "  \r\n"
    "# the CI robot, upper case is fine\n"
    "6C67163BBED989F232B31ACC4F04DF54B31285BFC01BD022C735B71E041A4754\n";

static enum auth_result check(const struct auth *a, const char *header)
{
    return auth_check(a, header, header ? strlen(header) : 0);
}

static void test_auth_hash_hex_matches_sha256sum(void **state)
{
    (void)state;
    char out[65];
    assert_int_equal(auth_hash_hex("s3cr3t-admin-token", out), 0);
    assert_string_equal(out, DIGEST_ADMIN);
    assert_int_equal(auth_hash_hex("abc", out), 0);
    assert_string_equal(out, DIGEST_ABC);
    assert_int_equal(auth_hash_hex("", out), 0);
    assert_string_equal(out, DIGEST_EMPTY);
}

static void test_auth_check_accepts_listed_tokens(void **state)
{
    (void)state;
    struct auth a;
    auth_init(&a);
    assert_int_equal(auth_parse(&a, "tokens", tokens_text, strlen(tokens_text), NULL), 0);
    assert_int_equal(a.n, 2);
    assert_int_equal(check(&a, "Bearer s3cr3t-admin-token"), AUTH_OK);
    assert_int_equal(check(&a, "Bearer other-token"), AUTH_OK); /* the last digest */
    assert_int_equal(check(&a, "bearer s3cr3t-admin-token"), AUTH_OK);
    assert_int_equal(check(&a, "  Bearer   s3cr3t-admin-token \t"), AUTH_OK);
    /* the header is a byte range, not a C string */
    assert_int_equal(auth_check(&a, "Bearer other-tokenXYZ", 18), AUTH_OK);
    auth_release(&a);
}

static void test_auth_check_without_bearer_is_missing(void **state)
{
    (void)state;
    struct auth a;
    auth_init(&a);
    assert_int_equal(auth_parse(&a, "tokens", tokens_text, strlen(tokens_text), NULL), 0);
    assert_int_equal(check(&a, NULL), AUTH_MISSING);
    assert_int_equal(check(&a, ""), AUTH_MISSING);
    assert_int_equal(check(&a, "   "), AUTH_MISSING);
    assert_int_equal(check(&a, "Basic dXNlcjpwYXNz"), AUTH_MISSING);
    assert_int_equal(check(&a, "Bearers3cr3t-admin-token"), AUTH_MISSING);
    assert_int_equal(check(&a, "Bear"), AUTH_MISSING);
    auth_release(&a);
}

static void test_auth_check_wrong_or_malformed_is_invalid(void **state)
{
    (void)state;
    struct auth a;
    auth_init(&a);
    assert_int_equal(auth_parse(&a, "tokens", tokens_text, strlen(tokens_text), NULL), 0);
    assert_int_equal(check(&a, "Bearer wrong-token"), AUTH_INVALID);
    assert_int_equal(check(&a, "Bearer s3cr3t-admin-toke"), AUTH_INVALID);
    assert_int_equal(check(&a, "Bearer"), AUTH_INVALID);
    assert_int_equal(check(&a, "Bearer   "), AUTH_INVALID);
    assert_int_equal(check(&a, "Bearer s3cr3t-admin-token extra"), AUTH_INVALID);
    assert_int_equal(check(&a, "Bearer \"s3cr3t-admin-token\""), AUTH_INVALID);
    assert_int_equal(check(&a, "Bearer =abc"), AUTH_INVALID);
    assert_int_equal(auth_check(&a, "Bearer s3cr3t\0-admin-token", 25), AUTH_INVALID);
    /* the digest itself is not a token */
    assert_int_equal(check(&a, "Bearer " DIGEST_ADMIN), AUTH_INVALID);
    auth_release(&a);
}

static void test_auth_parse_reports_bad_line_and_keeps_old(void **state)
{
    (void)state;
    struct auth a;
    struct err err;
    auth_init(&a);
    assert_int_equal(auth_parse(&a, "tokens", tokens_text, strlen(tokens_text), NULL), 0);
    const char *short_line = "# c\n" DIGEST_ABC "\n  0123456789ab\n";
    assert_int_equal(auth_parse(&a, "tk", short_line, strlen(short_line), &err), -EINVAL);
    assert_string_equal(err.msg, "tk:3: expected a SHA-256 digest of 64 hex characters, got 12");
    const char *bad_char = "\n\n\n  " DIGEST_ABC "x\n";
    assert_int_equal(auth_parse(&a, "tk", bad_char, strlen(bad_char), &err), -EINVAL);
    assert_non_null(strstr(err.msg, "tk:4:67: not a hex digit"));
    const char *tok = "s3cr3t-admin-token\n"; /* a token instead of its digest */
    assert_int_equal(auth_parse(&a, "tk", tok, strlen(tok), &err), -EINVAL);
    assert_non_null(strstr(err.msg, "tk:1:1: not a hex digit"));
    const char *empty = "# nobody\n\n";
    assert_int_equal(auth_parse(&a, "tk", empty, strlen(empty), &err), -EINVAL);
    assert_string_equal(err.msg, "tk: no token digests (one SHA-256 hex digest per line)");
    /* failures leave the loaded digests alone */
    assert_int_equal(a.n, 2);
    assert_int_equal(check(&a, "Bearer other-token"), AUTH_OK);
    assert_int_equal(check(&a, "Bearer abc"), AUTH_INVALID);
    auth_release(&a);
}

static void test_auth_load_reads_file_and_reports_errors(void **state)
{
    (void)state;
    struct auth a;
    struct err err;
    auth_init(&a);
    char *dir = testlib_tmpdir();
    char *path = testlib_write_file(dir, "tokens", DIGEST_ABC "\n");
    assert_int_equal(auth_load(&a, path, &err), 0);
    assert_int_equal(check(&a, "Bearer abc"), AUTH_OK);
    char *missing = xasprintf("%s/nope", dir);
    assert_int_equal(auth_load(&a, missing, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "nope: cannot open: "));
    char *big_text = xmalloc(AUTH_FILE_MAX + 2);
    memset(big_text, '#', AUTH_FILE_MAX + 1);
    big_text[AUTH_FILE_MAX + 1] = '\0';
    char *big = testlib_write_file(dir, "big", big_text);
    assert_int_equal(auth_load(&a, big, &err), -EFBIG);
    char *bad = testlib_write_file(dir, "bad", DIGEST_ABC "\nzz\n");
    assert_int_equal(auth_load(&a, bad, &err), -EINVAL);
    char *want = xasprintf("%s:2:1: not a hex digit", bad);
    assert_memory_equal(err.msg, want, strlen(want));
    assert_int_equal(check(&a, "Bearer abc"), AUTH_OK);
    testlib_rmdir(dir);
    free(want);
    free(bad);
    free(big);
    free(big_text);
    free(missing);
    free(path);
    free(dir);
    auth_release(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_hash_hex_matches_sha256sum),
        cmocka_unit_test(test_auth_check_accepts_listed_tokens),
        cmocka_unit_test(test_auth_check_without_bearer_is_missing),
        cmocka_unit_test(test_auth_check_wrong_or_malformed_is_invalid),
        cmocka_unit_test(test_auth_parse_reports_bad_line_and_keeps_old),
        cmocka_unit_test(test_auth_load_reads_file_and_reports_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
