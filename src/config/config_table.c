/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_table: doppel's schema, one designated-initializer entry per YAML key with its
 * type, default, range, target field and documentation. schema.c walks these tables to
 * parse, default, inherit, free and document; config.c adds the checks that span keys.
 * The generated reference (docs/config.md) comes from here too, so adding a key here is
 * the whole change: the parser, the defaults and the docs follow.
 */
#include "config/config_table.h"

#include <errno.h>
#include <string.h>

#include "base/str.h"
#include "config/config.h"

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

/* clang-format off */
static const char *const log_levels[] = {"debug", "info", "warn", "error", "off", NULL};
static const char *const access_logs[] = {"off", "json", "logfmt", NULL};

#define LIM(f) offsetof(struct config_limits, f)
static const struct schema_key limits_keys[] = {
    {.name = "max_connections", .type = SCHEMA_U32, .def = "10000", .min = 1, .max = 1000000,
     .offset = LIM(max_connections), .doc = "client connections per service, across workers"},
    {.name = "max_header_bytes", .type = SCHEMA_SIZE, .def = "16KiB", .min = KiB, .max = MiB,
     .offset = LIM(max_header_bytes), .doc = "request line and headers; larger: 431"},
    {.name = "max_body_bytes", .type = SCHEMA_SIZE, .def = "16MiB", .min = 0, .max = GiB,
     .offset = LIM(max_body_bytes), .doc = "request body; larger: 413"},
    {.name = "client_timeout", .type = SCHEMA_DURATION, .def = "30s", .min = MS, .max = HOUR,
     .offset = LIM(client_timeout_ns),
     .doc = "a request (head and body) must arrive within this; else 408"},
    {.name = "keepalive_timeout", .type = SCHEMA_DURATION, .def = "60s", .min = MS, .max = HOUR,
     .offset = LIM(keepalive_timeout_ns), .doc = "an idle client connection is closed after this"},
    {.name = "drain_timeout", .type = SCHEMA_DURATION, .def = "10s", .min = 0, .max = 10 * MIN,
     .offset = LIM(drain_timeout_ns),
     .doc = "on SIGTERM or reload, in-flight exchanges get this long to finish"},
    {0},
};

#define UP(f) offsetof(struct config_upstream, f)
static const struct schema_key upstream_keys[] = {
    {.name = "address", .type = SCHEMA_ADDRESS, .required = true, .offset = UP(address),
     .offset_host = UP(host), .offset_port = UP(port), .doc = "`host:port` of the instance"},
    {.name = "weight", .type = SCHEMA_U32, .def = "1", .min = 1, .max = 1000, .offset = UP(weight),
     .doc = "share of requests relative to the pool's other upstreams"},
    {0},
};

#define POOL(f) offsetof(struct config_pool, f)
static const struct schema_key check_keys[] = {
    {.name = "path", .type = SCHEMA_STRING, .required = true, .flags = SCHEMA_URLPATH,
     .offset = POOL(check_path), .doc = "path requested with GET; 2xx is healthy"},
    {.name = "interval", .type = SCHEMA_DURATION, .def = "5s", .min = 100 * MS, .max = HOUR,
     .offset = POOL(check_interval_ns), .doc = "time between checks of each upstream"},
    {.name = "timeout", .type = SCHEMA_DURATION, .def = "1s", .min = MS, .max = MIN,
     .offset = POOL(check_timeout_ns), .doc = "a check slower than this fails"},
    {0},
};

static const struct schema_key health_keys[] = {
    {.name = "fail_threshold", .type = SCHEMA_U32, .def = "5", .min = 1, .max = 1000,
     .offset = POOL(fail_threshold), .doc = "consecutive failures that eject an upstream"},
    {.name = "eject_time", .type = SCHEMA_DURATION, .def = "10s", .min = MS, .max = HOUR,
     .offset = POOL(eject_ns), .doc = "how long an ejected upstream is left out"},
    {.name = "check", .type = SCHEMA_SECTION, .sub = check_keys, .offset = 0,
     .doc = "optional active health check; without it only failures of real requests count"},
    {0},
};

