/* SPDX-License-Identifier: Apache-2.0 */
/*
 * provision_exec: the instance's exec wrapper (see provision_exec.h). Runs in the child
 * only; every failure is a message on stderr (captured in the instance's log) and exit
 * status 127, which the driver reports as a failed start.
 */
#include "provision/provision_exec.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/str.h"

#define EXEC_MAX_CGROUPS 4

struct exec_opts {
    uint64_t nofile, as;
    const char *cgroups[EXEC_MAX_CGROUPS];
    int ncgroups;
    int netns;
    int sync_fd;
    char **argv;
};

static int fail(const char *what, const char *arg, int e)
{
    fprintf(stderr, "doppel: instance %s '%s' failed: %s\n", what, arg, strerror(e));
    return 127;
}

static int parse_u64(const char *s, uint64_t *out)
{
    return str_to_u64(s, out) == 0 ? 0 : -EINVAL;
}

static int parse_fd(const char *s, int *out)
{
    int64_t v;
    if (str_to_i64(s, &v) != 0 || v < 3 || v > 1024)
        return -EINVAL;
    *out = (int)v;
    return 0;
}

static int parse_opts(int argc, char **argv, struct exec_opts *o)
{
    int i;
    for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        const char *a = argv[i];
        int rc = 0;
        if (!strncmp(a, "--nofile=", 9))
            rc = parse_u64(a + 9, &o->nofile);
        else if (!strncmp(a, "--as=", 5))
            rc = parse_u64(a + 5, &o->as);
        else if (!strncmp(a, "--cgroup=", 9) && o->ncgroups < EXEC_MAX_CGROUPS)
            o->cgroups[o->ncgroups++] = a + 9;
        else if (!strcmp(a, "--netns"))
            o->netns = 1;
        else if (!strncmp(a, "--sync-fd=", 10))
            rc = parse_fd(a + 10, &o->sync_fd);
        else
            rc = -EINVAL;
        if (rc)
            return fail("option", a, EINVAL);
    }
    if (i + 1 >= argc)
        return fail("option", "--", EINVAL);
    o->argv = argv + i + 1;
    return 0;
}

static int set_limit(int res, uint64_t v, const char *name)
{
    struct rlimit rl = {.rlim_cur = v, .rlim_max = v};
    if (v && setrlimit(res, &rl) != 0)
        return fail("setrlimit", name, errno);
    return 0;
}

static int join_cgroup(const char *dir)
{
    char path[512], pid[32];
    snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
    int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, pid, (size_t)n) != n) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return fail("joining cgroup", dir, e);
    }
    close(fd);
    return 0;
}

static int loopback_up(void)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, "lo", 3);
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) != 0)
        return fail("loopback", "lo", errno);
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    int rc = ioctl(s, SIOCSIFFLAGS, &ifr);
    int e = errno;
    close(s);
    return rc ? fail("loopback", "lo", e) : 0;
}

/* Tells the driver the namespace exists and waits until it answers (it sets up the egress
 * bridges inside the namespace first, so the instance finds them from its first line). */
static int sync_with_driver(int fd)
{
    char c = 'n';
    if (write(fd, &c, 1) != 1 || read(fd, &c, 1) != 1)
        return fail("sync with doppel", "fd", errno ? errno : EPIPE);
    close(fd);
    return 0;
}

int provision_exec_main(int argc, char **argv)
{
    struct exec_opts o = {.sync_fd = -1};
    int rc = parse_opts(argc, argv, &o);
    if (!rc)
        rc = set_limit(RLIMIT_NOFILE, o.nofile, "nofile");
    if (!rc)
        rc = set_limit(RLIMIT_AS, o.as, "as");
    for (int i = 0; i < o.ncgroups && !rc; i++)
        rc = join_cgroup(o.cgroups[i]);
    if (!rc && o.netns && unshare(CLONE_NEWNET) != 0)
        rc = fail("unshare", "CLONE_NEWNET", errno);
    if (!rc && o.netns)
        rc = loopback_up();
    if (!rc && o.sync_fd >= 0)
        rc = sync_with_driver(o.sync_fd);
    if (rc)
        return rc;
    execvp(o.argv[0], o.argv);
    return fail("exec", o.argv[0], errno);
}
