/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for datashadow/mask_hash: the HMAC core against OpenSSL's command line and
 * Python's hmac module, the integer, UUID, text and e-mail permutations against an
 * independent Python model (tests/unit/datashadow/mask_ref.py), bijection checked exhaustively
 * where the domain allows (all of int2, all two-letter and three-digit texts), and the formats each
 * permutation keeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "datashadow/mask_hash.h"
#include "testlib.h"

#define KEY "doppel-test-key"

static struct mask_key key_of(const char *k)
{
    struct mask_key key;
    key.len = strlen(k);
    memcpy(key.bytes, k, key.len);
    return key;
}

static int setup(void **state)
{
    struct mask_mac *m = malloc(sizeof(*m));
    struct mask_key k = key_of(KEY);
    mask_mac_init(m, &k);
    *state = m;
    return 0;
}

static int teardown(void **state)
{
    mask_mac_release(*state);
    free(*state);
    return 0;
}

static void hex(const unsigned char *md, char *out)
{
    for (int i = 0; i < MASK_MD_LEN; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void test_mask_mac_digest_matches_openssl_and_python(void **state)
{
    unsigned char md[MASK_MD_LEN];
    char h[2 * MASK_MD_LEN + 1];
    struct mask_mac m2;
    struct mask_key k;

    /* echo -n doppel | openssl dgst -sha256 -hmac doppel-test-key */
    mask_mac_digest(*state, "doppel", 6, md);
    hex(md, h);
    assert_string_equal(h, "2833630457a5ed7f856b5ad0ef4b478be74b0ccab266cde48a865ba0f309c425");

    /* /usr/bin/python3 -c 'import hmac,hashlib; print(hmac.new(b"", b"doppel",
     *   hashlib.sha256).hexdigest())' */
    k = key_of("");
    mask_mac_init(&m2, &k);
    mask_mac_digest(&m2, "doppel", 6, md);
    mask_mac_release(&m2);
    hex(md, h);
    assert_string_equal(h, "2b824c8ac07f64cd90c6a9d2dccf57f1633376e20c99283c0ed9087e6371098c");

    /* the same with key b"k"*64 (a whole SHA-256 block) */
    memset(k.bytes, 'k', 64);
    k.len = 64;
    mask_mac_init(&m2, &k);
    mask_mac_digest(&m2, "doppel", 6, md);
    mask_mac_release(&m2);
    hex(md, h);
    assert_string_equal(h, "2a461874b068d1e49d22e70f63cd1779bd48c2e9375e76457c3718595ac9a8d3");
}

static void test_mask_mac_u64_matches_python(void **state)
{
    /* /usr/bin/python3 tests/unit/datashadow/mask_ref.py doppel-test-key u64
     *   doppel-mask/shift 42 */
    assert_true(mask_mac_u64(*state, "doppel-mask/shift", "42", 2) ==
                UINT64_C(5229149025557221884));
}

static void test_mask_hash_int_matches_python_model(void **state)
{
    /* /usr/bin/python3 tests/unit/datashadow/mask_ref.py doppel-test-key int BITS VALUE */
    static const struct {
        unsigned bits;
        int64_t in, out;
    } cases[] = {
        {16, 1, 13206},
        {16, 2, 9941},
        {16, 32767, 2856},
        {16, -1, -29236},
        {16, -32768, -6414},
        {32, 1, 114431679},
        {32, 2147483647, 127725115},
        {32, INT32_MIN, -1922189962},
        {64, 1, INT64_C(6779963839913227987)},
        {64, INT64_MAX, INT64_C(5580381792439550618)},
        {64, INT64_MIN, INT64_C(-2211067345647073773)},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_true(mask_hash_int(*state, cases[i].bits, cases[i].in) == cases[i].out);
    assert_int_equal(mask_hash_int(*state, 64, 0), 0);
}

static void test_mask_hash_int_depends_on_key(void **state)
{
    struct mask_key k = key_of("other-key");
    struct mask_mac m2;

    mask_mac_init(&m2, &k);
    /* /usr/bin/python3 tests/unit/datashadow/mask_ref.py other-key int 32 1 */
    assert_int_equal(mask_hash_int(&m2, 32, 1), 326282411);
    assert_int_not_equal(mask_hash_int(&m2, 32, 1), mask_hash_int(*state, 32, 1));
    mask_mac_release(&m2);
}

static void test_mask_hash_int_int2_is_a_sign_keeping_bijection(void **state)
{
    unsigned char *seen = calloc(65536, 1);

    for (int32_t x = INT16_MIN; x <= INT16_MAX; x++) {
        int64_t y = mask_hash_int(*state, 16, x);
        assert_true(y >= INT16_MIN && y <= INT16_MAX);
        assert_true((x > 0 && y > 0) || (x < 0 && y < 0) || (x == 0 && y == 0));
        assert_int_equal(seen[y + 32768], 0);
        seen[y + 32768] = 1;
    }
    free(seen);
}

static void test_mask_hash_int_wide_types_stay_in_range_and_distinct(void **state)
{
    enum { N = 2000 };
    int64_t *out = malloc(2 * N * sizeof(*out));

    for (int i = 0; i < N; i++) {
        out[i] = mask_hash_int(*state, 32, i + 1);
        out[N + i] = mask_hash_int(*state, 64, i + 1);
        assert_true(out[i] > 0 && out[i] <= INT32_MAX);
        assert_true(out[N + i] > 0);
        assert_true(mask_hash_int(*state, 32, i + 1) == out[i]); /* deterministic */
    }
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++) {
            assert_true(out[i] != out[j]);
            assert_true(out[N + i] != out[N + j]);
        }
    free(out);
}

static void test_mask_permute_small_ranges_are_bijections(void **state)
{
    static const uint64_t sizes[] = {1, 2, 3, 10, 26, 676, 1000};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        unsigned char *seen = calloc(sizes[s], 1);
        for (uint64_t x = 0; x < sizes[s]; x++) {
            uint64_t y = mask_permute(*state, "t", 1, sizes[s], x);
            assert_true(y < sizes[s]);
            assert_int_equal(seen[y], 0);
            seen[y] = 1;
        }
        free(seen);
    }
}

static void uuid_bytes(const char *s, unsigned char u[16])
{
    for (int i = 0, k = 0; i < 16; k++) {
        if (s[k] == '-')
            continue;
        unsigned v;
        sscanf(s + k, "%2x", &v);
        u[i++] = (unsigned char)v;
        k++;
    }
}

static void uuid_text(const unsigned char u[16], char *s)
{
    for (int i = 0, k = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            s[k++] = '-';
        snprintf(s + k, 3, "%02x", u[i]);
        k += 2;
    }
}

static void test_mask_hash_uuid_matches_python_model(void **state)
{
    /* /usr/bin/python3 tests/unit/datashadow/mask_ref.py doppel-test-key uuid UUID */
    static const char *const cases[][2] = {
        {"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "8bf7925b-d669-40c6-a466-1c66e90dfc31"},
        {"00000000-0000-0000-0000-000000000000", "600c6600-3198-0202-2274-6147559dee47"},
        {"018f3b1c-7e2a-7cde-8f00-123456789abc", "ad60e1c4-1849-7e58-95ba-0d1dc9015ad3"},
    };
    unsigned char in[16], out[16];
    char text[37];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uuid_bytes(cases[i][0], in);
        mask_hash_uuid(*state, in, out);
        uuid_text(out, text);
        assert_string_equal(text, cases[i][1]);
    }
}

static int cmp16(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

static void test_mask_hash_uuid_keeps_version_and_variant_and_stays_distinct(void **state)
{
    enum { N = 3000 };
    unsigned char(*out)[16] = malloc(N * 16);
    struct rng g;

    rng_seed(&g, 7);
    for (int i = 0; i < N; i++) {
        unsigned char in[16];
        for (int k = 0; k < 16; k++)
            in[k] = (unsigned char)rng_next(&g);
        in[6] = (unsigned char)((in[6] & 0x0F) | 0x40); /* version 4 */
        in[8] = (unsigned char)((in[8] & 0x3F) | 0x80); /* RFC 4122 variant */
        mask_hash_uuid(*state, in, out[i]);
        assert_int_equal(out[i][6] >> 4, 4);
        assert_int_equal(out[i][8] >> 6, 2);
        assert_memory_not_equal(in, out[i], 16);
    }
    qsort(out, N, 16, cmp16);
    for (int i = 1; i < N; i++)
        assert_memory_not_equal(out[i - 1], out[i], 16);
    free(out);
}

/* Appends the hash of s to b (reset first) and returns it. */
static const char *text_hash(void **state, const char *label, enum mask_text_mode mode,
                             const char *s, struct buf *b)
{
    buf_reset(b);
    assert_int_equal(mask_hash_text(*state, label, mode, s, strlen(s), b), 0);
    return b->data;
}

static void test_mask_hash_text_matches_python_model(void **state)
{
    /* /usr/bin/python3 tests/unit/datashadow/mask_ref.py doppel-test-key text text VALUE,
     * ... numeric VALUE and ... email VALUE; the second text passes 63 bits (digit-wise
     * Feistel), the third uses the Latin, Han and Greek classes. */
    static const char *const cases[][3] = {
        {"text", "Alice Smith-Jones 42", "Njebc Mefuo-Dsndv 45"},
        {"text", "This is a much longer sentence with many words, 12345 and more text to exceed.",
         "Ggwi bk v vsmc xrqyrx dfcxtzdt lizi cmzn evsdf, 90887 rdt sprq mdza yu tlgtvi."},
        {"text",
         "Jos\xc3\xa9 M\xc3\xbcller \xe6\x9d\xb1\xe4\xba\xac "
         "\xce\xa9\xce\xbc\xce\xad\xce\xb3\xce\xb1",
         "Csn\xc5\xbd S\xc4\xa3wqbj \xe6\xb2\xae\xe6\xa3\xab "
         "\xce\xa6\xcf\x87\xce\xad\xce\x9b\xce\xa3"},
        {"numeric", "1234.50", "6486.70"},
        {"numeric", "0.05", "0.55"},
    };
    struct buf b;

    buf_init(&b, 1024);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum mask_text_mode mode = cases[i][0][0] == 'n' ? MASK_TEXT_NUMERIC : MASK_TEXT_PLAIN;
        assert_string_equal(text_hash(state, cases[i][0], mode, cases[i][1], &b), cases[i][2]);
    }
    buf_reset(&b);
    assert_int_equal(mask_hash_email(*state, "alice@example.com", 17, &b), 0);
    assert_string_equal(b.data, "ncspl@nwadevc.com");
    buf_reset(&b);
    assert_int_equal(mask_hash_email(*state, "bob@mail.example.co.uk", 22, &b), 0);
    assert_string_equal(b.data, "idk@zxwm.nwadevc.ms.uk");
    buf_release(&b);
}

static char ascii_class(char c)
{
    return c >= 'a' && c <= 'z' ? 'a' : c >= 'A' && c <= 'Z' ? 'A' : c >= '0' && c <= '9' ? '0' : c;
}

static void test_mask_hash_text_keeps_classes_and_literals(void **state)
{
    static const char *const in[] = {
        "Alice Smith-Jones, 42 Main St.",
        "ZIP 90210",
        "a",
        "x_y-Z 0",
        "",
        "The quick brown fox jumps over the lazy dog 1234567890 times, said Ada Lovelace.",
    };
    struct buf b;

    buf_init(&b, 1 << 16);
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        const char *out = text_hash(state, "text", MASK_TEXT_PLAIN, in[i], &b);
        assert_int_equal(strlen(out), strlen(in[i]));
        for (size_t k = 0; in[i][k]; k++)
            assert_int_equal(ascii_class(out[k]), ascii_class(in[i][k]));
        char *again = strdup(out);
        assert_string_equal(text_hash(state, "text", MASK_TEXT_PLAIN, in[i], &b), again);
        free(again);
    }
    assert_string_not_equal(text_hash(state, "text", MASK_TEXT_PLAIN, in[0], &b), in[0]);
    buf_release(&b);
}

