/* SPDX-License-Identifier: Apache-2.0 */
/*
 * provision: the instance driver interface. The composition root (and later the
 * controller) asks a provisioner to start a group of instances from a spec (command,
 * arguments, environment, replicas, readiness probe, restart policy, resource requests and
 * limits, isolation, labels) and then to stop, kill, pause, resume or restart one instance,
 * to list instances by label and to sample their resource use. The `process` driver
 * (provision_process.c) runs instances as child processes of doppel; a `kubernetes` driver
 * will implement the same operations with Deployments (labels become k8s labels, replicas
 * a Deployment's replicas, requests/limits a container's resources).
 *
 * Sits at the end of the pipeline (control -> provision); knows config only through the
 * plain spec below, so the app translates config into a spec. Owns its instances: every
 * instance a provisioner started is stopped by provision_free().
 *
 * Threads: every function is called on the loop the provisioner was created on (the app's
 * control loop); none blocks. Instance ids are strings ("api-shadow-v2-1"), unique within a
 * provisioner and stable across restarts of the same instance.
 */
#ifndef DOPPEL_PROVISION_PROVISION_H
#define DOPPEL_PROVISION_PROVISION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/buf.h"
#include "base/err.h"

#define PROVISION_ID_MAX 96
#define PROVISION_PATH_MAX 256

enum provision_role {
    PROVISION_ROLE_PRIMARY = 0,
    PROVISION_ROLE_SHADOW,
};

enum provision_state {
    PROVISION_STARTING = 0, /* spawned, readiness probe not yet passed */
    PROVISION_READY,        /* probe passed; serving */
    PROVISION_PAUSED,       /* SIGSTOP'ed (chaos); resume() continues it */
    PROVISION_BACKOFF,      /* exited; restarted after the backoff delay */
    PROVISION_STOPPING,     /* SIGTERM sent; SIGKILL after the grace period */
    PROVISION_EXITED,       /* gone for good (stopped, or restart policy gave up) */
};

enum provision_probe_kind {
    PROVISION_PROBE_TCP = 0, /* ready once the port accepts a connection */
    PROVISION_PROBE_HTTP,    /* ready once GET path answers 2xx or 3xx */
    PROVISION_PROBE_NONE,    /* ready as soon as spawned */
};

enum provision_restart_policy {
    PROVISION_RESTART_ON_FAILURE = 0, /* restart after a non-zero exit or a signal */
    PROVISION_RESTART_ALWAYS,
    PROVISION_RESTART_NEVER,
};

enum provision_isolation {
    PROVISION_ISOLATION_NONE = 0,
    PROVISION_ISOLATION_NETNS, /* own network namespace, loopback only (+ egress bridges) */
};

/* Labels every instance carries; they select instances (list, stop by label) and are
 * written next to its pid file so a restarted doppel can adopt or clean it. */
struct provision_labels {
    const char *service; /* "api" */
    enum provision_role role;
    const char *shadow_of;  /* shadows: the service they shadow; NULL for primaries */
    const char *pool;       /* the pool name: "primary" or the shadow's name */
    const char *change_id;  /* the proposed change, or NULL */
    uint64_t created_at_ms; /* wall clock, set by the driver at start */
};

struct provision_probe {
    enum provision_probe_kind kind;
    const char *path;     /* HTTP: "/healthz" */
    uint64_t interval_ns; /* between attempts */
    uint64_t timeout_ns;  /* of one attempt */
};

/* Requests are what a scheduler reserves (kubernetes); limits are enforced: rlimits always,
 * cgroup cpu.max / memory.max where writable. 0 means unset. */
struct provision_resources {
    uint32_t cpu_request_milli, cpu_limit_milli; /* 1000 = one core */
    uint64_t memory_request, memory_limit;       /* bytes */
    uint64_t nofile;                             /* RLIMIT_NOFILE */
    uint64_t address_space;                      /* RLIMIT_AS, bytes */
};

struct provision_restart {
    enum provision_restart_policy policy;
    uint64_t backoff_ns;     /* first delay; doubles per consecutive failure */
    uint64_t max_backoff_ns; /* cap of the delay */
    uint32_t max_restarts;   /* 0: unlimited */
};

/* Everything the driver needs to start `replicas` instances. Strings are borrowed for the
 * call (the driver copies what it keeps). In command, args and env values, `{port}`
 * becomes the instance's port and `{instance}` its id. */
struct provision_spec {
    const char *name; /* id prefix: "api-primary"; ids are "<name>-<n>" */
    const char *command;
    const char *const *args;
    size_t nargs;
    const char *const *env; /* "KEY=VALUE", added to doppel's environment */
    size_t nenv;
    const char *cwd; /* NULL: doppel's */
    uint32_t replicas;
    struct provision_probe probe;
    uint64_t start_timeout_ns; /* not ready by then: killed and restarted per policy */
    uint64_t stop_grace_ns;    /* SIGTERM to SIGKILL */
    struct provision_restart restart;
    struct provision_resources resources;
    enum provision_isolation isolation;
    const char *const *egress; /* "host:port" reachable from a netns instance */
    size_t negress;
    const char *log_dir;    /* per-instance <id>.stdout.log / <id>.stderr.log; NULL: none */
    uint64_t log_max_bytes; /* rotate past this (0: never) */
    uint32_t log_keep;      /* rotated files kept */
    struct provision_labels labels;
};

