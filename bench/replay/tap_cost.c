/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tap_cost: CPU the capture tap costs per mirrored request, outside the gateway: the worker
 * side (parse of the anonymized head, encode, queue: thread CPU time of the caller) and the
 * whole process (the writer thread's checksum and writes included), for one primary and one
 * shadow record per request as serve writes them. As in serve, the head is the one the
 * mirror built for its copies and kept on the exchange (ex->copy_head), a cost the mirror
 * pays with or without capture; it is measured alone too (the first figure).
 * Usage: tap_cost DIR N
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "mirror/mirror.h"
#include "model/hmac_key.h"
#include "model/exchange.h"
#include "observer/capture_tap.h"

static double cpu_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Requests between waits for the writer: their 2 records fit serve's default queue (4096),
 * so the loop measures records taken, not records dropped because it outran the disk. */
#define BATCH 1000

/* Sleeps (no CPU of this thread) until the writer has taken everything queued. */
static void wait_drained(struct capture_tap *t)
{
    for (;;) {
        struct capture_tap_stats st;
        capture_tap_stats(t, &st);
        if (st.written + st.write_errors >= st.queued)
            return;
        struct timespec ts = {0, 200 * 1000};
        nanosleep(&ts, NULL);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return fprintf(stderr, "usage: tap_cost DIR N\n"), 2;
    long n = strtol(argv[2], NULL, 10);
    char path[4096];
    snprintf(path, sizeof(path), "%s/tap-%%Y%%m%%d-%%H.dcap", argv[1]);
    static char *drop[] = {"cookie", "authorization"};
    struct rt_route route;
    memset(&route, 0, sizeof(route));
    route.mirror.anon = (struct anonymize_rules){
        .drop_headers = drop, .ndrop_headers = 2, .hash_client_ip = true, .key_len = 32};
    /* Prepared as the route table builder prepares it (router/build.c). */
    route.mirror.anon.prepared = hmac_key_new(route.mirror.anon.key, route.mirror.anon.key_len);
    struct http_header h[5] = {{"Host", 4, "api.example.com", 15},
                               {"User-Agent", 10, "bench/1.0", 9},
                               {"Accept", 6, "*/*", 3},
                               {"Cookie", 6, "session=abc", 11},
                               {"Accept-Encoding", 15, "gzip", 4}};
    struct exchange ex;
    memset(&ex, 0, sizeof(ex));
    ex.route = &route;
    snprintf(ex.client_ip, sizeof(ex.client_ip), "127.0.0.1");
    snprintf(ex.id_str, sizeof(ex.id_str), "0000000000000001");
    ex.req = (struct http_head){.is_request = true,
                                .method = "GET",
                                .method_len = 3,
                                .target = "/api/v1/users/1",
                                .target_len = 15,
                                .headers = h,
                                .nheaders = 5};
    struct http_header rh[2] = {{"Content-Type", 12, "text/plain", 10},
                                {"Content-Length", 14, "26", 2}};
    ex.resp = (struct http_head){.status = 200, .headers = rh, .nheaders = 2};
    buf_init(&ex.resp_body, 64);
    buf_appends(&ex.resp_body, "prim GET /api/v1/users/1\n");
    struct rt_pool pool = {.name = "s1", .shadow = true};
    struct shadow_result res = {.pool = &pool, .status = 200, .latency_ns = 1000, .head = ex.resp};
    buf_init(&res.body, 64);
    buf_appends(&res.body, "shad GET /api/v1/users/1\n");
    struct buf head;
    buf_init(&head, 1 << 16);
    double t0 = cpu_s(CLOCK_THREAD_CPUTIME_ID);
    for (long i = 0; i < n; i++) {
        buf_reset(&head);
        mirror_copy_head(&ex, &head);
    }
    double head_us = (cpu_s(CLOCK_THREAD_CPUTIME_ID) - t0) / (double)n * 1e6;
    buf_init(&ex.copy_head, 1 << 16);
    mirror_copy_head(&ex, &ex.copy_head);
    struct capture_tap_config cfg = {.path = path,
                                     .max_file = 1ULL << 34,
                                     .sample_percent = 100,
                                     .nworkers = 1,
                                     .queue = 4096, /* serve's default */
                                     .head = mirror_copy_head};
    struct capture_tap *t = capture_tap_new(&cfg, NULL);
    capture_tap_start(t);
    double p0 = cpu_s(CLOCK_PROCESS_CPUTIME_ID);
    t0 = cpu_s(CLOCK_THREAD_CPUTIME_ID);
    for (long i = 0; i < n; i++) {
        ex.id = (uint64_t)i;
        ex.t_start = clock_mono_ns();
        capture_tap_exchange_done(&ex, t);
        capture_tap_shadow_done(&ex, &res, t);
        if (i % BATCH == BATCH - 1)
            wait_drained(t);
    }
    double worker_us = (cpu_s(CLOCK_THREAD_CPUTIME_ID) - t0) / (double)n * 1e6;
    struct capture_tap_stats st;
    capture_tap_stats(t, &st);
    capture_tap_free(t);
    double total_us = (cpu_s(CLOCK_PROCESS_CPUTIME_ID) - p0) / (double)n * 1e6;
    printf("head %.3f us\tworker %.3f us/request\ttotal %.3f us/request\tdropped %llu\n",
           head_us, worker_us, total_us, (unsigned long long)st.dropped);
    buf_release(&head);
    buf_release(&ex.copy_head);
    hmac_key_free(route.mirror.anon.prepared);
    return 0;
}