static void test_mask_hash_text_keeps_script_and_character_count(void **state)
{
    /* "José Müller, 東京, Ωμέγα, Иван": Latin, Han, Greek and Cyrillic letters */
    const char *in = "Jos\xc3\xa9 M\xc3\xbcller, \xe6\x9d\xb1\xe4\xba\xac, "
                     "\xce\xa9\xce\xbc\xce\xad\xce\xb3\xce\xb1, \xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd";
    struct buf b;

    buf_init(&b, 1 << 16);
    const char *out = text_hash(state, "text", MASK_TEXT_PLAIN, in, &b);
    /* Every class here keeps the UTF-8 length of its characters, so bytes line up. */
    assert_int_equal(strlen(out), strlen(in));
    for (size_t k = 0; in[k]; k++) {
        unsigned char a = (unsigned char)in[k], c = (unsigned char)out[k];
        assert_int_equal(a < 0x80, c < 0x80);
        if (a < 0x80)
            assert_int_equal(ascii_class((char)a), ascii_class((char)c));
        else if ((a & 0xC0) != 0x80) /* lead bytes: same sequence length */
            assert_int_equal(a & 0xF0, c & 0xF0);
    }
    assert_memory_equal(out + 13, ", ", 2); /* literals stay */
    buf_release(&b);
}

