/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cnode: builds a tree of nodes with file:line:col from libyaml's event stream. This is
 * the only file that talks to libyaml. It sits under schema.c and config.c (which turn
 * trees into structs) and under any room that reads a YAML file of its own. It owns the
 * nodes and the file name they share; cnode_free() on the root frees all of them.
 *
 * Hostile input is refused before it can cost much: files are capped at 1 MiB, nesting
 * at 32 levels, anchors and aliases (the "billion laughs" bomb) and tags are errors,
 * libyaml rejects invalid UTF-8 and control characters, and NUL bytes inside strings
 * are refused so every scalar is a plain C string.
 */
#include "config/cnode.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base/str.h"
#include "base/xalloc.h"

#define CNODE_MAX_BYTES (1024 * 1024)
#define CNODE_MAX_DEPTH 32

struct parse {
    yaml_parser_t parser;
    const char *file;
    const char *text;
    size_t len;
    struct err *err;
};

static struct cnode *node_new(struct parse *p, enum cnode_kind kind, yaml_mark_t mark)
{
    struct cnode *n = xcalloc(1, sizeof(*n));
    n->kind = kind;
    n->file = p->file;
    n->line = (int)mark.line + 1;
    n->col = (int)mark.column + 1;
    return n;
}

static void node_free(struct cnode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys)
            node_free(n->keys[i]);
        node_free(n->items[i]);
    }
    free(n->keys);
    free(n->items);
    free(n->scalar);
    free(n);
}

void cnode_free(struct cnode *root)
{
    if (!root)
        return;
    char *file = (char *)root->file;
    node_free(root);
    free(file);
}

static int at_mark(struct parse *p, yaml_mark_t m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int at_mark(struct parse *p, yaml_mark_t m, const char *fmt, ...)
{
    char msg[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return err_set(p->err, -EINVAL, "%s:%zu:%zu: %s", p->file, m.line + 1, m.column + 1, msg);
}

/* libyaml's own error, made readable: tabs get a sentence of their own because they are
 * the most common reason a hand-written file does not parse. */
static int syntax_error(struct parse *p)
{
    yaml_parser_t *y = &p->parser;
    yaml_mark_t m = y->problem_mark;
    if (y->error == YAML_READER_ERROR) { /* only a byte offset is known: count lines */
        m.index = y->problem_offset < p->len ? y->problem_offset : p->len;
        m.line = m.column = 0;
        for (size_t i = 0; i < m.index; i++) {
            m.column = p->text[i] == '\n' ? 0 : m.column + 1;
            m.line += p->text[i] == '\n';
        }
    }
    if (m.index < p->len && p->text[m.index] == '\t')
        return at_mark(p, m, "tab character: YAML indentation must use spaces");
    if (y->context)
        return at_mark(p, m, "%s %s", y->problem ? y->problem : "syntax error", y->context);
    return at_mark(p, m, "%s", y->problem ? y->problem : "syntax error");
}

static int next_event(struct parse *p, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&p->parser, ev))
        return syntax_error(p);
    return 0;
}

static int refuse_extras(struct parse *p, const yaml_event_t *ev)
{
    const yaml_char_t *anchor = NULL, *tag = NULL;
    int implicit = 1;
    if (ev->type == YAML_ALIAS_EVENT)
        return at_mark(p, ev->start_mark, "aliases (*name) are not supported");
    if (ev->type == YAML_SCALAR_EVENT) {
        anchor = ev->data.scalar.anchor;
        tag = ev->data.scalar.tag;
        implicit = ev->data.scalar.plain_implicit || ev->data.scalar.quoted_implicit;
    } else if (ev->type == YAML_MAPPING_START_EVENT) {
        anchor = ev->data.mapping_start.anchor;
        tag = ev->data.mapping_start.tag;
        implicit = ev->data.mapping_start.implicit;
    } else if (ev->type == YAML_SEQUENCE_START_EVENT) {
        anchor = ev->data.sequence_start.anchor;
        tag = ev->data.sequence_start.tag;
        implicit = ev->data.sequence_start.implicit;
    }
    if (anchor)
        return at_mark(p, ev->start_mark, "anchors (&%s) are not supported", (char *)anchor);
    if (tag && !implicit)
        return at_mark(p, ev->start_mark, "tags (%s) are not supported", (char *)tag);
    return 0;
}

static int parse_node(struct parse *p, yaml_event_t *ev, int depth, struct cnode **out);

static int scalar_node(struct parse *p, yaml_event_t *ev, struct cnode **out)
{
    const char *v = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    if (memchr(v, '\0', len))
        return at_mark(p, ev->start_mark, "NUL character in a string");
    struct cnode *n = node_new(p, CNODE_SCALAR, ev->start_mark);
    n->scalar = xstrndup(v, len);
    n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
    *out = n;
    return 0;
}

