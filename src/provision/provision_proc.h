/* SPDX-License-Identifier: Apache-2.0 */
/*
 * provision_proc: what /proc says about a process -- CPU ticks, threads, resident memory,
 * start time (to tell a process from a later one that reuses its pid) and open file
 * descriptors. The parsing is separate from the reading so tests feed it fixed text.
 */
#ifndef DOPPEL_PROVISION_PROVISION_PROC_H
#define DOPPEL_PROVISION_PROVISION_PROC_H

#include <stdint.h>
#include <sys/types.h>

struct pproc_stat {
    char state;         /* R, S, D, T (stopped), Z ... */
    uint64_t cpu_ticks; /* utime + stime, in clock ticks */
    uint32_t threads;
    uint64_t rss_pages;
    uint64_t start_ticks; /* since boot */
};

/* Parses the text of /proc/<pid>/stat (the command may hold spaces and parentheses). */
int pproc_parse_stat(const char *text, struct pproc_stat *out);
int pproc_read_stat(pid_t pid, struct pproc_stat *out);
/* Entries of /proc/<pid>/fd, or -errno. */
int pproc_count_fds(pid_t pid);
/* True when pid runs and started at start_ticks (0: any start). */
int pproc_alive(pid_t pid, uint64_t start_ticks);

#endif
