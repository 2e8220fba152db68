// SPDX-License-Identifier: Apache-2.0
/*
 * config_data: the `data:` section (the data shadow: PostgreSQL change data capture into
 * a masked shadow database) and the loader of a stand-alone datashadow.yaml, which holds
 * the same section plus `log:` and no services. The masking rules under `tables:` are kept
 * as written with their file:line:col; the datashadow room parses each with the masking
 * engine and checks it against the source catalog when it connects. Owns nothing beyond
 * the struct config_data it fills (freed by config_free through the schema table).
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "config/cnode.h"
#include "config/config.h"
#include "config/config_table.h"
#include "config/schema.h"

#define MS 1000000ULL
#define SEC (1000 * MS)
#define MIN (60 * SEC)
#define MiB (1024ULL * 1024)
#define GiB (1024ULL * MiB)
#define MAX_RULES 4096

static schema_parse_cb parse_tables;
static schema_release_cb release_tables;

/* clang-format off */
static const char *const schema_modes[] = {"strict", "follow", NULL};

#define DATA(f) offsetof(struct config_data, f)
const struct schema_key config_table_data[] = {
    {.name = "source", .type = SCHEMA_STRING, .required = true, .flags = SCHEMA_NONEMPTY,
     .offset = DATA(source),
     .doc = "libpq connection string of the production database (`host=... dbname=... user=...`); "
            "the user needs the REPLICATION attribute and SELECT on the published tables"},
    {.name = "shadow", .type = SCHEMA_STRING, .required = true, .flags = SCHEMA_NONEMPTY,
     .offset = DATA(shadow), .doc = "libpq connection string of the shadow database"},
    {.name = "publication", .type = SCHEMA_STRING, .def = "doppel", .flags = SCHEMA_NONEMPTY,
     .offset = DATA(publication), .doc = "the source publication whose tables are copied"},
    {.name = "create_publication", .type = SCHEMA_BOOL, .def = "true",
     .offset = DATA(create_publication),
     .doc = "create the publication `FOR ALL TABLES` when it is missing"},
    {.name = "slot", .type = SCHEMA_STRING, .def = "doppel", .flags = SCHEMA_NONEMPTY,
     .offset = DATA(slot),
     .doc = "logical replication slot on the source (`[a-z0-9_]`, created at the first start)"},
    {.name = "schema", .type = SCHEMA_ENUM, .def = "strict", .choices = schema_modes,
     .offset = DATA(schema),
     .doc = "`strict`: a source table whose columns change stops replication with an error; "
            "`follow`: added columns are added to the shadow"},
    {.name = "status_interval", .type = SCHEMA_DURATION, .def = "10s", .min = 100 * MS,
     .max = 10 * MIN, .offset = DATA(status_interval_ns),
     .doc = "standby status updates are sent at least this often, so the slot advances on a "
            "quiet database"},
    {.name = "retained_wal_warn", .type = SCHEMA_SIZE, .def = "1GiB", .min = MiB, .max = 1024 * GiB,
     .offset = DATA(retained_wal_warn),
     .doc = "warn when the slot keeps more WAL than this on the source"},
    {.name = "streaming", .type = SCHEMA_BOOL, .def = "true", .offset = DATA(streaming),
     .doc = "ask a PostgreSQL 14 or later source to stream large transactions before they "
            "commit (pgoutput protocol version 2); they are held in a spool (memory, then a "
            "temporary file) and applied whole at their commit"},
    {.name = "connect_timeout", .type = SCHEMA_DURATION, .def = "10s", .min = SEC,
     .max = 10 * MIN, .offset = DATA(connect_timeout_ns),
     .doc = "connecting to the source or the shadow"},
    {.name = "key_file", .type = SCHEMA_STRING, .flags = SCHEMA_FILEPATH | SCHEMA_NONEMPTY,
     .offset = DATA(key_file),
     .doc = "file holding the masking key (16 to 1024 bytes, raw or hex, as the mirror's "
            "`anonymize.key_file`); relative to the config file"},
    {.name = "key_env", .type = SCHEMA_STRING, .flags = SCHEMA_NONEMPTY, .offset = DATA(key_env),
     .doc = "environment variable holding the masking key (not with `key_file`)"},
    {.name = "tables", .type = SCHEMA_CUSTOM, .parse = parse_tables, .release = release_tables,
     .offset = DATA(rules), .type_doc = "map",
     .doc = "masking rules: `{TABLE: {columns: {COLUMN: RULE}}}`; columns not named are copied "
            "as they are (see docs/datashadow.md)"},
    {0},
};

