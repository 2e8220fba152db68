// SPDX-License-Identifier: Apache-2.0
/*
 * snapshot: slot creation with an exported snapshot and the consistent copy of every
 * published table into the shadow (see snapshot.h). Tables without masking rules are
 * copied line for line; masked tables are split, masked and written back in COPY text.
 * Foreign keys are dropped before the copy and created again after it, with the indexes
 * and sequences (schema.c), so the tables can be filled in any order and indexed once.
 */
#include "datashadow/snapshot.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "datashadow/catalog.h"
#include "datashadow/copytext.h"
#include "datashadow/pgconn.h"
#include "datashadow/schema.h"

#define LINE_MAX_BYTES (1024 * 1024 * 1024)

/* A slot left by a copy that never finished: its snapshot is gone, so start over. */
static int drop_stale_slot(const struct snapshot_src *s, struct err *err)
{
    const char *p[] = {s->slot};
    PGresult *res = pgconn_query(
        s->src, "source", "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", 1, p, err);
    if (!res)
        return -EIO;
    int exists = PQntuples(res);
    PQclear(res);
    if (!exists)
        return 0;
    log_info("datashadow", "dropping slot '%s' left by an unfinished snapshot", s->slot);
    char *q = pgconn_ident(s->slot), *sql = xasprintf("DROP_REPLICATION_SLOT %s WAIT", q);
    int rc = pgconn_cmd(s->repl, "source", sql, err);
    free(q);
    free(sql);
    return rc;
}

static int create_slot(const struct snapshot_src *s, uint64_t *lsn, char **snap, struct err *err)
{
    char *q = pgconn_ident(s->slot);
    char *sql = xasprintf("CREATE_REPLICATION_SLOT %s LOGICAL pgoutput EXPORT_SNAPSHOT", q);
    PGresult *res = PQexec(s->repl, sql);
    int rc = 0;
    free(q);
    free(sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        rc = err_set(err, -EIO, "source: cannot create replication slot '%s': %s", s->slot,
                     PQresultErrorMessage(res));
    else if (pgconn_lsn_parse(PQgetvalue(res, 0, 1), lsn))
        rc = err_set(err, -EPROTO, "source: bad consistent point '%s'", PQgetvalue(res, 0, 1));
    else
        *snap = xstrdup(PQgetvalue(res, 0, 2));
    PQclear(res);
    return rc;
}

static void column_list(const struct relation *r, struct buf *b)
{
    buf_appends(b, " (");
    for (size_t i = 0; i < r->ncols; i++) {
        char *q = pgconn_ident(r->cols[i].name);
        buf_printf(b, "%s%s", i ? ", " : "", q);
        free(q);
    }
    buf_appends(b, ")");
}

static int start_copy(PGconn *c, const char *what, const struct relation *r, const char *dir,
                      struct err *err)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    buf_printf(&b, "COPY %s", r->qname);
    column_list(r, &b);
    buf_printf(&b, " %s", dir);
    PGresult *res = PQexec(c, b.data);
    ExecStatusType want = !strcmp(dir, "TO STDOUT") ? PGRES_COPY_OUT : PGRES_COPY_IN;
    int rc = PQresultStatus(res) == want ? 0
                                         : err_set(err, -EIO, "%s: copying '%s': %s", what,
                                                   r->display, PQresultErrorMessage(res));
    PQclear(res);
    buf_release(&b);
    return rc;
}

/* One source line (with its newline) to its shadow line, masked. */
static int mask_line(const struct relation *r, const struct mask_key *key, struct rng *rng,
                     const char *line, size_t len, struct relation_row *row, struct buf *vals,
                     struct buf *out, struct err *err)
{
    struct pgoutput_value v[r->ncols ? r->ncols : 1];
    if (len && line[len - 1] == '\n')
        len--;
    if (copytext_split(line, len, v, r->ncols, vals))
        return err_set(err, -EPROTO, "source: table '%s': a COPY row that does not parse",
                       r->display);
    int rc = relation_mask(r, key, rng, v, r->ncols, NULL, row, err);
    buf_reset(out);
    for (size_t i = 0; i < r->ncols && !rc; i++) {
        if (i && buf_append(out, "\t", 1))
            rc = -ENOSPC;
        if (!rc && copytext_escape(out, &row->v[i]))
            rc = -ENOSPC;
    }
    if (!rc && buf_append(out, "\n", 1))
        rc = -ENOSPC;
    return rc == -ENOSPC ? err_set(err, rc, "table '%s': row too large", r->display) : rc;
}

struct copier {
    struct relation_row row;
    struct buf vals, out;
    struct rng rng;
};

static int pump(const struct snapshot_src *s, struct relation *r, struct copier *cp, uint64_t *rows,
                struct err *err)
{
    char *line;
    int n, rc = 0;
    while ((n = PQgetCopyData(s->src, &line, 0)) > 0) {
        const char *data = line;
        size_t len = (size_t)n;
        if (!rc && r->masked) {
            rc = mask_line(r, s->key, &cp->rng, line, len, &cp->row, &cp->vals, &cp->out, err);
            data = cp->out.data;
            len = cp->out.len;
        }
        if (!rc && PQputCopyData(s->shadow, data, (int)len) != 1)
            rc = err_set(err, -EIO, "shadow: %s", PQerrorMessage(s->shadow));
        (*rows)++;
        PQfreemem(line);
    }
    if (n == -2 && !rc)
        rc = err_set(err, -EIO, "source: %s", PQerrorMessage(s->src));
    return rc;
}

