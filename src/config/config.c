/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config: doppel's schema table (every key, its default, range and documentation), the
 * checks that span keys (unique names and ports, reserved names, route order), the
 * anonymization key read at load time, and the warnings `doppel check` prints. Parsing
 * itself is schema.c's; YAML is cnode.c's. The struct config built here is owned by the
 * caller and immutable: config_free() releases it through the same table.
 */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "base/str.h"
#include "base/xalloc.h"
#include "config/cnode.h"
#include "config/schema.h"

enum { V_PRIMARY = 1, V_SHADOW = 2 };

#define KiB 1024ULL
#define MiB (1024ULL * KiB)
#define GiB (1024ULL * MiB)
#define MS 1000000ULL
#define SEC (1000 * MS)
#define MIN (60 * SEC)
#define HOUR (60 * MIN)

static schema_parse_cb parse_workers, parse_percent;
static schema_init_cb service_init, route_init;

static const char *const log_levels[] = {"debug", "info", "warn", "error", "off", NULL};
static const char *const access_logs[] = {"off", "json", "logfmt", NULL};

#define LIM(f) offsetof(struct config_limits, f)
static const struct schema_key limits_keys[] = {
    {.name = "max_connections",
     .type = SCHEMA_U32,
     .def = "10000",
     .min = 1,
     .max = 1000000,
     .offset = LIM(max_connections),
     .doc = "client connections per service, across workers"},
    {.name = "max_header_bytes",
     .type = SCHEMA_SIZE,
     .def = "16KiB",
     .min = KiB,
     .max = MiB,
     .offset = LIM(max_header_bytes),
     .doc = "request line and headers; larger: 431"},
    {.name = "max_body_bytes",
     .type = SCHEMA_SIZE,
     .def = "16MiB",
     .min = 0,
     .max = GiB,
     .offset = LIM(max_body_bytes),
     .doc = "request body; larger: 413"},
    {.name = "client_timeout",
     .type = SCHEMA_DURATION,
     .def = "30s",
     .min = MS,
     .max = HOUR,
     .offset = LIM(client_timeout_ns),
     .doc = "a request (head and body) must arrive within "
            "this; else 408"},
    {.name = "keepalive_timeout",
     .type = SCHEMA_DURATION,
     .def = "60s",
     .min = MS,
     .max = HOUR,
     .offset = LIM(keepalive_timeout_ns),
     .doc = "an idle client connection is closed after this"},
    {.name = "drain_timeout",
     .type = SCHEMA_DURATION,
     .def = "10s",
     .min = 0,
     .max = 10 * MIN,
     .offset = LIM(drain_timeout_ns),
     .doc = "on SIGTERM or reload, in-flight exchanges get this long to finish"},
    {0},
};

#define UP(f) offsetof(struct config_upstream, f)
static const struct schema_key upstream_keys[] = {
    {.name = "address",
     .type = SCHEMA_ADDRESS,
     .required = true,
     .offset = UP(address),
     .offset_host = UP(host),
     .offset_port = UP(port),
     .doc = "`host:port` of the instance"},
    {.name = "weight",
     .type = SCHEMA_U32,
     .def = "1",
     .min = 1,
     .max = 1000,
     .offset = UP(weight),
     .doc = "share of requests relative to the pool's other upstreams"},
    {0},
};

#define POOL(f) offsetof(struct config_pool, f)
static const struct schema_key check_keys[] = {
    {.name = "path",
     .type = SCHEMA_STRING,
     .required = true,
     .flags = SCHEMA_URLPATH,
     .offset = POOL(check_path),
     .doc = "path requested with GET; 2xx is healthy"},
    {.name = "interval",
     .type = SCHEMA_DURATION,
     .def = "5s",
     .min = 100 * MS,
     .max = HOUR,
     .offset = POOL(check_interval_ns),
     .doc = "time between checks of each upstream"},
    {.name = "timeout",
     .type = SCHEMA_DURATION,
     .def = "1s",
     .min = MS,
     .max = MIN,
     .offset = POOL(check_timeout_ns),
     .doc = "a check slower than this fails"},
    {0},
};

static const struct schema_key health_keys[] = {
    {.name = "fail_threshold",
     .type = SCHEMA_U32,
     .def = "5",
     .min = 1,
     .max = 1000,
     .offset = POOL(fail_threshold),
     .doc = "consecutive failures that eject an upstream"},
    {.name = "eject_time",
     .type = SCHEMA_DURATION,
     .def = "10s",
     .min = MS,
     .max = HOUR,
     .offset = POOL(eject_ns),
     .doc = "how long an ejected upstream is left out"},
    {.name = "check",
     .type = SCHEMA_SECTION,
     .sub = check_keys,
     .offset = 0,
     .doc = "optional active health check; without it only failures of real requests count"},
    {0},
};

