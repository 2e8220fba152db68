/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_config: doppel's configuration end to end through config_load: defaults, route
 * and limit inheritance, every kind of error with its file:line:col, anonymization keys,
 * warnings, the shipped examples and the generated reference in docs/config.md.
 * Run from the project root (scripts/run-tests does) so examples/ and docs/ are found.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/xalloc.h"
#include "config/config.h"
#include "testlib.h"

#define SVC "services:\n  - name: api\n    listen: 127.0.0.1:8080\n"
#define PRIMARY "    primary:\n      upstreams: [127.0.0.1:9001]\n"
#define SHADOW "    shadows:\n      - name: v2\n        upstreams: [127.0.0.1:9101]\n"

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
    assert_null(cfg);
    assert_string_equal(err.msg, msg);
}

static void test_config_load_string_applies_defaults(void **state)
{
    (void)state;
    struct config *cfg = load(SVC PRIMARY SHADOW);
    assert_int_equal(cfg->workers, 0);
    assert_string_equal(cfg->admin.listen, "127.0.0.1:9900");
    assert_int_equal(cfg->admin.listen_port, 9900);
    assert_null(cfg->admin.tokens_file);
    assert_int_equal(cfg->log.level, 1); /* LOG_INFO */
    assert_int_equal(cfg->log.access_log, CONFIG_ACCESS_LOG_OFF);
    assert_string_equal(cfg->log.access_log_path, "-");
    const struct config_service *s = &cfg->services[0];
    assert_int_equal(s->limits.max_connections, 10000);
    assert_int_equal(s->limits.max_header_bytes, 16384);
    assert_int_equal(s->limits.max_body_bytes, 16 * 1048576);
    assert_int_equal(s->limits.client_timeout_ns, 30000000000ULL);
    assert_int_equal(s->limits.keepalive_timeout_ns, 60000000000ULL);
    assert_int_equal(s->limits.drain_timeout_ns, 10000000000ULL);
    assert_string_equal(s->primary.name, "primary");
    assert_int_equal(s->primary.upstreams[0].weight, 1);
    assert_int_equal(s->primary.upstreams[0].port, 9001);
    assert_int_equal(s->primary.connect_timeout_ns, 1000000000ULL);
    assert_int_equal(s->primary.timeout_ns, 30000000000ULL);
    assert_int_equal(s->primary.keepalive, 64);
    assert_int_equal(s->primary.retries, 1);
    assert_int_equal(s->primary.fail_threshold, 5);
    assert_int_equal(s->primary.eject_ns, 10000000000ULL);
    assert_null(s->primary.check_path);
    assert_int_equal(s->shadows[0].timeout_ns, 5000000000ULL);
    assert_int_equal(s->shadows[0].retries, 0);
    assert_int_equal(s->shadows[0].max_inflight, 256);
    assert_int_equal(s->shadows[0].max_bytes, 8 * 1048576);
    assert_int_equal(s->mirror.percent_bp, 0);
    assert_int_equal(s->mirror.nmethods, 3);
    assert_string_equal(s->mirror.methods[2], "OPTIONS");
    assert_int_equal(s->mirror.npath_prefixes, 0);
    assert_null(s->mirror.header_name);
    assert_int_equal(s->mirror.max_body, 65536);
    assert_int_equal(s->mirror.anonymize.ndrop_headers, 2);
    assert_string_equal(s->mirror.anonymize.drop_headers[0], "cookie");
    assert_true(s->mirror.anonymize.hash_client_ip);
    assert_true(s->mirror.anonymize.key_random);
    assert_int_equal(s->mirror.anonymize.key_len, 32);
    /* The random key is made once per process: a reload keeps the pseudonyms. */
    struct config *again = load(SVC PRIMARY);
    assert_memory_equal(again->services[0].mirror.anonymize.key, s->mirror.anonymize.key, 32);
    config_free(again);
    assert_int_equal(s->compare_body_cap, 65536);
    assert_int_equal(s->nroutes, 1);
    assert_string_equal(s->routes[0].name, "default");
    assert_string_equal(s->routes[0].path_prefix, "/");
    assert_int_equal(config_nroutes(cfg), 1);
    assert_int_equal(config_nshadows(cfg), 1);
    config_free(cfg);
}

