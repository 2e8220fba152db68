/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for mirror/anonymize. Pseudonyms are checked against HMAC-SHA256 computed by
 * Python's hmac module; request heads come from the real http_reader, so the header tests
 * see the same heads the mirror will.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "http/reader.h"
#include "mirror/anonymize.h"
#include "model/hmac_key.h"

/* Reference pseudonyms: "anon-" + the first 32 hex digits of
 *   /usr/bin/python3 -c 'import hmac,hashlib; print(hmac.new(KEY, VALUE,
 *     hashlib.sha256).hexdigest()[:32])'
 * with KEY = b"doppel-test-key" unless noted. */
#define P_ALICE "anon-84b9b2921985c5b4ad41d03d2390c5aa"    /* b"alice@example.com" */
#define P_IP1 "anon-3154b6d71effa788a7253ee92909a7ee"      /* b"203.0.113.7" */
#define P_IP2 "anon-aed5c96e8dc0f405c580f1a108a75dd5"      /* b"198.51.100.2" */
#define P_TOKEN "anon-e7c2d7fb2aef0d82e3f545376c0748cd"    /* b"s3cr3t-token" */
#define P_XEQY "anon-07764d80b8a75de68d5119a5d487f1df"     /* b"x=y" */
#define P_EMPTY "anon-fe7b2aa10994afb5abdb8b4fea4b2ec3"    /* b"" */
#define P_OTHERKEY "anon-c8cd45c5d7e5c3ca8ade95a78a90be28" /* KEY=b"other-key", alice */
#define P_NOKEY "anon-0cf19c8f102ecc62b033b451c1d7cbe4"    /* KEY=b"", alice */
#define P_LONGKEY "anon-da52fd927659ee918a599d1ba4a61818"  /* KEY=b"k"*100, alice */

static char *drop[] = {"cookie", "authorization"};
static char *hash_h[] = {"x-user", "x-session"};
static char *hash_q[] = {"email", "token"};
static char *strip_q[] = {"utm_source", "debug"};

static void rules_init(struct anonymize_rules *r, const char *key)
{
    memset(r, 0, sizeof(*r));
    r->drop_headers = drop;
    r->ndrop_headers = 2;
    r->hash_headers = hash_h;
    r->nhash_headers = 2;
    r->hash_query = hash_q;
    r->nhash_query = 2;
    r->strip_query = strip_q;
    r->nstrip_query = 2;
    r->key_len = strlen(key);
    memcpy(r->key, key, r->key_len);
}

static const char *pseudonym(const struct anonymize_rules *r, const char *v, struct buf *b)
{
    buf_reset(b);
    assert_int_equal(anonymize_pseudonym(r, v, strlen(v), b), 0);
    assert_int_equal(b->len, ANONYMIZE_PSEUDONYM_LEN);
    return b->data;
}

static void test_anonymize_pseudonym_matches_hmac_reference(void **state)
{
    (void)state;
    struct anonymize_rules r;
    struct buf b;
    buf_init(&b, 1024);
    rules_init(&r, "doppel-test-key");
    assert_string_equal(pseudonym(&r, "alice@example.com", &b), P_ALICE);
    assert_string_equal(pseudonym(&r, "203.0.113.7", &b), P_IP1);
    assert_string_equal(pseudonym(&r, "", &b), P_EMPTY);
    rules_init(&r, "");
    assert_string_equal(pseudonym(&r, "alice@example.com", &b), P_NOKEY);
    char longkey[101];
    memset(longkey, 'k', 100);
    longkey[100] = '\0';
    rules_init(&r, longkey); /* longer than the SHA-256 block: hashed first */
    assert_string_equal(pseudonym(&r, "alice@example.com", &b), P_LONGKEY);
    buf_release(&b);
}

static void test_anonymize_pseudonym_stable_and_keyed(void **state)
{
    (void)state;
    struct anonymize_rules a, other;
    struct buf b1, b2;
    buf_init(&b1, 1024);
    buf_init(&b2, 1024);
    rules_init(&a, "doppel-test-key");
    rules_init(&other, "other-key");
    assert_string_equal(pseudonym(&a, "alice@example.com", &b1),
                        pseudonym(&a, "alice@example.com", &b2));
    assert_string_equal(pseudonym(&other, "alice@example.com", &b2), P_OTHERKEY);
    assert_string_not_equal(pseudonym(&a, "alice@example.com", &b1), b2.data);
    buf_release(&b1);
    buf_release(&b2);
}