static const struct schema_key pool_keys[] = {
    {.name = "name",
     .type = SCHEMA_STRING,
     .variants = V_SHADOW,
     .required = true,
     .flags = SCHEMA_NAME,
     .offset = POOL(name),
     .doc = "unique within the service; not `primary`"},
    {.name = "upstreams",
     .type = SCHEMA_LIST,
     .required = true,
     .min = 1,
     .max = CONFIG_MAX_UPSTREAMS,
     .offset = POOL(upstreams),
     .offset_n = POOL(nupstreams),
     .sub = upstream_keys,
     .elem_size = sizeof(struct config_upstream),
     .scalar_key = "address",
     .doc = "instances: `host:port` or `{address: host:port, weight: N}`"},
    {.name = "connect_timeout",
     .type = SCHEMA_DURATION,
     .def = "1s",
     .min = MS,
     .max = MIN,
     .offset = POOL(connect_timeout_ns),
     .doc = "TCP connect to an upstream"},
    {.name = "timeout",
     .type = SCHEMA_DURATION,
     .variants = V_PRIMARY,
     .def = "30s",
     .min = MS,
     .max = HOUR,
     .offset = POOL(timeout_ns),
     .doc = "the whole response"},
    {.name = "timeout",
     .type = SCHEMA_DURATION,
     .variants = V_SHADOW,
     .def = "5s",
     .min = MS,
     .max = HOUR,
     .offset = POOL(timeout_ns),
     .doc = "the whole response"},
    {.name = "keepalive",
     .type = SCHEMA_U32,
     .def = "64",
     .min = 0,
     .max = 10000,
     .offset = POOL(keepalive),
     .doc = "idle connections kept per worker per upstream"},
    {.name = "retries",
     .type = SCHEMA_U32,
     .variants = V_PRIMARY,
     .def = "1",
     .min = 0,
     .max = 5,
     .offset = POOL(retries),
     .doc = "retries of idempotent requests after a connect failure only"},
    {.name = "health",
     .type = SCHEMA_SECTION,
     .sub = health_keys,
     .offset = 0,
     .doc = "passive and active health checking"},
    {.name = "max_inflight",
     .type = SCHEMA_U32,
     .variants = V_SHADOW,
     .def = "256",
     .min = 1,
     .max = 100000,
     .offset = POOL(max_inflight),
     .doc = "mirrored requests in flight per worker; past it copies are dropped and counted"},
    {.name = "max_bytes",
     .type = SCHEMA_SIZE,
     .variants = V_SHADOW,
     .def = "8MiB",
     .min = KiB,
     .max = GiB,
     .offset = POOL(max_bytes),
     .doc = "mirrored request bytes in flight per worker; past it copies are dropped"},
    {0},
};

#define ANON(f) offsetof(struct config_anonymize, f)
static const struct schema_key anon_keys[] = {
    {.name = "drop_headers",
     .type = SCHEMA_STRLIST,
     .def = "[cookie, authorization]",
     .max = 64,
     .flags = SCHEMA_TOKEN | SCHEMA_LOWER,
     .offset = ANON(drop_headers),
     .offset_n = ANON(ndrop_headers),
     .doc = "headers removed from mirrored requests"},
    {.name = "hash_headers",
     .type = SCHEMA_STRLIST,
     .max = 64,
     .flags = SCHEMA_TOKEN | SCHEMA_LOWER,
     .offset = ANON(hash_headers),
     .offset_n = ANON(nhash_headers),
     .doc = "headers whose values become keyed pseudonyms"},
    {.name = "hash_query",
     .type = SCHEMA_STRLIST,
     .max = 64,
     .flags = SCHEMA_NONEMPTY,
     .offset = ANON(hash_query),
     .offset_n = ANON(nhash_query),
     .doc = "query parameters whose values become keyed pseudonyms"},
    {.name = "strip_query",
     .type = SCHEMA_STRLIST,
     .max = 64,
     .flags = SCHEMA_NONEMPTY,
     .offset = ANON(strip_query),
     .offset_n = ANON(nstrip_query),
     .doc = "query parameters removed"},
    {.name = "hash_client_ip",
     .type = SCHEMA_BOOL,
     .def = "true",
     .offset = ANON(hash_client_ip),
     .doc = "pseudonymize the client address in X-Forwarded-For"},
    {.name = "key_file",
     .type = SCHEMA_STRING,
     .flags = SCHEMA_FILEPATH | SCHEMA_NONEMPTY,
     .offset = ANON(key_file),
     .doc = "file holding the pseudonym key (16 to 1024 bytes, raw or hex); relative to the "
            "config file"},
    {.name = "key_env",
     .type = SCHEMA_STRING,
     .flags = SCHEMA_NONEMPTY,
     .offset = ANON(key_env),
     .doc = "environment variable holding the key (not with `key_file`); with neither, a "
            "random key per start"},
    {0},
};

#define MIR(f) offsetof(struct config_mirror, f)
static const struct schema_key header_keys[] = {
    {.name = "name",
     .type = SCHEMA_STRING,
     .required = true,
     .flags = SCHEMA_TOKEN | SCHEMA_LOWER,
     .offset = MIR(header_name),
     .doc = "only requests carrying this header are mirrored"},
    {.name = "value",
     .type = SCHEMA_STRING,
     .offset = MIR(header_value),
     .doc = "and, if given, only when it has exactly this value"},
    {0},
};