static void test_config_load_string_routes_merge_and_sort(void **state)
{
    (void)state;
    /* 20 hex digits are fewer than the 32 a hex key needs, so these are 20 raw bytes. */
    setenv("DOPPEL_TEST_KEY", "0123456789abcdef0123", 1);
    struct config *cfg = load(
        SVC PRIMARY SHADOW "    mirror:\n      percent: 12.5\n      methods: [get, post]\n"
                           "      header: { name: X-Mirror }\n"
                           "      anonymize: { hash_headers: [X-User], key_env: DOPPEL_TEST_KEY }\n"
                           "    routes:\n"
                           "      - { name: a, path_prefix: /a }\n"
                           "      - name: ab\n        path_prefix: /a/b\n"
                           "        mirror: { percent: 100, header: { value: \"1\" },\n"
                           "                  anonymize: { hash_client_ip: false } }\n");
    const struct config_service *s = &cfg->services[0];
    assert_int_equal(s->nroutes, 3);
    assert_string_equal(s->routes[0].name, "ab");
    assert_string_equal(s->routes[1].name, "a");
    assert_string_equal(s->routes[2].name, "default");
    const struct config_mirror *ab = &s->routes[0].mirror, *a = &s->routes[1].mirror;
    assert_int_equal(ab->percent_bp, 10000);
    assert_string_equal(ab->header_name, "x-mirror");
    assert_string_equal(ab->header_value, "1");
    assert_int_equal(ab->nmethods, 2);
    assert_string_equal(ab->methods[1], "POST");
    assert_false(ab->anonymize.hash_client_ip);
    assert_string_equal(ab->anonymize.hash_headers[0], "x-user");
    assert_false(ab->anonymize.key_random);
    assert_int_equal(a->percent_bp, 1250);
    assert_null(a->header_value);
    assert_true(a->anonymize.hash_client_ip);
    assert_int_equal(s->routes[2].mirror.percent_bp, 1250);
    assert_int_equal(s->routes[2].mirror.anonymize.key_len, 20);
    assert_memory_equal(s->routes[2].mirror.anonymize.key, "0123456789abcdef0123", 20);
    config_free(cfg);
}

static void test_config_load_string_route_with_root_prefix_replaces_default(void **state)
{
    (void)state;
    struct config *cfg = load(SVC PRIMARY "    routes:\n"
                                          "      - { name: all, path_prefix: /, mirror: "
                                          "{ percent: 1 } }\n"
                                          "      - { name: default, path_prefix: /x }\n");
    const struct config_service *s = &cfg->services[0];
    assert_int_equal(s->nroutes, 2);
    assert_string_equal(s->routes[0].name, "default");
    assert_string_equal(s->routes[1].name, "all");
    assert_int_equal(s->routes[1].mirror.percent_bp, 100);
    config_free(cfg);
}

static void test_config_load_string_limits_inherit(void **state)
{
    (void)state;
    struct config *cfg = load("limits: { max_connections: 50, client_timeout: 2s }\n" SVC PRIMARY
                              "    limits: { client_timeout: 250ms }\n"
                              "  - name: web\n    listen: 127.0.0.1:8081\n" PRIMARY);
    assert_int_equal(cfg->services[0].limits.max_connections, 50);
    assert_int_equal(cfg->services[0].limits.client_timeout_ns, 250000000ULL);
    assert_int_equal(cfg->services[1].limits.client_timeout_ns, 2000000000ULL);
    assert_int_equal(cfg->services[1].limits.keepalive_timeout_ns, 60000000000ULL);
    config_free(cfg);
}

static void test_config_load_string_rejects_unknown_key_with_hint(void **state)
{
    (void)state;
    fails("servics: []\n", "c.yaml:1:1: unknown key 'servics' (did you mean 'services'?)");
    fails(SVC "    primray: {}\n", "c.yaml:4:5: unknown key 'primray' (did you mean 'primary'?)");
    fails(SVC PRIMARY "      retires: 2\n",
          "c.yaml:6:7: unknown key 'retires' (did you mean 'retries'?)");
    /* retries exists for the primary only. */
    fails(SVC PRIMARY SHADOW "        retries: 1\n",
          "c.yaml:9:9: key 'retries' is not allowed here");
    fails(SVC PRIMARY "    frobnicate: 1\n", "c.yaml:6:5: unknown key 'frobnicate'");
}

