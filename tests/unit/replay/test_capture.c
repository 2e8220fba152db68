/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for replay/capture: the CRC32C is the Castagnoli sum (standard check values), a
 * record survives encode and decode field for field (its exchange id and whether it is an
 * answer only included, in both format versions), and bytes that are not a record
 * decode to -EBADMSG whatever they are (every truncation and every flipped byte of a
 * payload), never to a crash or an out-of-bounds read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "replay/capture.h"
#include "testlib.h"

static void test_capture_crc32c_matches_check_values(void **state)
{
    (void)state;
    /* python3 -c "import crcmod.predefined as p; f=p.mkCrcFun('crc-32c');
     *   print(hex(f(b'123456789')), hex(f(bytes(32))))"  -> 0xe3069283 0x8a9136aa
     * (the second is also RFC 3720 B.4's "32 bytes of zeroes"). */
    assert_int_equal(capture_crc32c(0, "123456789", 9), 0xe3069283u);
    unsigned char zeros[32] = {0};
    assert_int_equal(capture_crc32c(0, zeros, 32), 0x8a9136aau);
    assert_int_equal(capture_crc32c(0, "", 0), 0);
    assert_int_equal(capture_crc32c_portable(0, "123456789", 9), 0xe3069283u);
    /* The instruction and the table agree on every length and alignment. */
    unsigned char buf[300];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (unsigned char)(i * 131 + 7);
    for (size_t off = 0; off < 8; off++)
        for (size_t n = 0; n + off <= sizeof(buf); n += 13)
            assert_int_equal(capture_crc32c(0, buf + off, n),
                             capture_crc32c_portable(0, buf + off, n));
    /* Incremental use gives the same sum as one call. */
    assert_int_equal(capture_crc32c(capture_crc32c(0, "1234", 4), "56789", 5), 0xe3069283u);
}

static const struct http_header req_h[] = {
    {"Host", 4, "api.example", 11},
    {"Accept", 6, "application/json", 16},
};
static const struct http_header resp_h[] = {{"Content-Type", 12, "text/plain", 10}};

static struct capture_record sample(void)
{
    struct capture_record r = {
        .ts_ns = 1763850000123456789ULL,
        .id = 42,
        .method = "POST",
        .method_len = 4,
        .target = "/users/123?x=1",
        .target_len = 14,
        .headers = req_h,
        .nheaders = 2,
        .body = "{\"a\":1}",
        .body_len = 7,
        .body_truncated = true,
    };
    r.primary = (struct capture_resp){.present = true,
                                      .status = 201,
                                      .latency_ns = 1500000,
                                      .pool = "primary",
                                      .pool_len = 7,
                                      .headers = resp_h,
                                      .nheaders = 1,
                                      .body = "ok",
                                      .body_len = 2};
    r.shadow = (struct capture_resp){
        .present = true, .status = 0, .error = 3, .latency_ns = 9, .pool = "s1", .pool_len = 2};
    return r;
}

static void assert_bytes(const void *a, size_t alen, const void *b, size_t blen)
{
    assert_int_equal(alen, blen);
    if (alen)
        assert_memory_equal(a, b, alen);
}

static void test_capture_decode_round_trips_every_field(void **state)
{
    (void)state;
    struct capture_record in = sample(), out;
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(capture_encode(&in, &b), 0);
    uint32_t len, crc;
    assert_true(capture_frame_check((const unsigned char *)b.data, &len, &crc));
    assert_int_equal(len, b.len - CAPTURE_FRAME_HEADER_LEN);
    const char *payload = b.data + CAPTURE_FRAME_HEADER_LEN;
    assert_int_equal(crc, capture_crc32c(0, payload, len));
    struct capture_scratch sc = {0};
    assert_int_equal(capture_decode(payload, len, &out, &sc, NULL), 0);
    assert_true(out.ts_ns == in.ts_ns && out.id == 42 && out.body_truncated);
    assert_bytes(out.method, out.method_len, "POST", 4);
    assert_bytes(out.target, out.target_len, in.target, in.target_len);
    assert_int_equal(out.nheaders, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_bytes(out.headers[i].name, out.headers[i].name_len, req_h[i].name,
                     req_h[i].name_len);
        assert_bytes(out.headers[i].value, out.headers[i].value_len, req_h[i].value,
                     req_h[i].value_len);
    }
    assert_bytes(out.body, out.body_len, in.body, in.body_len);
    assert_true(out.primary.present && out.primary.status == 201 && !out.primary.body_truncated);
    assert_true(out.primary.latency_ns == 1500000 && out.primary.nheaders == 1);
    assert_bytes(out.primary.headers[0].value, out.primary.headers[0].value_len, "text/plain", 10);
    assert_bytes(out.primary.body, out.primary.body_len, "ok", 2);
    assert_true(out.shadow.present && out.shadow.status == 0 && out.shadow.error == 3);
    assert_bytes(out.shadow.pool, out.shadow.pool_len, "s1", 2);
    assert_int_equal(out.shadow.nheaders, 0);
    capture_scratch_release(&sc);
    buf_release(&b);
}

