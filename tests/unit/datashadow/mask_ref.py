#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# An independent model of the keyed permutations of src/datashadow/mask_hash.c, written
# from their description with Python's hmac module, to produce the known answers of
# tests/unit/datashadow/test_mask_hash.c:
#   /usr/bin/python3 tests/unit/datashadow/mask_ref.py KEY int BITS VALUE
#   /usr/bin/python3 tests/unit/datashadow/mask_ref.py KEY uuid UUID
#   /usr/bin/python3 tests/unit/datashadow/mask_ref.py KEY u64 LABEL DATA
#   /usr/bin/python3 tests/unit/datashadow/mask_ref.py KEY text LABEL VALUE
#   /usr/bin/python3 tests/unit/datashadow/mask_ref.py KEY numeric VALUE
#   /usr/bin/python3 tests/unit/datashadow/mask_ref.py KEY email VALUE
import hashlib
import hmac
import sys
import uuid

ROUNDS = 8


def mac(key, msg):
    return hmac.new(key, msg, hashlib.sha256).digest()


def u64(key, label, data):
    return int.from_bytes(mac(key, label + b"\0" + data)[:8], "big")


def tweak(key, t):
    return mac(key, b"doppel-mask/tweak\0" + t)


def feistel(key, tw, u, v, a, b):
    for r in range(ROUNDS):
        if r % 2 == 0:
            msg = bytes([r, u, v]) + b.to_bytes(8, "big") + tw
            a ^= u64(key, b"doppel-mask/feistel", msg) & ((1 << u) - 1)
        else:
            msg = bytes([r, u, v]) + a.to_bytes(8, "big") + tw
            b ^= u64(key, b"doppel-mask/feistel", msg) & ((1 << v) - 1)
    return a, b


def permute(key, t, n, x):
    return permute_tw(key, tweak(key, t), n, x)


def permute_tw(key, tw, n, x):
    if n == 1:
        return 0
    w = max(2, (n - 1).bit_length())
    u, v = (w + 1) // 2, w // 2
    while True:
        a, b = feistel(key, tw, u, v, x >> v, x & ((1 << v) - 1))
        x = (a << v) | b
        if x < n:
            return x


def hash_int(key, bits, x):
    half = 1 << (bits - 1)
    if x == 0:
        return 0
    if x > 0:
        return 1 + permute(key, b"int%d+" % bits, half - 1, x - 1)
    return -1 - permute(key, b"int%d-" % bits, half, -(x + 1))


def hash_uuid(key, text):
    n = uuid.UUID(text).int
    fixed = [i for i in range(128) if 48 <= i < 52 or i in (64, 65)]
    free = [i for i in range(128) if i not in fixed]
    bit = lambda v, i: (v >> (127 - i)) & 1
    t = bytes([(n >> 76) & 0xF, (n >> 62) & 0x3])  # version nibble, top variant bits
    bits = [bit(n, i) for i in free]
    a = int("".join(map(str, bits[:61])), 2)
    b = int("".join(map(str, bits[61:])), 2)
    a, b = feistel(key, tweak(key, t), 61, 61, a, b)
    out = [bit(n, i) for i in range(128)]
    nb = [int(c) for c in format(a, "061b") + format(b, "061b")]
    for k, i in enumerate(free):
        out[i] = nb[k]
    return str(uuid.UUID(int=int("".join(map(str, out)), 2)))


# Character classes, in the order the C code tries them (class 4, non-zero digits, only
# where the numeric mode asks for it).
CLASSES = [
    None,
    [(0x61, 0x7A)],
    [(0x41, 0x5A)],
    [(0x30, 0x39)],
    [(0x31, 0x39)],
    [(0xC0, 0xD6), (0xD8, 0xF6), (0xF8, 0x17F)],
    [(0x391, 0x3A1), (0x3A3, 0x3A9), (0x3B1, 0x3C9)],
    [(0x410, 0x44F)],
    [(0x5D0, 0x5EA)],
    [(0x621, 0x63A), (0x641, 0x64A)],
    [(0x905, 0x939)],
    [(0x3041, 0x3096)],
    [(0x30A1, 0x30FA)],
    [(0x4E00, 0x9FFF)],
    [(0xAC00, 0xD7A3)],
]
CHARS = [None] + [[c for lo, hi in r for c in range(lo, hi + 1)] for r in CLASSES[1:]]


