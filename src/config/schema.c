/* SPDX-License-Identifier: Apache-2.0 */
/*
 * schema: walks a designated-initializer table of keys to parse a cnode map into a C
 * struct, apply defaults (written as YAML text and parsed by the same code as user
 * input), deep-copy and free those structs, and print the Markdown reference. config.c
 * holds doppel's tables; this file knows nothing of doppel's keys.
 */
#include "config/schema.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "base/xalloc.h"

#define AT(base, off, type) ((type *)((char *)(base) + (off)))
#define CAT(base, off, type) ((const type *)((const char *)(base) + (off)))
#define SCHEMA_MAX_KEYS 64

static bool in_variant(const struct schema_key *k, unsigned variant)
{
    return k->variants == 0 || (k->variants & variant) != 0;
}

static struct schema_ctx sub_ctx(const struct schema_key *k, const struct schema_ctx *ctx)
{
    struct schema_ctx c = *ctx;
    if (k->sub_variant)
        c.variant = k->sub_variant;
    return c;
}

const struct schema_key *schema_find(const struct schema_key *table, const char *name,
                                     unsigned variant)
{
    for (const struct schema_key *k = table; k->name; k++)
        if (in_variant(k, variant) && strcmp(k->name, name) == 0)
            return k;
    return NULL;
}