static void test_mask_hash_text_is_a_bijection_on_small_shapes(void **state)
{
    char in[4] = {0}, (*seen)[4] = calloc(1000, 4);
    struct buf b;

    buf_init(&b, 64);
    for (int i = 0; i < 676; i++) { /* every two-letter lower-case text */
        in[0] = (char)('a' + i / 26);
        in[1] = (char)('a' + i % 26);
        in[2] = '\0';
        memcpy(seen[i], text_hash(state, "text", MASK_TEXT_PLAIN, in, &b), 3);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(seen[i], seen[j]);
    }
    for (int i = 0; i < 1000; i++) { /* every three-digit text */
        char d3[12];
        snprintf(d3, sizeof(d3), "%03d", i);
        memcpy(seen[i], text_hash(state, "text", MASK_TEXT_PLAIN, d3, &b), 4);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(seen[i], seen[j]);
    }
    free(seen);
    buf_release(&b);
}

static void test_mask_hash_text_long_texts_stay_distinct(void **state)
{
    /* 30 letters: past 63 bits, so the digit-wise Feistel path. Texts differing in one
     * position must not collide (each round is invertible). */
    enum { N = 26 * 30 };
    char base[] = "abcdefghijklmnopqrstuvwxyzabcd", (*out)[31] = malloc(N * 31);
    struct buf b;

    buf_init(&b, 64);
    for (int i = 0; i < N; i++) {
        char in[31];
        memcpy(in, base, sizeof(in));
        in[i / 26] = (char)('a' + (in[i / 26] - 'a' + 1 + i % 26) % 26);
        memcpy(out[i], text_hash(state, "text", MASK_TEXT_PLAIN, in, &b), 31);
        for (int k = 0; k < 30; k++)
            assert_true(out[i][k] >= 'a' && out[i][k] <= 'z');
    }
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            if (i % 26 != 25 || j % 26 != 25) /* the 26th variant is base itself */
                assert_string_not_equal(out[i], out[j]);
    free(out);
    buf_release(&b);
}