static int finish_copy(PGconn *c, const char *what, const struct relation *r, struct err *err)
{
    int rc = 0;
    PGresult *res;
    while ((res = PQgetResult(c))) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK && !rc)
            rc = err_set(err, -EIO, "%s: copying '%s': %s", what, r->display,
                         PQresultErrorMessage(res));
        PQclear(res);
    }
    return rc;
}

static int copy_table(const struct snapshot_src *s, struct relation *r, struct copier *cp,
                      struct err *err)
{
    uint64_t rows = 0;
    int rc = catalog_create_shadow(s->shadow, r, err);
    if (!rc)
        rc = start_copy(s->src, "source", r, "TO STDOUT", err);
    if (rc)
        return rc;
    rc = start_copy(s->shadow, "shadow", r, "FROM STDIN", err);
    if (!rc)
        rc = pump(s, r, cp, &rows, err);
    int rc2 = finish_copy(s->src, "source", r, err);
    if (PQputCopyEnd(s->shadow, rc ? "snapshot failed" : NULL) != 1 && !rc)
        rc = err_set(err, -EIO, "shadow: %s", PQerrorMessage(s->shadow));
    int rc3 = finish_copy(s->shadow, "shadow", r, rc ? NULL : err);
    r->snapshot_rows = rows;
    log_info("datashadow", "copied %" PRIu64 " rows of '%s'", rows, r->display);
    return rc ? rc : rc2 ? rc2 : rc3;
}

static int record(const struct snapshot_src *s, const struct relation *rels, size_t n, uint64_t lsn,
                  struct err *err)
{
    char l[32], rows[24];
    pgconn_lsn_format(lsn, l, sizeof(l));
    const char *p[] = {s->slot, l};
    PGresult *res = pgconn_query(s->shadow, "shadow",
                                 "INSERT INTO doppel_datashadow.progress (slot, lsn) VALUES ($1, "
                                 "$2::pg_lsn) ON CONFLICT (slot) DO UPDATE SET lsn = "
                                 "excluded.lsn, txns = 0, changes = 0, commit_time = NULL",
                                 2, p, err);
    PQclear(res);
    for (size_t i = 0; res && i < n; i++) {
        snprintf(rows, sizeof(rows), "%" PRIu64, rels[i].snapshot_rows);
        const char *t[] = {s->slot, rels[i].display, rows};
        res = pgconn_query(s->shadow, "shadow",
                           "INSERT INTO doppel_datashadow.tables (slot, name, snapshot_rows) "
                           "VALUES ($1, $2, $3::bigint) ON CONFLICT (slot, name) DO UPDATE SET "
                           "snapshot_rows = excluded.snapshot_rows, inserts = 0, updates = 0, "
                           "deletes = 0, truncates = 0",
                           3, t, err);
        PQclear(res);
    }
    return res ? 0 : -EIO;
}

static int copy_all(const struct snapshot_src *s, struct relation *rels, size_t n, uint64_t lsn,
                    struct err *err)
{
    struct copier cp;
    relation_row_init(&cp.row);
    buf_init(&cp.vals, LINE_MAX_BYTES);
    buf_init(&cp.out, LINE_MAX_BYTES);
    rng_seed(&cp.rng, (uint64_t)time(NULL) ^ lsn);
    int rc = pgconn_cmd(s->shadow, "shadow",
                        "DELETE FROM doppel_datashadow.tables WHERE slot = "
                        "current_setting('doppel.slot')",
                        err);
    if (!rc)
        rc = schema_drop_fks(s->shadow, rels, n, err);
    for (size_t i = 0; i < n && !rc; i++)
        rc = copy_table(s, &rels[i], &cp, err);
    if (!rc)
        rc = schema_create(s->src, s->shadow, rels, n, err);
    if (!rc)
        rc = record(s, rels, n, lsn, err);
    relation_row_release(&cp.row);
    buf_release(&cp.vals);
    buf_release(&cp.out);
    return rc;
}

static int begin_both(const struct snapshot_src *s, const char *snap, struct err *err)
{
    char *lit = PQescapeLiteral(s->src, snap, strlen(snap));
    char *sql = xasprintf("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; "
                          "SET TRANSACTION SNAPSHOT %s",
                          lit ? lit : "''");
    int rc = pgconn_cmd(s->src, "source", sql, err);
    PQfreemem(lit);
    free(sql);
    char *slot = PQescapeLiteral(s->shadow, s->slot, strlen(s->slot));
    sql = xasprintf("BEGIN; SELECT set_config('doppel.slot', %s, true)", slot ? slot : "''");
    if (!rc)
        rc = pgconn_cmd(s->shadow, "shadow", sql, err);
    PQfreemem(slot);
    free(sql);
    return rc;
}

int snapshot_run(const struct snapshot_src *s, struct relation *rels, size_t n, uint64_t *lsn,
                 struct err *err)
{
    char *snap = NULL;
    int rc = drop_stale_slot(s, err);
    if (!rc)
        rc = create_slot(s, lsn, &snap, err);
    if (!rc)
        rc = begin_both(s, snap, err);
    if (!rc)
        rc = copy_all(s, rels, n, *lsn, err);
    if (!rc)
        rc = pgconn_cmd(s->shadow, "shadow", "COMMIT", err);
    if (!rc)
        rc = pgconn_cmd(s->src, "source", "COMMIT", err);
    free(snap);
    return rc;
}