static const struct schema_key pool_keys[] = {
    {.name = "name", .type = SCHEMA_STRING, .variants = V_SHADOW, .required = true,
     .flags = SCHEMA_NAME, .offset = POOL(name), .doc = "unique within the service; not `primary`"},
    {.name = "upstreams", .type = SCHEMA_LIST, .min = 1,
     .max = CONFIG_MAX_UPSTREAMS, .offset = POOL(upstreams), .offset_n = POOL(nupstreams),
     .sub = upstream_keys, .elem_size = sizeof(struct config_upstream), .scalar_key = "address",
     .doc = "instances: `host:port` or `{address: host:port, weight: N}` (or `run`)"},
    {.name = "run", .type = SCHEMA_SECTION, .variants = V_PRIMARY, .sub = config_table_run,
     .offset = POOL(run), .doc = "instances doppel starts itself instead of `upstreams`"},
    {.name = "run", .type = SCHEMA_SECTION, .variants = V_SHADOW, .flags = SCHEMA_OVERLAY,
     .sub = config_table_run, .offset = POOL(run),
     .doc = "instances doppel starts itself: the primary's `run` with these keys changed"},
    {.name = "connect_timeout", .type = SCHEMA_DURATION, .def = "1s", .min = MS, .max = MIN,
     .offset = POOL(connect_timeout_ns), .doc = "TCP connect to an upstream"},
    {.name = "timeout", .type = SCHEMA_DURATION, .variants = V_PRIMARY, .def = "30s", .min = MS,
     .max = HOUR, .offset = POOL(timeout_ns),
     .doc = "longest wait for the response's next bytes (re-armed on every read, so long "
            "streams live); past it: 504"},
    {.name = "timeout", .type = SCHEMA_DURATION, .variants = V_SHADOW, .def = "5s", .min = MS,
     .max = HOUR, .offset = POOL(timeout_ns),
     .doc = "the whole copy, from sending to the response's last byte; past it the copy is "
            "dropped (`timeout`)"},
    {.name = "keepalive", .type = SCHEMA_U32, .def = "64", .min = 0, .max = 10000,
     .offset = POOL(keepalive), .doc = "idle connections kept per worker per upstream"},
    {.name = "retries", .type = SCHEMA_U32, .variants = V_PRIMARY, .def = "1", .min = 0, .max = 5,
     .offset = POOL(retries), .doc = "retries of idempotent requests after a connect failure only"},
    {.name = "health", .type = SCHEMA_SECTION, .sub = health_keys, .offset = 0,
     .doc = "passive and active health checking"},
    {.name = "max_inflight", .type = SCHEMA_U32, .variants = V_SHADOW, .def = "256", .min = 1,
     .max = 100000, .offset = POOL(max_inflight),
     .doc = "mirrored requests in flight per worker; past it copies are dropped and counted"},
    {.name = "max_bytes", .type = SCHEMA_SIZE, .variants = V_SHADOW, .def = "8MiB", .min = KiB,
     .max = GiB, .offset = POOL(max_bytes),
     .doc = "mirrored request bytes in flight per worker; past it copies are dropped"},
    {0},
};

#define ANON(f) offsetof(struct config_anonymize, f)
static const struct schema_key anon_keys[] = {
    {.name = "drop_headers", .type = SCHEMA_STRLIST, .def = "[cookie, authorization]", .max = 64,
     .flags = SCHEMA_TOKEN | SCHEMA_LOWER, .offset = ANON(drop_headers),
     .offset_n = ANON(ndrop_headers), .doc = "headers removed from mirrored requests"},
    {.name = "hash_headers", .type = SCHEMA_STRLIST, .max = 64,
     .flags = SCHEMA_TOKEN | SCHEMA_LOWER, .offset = ANON(hash_headers),
     .offset_n = ANON(nhash_headers), .doc = "headers whose values become keyed pseudonyms"},
    {.name = "hash_query", .type = SCHEMA_STRLIST, .max = 64, .flags = SCHEMA_NONEMPTY,
     .offset = ANON(hash_query), .offset_n = ANON(nhash_query),
     .doc = "query parameters whose values become keyed pseudonyms"},
    {.name = "strip_query", .type = SCHEMA_STRLIST, .max = 64, .flags = SCHEMA_NONEMPTY,
     .offset = ANON(strip_query), .offset_n = ANON(nstrip_query),
     .doc = "query parameters removed"},
    {.name = "hash_client_ip", .type = SCHEMA_BOOL, .def = "true", .offset = ANON(hash_client_ip),
     .doc = "pseudonymize the client address in X-Forwarded-For"},
    {.name = "key_file", .type = SCHEMA_STRING, .flags = SCHEMA_FILEPATH | SCHEMA_NONEMPTY,
     .offset = ANON(key_file),
     .doc = "file holding the pseudonym key (16 to 1024 bytes, raw or hex); relative to the config "
            "file"},
    {.name = "key_env", .type = SCHEMA_STRING, .flags = SCHEMA_NONEMPTY, .offset = ANON(key_env),
     .doc = "environment variable holding the key (not with `key_file`); with neither, a random "
            "key per start"},
    {0},
};