static void test_capture_decode_rejects_every_truncation_and_trailing_bytes(void **state)
{
    (void)state;
    struct capture_record in = sample(), out;
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(capture_encode_payload(&in, &b), 0);
    struct capture_scratch sc = {0};
    for (size_t cut = 0; cut < b.len; cut++) {
        char *copy = malloc(cut ? cut : 1); /* exact size: ASan sees any overread */
        memcpy(copy, b.data, cut);
        assert_int_equal(capture_decode(copy, cut, &out, &sc, NULL), -EBADMSG);
        free(copy);
    }
    buf_append(&b, "x", 1);
    struct err e = {0};
    assert_int_equal(capture_decode(b.data, b.len, &out, &sc, &e), -EBADMSG);
    assert_non_null(strstr(e.msg, "record end"));
    capture_scratch_release(&sc);
    buf_release(&b);
}

static void test_capture_decode_survives_every_flipped_byte(void **state)
{
    (void)state;
    struct capture_record in = sample(), out;
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(capture_encode_payload(&in, &b), 0);
    struct capture_scratch sc = {0};
    for (size_t i = 0; i < b.len; i++) {
        for (int v = 0; v < 3; v++) {
            unsigned char *copy = malloc(b.len);
            memcpy(copy, b.data, b.len);
            copy[i] = v == 0 ? (unsigned char)~copy[i] : v == 1 ? 0xff : 0x00;
            int rc = capture_decode(copy, b.len, &out, &sc, NULL);
            assert_true(rc == 0 || rc == -EBADMSG);
            if (rc == 0) /* whatever decoded lies inside the payload */
                assert_true((const unsigned char *)out.target >= copy &&
                            (const unsigned char *)out.target + out.target_len <= copy + b.len);
            free(copy);
        }
    }
    capture_scratch_release(&sc);
    buf_release(&b);
}

static void test_capture_decode_allows_no_request_only_in_answer_only_records(void **state)
{
    (void)state;
    struct capture_record in = {.id = 5, .answer_only = true, .shadow = {.present = true}}, out;
    in.shadow.status = 200;
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(capture_encode_payload(&in, &b), 0);
    struct capture_scratch sc = {0};
    assert_int_equal(capture_decode(b.data, b.len, &out, &sc, NULL), 0);
    assert_true(out.shadow.present && out.method_len == 0 && out.id == 5 && out.answer_only);
    /* Version 1 had no answer-only flag: the same bytes are not a version-1 record. */
    assert_int_equal(capture_decode_version(b.data, b.len, 1, &out, &sc, NULL), -EBADMSG);
    buf_reset(&b);
    in.answer_only = false; /* a shadow-only record that is not an answer needs its request */
    assert_int_equal(capture_encode_payload(&in, &b), 0);
    assert_int_equal(capture_decode(b.data, b.len, &out, &sc, NULL), -EBADMSG);
    /* ... but in version 1 that was how serve wrote its shadow records: an answer. */
    assert_int_equal(capture_decode_version(b.data, b.len, 1, &out, &sc, NULL), 0);
    assert_true(out.answer_only && out.id == 5);
    buf_reset(&b);
    in.primary = in.shadow; /* a primary record must carry its request */
    assert_int_equal(capture_encode_payload(&in, &b), 0);
    assert_int_equal(capture_decode(b.data, b.len, &out, &sc, NULL), -EBADMSG);
    in.answer_only = true; /* and is never an answer only */
    assert_int_equal(capture_encode_payload(&in, &b), -EINVAL);
    capture_scratch_release(&sc);
    buf_release(&b);
}

/* A replay recording: the request and the target's answer in the shadow slot, the source's
 * exchange id (a gateway id has the worker in its top byte), not an answer-only record. */