static void test_anonymize_pseudonym_enospc_leaves_buffer(void **state)
{
    (void)state;
    struct anonymize_rules r;
    struct buf b;
    rules_init(&r, "doppel-test-key");
    buf_init(&b, ANONYMIZE_PSEUDONYM_LEN + 3);
    buf_appends(&b, "ab:");
    assert_int_equal(anonymize_pseudonym(&r, "x", 1, &b), 0);
    assert_int_equal(anonymize_pseudonym(&r, "x", 1, &b), -ENOSPC);
    assert_int_equal(b.len, ANONYMIZE_PSEUDONYM_LEN + 3);
    buf_release(&b);
}

struct target_case {
    const char *in, *want;
};

static void test_anonymize_target_rewrites_query_cases(void **state)
{
    (void)state;
    static const struct target_case cases[] = {
        {"/p", "/p"},
        {"/p?", "/p?"},
        {"/p?a=1&b=2", "/p?a=1&b=2"},
        {"/p?email=alice@example.com&x=1", "/p?email=" P_ALICE "&x=1"},
        {"/p?utm_source=x&a=1", "/p?a=1"},
        {"/p?a=1&utm_source=x", "/p?a=1"},
        {"/p?a=1&utm_source=x&b=2", "/p?a=1&b=2"},
        {"/p?utm_source=x", "/p"},
        {"/p?utm_source=x&debug", "/p"},
        {"/p?debug&a", "/p?a"},
        {"/p?flag&email=alice@example.com&&a=&", "/p?flag&email=" P_ALICE "&&a=&"},
        {"/p?email=&token", "/p?email=&token"},
        {"/p?email=alice@example.com&email=alice@example.com",
         "/p?email=" P_ALICE "&email=" P_ALICE},
        {"/p?a=1&", "/p?a=1&"},
        {"/p?&a=1", "/p?&a=1"},
        {"/p?a=1#frag?email=x", "/p?a=1#frag?email=x"},
        {"/p?email=alice@example.com#sec", "/p?email=" P_ALICE "#sec"},
        {"/p#x?email=alice@example.com", "/p#x?email=alice@example.com"},
        {"/p?Email=alice@example.com", "/p?Email=alice@example.com"},
        {"/p?utm_source_x=1&xdebug=2", "/p?utm_source_x=1&xdebug=2"},
        {"/p?a=b=c&token=x=y", "/p?a=b=c&token=" P_XEQY},
        {"/p?=v&token=s3cr3t-token", "/p?=v&token=" P_TOKEN},
        {"http://h:8080/p?token=s3cr3t-token&utm_source=mail", "http://h:8080/p?token=" P_TOKEN},
        {"*", "*"},
        {"", ""},
    };
    struct anonymize_rules r;
    struct buf b;
    rules_init(&r, "doppel-test-key");
    buf_init(&b, 4096);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        buf_reset(&b);
        assert_int_equal(anonymize_target(&r, cases[i].in, strlen(cases[i].in), &b), 0);
        if (strcmp(b.len ? b.data : "", cases[i].want) != 0) {
            print_error("target '%s' gave '%s', want '%s'\n", cases[i].in, b.len ? b.data : "",
                        cases[i].want);
            fail();
        }
    }
    buf_release(&b);
}

static void test_anonymize_target_no_rules_is_identity(void **state)
{
    (void)state;
    struct anonymize_rules r;
    memset(&r, 0, sizeof(r));
    const char *t = "/a/b?x=1&&y&email=alice@example.com&utm_source=z&#f";
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(anonymize_target(&r, t, strlen(t), &b), 0);
    assert_string_equal(b.data, t);
    buf_release(&b);
}

static void test_anonymize_target_enospc_rolls_back(void **state)
{
    (void)state;
    struct anonymize_rules r;
    rules_init(&r, "doppel-test-key");
    const char *t = "/p?a=1&email=alice@example.com&b=2";
    struct buf b;
    buf_init(&b, 30); /* room for "/p?a=1&email=" but not the pseudonym */
    buf_appends(&b, "GET ");
    assert_int_equal(anonymize_target(&r, t, strlen(t), &b), -ENOSPC);
    assert_int_equal(b.len, 4);
    assert_string_equal(b.data, "GET ");
    buf_release(&b);
}

/* Request heads for the header tests, parsed by the real reader. */
static int keep_head(void *ctx, struct http_head *h)
{
    *(struct http_head *)ctx = *h;
    return 0;
}

