/* SPDX-License-Identifier: Apache-2.0 */
/*
 * model: the synthetic traffic model learned from captures (`doppel learn`) and the replay
 * source that generates requests from it (`doppel loadgen`). The model is the endpoint mix
 * (method and templated path, `/users/123` -> `/users/{id}`), per endpoint the header and
 * body templates and example targets (so parameters stay realistic), the think time of
 * clients (gaps between requests of one anonymized client address) and the arrival rate per
 * hour of day (UTC). Its JSON form is docs/capture.md's "model JSON". The source draws
 * endpoints from the mix and arrivals as a Poisson process at a fixed rate, following a rate
 * curve (values per step), or following the model's own hourly curve; one seed, one stream.
 */
#ifndef DOPPEL_REPLAY_MODEL_H
#define DOPPEL_REPLAY_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "http/head.h"
#include "replay/capture.h"
#include "replay/source.h"

#define TRAFFIC_MODEL_EXAMPLES 32    /* example targets kept per endpoint */
#define TRAFFIC_MODEL_BODY_MAX 65536 /* body template bytes kept per endpoint */

struct traffic_endpoint {
    char *method;                /* owned */
    char *path;                  /* owned: templated path, "/users/{id}" */
    uint64_t count;              /* requests seen */
    double weight;               /* share of all requests, 0..1 */
    struct http_header *headers; /* owned (names and values too): the first request's */
    size_t nheaders;
    char *body; /* owned: the first request's body (capped), NULL when none */
    size_t body_len;
    char **examples; /* owned: up to TRAFFIC_MODEL_EXAMPLES distinct targets seen */
    size_t nexamples;
};

struct traffic_model {
    struct traffic_endpoint *ep; /* owned, by count, largest first after finish */
    size_t nep;
    uint64_t requests;
    uint64_t first_ns, last_ns;       /* wall clock of the first and last request */
    double mean_rate;                 /* requests per second over the span */
    double hour_rate[24];             /* requests per second per hour of day (UTC); -1: not seen */
    double think_mean_s, think_p50_s; /* gaps between one client's requests (< 30 min) */
    uint64_t think_n;
    /* learning state */
    uint64_t *client_ts; /* pairs (client hash, ts) */
    size_t nclient_ts, cap_client_ts;
    uint64_t hour_count[24];
};

void traffic_model_init(struct traffic_model *m);
void traffic_model_release(struct traffic_model *m);
/* Appends the templated form of a request path (no query): numeric segments become {id},
 * UUIDs {uuid}, hex strings of 8 or more with a digit {hex}. */
int traffic_model_template(const char *path, size_t len, struct buf *out);
/* Learns one record (records with only a shadow response are ignored). */
void traffic_model_add(struct traffic_model *m, const struct capture_record *r);
/* Computes the shares, rates and think times; call once after the last add. */
void traffic_model_finish(struct traffic_model *m);
/* The model as JSON text (caller frees), and back; err says "name: what is wrong". */
char *traffic_model_to_json(const struct traffic_model *m);
int traffic_model_from_json(const char *name, const char *text, size_t len, struct traffic_model *m,
                            struct err *err);

/* A rate curve: requests per second for each step of step_ns. CSV text, one step per line:
 * `value` or `timestamp,value` (timestamps in seconds, evenly spaced: they set the step;
 * without them default_step_ns does). A first line that is not numeric is a header. */
int traffic_curve_parse(const char *name, const char *text, size_t len, uint64_t default_step_ns,
                        double **values, size_t *n, uint64_t *step_ns, struct err *err);

struct traffic_gen {
    double rate_per_s;   /* > 0: fixed rate */
    const double *curve; /* else, when set: rate per step (copied) */
    size_t ncurve;
    uint64_t step_ns;
    uint64_t max_requests; /* 0: no limit (the replayer bounds the run) */
};

/* A replay source generating requests from m (which must outlive it): fixed rate, else the
 * curve (ends with it), else the model's hourly rates from hour 0 (unseen hours at the mean
 * rate). Deterministic for a seed. */
int replay_source_model_new(const struct traffic_model *m, uint64_t seed,
                            const struct traffic_gen *gen, struct replay_source **out,
                            struct err *err);

#endif