static const struct schema_key mirror_keys[] = {
    {.name = "percent",
     .type = SCHEMA_CUSTOM,
     .def = "0",
     .parse = parse_percent,
     .elem_size = sizeof(uint32_t),
     .offset = MIR(percent_bp),
     .type_doc = "percent",
     .doc = "share of matching requests copied to every shadow: 0 to 100 in steps of 0.01"},
    {.name = "methods",
     .type = SCHEMA_STRLIST,
     .def = "[GET, HEAD, OPTIONS]",
     .max = 32,
     .flags = SCHEMA_TOKEN | SCHEMA_UPPER,
     .offset = MIR(methods),
     .offset_n = MIR(nmethods),
     .doc = "methods mirrored; add writes only for shadows with their own data"},
    {.name = "path_prefixes",
     .type = SCHEMA_STRLIST,
     .max = 64,
     .flags = SCHEMA_URLPATH,
     .offset = MIR(path_prefixes),
     .offset_n = MIR(npath_prefixes),
     .doc = "only paths starting with one of these; empty: every path"},
    {.name = "header",
     .type = SCHEMA_SECTION,
     .sub = header_keys,
     .offset = 0,
     .doc = "optional header filter"},
    {.name = "max_body",
     .type = SCHEMA_SIZE,
     .def = "64KiB",
     .min = 0,
     .max = GiB,
     .offset = MIR(max_body),
     .doc = "requests with larger bodies are not mirrored (counted)"},
    {.name = "anonymize",
     .type = SCHEMA_SECTION,
     .sub = anon_keys,
     .offset = MIR(anonymize),
     .doc = "what is removed or pseudonymized before a copy leaves"},
    {0},
};

#define ROUTE(f) offsetof(struct config_route, f)
static const struct schema_key route_keys[] = {
    {.name = "name",
     .type = SCHEMA_STRING,
     .required = true,
     .flags = SCHEMA_NAME,
     .offset = ROUTE(name),
     .doc = "unique within the service"},
    {.name = "path_prefix",
     .type = SCHEMA_STRING,
     .required = true,
     .flags = SCHEMA_URLPATH,
     .offset = ROUTE(path_prefix),
     .doc = "requests whose path starts with this; longest wins"},
    {.name = "mirror",
     .type = SCHEMA_SECTION,
     .flags = SCHEMA_OVERLAY,
     .sub = mirror_keys,
     .offset = ROUTE(mirror),
     .doc = "any key of `services[].mirror`; keys not given keep the service's values"},
    {0},
};

#define SVC(f) offsetof(struct config_service, f)
static const struct schema_key compare_keys[] = {
    {.name = "body_cap",
     .type = SCHEMA_SIZE,
     .def = "64KiB",
     .min = 0,
     .max = MiB,
     .offset = SVC(compare_body_cap),
     .doc = "bytes of each response body kept for comparison"},
    {0},
};

static const struct schema_key service_keys[] = {
    {.name = "name",
     .type = SCHEMA_STRING,
     .required = true,
     .flags = SCHEMA_NAME,
     .offset = SVC(name),
     .doc = "unique"},
    {.name = "listen",
     .type = SCHEMA_ADDRESS,
     .required = true,
     .flags = SCHEMA_PORT0,
     .offset = SVC(listen),
     .offset_host = SVC(listen_host),
     .offset_port = SVC(listen_port),
     .doc = "where clients connect; unique across services and admin; port 0: any free port"},
    {.name = "limits",
     .type = SCHEMA_SECTION,
     .flags = SCHEMA_OVERLAY,
     .sub = limits_keys,
     .offset = SVC(limits),
     .doc = "any key of the top-level `limits`, for this service only"},
    {.name = "primary",
     .type = SCHEMA_SECTION,
     .required = true,
     .sub = pool_keys,
     .sub_variant = V_PRIMARY,
     .offset = SVC(primary),
     .doc = "the production pool; its responses go to clients"},
    {.name = "shadows",
     .type = SCHEMA_LIST,
     .min = 0,
     .max = CONFIG_MAX_SHADOWS,
     .sub = pool_keys,
     .sub_variant = V_SHADOW,
     .elem_size = sizeof(struct config_pool),
     .offset = SVC(shadows),
     .offset_n = SVC(nshadows),
     .doc = "pools that receive mirrored copies; their responses are compared, never served"},
    {.name = "mirror",
     .type = SCHEMA_SECTION,
     .sub = mirror_keys,
     .offset = SVC(mirror),
     .doc = "which requests are copied to the shadows, and how they are anonymized"},
    {.name = "routes",
     .type = SCHEMA_LIST,
     .min = 0,
     .max = CONFIG_MAX_ROUTES - 1,
     .sub = route_keys,
     .elem_size = sizeof(struct config_route),
     .elem_init = route_init,
     .offset = SVC(routes),
     .offset_n = SVC(nroutes),
     .doc = "per-path mirror overrides, longest `path_prefix` first; a route `default` with "
            "prefix `/` is added unless one has prefix `/`"},
    {.name = "compare",
     .type = SCHEMA_SECTION,
     .sub = compare_keys,
     .offset = 0,
     .doc = "response comparison"},
    {0},
};

