/* SPDX-License-Identifier: Apache-2.0 */
/*
 * anomaly: the streaming anomaly detector of the analyzer room (see anomaly.h for the
 * method). Pure: the state below is all there is; anomaly_new allocates it once (the
 * struct plus the pattern table, whose size is fixed by params.table_bits) and hands it
 * to the caller, who frees it with anomaly_free. Every update does a fixed amount of
 * work: two robust z-scores, context_len hash probes, a few multiplications.
 */
#include "analyzer/anomaly.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* rate of the short mean of the raw scores (about the last ten, as in Numenta's) */
#define LIK_SHORT_RATE 0.2
/* raw scores seen before their likelihood counts */
#define LIK_WARMUP 100
/* anomaly_log_tail is tabulated on [LIK_ZMIN, LIK_ZMAX] in LIK_TAB steps and interpolated
 * linearly (within 2.2e-6 of it): erfc and log10 at every point would cost about a third
 * of the update. Below LIK_ZMIN it is under 1.4e-6; from LIK_ZMAX on, where the Gaussian
 * tail is 1e-10, it is 1. */
#define LIK_TAB 512
#define LIK_ZMIN (-4.0)
#define LIK_ZMAX 6.361340902404056

/* A robust running location/scale: exponentially forgetting mean and mean absolute
 * deviation whose updates are clipped at clip * scale (Huber), so one outlier moves them
 * little; after `persist` clipped points in a row they re-learn fast and unclipped. */
struct anomaly_stat {
    double mean;
    double mad;   /* mean absolute deviation; scale = mad * sqrt(pi/2) */
    double peak;  /* decaying maximum of the z-scores seen: the stream's usual worst */
    uint32_t run; /* consecutive points beyond clip */
};

struct anomaly {
    struct anomaly_params p;
    uint64_t n;        /* points learned */
    double prev;       /* previous value */
    double abs_level;  /* running mean of |value|, for the scale floor */
    double peak_decay; /* per-point decay of anomaly_stat.peak */
    double shift_sd;   /* sqrt(r / (2 - r)), r = shift_rate: the recent mean's spread, in
                        * level scales */
    struct anomaly_stat level, change;
    double recent;                               /* fast EW mean of the values (rate shift_rate) */
    double shift_peak;                           /* decaying maximum of the shift z-scores */
    double zs;                                   /* the last shift z-score */
    struct anomaly_stat slot[ANOMALY_MAX_SLOTS]; /* the level at each time of day (UTC) */
    uint32_t slot_n[ANOMALY_MAX_SLOTS];          /* points seen in each slot */
    struct anomaly_stat season;                  /* only .peak: the recent worst slot z-score */
    double zh;                                   /* the last slot z-score */
    uint32_t slot_now;                           /* slot of the last point */
    uint64_t season_n;   /* points that compared a slot's scale with the overall */
    double season_ratio; /* their mean slot/overall scale ratio */
    /* pattern grid and memory */
    double lo, hi; /* range seen before the grid is fixed */
    double grid_lo, grid_step;
    int32_t bins[ANOMALY_MAX_CONTEXT]; /* last quantized values, newest first */
    uint32_t nbins;
    uint32_t *table;   /* owned; 2^table_bits context fingerprints, 0 = empty */
    double nov_mean;   /* running mean of the novelty, its usual level */
    uint64_t strong_n; /* points whose pattern surprise reached nov_strong */
    /* anomaly likelihood of the raw score */
    double lik_mean, lik_var;    /* long-run mean and variance of the raw scores */
    double lik_short;            /* short mean of the raw scores */
    uint64_t lik_n;              /* raw scores seen */
    double lik_tab[LIK_TAB + 1]; /* anomaly_log_tail on the grid of LIK_ZMIN..LIK_ZMAX */
    /* recent points and the last explanation */
    double ring_t[ANOMALY_RING];
    uint32_t rest_left;
    struct anomaly_reason why;
};

#define SQRT_PI_2 1.2533141373155003

/* libm's fmax/fmin are out-of-line calls (their NaN rules keep the compiler from
 * inlining them); no NaN reaches these. */
static inline double dmax(double x, double y)
{
    return x > y ? x : y;
}