static void test_config_load_string_rejects_wrong_type(void **state)
{
    (void)state;
    fails("services: {}\n", "c.yaml:1:11: 'services': expected a list, found a map");
    fails("services:\n  - name: api\n    listen: [1]\n",
          "c.yaml:3:13: expected an address like 127.0.0.1:8080, [::1]:8080 or "
          "localhost:8080, found a list");
    fails(SVC PRIMARY "    mirror: { anonymize: { hash_client_ip: maybe } }\n",
          "c.yaml:6:44: expected true or false, found \"maybe\"");
    fails("- a\n- b\n", "c.yaml:1:1: expected a map of settings, found a list");
    fails(SVC "    primary: 5\n", "c.yaml:4:14: expected a map, found \"5\"");
}

static void test_config_load_string_rejects_out_of_range(void **state)
{
    (void)state;
    fails("workers: 65\n" SVC PRIMARY, "c.yaml:1:10: 65 is out of range (1..64)");
    fails("workers: many\n" SVC PRIMARY,
          "c.yaml:1:10: 'workers' must be auto or 1..64, found \"many\"");
    fails(SVC PRIMARY "      keepalive: 10001\n", "c.yaml:6:18: 10001 is out of range (0..10000)");
    fails(SVC PRIMARY "    compare: { body_cap: 2MiB }\n",
          "c.yaml:6:26: size 2MiB is out of range (0..1MiB)");
    fails("limits: { drain_timeout: 1h }\n" SVC PRIMARY,
          "c.yaml:1:26: duration 1h is out of range (0s..10m)");
    fails(SVC "    primary:\n      upstreams: []\n",
          "c.yaml:5:18: 'upstreams' has 0 items; allowed: 1..64");
    fails("log: { level: verbose }\n" SVC PRIMARY,
          "c.yaml:1:15: 'level' must be one of debug|info|warn|error|off, found \"verbose\"");
}

static void test_config_load_string_rejects_bad_duration_and_size(void **state)
{
    (void)state;
    fails(SVC PRIMARY "      timeout: 5 parsecs\n",
          "c.yaml:6:16: expected a duration like \"250ms\", \"2s\" or \"1m\", found \"5 "
          "parsecs\"");
    fails(SVC PRIMARY "    mirror: { header: { name: x, value: \"a\\r\\nb: c\" } }\n",
          "c.yaml:6:41: 'value' must not contain control characters");
    fails(SVC PRIMARY "    mirror: { max_body: lots }\n",
          "c.yaml:6:25: expected a size like \"64KiB\", \"8MiB\" or 1024, found \"lots\"");
}

static void test_config_load_string_rejects_bad_address(void **state)
{
    (void)state;
    fails("services:\n  - name: api\n    listen: 127.0.0.1\n",
          "c.yaml:3:13: expected an address like 127.0.0.1:8080, [::1]:8080 or "
          "localhost:8080, found \"127.0.0.1\"");
    fails(SVC "    primary: { upstreams: [127.0.0.1:0] }\n",
          "c.yaml:4:28: port 0 is out of range (1..65535)");
    fails(SVC "    primary: { upstreams: [{ address: 300.0.0.1:80 }] }\n",
          "c.yaml:4:39: host in \"300.0.0.1:80\" must be an IPv4 address, [IPv6 address] "
          "or localhost");
    fails("admin: { listen: 127.0.0.1:99999 }\n" SVC PRIMARY,
          "c.yaml:1:18: port 99999 is out of range (0..65535)");
}

