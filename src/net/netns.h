/* SPDX-License-Identifier: Apache-2.0 */
/*
 * netns: sockets made inside another network namespace. A sealed shadow runs in its own
 * namespace with only loopback; doppel reaches it by creating the socket in that namespace
 * (a socket stays in the namespace it was created in) and handing the descriptor to its
 * loop. setns() changes the calling thread's namespace, so the work runs on a short-lived
 * thread and the caller's thread never leaves doppel's own namespace.
 */
#ifndef DOPPEL_NET_NETNS_H
#define DOPPEL_NET_NETNS_H

#include <stdint.h>

/* Runs fn(arg) on a new thread that has joined the namespace at ns_path
 * ("/proc/<pid>/ns/net") and returns fn's result (or -errno when the namespace cannot be
 * joined: -EPERM without CAP_SYS_ADMIN). Blocks the caller for one thread's lifetime. */
int net_netns_run(const char *ns_path, int (*fn)(void *arg), void *arg);
/* A non-blocking, close-on-exec TCP socket (AF_INET) inside ns_path, or -errno. */
int net_netns_tcp_socket(const char *ns_path);
/* A non-blocking TCP socket inside ns_path listening on 127.0.0.1:port, or -errno. */
int net_netns_tcp_listen(const char *ns_path, uint16_t port);

#endif