static inline double dmin(double x, double y)
{
    return x < y ? x : y;
}

/* max(rate, 1/k): the rate of a mean over the last k points until it reaches rate, without
 * a division once it has */
static inline double rate_at(double rate, uint64_t k)
{
    return (double)k * rate >= 1.0 ? rate : 1.0 / (double)k;
}

void anomaly_params_default(struct anomaly_params *p)
{
    *p = (struct anomaly_params){
        .warmup = 250,
        .grid_after = 120,
        .alpha = 0.002,
        .alpha_fast = 0.05,
        .clip = 2.25,
        .persist = 10,
        .levels = 6,
        .context_len = 3,
        .table_bits = 14,
        .tod_contexts = 2,
        .z_level = 4.0,
        .z_change = 4.5,
        .w_pattern = 0.85,
        .fire = 0.58,
        .rest = 100,
        .rest_damp = 0.1,
        .blend = 0.2,
        .shift_rate = 0.15,
        .z_power = 2.0,
        .z_pattern = 4.0,
        .seed = 1,
        .rest_extend = 1,
        .w_season = 1.0,
        .season_rate = 0.1,
        .season_floor = 0.0,
        .season_slots = 96,
        .season_prior = 0.0,
        .nov_discount = 1.0,
        .nov_strong = 0.3,
        .w_likelihood = 0.3,
        .lik_rate = 0.0002,
    };
}

int anomaly_params_check(const struct anomaly_params *p, struct err *err)
{
    if (p->grid_after < 2 || p->warmup <= p->grid_after)
        return err_set(err, -EINVAL, "warmup (%u) must exceed grid_after (%u) >= 2", p->warmup,
                       p->grid_after);
    if (!(p->alpha > 0 && p->alpha <= 0.5) || !(p->alpha_fast >= p->alpha && p->alpha_fast <= 1))
        return err_set(err, -EINVAL, "alpha must be in (0, 0.5] and alpha_fast in [alpha, 1]");
    if (!(p->clip > 0) || p->persist < 1)
        return err_set(err, -EINVAL, "clip must be > 0 and persist >= 1");
    if (p->levels < 2 || p->levels > 1000)
        return err_set(err, -EINVAL, "levels must be in 2..1000, not %u", p->levels);
    if (p->context_len < 1 || p->context_len > ANOMALY_MAX_CONTEXT)
        return err_set(err, -EINVAL, "context_len must be in 1..%d, not %u", ANOMALY_MAX_CONTEXT,
                       p->context_len);
    if (p->tod_contexts > p->context_len)
        return err_set(err, -EINVAL, "tod_contexts must be <= context_len");
    if (p->table_bits < 8 || p->table_bits > 24)
        return err_set(err, -EINVAL, "table_bits must be in 8..24, not %u", p->table_bits);
    if (!(p->z_level > 0) || !(p->z_change > 0))
        return err_set(err, -EINVAL, "z_level and z_change must be > 0");
    if (!(p->w_pattern >= 0 && p->w_pattern <= 1) || !(p->rest_damp >= 0 && p->rest_damp <= 1))
        return err_set(err, -EINVAL, "w_pattern and rest_damp must be in [0, 1]");
    if (!(p->shift_rate >= 0 && p->shift_rate < 1))
        return err_set(err, -EINVAL, "shift_rate must be in [0, 1)");
    if (!(p->blend >= 0 && p->blend <= 1))
        return err_set(err, -EINVAL, "blend must be in [0, 1]");
    if (!(p->w_season >= 0 && p->w_season <= 1) || !(p->season_rate > 0 && p->season_rate <= 1) ||
        !(p->season_floor >= 0) || !(p->season_prior >= 0) || p->season_slots < 1 ||
        p->season_slots > ANOMALY_MAX_SLOTS)
        return err_set(
            err, -EINVAL,
            "w_season must be in [0, 1], season_rate in (0, 1], season_floor, season_prior >= 0 "
            "and season_slots in 1..%d",
            ANOMALY_MAX_SLOTS);
    if (!(p->nov_discount >= 0) || !(p->nov_strong > 0 && p->nov_strong <= 1))
        return err_set(err, -EINVAL, "nov_discount must be >= 0 and nov_strong in (0, 1]");
    if (!(p->w_likelihood >= 0 && p->w_likelihood < 1) || !(p->lik_rate > 0 && p->lik_rate < 1))
        return err_set(err, -EINVAL, "w_likelihood must be in [0, 1) and lik_rate in (0, 1)");
    if (!(p->fire > 0 && p->fire <= 1))
        return err_set(err, -EINVAL, "fire must be in (0, 1]");
    return 0;
}