static void test_config_load_string_rejects_duplicates(void **state)
{
    (void)state;
    fails(SVC PRIMARY "  - name: api\n    listen: 127.0.0.1:8081\n" PRIMARY,
          "c.yaml:6:11: duplicate name 'api' (first at line 2)");
    fails(SVC PRIMARY "  - name: web\n    listen: 0.0.0.0:8080\n" PRIMARY,
          "c.yaml:7:13: listen address \"0.0.0.0:8080\" conflicts with \"127.0.0.1:8080\" "
          "(line 3)");
    fails("admin: { listen: \"localhost:8080\" }\n" SVC PRIMARY,
          "c.yaml:4:13: listen address \"127.0.0.1:8080\" conflicts with \"localhost:8080\" "
          "(line 1)");
    fails(SVC PRIMARY SHADOW "      - name: v2\n        upstreams: [127.0.0.1:9102]\n",
          "c.yaml:9:15: duplicate name 'v2' (first at line 7)");
    fails(SVC PRIMARY "    shadows: [{ name: primary, upstreams: [127.0.0.1:9] }]\n",
          "c.yaml:6:23: name 'primary' is reserved");
    fails(SVC "    primary: { upstreams: [127.0.0.1:1, \"127.0.0.1:1\"] }\n",
          "c.yaml:4:41: duplicate upstream '127.0.0.1:1' in pool 'primary'");
    fails(SVC PRIMARY "    routes:\n      - { name: a, path_prefix: /a }\n"
                      "      - { name: a, path_prefix: /b }\n",
          "c.yaml:8:17: duplicate name 'a' (first at line 7)");
    fails(SVC PRIMARY "    routes:\n      - { name: a, path_prefix: /a }\n"
                      "      - { name: b, path_prefix: /a }\n",
          "c.yaml:8:33: duplicate path_prefix '/a' (first at line 7)");
    fails(SVC PRIMARY "    routes: [{ name: default, path_prefix: /d }]\n",
          "c.yaml:6:22: name 'default' is reserved");
    /* Port 0 (any free port) never conflicts. */
    struct config *cfg =
        load("admin: { listen: 127.0.0.1:0 }\nservices:\n  - name: a\n    listen: "
             "127.0.0.1:0\n" PRIMARY "  - name: b\n    listen: 127.0.0.1:0\n" PRIMARY);
    assert_int_equal(cfg->services[1].listen_port, 0);
    config_free(cfg);
}

static void test_config_load_string_percent_granularity(void **state)
{
    (void)state;
    fails(SVC PRIMARY "    mirror: { percent: 12.345 }\n",
          "c.yaml:6:24: 'percent' 12.345 has more than 2 decimals (the step is 0.01)");
    fails(SVC PRIMARY "    mirror: { percent: 100.01 }\n",
          "c.yaml:6:24: 'percent' 100.01 is out of range (0..100)");
    fails(SVC PRIMARY "    mirror: { percent: -1 }\n",
          "c.yaml:6:24: 'percent' must be a number from 0 to 100, found \"-1\"");
    fails(SVC PRIMARY "    mirror: { percent: 1e2 }\n",
          "c.yaml:6:24: 'percent' must be a number from 0 to 100, found \"1e2\"");
    const char *ok[] = {"0.01", "100", "7.5", "0"};
    const uint32_t bp[] = {1, 10000, 750, 0};
    for (size_t i = 0; i < 4; i++) {
        char *text = xasprintf(SVC PRIMARY "    mirror: { percent: %s }\n", ok[i]);
        struct config *cfg = load(text);
        assert_int_equal(cfg->services[0].mirror.percent_bp, bp[i]);
        config_free(cfg);
        free(text);
    }
}

static void test_config_load_string_rejects_key_file_and_key_env(void **state)
{
    (void)state;
    setenv("DOPPEL_TEST_KEY", "0123456789abcdef0123", 1);
    fails(SVC PRIMARY "    mirror:\n      anonymize:\n        key_file: k\n"
                      "        key_env: K\n",
          "c.yaml:9:18: set either 'key_file' or 'key_env', not both");
    /* Split between the service and a route, the merged mirror still has both. */
    fails(SVC PRIMARY "    mirror: { anonymize: { key_env: DOPPEL_TEST_KEY } }\n"
                      "    routes:\n      - name: r\n        path_prefix: /r\n"
                      "        mirror: { anonymize: { key_file: k } }\n",
          "c.yaml:6:37: set either 'key_file' or 'key_env', not both");
    fails(SVC PRIMARY "    mirror: { anonymize: { key_env: DOPPEL_TEST_SURELY_UNSET } }\n",
          "c.yaml:6:37: environment variable 'DOPPEL_TEST_SURELY_UNSET' is not set");
}