#define ADM(f) offsetof(struct config_admin, f)
static const struct schema_key admin_keys[] = {
    {.name = "listen",
     .type = SCHEMA_ADDRESS,
     .def = "127.0.0.1:9900",
     .flags = SCHEMA_OFF | SCHEMA_PORT0,
     .offset = ADM(listen),
     .offset_host = ADM(listen_host),
     .offset_port = ADM(listen_port),
     .doc = "admin API and /metrics; `off` disables it"},
    {.name = "tokens_file",
     .type = SCHEMA_STRING,
     .flags = SCHEMA_FILEPATH | SCHEMA_NONEMPTY,
     .offset = ADM(tokens_file),
     .doc = "SHA-256 hex hashes of bearer tokens, one per line; without it mutating "
            "endpoints are refused"},
    {0},
};

#define LOG(f) offsetof(struct config_log, f)
static const struct schema_key log_keys[] = {
    {.name = "level",
     .type = SCHEMA_ENUM,
     .def = "info",
     .choices = log_levels,
     .offset = LOG(level),
     .doc = "diagnostics on stderr at this level and above"},
    {.name = "access_log",
     .type = SCHEMA_ENUM,
     .def = "off",
     .choices = access_logs,
     .offset = LOG(access_log),
     .doc = "one line per exchange"},
    {.name = "access_log_path",
     .type = SCHEMA_STRING,
     .def = "\"-\"",
     .flags = SCHEMA_NONEMPTY,
     .offset = LOG(access_log_path),
     .doc = "`-` for stderr, else a file (relative to the config file)"},
    {0},
};

#define CFG(f) offsetof(struct config, f)
static const struct schema_key top_keys[] = {
    {.name = "workers",
     .type = SCHEMA_CUSTOM,
     .def = "auto",
     .parse = parse_workers,
     .elem_size = sizeof(uint32_t),
     .offset = CFG(workers),
     .type_doc = "`auto` or integer",
     .doc = "worker threads (1..64); `auto`: one per core"},
    {.name = "admin",
     .type = SCHEMA_SECTION,
     .sub = admin_keys,
     .offset = CFG(admin),
     .doc = "the admin listener"},
    {.name = "log", .type = SCHEMA_SECTION, .sub = log_keys, .offset = CFG(log), .doc = "logging"},
    {.name = "limits",
     .type = SCHEMA_SECTION,
     .sub = limits_keys,
     .offset = CFG(limits),
     .doc = "client-side limits of every service (each may override them)"},
    {.name = "services",
     .type = SCHEMA_LIST,
     .required = true,
     .min = 1,
     .max = CONFIG_MAX_SERVICES,
     .sub = service_keys,
     .elem_size = sizeof(struct config_service),
     .elem_init = service_init,
     .offset = CFG(services),
     .offset_n = CFG(nservices),
     .doc = "the services doppel fronts"},
    {0},
};

static int parse_workers(const struct schema_key *k, const struct cnode *n, void *base,
                         const struct schema_ctx *ctx, struct err *err)
{
    (void)ctx;
    int64_t v;
    if (n->kind == CNODE_SCALAR && strcmp(n->scalar, "auto") == 0) {
        *(uint32_t *)((char *)base + k->offset) = 0;
        return 0;
    }
    if (n->kind != CNODE_SCALAR || str_to_i64(n->scalar, &v) == -EINVAL)
        return cnode_error(err, n, -EINVAL, "'workers' must be auto or 1..64, found \"%s\"",
                           n->kind == CNODE_SCALAR ? n->scalar : "(not a scalar)");
    int rc = cnode_i64(n, 1, 64, &v, err);
    if (!rc)
        *(uint32_t *)((char *)base + k->offset) = (uint32_t)v;
    return rc;
}

/* "12.5" -> 1250 basis points, exactly: parsed as digits, never through a double. */
static int parse_percent(const struct schema_key *k, const struct cnode *n, void *base,
                         const struct schema_ctx *ctx, struct err *err)
{
    (void)ctx;
    char b[96];
    const char *s = n->kind == CNODE_SCALAR ? n->scalar : "";
    size_t whole = strspn(s, "0123456789"), frac = 0;
    if (s[whole] == '.')
        frac = strspn(s + whole + 1, "0123456789");
    size_t len = whole + (s[whole] == '.' ? 1 + frac : 0);
    if (whole == 0 || whole > 3 || s[len] || (s[whole] == '.' && frac == 0))
        return cnode_error(err, n, -EINVAL, "'percent' must be a number from 0 to 100, found %s",
                           cnode_describe(n, b, sizeof(b)));
    if (frac > 2)
        return cnode_error(err, n, -EINVAL,
                           "'percent' %s has more than 2 decimals (the step is 0.01)", s);
    uint32_t bp = 0;
    for (size_t i = 0; i < whole; i++)
        bp = bp * 10 + (uint32_t)(s[i] - '0');
    bp *= 100;
    if (frac >= 1)
        bp += 10 * (uint32_t)(s[whole + 1] - '0');
    if (frac == 2)
        bp += (uint32_t)(s[whole + 2] - '0');
    if (bp > 10000)
        return cnode_error(err, n, -ERANGE, "'percent' %s is out of range (0..100)", s);
    *(uint32_t *)((char *)base + k->offset) = bp;
    return 0;
}

