/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_cnode: the YAML node tree keeps file:line:col, refuses hostile input with a
 * positioned error and reads typed scalars strictly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "config/cnode.h"
#include "testlib.h"

static struct cnode *load_ok(const char *text)
{
    struct cnode *root = NULL;
    struct err err = {0};
    int rc = cnode_load_string("t.yaml", text, strlen(text), &root, &err);
    if (rc)
        print_error("unexpected error: %s\n", err.msg);
    assert_int_equal(rc, 0);
    return root;
}

/* Loads text expecting failure and checks the message starts with prefix. */
static void load_fails(const char *text, size_t len, const char *prefix, const char *part)
{
    struct cnode *root = NULL;
    struct err err = {0};
    assert_int_not_equal(cnode_load_string("t.yaml", text, len, &root, &err), 0);
    assert_null(root);
    if (strncmp(err.msg, prefix, strlen(prefix)) != 0 || !strstr(err.msg, part)) {
        print_error("message '%s' lacks '%s' ... '%s'\n", err.msg, prefix, part);
        fail();
    }
}

static void test_cnode_load_string_keeps_positions(void **state)
{
    (void)state;
    struct cnode *root = load_ok("a: 1\nb:\n  - x\n  - \"10\"\nc: { d: e }\n");
    assert_int_equal(root->kind, CNODE_MAP);
    assert_int_equal(root->n, 3);
    const struct cnode *b = cnode_get(root, "b");
    assert_non_null(b);
    assert_int_equal(b->kind, CNODE_SEQ);
    assert_int_equal(b->items[1]->line, 4);
    assert_int_equal(b->items[1]->col, 5);
    assert_true(b->items[1]->quoted);
    assert_false(b->items[0]->quoted);
    assert_string_equal(b->items[1]->scalar, "10");
    const struct cnode *d = cnode_get(cnode_get(root, "c"), "d");
    assert_string_equal(d->scalar, "e");
    assert_int_equal(d->line, 5);
    assert_int_equal(d->col, 9);
    assert_string_equal(d->file, "t.yaml");
    assert_null(cnode_get(root, "zz"));
    assert_null(cnode_get(b, "x"));
    cnode_free(root);
}

static void test_cnode_load_string_empty_is_empty_map(void **state)
{
    (void)state;
    const char *texts[] = {"", "# only a comment\n", "---\n", "\n\n"};
    for (size_t i = 0; i < 4; i++) {
        struct cnode *root = load_ok(texts[i]);
        assert_int_equal(root->kind, CNODE_MAP);
        assert_int_equal(root->n, 0);
        cnode_free(root);
    }
}

static void test_cnode_load_string_rejects_duplicate_key(void **state)
{
    (void)state;
    load_fails("a: 1\nb: 2\na: 3\n", 15, "t.yaml:3:1: duplicate key 'a'", "first at line 1");
}

static void test_cnode_load_string_rejects_anchor_and_alias(void **state)
{
    (void)state;
    const char *anchor = "a: &x 1\n";
    load_fails(anchor, strlen(anchor), "t.yaml:1:4: anchors", "not supported");
    /* The classic alias bomb: refused at its first anchor, before any expansion. */
    const char *bomb = "a: &a [\"lol\",\"lol\"]\nb: &b [*a,*a,*a,*a]\nc: [*b,*b,*b,*b]\n";
    load_fails(bomb, strlen(bomb), "t.yaml:1:4: anchors (&a)", "not supported");
    const char *alias = "a: *x\n";
    load_fails(alias, strlen(alias), "t.yaml:1:4:", "");
}

static void test_cnode_load_string_rejects_tags_and_two_documents(void **state)
{
    (void)state;
    const char *complex = "? [a, b]\n: 1\n";
    load_fails(complex, strlen(complex), "t.yaml:1:3: map keys must be plain strings", "");
    const char *tag = "a: !!binary aGVsbG8=\n";
    load_fails(tag, strlen(tag), "t.yaml:1:4: tags", "not supported");
    const char *two = "a: 1\n---\nb: 2\n";
    load_fails(two, strlen(two), "t.yaml:2:1: more than one YAML document", "");
}

static void test_cnode_load_string_rejects_deep_nesting(void **state)
{
    (void)state;
    char text[200];
    size_t n = 0;
    for (int i = 0; i < 40; i++)
        text[n++] = '[';
    for (int i = 0; i < 40; i++)
        text[n++] = ']';
    text[n] = '\0';
    /* The 33rd '[' (column 33) is one level too deep. */
    load_fails(text, n, "t.yaml:1:33: nesting deeper than 32 levels", "");
    n = 0;
    for (int i = 0; i < 32; i++)
        text[n++] = '[';
    for (int i = 0; i < 32; i++)
        text[n++] = ']';
    text[n] = '\0';
    cnode_free(load_ok(text));
}

