/* SPDX-License-Identifier: Apache-2.0 */
/*
 * source_capture: a replay source over capture files (see source.h and capture.h). Files
 * are read in the order given, each one through a tolerant capture_reader, so a torn or
 * corrupt file yields what it still holds. A request's time is its record's timestamp minus
 * the first yielded one's; records are in completion order, so a time earlier than the
 * previous request's is raised to it (the schedule never runs backwards). Answer-only
 * records (a shadow's response to a request another record carries) are skipped; every
 * request keeps its record's exchange id. Owns the readers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "replay/capture.h"
#include "replay/capture_reader.h"

struct source_capture {
    struct replay_source base; /* first: the replayer sees only this */
    struct capture_reader **readers;
    size_t n, cur;
    bool started;
    uint64_t t0, prev, seq;
};

static int capture_next(struct replay_source *s, struct replay_req *out)
{
    struct source_capture *sc = (struct source_capture *)s;
    struct capture_record rec;
    while (sc->cur < sc->n) {
        if (capture_reader_next(sc->readers[sc->cur], &rec) != 1) {
            sc->cur++;
            continue;
        }
        if (rec.answer_only)
            continue; /* its request is sent from the record that carries it */
        if (!sc->started) {
            sc->started = true;
            sc->t0 = rec.ts_ns;
        }
        uint64_t at = rec.ts_ns > sc->t0 ? rec.ts_ns - sc->t0 : 0;
        sc->prev = at > sc->prev ? at : sc->prev;
        *out = (struct replay_req){.at_ns = sc->prev,
                                   .method = rec.method,
                                   .method_len = rec.method_len,
                                   .target = rec.target,
                                   .target_len = rec.target_len,
                                   .headers = rec.headers,
                                   .nheaders = rec.nheaders,
                                   .body = rec.body,
                                   .body_len = rec.body_len,
                                   .seq = sc->seq++,
                                   .id = rec.id};
        return 1;
    }
    return 0;
}

static int capture_rewind(struct replay_source *s)
{
    struct source_capture *sc = (struct source_capture *)s;
    for (size_t i = 0; i < sc->n; i++)
        capture_reader_rewind(sc->readers[i]);
    sc->cur = 0;
    sc->started = false;
    sc->t0 = sc->prev = sc->seq = 0;
    return 0;
}

static void capture_free(struct replay_source *s)
{
    struct source_capture *sc = (struct source_capture *)s;
    for (size_t i = 0; i < sc->n; i++)
        capture_reader_free(sc->readers[i]);
    free(sc->readers);
    free(sc);
}

static const struct replay_source_ops capture_ops = {
    .next = capture_next,
    .rewind = capture_rewind,
    .free = capture_free,
};

int replay_source_capture_new(const char *const *paths, size_t n, struct replay_source **out,
                              struct err *err)
{
    if (n == 0)
        return err_set(err, -EINVAL, "no capture files given");
    struct source_capture *sc = xcalloc(1, sizeof(*sc));
    sc->base.ops = &capture_ops;
    sc->readers = xcalloc(n, sizeof(*sc->readers));
    for (size_t i = 0; i < n; i++) {
        int rc = capture_reader_open(paths[i], false, &sc->readers[i], err);
        if (rc) {
            sc->n = i;
            capture_free(&sc->base);
            return rc;
        }
    }
    sc->n = n;
    *out = &sc->base;
    return 0;
}
