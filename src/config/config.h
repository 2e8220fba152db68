/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config: doppel's YAML configuration as a validated, immutable tree of structs. The
 * gateway rooms (listener, router, upstream, mirror, admin) and the composition root read
 * it; nothing writes it after config_load() returns. A reload builds a new one.
 *
 * Units: sizes are bytes and durations nanoseconds, both uint64_t; every string is owned
 * by the config and freed by config_free(). docs/config.md (generated from the schema
 * table in config.c) describes every key.
 */
#ifndef DOPPEL_CONFIG_CONFIG_H
#define DOPPEL_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

#define CONFIG_MAX_SERVICES 64
#define CONFIG_MAX_SHADOWS 8
#define CONFIG_MAX_UPSTREAMS 64
#define CONFIG_MAX_ROUTES 256
#define CONFIG_ANON_KEY_MIN 16
#define CONFIG_ANON_KEY_MAX 1024  /* as given in key_file / key_env */
#define CONFIG_ANON_KEY_STORED 64 /* SHA-256 block size; longer keys are stored hashed */

enum config_access_log {
    CONFIG_ACCESS_LOG_OFF = 0,
    CONFIG_ACCESS_LOG_JSON,
    CONFIG_ACCESS_LOG_LOGFMT,
};

struct config_limits {
    uint32_t max_connections;      /* per service, across workers */
    uint64_t max_header_bytes;     /* request line + headers; past it: 431 */
    uint64_t max_body_bytes;       /* past it: 413 */
    uint64_t client_timeout_ns;    /* head + body must arrive within it; else 408 */
    uint64_t keepalive_timeout_ns; /* idle client connection closed after it */
    uint64_t drain_timeout_ns;     /* in-flight exchanges get this long on SIGTERM/reload */
};

struct config_upstream {
    char *address; /* as written: "127.0.0.1:9001" */
    char *host;    /* IPv4/IPv6 literal without brackets, or "localhost" */
    uint16_t port; /* 1..65535 */
    uint32_t weight;
};

/* A pool's managed instances (`run:`): doppel starts them and their ports become the pool's
 * upstreams. A shadow's starts as a copy of the primary's; its keys override. */
enum config_run_restart {
    CONFIG_RESTART_ON_FAILURE = 0,
    CONFIG_RESTART_ALWAYS,
    CONFIG_RESTART_NEVER
};
enum config_run_isolation { CONFIG_ISOLATION_NONE = 0, CONFIG_ISOLATION_NETNS };

struct config_run {
    bool enabled; /* the pool has `run:` (else the other fields are unused) */
    char *command;
    char **args;
    size_t nargs;
    char **env; /* "KEY=VALUE"; a shadow's are merged over the primary's by KEY */
    size_t nenv;
    char *cwd;          /* resolved; default: the config file's directory */
    uint32_t instances; /* resolved: for a shadow with `scale`, from the primary's count */
    uint32_t scale_pm;  /* shadows: per mille of the primary's instances; 0: not set */
    char *ready_path;   /* HTTP readiness path; NULL: TCP connect */
    uint64_t ready_interval_ns, ready_timeout_ns;
    uint64_t start_timeout_ns, stop_timeout_ns;
    int restart; /* enum config_run_restart */
    uint64_t backoff_ns, max_backoff_ns;
    uint32_t max_restarts;
    uint32_t cpu_limit_milli, cpu_request_milli;
    uint64_t memory_limit, memory_request, address_space;
    uint32_t nofile;
    int isolation; /* enum config_run_isolation (shadows) */
    char **egress; /* "host:port" (shadows) */
    size_t negress;
    char *change_id; /* shadows: the proposed change they carry, or NULL */
    char *log_dir;   /* resolved; NULL: under provision.state_dir */
    uint64_t log_max_bytes;
    uint32_t log_keep;
};