#define MIR(f) offsetof(struct config_mirror, f)
static const struct schema_key header_keys[] = {
    {.name = "name", .type = SCHEMA_STRING, .required = true, .flags = SCHEMA_TOKEN | SCHEMA_LOWER,
     .offset = MIR(header_name), .doc = "only requests carrying this header are mirrored"},
    {.name = "value", .type = SCHEMA_STRING, .flags = SCHEMA_NOCTL, .offset = MIR(header_value),
     .doc = "and, if given, only when it has exactly this value"},
    {0},
};

const struct schema_key config_table_mirror[] = {
    {.name = "percent", .type = SCHEMA_CUSTOM, .def = "0", .parse = parse_percent,
     .elem_size = sizeof(uint32_t), .offset = MIR(percent_bp), .type_doc = "percent",
     .doc = "share of matching requests copied to every shadow: 0 to 100 in steps of 0.01"},
    {.name = "methods", .type = SCHEMA_STRLIST, .def = "[GET, HEAD, OPTIONS]", .max = 32,
     .flags = SCHEMA_TOKEN | SCHEMA_UPPER, .offset = MIR(methods), .offset_n = MIR(nmethods),
     .doc = "methods mirrored; add writes only for shadows with their own data"},
    {.name = "path_prefixes", .type = SCHEMA_STRLIST, .max = 64, .flags = SCHEMA_URLPATH,
     .offset = MIR(path_prefixes), .offset_n = MIR(npath_prefixes),
     .doc = "only paths starting with one of these; empty: every path"},
    {.name = "header", .type = SCHEMA_SECTION, .sub = header_keys, .offset = 0,
     .doc = "optional header filter"},
    {.name = "max_body", .type = SCHEMA_SIZE, .def = "64KiB", .min = 0, .max = GiB,
     .offset = MIR(max_body), .doc = "requests with larger bodies are not mirrored (counted)"},
    {.name = "anonymize", .type = SCHEMA_SECTION, .sub = anon_keys, .offset = MIR(anonymize),
     .doc = "what is removed or pseudonymized before a copy leaves"},
    {0},
};

#define ROUTE(f) offsetof(struct config_route, f)
static const struct schema_key route_keys[] = {
    {.name = "name", .type = SCHEMA_STRING, .required = true, .flags = SCHEMA_NAME,
     .offset = ROUTE(name), .doc = "unique within the service"},
    {.name = "path_prefix", .type = SCHEMA_STRING, .required = true, .flags = SCHEMA_URLPATH,
     .offset = ROUTE(path_prefix), .doc = "requests whose path starts with this; longest wins"},
    {.name = "mirror", .type = SCHEMA_SECTION, .flags = SCHEMA_OVERLAY, .sub = config_table_mirror,
     .offset = ROUTE(mirror),
     .doc = "any key of `services[].mirror`; keys not given keep the service's values"},
    {0},
};

#define SVC(f) offsetof(struct config_service, f)
static const struct schema_key compare_keys[] = {
    {.name = "body_cap", .type = SCHEMA_SIZE, .def = "64KiB", .min = 0, .max = MiB,
     .offset = SVC(compare_body_cap), .doc = "bytes of each response body (primary's and shadows') the capture records; "
             "bodies are copied only when a capture is on"},
    {0},
};