struct anomaly *anomaly_new(const struct anomaly_params *p)
{
    if (anomaly_params_check(p, NULL) != 0)
        return NULL;
    struct anomaly *a = calloc(1, sizeof(*a));
    uint32_t *table = calloc((size_t)1 << p->table_bits, sizeof(*table));
    if (!a || !table) {
        free(a);
        free(table);
        return NULL;
    }
    a->p = *p;
    a->table = table;
    for (int k = 0; k <= LIK_TAB; k++)
        a->lik_tab[k] = anomaly_log_tail(LIK_ZMIN + (LIK_ZMAX - LIK_ZMIN) * k / LIK_TAB);
    /* the peak halves over 1/alpha points: "unusual" means unusual lately */
    a->peak_decay = exp(-M_LN2 * p->alpha);
    a->shift_sd = sqrt(p->shift_rate / (2.0 - p->shift_rate));
    return a;
}

void anomaly_free(struct anomaly *a)
{
    if (!a)
        return;
    free(a->table);
    free(a);
}

size_t anomaly_state_size(const struct anomaly *a)
{
    return sizeof(*a) + ((size_t)1 << a->p.table_bits) * sizeof(*a->table);
}

const char *anomaly_feature_name(enum anomaly_feature f)
{
    switch (f) {
    case ANOMALY_FEATURE_LEVEL:
        return "level";
    case ANOMALY_FEATURE_CHANGE:
        return "change";
    case ANOMALY_FEATURE_PATTERN:
        return "pattern";
    case ANOMALY_FEATURE_SHIFT:
        return "shift";
    case ANOMALY_FEATURE_SEASON:
        return "season";
    case ANOMALY_FEATURE_NONE:
        break;
    }
    return "none";
}

void anomaly_explain(const struct anomaly *a, struct anomaly_reason *out)
{
    *out = a->why;
}

/* The z-score of x against s, measured before s learns x. */
static double stat_z(const struct anomaly_stat *s, double x, double floor)
{
    double scale = s->mad * SQRT_PI_2;
    if (scale < floor)
        scale = floor;
    return fabs(x - s->mean) / scale;
}

static void stat_learn(struct anomaly_stat *s, const struct anomaly_params *p, double x, double z,
                       double rate, double floor)
{
    double r = x - s->mean, ar = fabs(r), lim = p->clip * dmax(s->mad * SQRT_PI_2, floor);
    s->run = z > p->clip ? s->run + 1 : 0;
    if (s->run >= p->persist) {
        rate = dmax(rate, p->alpha_fast); /* a new regime: forget the old one quickly */
        lim = INFINITY;
    }
    if (ar > lim) {
        r = r > 0 ? lim : -lim;
        ar = lim;
    }
    s->mean += rate * r;
    s->mad += rate * (ar - s->mad);
}

static uint64_t mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* Fixes the pattern grid on the range of the points seen so far. */
static void grid_fix(struct anomaly *a)
{
    double step = (a->hi - a->lo) / a->p.levels;
    double floor = dmax(1e-3 * a->abs_level, 1e-12);
    a->grid_lo = a->lo;
    a->grid_step = step > floor ? step : floor;
}

/* 1 when the context h was not in the table; remembers it. */
static uint32_t pattern_probe(struct anomaly *a, uint64_t h, uint32_t mask)
{
    uint32_t fp = (uint32_t)(h >> 32) | 1u;
    uint32_t *slot = &a->table[h & mask];
    uint32_t novel = *slot != fp;
    *slot = fp;
    return novel;
}

/* Pushes x's bin and returns the fraction of the 1..context_len contexts ending at x
 * that the table had not seen; every context is then remembered. */
