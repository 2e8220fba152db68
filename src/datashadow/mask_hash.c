/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mask_hash: keyed, format-preserving permutations for the `hash` rule (and the keyed
 * offsets of `shift`). Everything starts from HMAC-SHA256 with the masking secret
 * (OpenSSL's EVP_MAC, keyed once per struct mask_mac; each message re-initialises that
 * context without a key, which restarts HMAC from the keyed pads computed at keying).
 *
 * Integers and UUIDs go through a Feistel network: the value's w bits split into halves
 * a (ceil(w/2) bits) and b (floor(w/2) bits); each of 8 rounds XORs one half with a keyed
 * function of the other, which any round function keeps invertible. Ranges that are not
 * a power of two are reached by cycle walking (apply again until the result is inside),
 * which stays a permutation of the range. Text is split into positions: letters, digits
 * and the letters of a few common scripts are "classed" (a digit in a radix: 26 lower,
 * 26 upper, 10 digits, ...), everything else is literal and kept. The literal characters
 * and the class of each position form the text's shape, which is preserved and tweaks
 * the permutation; the classed digits are permuted as one mixed-radix integer when the
 * domain fits 63 bits, or by a digit-wise Feistel (add a keyed digit modulo its radix)
 * beyond. Both are bijections for each shape, so the whole map is one.
 */
#include "datashadow/mask_hash.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "base/err.h"
#include "base/xalloc.h"

#define FEISTEL_ROUNDS 8

void mask_mac_init(struct mask_mac *m, const struct mask_key *key)
{
    static const unsigned char empty[1];
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };

    BUG_ON(key->len > sizeof(key->bytes));
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    BUG_ON(!mac);
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac); /* the context holds its own reference */
    BUG_ON(!ctx);
    /* OpenSSL refuses a NULL key even of length 0. */
    const unsigned char *k = key->len ? key->bytes : empty;
    BUG_ON(!EVP_MAC_init(ctx, k, key->len, params));
    m->ctx = ctx;
}

void mask_mac_release(struct mask_mac *m)
{
    if (!m)
        return;
    EVP_MAC_CTX_free(m->ctx);
    m->ctx = NULL;
}

struct part {
    const void *p;
    size_t n;
};

/* EVP_MAC_init without a key keeps the key and its precomputed inner and outer pads: no
 * allocation, digest fetch or key schedule per message. The context is the one mutable
 * part of a mask_mac, so a mask_mac serves one thread at a time. */
static void mac_parts(const struct mask_mac *m, const struct part *parts, size_t nparts,
                      unsigned char md[MASK_MD_LEN])
{
    EVP_MAC_CTX *c = m->ctx;
    size_t len = 0;

    BUG_ON(!EVP_MAC_init(c, NULL, 0, NULL));
    for (size_t i = 0; i < nparts; i++)
        if (parts[i].n)
            BUG_ON(!EVP_MAC_update(c, parts[i].p, parts[i].n));
    BUG_ON(!EVP_MAC_final(c, md, &len, MASK_MD_LEN) || len != MASK_MD_LEN);
}

void mask_mac_digest(const struct mask_mac *m, const void *msg, size_t len,
                     unsigned char md[MASK_MD_LEN])
{
    struct part p = {msg, len};
    mac_parts(m, &p, 1, md);
}