static void test_config_load_reads_keys_and_tokens_relative_to_dir(void **state)
{
    (void)state;
    char *dir = testlib_tmpdir();
    char *k1 = testlib_write_file(dir, "hex.key", "000102030405060708090a0b0c0d0e0f10\n");
    char *k2 = testlib_write_file(dir, "raw.key", "sixteen-raw-byte");
    char *k3 = testlib_write_file(dir, "short.key", "short");
    char *tok =
        testlib_write_file(dir, "tokens",
                           /* printf %s example-admin-token | sha256sum */
                           "d2eadfb6e52d65b4bbf254e5046c0c495328b4d208f8b1591c229e62c5c6362f\n\n");
    char *badtok =
        testlib_write_file(dir, "badtokens",
                           "d2eadfb6e52d65b4bbf254e5046c0c495328b4d208f8b1591c229e62c5c6362f\n"
                           "secret-in-clear\n");
    char *path = testlib_write_file(
        dir, "c.yaml",
        "admin: { tokens_file: tokens }\nlog: { access_log_path: access.log }\n" SVC PRIMARY
        "    mirror: { anonymize: { key_file: hex.key } }\n"
        "    routes: [{ name: r, path_prefix: /r, mirror: { anonymize: { key_file: raw.key "
        "} } }]\n");
    struct config *cfg = NULL;
    struct err err = {0};
    assert_int_equal(config_load(path, &cfg, &err), 0);
    char *want = xasprintf("%s/tokens", dir);
    assert_string_equal(cfg->admin.tokens_file, want);
    free(want);
    want = xasprintf("%s/access.log", dir);
    assert_string_equal(cfg->log.access_log_path, want);
    free(want);
    const struct config_service *s = &cfg->services[0];
    const struct config_anonymize *def = &s->routes[1].mirror.anonymize;
    assert_int_equal(def->key_len, 17);
    assert_int_equal(def->key[1], 0x01);
    assert_int_equal(def->key[16], 0x10);
    assert_false(def->key_random);
    assert_int_equal(s->routes[0].mirror.anonymize.key_len, 16);
    assert_memory_equal(s->routes[0].mirror.anonymize.key, "sixteen-raw-byte", 16);
    config_free(cfg);
    free(path);
    path = testlib_write_file(dir, "c2.yaml",
                              SVC PRIMARY "    mirror: { anonymize: { key_file: short.key } }\n");
    assert_int_equal(config_load(path, &cfg, &err), -ERANGE);
    want = xasprintf("%s:6:38: key file '%s' must hold 16 to 1024 bytes, raw or as hex", path, k3);
    assert_string_equal(err.msg, want);
    free(want);
    free(path);
    path = testlib_write_file(dir, "c3.yaml", "admin: { tokens_file: nope }\n" SVC PRIMARY);
    assert_int_equal(config_load(path, &cfg, &err), -ENOENT);
    want = xasprintf("%s:1:23: cannot read tokens file '%s/nope': No such file or directory", path,
                     dir);
    assert_string_equal(err.msg, want);
    free(want);
    free(path);
    path = testlib_write_file(dir, "c4.yaml", "admin: { tokens_file: badtokens }\n" SVC PRIMARY);
    assert_int_equal(config_load(path, &cfg, &err), -EINVAL);
    want = xasprintf("%s:2: expected a SHA-256 hash (64 hex digits)", badtok);
    assert_string_equal(err.msg, want);
    free(want);
    free(path);
    free(badtok);
    char *empty = testlib_write_file(dir, "emptytokens", "\n");
    path = testlib_write_file(dir, "c5.yaml", "admin: { tokens_file: emptytokens }\n" SVC PRIMARY);
    assert_int_equal(config_load(path, &cfg, &err), 0);
    const char *const *w;
    assert_int_equal(config_warnings(cfg, &w), 1);
    want = xasprintf("%s:1:23: warning: tokens file '%s' holds no hashes, so mutating "
                     "endpoints are refused",
                     path, empty);
    assert_string_equal(w[0], want);
    free(want);
    config_free(cfg);
    free(path);
    free(empty);
    free(k1);
    free(k2);
    free(k3);
    free(tok);
    testlib_rmdir(dir);
    free(dir);
}