static double pattern_learn(struct anomaly *a, double x, double timestamp)
{
    double q = floor((x - a->grid_lo) / a->grid_step);
    int32_t bin = (int32_t)dmax(-1e6, dmin(1e6, q));
    uint32_t ctx = a->p.context_len, mask = (1u << a->p.table_bits) - 1;
    memmove(a->bins + 1, a->bins, (ANOMALY_MAX_CONTEXT - 1) * sizeof(a->bins[0]));
    a->bins[0] = bin;
    if (a->nbins < ctx)
        a->nbins++;
    uint32_t novel = 0;
    uint64_t h = mix64(a->p.seed ^ 0x9e3779b97f4a7c15ULL);
    /* the hour of day joins the shortest contexts: "this level, at this time of day" */
    double hours = isfinite(timestamp) ? floor(timestamp / 3600.0) : 0.0;
    uint64_t hour = (uint64_t)(hours - 24.0 * floor(hours / 24.0));
    uint64_t ht = mix64(h ^ (hour << 48) ^ 0x5bd1e995ULL);
    for (uint32_t l = 0; l < a->nbins; l++) {
        uint64_t b = (uint64_t)(uint32_t)a->bins[l] ^ ((uint64_t)(l + 1) << 40);
        h = mix64(h ^ b);
        novel += pattern_probe(a, h, mask);
        if (l < a->p.tod_contexts) {
            ht = mix64(ht ^ b);
            novel += pattern_probe(a, ht, mask);
        }
    }
    return (double)novel / (ctx + a->p.tod_contexts);
}

/* Surprise of a z-score: its size against the larger of z_min and the stream's recent
 * worst, mapped to [0, 1) (0.5 when it merely equals them). */
static double z_surprise(const struct anomaly_stat *s, double z, double z_min, double power)
{
    double r = z / dmax(s->peak, z_min);
    r = power == 2.0 ? r * r : pow(r, power);
    return r / (1.0 + r);
}

/* Novelty beyond the stream's usual share of new contexts, counted fully only with a big
 * enough z-score, and discounted by the share of the points so far whose pattern surprise
 * was strong: where wholly new sequences keep coming, one more tells less. */
static double pattern_surprise(struct anomaly *a, double nov, double zl, double zc)
{
    double sp = a->p.w_pattern * dmax(0.0, nov - a->nov_mean) / (1.0 - a->nov_mean + 1e-9);
    if (a->p.z_pattern > 0)
        sp *= dmin(1.0, dmax(zl, zc) / a->p.z_pattern);
    /* sp / (1 + nov_discount * strong_n / seen), with one division */
    double seen = (double)(a->n - a->p.grid_after + 1), strong = (double)a->strong_n;
    if (sp >= a->p.nov_strong)
        a->strong_n++;
    return sp * seen / (seen + a->p.nov_discount * strong);
}

double anomaly_log_tail(double z)
{
    double q = 0.5 * erfc(z / M_SQRT2);
    return q <= 1e-10 ? 1.0 : -log10(q) / 10.0;
}

static double log_tail_lookup(const struct anomaly *a, double z)
{
    double u = (z - LIK_ZMIN) * (LIK_TAB / (LIK_ZMAX - LIK_ZMIN));
    if (!(u > 0)) /* also NaN */
        return a->lik_tab[0];
    if (u >= LIK_TAB)
        return 1.0;
    int k = (int)u;
    return a->lik_tab[k] + (u - k) * (a->lik_tab[k + 1] - a->lik_tab[k]);
}

/* Blends the anomaly likelihood of the raw score into it: the short mean of the recent raw
 * scores against their long-run mean and variance (measured before they learn this one),
 * as a log-scaled Gaussian tail. */
static double likelihood_apply(struct anomaly *a, double raw)
{
    if (a->p.w_likelihood <= 0)
        return raw;
    a->lik_short = a->lik_n == 0 ? raw : a->lik_short + LIK_SHORT_RATE * (raw - a->lik_short);
    double lik = 0.0;
    if (a->lik_n >= LIK_WARMUP)
        lik = log_tail_lookup(a, (a->lik_short - a->lik_mean) / sqrt(a->lik_var + 1e-6));
    double rate = rate_at(a->p.lik_rate, a->lik_n + 1), d = raw - a->lik_mean;
    a->lik_mean += rate * d;
    a->lik_var = (1.0 - rate) * (a->lik_var + rate * d * d);
    a->lik_n++;
    return (1.0 - a->p.w_likelihood) * raw + a->p.w_likelihood * lik;
}