static const struct schema_key service_keys[] = {
    {.name = "name", .type = SCHEMA_STRING, .required = true, .flags = SCHEMA_NAME,
     .offset = SVC(name), .doc = "unique"},
    {.name = "listen", .type = SCHEMA_ADDRESS, .required = true, .flags = SCHEMA_PORT0,
     .offset = SVC(listen), .offset_host = SVC(listen_host), .offset_port = SVC(listen_port),
     .doc = "where clients connect; unique across services and admin; port 0: any free port"},
    {.name = "limits", .type = SCHEMA_SECTION, .flags = SCHEMA_OVERLAY, .sub = limits_keys,
     .offset = SVC(limits), .doc = "any key of the top-level `limits`, for this service only"},
    {.name = "primary", .type = SCHEMA_SECTION, .required = true, .sub = pool_keys,
     .sub_variant = V_PRIMARY, .offset = SVC(primary),
     .doc = "the production pool; its responses go to clients"},
    {.name = "shadows", .type = SCHEMA_LIST, .min = 0, .max = CONFIG_MAX_SHADOWS, .sub = pool_keys,
     .sub_variant = V_SHADOW, .elem_size = sizeof(struct config_pool), .offset = SVC(shadows),
     .elem_init = config_shadow_init,
     .offset_n = SVC(nshadows),
     .doc = "pools that receive mirrored copies; their responses are compared, never served"},
    {.name = "mirror", .type = SCHEMA_SECTION, .sub = config_table_mirror, .offset = SVC(mirror),
     .doc = "which requests are copied to the shadows, and how they are anonymized"},
    {.name = "routes", .type = SCHEMA_LIST, .min = 0, .max = CONFIG_MAX_ROUTES - 1,
     .sub = route_keys, .elem_size = sizeof(struct config_route), .elem_init = route_init,
     .offset = SVC(routes), .offset_n = SVC(nroutes),
     .doc = "per-path mirror overrides, longest `path_prefix` first; a route `default` with prefix "
            "`/` is added unless one has prefix `/`"},
    {.name = "compare", .type = SCHEMA_SECTION, .sub = compare_keys, .offset = 0,
     .doc = "response comparison"},
    {0},
};

#define ADM(f) offsetof(struct config_admin, f)
static const struct schema_key admin_keys[] = {
    {.name = "listen", .type = SCHEMA_ADDRESS, .def = "127.0.0.1:9900",
     .flags = SCHEMA_OFF | SCHEMA_PORT0, .offset = ADM(listen), .offset_host = ADM(listen_host),
     .offset_port = ADM(listen_port), .doc = "admin API and /metrics; `off` disables it"},
    {.name = "tokens_file", .type = SCHEMA_STRING, .flags = SCHEMA_FILEPATH | SCHEMA_NONEMPTY,
     .offset = ADM(tokens_file),
     .doc = "SHA-256 hex hashes of bearer tokens, one per line; without it mutating endpoints are "
            "refused"},
    {.name = "idle_timeout", .type = SCHEMA_DURATION, .def = "30s", .min = 10 * MS, .max = HOUR,
     .offset = ADM(idle_timeout_ns),
     .doc = "a connection that sends nothing for this long (idle, or stalled mid-request) is "
            "closed"},
    {.name = "max_connections", .type = SCHEMA_U32, .def = "64", .min = 1, .max = 10000,
     .offset = ADM(max_connections), .doc = "open admin connections; more are answered 503"},
    {0},
};

#define LOG(f) offsetof(struct config_log, f)
static const struct schema_key log_keys[] = {
    {.name = "level", .type = SCHEMA_ENUM, .def = "info", .choices = log_levels,
     .offset = LOG(level), .doc = "diagnostics on stderr at this level and above"},
    {.name = "access_log", .type = SCHEMA_ENUM, .def = "off", .choices = access_logs,
     .offset = LOG(access_log), .doc = "one line per exchange"},
    {.name = "access_log_path", .type = SCHEMA_STRING, .def = "\"-\"", .flags = SCHEMA_NONEMPTY,
     .offset = LOG(access_log_path),
     .doc = "`-` for stderr, else a file (relative to the config file)"},
    {0},
};

