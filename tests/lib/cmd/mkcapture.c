/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mkcapture: writes a capture file with a known request stream, for the replay tests. It
 * sits outside the pipeline (tests/lib/cmd, built as build/tests/mkcapture) and uses the
 * capture format's own encoder and writer (replay/capture.h, capture_writer.h), so a
 * replay test reads exactly what `doppel serve` would have recorded. Request i (0-based)
 * is recorded at start + i * interval: every fourth is `POST /orders` with a small JSON
 * body, the others `GET /users/<i>`; each carries Host: prod.example, Accept, X-Seq: <i> and
 * X-Forwarded-For: c<i mod 4> (four clients, as the mirror pseudonymizes them), and a primary
 * response 200. Its exchange id is first-id + i (default 1 + i); with --shadow NAME each
 * primary record is followed, as serve writes them, by an answer-only record of shadow NAME
 * (status 200, no request) with the same id.
 *
 *   mkcapture --out FILE --count N --interval-ms M [--first-id ID] [--shadow NAME]
 *   mkcapture --dump FILE     one line per record: id method target shadow-pool status
 *                             error body-bytes latency-ms, so a test can check a capture
 *                             written by `doppel replay --record`
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/str.h"
#include "replay/capture.h"
#include "replay/capture_reader.h"
#include "replay/capture_writer.h"

static int put(struct capture_writer *w, const struct capture_record *r)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    int rc = capture_encode_payload(r, &b);
    if (!rc)
        rc = capture_writer_write(w, r->ts_ns, b.data, b.len);
    buf_release(&b);
    return rc;
}

static int write_one(struct capture_writer *w, uint64_t i, uint64_t ts, uint64_t id,
                     const char *shadow)
{
    char target[64], seq[32], body[64], client[32];
    bool post = i % 4 == 3;
    snprintf(target, sizeof(target), post ? "/orders" : "/users/%llu", (unsigned long long)i);
    snprintf(seq, sizeof(seq), "%llu", (unsigned long long)i);
    snprintf(body, sizeof(body), "{\"item\":%llu}", (unsigned long long)i);
    snprintf(client, sizeof(client), "c%llu", (unsigned long long)(i % 4));
    struct http_header h[] = {
        {"Host", 4, "prod.example", 12},
        {"Accept", 6, "*/*", 3},
        {"X-Seq", 5, seq, strlen(seq)},
        {"X-Forwarded-For", 15, client, strlen(client)}, /* the mirror's client pseudonym */
    };
    struct capture_record r = {
        .ts_ns = ts,
        .id = id,
        .method = post ? "POST" : "GET",
        .method_len = post ? 4 : 3,
        .target = target,
        .target_len = strlen(target),
        .headers = h,
        .nheaders = 4,
        .body = post ? body : NULL,
        .body_len = post ? strlen(body) : 0,
        .primary = {.present = true,
                    .status = 200,
                    .latency_ns = 1000000,
                    .pool = "primary",
                    .pool_len = 7},
    };
    int rc = put(w, &r);
    if (rc || !shadow)
        return rc;
    struct capture_record a = {.ts_ns = ts, .id = id, .answer_only = true};
    a.shadow = (struct capture_resp){.present = true,
                                     .status = 200,
                                     .latency_ns = 2000000,
                                     .pool = shadow,
                                     .pool_len = strlen(shadow)};
    return put(w, &a);
}

static int dump(const char *path)
{
    struct err err = {0};
    struct capture_reader *r;
    struct capture_record rec;
    if (capture_reader_open(path, true, &r, &err)) {
        fprintf(stderr, "mkcapture: %s\n", err.msg);
        return 1;
    }
    while (capture_reader_next(r, &rec) == 1)
        printf("%llu %.*s %.*s %.*s %d %u %zu %.3f\n", (unsigned long long)rec.id,
               (int)rec.method_len, rec.method, (int)rec.target_len, rec.target,
               rec.shadow.present ? (int)rec.shadow.pool_len : 1,
               rec.shadow.present ? rec.shadow.pool : "-", rec.shadow.status, rec.shadow.error,
               rec.shadow.body_len, (double)rec.shadow.latency_ns / 1e6);
    capture_reader_free(r);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", 1, 0, 'o'},  {"count", 1, 0, 'n'},    {"interval-ms", 1, 0, 'i'},
        {"dump", 1, 0, 'd'}, {"first-id", 1, 0, 'f'}, {"shadow", 1, 0, 's'},
        {0, 0, 0, 0}};
    const char *out = NULL, *shadow = NULL;
    uint64_t count = 0, interval_ms = 10, first_id = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt == 'd')
            return dump(optarg);
        if (opt == 'o')
            out = optarg;
        else if (opt == 's')
            shadow = optarg;
        else if (opt == 'n'   ? str_to_u64(optarg, &count)
                 : opt == 'i' ? str_to_u64(optarg, &interval_ms)
                 : opt == 'f' ? str_to_u64(optarg, &first_id)
                              : 1)
            goto usage;
    }
    if (!out || !count)
        goto usage;
    struct err err = {0};
    struct capture_writer *w;
    if (capture_writer_new(out, 0, &w, &err)) {
        fprintf(stderr, "mkcapture: %s\n", err.msg);
        return 1;
    }
    /* a fixed hour, so the pattern (no % in it anyway) never rotates mid-file */
    uint64_t start = 1795000000ULL * 1000000000ULL;
    int rc = 0;
    for (uint64_t i = 0; i < count && !rc; i++)
        rc = write_one(w, i, start + i * interval_ms * 1000000ULL, first_id + i, shadow);
    capture_writer_free(w);
    return rc ? 1 : 0;
usage:
    fprintf(stderr, "usage: mkcapture --out FILE --count N [--interval-ms M] [--first-id ID] "
                    "[--shadow NAME]\n");
    return 2;
}