static void explain_stat(struct anomaly *a, enum anomaly_feature f, const struct anomaly_stat *s,
                         double z, double observed, double floor, uint32_t span)
{
    a->why.feature = f;
    a->why.strength = z;
    a->why.observed = observed;
    a->why.expected = s->mean;
    a->why.scale = dmax(s->mad * SQRT_PI_2, floor);
    a->why.span = span;
    a->why.since = a->ring_t[span - 1];
}

static double score_point(struct anomaly *a, double x, double d, double zl, double zc, double nov,
                          double floor)
{
    double sl = z_surprise(&a->level, zl, a->p.z_level, a->p.z_power);
    double sc = z_surprise(&a->change, zc, a->p.z_change, a->p.z_power);
    double rs = a->zs / dmax(a->shift_peak, a->p.z_level);
    rs *= rs;
    double ss = a->p.shift_rate > 0 ? rs / (1.0 + rs) : 0.0;
    double sh = a->p.w_season * dmax(0.0, 1.0 - a->season_ratio) *
                z_surprise(&a->season, a->zh, a->p.z_level, a->p.z_power);
    double sp = pattern_surprise(a, nov, zl, zc);
    double best = sl;
    explain_stat(a, ANOMALY_FEATURE_LEVEL, &a->level, zl, x, floor, 1);
    if (sc > best) {
        best = sc;
        explain_stat(a, ANOMALY_FEATURE_CHANGE, &a->change, zc, d, floor, 2);
    }
    if (ss > best) {
        best = ss;
        explain_stat(a, ANOMALY_FEATURE_SHIFT, &a->level, a->zs, a->recent, floor, ANOMALY_RING);
    }
    if (sh > best) {
        best = sh;
        explain_stat(a, ANOMALY_FEATURE_SEASON, &a->slot[a->slot_now], a->zh, x, floor, 1);
    }
    if (sp > best) {
        best = sp;
        a->why.feature = ANOMALY_FEATURE_PATTERN;
        a->why.strength = nov;
        a->why.observed = x;
        a->why.expected = a->level.mean;
        a->why.scale = a->grid_step;
        a->why.span = a->nbins;
        a->why.since = a->ring_t[a->nbins - 1];
    }
    /* the largest surprise decides; the others, joined as independent evidence, order
     * the points where it saturates */
    double any = 1.0 - (1.0 - sl) * (1.0 - sc) * (1.0 - sp) * (1.0 - ss) * (1.0 - sh);
    return (1.0 - a->p.blend) * best + a->p.blend * any;
}

static double rest_apply(struct anomaly *a, double score)
{
    if (a->rest_left > 0) {
        a->rest_left--;
        a->why.resting = 1;
        if (a->p.rest_extend && score >= a->p.fire)
            a->rest_left = a->p.rest;
        return score * a->p.rest_damp;
    }
    if (score >= a->p.fire)
        a->rest_left = a->p.rest;
    return score;
}

static void learn_stats(struct anomaly *a, double x, double d, double zl, double zc, double floor)
{
    double rate = rate_at(a->p.alpha, a->n + 1);
    if (a->n == 0) {
        a->level.mean = x;
    } else {
        stat_learn(&a->level, &a->p, x, zl, rate, floor);
        if (a->n == 1)
            a->change.mean = d;
        else
            stat_learn(&a->change, &a->p, d, zc, rate, floor);
    }
    /* the early z-scores measure unsettled statistics, so the peaks start later */
    if (a->n >= a->p.grid_after / 2) {
        a->level.peak = dmax(zl, a->level.peak * a->peak_decay);
        a->change.peak = dmax(zc, a->change.peak * a->peak_decay);
        a->shift_peak = dmax(a->zs, a->shift_peak * a->peak_decay);
        a->season.peak = dmax(a->zh, a->season.peak * a->peak_decay);
    }
}

/* The value's z-score against the usual level in its slot of the day (0 until the slot
 * has seen a few points); then the slot learns the value. */