def classed(c, cp):
    return cp in CHARS[c]


def classify_plain(s):
    pos = []
    for ch in s:
        cls = next((c for c in range(1, len(CLASSES)) if c != 4 and classed(c, ord(ch))), 0)
        pos.append([cls, ord(ch)])
    return pos


def classify_numeric(s):
    pos = [[3 if ch.isdigit() else 0, ord(ch)] for ch in s]
    first = 1 if s.startswith("-") else 0
    ipart = s[first:].split(".")[0]
    pos[first][0] = 0 if ipart == "0" else 4
    if "." in s:
        frac_start, end = s.index(".") + 1, len(s)
        while end > frac_start and s[end - 1] == "0":
            pos[end - 1][0] = 0
            end -= 1
        if end > frac_start:
            pos[end - 1][0] = 4
    return pos


def hash_text(key, label, mode, s):
    pos = classify_numeric(s) if mode == 1 else classify_plain(s)
    shape = label.encode() + b"\0" + bytes([mode])
    for cls, cp in pos:
        shape += bytes([cls]) + (cp.to_bytes(4, "big") if cls == 0 else b"")
    d = [p for p in pos if p[0]]
    if not d:
        return s
    tw = tweak(key, shape)
    digit = lambda p: CHARS[p[0]].index(p[1])
    radix = lambda p: len(CHARS[p[0]])
    digits = [digit(p) for p in d]
    n, x, small = 1, 0, True
    for p, g in zip(d, digits):
        if n > (1 << 63) // radix(p):
            small = False
            break
        n, x = n * radix(p), x * radix(p) + g
    if small:
        x = permute_tw(key, tw, n, x)
        for i in reversed(range(len(d))):
            digits[i], x = x % radix(d[i]), x // radix(d[i])
    else:
        h = len(d) // 2
        for r in range(ROUNDS):
            src, dst = (range(h, len(d)), range(h)) if r % 2 == 0 else (range(h), range(h, len(d)))
            sd = mac(key, b"doppel-mask/text-src\0" + bytes([r]) + tw +
                     b"".join(digits[i].to_bytes(4, "big") for i in src))
            for k, i in enumerate(dst):
                if k % 8 == 0:
                    blk = mac(key, b"doppel-mask/text-key\0" + sd + (k // 8).to_bytes(4, "big"))
                v = int.from_bytes(blk[4 * (k % 8):4 * (k % 8) + 4], "big")
                digits[i] = (digits[i] + v % radix(d[i])) % radix(d[i])
    for p, g in zip(d, digits):
        p[1] = CHARS[p[0]][g]
    return "".join(chr(cp) for _, cp in pos)


def hash_email(key, s):
    local, domain = s.split("@")
    labels = domain.split(".")
    out = [hash_text(key, "email-domain", 0, l) for l in labels[:-1]] + [labels[-1]]
    return hash_text(key, "email-local", 0, local) + "@" + ".".join(out)


if __name__ == "__main__":
    key, what = sys.argv[1].encode(), sys.argv[2]
    if what == "int":
        print(hash_int(key, int(sys.argv[3]), int(sys.argv[4])))
    elif what == "uuid":
        print(hash_uuid(key, sys.argv[3]))
    elif what == "u64":
        print(u64(key, sys.argv[3].encode(), sys.argv[4].encode()))
    elif what == "text":
        print(hash_text(key, sys.argv[3], 0, sys.argv[4]))
    elif what == "numeric":
        print(hash_text(key, "numeric", 1, sys.argv[3]))
    elif what == "email":
        print(hash_email(key, sys.argv[3]))