struct config_pool {
    char *name; /* "primary" or the shadow's name */
    struct config_upstream *upstreams;
    size_t nupstreams;
    uint64_t connect_timeout_ns;
    uint64_t timeout_ns; /* whole response */
    uint32_t keepalive;  /* idle connections kept per worker per upstream */
    uint32_t retries;    /* primary only (0 for shadows): idempotent, on connect failure */
    uint32_t fail_threshold;
    uint64_t eject_ns;
    char *check_path; /* NULL: no active health check */
    uint64_t check_interval_ns;
    uint64_t check_timeout_ns;
    uint32_t max_inflight; /* shadows only: mirrored requests in flight per worker */
    uint64_t max_bytes;    /* shadows only: mirrored request bytes in flight per worker */
    struct config_run run; /* managed instances, or run.enabled == false */
};

struct config_anonymize {
    char **drop_headers; /* lower-case */
    size_t ndrop_headers;
    char **hash_headers; /* lower-case; values replaced by a keyed HMAC-SHA256 pseudonym */
    size_t nhash_headers;
    char **hash_query; /* query parameter names whose values are pseudonymized */
    size_t nhash_query;
    char **strip_query; /* query parameter names removed */
    size_t nstrip_query;
    bool hash_client_ip;
    char *key_file; /* resolved path, or NULL */
    char *key_env;  /* environment variable name, or NULL */
    /* The HMAC-SHA256 key, read at load time from key_file or key_env; with neither, a
     * random 32-byte key made once per process (so it survives reloads, not restarts).
     * A key longer than 64 bytes is held as its SHA-256 digest, which is what HMAC uses
     * for such keys, so HMAC(key, key_len) gives the pseudonyms of the key as written. */
    unsigned char key[CONFIG_ANON_KEY_STORED];
    size_t key_len;
    bool key_random;
};

struct config_mirror {
    uint32_t percent_bp; /* 0..10000 basis points */
    char **methods;      /* upper-case HTTP method tokens */
    size_t nmethods;
    char **path_prefixes; /* empty: every path */
    size_t npath_prefixes;
    char *header_name;  /* lower-case; NULL: no header filter */
    char *header_value; /* NULL: presence is enough */
    uint64_t max_body;  /* larger request bodies are not mirrored */
    struct config_anonymize anonymize;
};

struct config_route {
    char *name;
    char *path_prefix;
    struct config_mirror mirror; /* fully resolved: the service's with this route's keys */
};

struct config_service {
    char *name;
    char *listen; /* as written */
    char *listen_host;
    uint16_t listen_port;        /* 0: any free port */
    struct config_limits limits; /* resolved: global limits with the service's keys */
    struct config_pool primary;
    struct config_pool *shadows;
    size_t nshadows;
    struct config_mirror mirror; /* the service default (also the "default" route's) */
    struct config_route *routes; /* longest prefix first, the "/" route last */
    size_t nroutes;
    uint64_t compare_body_cap;
};

struct config_admin {
    char *listen; /* NULL: admin listener off */
    char *listen_host;
    uint16_t listen_port;
    char *tokens_file;        /* resolved path or NULL (mutating endpoints refused) */
    uint64_t idle_timeout_ns; /* a connection with no request in flight is closed after this */
    uint32_t max_connections; /* beyond: 503 and close */
};

struct config_log {
    int level;             /* enum log_level (base/log.h) */
    int access_log;        /* enum config_access_log */
    char *access_log_path; /* "-": stderr */
};

/* chaos.experiments[].faults[] (the same keys as POST /v1/experiments). */
struct config_fault {
    int kind; /* index into config_fault_kinds */
    double probability;
    int direction;    /* 0 request, 1 response */
    int distribution; /* 0 uniform, 1 normal, 2 exponential */
    char *service, *pool, *instance, *route, *header, *header_value; /* scope; NULL = any */
    uint64_t latency_ns, jitter_ns, rate, slice_size, slice_delay_ns, delay_ns, memory;
    uint32_t status;
    uint64_t start_ns, duration_ns, every_ns, for_ns;
};