static int key_cmp(const void *a, const void *b)
{
    const struct cnode *x = *(const struct cnode *const *)a, *y = *(const struct cnode *const *)b;
    int c = strcmp(x->scalar, y->scalar);
    if (c)
        return c;
    return x->line != y->line ? x->line - y->line : x->col - y->col;
}

/* Sorting a copy keeps the check O(n log n) even for a hostile map of 100k keys. */
static int check_duplicates(struct parse *p, const struct cnode *map)
{
    if (map->n < 2)
        return 0;
    struct cnode **k = xmalloc(map->n * sizeof(*k));
    memcpy(k, map->keys, map->n * sizeof(*k));
    qsort(k, map->n, sizeof(*k), key_cmp);
    int rc = 0;
    for (size_t i = 1; i < map->n && !rc; i++) {
        if (strcmp(k[i - 1]->scalar, k[i]->scalar) == 0)
            rc = err_set(p->err, -EINVAL, "%s:%d:%d: duplicate key '%s' (first at line %d)",
                         p->file, k[i]->line, k[i]->col, k[i]->scalar, k[i - 1]->line);
    }
    free(k);
    return rc;
}

static void append(struct cnode *n, struct cnode *key, struct cnode *item)
{
    if ((n->n & (n->n - 1)) == 0) { /* capacity doubles at powers of two */
        size_t cap = n->n ? n->n * 2 : 4;
        n->items = xreallocarray(n->items, cap, sizeof(*n->items));
        if (n->kind == CNODE_MAP)
            n->keys = xreallocarray(n->keys, cap, sizeof(*n->keys));
    }
    if (key)
        n->keys[n->n] = key;
    n->items[n->n++] = item;
}

/* Reads children until the end event of n's kind; takes ownership of n either way. */
static int parse_children(struct parse *p, struct cnode *n, int depth)
{
    yaml_event_type_t end = n->kind == CNODE_MAP ? YAML_MAPPING_END_EVENT
                                                 : YAML_SEQUENCE_END_EVENT;
    yaml_event_t ev;
    int rc;
    for (;;) {
        struct cnode *key = NULL, *item = NULL;
        if ((rc = next_event(p, &ev)))
            return rc;
        if (ev.type == end) {
            yaml_event_delete(&ev);
            return n->kind == CNODE_MAP ? check_duplicates(p, n) : 0;
        }
        if (n->kind == CNODE_MAP) {
            if (ev.type != YAML_SCALAR_EVENT) {
                if (!(rc = refuse_extras(p, &ev)))
                    rc = at_mark(p, ev.start_mark, "map keys must be plain strings");
                yaml_event_delete(&ev);
                return rc;
            }
            rc = parse_node(p, &ev, depth + 1, &key);
            if (!rc && (rc = next_event(p, &ev)) == 0)
                rc = parse_node(p, &ev, depth + 1, &item);
        } else {
            rc = parse_node(p, &ev, depth + 1, &item);
        }
        if (rc) {
            node_free(key);
            return rc;
        }
        append(n, key, item);
    }
}

/* Consumes ev (deleting it) and, for maps and lists, the events up to their end. */
static int parse_node(struct parse *p, yaml_event_t *ev, int depth, struct cnode **out)
{
    struct cnode *n = NULL;
    int rc = refuse_extras(p, ev);
    if (rc)
        goto out;
    if (depth > CNODE_MAX_DEPTH) {
        rc = at_mark(p, ev->start_mark, "nesting deeper than %d levels", CNODE_MAX_DEPTH);
        goto out;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        rc = scalar_node(p, ev, &n);
        break;
    case YAML_MAPPING_START_EVENT:
    case YAML_SEQUENCE_START_EVENT:
        n = node_new(p, ev->type == YAML_MAPPING_START_EVENT ? CNODE_MAP : CNODE_SEQ,
                     ev->start_mark);
        rc = parse_children(p, n, depth);
        break;
    default:
        rc = at_mark(p, ev->start_mark, "unexpected YAML event");
    }
out:
    yaml_event_delete(ev);
    if (rc)
        node_free(n);
    else
        *out = n;
    return rc;
}

static struct cnode *empty_map(struct parse *p)
{
    yaml_mark_t m = {0, 0, 0};
    return node_new(p, CNODE_MAP, m);
}

