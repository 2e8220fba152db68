/* SPDX-License-Identifier: Apache-2.0 */
/*
 * start_ready: time from "start shadow" (provision_start) to READY (the readiness probe
 * passed) for the demo app under the process driver, against the app's own start measured
 * without doppel: fork+exec of the same command, then GET / polled in a tight loop until it
 * answers. The difference is what the provisioner adds (exec wrapper, cgroup, port,
 * probe interval). Medians over N runs; unsealed and, as root, sealed (netns).
 *   start_ready DOPPEL_BINARY DEMO_APP [N]
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "base/clock.h"
#include "base/log.h"
#include "provision/provision_process.h"

static int ready_flag;
static uint64_t ready_at;

static void on_event(void *ctx, enum provision_event ev, const struct provision_instance *in)
{
    (void)ctx;
    (void)in;
    if (ev == PROVISION_EV_READY && !ready_flag) {
        ready_flag = 1;
        ready_at = clock_mono_ns();
    }
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void on_stopped(void *ctx)
{
    *(int *)ctx = 1;
}

/* One provision_start -> READY, in ms. */
static double provisioned(const char *doppel, const char *demo, bool sealed)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct provision_process_opts o = {.exec_path = doppel};
    struct err err = {0};
    struct provision *p = provision_process_new(&loop, &o, &err);
    provision_set_event_cb(p, on_event, NULL);
    static const char *const args[] = {"--port", "{port}", "--version", "v2"};
    struct provision_spec s = {
        .name = "bench",
        .command = demo,
        .args = args,
        .nargs = 4,
        .replicas = 1,
        .probe = {.kind = PROVISION_PROBE_HTTP,
                  .path = "/",
                  .interval_ns = CLOCK_NS_PER_MS,
                  .timeout_ns = 500 * CLOCK_NS_PER_MS},
        .start_timeout_ns = 10 * CLOCK_NS_PER_S,
        .stop_grace_ns = CLOCK_NS_PER_S,
        .restart = {.policy = PROVISION_RESTART_NEVER},
        .isolation = sealed ? PROVISION_ISOLATION_NETNS : PROVISION_ISOLATION_NONE,
        .labels = {.service = "bench", .pool = "v2", .role = PROVISION_ROLE_SHADOW},
    };
    ready_flag = 0;
    uint64_t t0 = clock_mono_ns();
    if (provision_start(p, &s, &err) != 0) {
        fprintf(stderr, "start_ready: %s\n", err.msg);
        exit(1);
    }
    while (!ready_flag)
        uv_run(&loop, UV_RUN_ONCE);
    double ms = (double)(ready_at - t0) / 1e6;
    int stopped = 0;
    provision_stop_all(p, on_stopped, &stopped);
    while (!stopped)
        uv_run(&loop, UV_RUN_ONCE);
    provision_free(p);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return ms;
}

static uint16_t free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    getsockname(fd, (struct sockaddr *)&sa, &len);
    close(fd);
    return ntohs(sa.sin_port);
}

static bool http_ok(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = false;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
        const char req[] = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        char resp[16] = {0};
        ok = write(fd, req, sizeof(req) - 1) > 0 && read(fd, resp, 12) >= 12 &&
             strncmp(resp + 9, "200", 3) == 0;
    }
    close(fd);
    return ok;
}

/* The app's own start: fork+exec, then GET / until it answers, in ms. */
static double direct(const char *demo)
{
    char port[16];
    snprintf(port, sizeof(port), "%u", (unsigned)free_port());
    uint64_t t0 = clock_mono_ns();
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        execl(demo, demo, "--port", port, "--version", "v2", (char *)NULL);
        _exit(127);
    }
    while (!http_ok((uint16_t)atoi(port)))
        usleep(200);
    double ms = (double)(clock_mono_ns() - t0) / 1e6;
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    return ms;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: start_ready DOPPEL DEMO_APP [N]\n");
        return 2;
    }
    int n = argc > 3 ? atoi(argv[3]) : 30;
    double *d = calloc((size_t)n, sizeof(double)), *p = calloc((size_t)n, sizeof(double)),
           *s = calloc((size_t)n, sizeof(double));
    signal(SIGPIPE, SIG_IGN);
    log_set_level(LOG_WARN);
    for (int i = 0; i < n; i++) { /* interleaved, so drift hits all three alike */
        d[i] = direct(argv[2]);
        p[i] = provisioned(argv[1], argv[2], false);
        if (geteuid() == 0)
            s[i] = provisioned(argv[1], argv[2], true);
    }
    double md = median(d, n), mp = median(p, n);
    printf("runs: %d (medians)\n", n);
    printf("demo-app own start (fork+exec -> GET / answers):  %7.2f ms\n", md);
    printf("provision_start -> READY, unsealed:                %7.2f ms  (+%.2f ms)\n", mp,
           mp - md);
    if (geteuid() == 0) {
        double ms = median(s, n);
        printf("provision_start -> READY, sealed (netns):          %7.2f ms  (+%.2f ms)\n", ms,
               ms - md);
    } else {
        printf("sealed (netns): skipped, needs root\n");
    }
    free(d);
    free(p);
    free(s);
    return 0;
}
