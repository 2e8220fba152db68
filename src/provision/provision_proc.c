/* SPDX-License-Identifier: Apache-2.0 */
/*
 * provision_proc: reading /proc/<pid> (see provision_proc.h).
 */
#include "provision/provision_proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int pproc_parse_stat(const char *text, struct pproc_stat *out)
{
    /* "pid (comm) state ppid ..." -- comm may hold ')' so the last one ends it. */
    const char *p = strrchr(text, ')');
    if (!p || p[1] != ' ')
        return -EINVAL;
    p += 2;
    unsigned long long f[52] = {0};
    char state = *p;
    int field = 3; /* state is field 3 (1-based, as proc(5) numbers them) */
    p++;
    while (*p && field < 24) {
        while (*p == ' ')
            p++;
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p && *p != '-')
            return -EINVAL;
        if (*p == '-') /* some fields are signed; we read none of those */
            v = 0, end = (char *)p + strcspn(p, " ");
        f[++field] = v;
        p = end;
    }
    if (field < 24)
        return -EINVAL;
    *out = (struct pproc_stat){.state = state,
                               .cpu_ticks = f[14] + f[15],
                               .threads = (uint32_t)f[20],
                               .start_ticks = f[22],
                               .rss_pages = f[24]};
    return 0;
}

int pproc_read_stat(pid_t pid, struct pproc_stat *out)
{
    char path[64], text[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (n <= 0)
        return -EIO;
    text[n] = '\0';
    return pproc_parse_stat(text, out);
}

int pproc_count_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -errno;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

int pproc_alive(pid_t pid, uint64_t start_ticks)
{
    struct pproc_stat st;
    if (pid <= 0 || pproc_read_stat(pid, &st) != 0 || st.state == 'Z')
        return 0;
    return !start_ticks || st.start_ticks == start_ticks;
}