static void season_update(struct anomaly *a, double timestamp, double x, double min_scale)
{
    if (a->p.w_season <= 0)
        return;
    double day = timestamp / 86400.0;
    double frac = isfinite(day) ? day - floor(day) : 0.0; /* a bad clock: all in slot 0 */
    uint32_t h = (uint32_t)(frac * a->p.season_slots) % a->p.season_slots;
    struct anomaly_stat *s = &a->slot[h];
    double f = dmax(min_scale, a->p.season_floor * a->level.mad * SQRT_PI_2);
    a->slot_now = h;
    uint32_t n = a->slot_n[h];
    /* the slot's scale, shrunk towards the overall one by season_prior points of it, and
     * widened for the error of a mean of n points */
    double ss = s->mad * SQRT_PI_2, gs = a->level.mad * SQRT_PI_2, k = a->p.season_prior;
    double sc = sqrt((n * ss * ss + k * gs * gs) / (n + k) * (1.0 + 1.0 / (n + 1)));
    a->zh = n >= 3 ? fabs(x - s->mean) / dmax(sc, f) : 0.0;
    /* how much of the spread the time of day explains: the slots' scale against the
     * overall one, averaged over the points seen (near 1 when there is no daily cycle) */
    if (n >= 3 && gs > 0) {
        a->season_n++;
        double rate = rate_at(a->p.alpha, a->season_n);
        a->season_ratio += rate * (dmin(1.0, sc / gs) - a->season_ratio);
    }
    if (n == 0) {
        s->mean = x;
        s->mad = a->level.mad; /* until the slot knows better, the overall spread */
    } else
        /* a young slot learns unclipped: its scale is not known yet */
        stat_learn(s, &a->p, x, a->zh, dmax(a->p.season_rate, 1.0 / (n + 1)),
                   n * a->p.season_rate < 1.0 ? INFINITY : f);
    a->slot_n[h] = n < UINT32_MAX ? n + 1 : n;
}

double anomaly_update(struct anomaly *a, double timestamp, double x)
{
    if (!isfinite(x)) {
        a->why = (struct anomaly_reason){.index = a->n, .since = timestamp};
        return 0.0;
    }
    memmove(a->ring_t + 1, a->ring_t, (ANOMALY_RING - 1) * sizeof(a->ring_t[0]));
    a->ring_t[0] = timestamp;
    double d = a->n > 0 ? x - a->prev : 0.0;
    a->abs_level += (fabs(x) - a->abs_level) * (a->n < 100 ? 1.0 / (double)(a->n + 1) : 0.01);
    double floor = dmax(1e-6 * a->abs_level, 1e-12);
    double zl = a->n > 0 ? stat_z(&a->level, x, floor) : 0.0;
    double zc = a->n > 1 ? stat_z(&a->change, d, floor) : 0.0;
    /* the recent mean against the level: a shift too small for any single point */
    double r = a->p.shift_rate;
    a->recent = a->n == 0 ? x : a->recent + r * (x - a->recent);
    a->zs = a->n > 0 && r > 0 ? stat_z(&a->level, a->recent, floor) / a->shift_sd : 0.0;
    season_update(a, timestamp, x, floor);
    double nov = 0.0, score = 0.0;
    if (a->n < a->p.grid_after) {
        a->lo = a->n == 0 ? x : dmin(a->lo, x);
        a->hi = a->n == 0 ? x : dmax(a->hi, x);
    } else {
        if (a->n == a->p.grid_after)
            grid_fix(a);
        nov = pattern_learn(a, x, timestamp);
    }
    a->why = (struct anomaly_reason){.index = a->n, .since = timestamp, .span = 1};
    if (a->n >= a->p.grid_after) {
        /* scored from the grid on, so the novelty's mean is learned by the warm-up's end */
        score = likelihood_apply(a, score_point(a, x, d, zl, zc, nov, floor));
        score = a->n >= a->p.warmup ? rest_apply(a, score) : 0.0;
        double rate = rate_at(a->p.alpha, a->n - a->p.grid_after + 1);
        a->nov_mean += rate * (nov - a->nov_mean);
    }
    learn_stats(a, x, d, zl, zc, floor);
    a->prev = x;
    a->n++;
    score = dmin(1.0, dmax(0.0, score));
    a->why.score = score;
    return score;
}
