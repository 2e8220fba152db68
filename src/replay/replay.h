/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replay: the open-loop replayer. It pulls requests from a source (source.h), schedules
 * them (replay_sched.h), rewrites and filters them (replay_rewrite.h) and sends each at
 * its scheduled time whatever the target's latency, over a keep-alive connection pool
 * that grows up to a bound. Latency is measured from the SCHEDULED time, as wrk2 does: a
 * request that waits for a free connection, or is sent late because the sender was busy,
 * carries that wait in its latency, so a stalled target shows up in the numbers instead
 * of slowing the sender (no coordinated omission).
 *
 * One libuv loop on the calling thread (one core): replay_run() returns when the run is
 * over. Used by `doppel replay`, `doppel loadgen` and each step of `doppel stress`.
 * Owns its loop, connections and in-flight requests; the source is borrowed.
 */
#ifndef DOPPEL_REPLAY_REPLAY_H
#define DOPPEL_REPLAY_REPLAY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/err.h"
#include "base/hist.h"
#include "replay/replay_rewrite.h"
#include "replay/replay_sched.h"
#include "replay/source.h"

enum replay_error {
    REPLAY_E_CONNECT = 0,  /* the connection could not be opened */
    REPLAY_E_TIMEOUT,      /* no complete response within the timeout */
    REPLAY_E_RESET,        /* the target closed or reset the connection mid-exchange */
    REPLAY_E_BAD_RESPONSE, /* not HTTP/1.x */
    REPLAY_E_OVERFLOW,     /* dropped: every connection busy until --timeout after it was due */
    REPLAY_E_COUNT,
};

struct replay_stats {
    struct hist latency;  /* scheduled time -> response complete, successful exchanges */
    struct hist send_lag; /* scheduled time -> first byte handed to the kernel */
    uint64_t scheduled;   /* requests taken from the source and scheduled */
    uint64_t filtered;    /* requests the filter dropped */
    uint64_t sent;
    uint64_t responses; /* complete responses */
    uint64_t status[6]; /* [1] 1xx ... [5] 5xx, [0] anything else */
    uint64_t errors[REPLAY_E_COUNT];
    uint64_t conns_opened;
    uint64_t elapsed_ns;                  /* start of the run -> last exchange done */
    uint64_t last_sched_ns;               /* scheduled time of the last request */
    uint64_t first_send_ns, last_send_ns; /* relative to the start */
    bool interrupted;                     /* SIGINT ended it early */
};

/* One finished exchange, for --record: the request as taken from the source (before the
 * rewrite), when it was due, and the response (head NULL when an error ended it). All
 * borrowed for the duration of the callback. */
struct replay_exchange {
    const struct replay_req *req;
    uint64_t sched_wall_ns; /* wall clock of the scheduled time, ns since the epoch */
    uint64_t latency_ns;    /* from the scheduled time */
    int error;              /* -1, or the enum replay_error that ended it */
    const struct http_head *head;
    const void *body; /* the first REPLAY_RECORD_BODY_MAX bytes */
    size_t body_len;
    bool body_truncated;
};
#define REPLAY_RECORD_BODY_MAX (64u * 1024)
typedef void replay_record_cb(void *ctx, const struct replay_exchange *x);

struct replay;
/* Called every progress_ns of the run with the counts so far and the run's time, ns. */
typedef void replay_progress_cb(void *ctx, const struct replay_stats *st, uint64_t now_ns);

struct replay_opts {
    struct sockaddr_storage addr; /* the target */
    struct replay_sched sched;    /* initialized by the caller: speed, rate or curve */
    struct replay_rewrite rewrite;
    struct replay_filter filter;
    unsigned connections;  /* at most this many open; > 0 */
    uint64_t timeout_ns;   /* per request, from its write; > 0 */
    uint64_t duration_ns;  /* only requests scheduled before it are sent; 0: no bound */
    uint64_t max_requests; /* 0: no bound */
    bool loop;             /* rewind the source at its end */
    uint64_t progress_ns;  /* 0: no progress callback */
    replay_progress_cb *progress;
    void *progress_ctx;
    replay_record_cb *record; /* NULL: responses are read and dropped */
    void *record_ctx;
    /* Splitting one schedule across threads: this run sends only the requests k (0-based,
     * after the filter) with k % stride == offset, from a start shared with the others. */
    unsigned stride, offset; /* 0, 0: every request */
    uint64_t start_hrtime;   /* uv_hrtime() of the schedule's time 0; 0: when the run starts */
};

/* Sets the defaults: 64 connections, 10 s timeout, speed 1, no bounds. */
void replay_opts_init(struct replay_opts *o);
/* Runs one replay to its end. st is filled (hists initialized here). 0, or -errno with err
 * set when the source failed (st still holds what was done before) or the loop could not
 * start. */
int replay_run(const struct replay_opts *o, struct replay_source *src, struct replay_stats *st,
               struct err *err);

/* Runs one schedule split across n threads (n <= REPLAY_MAX_THREADS), each with its own
 * loop, connections (o->connections / n, rounded up) and source (srcs[i]: n independent
 * sources yielding the same requests); request k goes to thread k % n. st gets the merged
 * results. The progress callback, if any, runs on the first thread with its own share.
 * o->record must be NULL when n > 1. */
#define REPLAY_MAX_THREADS 64
int replay_run_threads(const struct replay_opts *o, struct replay_source *const *srcs, unsigned n,
                       struct replay_stats *st, struct err *err);

/* Derived figures. */
uint64_t replay_stats_errors(const struct replay_stats *st);
/* Requests/s the schedule asked for (scheduled over its span), and sends/s achieved. */
double replay_stats_asked_rps(const struct replay_stats *st);
double replay_stats_achieved_rps(const struct replay_stats *st);
const char *replay_error_name(enum replay_error e);

#endif