struct config_experiment {
    char *name;
    uint64_t start_ns, duration_ns;
    uint32_t max_affected;
    struct config_fault *faults;
    size_t nfaults;
};

struct config_chaos {
    bool allow_primary_faults;
    struct config_experiment *experiments;
    size_t nexperiments;
};
extern const char *const config_fault_kinds[]; /* NULL-terminated, as the chaos room names them */

struct config_capture {
    char *path; /* strftime pattern; NULL: no capture */
    uint64_t max_file;
    uint32_t sample_percent; /* 0..100 */
    uint32_t queue;          /* records queued per worker */
};

struct config_provision {
    char *state_dir; /* resolved: instance records (orphan cleanup) and default log dir */
    uint64_t sample_interval_ns;
};

enum config_data_schema {
    CONFIG_DATA_SCHEMA_STRICT = 0, /* a source column change stops replication with an error */
    CONFIG_DATA_SCHEMA_FOLLOW,     /* added columns are added to the shadow too */
};

/* One masking rule of the data shadow, as written; the datashadow room parses and checks
 * it against the source catalog. */
struct config_data_rule {
    char *table; /* "users" or "schema.users" */
    char *column;
    char *rule;  /* "hash", "truncate:4", ... (see datashadow/mask.h) */
    char *where; /* "file:line:col" of the rule, for messages */
};

/* The data shadow (`data:` in a serve config, or a datashadow.yaml file): PostgreSQL
 * change data capture from source into shadow. Disabled when source is NULL. */
struct config_data {
    char *source;      /* libpq connection string of the production database */
    char *shadow;      /* libpq connection string of the shadow database */
    char *publication; /* created over every table when missing and create_publication */
    bool create_publication;
    char *slot;                  /* logical replication slot (pgoutput) */
    int schema;                  /* enum config_data_schema */
    uint64_t status_interval_ns; /* standby status updates at least this often */
    uint64_t retained_wal_warn;  /* warn when the slot holds more WAL than this (bytes) */
    uint64_t connect_timeout_ns;
    bool streaming; /* request protocol v2 streaming of large transactions (server >= 14) */
    char *key_file; /* resolved path of the masking key, or NULL */
    char *key_env;  /* environment variable holding the key, or NULL */
    struct config_data_rule *rules; /* owned; from `tables:` */
    size_t nrules;
};

struct config {
    char *path;       /* as given to config_load */
    char *dir;        /* its directory; relative paths in the file are resolved against it */
    uint32_t workers; /* 0: one per core */
    struct config_admin admin;
    struct config_log log;
    struct config_limits limits; /* global; services hold their resolved copies */
    struct config_capture capture;
    struct config_provision provision;
    struct config_service *services;
    size_t nservices;
    struct config_chaos chaos;
    struct config_data data; /* data shadow; data.source NULL when off */
    char **warnings;         /* "file:line:col: ..." sentences for `doppel check` */
    size_t nwarnings;
};

/* Loads and validates path; on failure err holds "file:line:col: message" (or "file:
 * message" when no position applies) and *out is NULL. */
int config_load(const char *path, struct config **out, struct err *err);
/* Same from memory; name is used in messages, relative paths resolve against ".". */
int config_load_string(const char *name, const char *text, size_t len, struct config **out,
                       struct err *err);
void config_free(struct config *cfg);
/* Loads a data shadow file (datashadow.yaml: `data:` and optionally `log:`, no services);
 * errors as config_load. Free with config_free. */
int config_load_data(const char *path, struct config **out, struct err *err);
/* Warnings found at load time (borrowed; valid until config_free). Returns the count. */
size_t config_warnings(const struct config *cfg, const char *const **msgs);
/* Counts for summaries. */
size_t config_nroutes(const struct config *cfg);
size_t config_nshadows(const struct config *cfg);
/* The generated reference of every key (the text of docs/config.md). */
void config_schema_markdown(struct buf *out);

#endif
