/* SPDX-License-Identifier: Apache-2.0 */
/*
 * provision_cgroup: per-instance cgroups, v2 or v1 (see provision_cgroup.h).
 */
#include "provision/provision_cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_file(const char *dir, const char *file, const char *text)
{
    char path[PROVISION_PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, text, strlen(text));
    int rc = n == (ssize_t)strlen(text) ? 0 : -errno;
    close(fd);
    return rc;
}

static int read_file(const char *dir, const char *file, char *out, size_t len)
{
    char path[PROVISION_PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, out, len - 1);
    close(fd);
    out[n > 0 ? n : 0] = '\0';
    return n >= 0 ? 0 : -errno;
}

/* The value after "key " in a "key value" per line file, or 0. */
static uint64_t keyed_value(const char *text, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, kl) == 0 && p[kl] == ' ')
            return strtoull(p + kl + 1, NULL, 10);
    }
    return 0;
}

/* list is "cpu,cpuacct": an exact member, not a prefix ("cpu" is not "cpuset"). */
static bool has_controller(const char *list, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = list; p; p = strchr(p, ','), p = p ? p + 1 : NULL)
        if (strncmp(p, name, nl) == 0 && (p[nl] == ',' || p[nl] == '\0'))
            return true;
    return false;
}

/* doppel's own cgroup path in hierarchy `controller` ("" for v2's unified line). */
static int own_cgroup(const char *controller, char *out, size_t len)
{
    char text[4096];
    if (read_file("/proc/self", "cgroup", text, sizeof(text)) != 0)
        return -ENOENT;
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char *c1 = strchr(l, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = '\0';
        bool match = controller[0] ? has_controller(c1 + 1, controller) : c1[1] == '\0';
        if (match) {
            snprintf(out, len, "%s", strcmp(c2 + 1, "/") == 0 ? "" : c2 + 1);
            return 0;
        }
    }
    return -ENOENT;
}

