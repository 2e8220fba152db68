/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for datashadow/mask_time: calendar arithmetic against Python's datetime and
 * PostgreSQL itself (for BC dates, which datetime lacks), the ISO text forms PostgreSQL
 * writes (round trips, zone and fraction kept), shifts and truncation with exact answers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "datashadow/mask_time.h"

static void test_mask_days_from_civil_matches_python_and_postgres(void **state)
{
    (void)state;
    static const struct {
        int64_t y;
        unsigned m, d;
        int64_t days;
    } cases[] = {
        /* /usr/bin/python3 -c 'from datetime import date; print((date(Y,M,D) -
         *   date(1970,1,1)).days)' */
        {1, 1, 1, -719162},
        {2000, 2, 29, 11016},
        {2024, 2, 29, 19782},
        {9999, 12, 31, 2932896},
        {1969, 12, 31, -1},
        {1970, 1, 1, 0},
        /* PostgreSQL 15: select '0001-01-01 BC'::date - '1970-01-01'::date; (year 0 here) */
        {0, 1, 1, -719528},
        /* select '0044-03-15 BC'::date - '1970-01-01'::date; */
        {-43, 3, 15, -735160},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t y;
        unsigned m, d;
        assert_true(mask_days_from_civil(cases[i].y, cases[i].m, cases[i].d) == cases[i].days);
        mask_civil_from_days(cases[i].days, &y, &m, &d);
        assert_true(y == cases[i].y);
        assert_int_equal(m, cases[i].m);
        assert_int_equal(d, cases[i].d);
    }
}

static void roundtrip(const char *s, bool has_time)
{
    struct mask_time t;
    struct buf b;

    buf_init(&b, 256);
    assert_int_equal(mask_time_parse(s, strlen(s), has_time, &t), 0);
    assert_int_equal(mask_time_format(&t, &b), 0);
    assert_string_equal(b.data, s);
    buf_release(&b);
}

static void test_mask_time_parse_roundtrips_postgres_text(void **state)
{
    (void)state;
    /* Forms PostgreSQL 15 writes with DateStyle ISO (checked with ::text casts). */
    roundtrip("2024-02-29", false);
    roundtrip("0044-03-15 BC", false);
    roundtrip("infinity", false);
    roundtrip("-infinity", true);
    roundtrip("2024-05-17 20:14:15.5+00", true);
    roundtrip("2024-05-17 13:14:15.123456-07", true);
    roundtrip("1900-01-01 00:00:00+05:53:28", true);
    roundtrip("2024-01-01 00:00:00+05:30", true);
    roundtrip("0001-12-31 00:00:00+00 BC", true);
    roundtrip("12345-06-07 08:09:10", true);
}

static void test_mask_time_parse_rejects_bad_values(void **state)
{
    (void)state;
    static const char *const dates[] = {
        "2023-02-29",  "2024-13-01", "2024-00-10", "2024-1-01",           "24-01-01",
        "2024-01-01x", "0000-01-01", "",           "2024-01-01 00:00:00", "2024-04-31"};
    static const char *const stamps[] = {"2024-01-01",
                                         "2024-01-01 24:00:00",
                                         "2024-01-01 12:60:00",
                                         "2024-01-01 12:00:00.",
                                         "2024-01-01 12:00:00.1234567",
                                         "2024-01-01 12:00:00+",
                                         "2024-01-01 12:00:00+5",
                                         "2024-01-01T12:00:00",
                                         "2024-01-01 12:00:00 AD"};
    struct mask_time t;
    for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++)
        assert_int_equal(mask_time_parse(dates[i], strlen(dates[i]), false, &t), -EINVAL);
    for (size_t i = 0; i < sizeof(stamps) / sizeof(stamps[0]); i++)
        assert_int_equal(mask_time_parse(stamps[i], strlen(stamps[i]), true, &t), -EINVAL);
}

static void expect_shift(const char *in, bool has_time, int64_t secs, const char *want)
{
    struct mask_time t;
    struct buf b;

    buf_init(&b, 256);
    assert_int_equal(mask_time_parse(in, strlen(in), has_time, &t), 0);
    mask_time_shift(&t, secs);
    assert_int_equal(mask_time_format(&t, &b), 0);
    assert_string_equal(b.data, want);
    buf_release(&b);
}

static void test_mask_time_shift_matches_python(void **state)
{
    (void)state;
    /* /usr/bin/python3 -c 'from datetime import datetime, timedelta;
     *   print(datetime(2024,2,29,12,34,56) + timedelta(seconds=S))' */
    expect_shift("2024-02-29 12:34:56", true, -1000000, "2024-02-17 22:48:16");
    expect_shift("2024-02-29 12:34:56", true, 86399 * 3 + 7, "2024-03-03 12:35:00");
    /* fraction and zone are kept as written */
    expect_shift("2024-02-29 12:34:56.25+02", true, -1000000, "2024-02-17 22:48:16.25+02");
    /* print(date(2024,3,1) + timedelta(days=-1)); a date moves by whole days */
    expect_shift("2024-03-01", false, -86400 - 3600, "2024-02-29");
    expect_shift("2024-03-01", false, 86399, "2024-03-01");
    /* PostgreSQL 15: select ('0001-01-01 00:00:00+00'::timestamptz - interval '1 day') */
    expect_shift("0001-01-01 00:00:00+00", true, -86400, "0001-12-31 00:00:00+00 BC");
    expect_shift("0001-12-31 00:00:00 BC", true, 86400 + 3601, "0001-01-01 01:00:01");
    expect_shift("infinity", true, 12345, "infinity");
}

static void expect_trunc(const char *in, bool has_time, const char *unit, const char *want)
{
    struct mask_time t;
    struct buf b;

    buf_init(&b, 256);
    assert_int_equal(mask_time_parse(in, strlen(in), has_time, &t), 0);
    assert_int_equal(mask_time_truncate(&t, unit), 0);
    assert_int_equal(mask_time_format(&t, &b), 0);
    assert_string_equal(b.data, want);
    buf_release(&b);
}

static void test_mask_time_truncate_gives_unit_starts(void **state)
{
    (void)state;
    struct mask_time t;

    expect_trunc("2024-05-17 13:14:15.5-07", true, "year", "2024-01-01 00:00:00-07");
    expect_trunc("2024-05-17 13:14:15.5-07", true, "month", "2024-05-01 00:00:00-07");
    expect_trunc("2024-05-17 13:14:15.5-07", true, "day", "2024-05-17 00:00:00-07");
    expect_trunc("2024-05-17 13:14:15.5-07", true, "hour", "2024-05-17 13:00:00-07");
    expect_trunc("2024-05-17", false, "month", "2024-05-01");
    expect_trunc("0044-03-15 BC", false, "year", "0044-01-01 BC");
    expect_trunc("-infinity", false, "year", "-infinity");
    assert_int_equal(mask_time_parse("2024-05-17", 10, false, &t), 0);
    assert_int_equal(mask_time_truncate(&t, "week"), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mask_days_from_civil_matches_python_and_postgres),
        cmocka_unit_test(test_mask_time_parse_roundtrips_postgres_text),
        cmocka_unit_test(test_mask_time_parse_rejects_bad_values),
        cmocka_unit_test(test_mask_time_shift_matches_python),
        cmocka_unit_test(test_mask_time_truncate_gives_unit_starts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
