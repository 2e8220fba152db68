#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# An independent model of the keyed permutations of src/datashadow/mask_hash.c, written
# from their description with Python's hmac module, to produce the known answers of
# tests/unit/datashadow/test_mask_hash.c:
#   /usr/bin/python3 tests/unit/datashadow/mask_ref.py KEY int BITS VALUE
#   /usr/bin/python3 tests/unit/datashadow/mask_ref.py KEY uuid UUID
#   /usr/bin/python3 tests/unit/datashadow/mask_ref.py KEY u64 LABEL DATA
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
    if n == 1:
        return 0
    w = max(2, (n - 1).bit_length())
    u, v = (w + 1) // 2, w // 2
    tw = tweak(key, t)
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


if __name__ == "__main__":
    key, what = sys.argv[1].encode(), sys.argv[2]
    if what == "int":
        print(hash_int(key, int(sys.argv[3]), int(sys.argv[4])))
    elif what == "uuid":
        print(hash_uuid(key, sys.argv[3]))
    elif what == "u64":
        print(u64(key, sys.argv[3].encode(), sys.argv[4].encode()))
