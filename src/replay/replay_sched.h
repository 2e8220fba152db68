/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replay_sched: the open-loop schedule, pure arithmetic. It turns the send times a source
 * yields (relative to its first request) into the times the replayer must send at,
 * relative to the start of the run: divided by a speed factor, or replaced by a fixed
 * arrival rate (request k at k / rate, the recorded mix kept, the recorded gaps dropped),
 * or by a rate curve (piecewise linear requests/s over time; request k where the area
 * under the curve reaches k). `--loop` passes continue one mean gap after the last
 * request of the previous pass. No I/O, no allocation; replay.c owns one per run.
 */
#ifndef DOPPEL_REPLAY_SCHED_H
#define DOPPEL_REPLAY_SCHED_H

#include <stddef.h>
#include <stdint.h>

#define REPLAY_SCHED_END UINT64_MAX /* a curve that stays at 0 requests/s: nothing more */

enum replay_pace {
    REPLAY_PACE_SPEED = 1, /* recorded times / speed */
    REPLAY_PACE_RATE,      /* fixed arrival rate */
    REPLAY_PACE_CURVE,     /* arrival rate following a curve */
};

struct replay_curve_point {
    double t_s; /* seconds since the start, ascending */
    double rps; /* arrival rate there, >= 0; linear in between, held after the last */
};

struct replay_sched {
    enum replay_pace pace;
    double speed;                           /* REPLAY_PACE_SPEED, > 0 */
    double rate;                            /* REPLAY_PACE_RATE, requests/s > 0 */
    const struct replay_curve_point *curve; /* REPLAY_PACE_CURVE; borrowed */
    size_t ncurve;
    uint64_t n;          /* requests scheduled so far */
    uint64_t pass_n;     /* of them, in the current pass over the source */
    uint64_t offset_ns;  /* source time where the current pass starts (after wraps) */
    uint64_t last_at_ns; /* source time of the latest request of this pass */
    uint64_t last_ns;    /* the latest scheduled time, relative to the start */
    size_t seg;          /* REPLAY_PACE_CURVE: the segment the schedule is in */
    double t_s;          /* REPLAY_PACE_CURVE: time of the latest request, s */
};

void replay_sched_init_speed(struct replay_sched *s, double speed);
void replay_sched_init_rate(struct replay_sched *s, double rate);
/* The curve must be non-empty with ascending t_s and finite rps >= 0 (the CLI checks). */
void replay_sched_init_curve(struct replay_sched *s, const struct replay_curve_point *curve,
                             size_t n);
/* The send time (ns since the start of the run) of the next request, recorded at at_ns
 * (since the source's first request; ignored by the rate and curve paces), or
 * REPLAY_SCHED_END. Times never decrease. */
uint64_t replay_sched_next(struct replay_sched *s, uint64_t at_ns);
/* The source was rewound (--loop): its times restart from 0 one mean gap after the last. */
void replay_sched_wrap(struct replay_sched *s);
/* The curve's rate at t seconds. */
double replay_curve_rate(const struct replay_curve_point *curve, size_t n, double t_s);

#endif
