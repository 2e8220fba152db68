/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mask_time: parsing, shifting, truncating and writing back dates and timestamps in
 * PostgreSQL's ISO text form, for the `shift` and `generalize` masking rules. Calendar
 * arithmetic is Howard Hinnant's days_from_civil / civil_from_days (public domain
 * algorithms, proleptic Gregorian, exact for every year PostgreSQL accepts). Pure; the
 * parsed struct borrows the caller's text.
 */
#include "datashadow/mask_time.h"

#include <errno.h>
#include <string.h>

int64_t mask_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void mask_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned month_days(int64_t y, unsigned m)
{
    static const unsigned n[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : n[m - 1];
}

/* Reads between min and max digits at s[*i]; false when there are fewer. */
static bool digits(const char *s, size_t len, size_t *i, int min, int max, int64_t *v)
{
    int n = 0;
    *v = 0;
    while (*i < len && n < max && s[*i] >= '0' && s[*i] <= '9') {
        *v = *v * 10 + (s[*i] - '0');
        (*i)++;
        n++;
    }
    return n >= min;
}

static bool lit(const char *s, size_t len, size_t *i, char c)
{
    if (*i < len && s[*i] == c) {
        (*i)++;
        return true;
    }
    return false;
}

/* [+-]HH[:MM[:SS]] */
static bool zone(const char *s, size_t len, size_t *i)
{
    int64_t v;
    if (*i >= len || (s[*i] != '+' && s[*i] != '-'))
        return false;
    (*i)++;
    if (!digits(s, len, i, 2, 2, &v) || v > 15)
        return false;
    for (int k = 0; k < 2 && lit(s, len, i, ':'); k++)
        if (!digits(s, len, i, 2, 2, &v) || v > 59)
            return false;
    return true;
}

static int parse_clock(const char *s, size_t len, size_t *i, struct mask_time *t)
{
    int64_t h, mi, sec, f;
    if (!lit(s, len, i, ' ') || !digits(s, len, i, 2, 2, &h) || h > 23 || !lit(s, len, i, ':') ||
        !digits(s, len, i, 2, 2, &mi) || mi > 59 || !lit(s, len, i, ':') ||
        !digits(s, len, i, 2, 2, &sec) || sec > 59)
        return -EINVAL;
    t->secs = h * 3600 + mi * 60 + sec;
    t->frac = s + *i;
    if (lit(s, len, i, '.') && !digits(s, len, i, 1, 6, &f))
        return -EINVAL;
    t->frac_len = (size_t)(s + *i - t->frac);
    t->zone = s + *i;
    if (*i < len && (s[*i] == '+' || s[*i] == '-') && !zone(s, len, i))
        return -EINVAL;
    t->zone_len = (size_t)(s + *i - t->zone);
    return 0;
}

int mask_time_parse(const char *s, size_t len, bool has_time, struct mask_time *t)
{
    int64_t y, mo, d;
    size_t i = 0;

    memset(t, 0, sizeof(*t));
    t->has_time = has_time;
    t->text = s;
    t->text_len = len;
    t->frac = t->zone = "";
    if ((len == 8 && memcmp(s, "infinity", 8) == 0) ||
        (len == 9 && memcmp(s, "-infinity", 9) == 0)) {
        t->infinite = true;
        return 0;
    }
    if (!digits(s, len, &i, 4, 7, &y) || y == 0 || !lit(s, len, &i, '-') ||
        !digits(s, len, &i, 2, 2, &mo) || mo < 1 || mo > 12 || !lit(s, len, &i, '-') ||
        !digits(s, len, &i, 2, 2, &d) || d < 1)
        return -EINVAL;
    if (has_time && parse_clock(s, len, &i, t) < 0)
        return -EINVAL;
    if (len - i == 3 && memcmp(s + i, " BC", 3) == 0) {
        y = 1 - y; /* astronomical: 1 BC is year 0 */
        i += 3;
    }
    if (i != len || (unsigned)d > month_days(y, (unsigned)mo))
        return -EINVAL;
    t->days = mask_days_from_civil(y, (unsigned)mo, (unsigned)d);
    return 0;
}

int mask_time_format(const struct mask_time *t, struct buf *out)
{
    int64_t y;
    unsigned m, d;

    if (t->infinite)
        return buf_append(out, t->text, t->text_len);
    mask_civil_from_days(t->days, &y, &m, &d);
    int rc = buf_printf(out, "%04lld-%02u-%02u", (long long)(y > 0 ? y : 1 - y), m, d);
    if (rc == 0 && t->has_time)
        rc = buf_printf(out, " %02d:%02d:%02d%.*s%.*s", (int)(t->secs / 3600),
                        (int)(t->secs / 60 % 60), (int)(t->secs % 60), (int)t->frac_len, t->frac,
                        (int)t->zone_len, t->zone);
    if (rc == 0 && y <= 0)
        rc = buf_append(out, " BC", 3);
    return rc;
}

void mask_time_shift(struct mask_time *t, int64_t secs)
{
    if (t->infinite)
        return;
    if (!t->has_time) {
        t->days += secs / 86400;
        return;
    }
    int64_t s = t->secs + secs % 86400;
    t->days += secs / 86400 + (s < 0 ? -1 : s >= 86400 ? 1 : 0);
    t->secs = (s % 86400 + 86400) % 86400;
}

int mask_time_truncate(struct mask_time *t, const char *unit)
{
    int64_t y;
    unsigned m, d;

    if (t->infinite)
        return 0;
    mask_civil_from_days(t->days, &y, &m, &d);
    if (strcmp(unit, "year") == 0)
        t->days = mask_days_from_civil(y, 1, 1);
    else if (strcmp(unit, "month") == 0)
        t->days = mask_days_from_civil(y, m, 1);
    else if (strcmp(unit, "hour") == 0)
        t->secs -= t->secs % 3600;
    else if (strcmp(unit, "day") != 0)
        return -EINVAL;
    if (strcmp(unit, "hour") != 0)
        t->secs = 0;
    t->frac_len = 0;
    return 0;
}