/* A service starts from the global limits; its own `limits:` overlays them. */
static void service_init(const void *parent, void *elem)
{
    const struct config *cfg = parent;
    struct config_service *svc = elem;
    svc->limits = cfg->limits; /* plain values only */
}

/* A route starts from its service's mirror; its own `mirror:` overlays it. */
static void route_init(const void *parent, void *elem)
{
    const struct config_service *svc = parent;
    struct config_route *r = elem;
    schema_copy(mirror_keys, &r->mirror, &svc->mirror);
}

/* Loading state: the tree stays alive so cross-checks can point at the right line. */
struct loader {
    struct config *cfg;
    const struct cnode *root;
    unsigned char random_key[32];
    bool have_random;
};

static void warn_at(struct loader *l, const struct cnode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void warn_at(struct loader *l, const struct cnode *n, const char *fmt, ...)
{
    char msg[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct config *cfg = l->cfg;
    cfg->warnings = xreallocarray(cfg->warnings, cfg->nwarnings + 1, sizeof(char *));
    cfg->warnings[cfg->nwarnings++] =
        xasprintf("%s:%d:%d: warning: %s", n->file, n->line, n->col, msg);
}

/* The node at map.k1.k2... or NULL. */
static const struct cnode *path_node(const struct cnode *map, const char *k1, const char *k2,
                                     const char *k3)
{
    const struct cnode *n = cnode_get(map, k1);
    if (n && k2)
        n = cnode_get(n, k2);
    if (n && k3)
        n = cnode_get(n, k3);
    return n;
}

static const struct cnode *item_node(const struct cnode *map, const char *list, size_t i)
{
    const struct cnode *n = cnode_get(map, list);
    return n && n->kind == CNODE_SEQ && i < n->n ? n->items[i] : map;
}

/* The node to blame for key k of list item i (falls back to the item, then the map). */
static const struct cnode *blame(const struct cnode *map, const char *list, size_t i, const char *k)
{
    const struct cnode *item = item_node(map, list, i), *n = cnode_get(item, k);
    return n ? n : item;
}

static bool is_wildcard(const char *h)
{
    return !strcmp(h, "0.0.0.0") || !strcmp(h, "::");
}

static bool is_loopback_name(const char *h)
{
    return !strcmp(h, "localhost") || !strncmp(h, "127.", 4) || !strcmp(h, "::1");
}

static bool hosts_overlap(const char *a, const char *b)
{
    if (!strcmp(a, b) || is_wildcard(a) || is_wildcard(b))
        return true;
    return (!strcmp(a, "localhost") || !strcmp(b, "localhost")) && is_loopback_name(a) &&
           is_loopback_name(b);
}

struct listener {
    const char *host;
    uint16_t port;
    const struct cnode *node;
};

static int check_listeners(struct loader *l, struct err *err)
{
    struct config *cfg = l->cfg;
    struct listener v[CONFIG_MAX_SERVICES + 1];
    size_t n = 0;
    if (cfg->admin.listen)
        v[n++] = (struct listener){cfg->admin.listen_host, cfg->admin.listen_port,
                                   path_node(l->root, "admin", "listen", NULL)};
    for (size_t i = 0; i < cfg->nservices; i++)
        v[n++] = (struct listener){cfg->services[i].listen_host, cfg->services[i].listen_port,
                                   blame(l->root, "services", i, "listen")};
    for (size_t j = 1; j < n; j++)
        for (size_t i = 0; i < j; i++)
            if (v[i].port && v[i].port == v[j].port && hosts_overlap(v[i].host, v[j].host))
                return cnode_error(err, v[j].node, -EADDRINUSE,
                                   "listen address \"%s\" conflicts with \"%s\" (line %d)",
                                   v[j].node->scalar, v[i].node->scalar, v[i].node->line);
    return 0;
}

/* Names (at offset name_off of elements of size esz) must be unique; reserved is refused. */
static int check_unique(const struct cnode *map, const char *list, const void *elems, size_t n,
                        size_t esz, size_t name_off, const char *what, const char *reserved,
                        struct err *err)
{
    for (size_t j = 0; j < n; j++) {
        const char *nj = *(char *const *)((const char *)elems + j * esz + name_off);
        if (reserved && !strcmp(nj, reserved))
            return cnode_error(err, blame(map, list, j, what), -EINVAL, "%s '%s' is reserved", what,
                               nj);
        for (size_t i = 0; i < j; i++) {
            const char *ni = *(char *const *)((const char *)elems + i * esz + name_off);
            if (!strcmp(ni, nj))
                return cnode_error(err, blame(map, list, j, what), -EINVAL,
                                   "duplicate %s '%s' (first at line %d)", what, nj,
                                   blame(map, list, i, what)->line);
        }
    }
    return 0;
}

static int check_pool(const struct cnode *pool_map, const struct config_pool *p, struct err *err)
{
    for (size_t j = 1; j < p->nupstreams; j++) {
        for (size_t i = 0; i < j; i++) {
            const struct config_upstream *a = &p->upstreams[i], *b = &p->upstreams[j];
            if (a->port == b->port && !strcmp(a->host, b->host))
                return cnode_error(err, item_node(pool_map, "upstreams", j), -EINVAL,
                                   "duplicate upstream '%s' in pool '%s'", b->address, p->name);
        }
    }
    return 0;
}

static void copy_key(struct config_anonymize *dst, const struct config_anonymize *src)
{
    memcpy(dst->key, src->key, src->key_len);
    dst->key_len = src->key_len;
    dst->key_random = src->key_random;
}

static int route_cmp(const void *a, const void *b)
{
    const struct config_route *x = a, *y = b;
    size_t lx = strlen(x->path_prefix), ly = strlen(y->path_prefix);
    if (lx != ly)
        return lx > ly ? -1 : 1;
    return strcmp(x->path_prefix, y->path_prefix);
}

/* Unique names and prefixes, the implicit "default" route, longest prefix first. */
static int finish_routes(const struct cnode *svc_map, struct config_service *svc, struct err *err)
{
    const size_t esz = sizeof(struct config_route);
    bool has_root = false;
    for (size_t i = 0; i < svc->nroutes; i++)
        has_root |= !strcmp(svc->routes[i].path_prefix, "/");
    int rc =
        check_unique(svc_map, "routes", svc->routes, svc->nroutes, esz,
                     offsetof(struct config_route, name), "name", has_root ? NULL : "default", err);
    if (!rc)
        rc = check_unique(svc_map, "routes", svc->routes, svc->nroutes, esz,
                          offsetof(struct config_route, path_prefix), "path_prefix", NULL, err);
    if (rc)
        return rc;
    if (!has_root) {
        svc->routes = xreallocarray(svc->routes, svc->nroutes + 1, esz);
        struct config_route *d = &svc->routes[svc->nroutes++];
        memset(d, 0, esz);
        d->name = xstrdup("default");
        d->path_prefix = xstrdup("/");
        schema_copy(mirror_keys, &d->mirror, &svc->mirror);
        copy_key(&d->mirror.anonymize, &svc->mirror.anonymize);
    }
    qsort(svc->routes, svc->nroutes, esz, route_cmp);
    return 0;
}

/* Hex when the trimmed text is only hex digits (at least 32 of them), else raw bytes. */
static int decode_key(const char *s, size_t len, struct config_anonymize *a)
{
    size_t t = len, i = 0;
    while (t && isspace((unsigned char)s[t - 1]))
        t--;
    while (i < t && isxdigit((unsigned char)s[i]))
        i++;
    if (i == t && t >= 2 * CONFIG_ANON_KEY_MIN && t % 2 == 0) {
        if (t / 2 > CONFIG_ANON_KEY_MAX)
            return -ERANGE;
        for (i = 0; i < t / 2; i++) {
            char hex[3] = {s[2 * i], s[2 * i + 1], 0};
            a->key[i] = (unsigned char)strtoul(hex, NULL, 16);
        }
        a->key_len = t / 2;
        return 0;
    }
    if (len < CONFIG_ANON_KEY_MIN || len > CONFIG_ANON_KEY_MAX)
        return -ERANGE;
    memcpy(a->key, s, len);
    a->key_len = len;
    return 0;
}

static int read_key_file(const struct cnode *n, struct config_anonymize *a, struct err *err)
{
    char buf[2 * CONFIG_ANON_KEY_MAX + 64];
    FILE *f = fopen(a->key_file, "rb");
    if (!f)
        return cnode_error(err, n, -errno, "cannot open key file '%s': %s", a->key_file,
                           strerror(errno));
    size_t len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    if (len == sizeof(buf) || decode_key(buf, len, a))
        return cnode_error(err, n, -ERANGE,
                           "key file '%s' must hold 16 to 1024 bytes, raw or as hex", a->key_file);
    return 0;
}

static const struct cnode *key_node(const struct cnode *route, const struct cnode *svc,
                                    const char *k)
{
    const struct cnode *n = route ? path_node(route, "mirror", "anonymize", k) : NULL;
    if (!n)
        n = path_node(svc, "mirror", "anonymize", k);
    return n ? n : route ? route : svc;
}

/* Reads the pseudonym key of one resolved mirror; route is NULL for the service's own. */
static int resolve_key(struct loader *l, const struct cnode *route, const struct cnode *svc,
                       struct config_anonymize *a, struct err *err)
{
    if (a->key_file && a->key_env)
        return cnode_error(err, key_node(route, svc, "key_env"), -EINVAL,
                           "set either 'key_file' or 'key_env', not both");
    if (a->key_file)
        return read_key_file(key_node(route, svc, "key_file"), a, err);
    if (a->key_env) {
        const char *v = getenv(a->key_env);
        if (!v)
            return cnode_error(err, key_node(route, svc, "key_env"), -ENOENT,
                               "environment variable '%s' is not set", a->key_env);
        if (decode_key(v, strlen(v), a))
            return cnode_error(err, key_node(route, svc, "key_env"), -ERANGE,
                               "environment variable '%s' must hold 16 to 1024 bytes, raw "
                               "or as hex",
                               a->key_env);
        return 0;
    }
    if (!l->have_random) {
        if (getrandom(l->random_key, sizeof(l->random_key), 0) != sizeof(l->random_key))
            return err_set(err, -EIO, "cannot get random bytes for the anonymization key");
        l->have_random = true;
    }
    memcpy(a->key, l->random_key, sizeof(l->random_key));
    a->key_len = sizeof(l->random_key);
    a->key_random = true;
    return 0;
}

static bool hashes(const struct config_mirror *m)
{
    const struct config_anonymize *a = &m->anonymize;
    return a->hash_client_ip || a->nhash_headers || a->nhash_query;
}

static void service_warnings(struct loader *l, const struct cnode *svc_map,
                             const struct config_service *svc)
{
    bool random_key = false, mirrors = false;
    for (size_t i = 0; i < svc->nroutes; i++) {
        const struct config_mirror *m = &svc->routes[i].mirror;
        mirrors |= m->percent_bp > 0;
        random_key |= m->percent_bp > 0 && m->anonymize.key_random && hashes(m);
    }
    if (svc->nshadows && !mirrors)
        warn_at(l, svc_map,
                "service '%s' has shadows but mirrors 0%% of its traffic "
                "(set mirror.percent)",
                svc->name);
    if (!svc->nshadows && mirrors)
        warn_at(l, svc_map, "service '%s' sets mirror.percent but has no shadows", svc->name);
    if (svc->nshadows && random_key)
        warn_at(l, svc_map,
                "service '%s': no anonymization key_file or key_env; a random key "
                "is made at each start, so pseudonyms are stable only within a run",
                svc->name);
}

static int finish_service(struct loader *l, size_t idx, struct err *err)
{
    struct config_service *svc = &l->cfg->services[idx];
    const struct cnode *map = item_node(l->root, "services", idx);
    svc->primary.name = xstrdup("primary");
    int rc = check_unique(map, "shadows", svc->shadows, svc->nshadows, sizeof(struct config_pool),
                          offsetof(struct config_pool, name), "name", "primary", err);
    if (!rc)
        rc = check_pool(cnode_get(map, "primary"), &svc->primary, err);
    for (size_t i = 0; i < svc->nshadows && !rc; i++)
        rc = check_pool(item_node(map, "shadows", i), &svc->shadows[i], err);
    if (!rc)
        rc = resolve_key(l, NULL, map, &svc->mirror.anonymize, err);
    for (size_t i = 0; i < svc->nroutes && !rc; i++)
        rc =
            resolve_key(l, item_node(map, "routes", i), map, &svc->routes[i].mirror.anonymize, err);
    if (!rc)
        rc = finish_routes(map, svc, err);
    if (!rc)
        service_warnings(l, map, svc);
    return rc;
}

static int finish_global(struct loader *l, struct err *err)
{
    struct config *cfg = l->cfg;
    const struct cnode *at = path_node(l->root, "admin", "tokens_file", NULL);
    if (cfg->admin.tokens_file && access(cfg->admin.tokens_file, R_OK) != 0)
        return cnode_error(err, at, -errno, "cannot read tokens file '%s': %s",
                           cfg->admin.tokens_file, strerror(errno));
    const char *p = cfg->log.access_log_path;
    if (strcmp(p, "-") != 0 && p[0] != '/') {
        char *abs = xasprintf("%s/%s", cfg->dir, p);
        free(cfg->log.access_log_path);
        cfg->log.access_log_path = abs;
    }
    at = path_node(l->root, "admin", "listen", NULL);
    if (!at)
        at = l->root;
    if (cfg->admin.listen && !cfg->admin.tokens_file)
        warn_at(l, at, "admin has no tokens_file, so its mutating endpoints are refused");
    if (cfg->admin.listen && !is_loopback_name(cfg->admin.listen_host))
        warn_at(l, at, "admin listens on a non-loopback address \"%s\"", cfg->admin.listen);
    int rc = check_unique(l->root, "services", cfg->services, cfg->nservices,
                          sizeof(struct config_service), offsetof(struct config_service, name),
                          "name", NULL, err);
    return rc ? rc : check_listeners(l, err);
}

static int load_tree(const char *path, const char *dir, const struct cnode *root,
                     struct config **out, struct err *err)
{
    struct config *cfg = xcalloc(1, sizeof(*cfg));
    struct loader l = {.cfg = cfg, .root = root};
    struct schema_ctx ctx = {.dir = dir};
    char b[96];
    int rc;
    cfg->path = xstrdup(path);
    cfg->dir = xstrdup(dir);
    if (root->kind != CNODE_MAP)
        rc = cnode_error(err, root, -EINVAL, "expected a map of settings, found %s",
                         cnode_describe(root, b, sizeof(b)));
    else
        rc = schema_apply(top_keys, root, cfg, &ctx, false, err);
    if (!rc)
        rc = finish_global(&l, err);
    for (size_t i = 0; i < cfg->nservices && !rc; i++)
        rc = finish_service(&l, i, err);
    explicit_bzero(l.random_key, sizeof(l.random_key));
    if (rc) {
        config_free(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}

int config_load(const char *path, struct config **out, struct err *err)
{
    struct cnode *root = NULL;
    *out = NULL;
    int rc = cnode_load_file(path, &root, err);
    if (rc)
        return rc;
    char *copy = xstrdup(path);
    rc = load_tree(path, dirname(copy), root, out, err);
    free(copy);
    cnode_free(root);
    return rc;
}

int config_load_string(const char *name, const char *text, size_t len, struct config **out,
                       struct err *err)
{
    struct cnode *root = NULL;
    *out = NULL;
    int rc = cnode_load_string(name, text, len, &root, err);
    if (rc)
        return rc;
    rc = load_tree(name, ".", root, out, err);
    cnode_free(root);
    return rc;
}

void config_free(struct config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->nservices; i++) {
        struct config_service *svc = &cfg->services[i];
        explicit_bzero(&svc->mirror.anonymize.key, sizeof(svc->mirror.anonymize.key));
        for (size_t j = 0; j < svc->nroutes; j++)
            explicit_bzero(&svc->routes[j].mirror.anonymize.key,
                           sizeof(svc->routes[j].mirror.anonymize.key));
    }
    schema_release(top_keys, cfg);
    for (size_t i = 0; i < cfg->nwarnings; i++)
        free(cfg->warnings[i]);
    free(cfg->warnings);
    free(cfg->path);
    free(cfg->dir);
    free(cfg);
}

size_t config_warnings(const struct config *cfg, const char *const **msgs)
{
    *msgs = (const char *const *)cfg->warnings;
    return cfg->nwarnings;
}

size_t config_nroutes(const struct config *cfg)
{
    size_t n = 0;
    for (size_t i = 0; i < cfg->nservices; i++)
        n += cfg->services[i].nroutes;
    return n;
}

size_t config_nshadows(const struct config *cfg)
{
    size_t n = 0;
    for (size_t i = 0; i < cfg->nservices; i++)
        n += cfg->services[i].nshadows;
    return n;
}

void config_schema_markdown(struct buf *out)
{
    buf_appends(
        out, "<!-- Generated by scripts/gen-config-docs from the schema table in "
             "src/config/config.c; do not edit. -->\n"
             "# doppel configuration reference\n\n"
             "doppel reads one YAML file (`doppel serve -c FILE`; `doppel check -c FILE` validates "
             "it). Every key is listed below with its type, default and allowed values. Unknown "
             "keys are errors (with a \"did you mean\" hint), and every error names "
             "`file:line:col`. Annotated examples: `examples/doppel.yaml` and "
             "`examples/minimal.yaml`.\n\n"
             "## Value formats\n\n"
             "- **duration**: `250ms`, `2s`, `1.5s`, `1m`, `1h`, `100us`; a bare number is "
             "seconds.\n"
             "- **size**: `64KiB`, `8MiB`, `1GiB` (K, M, G are powers of 1024) or bare bytes.\n"
             "- **address**: `a.b.c.d:port`, `[v6]:port` or `localhost:port`. Listen addresses "
             "accept port 0 (any free port); upstreams need 1..65535.\n"
             "- **percent**: 0 to 100 with at most two decimals (`12.5`, `0.01`); stored as basis "
             "points.\n"
             "- **file path**: relative paths are relative to the directory of the config file.\n"
             "- Header names are lower-cased and HTTP methods upper-cased when loaded.\n\n"
             "## Rules checked at load time\n\n"
             "- Service names are unique; shadow names are unique within a service and not "
             "`primary`; route names and prefixes are unique within a service.\n"
             "- Listen addresses are unique across services and admin (a wildcard host such as "
             "`0.0.0.0` conflicts with every host on the same port).\n"
             "- Each pool lists an upstream at most once.\n"
             "- `key_file` and `key_env` exclude each other; the key is read when the file is "
             "loaded, and must be 16 to 1024 bytes, raw or hex. With neither, a random key is made "
             "at each start (`doppel check` warns: pseudonyms are then stable only within a run).\n"
             "- `tokens_file` must be readable.\n"
             "- Limits, nesting deeper than 32 levels, files over 1 MiB, anchors, aliases, tags, "
             "tabs and duplicate keys are errors.\n"
             "\n## Inheritance\n\n"
             "`services[].limits` takes any key of the top-level `limits`; keys not given keep "
             "the global value. `services[].routes[].mirror` takes any key of "
             "`services[].mirror` (nested maps such as `anonymize` merge key by key); a list "
             "given in a route replaces the service's list.\n\n"
             "## Keys\n");
    schema_markdown(top_keys, "", 0, out);
}