#define CFG(f) offsetof(struct config, f)
const struct schema_key config_table_top[] = {
    {.name = "workers", .type = SCHEMA_CUSTOM, .def = "auto", .parse = parse_workers,
     .elem_size = sizeof(uint32_t), .offset = CFG(workers), .type_doc = "`auto` or integer",
     .doc = "worker threads (1..64); `auto`: one per core"},
    {.name = "admin", .type = SCHEMA_SECTION, .sub = admin_keys, .offset = CFG(admin),
     .doc = "the admin listener"},
    {.name = "log", .type = SCHEMA_SECTION, .sub = log_keys, .offset = CFG(log), .doc = "logging"},
    {.name = "limits", .type = SCHEMA_SECTION, .sub = limits_keys, .offset = CFG(limits),
     .doc = "client-side limits of every service (each may override them)"},
    {.name = "provision", .type = SCHEMA_SECTION, .sub = config_table_provision,
     .offset = CFG(provision), .doc = "managed instances (pools with `run`)"},
    {.name = "services", .type = SCHEMA_LIST, .required = true, .min = 1,
     .max = CONFIG_MAX_SERVICES, .sub = service_keys, .elem_size = sizeof(struct config_service),
     .elem_init = service_init, .offset = CFG(services), .offset_n = CFG(nservices),
     .doc = "the services doppel fronts"},
    {.name = "chaos", .type = SCHEMA_SECTION, .sub = config_table_chaos, .offset = CFG(chaos),
     .doc = "fault injection on the shadow path and on instances (docs/chaos.md)"},
    {.name = "capture", .type = SCHEMA_SECTION, .sub = config_table_capture, .offset = CFG(capture),
     .doc = "record anonymized traffic to capture files (docs/capture.md)"},
    {.name = "data", .type = SCHEMA_SECTION, .sub = config_table_data, .offset = CFG(data),
     .doc = "data shadow: PostgreSQL change data capture into a masked shadow database"},
    {0},
};
/* clang-format on */

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
    schema_copy(config_table_mirror, &r->mirror, &svc->mirror);
}

/* The reference's prose; the key tables after it are generated from the tables above. */
static const char *const reference_intro =
    "<!-- Generated by scripts/gen-config-docs from the schema tables in "
    "src/config/config_table.c; do not edit. -->\n"
    "# doppel configuration reference\n\n"
    "doppel reads one YAML file: `doppel serve -c FILE`. Every key is listed below with its "
    "type, default and allowed values. Unknown keys are errors (with a \"did you mean\" hint), "
    "and every error names `file:line:col`. Annotated examples: `examples/doppel.yaml` (every "
    "section) and `examples/minimal.yaml` (the smallest useful file).\n\n"
    "## Checking a file\n\n"
    "`doppel check -c FILE` loads the file exactly as `serve` would (reading key files and "
    "checking cross-references) without opening sockets. It prints `FILE: ok (N services, M "
    "routes, K shadows)` and any warnings (on stderr) and exits 0, or prints the first error "
    "as `file:line:col: message` and exits 2. `--json` prints the same as one JSON object on "
    "stdout. `doppel check --schema-markdown` prints this document.\n\n"
    "## Value formats\n\n"
    "- **duration**: `250ms`, `2s`, `1.5s`, `1m`, `1h`, `100us`; a bare number is seconds.\n"
    "- **size**: `64KiB`, `8MiB`, `1GiB` (K, M, G are powers of 1024) or bare bytes.\n"
    "- **address**: `a.b.c.d:port`, `[v6]:port` (quote it: a bare `[` starts a YAML list) or "
    "`localhost:port`. Listen addresses accept port 0 (any free port); upstreams need "
    "1..65535.\n"
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
    "- A pool has either `upstreams` or `run` (managed instances). A shadow's `run` starts "
    "as a copy of its primary's `run`; keys it gives replace the primary's (`env` entries "
    "by KEY). Mirroring POST, PUT, PATCH or DELETE to a managed shadow is refused unless "
    "it is sealed (`isolation: netns`).\n"
    "- `key_file` and `key_env` exclude each other; the key is read when the file is loaded "
    "and must be 16 to 1024 bytes, raw or hex (only hex digits, at least 32 of them). With "
    "neither, a random key is made once per process: pseudonyms survive a reload but not a "
    "restart, and `doppel check` warns.\n"
    "- `tokens_file` must be readable and hold one SHA-256 hash (64 hex digits) per line (`#` "
    "comments allowed); "
    "blank lines are ignored.\n"
    "- Files over 1 MiB, nesting deeper than 32 levels, anchors, aliases, tags, several "
    "documents, tabs in indentation, invalid UTF-8 and duplicate keys are errors.\n\n"
    "## Inheritance\n\n"
    "`services[].limits` takes any key of the top-level `limits`; keys not given keep the "
    "global value. `services[].routes[].mirror` takes any key of `services[].mirror` (nested "
    "maps such as `anonymize` merge key by key; a list given in a route replaces the "
    "service's list). Routes are matched by the longest `path_prefix`; a route `default` "
    "with prefix `/` and the service's mirror is added unless a route has prefix `/`.\n\n"
    "## Keys\n";

void config_schema_markdown(struct buf *out)
{
    buf_appends(out, reference_intro);
    schema_markdown(config_table_top, "", 0, out);
}