static void test_capture_decode_round_trips_a_recording_with_its_id(void **state)
{
    (void)state;
    struct capture_record in = sample(), out;
    in.id = 0x0300000000000a2bULL;
    in.primary.present = false;
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(capture_encode_payload(&in, &b), 0);
    struct capture_scratch sc = {0};
    for (unsigned v = 1; v <= 2; v++) {
        assert_int_equal(capture_decode_version(b.data, b.len, v, &out, &sc, NULL), 0);
        assert_true(out.id == 0x0300000000000a2bULL && !out.answer_only);
        assert_true(out.shadow.present && !out.primary.present);
        assert_bytes(out.method, out.method_len, "POST", 4);
    }
    /* The id is bytes 9..16 of the payload, little-endian (after flags and timestamp). */
    const unsigned char want[8] = {0x2b, 0x0a, 0, 0, 0, 0, 0, 0x03};
    assert_memory_equal((const unsigned char *)b.data + 9, want, 8);
    capture_scratch_release(&sc);
    buf_release(&b);
}

static void test_capture_encode_payload_refuses_oversized_fields(void **state)
{
    (void)state;
    struct capture_record in = sample();
    char big[70000];
    memset(big, 'a', sizeof(big));
    in.method = big;
    in.method_len = sizeof(big); /* a method length is 16 bits */
    struct buf b;
    buf_init(&b, 1 << 20);
    buf_append(&b, "keep", 4);
    assert_int_equal(capture_encode_payload(&in, &b), -ENOSPC);
    assert_int_equal(b.len, 4); /* unchanged */
    /* every width: a header name (16 bits), a pool name (16 bits), the header count, and a
     * record whose fields each fit but whose whole does not */
    struct http_header h = {big, sizeof(big), "v", 1};
    in = sample();
    in.headers = &h;
    in.nheaders = 1;
    assert_int_equal(capture_encode_payload(&in, &b), -ENOSPC);
    in = sample();
    in.primary.pool = big;
    in.primary.pool_len = sizeof(big);
    assert_int_equal(capture_encode_payload(&in, &b), -ENOSPC);
    in = sample();
    in.nheaders = CAPTURE_HEADERS_MAX + 1;
    assert_int_equal(capture_encode_payload(&in, &b), -ENOSPC);
    char *huge = malloc(CAPTURE_RECORD_MAX);
    assert_non_null(huge);
    in = sample();
    in.body = huge;
    in.body_len = CAPTURE_RECORD_MAX; /* fits its 32-bit length, not the record */
    struct buf wide;
    buf_init(&wide, 2 * (size_t)CAPTURE_RECORD_MAX);
    assert_int_equal(capture_encode_payload(&in, &wide), -ENOSPC);
    assert_int_equal(wide.len, 0);
    in.body_len = CAPTURE_RECORD_MAX - 1000; /* the largest that fits, to the byte */
    memset(huge, 'b', in.body_len);
    assert_int_equal(capture_encode_payload(&in, &wide), 0);
    size_t fixed = wide.len - in.body_len;
    buf_reset(&wide);
    in.body_len = CAPTURE_RECORD_MAX - fixed;
    assert_int_equal(capture_encode_payload(&in, &wide), 0);
    assert_int_equal(wide.len, CAPTURE_RECORD_MAX);
    buf_reset(&wide);
    in.body_len++;
    assert_int_equal(capture_encode_payload(&in, &wide), -ENOSPC);
    assert_int_equal(wide.len, 0);
    buf_release(&wide);
    free(huge);
    assert_int_equal(b.len, 4); /* unchanged */
    in = sample();
    struct buf small;
    buf_init(&small, 20);
    assert_int_equal(capture_encode(&in, &small), -ENOSPC);
    assert_int_equal(small.len, 0);
    buf_release(&small);
    buf_release(&b);
}

static void test_capture_frame_check_rejects_bad_headers(void **state)
{
    (void)state;
    unsigned char h[CAPTURE_FRAME_HEADER_LEN];
    uint32_t len, crc;
    capture_frame_header(h, "abc", 3);
    assert_true(capture_frame_check(h, &len, &crc));
    assert_int_equal(len, 3);
    for (size_t i = 0; i < sizeof(h); i++) {
        unsigned char c[CAPTURE_FRAME_HEADER_LEN];
        memcpy(c, h, sizeof(c));
        c[i] ^= 0x10;
        assert_false(capture_frame_check(c, &len, &crc));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capture_crc32c_matches_check_values),
        cmocka_unit_test(test_capture_decode_round_trips_every_field),
        cmocka_unit_test(test_capture_decode_rejects_every_truncation_and_trailing_bytes),
        cmocka_unit_test(test_capture_decode_survives_every_flipped_byte),
        cmocka_unit_test(test_capture_decode_allows_no_request_only_in_answer_only_records),
        cmocka_unit_test(test_capture_decode_round_trips_a_recording_with_its_id),
        cmocka_unit_test(test_capture_encode_payload_refuses_oversized_fields),
        cmocka_unit_test(test_capture_frame_check_rejects_bad_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
