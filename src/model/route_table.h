/* SPDX-License-Identifier: Apache-2.0 */
/*
 * route_table: everything the data path needs to route one request, as one immutable,
 * refcounted object: per service its pools (primary and shadows), its routes with their
 * mirror rules, its limits, and the metric series to record into. A change (reload,
 * admin PATCH, controller decision) builds a new table and publishes it (router room);
 * exchanges in flight keep the table they started with through their reference.
 *
 * Pools and upstream hosts carry ids that stay the same across tables for the same names,
 * so per-worker runtime state (idle connections, health, round-robin position, mirror
 * bounds) survives a swap: workers index their arrays by pool_id and host_id.
 */
#ifndef DOPPEL_MODEL_ROUTE_TABLE_H
#define DOPPEL_MODEL_ROUTE_TABLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct metrics;        /* observer room; opaque here */
struct metrics_series; /* observer room; opaque here */
struct metrics_mirror; /* observer room; opaque here */
struct hmac_key;       /* model/hmac_key.h */

/* Mirror anonymization rules (applied by the mirror room). */
struct anonymize_rules {
    char **drop_headers; /* lower-case names */
    size_t ndrop_headers;
    char **hash_headers; /* values replaced by a pseudonym */
    size_t nhash_headers;
    char **hash_query; /* query parameter values replaced by a pseudonym */
    size_t nhash_query;
    char **strip_query; /* query parameters removed */
    size_t nstrip_query;
    bool hash_client_ip;
    unsigned char key[1024]; /* HMAC key */
    size_t key_len;
    struct hmac_key *prepared; /* key prepared for the data path, owned; NULL: anonymize
                                  keys a one-shot HMAC per value */
};

struct rt_upstream {
    uint32_t host_id; /* stable for the same address */
    char *address;    /* "host:port" */
    struct sockaddr_storage sa;
    uint32_t weight; /* 0 = drained */
    char *netns;     /* a sealed instance's "/proc/<pid>/ns/net": sockets to it are made in
                        that network namespace; NULL: doppel's own */
};

struct rt_health {
    uint32_t fail_threshold; /* consecutive failures before ejection */
    uint64_t eject_ns;
    char *check_path; /* active check, NULL = none */
    uint64_t check_interval_ns, check_timeout_ns;
};

struct rt_pool {
    uint32_t pool_id; /* stable for the same service/pool name */
    char *name;       /* "primary" or the shadow's name */
    bool shadow;
    struct rt_upstream *ups;
    size_t nups;
    uint64_t connect_timeout_ns, timeout_ns;
    uint32_t keepalive; /* idle connections kept per worker per host */
    uint32_t max_conns; /* open connections per worker per host, 0 = no cap; requests over
                           it wait for a connection (shadow pools: bounded by max_inflight) */
    uint32_t retries;   /* connect-failure retries of idempotent requests */
    struct rt_health health;
    uint32_t max_inflight; /* shadows: in-flight copies per worker */
    uint64_t max_bytes;    /* shadows: in-flight copy bytes per worker */
};

struct rt_mirror {
    uint32_t percent_bp; /* 0..10000 = 0.00 %..100.00 % */
    char **methods;      /* upper-case */
    size_t nmethods;
    char **path_prefixes; /* empty = every path */
    size_t npath_prefixes;
    char *header_name;  /* filter: NULL = none */
    char *header_value; /* NULL = presence is enough */
    uint64_t max_body;
    struct anonymize_rules anon;
};

struct rt_route {
    char *name;
    char *path_prefix;
    size_t prefix_len;
    struct rt_mirror mirror;
    struct metrics_series *primary_series;   /* borrowed from the registry */
    struct metrics_series **shadow_series;   /* [nshadows] of the service */
    struct metrics_mirror **mirror_series;   /* [nshadows] */
    struct metrics_mirror *mirror_decisions; /* route-level decisions */
};

struct rt_limits {
    uint32_t max_connections;
    uint64_t max_header_bytes, max_body_bytes;
    uint64_t client_timeout_ns, keepalive_timeout_ns, drain_timeout_ns;
};

#define RT_MAX_SHADOWS 8 /* shadow pools per service (the config's limit) */

struct rt_service {
    uint32_t service_id; /* stable for the same name */
    char *name;
    char *listen;
    struct rt_limits limits;
    struct rt_pool primary;
    struct rt_pool *shadows;
    size_t nshadows;
    struct rt_route *routes; /* longest prefix first; the last one matches "/" */
    size_t nroutes;
    uint64_t body_cap; /* bytes of each body kept for comparison */
};

struct route_table {
    atomic_uint refs;
    uint64_t generation;
    struct rt_service *services;
    size_t nservices;
};

struct route_table *route_table_new(size_t nservices);
struct route_table *route_table_ref(struct route_table *t);
void route_table_unref(struct route_table *t);
/* Deep copy with a new generation, for building a changed table from the current one. */
struct route_table *route_table_clone(const struct route_table *t);
const struct rt_service *route_table_service(const struct route_table *t, const char *name);
/* The route of a service for a request path (longest prefix). */
const struct rt_route *route_table_match(const struct rt_service *s, const char *path, size_t len);

void rt_pool_release(struct rt_pool *p);
void rt_pool_copy(struct rt_pool *dst, const struct rt_pool *src);
void rt_mirror_release(struct rt_mirror *m);
void rt_mirror_copy(struct rt_mirror *dst, const struct rt_mirror *src);

#endif
