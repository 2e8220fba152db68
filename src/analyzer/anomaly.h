/* SPDX-License-Identifier: Apache-2.0 */
/*
 * anomaly: the analyzer's streaming anomaly detector. It reads one (timestamp, value)
 * point at a time and returns an anomaly score in [0, 1] for that point, learning on line
 * with no look-ahead: the score of point i depends only on points <= i. Time and memory
 * per point are O(1); the state is allocated once in anomaly_new (its size is fixed by the
 * parameters) and owned by the caller until anomaly_free. No I/O, no globals; the only
 * source of randomness (the hash salt of the pattern table) comes from params.seed.
 *
 * Method (docs/cli-analyze-detect.md has the long form): an ensemble of five cheap
 * online detectors, each turned into a "surprise" relative to its own recent history:
 *   level   robust z-score of the value against an exponentially forgetting location and
 *           scale (Huber-clipped updates, fast re-learning after a sustained shift);
 *   change  the same on the first differences (spikes, drops, variance changes);
 *   shift   a fast moving mean against the level (sustained small shifts);
 *   pattern novelty of the last 1..context_len quantized values (a CAD-style context
 *           memory: a fixed-size hash table of seen contexts);
 *   season  robust z-score of the value against its time-of-day slot (a daily peak that
 *           does not come), weighted by how much of the spread the time of day explains.
 * The pattern surprise is discounted by the share of points whose pattern surprise was
 * already strong (a stream where new sequences are common makes each less telling).
 * The largest surprise, blended with their noisy-or, is the raw score; its anomaly
 * likelihood (Numenta's: a short mean of the raw scores against their long-run mean and
 * variance, as a Gaussian tail on a log scale) is blended in, so that one raw score
 * means more in a stream whose raw scores are usually quiet. After a score
 * reaches params.fire the detector rests for params.rest points (scores there are
 * damped; with rest_extend, a score reaching fire meanwhile restarts the rest), because
 * a streaming alarm is worth most the first time it fires. Points
 * before params.warmup score 0.
 */
#ifndef DOPPEL_ANALYZER_ANOMALY_H
#define DOPPEL_ANALYZER_ANOMALY_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct anomaly_params {
    uint32_t warmup;       /* points that only learn (score 0); >= grid_after + 1 */
    uint32_t grid_after;   /* points seen before the pattern grid is fixed */
    double alpha;          /* forgetting rate of level/change statistics, (0, 0.5] */
    double alpha_fast;     /* rate used while re-learning after a sustained shift */
    double clip;           /* Huber clip, in scale units, of the statistics' updates */
    uint32_t persist;      /* consecutive clipped points that mean "new regime" */
    uint32_t levels;       /* pattern grid: warm-up range is cut into this many bins */
    uint32_t context_len;  /* longest pattern context, 1..ANOMALY_MAX_CONTEXT */
    uint32_t tod_contexts; /* shortest contexts also learned with the hour of day, 0..len */
    uint32_t table_bits;   /* pattern table has 2^table_bits slots, 8..24 */
    double z_level;        /* level z-score that counts as a full-strength signal */
    double z_change;       /* change z-score that counts as a full-strength signal */
    double w_pattern;      /* weight of the pattern novelty in the score, [0, 1] */
    double fire;           /* score at which an alarm fires and the rest begins */
    uint32_t rest;         /* points after an alarm whose scores are damped */
    double rest_damp;      /* factor applied to scores during the rest, [0, 1] */
    uint32_t rest_extend;  /* 1: a score reaching fire during the rest restarts it */
    double w_season;       /* weight of the time-of-day level surprise, [0, 1]; 0: off */
    double season_rate;    /* forgetting rate of each slot's statistics, (0, 1] */
    double season_floor;   /* least slot scale, as a share of the overall level scale */
    uint32_t season_slots; /* the day is cut into this many slots, 1..ANOMALY_MAX_SLOTS */
    double season_prior;   /* points of the overall scale mixed into each slot's scale */
    double z_pattern;      /* >0: pattern novelty counts fully only with a z-score this big */
    double z_power;        /* steepness of the z-score surprise: r^k / (1 + r^k) */
    double shift_rate;     /* rate of the recent mean the shift detector watches; 0: off */
    double blend;          /* share of the noisy-or of all surprises beside the largest */
    double nov_discount;   /* pattern surprise / (1 + nov_discount * share of strong ones) */
    double nov_strong;     /* pattern surprise that counts as strong, (0, 1] */
    double w_likelihood;   /* weight of the anomaly likelihood of the raw score, [0, 1) */
    double lik_rate;       /* least forgetting rate of the raw score's mean/variance, (0, 1) */
    uint64_t seed;         /* salt of the pattern hash */
};

#define ANOMALY_MAX_CONTEXT 8
#define ANOMALY_MAX_SLOTS 288 /* five-minute slots of a day */
#define ANOMALY_RING 8        /* recent points kept for explanations (>= ANOMALY_MAX_CONTEXT) */

enum anomaly_feature {
    ANOMALY_FEATURE_NONE = 0, /* warm-up, or nothing stood out */
    ANOMALY_FEATURE_LEVEL,    /* the value is far from its usual level */
    ANOMALY_FEATURE_CHANGE,   /* the step from the previous value is unusual */
    ANOMALY_FEATURE_PATTERN,  /* the recent sequence of levels was never seen */
    ANOMALY_FEATURE_SHIFT,    /* the recent mean moved away from the usual level */
    ANOMALY_FEATURE_SEASON,   /* the value is far from its usual level at this time of day */
};

/* Why the last score is what it is. */
struct anomaly_reason {
    enum anomaly_feature feature;
    double score;    /* the score returned by the last anomaly_update */
    double strength; /* z-score (level, change, shift) or novel fraction (pattern) */
    double observed; /* the value (level, pattern), the step (change), the recent mean
                      * (shift) */
    double expected; /* usual level, usual step, or usual level */
    double scale;    /* the spread the z-score was measured against */
    uint32_t span;   /* how many recent points drove it (1, 2, or the context length) */
    double since;    /* timestamp of the oldest of those points */
    uint64_t index;  /* 0-based index of the point the score belongs to */
    int resting;     /* 1 when the score was damped because an alarm fired recently */
};

struct anomaly;

/* Fills p with the defaults (the global parameters chosen on the NAB public subset). */
void anomaly_params_default(struct anomaly_params *p);
/* 0, or -EINVAL with a sentence naming the first bad parameter. */
int anomaly_params_check(const struct anomaly_params *p, struct err *err);
/* A new detector, or NULL when anomaly_params_check fails. */
struct anomaly *anomaly_new(const struct anomaly_params *p);
void anomaly_free(struct anomaly *a);
/* Learns the point and returns its anomaly score in [0, 1]. A non-finite value is not
 * learned and scores 0. */
double anomaly_update(struct anomaly *a, double timestamp, double value);
/* Explains the score returned by the last anomaly_update. */
void anomaly_explain(const struct anomaly *a, struct anomaly_reason *out);
/* Bytes the detector holds (struct and table); fixed at creation. */
size_t anomaly_state_size(const struct anomaly *a);
/* The log-scaled Gaussian upper tail the anomaly likelihood uses: min(1, -log10(Q(z)) / 10)
 * with Q(z) = P(Z > z) for a standard normal Z (so 1 at a tail probability of 1e-10). */
double anomaly_log_tail(double z);
/* "level", "change", "shift", "season", "pattern", "none". */
const char *anomaly_feature_name(enum anomaly_feature f);

#endif
