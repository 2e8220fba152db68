/* SPDX-License-Identifier: Apache-2.0 */
/*
 * capture_write: throughput of the capture format, outside the gateway. Encodes N records
 * shaped like a mirrored API call (GET with 8 request headers, a 200 with 4 headers and a
 * BODY-byte body) and writes them with capture_writer to a file under DIR, then reads them
 * back with capture_reader. Prints records/s and MB/s of each phase (one thread each, wall
 * clock). Run by bench/replay/capture.sh; usage: capture_write DIR N BODY
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "replay/capture.h"
#include "replay/capture_reader.h"
#include "replay/capture_writer.h"

int main(int argc, char **argv)
{
    if (argc != 4)
        return fprintf(stderr, "usage: capture_write DIR N BODY\n"), 2;
    long n = strtol(argv[2], NULL, 10), body_len = strtol(argv[3], NULL, 10);
    char pattern[4096], path[4096], *body = malloc((size_t)body_len + 1);
    memset(body, 'x', (size_t)body_len);
    snprintf(pattern, sizeof(pattern), "%s/bench-%%Y%%m%%d-%%H.dcap", argv[1]);
    struct http_header rh[8] = {
        {"Host", 4, "api.example.com", 15},
        {"User-Agent", 10, "Mozilla/5.0 (X11; Linux x86_64) bench/1.0", 41},
        {"Accept", 6, "application/json", 16},
        {"Accept-Encoding", 15, "gzip, deflate", 13},
        {"X-Forwarded-For", 15, "anon-4f3ec2912559721916548b5742d993a6", 37},
        {"X-Forwarded-Proto", 17, "http", 4},
        {"X-Request-Id", 12, "0100000000001234", 16},
        {"Traceparent", 11, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", 55}};
    struct http_header ph[4] = {{"Content-Type", 12, "application/json", 16},
                                {"Cache-Control", 13, "no-store", 8},
                                {"Date", 4, "Sun, 22 Nov 2026 23:00:00 GMT", 29},
                                {"Content-Length", 14, "512", 3}};
    struct capture_writer *w;
    if (capture_writer_new(pattern, 1ULL << 34, &w, NULL) != 0)
        return 1;
    struct buf b;
    buf_init(&b, CAPTURE_RECORD_MAX);
    char target[64];
    uint64_t t0 = clock_mono_ns(), bytes = 0;
    for (long i = 0; i < n; i++) {
        int tl = snprintf(target, sizeof(target), "/api/v1/users/%ld/orders?limit=20", i % 5000);
        struct capture_record r = {.ts_ns = clock_wall_ns(),
                                   .id = (uint64_t)i,
                                   .method = "GET",
                                   .method_len = 3,
                                   .target = target,
                                   .target_len = (size_t)tl,
                                   .headers = rh,
                                   .nheaders = 8};
        r.primary = (struct capture_resp){.present = true,
                                          .status = 200,
                                          .latency_ns = 1234567,
                                          .pool = "primary",
                                          .pool_len = 7,
                                          .headers = ph,
                                          .nheaders = 4,
                                          .body = body,
                                          .body_len = (size_t)body_len};
        buf_reset(&b);
        capture_encode_payload(&r, &b);
        capture_writer_write(w, r.ts_ns, b.data, b.len);
        bytes += b.len + CAPTURE_FRAME_HEADER_LEN;
    }
    snprintf(path, sizeof(path), "%s", capture_writer_path(w));
    capture_writer_free(w); /* flushes */
    double ws = (double)(clock_mono_ns() - t0) / 1e9;
    printf("write\t%ld records\t%.0f records/s\t%.1f MB/s\t%.0f bytes/record\n", n, (double)n / ws,
           (double)bytes / ws / 1e6, (double)bytes / (double)n);
    struct capture_reader *r;
    if (capture_reader_open(path, true, &r, NULL) != 0)
        return 1;
    t0 = clock_mono_ns();
    struct capture_record rec;
    long got = 0;
    while (capture_reader_next(r, &rec) == 1)
        got++;
    double rs = (double)(clock_mono_ns() - t0) / 1e9;
    printf("read\t%ld records\t%.0f records/s\t%.1f MB/s\n", got, (double)got / rs,
           (double)bytes / rs / 1e6);
    capture_reader_free(r);
    remove(path);
    buf_release(&b);
    free(body);
    return got == n ? 0 : 1;
}
