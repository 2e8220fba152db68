/* SPDX-License-Identifier: Apache-2.0 */
/*
 * addr: address parsing/printing and SO_REUSEPORT listening sockets.
 */
#include "net/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/str.h"

int net_addr_parse(const char *hostport, struct sockaddr_storage *out, struct err *err)
{
    char host[128];
    const char *colon, *h = hostport;
    size_t hlen;
    memset(out, 0, sizeof(*out));
    if (!hostport)
        return err_set(err, -EINVAL, "missing address");
    if (*h == '[') {
        const char *end = strchr(h, ']');
        if (!end || end[1] != ':')
            return err_set(err, -EINVAL, "'%s' is not [ipv6]:port", hostport);
        h++;
        hlen = (size_t)(end - h);
        colon = end + 1;
    } else {
        colon = strrchr(h, ':');
        if (!colon)
            return err_set(err, -EINVAL, "'%s' is not host:port", hostport);
        hlen = (size_t)(colon - h);
    }
    int64_t port;
    if (hlen == 0 || hlen >= sizeof(host) || str_to_i64(colon + 1, &port) || port < 0 ||
        port > 65535)
        return err_set(err, -EINVAL, "'%s' is not host:port with a port 0..65535", hostport);
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        return 0;
    }
    return err_set(err, -EINVAL, "'%s': host must be a numeric IP address or localhost", hostport);
}

void net_addr_ip(const struct sockaddr *sa, char *out, size_t len)
{
    if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)len);
    else if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)len);
    else
        snprintf(out, len, "unknown");
}

int net_addr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return ntohs(((const struct sockaddr_in *)sa)->sin_port);
}

void net_addr_set_port(struct sockaddr_storage *sa, int port)
{
    if (sa->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
}

void net_addr_str(const struct sockaddr *sa, char *out, size_t len)
{
    char ip[64];
    net_addr_ip(sa, ip, sizeof(ip));
    if (sa->sa_family == AF_INET6)
        snprintf(out, len, "[%s]:%d", ip, net_addr_port(sa));
    else
        snprintf(out, len, "%s:%d", ip, net_addr_port(sa));
}

int net_listen_socket(const struct sockaddr *sa, int backlog)
{
    int one = 1;
    socklen_t slen =
        sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) || bind(fd, sa, slen) ||
        listen(fd, backlog)) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}
