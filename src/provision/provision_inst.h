/* SPDX-License-Identifier: Apache-2.0 */
/*
 * provision_inst: the process driver's private types, shared by its files: the
 * provisioner (struct pprov), one instance (struct pinst) with everything it needs to be
 * respawned (expanded argv and environment, limits, probe, log files), and the functions
 * the files call on each other. Internal to the provision room.
 */
#ifndef DOPPEL_PROVISION_PROVISION_INST_H
#define DOPPEL_PROVISION_PROVISION_INST_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "base/list.h"
#include "provision/provision.h"
#include "provision/provision_cgroup.h"

#define PEGRESS_MAX 8

struct pegress;

struct pprov {
    struct provision base; /* first: the ops dispatch casts */
    uv_loop_t *loop;       /* borrowed */
    struct list instances; /* struct pinst.node */
    size_t nalloc;         /* instances not yet freed (some may be closing handles) */
    char *exec_path, *cgroup_root, *state_dir;
    void (*stop_all_done)(void *ctx);
    void *stop_all_ctx;
    bool orphaned; /* provision_free was called: free when nalloc drops to 0 */
    struct list zombies;
    char cgroup_warned; /* the "no cgroup limits" warning is printed once */
};

struct pinst {
    struct list node;
    struct pprov *pp;
    struct provision_instance info;
    char **argv; /* the exec wrapper's, NULL-terminated, expanded */
    char **envp; /* NULL-terminated */
    char *cwd;
    struct provision_probe probe;
    char *probe_path;
    uint64_t start_timeout_ns, stop_grace_ns;
    struct provision_restart restart;
    struct provision_resources res;
    bool sealed;
    char *egress[PEGRESS_MAX]; /* "host:port" */
    size_t negress;
    struct pegress *bridges[PEGRESS_MAX];
    char *log_path[2];
    uint64_t log_max, logsize[2];
    uint32_t log_keep;
    int logfd[2];
    char readbuf[2][4096];
    struct pcgroup cg;

    uv_process_t proc;
    uv_pipe_t out[2];
    uv_pipe_t sync;      /* sealed with egress: the wrapper waits on it for the bridges */
    uv_timer_t timer;    /* probe attempts */
    uv_timer_t deadline; /* start timeout, backoff delay, stop grace */
    unsigned open_handles;
    bool running, stopping, restart_now, freeing;
    bool wrapped; /* spawned through the exec wrapper (argv[0] is doppel) */
    uint32_t fail_streak;
    uint64_t oom_before, start_ticks, spawned_ns, ready_ns;

    /* the probe's current attempt */
    uv_tcp_t ptcp;
    uv_connect_t pconn;
    uv_write_t pwrite;
    bool probing;
    uint64_t probe_started_ns;
    char presp[64];
    size_t presp_len;
    char preq[512];

    /* sampling */
    uint64_t sample_prev_ticks, sample_prev_ns;
    uint64_t cpu_ticks_total; /* CPU of all the instance's processes so far, at the samples */
    struct provision_sample last;
};

struct pinst *pinst_new(struct pprov *pp, const struct provision_spec *spec, struct err *err);
void pinst_free(struct pinst *in);
void pinst_close(struct pinst *in, uv_handle_t *h);
/* Accounts one closed handle; true when that freed the instance. */
bool pinst_handle_closed(struct pinst *in);
void pinst_ready(struct pinst *in);
void pprov_free(struct pprov *pp);
void pprov_maybe_free(struct pprov *pp);

void pprobe_start(struct pinst *in);
void pprobe_cancel(struct pinst *in);

int psample_one(struct provision *p, const char *id, struct provision_sample *out);

#endif