static int make_dir(const char *root, const char *sub, const char *own, const char *name, char *out,
                    size_t len)
{
    int n = snprintf(out, len, "%s%s%s%s/doppel-%s", root, sub[0] ? "/" : "", sub, own, name);
    if (n < 0 || (size_t)n >= len)
        return -ENAMETOOLONG;
    if (mkdir(out, 0755) != 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static int create_v2(const char *root, const char *name, const struct provision_resources *r,
                     struct pcgroup *cg)
{
    char own[PROVISION_PATH_MAX], v[64];
    int rc = own_cgroup("", own, sizeof(own));
    if (!rc)
        rc = make_dir(root, "", own, name, cg->dirs[0], sizeof(cg->dirs[0]));
    if (rc)
        return rc;
    cg->version = 2;
    cg->ndirs = 1;
    if (r->memory_limit) {
        snprintf(v, sizeof(v), "%llu", (unsigned long long)r->memory_limit);
        rc = write_file(cg->dirs[0], "memory.max", v);
        if (!rc)
            write_file(cg->dirs[0], "memory.swap.max", "0");
    }
    if (!rc && r->cpu_limit_milli) {
        snprintf(v, sizeof(v), "%llu 100000", (unsigned long long)r->cpu_limit_milli * 100);
        rc = write_file(cg->dirs[0], "cpu.max", v);
    }
    return rc;
}

static int create_v1(const char *root, const char *name, const struct provision_resources *r,
                     struct pcgroup *cg)
{
    char own[PROVISION_PATH_MAX], v[64];
    int rc = own_cgroup("memory", own, sizeof(own));
    if (!rc)
        rc = make_dir(root, "memory", own, name, cg->dirs[0], sizeof(cg->dirs[0]));
    if (rc)
        return rc;
    cg->version = 1;
    cg->ndirs = 1;
    if (own_cgroup("cpu", own, sizeof(own)) == 0 &&
        make_dir(root, "cpu", own, name, cg->dirs[1], sizeof(cg->dirs[1])) == 0)
        cg->ndirs = 2;
    if (r->memory_limit) {
        snprintf(v, sizeof(v), "%llu", (unsigned long long)r->memory_limit);
        rc = write_file(cg->dirs[0], "memory.limit_in_bytes", v);
        if (!rc) /* no swapping around the limit where swap accounting exists */
            write_file(cg->dirs[0], "memory.memsw.limit_in_bytes", v);
    }
    if (!rc && r->cpu_limit_milli) {
        if (cg->ndirs < 2)
            return -ENOENT;
        snprintf(v, sizeof(v), "%llu", (unsigned long long)r->cpu_limit_milli * 100);
        rc = write_file(cg->dirs[1], "cpu.cfs_period_us", "100000");
        if (!rc)
            rc = write_file(cg->dirs[1], "cpu.cfs_quota_us", v);
    }
    return rc;
}

int pcgroup_create(const char *mount_root, const char *name, const struct provision_resources *r,
                   struct pcgroup *cg, struct err *err)
{
    char probe[PROVISION_PATH_MAX + 32];
    memset(cg, 0, sizeof(*cg));
    snprintf(probe, sizeof(probe), "%s/cgroup.controllers", mount_root);
    bool v2 = access(probe, F_OK) == 0;
    snprintf(probe, sizeof(probe), "%s/memory", mount_root);
    bool v1 = !v2 && access(probe, F_OK) == 0;
    if (!v1 && !v2)
        return err_set(err, -ENOENT, "no cgroup v1 or v2 hierarchy under '%s'", mount_root);
    int rc = v2 ? create_v2(mount_root, name, r, cg) : create_v1(mount_root, name, r, cg);
    if (rc) {
        err_set(err, rc, "cannot set up cgroup v%d '%s' under '%s': %s", v2 ? 2 : 1, name,
                mount_root, strerror(-rc));
        pcgroup_remove(cg);
        memset(cg, 0, sizeof(*cg));
    }
    return rc;
}

void pcgroup_join(const struct pcgroup *cg, int pid)
{
    char v[32];
    snprintf(v, sizeof(v), "%d\n", pid);
    for (int i = 0; i < cg->ndirs; i++)
        write_file(cg->dirs[i], "cgroup.procs", v);
}

uint64_t pcgroup_oom_kills(const struct pcgroup *cg)
{
    char text[1024];
    if (cg->version == 2 && read_file(cg->dirs[0], "memory.events", text, sizeof(text)) == 0)
        return keyed_value(text, "oom_kill");
    if (cg->version == 1 && read_file(cg->dirs[0], "memory.oom_control", text, sizeof(text)) == 0)
        return keyed_value(text, "oom_kill");
    return 0;
}

void pcgroup_usage(const struct pcgroup *cg, uint64_t *memory, uint64_t *cpu_usec)
{
    char text[1024];
    *memory = *cpu_usec = 0;
    if (!cg->version)
        return;
    const char *mem_file = cg->version == 2 ? "memory.current" : "memory.usage_in_bytes";
    if (read_file(cg->dirs[0], mem_file, text, sizeof(text)) == 0)
        *memory = strtoull(text, NULL, 10);
    if (cg->version == 2 && read_file(cg->dirs[0], "cpu.stat", text, sizeof(text)) == 0)
        *cpu_usec = keyed_value(text, "usage_usec");
}

static void kill_members(const char *dir)
{
    char text[4096];
    if (read_file(dir, "cgroup.procs", text, sizeof(text)) != 0)
        return;
    for (char *p = text; *p;) {
        char *end;
        long pid = strtol(p, &end, 10);
        if (end == p)
            break;
        if (pid > 0)
            kill((pid_t)pid, SIGKILL);
        p = end + (*end != '\0');
    }
}

void pcgroup_remove(const struct pcgroup *cg)
{
    for (int i = 0; i < cg->ndirs; i++) {
        if (!cg->dirs[i][0])
            continue;
        kill_members(cg->dirs[i]);
        for (int tries = 0; tries < 50 && rmdir(cg->dirs[i]) != 0 && errno == EBUSY; tries++)
            usleep(1000); /* the killed members leave the cgroup asynchronously */
    }
}

void pcgroup_describe(const struct pcgroup *cg, char *out, size_t len)
{
    out[0] = '\0';
    size_t used = 0;
    for (int i = 0; i < cg->ndirs && used < len; i++) {
        int n = snprintf(out + used, len - used, "%s%s", i ? ":" : "", cg->dirs[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}
