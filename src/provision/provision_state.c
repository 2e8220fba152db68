/* SPDX-License-Identifier: Apache-2.0 */
/*
 * provision_state: instance records and the orphan sweep (see provision_state.h).
 */
#include "provision/provision_state.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "provision/provision_cgroup.h"
#include "provision/provision_proc.h"

#define RECORD_EXT ".instance"

static uint64_t self_start(void)
{
    struct pproc_stat st;
    return pproc_read_stat(getpid(), &st) == 0 ? st.start_ticks : 0;
}

int pstate_write(const char *dir, const struct provision_instance *in, uint64_t start_ticks)
{
    char path[PROVISION_PATH_MAX * 2], tmp[PROVISION_PATH_MAX * 2 + 8];
    snprintf(path, sizeof(path), "%s/%s" RECORD_EXT, dir, in->id);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "we");
    if (!f)
        return -errno;
    fprintf(f,
            "owner=%d\nowner_start=%llu\npid=%d\nstart=%llu\nport=%u\ncgroup=%s\n"
            "service=%s\nrole=%s\npool=%s\nshadow_of=%s\nchange_id=%s\ncreated_at_ms=%llu\n",
            (int)getpid(), (unsigned long long)self_start(), (int)in->pid,
            (unsigned long long)start_ticks, (unsigned)in->port, in->cgroup, in->service,
            provision_role_name(in->role), in->pool, in->shadow_of, in->change_id,
            (unsigned long long)in->created_at_ms);
    int rc = fclose(f) == 0 ? 0 : -errno;
    if (!rc && rename(tmp, path) != 0)
        rc = -errno;
    return rc;
}

void pstate_remove(const char *dir, const char *id)
{
    char path[PROVISION_PATH_MAX * 2];
    snprintf(path, sizeof(path), "%s/%s" RECORD_EXT, dir, id);
    unlink(path);
}

struct record {
    long owner, pid;
    unsigned long long owner_start, start;
    char cgroup[PROVISION_PATH_MAX * 2];
};

static void read_record(FILE *f, struct record *r)
{
    char line[PROVISION_PATH_MAX * 2 + 32];
    memset(r, 0, sizeof(*r));
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq++ = '\0';
        if (!strcmp(line, "owner"))
            r->owner = strtol(eq, NULL, 10);
        else if (!strcmp(line, "owner_start"))
            r->owner_start = strtoull(eq, NULL, 10);
        else if (!strcmp(line, "pid"))
            r->pid = strtol(eq, NULL, 10);
        else if (!strcmp(line, "start"))
            r->start = strtoull(eq, NULL, 10);
        else if (!strcmp(line, "cgroup"))
            snprintf(r->cgroup, sizeof(r->cgroup), "%s", eq);
    }
}

static void remove_cgroups(const char *list)
{
    struct pcgroup cg = {.version = 1};
    char copy[PROVISION_PATH_MAX * 2], *save = NULL;
    snprintf(copy, sizeof(copy), "%s", list);
    for (char *d = strtok_r(copy, ":", &save); d && cg.ndirs < PCGROUP_MAX_DIRS;
         d = strtok_r(NULL, ":", &save))
        snprintf(cg.dirs[cg.ndirs++], sizeof(cg.dirs[0]), "%s", d);
    pcgroup_remove(&cg);
}

/* Kills the stray instance's process group; 1 when something was running. */
static int clean_one(const char *path, const char *name)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    struct record r;
    read_record(f, &r);
    fclose(f);
    if (pproc_alive((pid_t)r.owner, r.owner_start))
        return 0; /* its owner (another doppel, or this one) runs */
    int killed = 0;
    if (r.pid > 0 && pproc_alive((pid_t)r.pid, r.start)) {
        kill(-(pid_t)r.pid, SIGKILL); /* instances lead their own process group */
        kill((pid_t)r.pid, SIGKILL);
        killed = 1;
        log_warn("provision", "removed orphan instance '%.*s' (pid %ld) left by doppel pid %ld",
                 (int)(strlen(name) - strlen(RECORD_EXT)), name, r.pid, r.owner);
    }
    for (int i = 0; killed && i < 100 && pproc_alive((pid_t)r.pid, r.start); i++)
        usleep(2000);
    if (r.cgroup[0])
        remove_cgroups(r.cgroup);
    unlink(path);
    return killed;
}

size_t pstate_sweep(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name), el = strlen(RECORD_EXT);
        if (len <= el || strcmp(e->d_name + len - el, RECORD_EXT) != 0)
            continue;
        char path[PROVISION_PATH_MAX * 2];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        n += (size_t)clean_one(path, e->d_name);
    }
    closedir(d);
    return n;
}