static void test_mask_hash_text_numeric_keeps_canonical_form(void **state)
{
    static const char *const in[] = {"1234.50", "0.05", "-98.100", "7", "100", "0", "-0.5"};
    struct buf b;

    buf_init(&b, 64);
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        const char *out = text_hash(state, "numeric", MASK_TEXT_NUMERIC, in[i], &b);
        const char *dot = strchr(out, '.');
        assert_int_equal(strlen(out), strlen(in[i]));
        for (size_t k = 0; in[i][k]; k++)
            assert_int_equal(ascii_class(out[k]), ascii_class(in[i][k]));
        size_t lead = out[0] == '-';
        if (strlen(out) - lead > 1 && out[lead + 1] != '.')
            assert_true(out[lead] != '0'); /* no leading zero appears */
        if (dot) {                         /* trailing zeros stay, the digit before is not 0 */
            const char *src = strchr(in[i], '.');
            size_t n = strlen(src), z = 0;
            while (z < n - 1 && src[n - 1 - z] == '0')
                z++;
            assert_memory_equal(dot + n - z, src + n - z, z);
            if (z < n - 1)
                assert_true(dot[n - 1 - z] != '0');
        }
    }
    assert_string_equal(text_hash(state, "numeric", MASK_TEXT_NUMERIC, "0", &b), "0");
    buf_reset(&b);
    assert_int_equal(mask_hash_text(*state, "numeric", MASK_TEXT_NUMERIC, "1e5", 3, &b), -EINVAL);
    assert_int_equal(mask_hash_text(*state, "numeric", MASK_TEXT_NUMERIC, "1.", 2, &b), -EINVAL);
    buf_release(&b);
}

