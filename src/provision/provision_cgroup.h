/* SPDX-License-Identifier: Apache-2.0 */
/*
 * provision_cgroup: one cgroup per instance for its CPU and memory limits, its OOM-kill
 * count and its usage. cgroup v2 (one directory under doppel's own cgroup: cpu.max,
 * memory.max, memory.events) or v1 (a directory under doppel's cgroup in the memory and
 * cpu hierarchies: memory.limit_in_bytes, memory.oom_control, cpu.cfs_quota_us), whichever
 * the machine has and lets doppel write. Where it cannot, the instance runs with rlimits
 * only and the caller prints the reason.
 */
#ifndef DOPPEL_PROVISION_PROVISION_CGROUP_H
#define DOPPEL_PROVISION_PROVISION_CGROUP_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "provision/provision.h"

#define PCGROUP_MAX_DIRS 2

struct pcgroup {
    int version; /* 1 or 2; 0: none */
    int ndirs;
    char dirs[PCGROUP_MAX_DIRS][PROVISION_PATH_MAX]; /* v2: one; v1: memory, cpu */
};

/* Creates the cgroup "doppel-<name>" and writes the limits of r. 0, or -errno with err
 * saying why (no cgroup filesystem, not writable, controller missing); cg is then empty.
 * mount_root is "/sys/fs/cgroup" except in tests. */
int pcgroup_create(const char *mount_root, const char *name, const struct provision_resources *r,
                   struct pcgroup *cg, struct err *err);
/* Moves pid into the cgroup (each directory); errors are ignored: accounting only. */
void pcgroup_join(const struct pcgroup *cg, int pid);
/* OOM kills counted by the kernel in this cgroup (0 without one). */
uint64_t pcgroup_oom_kills(const struct pcgroup *cg);
/* Memory in use (bytes) and CPU used (microseconds; 0 on v1) by the cgroup. */
void pcgroup_usage(const struct pcgroup *cg, uint64_t *memory, uint64_t *cpu_usec);
/* Kills what is left in it and removes the directories. */
void pcgroup_remove(const struct pcgroup *cg);
/* "dir1:dir2" for provision_instance.cgroup. */
void pcgroup_describe(const struct pcgroup *cg, char *out, size_t len);

#endif
