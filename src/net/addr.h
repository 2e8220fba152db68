/* SPDX-License-Identifier: Apache-2.0 */
/*
 * addr: socket addresses from "host:port" text ("127.0.0.1:80", "[::1]:80",
 * "localhost:80"), back to text, and listening sockets that several worker threads share
 * through SO_REUSEPORT (libuv 1.44 cannot set it, so the socket is made here and handed to
 * uv_tcp_open).
 */
#ifndef DOPPEL_NET_ADDR_H
#define DOPPEL_NET_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

#include "base/err.h"

/* Parses "host:port" (numeric IPv4/IPv6 or "localhost"; port 0..65535). */
int net_addr_parse(const char *hostport, struct sockaddr_storage *out, struct err *err);
/* "1.2.3.4:80" / "[::1]:80" into out (at least 64 bytes). */
void net_addr_str(const struct sockaddr *sa, char *out, size_t len);
/* The IP part only ("1.2.3.4", "::1"). */
void net_addr_ip(const struct sockaddr *sa, char *out, size_t len);
int net_addr_port(const struct sockaddr *sa);
void net_addr_set_port(struct sockaddr_storage *sa, int port);
/* A non-blocking TCP socket bound to sa with SO_REUSEADDR and SO_REUSEPORT, listening.
 * Returns the fd or -errno. */
int net_listen_socket(const struct sockaddr *sa, int backlog);

#endif