/* A plain snapshot of one instance (no pointers into the driver). */
struct provision_instance {
    char id[PROVISION_ID_MAX];
    char service[64], pool[64], shadow_of[64], change_id[64];
    enum provision_role role;
    uint64_t created_at_ms;
    enum provision_state state;
    pid_t pid;     /* 0 when not running */
    uint16_t port; /* the port it serves on (loopback, inside its netns when sealed) */
    bool sealed;   /* isolation: netns */
    uint32_t restarts;
    int last_exit;      /* exit status, or -signal; 0 before any exit */
    bool oom_killed;    /* the last exit was the kernel's OOM killer (cgroup memory.max) */
    uint32_t oom_kills; /* over the instance's life */
    /* The instance's cgroup directories, ':'-separated: one on cgroup v2, the memory and
     * cpu ones on v1; "" when none. A process written to each one's cgroup.procs runs
     * inside the instance's limits (the chaos room's CPU burn and memory pressure). */
    char cgroup[PROVISION_PATH_MAX * 2];
    char netns[PROVISION_PATH_MAX]; /* "/proc/<pid>/ns/net" when sealed, else "" */
};

/* One resource sample (from /proc and the cgroup). */
struct provision_sample {
    double cpu_percent;       /* since the previous sample; 100 = one core */
    double cpu_seconds_total; /* user + system of the instance's processes (restarts summed) */
    uint64_t rss_bytes;
    uint32_t threads;
    uint32_t open_fds;
    uint64_t cgroup_memory_bytes; /* memory.current, 0 without a cgroup */
    uint64_t cgroup_cpu_usec;     /* cpu.stat usage_usec */
    uint64_t at_ms;               /* wall clock of the sample */
};

/* What the selector leaves NULL (or role -1) matches anything. */
struct provision_selector {
    const char *service;
    int role; /* enum provision_role, or -1 */
    const char *pool;
    const char *change_id;
    const char *id;
};

enum provision_event {
    PROVISION_EV_READY = 0, /* probe passed (also after a restart) */
    PROVISION_EV_UNREADY,   /* exited, killed, paused or start timeout */
    PROVISION_EV_EXITED,    /* the process ended (see last_exit / oom_killed) */
    PROVISION_EV_REMOVED,   /* stopped for good and forgotten */
};

/* Told about every instance state change, on the provisioner's loop. */
typedef void provision_event_cb(void *ctx, enum provision_event ev,
                                const struct provision_instance *inst);

struct provision;

/* The operations a driver implements; the provision_* functions below dispatch here. Each
 * returns 0 or -errno (with err filled where a user reads it). */
struct provision_ops {
    const char *name; /* "process", "kubernetes" */
    int (*start)(struct provision *p, const struct provision_spec *spec, struct err *err);
    int (*stop)(struct provision *p, const char *id);            /* graceful; then removed */
    int (*kill)(struct provision *p, const char *id, int signo); /* the restart policy applies */
    int (*pause)(struct provision *p, const char *id);
    int (*resume)(struct provision *p, const char *id);
    int (*restart)(struct provision *p, const char *id);
    int (*get)(struct provision *p, const char *id, struct provision_instance *out);
    size_t (*list)(struct provision *p, const struct provision_selector *sel,
                   struct provision_instance *out, size_t max);
    int (*sample)(struct provision *p, const char *id, struct provision_sample *out);
    void (*stop_all)(struct provision *p, void (*done)(void *ctx), void *ctx);
    void (*free)(struct provision *p);
};

struct provision {
    const struct provision_ops *ops;
    provision_event_cb *on_event; /* may be NULL */
    void *event_ctx;
};

/* Starts spec->replicas instances; they appear in list() at once (STARTING). */
int provision_start(struct provision *p, const struct provision_spec *spec, struct err *err);
/* SIGTERM, SIGKILL after the grace period; the instance is then removed. */
int provision_stop(struct provision *p, const char *id);
/* Sends signo (SIGKILL for the chaos "kill" fault); the restart policy then applies. */
int provision_kill(struct provision *p, const char *id, int signo);
int provision_pause(struct provision *p, const char *id);  /* SIGSTOP */
int provision_resume(struct provision *p, const char *id); /* SIGCONT */
/* Stops the instance and starts it again at once (no backoff), same id and port. */
int provision_restart(struct provision *p, const char *id);
int provision_get(struct provision *p, const char *id, struct provision_instance *out);
/* Copies up to max matching instances into out; returns how many match in total. */
size_t provision_list(struct provision *p, const struct provision_selector *sel,
                      struct provision_instance *out, size_t max);
int provision_sample(struct provision *p, const char *id, struct provision_sample *out);
/* Stops every instance; done runs (on the loop) once all have exited. */
void provision_stop_all(struct provision *p, void (*done)(void *ctx), void *ctx);
/* Frees the provisioner; instances still running get SIGKILL first. NULL-safe. */
void provision_free(struct provision *p);
void provision_set_event_cb(struct provision *p, provision_event_cb *cb, void *ctx);

/* Names for JSON and logs. */
const char *provision_state_name(enum provision_state s);
const char *provision_role_name(enum provision_role r);
/* Selector match against a snapshot. */
bool provision_selector_match(const struct provision_selector *sel,
                              const struct provision_instance *inst);
/* Replaces {port} and {instance} in tmpl; the result is appended to out (capped). */
int provision_expand(const char *tmpl, uint16_t port, const char *id, struct buf *out);

#endif