#define CFG(f) offsetof(struct config, f)
static const struct schema_key datafile_top[] = {
    {.name = "data", .type = SCHEMA_SECTION, .required = true, .sub = config_table_data,
     .offset = CFG(data), .doc = "the data shadow"},
    {0},
};
/* clang-format on */

static int add_rule(struct config_data *d, const char *table, const struct cnode *col,
                    const struct cnode *rule, struct err *err)
{
    char b[96];
    if (rule->kind != CNODE_SCALAR || !rule->scalar[0])
        return cnode_error(err, rule, -EINVAL, "rule of '%s.%s' must be a string, found %s", table,
                           col->scalar, cnode_describe(rule, b, sizeof(b)));
    if (d->nrules >= MAX_RULES)
        return cnode_error(err, rule, -ERANGE, "more than %d masking rules", MAX_RULES);
    d->rules = xreallocarray(d->rules, d->nrules + 1, sizeof(*d->rules));
    struct config_data_rule *r = &d->rules[d->nrules++];
    r->table = xstrdup(table);
    r->column = xstrdup(col->scalar);
    r->rule = xstrdup(rule->scalar);
    r->where = xasprintf("%s:%d:%d", rule->file, rule->line, rule->col);
    return 0;
}

static int parse_table(struct config_data *d, const struct cnode *name, const struct cnode *t,
                       struct err *err)
{
    static const char *const keys[] = {"columns", NULL};
    char b[96];
    if (t->kind != CNODE_MAP)
        return cnode_error(err, t, -EINVAL, "table '%s' must be a map with 'columns', found %s",
                           name->scalar, cnode_describe(t, b, sizeof(b)));
    int rc = cnode_check_keys(t, keys, err);
    const struct cnode *cols = cnode_get(t, "columns");
    if (rc || !cols)
        return rc ? rc
                  : cnode_error(err, t, -EINVAL, "table '%s': missing 'columns'", name->scalar);
    if (cols->kind != CNODE_MAP)
        return cnode_error(err, cols, -EINVAL, "'columns' of '%s' must be a map, found %s",
                           name->scalar, cnode_describe(cols, b, sizeof(b)));
    for (size_t i = 0; i < cols->n && !rc; i++)
        rc = add_rule(d, name->scalar, cols->keys[i], cols->items[i], err);
    return rc;
}

static int parse_tables(const struct schema_key *k, const struct cnode *n, void *base,
                        const struct schema_ctx *ctx, struct err *err)
{
    (void)ctx;
    struct config_data *d = (struct config_data *)((char *)base + k->offset - DATA(rules));
    char b[96];
    if (n->kind != CNODE_MAP)
        return cnode_error(err, n, -EINVAL, "'tables' must be a map of table names, found %s",
                           cnode_describe(n, b, sizeof(b)));
    release_tables(k, base);
    int rc = 0;
    for (size_t i = 0; i < n->n && !rc; i++)
        rc = parse_table(d, n->keys[i], n->items[i], err);
    return rc;
}

static void release_tables(const struct schema_key *k, void *base)
{
    struct config_data *d = (struct config_data *)((char *)base + k->offset - DATA(rules));
    for (size_t i = 0; i < d->nrules; i++) {
        free(d->rules[i].table);
        free(d->rules[i].column);
        free(d->rules[i].rule);
        free(d->rules[i].where);
    }
    free(d->rules);
    d->rules = NULL;
    d->nrules = 0;
}

int config_load_data(const char *path, struct config **out, struct err *err)
{
    struct cnode *root = NULL;
    char b[96];
    *out = NULL;
    int rc = cnode_load_file(path, &root, err);
    if (rc)
        return rc;
    struct config *cfg = xcalloc(1, sizeof(*cfg));
    char *copy = xstrdup(path);
    cfg->path = xstrdup(path);
    cfg->dir = xstrdup(dirname(copy));
    free(copy);
    struct schema_ctx ctx = {.dir = cfg->dir};
    if (root->kind != CNODE_MAP)
        rc = cnode_error(err, root, -EINVAL, "expected a map with 'data', found %s",
                         cnode_describe(root, b, sizeof(b)));
    else
        rc = schema_apply(datafile_top, root, cfg, &ctx, false, err);
    cnode_free(root);
    if (rc) {
        config_free(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}
