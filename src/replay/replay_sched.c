/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replay_sched: the open-loop schedule (see replay_sched.h). Pure arithmetic in doubles
 * of seconds for the curve, integer nanoseconds elsewhere.
 */
#include "replay/replay_sched.h"

#include <math.h>
#include <string.h>

#define NS_PER_S 1e9

static void init(struct replay_sched *s, enum replay_pace pace)
{
    memset(s, 0, sizeof(*s));
    s->pace = pace;
}

void replay_sched_init_speed(struct replay_sched *s, double speed)
{
    init(s, REPLAY_PACE_SPEED);
    s->speed = speed;
}

void replay_sched_init_rate(struct replay_sched *s, double rate)
{
    init(s, REPLAY_PACE_RATE);
    s->rate = rate;
}

void replay_sched_init_curve(struct replay_sched *s, const struct replay_curve_point *curve,
                             size_t n)
{
    init(s, REPLAY_PACE_CURVE);
    s->curve = curve;
    s->ncurve = n;
}

double replay_curve_rate(const struct replay_curve_point *c, size_t n, double t_s)
{
    if (n == 0)
        return 0;
    if (t_s <= c[0].t_s)
        return c[0].rps;
    for (size_t i = 1; i < n; i++)
        if (t_s <= c[i].t_s) {
            double w = (t_s - c[i - 1].t_s) / (c[i].t_s - c[i - 1].t_s);
            return c[i - 1].rps + w * (c[i].rps - c[i - 1].rps);
        }
    return c[n - 1].rps;
}

/* Segment j of the curve as [a, b) with the rate linear from ra to rb: j = 0 holds the
 * first rate from 0 to the first point, j = n holds the last rate for ever. */
static void segment(const struct replay_sched *s, size_t j, double *a, double *b, double *ra,
                    double *rb)
{
    const struct replay_curve_point *c = s->curve;
    size_t n = s->ncurve;
    if (j == 0) {
        *a = 0, *b = c[0].t_s > 0 ? c[0].t_s : 0, *ra = *rb = c[0].rps;
    } else if (j >= n) {
        *a = c[n - 1].t_s, *b = INFINITY, *ra = *rb = c[n - 1].rps;
    } else {
        *a = c[j - 1].t_s, *b = c[j].t_s, *ra = c[j - 1].rps, *rb = c[j].rps;
    }
}

/* Advances s->t_s until one more request's worth of area lies under the curve. */
static uint64_t curve_next(struct replay_sched *s)
{
    double need = 1.0, a, b, ra, rb;
    for (; s->seg <= s->ncurve; s->seg++) {
        segment(s, s->seg, &a, &b, &ra, &rb);
        if (s->t_s < a)
            s->t_s = a;
        if (!(b > s->t_s))
            continue;
        double k = isinf(b) ? 0 : (rb - ra) / (b - a);
        double rt = ra + k * (s->t_s - a);
        double to_end = isinf(b) ? (rt > 0 ? INFINITY : 0) : (rt + rb) / 2 * (b - s->t_s);
        if (to_end < need) {
            need -= to_end;
            continue;
        }
        /* k/2 dt^2 + rt dt = need, in the form that stays exact when k is 0 */
        double disc = rt * rt + 2 * k * need;
        s->t_s += 2 * need / (rt + sqrt(disc > 0 ? disc : 0));
        return (uint64_t)llround(s->t_s * NS_PER_S);
    }
    return REPLAY_SCHED_END;
}

uint64_t replay_sched_next(struct replay_sched *s, uint64_t at_ns)
{
    uint64_t t;
    switch (s->pace) {
    case REPLAY_PACE_SPEED:
        if (at_ns < s->last_at_ns && s->pass_n > 0)
            at_ns = s->last_at_ns; /* a source out of order: never send back in time */
        s->last_at_ns = at_ns;
        t = (uint64_t)llround((double)(s->offset_ns + at_ns) / s->speed);
        break;
    case REPLAY_PACE_RATE:
        t = (uint64_t)llround((double)s->n * NS_PER_S / s->rate);
        break;
    default:
        t = s->n == 0 ? (uint64_t)llround(s->t_s * NS_PER_S) : curve_next(s);
        break;
    }
    if (t == REPLAY_SCHED_END)
        return t;
    if (t < s->last_ns)
        t = s->last_ns;
    s->last_ns = t;
    s->n++;
    s->pass_n++;
    return t;
}

void replay_sched_wrap(struct replay_sched *s)
{
    if (s->pace == REPLAY_PACE_SPEED) {
        /* the mean gap of the pass; a pass of one request repeats once a second */
        uint64_t gap = s->pass_n > 1 ? s->last_at_ns / (s->pass_n - 1) : 1000000000ULL;
        if (gap == 0)
            gap = 1;
        s->offset_ns += s->last_at_ns + gap;
    }
    s->last_at_ns = 0;
    s->pass_n = 0;
}
