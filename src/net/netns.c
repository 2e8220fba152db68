/* SPDX-License-Identifier: Apache-2.0 */
/*
 * netns: sockets made inside another network namespace (see netns.h).
 */
#include "net/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct netns_job {
    const char *path;
    int (*fn)(void *arg);
    void *arg;
    int rc;
};

static void *netns_thread(void *p)
{
    struct netns_job *j = p;
    int fd = open(j->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        j->rc = -errno;
        return NULL;
    }
    if (setns(fd, CLONE_NEWNET) != 0) {
        j->rc = -errno;
        close(fd);
        return NULL;
    }
    close(fd);
    j->rc = j->fn(j->arg);
    return NULL;
}

int net_netns_run(const char *ns_path, int (*fn)(void *arg), void *arg)
{
    struct netns_job j = {.path = ns_path, .fn = fn, .arg = arg, .rc = -EINVAL};
    pthread_t t;
    int rc = pthread_create(&t, NULL, netns_thread, &j);
    if (rc)
        return -rc;
    pthread_join(t, NULL);
    return j.rc;
}

static int make_socket(void *arg)
{
    (void)arg;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    return fd < 0 ? -errno : fd;
}

int net_netns_tcp_socket(const char *ns_path)
{
    return net_netns_run(ns_path, make_socket, NULL);
}

static int make_listener(void *arg)
{
    uint16_t port = *(uint16_t *)arg;
    int fd = make_socket(NULL), one = 1;
    if (fd < 0)
        return fd;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 128) != 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

int net_netns_tcp_listen(const char *ns_path, uint16_t port)
{
    return net_netns_run(ns_path, make_listener, &port);
}