static void free_strlist(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void release_key(const struct schema_key *k, void *base)
{
    switch (k->type) {
    case SCHEMA_ADDRESS:
        free(*AT(base, k->offset_host, char *));
        *AT(base, k->offset_host, char *) = NULL;
        /* fall through */
    case SCHEMA_STRING:
        free(*AT(base, k->offset, char *));
        *AT(base, k->offset, char *) = NULL;
        break;
    case SCHEMA_STRLIST:
        free_strlist(*AT(base, k->offset, char **), *AT(base, k->offset_n, size_t));
        *AT(base, k->offset, char **) = NULL;
        *AT(base, k->offset_n, size_t) = 0;
        break;
    case SCHEMA_SECTION:
        schema_release(k->sub, AT(base, k->offset, char));
        break;
    case SCHEMA_LIST: {
        char *v = *AT(base, k->offset, char *);
        for (size_t i = 0; i < *AT(base, k->offset_n, size_t); i++)
            schema_release(k->sub, v + i * k->elem_size);
        free(v);
        *AT(base, k->offset, char *) = NULL;
        *AT(base, k->offset_n, size_t) = 0;
        break;
    }
    case SCHEMA_CUSTOM:
        if (k->release)
            k->release(k, base);
        break;
    default:
        break;
    }
}

void schema_release(const struct schema_key *table, void *base)
{
    if (!base)
        return;
    for (const struct schema_key *k = table; k->name; k++)
        release_key(k, base);
}

static char **copy_strlist(char *const *v, size_t n)
{
    char **c = n ? xcalloc(n, sizeof(*c)) : NULL;
    for (size_t i = 0; i < n; i++)
        c[i] = xstrdup(v[i]);
    return c;
}

static size_t plain_size(const struct schema_key *k)
{
    switch (k->type) {
    case SCHEMA_U32:
        return sizeof(uint32_t);
    case SCHEMA_DURATION:
    case SCHEMA_SIZE:
        return sizeof(uint64_t);
    case SCHEMA_BOOL:
        return sizeof(bool);
    case SCHEMA_ENUM:
        return sizeof(int);
    case SCHEMA_CUSTOM:
        return k->elem_size;
    default:
        return 0;
    }
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

void schema_copy(const struct schema_key *table, void *dst, const void *src)
{
    for (const struct schema_key *k = table; k->name; k++) {
        size_t n;
        switch (k->type) {
        case SCHEMA_ADDRESS:
            *AT(dst, k->offset_host, char *) = dup_or_null(*CAT(src, k->offset_host, char *));
            *AT(dst, k->offset_port, uint16_t) = *CAT(src, k->offset_port, uint16_t);
            /* fall through */
        case SCHEMA_STRING:
            *AT(dst, k->offset, char *) = dup_or_null(*CAT(src, k->offset, char *));
            break;
        case SCHEMA_STRLIST:
            n = *CAT(src, k->offset_n, size_t);
            *AT(dst, k->offset, char **) =
                copy_strlist(*(char **const *)CAT(src, k->offset, char), n);
            *AT(dst, k->offset_n, size_t) = n;
            break;
        case SCHEMA_SECTION:
            schema_copy(k->sub, AT(dst, k->offset, char), CAT(src, k->offset, char));
            break;
        case SCHEMA_LIST: {
            n = *CAT(src, k->offset_n, size_t);
            const char *from = *CAT(src, k->offset, char *);
            char *to = n ? xcalloc(n, k->elem_size) : NULL;
            for (size_t i = 0; i < n; i++)
                schema_copy(k->sub, to + i * k->elem_size, from + i * k->elem_size);
            *AT(dst, k->offset, char *) = to;
            *AT(dst, k->offset_n, size_t) = n;
            break;
        }
        default:
            memcpy(AT(dst, k->offset, char), CAT(src, k->offset, char), plain_size(k));
        }
    }
}

static bool is_tchar(int c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int check_text(const struct schema_key *k, const struct cnode *n, char *s, struct err *err)
{
    for (char *p = s; *p; p++) {
        if (k->flags & SCHEMA_LOWER)
            *p = (char)tolower((unsigned char)*p);
        if (k->flags & SCHEMA_UPPER)
            *p = (char)toupper((unsigned char)*p);
    }
    if ((k->flags & (SCHEMA_NONEMPTY | SCHEMA_TOKEN | SCHEMA_NAME | SCHEMA_URLPATH)) && !*s)
        return cnode_error(err, n, -EINVAL, "'%s' must not be empty", k->name);
    size_t len = strlen(s);
    for (const char *p = s; (k->flags & SCHEMA_TOKEN) && *p; p++)
        if (!is_tchar((unsigned char)*p))
            return cnode_error(err, n, -EINVAL, "'%s' is not a valid HTTP token", s);
    if ((k->flags & SCHEMA_NAME) &&
        (len > 64 || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") != len))
        return cnode_error(err, n, -EINVAL, "name '%s' must be 1 to 64 of a-z, 0-9, '_' and '-'",
                           s);
    for (const char *p = s; (k->flags & SCHEMA_NOCTL) && *p; p++)
        if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
            return cnode_error(err, n, -EINVAL, "'%s' must not contain control characters",
                               k->name);
    if (k->flags & SCHEMA_URLPATH) {
        bool bad = s[0] != '/';
        for (const char *p = s; *p && !bad; p++)
            bad = (unsigned char)*p <= ' ' || *p == 0x7f;
        if (bad)
            return cnode_error(err, n, -EINVAL,
                               "path '%s' must start with '/' and contain no spaces", s);
    }
    return 0;
}

static int parse_string(const struct schema_key *k, const struct cnode *n, void *base,
                        const struct schema_ctx *ctx, struct err *err)
{
    const char *v;
    int rc = cnode_string(n, &v, err);
    if (rc)
        return rc;
    char *s = xstrdup(v);
    if ((rc = check_text(k, n, s, err))) {
        free(s);
        return rc;
    }
    if ((k->flags & SCHEMA_FILEPATH) && s[0] != '/' && ctx->dir) {
        char *abs = xasprintf("%s/%s", ctx->dir, s);
        free(s);
        s = abs;
    }
    free(*AT(base, k->offset, char *));
    *AT(base, k->offset, char *) = s;
    return 0;
}

static int check_count(const struct schema_key *k, const struct cnode *n, struct err *err)
{
    char b[96];
    if (n->kind != CNODE_SEQ)
        return cnode_error(err, n, -EINVAL, "'%s': expected a list, found %s", k->name,
                           cnode_describe(n, b, sizeof(b)));
    if (n->n < k->min || (k->max && n->n > k->max))
        return cnode_error(err, n, -ERANGE, "'%s' has %zu items; allowed: %llu..%llu", k->name,
                           n->n, (unsigned long long)k->min, (unsigned long long)k->max);
    return 0;
}

static int parse_strlist(const struct schema_key *k, const struct cnode *n, void *base,
                         struct err *err)
{
    int rc = check_count(k, n, err);
    if (rc)
        return rc;
    char **v = n->n ? xcalloc(n->n, sizeof(*v)) : NULL;
    for (size_t i = 0; i < n->n && !rc; i++) {
        const char *s;
        if ((rc = cnode_string(n->items[i], &s, err)))
            break;
        v[i] = xstrdup(s);
        rc = check_text(k, n->items[i], v[i], err);
        for (size_t j = 0; j < i && !rc; j++)
            if (strcmp(v[j], v[i]) == 0)
                rc = cnode_error(err, n->items[i], -EINVAL, "'%s' is listed twice", v[i]);
    }
    if (rc) {
        free_strlist(v, n->n);
        return rc;
    }
    free_strlist(*AT(base, k->offset, char **), *AT(base, k->offset_n, size_t));
    *AT(base, k->offset, char **) = v;
    *AT(base, k->offset_n, size_t) = n->n;
    return 0;
}

static int parse_enum(const struct schema_key *k, const struct cnode *n, void *base,
                      struct err *err)
{
    const char *v;
    int rc = cnode_string(n, &v, err);
    if (rc)
        return rc;
    for (int i = 0; k->choices[i]; i++) {
        if (strcmp(k->choices[i], v) == 0) {
            *AT(base, k->offset, int) = i;
            return 0;
        }
    }
    struct buf b;
    buf_init(&b, ERR_MSG_MAX);
    for (int i = 0; k->choices[i]; i++)
        buf_printf(&b, "%s%s", i ? "|" : "", k->choices[i]);
    const char *hint = cnode_closest(v, k->choices);
    rc = cnode_error(err, n, -EINVAL, "'%s' must be one of %s, found \"%s\"%s%s%s", k->name, b.data,
                     v, hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "");
    buf_release(&b);
    return rc;
}

static int bad_address(const struct cnode *n, struct err *err)
{
    char b[96];
    return cnode_error(err, n, -EINVAL,
                       "expected an address like 127.0.0.1:8080, [::1]:8080 or "
                       "localhost:8080, found %s",
                       cnode_describe(n, b, sizeof(b)));
}

int schema_parse_address(const struct cnode *n, bool port0, char **host, uint16_t *port,
                         struct err *err)
{
    if (n->kind != CNODE_SCALAR)
        return bad_address(n, err);
    const char *s = n->scalar, *colon = strrchr(s, ':');
    if (!colon || colon == s)
        return bad_address(n, err);
    char *h =
        (s[0] == '[') ? xstrndup(s + 1, (size_t)(colon - s) - 1) : xstrndup(s, (size_t)(colon - s));
    unsigned char addr[16];
    bool ok;
    if (s[0] == '[') {
        size_t hl = strlen(h);
        ok = hl > 0 && h[hl - 1] == ']';
        if (ok)
            h[hl - 1] = '\0';
        ok = ok && inet_pton(AF_INET6, h, addr) == 1;
    } else {
        ok = strcmp(h, "localhost") == 0 || inet_pton(AF_INET, h, addr) == 1;
    }
    uint64_t p;
    int rc = 0;
    if (!ok)
        rc = cnode_error(err, n, -EINVAL,
                         "host in \"%s\" must be an IPv4 address, [IPv6 address] or localhost", s);
    else if (!isdigit((unsigned char)colon[1]) || str_to_u64(colon + 1, &p))
        rc = bad_address(n, err);
    else if (p > 65535 || (p == 0 && !port0))
        rc = cnode_error(err, n, -ERANGE, "port %s is out of range (%d..65535)", colon + 1,
                         port0 ? 0 : 1);
    if (rc) {
        free(h);
        return rc;
    }
    *host = h;
    *port = (uint16_t)p;
    return 0;
}

static int parse_address(const struct schema_key *k, const struct cnode *n, void *base,
                         struct err *err)
{
    char *host = NULL;
    uint16_t port = 0;
    bool off = (k->flags & SCHEMA_OFF) && n->kind == CNODE_SCALAR && !strcmp(n->scalar, "off");
    if (!off) {
        int rc = schema_parse_address(n, k->flags & SCHEMA_PORT0, &host, &port, err);
        if (rc)
            return rc;
    }
    free(*AT(base, k->offset, char *));
    free(*AT(base, k->offset_host, char *));
    *AT(base, k->offset, char *) = off ? NULL : xstrdup(n->scalar);
    *AT(base, k->offset_host, char *) = host;
    *AT(base, k->offset_port, uint16_t) = port;
    return 0;
}

static int parse_value(const struct schema_key *k, const struct cnode *n, void *base,
                       const struct schema_ctx *ctx, bool overlay, struct err *err);

static int parse_list(const struct schema_key *k, const struct cnode *n, void *base,
                      const struct schema_ctx *ctx, struct err *err)
{
    int rc = check_count(k, n, err);
    if (rc)
        return rc;
    release_key(k, base);
    char *v = n->n ? xcalloc(n->n, k->elem_size) : NULL;
    *AT(base, k->offset, char *) = v; /* owned by base now, so a failure frees it */
    *AT(base, k->offset_n, size_t) = n->n;
    struct schema_ctx c = sub_ctx(k, ctx);
    for (size_t i = 0; i < n->n && !rc; i++) {
        void *elem = v + i * k->elem_size;
        const struct cnode *item = n->items[i];
        if (k->elem_init)
            k->elem_init(base, elem);
        if (k->scalar_key && item->kind == CNODE_SCALAR) {
            schema_defaults(k->sub, elem, &c);
            rc = parse_value(schema_find(k->sub, k->scalar_key, c.variant), item, elem, &c, false,
                             err);
        } else {
            rc = schema_apply(k->sub, item, elem, &c, false, err);
        }
    }
    return rc;
}

static int parse_value(const struct schema_key *k, const struct cnode *n, void *base,
                       const struct schema_ctx *ctx, bool overlay, struct err *err)
{
    struct schema_ctx c;
    int64_t i64;
    switch (k->type) {
    case SCHEMA_U32: {
        int rc = cnode_i64(n, (int64_t)k->min, (int64_t)k->max, &i64, err);
        if (!rc)
            *AT(base, k->offset, uint32_t) = (uint32_t)i64;
        return rc;
    }
    case SCHEMA_DURATION:
        return cnode_duration_ns(n, k->min, k->max, AT(base, k->offset, uint64_t), err);
    case SCHEMA_SIZE:
        return cnode_size(n, k->min, k->max, AT(base, k->offset, uint64_t), err);
    case SCHEMA_BOOL:
        return cnode_bool(n, AT(base, k->offset, bool), err);
    case SCHEMA_STRING:
        return parse_string(k, n, base, ctx, err);
    case SCHEMA_ENUM:
        return parse_enum(k, n, base, err);
    case SCHEMA_STRLIST:
        return parse_strlist(k, n, base, err);
    case SCHEMA_ADDRESS:
        return parse_address(k, n, base, err);
    case SCHEMA_SECTION:
        c = sub_ctx(k, ctx);
        return schema_apply(k->sub, n, AT(base, k->offset, char), &c,
                            overlay || (k->flags & SCHEMA_OVERLAY), err);
    case SCHEMA_LIST:
        return parse_list(k, n, base, ctx, err);
    case SCHEMA_CUSTOM:
        return k->parse(k, n, base, ctx, err);
    }
    return -EINVAL;
}

/* Defaults are YAML text parsed like user input, so the reference shows exactly what a
 * user could have written; a default that does not parse is a broken table. */
static void apply_default(const struct schema_key *k, void *base, const struct schema_ctx *ctx)
{
    if (k->type == SCHEMA_SECTION && (k->flags & SCHEMA_OVERLAY))
        return; /* keeps what the element's init inherited */
    if (k->type == SCHEMA_SECTION) {
        struct schema_ctx c = sub_ctx(k, ctx);
        schema_defaults(k->sub, AT(base, k->offset, char), &c);
        return;
    }
    if (!k->def)
        return;
    struct cnode *n = NULL;
    struct err err = {0};
    BUG_ON(cnode_load_string("(default)", k->def, strlen(k->def), &n, &err) != 0);
    int rc = parse_value(k, n, base, ctx, false, &err);
    cnode_free(n);
    BUG_ON(rc != 0);
}

void schema_defaults(const struct schema_key *table, void *base, const struct schema_ctx *ctx)
{
    for (const struct schema_key *k = table; k->name; k++)
        if (in_variant(k, ctx->variant))
            apply_default(k, base, ctx);
}

static bool is_set(const struct schema_key *k, const void *base)
{
    if (k->type == SCHEMA_STRING || k->type == SCHEMA_ADDRESS)
        return *CAT(base, k->offset, char *) != NULL;
    return false;
}

/* A key of the table that belongs to another variant (retries in a shadow, say) gets a
 * sentence of its own rather than a misleading "did you mean". */
static int other_variant(const struct schema_key *table, const struct cnode *map, unsigned variant,
                         struct err *err)
{
    for (size_t i = 0; map && map->kind == CNODE_MAP && i < map->n; i++) {
        const char *name = map->keys[i]->scalar;
        if (schema_find(table, name, variant))
            continue;
        for (const struct schema_key *k = table; k->name; k++)
            if (strcmp(k->name, name) == 0)
                return cnode_error(err, map->keys[i], -EINVAL, "key '%s' is not allowed here",
                                   name);
    }
    return 0;
}

int schema_apply(const struct schema_key *table, const struct cnode *map, void *base,
                 const struct schema_ctx *ctx, bool overlay, struct err *err)
{
    const char *allowed[SCHEMA_MAX_KEYS + 1];
    size_t na = 0;
    for (const struct schema_key *k = table; k->name; k++) {
        BUG_ON(na >= SCHEMA_MAX_KEYS);
        if (in_variant(k, ctx->variant))
            allowed[na++] = k->name;
    }
    allowed[na] = NULL;
    int rc = other_variant(table, map, ctx->variant, err);
    if (!rc)
        rc = cnode_check_keys(map, allowed, err);
    for (const struct schema_key *k = table; k->name && !rc; k++) {
        if (!in_variant(k, ctx->variant))
            continue;
        const struct cnode *n = cnode_get(map, k->name);
        if (n)
            rc = parse_value(k, n, base, ctx, overlay, err);
        else if (k->required && !(overlay && is_set(k, base)))
            rc = cnode_error(err, map, -EINVAL, "missing required key '%s'", k->name);
        else if (!overlay)
            apply_default(k, base, ctx);
    }
    return rc;
}

static const char *type_name(const struct schema_key *k)
{
    switch (k->type) {
    case SCHEMA_U32:
        return "integer";
    case SCHEMA_DURATION:
        return "duration";
    case SCHEMA_SIZE:
        return "size";
    case SCHEMA_BOOL:
        return "bool";
    case SCHEMA_STRING:
        return (k->flags & SCHEMA_FILEPATH) ? "file path" : "string";
    case SCHEMA_ENUM:
        return "enum";
    case SCHEMA_STRLIST:
        return "list of strings";
    case SCHEMA_ADDRESS:
        return "address";
    case SCHEMA_SECTION:
        return "map";
    case SCHEMA_LIST:
        return k->scalar_key ? "list of maps or strings" : "list of maps";
    case SCHEMA_CUSTOM:
        return k->type_doc;
    }
    return "";
}

static void md_range(const struct schema_key *k, struct buf *out)
{
    char a[32], b[32];
    switch (k->type) {
    case SCHEMA_U32:
        buf_printf(out, "%llu..%llu", (unsigned long long)k->min, (unsigned long long)k->max);
        break;
    case SCHEMA_DURATION:
    case SCHEMA_SIZE:
        (k->type == SCHEMA_SIZE ? cnode_format_size : cnode_format_duration)(k->min, a, 32);
        (k->type == SCHEMA_SIZE ? cnode_format_size : cnode_format_duration)(k->max, b, 32);
        buf_printf(out, "%s..%s", a, b);
        break;
    case SCHEMA_ENUM:
        for (int i = 0; k->choices[i]; i++)
            buf_printf(out, "%s`%s`", i ? ", " : "", k->choices[i]);
        break;
    case SCHEMA_STRING:
        buf_appends(out, (k->flags & SCHEMA_NAME)      ? "`[a-z0-9_-]{1,64}`"
                         : (k->flags & SCHEMA_URLPATH) ? "starts with `/`"
                         : (k->flags & SCHEMA_TOKEN)   ? "HTTP token"
                                                       : "");
        break;
    case SCHEMA_STRLIST:
    case SCHEMA_LIST:
        if (k->type == SCHEMA_STRLIST && (k->flags & (SCHEMA_TOKEN | SCHEMA_URLPATH)))
            buf_appends(out,
                        (k->flags & SCHEMA_TOKEN) ? "HTTP tokens; " : "each starts with `/`; ");
        if (k->max)
            buf_printf(out, "%llu..%llu items", (unsigned long long)k->min,
                       (unsigned long long)k->max);
        break;
    case SCHEMA_ADDRESS:
        buf_printf(out, "port %d..65535%s", (k->flags & SCHEMA_PORT0) ? 0 : 1,
                   (k->flags & SCHEMA_OFF) ? "; `off`" : "");
        break;
    default:
        break;
    }
}

static void md_row(const struct schema_key *k, const char *prefix, struct buf *out)
{
    buf_printf(out, "| `%s%s%s` | %s | ", prefix, *prefix ? "." : "", k->name, type_name(k));
    if (k->required)
        buf_appends(out, "required");
    else if (k->def)
        buf_printf(out, "`%s`", k->def);
    else if (k->type == SCHEMA_SECTION)
        buf_appends(out, (k->flags & SCHEMA_OVERLAY) ? "inherited" : "see below");
    else
        buf_appends(out, "none");
    buf_appends(out, " | ");
    md_range(k, out);
    buf_printf(out, " | %s |\n", k->doc ? k->doc : "");
}

void schema_markdown(const struct schema_key *table, const char *prefix, unsigned variant,
                     struct buf *out)
{
    struct schema_ctx ctx = {.variant = variant};
    buf_printf(out, "\n### `%s`\n\n", *prefix ? prefix : "(top level)");
    buf_appends(out, "| key | type | default | allowed | description |\n");
    buf_appends(out, "|---|---|---|---|---|\n");
    for (const struct schema_key *k = table; k->name; k++)
        if (in_variant(k, variant))
            md_row(k, prefix, out);
    for (const struct schema_key *k = table; k->name; k++) {
        if (!in_variant(k, variant) || (k->type != SCHEMA_SECTION && k->type != SCHEMA_LIST) ||
            (k->flags & SCHEMA_OVERLAY))
            continue;
        char *p = xasprintf("%s%s%s%s", prefix, *prefix ? "." : "", k->name,
                            k->type == SCHEMA_LIST ? "[]" : "");
        struct schema_ctx c = sub_ctx(k, &ctx);
        schema_markdown(k->sub, p, c.variant, out);
        free(p);
    }
}
