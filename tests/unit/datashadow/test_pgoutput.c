/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_pgoutput: the pgoutput v1 and v2 decoder against messages laid out byte by byte as
 * the PostgreSQL documentation ("Logical Replication Message Formats") describes them, and
 * every truncation of them (which must give -EPROTO, never a read past the end).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
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

/* Stream Start: Byte1('S'), Int32 xid, Int8 1 when the first segment. */
static void stream_start_msg(struct msg *m, uint32_t xid, int first)
{
    put(m, "S", 1), be(m, xid, 4), be(m, (uint64_t)first, 1);
}

/* Stream Commit: Byte1('c'), Int32 xid, Int8 flags, Int64 commit LSN, Int64 end LSN,
 * Int64 commit time. */
static void stream_commit_msg(struct msg *m)
{
    put(m, "c", 1), be(m, 901, 4), be(m, 0, 1), be(m, 0x2A000100ULL, 8), be(m, 0x2A000180ULL, 8);
    be(m, 765432100, 8);
}

/* Stream Abort: Byte1('A'), Int32 xid, Int32 subtransaction xid. */
static void stream_abort_msg(struct msg *m, uint32_t xid, uint32_t sub)
{
    put(m, "A", 1), be(m, xid, 4), be(m, sub, 4);
}

/* Insert inside a stream segment: Byte1('I'), Int32 xid, Int32 relid, Byte1('N'), tuple. */
static void stream_insert_msg(struct msg *m, uint32_t xid)
{
    put(m, "I", 1), be(m, xid, 4), be(m, 16384, 4), put(m, "N", 1), be(m, 2, 2), text(m, "42");
    put(m, "n", 1);
}

static void test_pgoutput_decode_in_stream_start_stop(void **state)
{
    (void)state;
    struct msg s = {.n = 0}, s2 = {.n = 0};
    struct pgoutput_msg m = {0};
    stream_start_msg(&s, 901, 1);
    assert_int_equal(pgoutput_decode_in(s.b, s.n, false, &m), 0);
    assert_int_equal(m.kind, PGOUTPUT_STREAM_START);
    assert_int_equal(m.xid, 901);
    assert_true(m.first_segment);
    stream_start_msg(&s2, 0x80000001u, 0);
    assert_int_equal(pgoutput_decode_in(s2.b, s2.n, false, &m), 0);
    assert_int_equal(m.xid, 0x80000001u);
    assert_false(m.first_segment);
    assert_int_equal(pgoutput_decode_in("E", 1, true, &m), 0);
    assert_int_equal(m.kind, PGOUTPUT_STREAM_STOP);
    pgoutput_msg_release(&m);
}

static void test_pgoutput_decode_in_stream_commit_abort(void **state)
{
    (void)state;
    struct msg c = {.n = 0}, a = {.n = 0};
    struct pgoutput_msg m = {0};
    stream_commit_msg(&c);
    assert_int_equal(pgoutput_decode_in(c.b, c.n, false, &m), 0);
    assert_int_equal(m.kind, PGOUTPUT_STREAM_COMMIT);
    assert_int_equal(m.xid, 901);
    assert_true(m.lsn == 0x2A000100ULL && m.end_lsn == 0x2A000180ULL);
    assert_true(m.ts == 765432100);
    stream_abort_msg(&a, 901, 905);
    assert_int_equal(pgoutput_decode_in(a.b, a.n, false, &m), 0);
    assert_int_equal(m.kind, PGOUTPUT_STREAM_ABORT);
    assert_int_equal(m.xid, 901);
    assert_int_equal(m.sub_xid, 905);
    pgoutput_msg_release(&m);
}

static void test_pgoutput_decode_in_insert_carries_xid(void **state)
{
    (void)state;
    struct msg i = {.n = 0}, r = {.n = 0}, d = {.n = 0}, t = {.n = 0};
    struct pgoutput_msg m = {0};
    stream_insert_msg(&i, 905);
    assert_int_equal(pgoutput_decode_in(i.b, i.n, true, &m), 0);
    assert_int_equal(m.kind, PGOUTPUT_INSERT);
    assert_int_equal(m.xid, 905);
    assert_int_equal(m.relid, 16384);
    assert_int_equal(m.new_.n, 2);
    assert_memory_equal(m.new_.v[0].data, "42", 2);
    assert_int_equal(m.new_.v[1].kind, 'n');
    /* the same bytes outside a stream: the xid is read as the relation, then no 'N' */
    assert_int_equal(pgoutput_decode_in(i.b, i.n, false, &m), -EPROTO);
    /* Relation inside a stream: the xid, then the v1 layout */
    put(&r, "R", 1), be(&r, 906, 4);
    relation_msg(&r);
    memmove(r.b + 5, r.b + 6, r.n - 6), r.n--; /* drop relation_msg's own 'R' */
    assert_int_equal(pgoutput_decode_in(r.b, r.n, true, &m), 0);
    assert_int_equal(m.xid, 906);
    assert_int_equal(m.relid, 16384);
    assert_string_equal(m.relname, "users");
    assert_int_equal(m.ncols, 2);
    put(&d, "D", 1), be(&d, 907, 4), be(&d, 5, 4), put(&d, "K", 1), be(&d, 1, 2), text(&d, "9");
    assert_int_equal(pgoutput_decode_in(d.b, d.n, true, &m), 0);
    assert_int_equal(m.xid, 907);
    assert_int_equal(m.relid, 5);
    assert_int_equal(m.old_kind, 'K');
    put(&t, "T", 1), be(&t, 908, 4), be(&t, 1, 4), be(&t, 0, 1), be(&t, 5, 4);
    assert_int_equal(pgoutput_decode_in(t.b, t.n, true, &m), 0);
    assert_int_equal(m.xid, 908);
    assert_int_equal(m.nrelids, 1);
    assert_int_equal(m.relids[0], 5);
    pgoutput_msg_release(&m);
}

/* Every proper prefix of each v2 message is rejected, in and out of a stream segment. */
static void test_pgoutput_decode_in_truncated_is_eproto(void **state)
{
    (void)state;
    struct msg all[6] = {{.n = 0}};
    bool in[6] = {false, false, false, true, true, true};
    struct pgoutput_msg m = {0};
    stream_start_msg(&all[0], 901, 1);
    stream_commit_msg(&all[1]);
    stream_abort_msg(&all[2], 901, 905);
    stream_insert_msg(&all[3], 905);
    put(&all[4], "U", 1), be(&all[4], 905, 4), be(&all[4], 5, 4), put(&all[4], "N", 1);
    be(&all[4], 1, 2), text(&all[4], "x");
    put(&all[5], "T", 1), be(&all[5], 905, 4), be(&all[5], 1, 4), be(&all[5], 0, 1);
    be(&all[5], 5, 4);
    for (size_t k = 0; k < 6; k++) {
        assert_int_equal(pgoutput_decode_in(all[k].b, all[k].n, in[k], &m), 0);
        for (size_t n = 0; n < all[k].n; n++)
            assert_int_equal(pgoutput_decode_in(all[k].b, n, in[k], &m), -EPROTO);
    }
    assert_int_equal(pgoutput_decode_in("", 0, true, &m), -EPROTO);
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
        cmocka_unit_test(test_pgoutput_decode_in_stream_start_stop),
        cmocka_unit_test(test_pgoutput_decode_in_stream_commit_abort),
        cmocka_unit_test(test_pgoutput_decode_in_insert_carries_xid),
        cmocka_unit_test(test_pgoutput_decode_in_truncated_is_eproto),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
