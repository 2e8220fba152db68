/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config: loading doppel's configuration with the tables of config_table.c; the
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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "base/str.h"
#include "base/xalloc.h"
#include "config/cnode.h"
#include "config/config_table.h"
#include "config/schema.h"

/* Loading state: the tree stays alive so cross-checks can point at the right line. */
struct loader {
    struct config *cfg;
    const struct cnode *root;
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
        schema_copy(config_table_mirror, &d->mirror, &svc->mirror);
        copy_key(&d->mirror.anonymize, &svc->mirror.anonymize);
    }
    qsort(svc->routes, svc->nroutes, esz, route_cmp);
    return 0;
}

/* Keys longer than SHA-256's 64-byte block are stored as their digest: HMAC hashes such
 * keys first (RFC 2104, section 2), so the pseudonyms are the same and the struct stays
 * small. */
static void store_key(const unsigned char *k, size_t len, struct config_anonymize *a)
{
    if (len > CONFIG_ANON_KEY_STORED) {
        SHA256(k, len, a->key);
        a->key_len = SHA256_DIGEST_LENGTH;
    } else {
        memcpy(a->key, k, len);
        a->key_len = len;
    }
}

/* Hex when the trimmed text is only hex digits (at least 32 of them), else raw bytes. */
static int decode_key(const char *s, size_t len, struct config_anonymize *a)
{
    unsigned char raw[CONFIG_ANON_KEY_MAX];
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
            raw[i] = (unsigned char)strtoul(hex, NULL, 16);
        }
        store_key(raw, t / 2, a);
        explicit_bzero(raw, sizeof(raw));
        return 0;
    }
    if (len < CONFIG_ANON_KEY_MIN || len > CONFIG_ANON_KEY_MAX)
        return -ERANGE;
    store_key((const unsigned char *)s, len, a);
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

/* The key used when the file names none: made once per process, so pseudonyms stay
 * stable across reloads within a run (and only within it). The one piece of mutable
 * state in the room, written once under pthread_once. */
#define PROCESS_KEY_LEN 32
static unsigned char process_key_bytes[PROCESS_KEY_LEN];
static int process_key_rc;
static pthread_once_t process_key_once = PTHREAD_ONCE_INIT;

static void process_key_make(void)
{
    size_t got = 0;
    while (got < PROCESS_KEY_LEN) {
        ssize_t n = getrandom(process_key_bytes + got, PROCESS_KEY_LEN - got, 0);
        if (n < 0 && errno != EINTR) {
            process_key_rc = -errno;
            return;
        }
        got += n > 0 ? (size_t)n : 0;
    }
}

static int process_key(unsigned char *out)
{
    pthread_once(&process_key_once, process_key_make);
    if (!process_key_rc)
        memcpy(out, process_key_bytes, PROCESS_KEY_LEN);
    return process_key_rc;
}

/* Reads the pseudonym key of one resolved mirror; route is NULL for the service's own. */
static int resolve_key(const struct cnode *route, const struct cnode *svc,
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
    if (process_key(a->key))
        return err_set(err, -EIO, "cannot get random bytes for the anonymization key");
    a->key_len = PROCESS_KEY_LEN;
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
        rc = resolve_key(NULL, map, &svc->mirror.anonymize, err);
    for (size_t i = 0; i < svc->nroutes && !rc; i++)
        rc = resolve_key(item_node(map, "routes", i), map, &svc->routes[i].mirror.anonymize, err);
    if (!rc)
        rc = finish_routes(map, svc, err);
    if (!rc)
        rc = config_provision_finish(map, svc, l->cfg, err);
    if (!rc)
        service_warnings(l, map, svc);
    return rc;
}

/* One line per token: its SHA-256 as 64 hex digits ('#' comments and blank lines ignored,
 * as auth_load reads it). Checked here so
 * a damaged file fails at load with its line number, not at the first API call. */
static int check_tokens(struct loader *l, const struct cnode *at, const char *path, struct err *err)
{
    FILE *f = fopen(path, "r");
    char line[256];
    int lineno = 0, nhashes = 0, rc = 0;
    if (!f)
        return cnode_error(err, at, -errno, "cannot read tokens file '%s': %s", path,
                           strerror(errno));
    while (!rc && fgets(line, sizeof(line), f)) {
        size_t n = strcspn(line, "\r\n");
        lineno++;
        const char *p = line + strspn(line, " \t"); /* the format of admin/auth.c */
        size_t m = strcspn(p, " \t\r\n");
        if (line[n] == '\0' && !feof(f))
            rc = err_set(err, -EINVAL, "%s:%d: line too long", path, lineno);
        else if (*p == '#' || m == 0)
            continue;
        else if (m == 64 && strspn(p, "0123456789abcdefABCDEF") == 64 &&
                 strspn(p + 64, " \t\r\n") == strlen(p + 64))
            nhashes++;
        else
            rc = err_set(err, -EINVAL, "%s:%d: expected a SHA-256 hash (64 hex digits)", path,
                         lineno);
    }
    fclose(f);
    if (!rc && nhashes == 0)
        warn_at(l, at, "tokens file '%s' holds no hashes, so mutating endpoints are refused", path);
    return rc;
}

static int finish_global(struct loader *l, struct err *err)
{
    struct config *cfg = l->cfg;
    const struct cnode *at = path_node(l->root, "admin", "tokens_file", NULL);
    int rc = cfg->admin.tokens_file ? check_tokens(l, at, cfg->admin.tokens_file, err) : 0;
    if (rc)
        return rc;
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
    rc = check_unique(l->root, "services", cfg->services, cfg->nservices,
                      sizeof(struct config_service), offsetof(struct config_service, name), "name",
                      NULL, err);
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
        rc = schema_apply(config_table_top, root, cfg, &ctx, false, err);
    if (!rc)
        rc = finish_global(&l, err);
    for (size_t i = 0; i < cfg->nservices && !rc; i++)
        rc = finish_service(&l, i, err);
    if (!rc)
        rc = config_chaos_check(cfg, root, err);
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
    schema_release(config_table_top, cfg);
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