static void test_cnode_load_string_rejects_tabs(void **state)
{
    (void)state;
    const char *text = "a:\n\tb: 1\n";
    load_fails(text, strlen(text), "t.yaml:2:1: tab character", "spaces");
}

static void test_cnode_load_string_rejects_binary_garbage(void **state)
{
    (void)state;
    const char bad_utf8[] = "a: \xff\xfe\x80 x\n";
    load_fails(bad_utf8, sizeof(bad_utf8) - 1, "t.yaml:1:4:", "UTF-8");
    const char ctl[] = "a: b\x01\n";
    load_fails(ctl, sizeof(ctl) - 1, "t.yaml:1:5:", "control characters");
    const char nul[] = "a: \"x\\0y\"\n";
    load_fails(nul, sizeof(nul) - 1, "t.yaml:1:4: NUL character", "");
    /* Pseudo-random bytes must give an error, never a crash. */
    char junk[4096];
    unsigned x = 12345;
    for (size_t i = 0; i < sizeof(junk); i++) {
        x = x * 1103515245u + 12345u;
        junk[i] = (char)(x >> 16);
    }
    struct cnode *root = NULL;
    struct err err = {0};
    assert_int_not_equal(cnode_load_string("t.yaml", junk, sizeof(junk), &root, &err), 0);
    assert_non_null(strstr(err.msg, "t.yaml:"));
}

static void test_cnode_load_string_rejects_huge_input(void **state)
{
    (void)state;
    size_t n = 1024 * 1024 + 1;
    char *text = xmalloc(n);
    memset(text, '#', n);
    load_fails(text, n, "t.yaml: file is larger than the limit of 1 MiB", "");
    free(text);
}

static void test_cnode_load_file_rejects_huge_file(void **state)
{
    (void)state;
    char *dir = testlib_tmpdir();
    char *text = xmalloc(1024 * 1024 + 2);
    memset(text, '#', 1024 * 1024 + 1);
    text[1024 * 1024 + 1] = '\0';
    char *path = testlib_write_file(dir, "big.yaml", text);
    struct cnode *root = NULL;
    struct err err = {0};
    assert_int_equal(cnode_load_file(path, &root, &err), -EFBIG);
    assert_null(root);
    char *want = xasprintf("%s: file is larger than the limit of 1 MiB", path);
    assert_string_equal(err.msg, want);
    free(want);
    text[1024 * 1024] = '\0'; /* exactly 1 MiB of comment is fine */
    free(path);
    path = testlib_write_file(dir, "max.yaml", text);
    assert_int_equal(cnode_load_file(path, &root, &err), 0);
    assert_int_equal(root->kind, CNODE_MAP);
    cnode_free(root);
    free(path);
    free(text);
    testlib_rmdir(dir);
    free(dir);
}

static void test_cnode_load_file_missing_and_present(void **state)
{
    (void)state;
    struct cnode *root = NULL;
    struct err err = {0};
    assert_int_equal(cnode_load_file("/nonexistent/doppel.yaml", &root, &err), -ENOENT);
    assert_string_equal(err.msg,
                        "/nonexistent/doppel.yaml: cannot open: No such file or directory");
    char *dir = testlib_tmpdir();
    char *path = testlib_write_file(dir, "c.yaml", "x:\n  y: [1, 2]\n");
    assert_int_equal(cnode_load_file(path, &root, &err), 0);
    const struct cnode *y = cnode_get(cnode_get(root, "x"), "y");
    assert_int_equal(y->n, 2);
    assert_string_equal(y->file, path);
    assert_int_equal(y->items[1]->col, 10);
    cnode_free(root);
    free(path);
    testlib_rmdir(dir);
    free(dir);
}