/* Expects: stream start, at most one document, stream end. */
static int parse_stream(struct parse *p, struct cnode **out)
{
    yaml_event_t ev;
    struct cnode *root = NULL;
    int rc;
    while ((rc = next_event(p, &ev)) == 0) {
        yaml_event_type_t t = ev.type;
        if (t == YAML_DOCUMENT_START_EVENT && root)
            rc = at_mark(p, ev.start_mark, "more than one YAML document in the file");
        else if (t == YAML_MAPPING_START_EVENT || t == YAML_SEQUENCE_START_EVENT ||
                 t == YAML_SCALAR_EVENT || t == YAML_ALIAS_EVENT) {
            if ((rc = parse_node(p, &ev, 1, &root)))
                break;
            continue; /* parse_node deleted ev */
        }
        yaml_event_delete(&ev);
        if (rc || t == YAML_STREAM_END_EVENT)
            break;
    }
    if (!rc && (!root || (root->kind == CNODE_SCALAR && !root->quoted && !root->scalar[0]))) {
        node_free(root);
        root = empty_map(p);
    }
    if (rc)
        node_free(root);
    else
        *out = root;
    return rc;
}

int cnode_load_string(const char *name, const char *text, size_t len, struct cnode **out,
                      struct err *err)
{
    struct parse p = {.file = xstrdup(name), .text = text, .len = len, .err = err};
    int rc;
    *out = NULL;
    if (len > CNODE_MAX_BYTES) {
        rc = err_set(err, -EFBIG, "%s: file is larger than the limit of 1 MiB", name);
        free((char *)p.file);
        return rc;
    }
    if (!yaml_parser_initialize(&p.parser)) {
        free((char *)p.file);
        return err_set(err, -ENOMEM, "%s: cannot initialize the YAML parser", name);
    }
    yaml_parser_set_input_string(&p.parser, (const unsigned char *)text, len);
    rc = parse_stream(&p, out);
    yaml_parser_delete(&p.parser);
    if (rc)
        free((char *)p.file); /* no node refers to it any more */
    return rc;
}

int cnode_load_file(const char *path, struct cnode **out, struct err *err)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    int rc;
    *out = NULL;
    if (!f)
        return err_set(err, -errno, "%s: cannot open: %s", path, strerror(errno));
    text = xmalloc(CNODE_MAX_BYTES + 1);
    size_t len = fread(text, 1, CNODE_MAX_BYTES + 1, f);
    if (ferror(f))
        rc = err_set(err, -EIO, "%s: cannot read: %s", path, strerror(errno));
    else if (len > CNODE_MAX_BYTES)
        rc = err_set(err, -EFBIG, "%s: file is larger than the limit of 1 MiB", path);
    else
        rc = cnode_load_string(path, text, len, out, err);
    fclose(f);
    free(text);
    return rc;
}

const struct cnode *cnode_get(const struct cnode *map, const char *key)
{
    if (!map || map->kind != CNODE_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i]->scalar, key) == 0)
            return map->items[i];
    return NULL;
}

int cnode_error(struct err *err, const struct cnode *n, int code, const char *fmt, ...)
{
    char msg[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return err_set(err, code, "%s:%d:%d: %s", n->file, n->line, n->col, msg);
}

const char *cnode_describe(const struct cnode *n, char *buf, size_t size)
{
    if (n->kind == CNODE_MAP)
        return "a map";
    if (n->kind == CNODE_SEQ)
        return "a list";
    if (!n->quoted && !n->scalar[0])
        return "nothing";
    size_t j = 0;
    buf[j++] = '"';
    for (const char *s = n->scalar; *s && j + 5 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (j > 40) {
            j += (size_t)snprintf(buf + j, size - j, "...");
            break;
        }
        if (c < 0x20 || c == 0x7f || c == '"')
            j += (size_t)snprintf(buf + j, size - j, "\\x%02x", c);
        else
            buf[j++] = (char)c;
    }
    snprintf(buf + j, size - j, "\"");
    return buf;
}

static int expected(struct err *err, const struct cnode *n, int code, const char *what)
{
    char b[96];
    return cnode_error(err, n, code, "expected %s, found %s", what, cnode_describe(n, b, sizeof(b)));
}

int cnode_string(const struct cnode *n, const char **out, struct err *err)
{
    if (n->kind != CNODE_SCALAR)
        return expected(err, n, -EINVAL, "a string");
    *out = n->scalar;
    return 0;
}

int cnode_bool(const struct cnode *n, bool *out, struct err *err)
{
    if (n->kind != CNODE_SCALAR || str_to_bool(n->scalar, out))
        return expected(err, n, -EINVAL, "true or false");
    return 0;
}

int cnode_i64(const struct cnode *n, int64_t min, int64_t max, int64_t *out, struct err *err)
{
    int64_t v;
    if (n->kind != CNODE_SCALAR || str_to_i64(n->scalar, &v) == -EINVAL)
        return expected(err, n, -EINVAL, "an integer");
    if (str_to_i64(n->scalar, &v) || v < min || v > max)
        return cnode_error(err, n, -ERANGE, "%s is out of range (%lld..%lld)", n->scalar,
                           (long long)min, (long long)max);
    *out = v;
    return 0;
}

int cnode_double(const struct cnode *n, double min, double max, double *out, struct err *err)
{
    double v;
    if (n->kind != CNODE_SCALAR || str_to_double(n->scalar, &v) == -EINVAL)
        return expected(err, n, -EINVAL, "a number");
    if (str_to_double(n->scalar, &v) || v < min || v > max)
        return cnode_error(err, n, -ERANGE, "%s is out of range (%g..%g)", n->scalar, min, max);
    *out = v;
    return 0;
}

void cnode_format_duration(uint64_t ns, char *buf, size_t size)
{
    static const struct {
        const char *unit;
        uint64_t ns;
    } u[] = {{"h", 3600000000000ULL}, {"m", 60000000000ULL}, {"s", 1000000000ULL},
             {"ms", 1000000ULL},      {"us", 1000ULL},       {"ns", 1}};
    for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
        if (ns >= u[i].ns && ns % u[i].ns == 0) {
            snprintf(buf, size, "%llu%s", (unsigned long long)(ns / u[i].ns), u[i].unit);
            return;
        }
    }
    snprintf(buf, size, "0s");
}

