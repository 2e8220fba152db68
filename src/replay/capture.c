/* SPDX-License-Identifier: Apache-2.0 */
/*
 * capture: record layout and checksums of capture files (see capture.h and
 * docs/capture-format.md). Integers are little-endian; a string or body is its length
 * followed by its bytes. Decoding checks every length against what is left, so any bytes
 * (a frame whose checksum happens to match included) decode to a record or to -EBADMSG.
 */
#include "replay/capture.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

enum {
    REC_F_BODY_TRUNCATED = 1 << 0,
    REC_F_PRIMARY = 1 << 1,
    REC_F_SHADOW = 1 << 2,
    REC_F_ANSWER_ONLY = 1 << 3, /* version 2 on */
    REC_F_KNOWN_V1 = (1 << 3) - 1,
    REC_F_KNOWN = (1 << 4) - 1,
};

/* clang-format off */
static const uint32_t crc32c_table[256] = {
    0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c,
    0x26a1e7e8, 0xd4ca64eb, 0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b,
    0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24, 0x105ec76f, 0xe235446c,
    0xf165b798, 0x030e349b, 0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
    0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54, 0x5d1d08bf, 0xaf768bbc,
    0xbc267848, 0x4e4dfb4b, 0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a,
    0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35, 0xaa64d611, 0x580f5512,
    0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
    0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad,
    0x1642ae59, 0xe4292d5a, 0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a,
    0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595, 0x417b1dbc, 0xb3109ebf,
    0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
    0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c, 0xfe53516f,
    0xed03a29b, 0x1f682198, 0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927,
    0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38, 0xdbfc821c, 0x2997011f,
    0x3ac7f2eb, 0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
    0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e,
    0x4767748a, 0xb50cf789, 0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859,
    0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46, 0x7198540d, 0x83f3d70e,
    0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
    0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de,
    0xdde0eb2a, 0x2f8b6829, 0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c,
    0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93, 0x082f63b7, 0xfa44e0b4,
    0xe9141340, 0x1b7f9043, 0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
    0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3, 0x55326b08, 0xa759e80b,
    0xb4091bff, 0x466298fc, 0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c,
    0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033, 0xa24bb5a6, 0x502036a5,
    0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
    0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975,
    0x0e330a81, 0xfc588982, 0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d,
    0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622, 0x38cc2a06, 0xcaa7a905,
    0xd9f75af1, 0x2b9cd9f2, 0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
    0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530, 0x0417b1db, 0xf67c32d8,
    0xe52cc12c, 0x1747422f, 0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff,
    0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0, 0xd3d3e1ab, 0x21b862a8,
    0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
    0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78,
    0x7fab5e8c, 0x8dc0dd8f, 0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee,
    0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1, 0x69e9f0d5, 0x9b8273d6,
    0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
    0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a, 0xc69f7b69,
    0xd5cf889d, 0x27a40b9e, 0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e,
    0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
};
/* clang-format on */

static uint32_t crc32c_table_sum(uint32_t crc, const unsigned char *p, size_t n)
{
    while (n--)
        crc = crc32c_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <nmmintrin.h>
/* SSE4.2's crc32 instruction computes exactly this polynomial, 8 bytes at a time. */
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw_sum(uint32_t crc,
                                                                const unsigned char *p, size_t n)
{
    uint64_t c = crc;
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
    }
    crc = (uint32_t)c;
    for (; n; n--)
        crc = _mm_crc32_u8(crc, *p++);
    return crc;
}

static bool crc32c_hw(void)
{
    return __builtin_cpu_supports("sse4.2");
}
#else
static uint32_t crc32c_hw_sum(uint32_t crc, const unsigned char *p, size_t n)
{
    return crc32c_table_sum(crc, p, n);
}

static bool crc32c_hw(void)
{
    return false;
}
#endif

uint32_t capture_crc32c(uint32_t crc, const void *data, size_t n)
{
    crc = ~crc;
    crc = crc32c_hw() ? crc32c_hw_sum(crc, data, n) : crc32c_table_sum(crc, data, n);
    return ~crc;
}