static int ignore_body(void *ctx, const char *d, size_t n)
{
    (void)ctx, (void)d, (void)n;
    return 0;
}

static int ignore_complete(void *ctx)
{
    (void)ctx;
    return 0;
}

static void parse_request(const char *text, struct http_head *out)
{
    static const struct http_reader_cbs cbs = {keep_head, ignore_body, ignore_complete};
    struct http_reader rd;
    memset(out, 0, sizeof(*out));
    http_reader_init(&rd, HTTP_READER_REQUEST, 8192, &cbs, out);
    assert_int_equal(http_reader_feed(&rd, text, strlen(text)), (ssize_t)strlen(text));
    assert_non_null(out->raw);
    http_reader_release(&rd);
}

static const char *const skip[] = {"content-length", "x-forwarded-for", NULL};

static void test_anonymize_headers_drops_hashes_and_skips(void **state)
{
    (void)state;
    struct anonymize_rules r;
    rules_init(&r, "doppel-test-key");
    struct http_head h;
    parse_request("POST /x HTTP/1.1\r\nHost: api\r\nCookie: sess=42\r\n"
                  "Authorization: Bearer abc\r\nX-User: alice@example.com\r\n"
                  "Connection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\n"
                  "Content-Length: 0\r\nX-Forwarded-For: 198.51.100.2\r\nTE: trailers\r\n"
                  "Proxy-Authorization: Basic xyz\r\nCOOKIE: again\r\nx-SESSION: \r\n"
                  "Accept: */*\r\n\r\n",
                  &h);
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(anonymize_headers(&r, &h, skip, &b), 0);
    assert_string_equal(b.data, "Host: api\r\nX-User: " P_ALICE "\r\nx-SESSION: \r\n"
                                "Accept: */*\r\n");
    http_head_release(&h);
    buf_release(&b);
}

static void test_anonymize_headers_stable_across_requests(void **state)
{
    (void)state;
    struct anonymize_rules r;
    rules_init(&r, "doppel-test-key");
    struct http_head h1, h2;
    parse_request("GET /a HTTP/1.1\r\nX-User: alice@example.com\r\n\r\n", &h1);
    parse_request("GET /b HTTP/1.1\r\nx-user: alice@example.com\r\n\r\n", &h2);
    struct buf b1, b2;
    buf_init(&b1, 4096);
    buf_init(&b2, 4096);
    assert_int_equal(anonymize_headers(&r, &h1, NULL, &b1), 0);
    assert_int_equal(anonymize_headers(&r, &h2, NULL, &b2), 0);
    assert_string_equal(b1.data, "X-User: " P_ALICE "\r\n");
    assert_string_equal(b2.data, "x-user: " P_ALICE "\r\n");
    http_head_release(&h1);
    http_head_release(&h2);
    buf_release(&b1);
    buf_release(&b2);
}

static void test_anonymize_headers_client_address_fields_hashed(void **state)
{
    (void)state;
    struct anonymize_rules r;
    rules_init(&r, "doppel-test-key");
    struct http_head h;
    parse_request("GET / HTTP/1.1\r\nX-Forwarded-For: 203.0.113.7, 198.51.100.2\r\n"
                  "X-Real-IP: 203.0.113.7\r\nHost: api\r\n\r\n",
                  &h);
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(anonymize_headers(&r, &h, NULL, &b), 0);
    assert_string_equal(b.data, "X-Forwarded-For: 203.0.113.7, 198.51.100.2\r\n"
                                "X-Real-IP: 203.0.113.7\r\nHost: api\r\n");
    r.hash_client_ip = true;
    buf_reset(&b);
    assert_int_equal(anonymize_headers(&r, &h, NULL, &b), 0);
    assert_string_equal(b.data, "X-Forwarded-For: " P_IP1 ", " P_IP2 "\r\n"
                                "X-Real-IP: " P_IP1 "\r\nHost: api\r\n");
    http_head_release(&h);
    buf_release(&b);
}

static void test_anonymize_headers_enospc_rolls_back(void **state)
{
    (void)state;
    struct anonymize_rules r;
    rules_init(&r, "doppel-test-key");
    struct http_head h;
    parse_request("GET / HTTP/1.1\r\nHost: api\r\nX-User: alice@example.com\r\n\r\n", &h);
    struct buf b;
    buf_init(&b, 30);
    buf_appends(&b, "GET / HTTP/1.1\r\n");
    assert_int_equal(anonymize_headers(&r, &h, NULL, &b), -ENOSPC);
    assert_string_equal(b.data, "GET / HTTP/1.1\r\n");
    http_head_release(&h);
    buf_release(&b);
}