static void hmac_hex(const struct config_anonymize *a, const char *msg, char out[65])
{
    unsigned char mac[32];
    unsigned int n = 0;
    HMAC(EVP_sha256(), a->key, (int)a->key_len, (const unsigned char *)msg, strlen(msg), mac, &n);
    assert_int_equal(n, 32);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

/* A key longer than 64 bytes is held as its digest; the pseudonyms must be those of the
 * key as written. */
static void test_config_load_long_key_gives_same_hmac(void **state)
{
    (void)state;
    char hex[201];
    for (int i = 0; i < 100; i++)
        snprintf(hex + 2 * i, 3, "%02x", i);
    setenv("DOPPEL_TEST_LONG_KEY", hex, 1);
    setenv("DOPPEL_TEST_RAW_KEY", "sixteen-raw-byte", 1);
    struct config *cfg =
        load(SVC PRIMARY "    mirror: { anonymize: { key_env: DOPPEL_TEST_LONG_KEY } }\n"
                         "    routes: [{ name: r, path_prefix: /r, mirror: { anonymize: { "
                         "key_env: DOPPEL_TEST_RAW_KEY } } }]\n");
    char mac[65];
    hmac_hex(&cfg->services[0].routes[1].mirror.anonymize, "user-42", mac);
    /* /usr/bin/python3 -c "import hmac,hashlib; print(hmac.new(bytes(range(100)),
     *     b'user-42', hashlib.sha256).hexdigest())" */
    assert_string_equal(mac, "7620a168daf89d2e0bc15208d0b29b6700b34a16ad9c60d4adf64dd81f512fd2");
    hmac_hex(&cfg->services[0].routes[0].mirror.anonymize, "user-42", mac);
    /* /usr/bin/python3 -c "import hmac,hashlib; print(hmac.new(b'sixteen-raw-byte',
     *     b'user-42', hashlib.sha256).hexdigest())" */
    assert_string_equal(mac, "5541e20b5b978785e46c19f98f7b6ac629f1d720d7ba9788ee02da54384c22f1");
    config_free(cfg);
}

static void test_config_load_string_rejects_hostile_yaml(void **state)
{
    (void)state;
    fails("x: &a 1\n", "c.yaml:1:4: anchors (&a) are not supported");
    fails(SVC PRIMARY "    mirror: *m\n", "c.yaml:6:13: aliases (*name) are not supported");
    char deep[128] = "workers: ";
    size_t n = strlen(deep);
    for (int i = 0; i < 40; i++)
        deep[n++] = '[';
    deep[n] = '\0';
    fails(deep, "c.yaml:1:41: nesting deeper than 32 levels");
    const char bin[] = "\x7f"
                       "ELF\x02\x01\x01\0\0\0";
    struct config *cfg = NULL;
    struct err err = {0};
    assert_int_not_equal(config_load_string("c.yaml", bin, sizeof(bin) - 1, &cfg, &err), 0);
    assert_null(cfg);
    assert_true(strncmp(err.msg, "c.yaml:1:1: ", 12) == 0);
    fails("services:\n\t- name: a\n", "c.yaml:2:1: tab character: YAML indentation must use "
                                      "spaces");
}

static void test_config_load_empty_and_missing_file(void **state)
{
    (void)state;
    fails("", "c.yaml:1:1: missing required key 'services'");
    fails("# nothing\n", "c.yaml:1:1: missing required key 'services'");
    struct config *cfg = NULL;
    struct err err = {0};
    assert_int_equal(config_load("/nonexistent/doppel.yaml", &cfg, &err), -ENOENT);
    assert_null(cfg);
    assert_string_equal(err.msg,
                        "/nonexistent/doppel.yaml: cannot open: No such file or directory");
}

static void test_config_warnings_explain_risks(void **state)
{
    (void)state;
    struct config *cfg = load("admin: { listen: 0.0.0.0:9900 }\n" SVC PRIMARY SHADOW);
    const char *const *w;
    assert_int_equal(config_warnings(cfg, &w), 3);
    assert_string_equal(w[0], "c.yaml:1:18: warning: admin has no tokens_file, so its "
                              "mutating endpoints are refused");
    assert_string_equal(w[1], "c.yaml:1:18: warning: admin listens on a non-loopback address "
                              "\"0.0.0.0:9900\"");
    assert_string_equal(w[2], "c.yaml:3:5: warning: service 'api' has shadows but mirrors 0% "
                              "of its traffic (set mirror.percent)");
    config_free(cfg);
    cfg = load("admin: { listen: \"off\" }\n" SVC PRIMARY SHADOW "    mirror: { percent: 5 }\n");
    assert_null(cfg->admin.listen);
    assert_int_equal(config_warnings(cfg, &w), 1);
    assert_string_equal(w[0], "c.yaml:3:5: warning: service 'api': no anonymization key_file or "
                              "key_env; a random key is made at each start, so pseudonyms are "
                              "stable only within a run");
    config_free(cfg);
    cfg = load("admin: { listen: \"off\" }\n" SVC PRIMARY "    mirror: { percent: 5 }\n");
    assert_int_equal(config_warnings(cfg, &w), 1);
    assert_string_equal(w[0], "c.yaml:3:5: warning: service 'api' sets mirror.percent but has "
                              "no shadows");
    config_free(cfg);
}

static void test_config_load_examples(void **state)
{
    (void)state;
    struct config *cfg = NULL;
    struct err err = {0};
    if (config_load("examples/doppel.yaml", &cfg, &err))
        print_error("%s\n", err.msg);
    assert_non_null(cfg);
    assert_int_equal(cfg->nservices, 1);
    const struct config_service *s = &cfg->services[0];
    assert_int_equal(s->limits.max_body_bytes, 32 * 1048576);
    assert_int_equal(s->primary.nupstreams, 2);
    assert_string_equal(s->primary.check_path, "/healthz");
    assert_int_equal(s->nroutes, 4);
    assert_string_equal(s->routes[0].name, "search");
    assert_string_equal(s->routes[0].mirror.header_value, "yes");
    assert_int_equal(s->routes[0].mirror.anonymize.nstrip_query, 2);
    assert_int_equal(s->routes[3].mirror.percent_bp, 1000);
    assert_int_equal(s->routes[3].mirror.anonymize.key_len, 32);
    assert_false(s->routes[3].mirror.anonymize.key_random);
    const char *const *w;
    assert_int_equal(config_warnings(cfg, &w), 0);
    config_free(cfg);
    assert_int_equal(config_load("examples/minimal.yaml", &cfg, &err), 0);
    assert_int_equal(cfg->services[0].mirror.percent_bp, 1000);
    config_free(cfg);
}

static void test_config_schema_markdown_matches_docs(void **state)
{
    (void)state;
    FILE *f = fopen("docs/config.md", "rb");
    assert_non_null(f);
    char *doc = xmalloc(1 << 20);
    size_t n = fread(doc, 1, (1 << 20) - 1, f);
    fclose(f);
    doc[n] = '\0';
    struct buf b;
    buf_init(&b, 1 << 20);
    config_schema_markdown(&b);
    if (strcmp(doc, b.data) != 0) {
        print_error("docs/config.md is stale: run scripts/gen-config-docs\n");
        fail();
    }
    assert_non_null(strstr(b.data, "| `services[].shadows[].timeout` | duration | `5s` |"));
    assert_non_null(strstr(b.data, "| `services[].primary.timeout` | duration | `30s` |"));
    buf_release(&b);
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_load_string_applies_defaults),
        cmocka_unit_test(test_config_load_string_routes_merge_and_sort),
        cmocka_unit_test(test_config_load_string_route_with_root_prefix_replaces_default),
        cmocka_unit_test(test_config_load_string_limits_inherit),
        cmocka_unit_test(test_config_load_string_rejects_unknown_key_with_hint),
        cmocka_unit_test(test_config_load_string_rejects_wrong_type),
        cmocka_unit_test(test_config_load_string_rejects_out_of_range),
        cmocka_unit_test(test_config_load_string_rejects_bad_duration_and_size),
        cmocka_unit_test(test_config_load_string_rejects_bad_address),
        cmocka_unit_test(test_config_load_string_rejects_duplicates),
        cmocka_unit_test(test_config_load_string_percent_granularity),
        cmocka_unit_test(test_config_load_string_rejects_key_file_and_key_env),
        cmocka_unit_test(test_config_load_reads_keys_and_tokens_relative_to_dir),
        cmocka_unit_test(test_config_load_long_key_gives_same_hmac),
        cmocka_unit_test(test_config_load_string_rejects_hostile_yaml),
        cmocka_unit_test(test_config_load_empty_and_missing_file),
        cmocka_unit_test(test_config_warnings_explain_risks),
        cmocka_unit_test(test_config_load_examples),
        cmocka_unit_test(test_config_schema_markdown_matches_docs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
