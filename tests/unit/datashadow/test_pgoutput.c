/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_pgoutput: the pgoutput v1 decoder against messages laid out byte by byte as the
 * PostgreSQL documentation ("Logical Replication Message Formats") describes them, and
 * every truncation of them (which must give -EPROTO, never a read past the end).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "datashadow/pgoutput.h"
#include "testlib.h"

struct msg {
    char b[512];
    size_t n;
};

static void put(struct msg *m, const void *p, size_t n)
{
    memcpy(m->b + m->n, p, n);
    m->n += n;
}

static void be(struct msg *m, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--)
        m->b[m->n++] = (char)((v >> (8 * i)) & 0xff);
}

static void str(struct msg *m, const char *s)
{
    put(m, s, strlen(s) + 1);
}

static void text(struct msg *m, const char *s)
{
    put(m, "t", 1);
    be(m, strlen(s), 4);
    put(m, s, strlen(s));
}

static void test_pgoutput_decode_begin_commit(void **state)
{
    (void)state;
    struct msg b = {.n = 0}, c = {.n = 0};
    struct pgoutput_msg m = {0};
    put(&b, "B", 1), be(&b, 0x16B374D848ULL, 8), be(&b, 123456789, 8), be(&b, 777, 4);
    assert_int_equal(pgoutput_decode(b.b, b.n, &m), 0);
    assert_int_equal(m.kind, PGOUTPUT_BEGIN);
    assert_true(m.lsn == 0x16B374D848ULL);
    assert_true(m.ts == 123456789);
    assert_int_equal(m.xid, 777);
    put(&c, "C", 1), be(&c, 0, 1), be(&c, 0x100, 8), be(&c, 0x180, 8), be(&c, 42, 8);
    assert_int_equal(pgoutput_decode(c.b, c.n, &m), 0);
    assert_int_equal(m.kind, PGOUTPUT_COMMIT);
    assert_true(m.lsn == 0x100 && m.end_lsn == 0x180 && m.ts == 42);
    pgoutput_msg_release(&m);
}

static void relation_msg(struct msg *r)
{
    put(r, "R", 1), be(r, 16384, 4), str(r, "public"), str(r, "users"), put(r, "d", 1);
    be(r, 2, 2);
    be(r, 1, 1), str(r, "id"), be(r, 23, 4), be(r, 0xffffffff, 4);
    be(r, 0, 1), str(r, "email"), be(r, 1043, 4), be(r, 44, 4);
}

static void test_pgoutput_decode_relation_columns(void **state)
{
    (void)state;
    struct msg r = {.n = 0};
    struct pgoutput_msg m = {0};
    relation_msg(&r);
    assert_int_equal(pgoutput_decode(r.b, r.n, &m), 0);
    assert_int_equal(m.relid, 16384);
    assert_string_equal(m.nspname, "public");
    assert_string_equal(m.relname, "users");
    assert_int_equal(m.replident, 'd');
    assert_int_equal(m.ncols, 2);
    assert_int_equal(m.cols[0].flags, 1);
    assert_string_equal(m.cols[1].name, "email");
    assert_int_equal(m.cols[1].type_oid, 1043);
    assert_int_equal(m.cols[0].typmod, -1);
    assert_int_equal(m.cols[1].typmod, 44);
    pgoutput_msg_release(&m);
}

static void test_pgoutput_decode_update_old_and_new(void **state)
{
    (void)state;
    struct msg u = {.n = 0};
    struct pgoutput_msg m = {0};
    put(&u, "U", 1), be(&u, 16384, 4), put(&u, "K", 1), be(&u, 2, 2), text(&u, "7"),
        put(&u, "n", 1);
    put(&u, "N", 1), be(&u, 3, 2), text(&u, "8"), put(&u, "u", 1), put(&u, "n", 1);
    assert_int_equal(pgoutput_decode(u.b, u.n, &m), 0);
    assert_int_equal(m.kind, PGOUTPUT_UPDATE);
    assert_int_equal(m.old_kind, 'K');
    assert_int_equal(m.old.n, 2);
    assert_int_equal(m.old.v[0].kind, 't');
    assert_memory_equal(m.old.v[0].data, "7", 1);
    assert_int_equal(m.new_.n, 3);
    assert_int_equal(m.new_.v[1].kind, 'u');
    assert_int_equal(m.new_.v[2].kind, 'n');
    pgoutput_msg_release(&m);
}

static void test_pgoutput_decode_insert_delete_truncate(void **state)
{
    (void)state;
    struct msg i = {.n = 0}, d = {.n = 0}, t = {.n = 0};
    struct pgoutput_msg m = {0};
    put(&i, "I", 1), be(&i, 5, 4), put(&i, "N", 1), be(&i, 1, 2), text(&i, "tab\there");
    assert_int_equal(pgoutput_decode(i.b, i.n, &m), 0);
    assert_int_equal(m.new_.v[0].len, 8);
    assert_memory_equal(m.new_.v[0].data, "tab\there", 8);
    put(&d, "D", 1), be(&d, 5, 4), put(&d, "O", 1), be(&d, 1, 2), text(&d, "x");
    assert_int_equal(pgoutput_decode(d.b, d.n, &m), 0);
    assert_int_equal(m.old_kind, 'O');
    put(&t, "T", 1), be(&t, 2, 4), be(&t, 2, 1), be(&t, 5, 4), be(&t, 6, 4);
    assert_int_equal(pgoutput_decode(t.b, t.n, &m), 0);
    assert_int_equal(m.nrelids, 2);
    assert_int_equal(m.relids[1], 6);
    assert_int_equal(m.truncate_flags, 2);
    pgoutput_msg_release(&m);
}

static void test_pgoutput_decode_truncated_is_eproto(void **state)
{
    (void)state;
    struct msg r = {.n = 0};
    struct pgoutput_msg m = {0};
    relation_msg(&r);
    for (size_t n = 0; n < r.n; n++)
        assert_int_equal(pgoutput_decode(r.b, n, &m), -EPROTO);
    struct msg bad = {.n = 0};
    put(&bad, "I", 1), be(&bad, 5, 4), put(&bad, "N", 1), be(&bad, 1, 2), put(&bad, "t", 1);
    be(&bad, 1000, 4); /* a value longer than the message */
    assert_int_equal(pgoutput_decode(bad.b, bad.n, &m), -EPROTO);
    assert_int_equal(pgoutput_decode("Z", 1, &m), -ENOTSUP);
    pgoutput_msg_release(&m);
}

static void test_pgoutput_put64_round_trips(void **state)
{
    (void)state;
    char b[8];
    pgoutput_put64(b, 0x0102030405060708ULL);
    assert_int_equal(b[0], 1);
    assert_int_equal(b[7], 8);
    assert_true(pgoutput_get64(b) == 0x0102030405060708ULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pgoutput_decode_begin_commit),
        cmocka_unit_test(test_pgoutput_decode_relation_columns),
        cmocka_unit_test(test_pgoutput_decode_update_old_and_new),
        cmocka_unit_test(test_pgoutput_decode_insert_delete_truncate),
        cmocka_unit_test(test_pgoutput_decode_truncated_is_eproto),
        cmocka_unit_test(test_pgoutput_put64_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