static void test_anonymize_client_ip_hashed_only_when_asked(void **state)
{
    (void)state;
    struct anonymize_rules r;
    rules_init(&r, "doppel-test-key");
    struct buf b;
    buf_init(&b, 256);
    assert_int_equal(anonymize_client_ip(&r, "203.0.113.7", &b), 0);
    assert_string_equal(b.data, "203.0.113.7");
    r.hash_client_ip = true;
    buf_reset(&b);
    assert_int_equal(anonymize_client_ip(&r, "203.0.113.7", &b), 0);
    assert_string_equal(b.data, P_IP1);
    buf_release(&b);
}

static void test_anonymize_forwarded_for_keeps_chain(void **state)
{
    (void)state;
    struct anonymize_rules r;
    rules_init(&r, "doppel-test-key");
    struct http_head h;
    parse_request("GET / HTTP/1.1\r\nX-Forwarded-For: 203.0.113.7,198.51.100.2\r\n"
                  "Host: api\r\nx-forwarded-for: 203.0.113.7\r\n\r\n",
                  &h);
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(anonymize_forwarded_for(&r, &h, "198.51.100.2", &b), 0);
    assert_string_equal(b.data, "203.0.113.7, 198.51.100.2, 203.0.113.7, 198.51.100.2");
    r.hash_client_ip = true;
    buf_reset(&b);
    assert_int_equal(anonymize_forwarded_for(&r, &h, "198.51.100.2", &b), 0);
    assert_string_equal(b.data, P_IP1 ", " P_IP2 ", " P_IP1 ", " P_IP2);
    struct buf small;
    buf_init(&small, 60); /* the first pseudonym fits, the second does not */
    buf_appends(&small, "x");
    assert_int_equal(anonymize_forwarded_for(&r, &h, "198.51.100.2", &small), -ENOSPC);
    assert_string_equal(small.data, "x");
    buf_release(&small);
    http_head_release(&h);
    parse_request("GET / HTTP/1.1\r\nHost: api\r\n\r\n", &h);
    buf_reset(&b);
    assert_int_equal(anonymize_forwarded_for(&r, &h, "203.0.113.7", &b), 0);
    assert_string_equal(b.data, P_IP1);
    http_head_release(&h);
    buf_release(&b);
}

/* Rules with the key prepared as the route table prepares it give the same pseudonyms as
 * the one-shot form (the references above). */
static void test_anonymize_pseudonym_prepared_key_matches_reference(void **state)
{
    (void)state;
    struct anonymize_rules r;
    struct buf b;
    buf_init(&b, 1024);
    rules_init(&r, "doppel-test-key");
    r.prepared = hmac_key_new(r.key, r.key_len);
    assert_non_null(r.prepared);
    assert_string_equal(pseudonym(&r, "alice@example.com", &b), P_ALICE);
    assert_string_equal(pseudonym(&r, "203.0.113.7", &b), P_IP1);
    assert_string_equal(pseudonym(&r, "", &b), P_EMPTY);
    hmac_key_free(r.prepared);
    rules_init(&r, "");
    r.prepared = hmac_key_new(r.key, r.key_len);
    assert_string_equal(pseudonym(&r, "alice@example.com", &b), P_NOKEY);
    hmac_key_free(r.prepared);
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_anonymize_pseudonym_matches_hmac_reference),
        cmocka_unit_test(test_anonymize_pseudonym_prepared_key_matches_reference),
        cmocka_unit_test(test_anonymize_pseudonym_stable_and_keyed),
        cmocka_unit_test(test_anonymize_pseudonym_enospc_leaves_buffer),
        cmocka_unit_test(test_anonymize_target_rewrites_query_cases),
        cmocka_unit_test(test_anonymize_target_no_rules_is_identity),
        cmocka_unit_test(test_anonymize_target_enospc_rolls_back),
        cmocka_unit_test(test_anonymize_headers_drops_hashes_and_skips),
        cmocka_unit_test(test_anonymize_headers_stable_across_requests),
        cmocka_unit_test(test_anonymize_headers_client_address_fields_hashed),
        cmocka_unit_test(test_anonymize_headers_enospc_rolls_back),
        cmocka_unit_test(test_anonymize_client_ip_hashed_only_when_asked),
        cmocka_unit_test(test_anonymize_forwarded_for_keeps_chain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