static uint64_t be64_get(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void be64_put(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

uint64_t mask_mac_u64(const struct mask_mac *m, const char *label, const void *data, size_t len)
{
    unsigned char md[MASK_MD_LEN];
    struct part parts[] = {{label, strlen(label) + 1}, {data, len}};

    mac_parts(m, parts, 2, md);
    return be64_get(md);
}

static uint64_t low_bits(unsigned w)
{
    return w >= 64 ? UINT64_MAX : ((uint64_t)1 << w) - 1;
}

/* 8 rounds over halves a (u bits) and b (v bits); tw is the 32-byte tweak digest. */
static void feistel(const struct mask_mac *m, const unsigned char *tw, unsigned u, unsigned v,
                    uint64_t *a, uint64_t *b)
{
    unsigned char msg[3 + 8 + MASK_MD_LEN];

    msg[1] = (unsigned char)u;
    msg[2] = (unsigned char)v;
    memcpy(msg + 11, tw, MASK_MD_LEN);
    for (unsigned r = 0; r < FEISTEL_ROUNDS; r++) {
        msg[0] = (unsigned char)r;
        if (r % 2 == 0) {
            be64_put(msg + 3, *b);
            *a ^= mask_mac_u64(m, "doppel-mask/feistel", msg, sizeof(msg)) & low_bits(u);
        } else {
            be64_put(msg + 3, *a);
            *b ^= mask_mac_u64(m, "doppel-mask/feistel", msg, sizeof(msg)) & low_bits(v);
        }
    }
}

static void tweak_digest(const struct mask_mac *m, const void *tweak, size_t len,
                         unsigned char tw[MASK_MD_LEN])
{
    static const char label[] = "doppel-mask/tweak";
    struct part parts[] = {{label, sizeof(label)}, {tweak, len}};
    mac_parts(m, parts, 2, tw);
}

static uint64_t permute_tw(const struct mask_mac *m, const unsigned char *tw, uint64_t n,
                           uint64_t x)
{
    unsigned w = 2;

    BUG_ON(x >= n);
    if (n == 1)
        return 0;
    while (w < 64 && ((n - 1) >> w) != 0)
        w++;
    unsigned u = (w + 1) / 2, v = w / 2;
    do { /* cycle walking: x's cycle in the 2^w permutation returns into [0, n) */
        uint64_t a = x >> v, b = x & low_bits(v);
        feistel(m, tw, u, v, &a, &b);
        x = a << v | b;
    } while (x >= n);
    return x;
}

uint64_t mask_permute(const struct mask_mac *m, const void *tweak, size_t tweak_len, uint64_t n,
                      uint64_t x)
{
    unsigned char tw[MASK_MD_LEN];
    tweak_digest(m, tweak, tweak_len, tw);
    return permute_tw(m, tw, n, x);
}

int64_t mask_hash_int(const struct mask_mac *m, unsigned bits, int64_t x)
{
    char tweak[16];

    BUG_ON(bits != 16 && bits != 32 && bits != 64);
    uint64_t half = (uint64_t)1 << (bits - 1); /* number of negatives; positives: half - 1 */
    if (x == 0)
        return 0;
    int n = snprintf(tweak, sizeof(tweak), "int%u%c", bits, x > 0 ? '+' : '-');
    if (x > 0)
        return (int64_t)(1 + mask_permute(m, tweak, (size_t)n, half - 1, (uint64_t)x - 1));
    /* x < 0: -(x + 1) in [0, half) without overflow at the minimum. */
    uint64_t y = mask_permute(m, tweak, (size_t)n, half, (uint64_t)(-(x + 1)));
    return -(int64_t)y - 1;
}

/* Bits 48..51 (the version nibble) and 64..65 (the top variant bits) are kept. */
static bool uuid_bit_fixed(unsigned i)
{
    return (i >= 48 && i < 52) || i == 64 || i == 65;
}

void mask_hash_uuid(const struct mask_mac *m, const unsigned char in[16], unsigned char out[16])
{
    unsigned char tweak[2] = {(unsigned char)(in[6] >> 4), (unsigned char)(in[8] >> 6)};
    unsigned char tw[MASK_MD_LEN];
    uint64_t half[2] = {0, 0};
    unsigned k = 0;

    for (unsigned i = 0; i < 128; i++) {
        if (uuid_bit_fixed(i))
            continue;
        half[k / 61] = half[k / 61] << 1 | ((in[i / 8] >> (7 - i % 8)) & 1u);
        k++;
    }
    tweak_digest(m, tweak, sizeof(tweak), tw);
    feistel(m, tw, 61, 61, &half[0], &half[1]);
    memcpy(out, in, 16);
    k = 0;
    for (unsigned i = 0; i < 128; i++) {
        if (uuid_bit_fixed(i))
            continue;
        unsigned bit = (unsigned)(half[k / 61] >> (60 - k % 61)) & 1u;
        out[i / 8] = (unsigned char)((out[i / 8] & ~(0x80u >> (i % 8))) | (bit << (7 - i % 8)));
        k++;
    }
}

/* Text: classes of characters that stay within their class. */
struct cp_range {
    uint32_t lo, hi;
};

struct char_class {
    const struct cp_range *r;
    unsigned n;
};

enum {
    CLS_LITERAL = 0,
    CLS_LOWER,
    CLS_UPPER,
    CLS_DIGIT,
    CLS_NZDIGIT, /* 1-9: the leading digit of a number, the last of its fraction */
    CLS_LATIN,   /* Latin-1 and Latin Extended-A letters */
    CLS_GREEK,
    CLS_CYRILLIC,
    CLS_HEBREW,
    CLS_ARABIC,
    CLS_DEVANAGARI,
    CLS_HIRAGANA,
    CLS_KATAKANA,
    CLS_HAN,
    CLS_HANGUL,
    CLS_COUNT,
};

static const struct cp_range r_lower[] = {{'a', 'z'}}, r_upper[] = {{'A', 'Z'}},
                             r_digit[] = {{'0', '9'}}, r_nzdigit[] = {{'1', '9'}},
                             r_latin[] = {{0xC0, 0xD6}, {0xD8, 0xF6}, {0xF8, 0x17F}},
                             r_greek[] = {{0x391, 0x3A1}, {0x3A3, 0x3A9}, {0x3B1, 0x3C9}},
                             r_cyrillic[] = {{0x410, 0x44F}}, r_hebrew[] = {{0x5D0, 0x5EA}},
                             r_arabic[] = {{0x621, 0x63A}, {0x641, 0x64A}},
                             r_devanagari[] = {{0x905, 0x939}}, r_hiragana[] = {{0x3041, 0x3096}},
                             r_katakana[] = {{0x30A1, 0x30FA}}, r_han[] = {{0x4E00, 0x9FFF}},
                             r_hangul[] = {{0xAC00, 0xD7A3}};

#define CLASS(r)                                                                                   \
    {                                                                                              \
        r, sizeof(r) / sizeof(r[0])                                                                \
    }
static const struct char_class classes[CLS_COUNT] = {
    [CLS_LOWER] = CLASS(r_lower),       [CLS_UPPER] = CLASS(r_upper),
    [CLS_DIGIT] = CLASS(r_digit),       [CLS_NZDIGIT] = CLASS(r_nzdigit),
    [CLS_LATIN] = CLASS(r_latin),       [CLS_GREEK] = CLASS(r_greek),
    [CLS_CYRILLIC] = CLASS(r_cyrillic), [CLS_HEBREW] = CLASS(r_hebrew),
    [CLS_ARABIC] = CLASS(r_arabic),     [CLS_DEVANAGARI] = CLASS(r_devanagari),
    [CLS_HIRAGANA] = CLASS(r_hiragana), [CLS_KATAKANA] = CLASS(r_katakana),
    [CLS_HAN] = CLASS(r_han),           [CLS_HANGUL] = CLASS(r_hangul),
};

struct pos {
    uint32_t cp;
    uint32_t digit;
    uint8_t cls;
};

static uint32_t class_radix(unsigned c)
{
    uint32_t n = 0;
    for (unsigned i = 0; i < classes[c].n; i++)
        n += classes[c].r[i].hi - classes[c].r[i].lo + 1;
    return n;
}

/* Sets p->digit from p->cp for class c; false when cp is not in it. */
static bool class_digit(unsigned c, struct pos *p)
{
    uint32_t base = 0;
    for (unsigned i = 0; i < classes[c].n; i++) {
        const struct cp_range *r = &classes[c].r[i];
        if (p->cp >= r->lo && p->cp <= r->hi) {
            p->digit = base + p->cp - r->lo;
            p->cls = (uint8_t)c;
            return true;
        }
        base += r->hi - r->lo + 1;
    }
    return false;
}

static uint32_t class_char(unsigned c, uint32_t digit)
{
    for (unsigned i = 0; i < classes[c].n; i++) {
        const struct cp_range *r = &classes[c].r[i];
        if (digit <= r->hi - r->lo)
            return r->lo + digit;
        digit -= r->hi - r->lo + 1;
    }
    BUG_ON(1);
}

/* Strict UTF-8 (no overlong forms, surrogates or code points past U+10FFFF): the number
 * of bytes of the sequence at s, or 0 when it is not valid. */
size_t mask_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    size_t n = s[0] < 0x80             ? 1
               : (s[0] & 0xE0) == 0xC0 ? 2
               : (s[0] & 0xF0) == 0xE0 ? 3
               : (s[0] & 0xF8) == 0xF0 ? 4
                                       : 0;
    if (n == 0 || n > len)
        return 0;
    uint32_t c = n == 1 ? s[0] : s[0] & (0x7Fu >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = c << 6 | (s[i] & 0x3Fu);
    }
    if (c < min[n] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return n;
}

static int utf8_append(struct buf *out, uint32_t c)
{
    unsigned char b[4];
    size_t n;

    if (c < 0x80) {
        b[0] = (unsigned char)c;
        n = 1;
    } else if (c < 0x800) {
        b[0] = (unsigned char)(0xC0 | c >> 6);
        b[1] = (unsigned char)(0x80 | (c & 0x3F));
        n = 2;
    } else if (c < 0x10000) {
        b[0] = (unsigned char)(0xE0 | c >> 12);
        b[1] = (unsigned char)(0x80 | (c >> 6 & 0x3F));
        b[2] = (unsigned char)(0x80 | (c & 0x3F));
        n = 3;
    } else {
        b[0] = (unsigned char)(0xF0 | c >> 18);
        b[1] = (unsigned char)(0x80 | (c >> 12 & 0x3F));
        b[2] = (unsigned char)(0x80 | (c >> 6 & 0x3F));
        b[3] = (unsigned char)(0x80 | (c & 0x3F));
        n = 4;
    }
    return buf_append(out, b, n);
}

/* Decodes in into pos[] (room for len entries) with plain-text classes; -EINVAL when in
 * is not UTF-8. */
static int classify_plain(const char *in, size_t len, struct pos *pos, size_t *npos)
{
    size_t n = 0;

    for (size_t i = 0; i < len; n++) {
        size_t k = mask_utf8_decode((const unsigned char *)in + i, len - i, &pos[n].cp);
        if (k == 0 || pos[n].cp == 0)
            return -EINVAL;
        i += k;
        pos[n].cls = CLS_LITERAL;
        pos[n].digit = 0;
        for (unsigned c = CLS_LOWER; c < CLS_COUNT; c++)
            if (c != CLS_NZDIGIT && class_digit(c, &pos[n]))
                break;
    }
    *npos = n;
    return 0;
}

/* A number in numeric's text form, -?D+(.D+)?: digits classed, except that a leading
 * digit other than a lone 0 stays non-zero and the fraction's trailing zeros stay, with
 * the last digit before them non-zero, so the value's canonical form keeps its length and
 * distinct values stay distinct. */
static int classify_numeric(const char *in, size_t len, struct pos *pos, size_t *npos)
{
    size_t i = 0, dot = len, end;

    if (i < len && in[i] == '-')
        i++;
    size_t first = i;
    for (; i < len; i++) {
        if (in[i] == '.' && dot == len && i > first)
            dot = i;
        else if (in[i] < '0' || in[i] > '9')
            return -EINVAL;
    }
    if (first == len || dot == len - 1)
        return -EINVAL;
    for (i = 0; i < len; i++) {
        pos[i] = (struct pos){.cp = (unsigned char)in[i], .cls = CLS_LITERAL};
        if (in[i] != '-' && in[i] != '.')
            class_digit(CLS_DIGIT, &pos[i]);
    }
    if (!(in[first] == '0' && (dot == first + 1 || len == first + 1)))
        class_digit(CLS_NZDIGIT, &pos[first]);
    else
        pos[first].cls = CLS_LITERAL;
    for (end = len; dot < len && end > dot + 1 && in[end - 1] == '0'; end--)
        pos[end - 1].cls = CLS_LITERAL;
    if (dot < len && end > dot + 1)
        class_digit(CLS_NZDIGIT, &pos[end - 1]);
    *npos = len;
    return 0;
}

/* The shape (label, mode, each position's class, literal characters) as a tweak digest. */
static void shape_digest(const struct mask_mac *m, const char *label, enum mask_text_mode mode,
                         const struct pos *pos, size_t n, unsigned char tw[MASK_MD_LEN])
{
    unsigned char *shape = xmalloc(strlen(label) + 2 + 5 * n), *p = shape;

    memcpy(p, label, strlen(label) + 1);
    p += strlen(label) + 1;
    *p++ = (unsigned char)mode;
    for (size_t i = 0; i < n; i++) {
        *p++ = pos[i].cls;
        if (pos[i].cls == CLS_LITERAL)
            for (int k = 3; k >= 0; k--)
                *p++ = (unsigned char)(pos[i].cp >> (8 * k));
    }
    tweak_digest(m, shape, (size_t)(p - shape), tw);
    free(shape);
}

/* The classed digits as one mixed-radix integer when their domain fits 63 bits. */
static bool permute_small(const struct mask_mac *m, const unsigned char *tw, struct pos **d,
                          size_t nd)
{
    uint64_t n = 1, x = 0;

    for (size_t i = 0; i < nd; i++) {
        uint64_t r = class_radix(d[i]->cls);
        if (n > (UINT64_C(1) << 63) / r)
            return false;
        n *= r;
        x = x * r + d[i]->digit;
    }
    x = permute_tw(m, tw, n, x);
    for (size_t i = nd; i-- > 0;) {
        uint64_t r = class_radix(d[i]->cls);
        d[i]->digit = (uint32_t)(x % r);
        x /= r;
    }
    return true;
}

/* One round: each digit of dst gains a keyed digit drawn from src, modulo its radix. */
static void text_round(const struct mask_mac *m, const unsigned char *tw, unsigned r,
                       struct pos **src, size_t nsrc, struct pos **dst, size_t ndst,
                       unsigned char *scratch)
{
    static const char lsrc[] = "doppel-mask/text-src", lkey[] = "doppel-mask/text-key";
    unsigned char rb = (unsigned char)r, sd[MASK_MD_LEN], blk[MASK_MD_LEN], ctr[4];

    for (size_t i = 0; i < nsrc; i++)
        for (int k = 0; k < 4; k++)
            scratch[4 * i + (size_t)k] = (unsigned char)(src[i]->digit >> (24 - 8 * k));
    struct part ps[] = {{lsrc, sizeof(lsrc)}, {&rb, 1}, {tw, MASK_MD_LEN}, {scratch, 4 * nsrc}};
    mac_parts(m, ps, 4, sd);
    for (size_t i = 0; i < ndst; i++) {
        if (i % 8 == 0) {
            for (int k = 0; k < 4; k++)
                ctr[k] = (unsigned char)((i / 8) >> (24 - 8 * k));
            struct part pk[] = {{lkey, sizeof(lkey)}, {sd, MASK_MD_LEN}, {ctr, 4}};
            mac_parts(m, pk, 3, blk);
        }
        const unsigned char *q = blk + 4 * (i % 8);
        uint32_t v = (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
        uint32_t radix = class_radix(dst[i]->cls);
        dst[i]->digit = (uint32_t)(((uint64_t)dst[i]->digit + v % radix) % radix);
    }
}

static void permute_large(const struct mask_mac *m, const unsigned char *tw, struct pos **d,
                          size_t nd)
{
    size_t h = nd / 2;
    unsigned char *scratch = xmalloc(4 * nd);

    for (unsigned r = 0; r < FEISTEL_ROUNDS; r++) {
        if (r % 2 == 0)
            text_round(m, tw, r, d + h, nd - h, d, h, scratch);
        else
            text_round(m, tw, r, d, h, d + h, nd - h, scratch);
    }
    free(scratch);
}

int mask_hash_text(const struct mask_mac *m, const char *label, enum mask_text_mode mode,
                   const char *in, size_t len, struct buf *out)
{
    struct pos *pos = xmalloc((len ? len : 1) * sizeof(*pos));
    struct pos **d = xmalloc((len ? len : 1) * sizeof(*d));
    unsigned char tw[MASK_MD_LEN];
    size_t n = 0, nd = 0;
    int rc = mode == MASK_TEXT_NUMERIC ? classify_numeric(in, len, pos, &n)
                                       : classify_plain(in, len, pos, &n);
    if (rc < 0)
        goto out;
    for (size_t i = 0; i < n; i++)
        if (pos[i].cls != CLS_LITERAL)
            d[nd++] = &pos[i];
    if (nd > 0) {
        shape_digest(m, label, mode, pos, n, tw);
        if (!permute_small(m, tw, d, nd))
            permute_large(m, tw, d, nd);
    }
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = utf8_append(out, pos[i].cls == CLS_LITERAL ? pos[i].cp
                                                        : class_char(pos[i].cls, pos[i].digit));
out:
    free(pos);
    free(d);
    return rc;
}

static bool email_char_ok(unsigned char c)
{
    return c > ' ' && c != 0x7F && c != '@';
}

bool mask_is_email(const char *s, size_t len)
{
    const char *at = memchr(s, '@', len);
    size_t labels = 1, label_len = 0;

    if (!at || at == s || at + 1 == s + len)
        return false;
    for (const char *p = s; p < s + len; p++)
        if (p != at && !email_char_ok((unsigned char)*p))
            return false;
    for (const char *p = at + 1; p < s + len; p++) {
        if (*p != '.') {
            label_len++;
            continue;
        }
        if (label_len == 0)
            return false;
        labels++;
        label_len = 0;
    }
    return labels >= 2 && label_len > 0;
}

int mask_hash_email(const struct mask_mac *m, const char *s, size_t len, struct buf *out)
{
    const char *at = memchr(s, '@', len), *end = s + len;
    const char *tld = end;

    BUG_ON(!mask_is_email(s, len));
    while (tld[-1] != '.')
        tld--;
    int rc = mask_hash_text(m, "email-local", MASK_TEXT_PLAIN, s, (size_t)(at - s), out);
    if (rc == 0)
        rc = buf_append(out, "@", 1);
    for (const char *p = at + 1; p < tld && rc == 0;) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        rc = mask_hash_text(m, "email-domain", MASK_TEXT_PLAIN, p, (size_t)(dot - p), out);
        if (rc == 0)
            rc = buf_append(out, ".", 1);
        p = dot + 1;
    }
    return rc ? rc : buf_append(out, tld, (size_t)(end - tld));
}