static void test_cnode_typed_reads_check_kind_and_range(void **state)
{
    (void)state;
    struct cnode *root = load_ok("i: 42\nbig: 99999999999999999999\nd: 250ms\ns: 8MiB\n"
                                 "b: yes\nm: {}\nf: 0.5\nbad: 12 parsecs\n");
    struct err err = {0};
    int64_t i;
    uint64_t u;
    bool b;
    double f;
    assert_int_equal(cnode_i64(cnode_get(root, "i"), 0, 100, &i, &err), 0);
    assert_int_equal(i, 42);
    assert_int_equal(cnode_i64(cnode_get(root, "i"), 0, 10, &i, &err), -ERANGE);
    assert_string_equal(err.msg, "t.yaml:1:4: 42 is out of range (0..10)");
    assert_int_equal(cnode_i64(cnode_get(root, "big"), 0, 10, &i, &err), -ERANGE);
    assert_int_equal(cnode_i64(cnode_get(root, "m"), 0, 10, &i, &err), -EINVAL);
    assert_string_equal(err.msg, "t.yaml:6:4: expected an integer, found a map");
    assert_int_equal(cnode_duration_ns(cnode_get(root, "d"), 0, UINT64_MAX, &u, &err), 0);
    assert_int_equal(u, 250000000ULL);
    assert_int_equal(
        cnode_duration_ns(cnode_get(root, "d"), 1000000000ULL, 60000000000ULL, &u, &err), -ERANGE);
    assert_string_equal(err.msg, "t.yaml:3:4: duration 250ms is out of range (1s..1m)");
    assert_int_equal(cnode_duration_ns(cnode_get(root, "bad"), 0, 10, &u, &err), -EINVAL);
    assert_string_equal(err.msg,
                        "t.yaml:8:6: expected a duration like \"250ms\", \"2s\" or \"1m\", found "
                        "\"12 parsecs\"");
    assert_int_equal(cnode_size(cnode_get(root, "s"), 0, UINT64_MAX, &u, &err), 0);
    assert_int_equal(u, 8388608);
    assert_int_equal(cnode_size(cnode_get(root, "s"), 0, 1024, &u, &err), -ERANGE);
    assert_string_equal(err.msg, "t.yaml:4:4: size 8MiB is out of range (0..1KiB)");
    assert_int_equal(cnode_size(cnode_get(root, "bad"), 0, 10, &u, &err), -EINVAL);
    assert_int_equal(cnode_bool(cnode_get(root, "b"), &b, &err), 0);
    assert_true(b);
    assert_int_equal(cnode_bool(cnode_get(root, "i"), &b, &err), -EINVAL);
    assert_int_equal(cnode_double(cnode_get(root, "f"), 0, 1, &f, &err), 0);
    assert_close(f, 0.5, 0);
    assert_int_equal(cnode_double(cnode_get(root, "i"), 0, 1, &f, &err), -ERANGE);
    const char *s;
    assert_int_equal(cnode_string(cnode_get(root, "m"), &s, &err), -EINVAL);
    assert_int_equal(cnode_string(cnode_get(root, "d"), &s, &err), 0);
    assert_string_equal(s, "250ms");
    cnode_free(root);
}

static void test_cnode_check_keys_hints_closest(void **state)
{
    (void)state;
    struct cnode *root = load_ok("name: a\nlisten: x\nprimray: {}\n");
    struct err err = {0};
    static const char *const allowed[] = {"name", "listen", "primary", "shadows", NULL};
    assert_int_equal(cnode_check_keys(root, allowed, &err), -EINVAL);
    assert_string_equal(err.msg, "t.yaml:3:1: unknown key 'primray' (did you mean 'primary'?)");
    static const char *const other[] = {"name", "listen", "zebra", NULL};
    assert_int_equal(cnode_check_keys(root, other, &err), -EINVAL);
    assert_string_equal(err.msg, "t.yaml:3:1: unknown key 'primray'");
    static const char *const all[] = {"name", "listen", "primray", NULL};
    assert_int_equal(cnode_check_keys(root, all, &err), 0);
    assert_int_equal(cnode_check_keys(cnode_get(root, "name"), all, &err), -EINVAL);
    assert_string_equal(err.msg, "t.yaml:1:7: expected a map, found \"a\"");
    cnode_free(root);
}

static void test_cnode_format_duration_and_size_shortest(void **state)
{
    (void)state;
    char b[32];
    cnode_format_duration(250000000ULL, b, sizeof(b));
    assert_string_equal(b, "250ms");
    cnode_format_duration(60000000000ULL, b, sizeof(b));
    assert_string_equal(b, "1m");
    cnode_format_duration(1500000000ULL, b, sizeof(b));
    assert_string_equal(b, "1500ms");
    cnode_format_size(65536, b, sizeof(b));
    assert_string_equal(b, "64KiB");
    cnode_format_size(1000, b, sizeof(b));
    assert_string_equal(b, "1000");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cnode_load_string_keeps_positions),
        cmocka_unit_test(test_cnode_load_string_empty_is_empty_map),
        cmocka_unit_test(test_cnode_load_string_rejects_duplicate_key),
        cmocka_unit_test(test_cnode_load_string_rejects_anchor_and_alias),
        cmocka_unit_test(test_cnode_load_string_rejects_tags_and_two_documents),
        cmocka_unit_test(test_cnode_load_string_rejects_deep_nesting),
        cmocka_unit_test(test_cnode_load_string_rejects_tabs),
        cmocka_unit_test(test_cnode_load_string_rejects_binary_garbage),
        cmocka_unit_test(test_cnode_load_string_rejects_huge_input),
        cmocka_unit_test(test_cnode_load_file_rejects_huge_file),
        cmocka_unit_test(test_cnode_load_file_missing_and_present),
        cmocka_unit_test(test_cnode_typed_reads_check_kind_and_range),
        cmocka_unit_test(test_cnode_check_keys_hints_closest),
        cmocka_unit_test(test_cnode_format_duration_and_size_shortest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