static void test_mask_hash_text_rejects_invalid_utf8(void **state)
{
    static const char *const bad[] = {"\xff", "a\xc3", "\xc0\xaf", "\xed\xa0\x80",
                                      "\xf4\x90\x80\x80"};
    struct buf b;

    buf_init(&b, 64);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(
            mask_hash_text(*state, "text", MASK_TEXT_PLAIN, bad[i], strlen(bad[i]), &b), -EINVAL);
    buf_release(&b);
}

static void test_mask_is_email_accepts_only_the_shape(void **state)
{
    (void)state;
    static const char *const yes[] = {"a@b.c", "alice.smith+tag@mail.example.co.uk", "X@Y.ZZ"};
    static const char *const no[] = {"alice", "@b.c",   "a@",      "a@b",     "a@b.",
                                     "a@.b",  "a@b..c", "a b@c.d", "a@b@c.d", "a@b.c "};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        assert_true(mask_is_email(yes[i], strlen(yes[i])));
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        assert_false(mask_is_email(no[i], strlen(no[i])));
}

static void test_mask_hash_email_keeps_shape_domain_and_tld(void **state)
{
    struct buf b;
    char first[64];

    buf_init(&b, 256);
    assert_int_equal(mask_hash_email(*state, "alice@example.com", 17, &b), 0);
    snprintf(first, sizeof(first), "%s", b.data);
    assert_true(mask_is_email(first, strlen(first)));
    assert_int_equal(strlen(first), 17);
    assert_string_equal(first + 13, ".com");
    assert_memory_not_equal(first, "alice", 5);
    buf_reset(&b);
    assert_int_equal(mask_hash_email(*state, "bob@example.com", 15, &b), 0);
    assert_string_equal(b.data + 3, first + 5); /* one domain, one masked domain */
    buf_reset(&b);
    assert_int_equal(mask_hash_email(*state, "Bob.Jones+x@mail.example.co.uk", 30, &b), 0);
    assert_true(mask_is_email(b.data, b.len));
    assert_int_equal(ascii_class(b.data[0]), 'A');
    assert_int_equal(b.data[3], '.');
    assert_int_equal(b.data[9], '+');
    assert_string_equal(b.data + 27, ".uk");
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mask_mac_digest_matches_openssl_and_python),
        cmocka_unit_test(test_mask_mac_u64_matches_python),
        cmocka_unit_test(test_mask_hash_int_matches_python_model),
        cmocka_unit_test(test_mask_hash_int_depends_on_key),
        cmocka_unit_test(test_mask_hash_int_int2_is_a_sign_keeping_bijection),
        cmocka_unit_test(test_mask_hash_int_wide_types_stay_in_range_and_distinct),
        cmocka_unit_test(test_mask_permute_small_ranges_are_bijections),
        cmocka_unit_test(test_mask_hash_uuid_matches_python_model),
        cmocka_unit_test(test_mask_hash_uuid_keeps_version_and_variant_and_stays_distinct),
        cmocka_unit_test(test_mask_hash_text_matches_python_model),
        cmocka_unit_test(test_mask_hash_text_keeps_classes_and_literals),
        cmocka_unit_test(test_mask_hash_text_keeps_script_and_character_count),
        cmocka_unit_test(test_mask_hash_text_is_a_bijection_on_small_shapes),
        cmocka_unit_test(test_mask_hash_text_long_texts_stay_distinct),
        cmocka_unit_test(test_mask_hash_text_numeric_keeps_canonical_form),
        cmocka_unit_test(test_mask_hash_text_rejects_invalid_utf8),
        cmocka_unit_test(test_mask_is_email_accepts_only_the_shape),
        cmocka_unit_test(test_mask_hash_email_keeps_shape_domain_and_tld),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