void cnode_format_size(uint64_t bytes, char *buf, size_t size)
{
    static const char *const unit[] = {"GiB", "MiB", "KiB"};
    static const uint64_t mult[] = {1ULL << 30, 1ULL << 20, 1ULL << 10};
    for (size_t i = 0; i < 3; i++) {
        if (bytes >= mult[i] && bytes % mult[i] == 0) {
            snprintf(buf, size, "%llu%s", (unsigned long long)(bytes / mult[i]), unit[i]);
            return;
        }
    }
    snprintf(buf, size, "%llu", (unsigned long long)bytes);
}

int cnode_duration_ns(const struct cnode *n, uint64_t min, uint64_t max, uint64_t *out,
                      struct err *err)
{
    uint64_t v;
    char a[32], b[32];
    if (n->kind != CNODE_SCALAR || str_to_duration_ns(n->scalar, &v) == -EINVAL)
        return expected(err, n, -EINVAL, "a duration like \"250ms\", \"2s\" or \"1m\"");
    if (str_to_duration_ns(n->scalar, &v) || v < min || v > max) {
        cnode_format_duration(min, a, sizeof(a));
        cnode_format_duration(max, b, sizeof(b));
        return cnode_error(err, n, -ERANGE, "duration %s is out of range (%s..%s)", n->scalar,
                           a, b);
    }
    *out = v;
    return 0;
}

int cnode_size(const struct cnode *n, uint64_t min, uint64_t max, uint64_t *out,
               struct err *err)
{
    uint64_t v;
    char a[32], b[32];
    if (n->kind != CNODE_SCALAR || str_to_size(n->scalar, &v) == -EINVAL)
        return expected(err, n, -EINVAL, "a size like \"64KiB\", \"8MiB\" or 1024");
    if (str_to_size(n->scalar, &v) || v < min || v > max) {
        cnode_format_size(min, a, sizeof(a));
        cnode_format_size(max, b, sizeof(b));
        return cnode_error(err, n, -ERANGE, "size %s is out of range (%s..%s)", n->scalar, a,
                           b);
    }
    *out = v;
    return 0;
}

/* Levenshtein distance, capped: names are short and we only care about "close". */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 64;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *cnode_closest(const char *word, const char *const *choices)
{
    const char *best = NULL;
    size_t bestd = (size_t)-1, len = strlen(word);
    for (size_t i = 0; choices[i]; i++) {
        size_t d = distance(word, choices[i]);
        if (d < bestd) {
            bestd = d;
            best = choices[i];
        }
    }
    size_t limit = len <= 3 ? 1 : len <= 8 ? 2 : 3;
    return bestd <= limit ? best : NULL;
}

int cnode_check_keys(const struct cnode *map, const char *const *allowed, struct err *err)
{
    char b[96];
    if (map->kind != CNODE_MAP)
        return cnode_error(err, map, -EINVAL, "expected a map, found %s",
                           cnode_describe(map, b, sizeof(b)));
    for (size_t i = 0; i < map->n; i++) {
        const char *k = map->keys[i]->scalar;
        size_t j = 0;
        while (allowed[j] && strcmp(allowed[j], k) != 0)
            j++;
        if (allowed[j])
            continue;
        const char *hint = cnode_closest(k, allowed);
        if (hint)
            return cnode_error(err, map->keys[i], -EINVAL, "unknown key '%s' (did you mean '%s'?)",
                               k, hint);
        return cnode_error(err, map->keys[i], -EINVAL, "unknown key '%s'", k);
    }
    return 0;
}