/* The table version whatever the CPU, so tests can compare the two. */
uint32_t capture_crc32c_portable(uint32_t crc, const void *data, size_t n)
{
    return ~crc32c_table_sum(~crc, data, n);
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

void capture_file_header(unsigned char out[CAPTURE_FILE_HEADER_LEN], uint64_t created_ns)
{
    memcpy(out, CAPTURE_MAGIC, 4);
    put_le(out + 4, CAPTURE_VERSION, 2);
    put_le(out + 6, CAPTURE_FILE_HEADER_LEN, 2);
    put_le(out + 8, created_ns, 8);
}

void capture_frame_header(unsigned char out[CAPTURE_FRAME_HEADER_LEN], const void *payload,
                          size_t len)
{
    put_le(out, CAPTURE_FRAME_SYNC, 4);
    put_le(out + 4, len, 4);
    put_le(out + 8, capture_crc32c(0, payload, len), 4);
    put_le(out + 12, capture_crc32c(0, out, 12), 4);
}

bool capture_frame_check(const unsigned char *p, uint32_t *len, uint32_t *crc)
{
    if (get_le(p, 4) != CAPTURE_FRAME_SYNC || get_le(p + 12, 4) != capture_crc32c(0, p, 12))
        return false;
    *len = (uint32_t)get_le(p + 4, 4);
    *crc = (uint32_t)get_le(p + 8, 4);
    return *len <= CAPTURE_RECORD_MAX;
}

/* Encoding measures the record first (checking every length against its field's width), then
 * writes it in one piece: the buffer grows once and each field is a store or a memcpy. */
static bool bytes_fit(size_t len, int n, size_t *size)
{
    if ((n == 2 && len > 0xffff) || len > CAPTURE_RECORD_MAX)
        return false;
    *size += (size_t)n + len;
    return true;
}

static bool headers_fit(const struct http_header *h, size_t n, size_t *size)
{
    if (n > CAPTURE_HEADERS_MAX)
        return false;
    *size += 2;
    for (size_t i = 0; i < n; i++)
        if (!bytes_fit(h[i].name_len, 2, size) || !bytes_fit(h[i].value_len, 4, size))
            return false;
    return true;
}

static bool resp_fits(const struct capture_resp *r, size_t *size)
{
    *size += 1 + 2 + 1 + 8;
    return bytes_fit(r->pool_len, 2, size) && headers_fit(r->headers, r->nheaders, size) &&
           bytes_fit(r->body_len, 4, size);
}

/* The payload's size, or 0 when a field is too long for its width or the whole for a record. */
static size_t payload_size(const struct capture_record *r)
{
    size_t size = 1 + 8 + 8;
    if (!bytes_fit(r->method_len, 2, &size) || !bytes_fit(r->target_len, 4, &size) ||
        !headers_fit(r->headers, r->nheaders, &size) || !bytes_fit(r->body_len, 4, &size) ||
        (r->primary.present && !resp_fits(&r->primary, &size)) ||
        (r->shadow.present && !resp_fits(&r->shadow, &size)))
        return 0;
    return size > CAPTURE_RECORD_MAX ? 0 : size;
}

static unsigned char *put_int(unsigned char *p, uint64_t v, int n)
{
    put_le(p, v, n);
    return p + n;
}

/* A length of n bytes (n = 2 or 4) then the bytes. */
static unsigned char *put_bytes(unsigned char *p, const void *data, size_t len, int n)
{
    p = put_int(p, len, n);
    if (len)
        memcpy(p, data, len);
    return p + len;
}

static unsigned char *put_headers(unsigned char *p, const struct http_header *h, size_t n)
{
    p = put_int(p, n, 2);
    for (size_t i = 0; i < n; i++) {
        p = put_bytes(p, h[i].name, h[i].name_len, 2);
        p = put_bytes(p, h[i].value, h[i].value_len, 4);
    }
    return p;
}

static unsigned char *put_resp(unsigned char *p, const struct capture_resp *r)
{
    p = put_int(p, r->body_truncated ? REC_F_BODY_TRUNCATED : 0, 1);
    p = put_int(p, (uint64_t)r->status & 0xffff, 2);
    p = put_int(p, r->error & 0xff, 1);
    p = put_int(p, r->latency_ns, 8);
    p = put_bytes(p, r->pool, r->pool_len, 2);
    p = put_headers(p, r->headers, r->nheaders);
    return put_bytes(p, r->body, r->body_len, 4);
}

int capture_encode_payload(const struct capture_record *r, struct buf *out)
{
    if (r->answer_only && r->primary.present)
        return -EINVAL; /* the primary response always travels with its request */
    size_t size = payload_size(r);
    unsigned char *p = size ? buf_extend(out, size) : NULL;
    if (!p)
        return -ENOSPC;
    unsigned flags =
        (r->body_truncated ? REC_F_BODY_TRUNCATED : 0) | (r->primary.present ? REC_F_PRIMARY : 0) |
        (r->shadow.present ? REC_F_SHADOW : 0) | (r->answer_only ? REC_F_ANSWER_ONLY : 0);
    p = put_int(p, flags, 1);
    p = put_int(p, r->ts_ns, 8);
    p = put_int(p, r->id, 8);
    p = put_bytes(p, r->method, r->method_len, 2);
    p = put_bytes(p, r->target, r->target_len, 4);
    p = put_headers(p, r->headers, r->nheaders);
    p = put_bytes(p, r->body, r->body_len, 4);
    if (r->primary.present)
        p = put_resp(p, &r->primary);
    if (r->shadow.present)
        put_resp(p, &r->shadow);
    return 0;
}

int capture_encode(const struct capture_record *r, struct buf *out)
{
    size_t start = out->len;
    unsigned char hdr[CAPTURE_FRAME_HEADER_LEN] = {0};
    int rc = buf_append(out, hdr, sizeof(hdr));
    rc = rc ? rc : capture_encode_payload(r, out);
    if (rc) {
        out->len = start;
        return rc;
    }
    size_t plen = out->len - start - CAPTURE_FRAME_HEADER_LEN;
    capture_frame_header((unsigned char *)out->data + start,
                         out->data + start + CAPTURE_FRAME_HEADER_LEN, plen);
    return 0;
}

/* Decoding: a cursor over the payload; any read past its end fails the whole decode. */
struct cursor {
    const unsigned char *p;
    size_t left;
    const char *what; /* the field being read, for the message */
    unsigned version; /* of the file the payload comes from */
};

static bool get_int(struct cursor *c, int n, uint64_t *v)
{
    if (c->left < (size_t)n)
        return false;
    *v = get_le(c->p, n);
    c->p += n;
    c->left -= (size_t)n;
    return true;
}

static bool get_bytes(struct cursor *c, int n, const char **p, size_t *len)
{
    uint64_t l;
    if (!get_int(c, n, &l) || l > c->left)
        return false;
    *p = (const char *)c->p;
    *len = (size_t)l;
    c->p += l;
    c->left -= l;
    return true;
}

static struct http_header *scratch_take(struct capture_scratch *s, size_t *used, size_t n)
{
    if (!s->h || *used + n > s->cap) {
        size_t cap = s->cap ? s->cap : 32;
        while (cap < *used + n)
            cap *= 2;
        s->h = xreallocarray(s->h, cap, sizeof(*s->h));
        s->cap = cap;
    }
    struct http_header *h = s->h + *used;
    *used += n;
    return h;
}

void capture_scratch_release(struct capture_scratch *s)
{
    free(s->h);
    s->h = NULL;
    s->cap = 0;
}

/* Reads a header list into scratch from index *used; *first gets where it starts (the
 * pointers are set once the whole record is read, as scratch may move while growing). */
static bool get_headers(struct cursor *c, struct capture_scratch *s, size_t *used, size_t *first,
                        size_t *n)
{
    uint64_t cnt;
    c->what = "header count";
    if (!get_int(c, 2, &cnt) || cnt > CAPTURE_HEADERS_MAX)
        return false;
    *first = *used;
    *n = (size_t)cnt;
    struct http_header *h = scratch_take(s, used, *n);
    c->what = "header field";
    for (size_t i = 0; i < *n; i++)
        if (!get_bytes(c, 2, &h[i].name, &h[i].name_len) ||
            !get_bytes(c, 4, &h[i].value, &h[i].value_len))
            return false;
    return true;
}

static bool get_resp(struct cursor *c, struct capture_resp *r, struct capture_scratch *s,
                     size_t *used, size_t *first)
{
    uint64_t flags, status, error;
    const char *body;
    c->what = "response";
    if (!get_int(c, 1, &flags) || !get_int(c, 2, &status) || !get_int(c, 1, &error) ||
        !get_int(c, 8, &r->latency_ns) || (flags & ~(uint64_t)REC_F_BODY_TRUNCATED))
        return false;
    r->present = true;
    r->status = (int)status;
    r->error = (unsigned)error;
    r->body_truncated = flags & REC_F_BODY_TRUNCATED;
    c->what = "response pool";
    if (!get_bytes(c, 2, &r->pool, &r->pool_len) || !get_headers(c, s, used, first, &r->nheaders))
        return false;
    c->what = "response body";
    if (!get_bytes(c, 4, &body, &r->body_len))
        return false;
    r->body = body;
    return true;
}

/* Reads the flags and says what the record is. Version 1 has no answer-only flag: there a
 * shadow-only record that leaves the request out is the answer-only kind (serve's shadow
 * records), and one that carries its request (replay --record) is not. */
static bool get_flags(struct cursor *c, struct capture_record *r, uint64_t *flags)
{
    c->what = "record flags";
    uint64_t known = c->version >= 2 ? REC_F_KNOWN : REC_F_KNOWN_V1;
    if (!get_int(c, 1, flags) || (*flags & ~known))
        return false;
    r->answer_only = *flags & REC_F_ANSWER_ONLY;
    return !(r->answer_only && (*flags & REC_F_PRIMARY));
}

static bool get_request(struct cursor *c, struct capture_record *r, uint64_t *flags,
                        struct capture_scratch *s, size_t *used, size_t *first)
{
    const char *body;
    if (!get_flags(c, r, flags))
        return false;
    c->what = "timestamp";
    if (!get_int(c, 8, &r->ts_ns) || !get_int(c, 8, &r->id))
        return false;
    /* Only an answer may leave the request out: it is in the record with the same id. */
    bool shadow_only = (*flags & REC_F_SHADOW) && !(*flags & REC_F_PRIMARY);
    bool may_omit = c->version >= 2 ? r->answer_only : shadow_only;
    c->what = "method";
    if (!get_bytes(c, 2, &r->method, &r->method_len) || (r->method_len == 0 && !may_omit))
        return false;
    if (c->version < 2)
        r->answer_only = shadow_only && r->method_len == 0;
    c->what = "target";
    if (!get_bytes(c, 4, &r->target, &r->target_len) ||
        !get_headers(c, s, used, first, &r->nheaders))
        return false;
    c->what = "request body";
    if (!get_bytes(c, 4, &body, &r->body_len))
        return false;
    r->body = body;
    r->body_truncated = *flags & REC_F_BODY_TRUNCATED;
    return true;
}

int capture_decode(const void *payload, size_t len, struct capture_record *r,
                   struct capture_scratch *scratch, struct err *err)
{
    return capture_decode_version(payload, len, CAPTURE_VERSION, r, scratch, err);
}

int capture_decode_version(const void *payload, size_t len, unsigned version,
                           struct capture_record *r, struct capture_scratch *scratch,
                           struct err *err)
{
    struct cursor c = {.p = payload, .left = len, .what = "record", .version = version};
    size_t used = 0, fr = 0, fp = 0, fs = 0;
    uint64_t flags = 0;
    memset(r, 0, sizeof(*r));
    bool ok = get_request(&c, r, &flags, scratch, &used, &fr);
    if (ok && (flags & REC_F_PRIMARY))
        ok = get_resp(&c, &r->primary, scratch, &used, &fp);
    if (ok && (flags & REC_F_SHADOW))
        ok = get_resp(&c, &r->shadow, scratch, &used, &fs);
    if (ok && c.left != 0) {
        c.what = "record end";
        ok = false;
    }
    if (!ok) {
        memset(r, 0, sizeof(*r));
        return err_set(err, -EBADMSG, "bad %s at payload byte %zu", c.what, len - c.left);
    }
    r->headers = scratch->h + fr;
    r->primary.headers = r->primary.present ? scratch->h + fp : NULL;
    r->shadow.headers = r->shadow.present ? scratch->h + fs : NULL;
    if (!r->nheaders)
        r->headers = NULL;
    return 0;
}
