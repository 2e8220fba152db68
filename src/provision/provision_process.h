/* SPDX-License-Identifier: Apache-2.0 */
/*
 * provision_process: the `process` driver, doppel's embedded default. Instances are child
 * processes spawned with libuv (uv_spawn) on the provisioner's loop, each on a free
 * loopback port (or the port its command names), with a readiness probe, a start timeout,
 * a restart policy with exponential backoff, rlimits, cgroup limits where the machine lets
 * doppel write them, stdout/stderr captured to rotating per-instance log files, optional
 * network-namespace isolation, and a pid file with the instance's labels in a state
 * directory so that a doppel restarted after a crash cleans up what its predecessor left.
 */
#ifndef DOPPEL_PROVISION_PROVISION_PROCESS_H
#define DOPPEL_PROVISION_PROVISION_PROCESS_H

#include <uv.h>

#include "provision/provision.h"

struct provision_process_opts {
    const char *state_dir;   /* pid files + labels; NULL: no orphan handling */
    const char *cgroup_root; /* cgroup mount point; NULL: /sys/fs/cgroup (v2 or v1 found there) */
    const char *exec_path;   /* the doppel binary run as exec wrapper; NULL: /proc/self/exe */
};

/* A process provisioner on loop. Stray instances recorded in state_dir by an earlier doppel
 * that is no longer running are killed and their records removed (logged), so they never
 * linger. NULL with err filled when state_dir cannot be created. */
struct provision *provision_process_new(uv_loop_t *loop, const struct provision_process_opts *o,
                                        struct err *err);
/* Appends the Prometheus text of every instance's latest sample and counters to out
 * (doppel_instance_* series labelled with the instance labels). */
int provision_process_write_metrics(struct provision *p, struct buf *out);
/* Samples every running instance now (the app calls it on its sampling timer). */
void provision_process_sample_all(struct provision *p);

#endif
