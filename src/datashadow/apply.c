// SPDX-License-Identifier: Apache-2.0
/*
 * apply: source transactions into shadow transactions (see apply.h for the states). The
 * shadow connection is in pipeline mode from the first Begin of a group to its commit;
 * every SYNC_EVERY statements a sync point drains the results so neither side's buffers
 * fill. An error anywhere leaves the shadow transaction uncommitted (the connection is
 * closed by the caller), so the group's source transactions will be sent again after a
 * restart.
 */
#include "datashadow/apply.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/xalloc.h"
#include "datashadow/catalog.h"
#include "datashadow/pgconn.h"

#define SYNC_EVERY 256
#define GROUP_CHANGES 2000 /* a group of source transactions commits at this many rows */
#define GROUP_TXNS 500     /* or at this many transactions */
#define SQL_MAX (16 * 1024 * 1024)
#define PARAMS_MAX (1024 * 1024 * 1024)
/* From this many inserts into one table in a row on, the rest of the run goes as one COPY
 * instead of prepared INSERTs: a COPY costs round trips the pipeline does not (the sync
 * before it, its start, its end); bench/datashadow/runs measured COPY slower at 16 and 64
 * rows per run and even with the INSERTs at 256 (bench/results-datashadow-stream.md). */
#define COPY_MIN_ROWS 256
#define COPY_SEND_BYTES (64 * 1024) /* an open COPY is sent rows in pieces of this size */

void apply_init(struct apply *a, PGconn *shadow, PGconn *src, struct relation *rels, size_t n,
                const struct mask_key *key, const char *slot, bool follow, uint64_t done_lsn)
{
    memset(a, 0, sizeof(*a));
    a->shadow = shadow;
    a->src = src;
    a->rels = rels;
    a->nrels = n;
    a->key = key;
    a->slot = slot;
    a->follow = follow;
    a->done_lsn = done_lsn;
    a->durable_lsn = done_lsn; /* read back from the shadow's progress row */
    a->last_sync_ns = clock_mono_ns();
    rng_seed(&a->rng, (uint64_t)time(NULL) ^ done_lsn);
    relation_row_init(&a->row);
    relation_row_init(&a->old);
    buf_init(&a->params, PARAMS_MAX);
    buf_init(&a->sql, SQL_MAX);
    apply_run_init(&a->run);
}

void apply_release(struct apply *a)
{
    if (!a)
        return;
    relation_row_release(&a->row);
    relation_row_release(&a->old);
    buf_release(&a->params);
    buf_release(&a->sql);
    apply_run_release(&a->run);
    free(a->pv);
    a->pv = NULL;
}

static void stmt_name(char *out, size_t size, char op, const struct relation *r)
{
    snprintf(out, size, "ds_%c_%u_%u", op, r->relid, r->ver);
}

static void append_ident(struct buf *b, const char *name)
{
    char *q = pgconn_ident(name);
    buf_appends(b, q);
    free(q);
}

/* " WHERE k1 = $first AND k2 = $first+1 ..." */
static void where_key(struct buf *b, const struct relation *r, size_t first)
{
    for (size_t k = 0; k < r->nkey; k++) {
        buf_appends(b, k ? " AND " : " WHERE ");
        append_ident(b, r->cols[r->key[k]].name);
        buf_printf(b, " = $%zu", first + k);
    }
}

static void sql_insert(struct buf *b, const struct relation *r)
{
    buf_printf(b, "INSERT INTO %s (", r->qname);
    for (size_t i = 0; i < r->ncols; i++) {
        buf_appends(b, i ? ", " : "");
        append_ident(b, r->cols[i].name);
    }
    buf_appends(b, ") VALUES (");
    for (size_t i = 0; i < r->ncols; i++)
        buf_printf(b, "%s$%zu", i ? ", " : "", i + 1);
    buf_appends(b, ")");
}

/* SET over the columns whose new value was sent (unchanged TOASTed values are not). */
static size_t sql_update(struct buf *b, const struct relation *r, const struct pgoutput_value *v)
{
    size_t n = 0;
    buf_printf(b, "UPDATE %s SET ", r->qname);
    for (size_t i = 0; i < r->ncols; i++) {
        if (v && v[i].kind == 'u')
            continue;
        buf_appends(b, n ? ", " : "");
        append_ident(b, r->cols[i].name);
        buf_printf(b, " = $%zu", ++n);
    }
    where_key(b, r, n + 1);
    return n;
}

static void sql_delete(struct buf *b, const struct relation *r)
{
    buf_printf(b, "DELETE FROM %s", r->qname);
    where_key(b, r, 1);
}

static int prepare_one(struct apply *a, char op, const struct relation *r, bool pipelined,
                       struct err *err)
{
    char name[64];
    stmt_name(name, sizeof(name), op, r);
    buf_reset(&a->sql);
    if (op == 'i')
        sql_insert(&a->sql, r);
    else if (op == 'u')
        sql_update(&a->sql, r, NULL);
    else
        sql_delete(&a->sql, r);
    if (pipelined) {
        a->pending++;
        return PQsendPrepare(a->shadow, name, a->sql.data, 0, NULL)
                   ? 0
                   : err_set(err, -EIO, "shadow: %s", PQerrorMessage(a->shadow));
    }
    PGresult *res = PQprepare(a->shadow, name, a->sql.data, 0, NULL);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK
                 ? 0
                 : err_set(err, -EIO, "shadow: preparing for '%s': %s", r->display,
                           PQresultErrorMessage(res));
    PQclear(res);
    return rc;
}

static int prepare_rel(struct apply *a, const struct relation *r, bool pipelined, struct err *err)
{
    int rc = prepare_one(a, 'i', r, pipelined, err);
    if (!rc)
        rc = prepare_one(a, 'u', r, pipelined, err);
    return rc ? rc : prepare_one(a, 'd', r, pipelined, err);
}

static int prepare_plain(PGconn *c, const char *name, const char *sql, struct err *err)
{
    PGresult *res = PQprepare(c, name, sql, 0, NULL);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK
                 ? 0
                 : err_set(err, -EIO, "shadow: %s", PQresultErrorMessage(res));
    PQclear(res);
    return rc;
}

int apply_prepare(struct apply *a, struct err *err)
{
    int rc = pgconn_cmd(a->shadow, "shadow", "SET synchronous_commit = off", err);
    if (!rc)
        rc = prepare_plain(a->shadow, "ds_progress",
                           "UPDATE doppel_datashadow.progress SET lsn = $1::pg_lsn, commit_time "
                           "= timestamptz '2000-01-01 00:00:00+00' + $2::bigint * interval "
                           "'1 microsecond', applied_at = now(), txns = txns + $5::bigint, "
                           "changes = changes + $3::bigint WHERE slot = $4",
                           err);
    if (!rc)
        rc = prepare_plain(a->shadow, "ds_table",
                           "UPDATE doppel_datashadow.tables SET inserts = inserts + $1::bigint, "
                           "updates = updates + $2::bigint, deletes = deletes + $3::bigint, "
                           "truncates = truncates + $4::bigint WHERE slot = $5 AND name = $6",
                           err);
    for (size_t i = 0; i < a->nrels && !rc; i++)
        rc = prepare_rel(a, &a->rels[i], false, err);
    return rc;
}

/* Reads the results up to the last sync point; the first error is the one reported. */
static int drain(struct apply *a, struct err *err)
{
    int rc = 0;
    if (!PQpipelineSync(a->shadow))
        return err_set(err, -EIO, "shadow: %s", PQerrorMessage(a->shadow));
    for (;;) {
        PGresult *res = PQgetResult(a->shadow);
        if (!res) {
            if (PQstatus(a->shadow) != CONNECTION_OK)
                return err_set(err, -EIO, "shadow: connection lost");
            continue;
        }
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_FATAL_ERROR && !rc)
            rc = err_set(err, -EIO, "shadow: %s", PQresultErrorMessage(res));
        PQclear(res);
        if (st == PGRES_PIPELINE_SYNC)
            break;
    }
    a->pending = 0;
    return rc;
}

static int sent(struct apply *a, int ok, struct err *err)
{
    if (!ok)
        return err_set(err, -EIO, "shadow: %s", PQerrorMessage(a->shadow));
    return ++a->pending >= SYNC_EVERY ? drain(a, err) : 0;
}

/* Copies the values (skipping 'u') into NUL-terminated parameters appended to a->pv. */
static int add_params(struct apply *a, size_t *np, const struct pgoutput_value *v, size_t n,
                      const size_t *only, size_t nonly)
{
    size_t count = only ? nonly : n;
    for (size_t k = 0; k < count; k++) {
        const struct pgoutput_value *x = &v[only ? only[k] : k];
        if (!only && x->kind == 'u')
            continue;
        if (*np + 1 > a->pv_cap) {
            a->pv_cap = a->pv_cap ? 2 * a->pv_cap : 64;
            a->pv = xreallocarray(a->pv, a->pv_cap, sizeof(*a->pv));
        }
        /* offsets now, pointers once params stops moving */
        a->pv[(*np)++] = x->kind == 't' ? (const char *)(uintptr_t)(a->params.len + 1) : NULL;
        /* the appended "" is a NUL counted in len, ending the value */
        if (x->kind == 't' &&
            (buf_append(&a->params, x->data, x->len) || buf_append(&a->params, "", 1)))
            return -ENOSPC;
    }
    return 0;
}

static void fix_params(struct apply *a, size_t np)
{
    for (size_t i = 0; i < np; i++)
        if (a->pv[i])
            a->pv[i] = a->params.data + ((uintptr_t)a->pv[i] - 1);
}

static int send_prepared(struct apply *a, char op, const struct relation *r, size_t np,
                         struct err *err)
{
    char name[64];
    stmt_name(name, sizeof(name), op, r);
    fix_params(a, np);
    return sent(a, PQsendQueryPrepared(a->shadow, name, (int)np, a->pv, NULL, NULL, 0), err);
}

static struct relation *find_rel(struct apply *a, uint32_t relid, struct err *err)
{
    struct relation *r = catalog_find(a->rels, a->nrels, relid);
    if (!r)
        err_set(err, -ENOENT,
                "a change for a table (OID %u) that joined the publication after "
                "the snapshot: delete the shadow's state to copy again",
                relid);
    return r;
}

/* Starts the run's COPY: the pipeline is synced (earlier statements' errors reported
 * first) and left, since libpq runs no COPY in it. */
static int copy_begin(struct apply *a, const struct relation *r, struct err *err)
{
    int rc = drain(a, err);
    if (!rc && !PQexitPipelineMode(a->shadow))
        rc = err_set(err, -EIO, "shadow: %s", PQerrorMessage(a->shadow));
    if (!rc)
        rc = apply_run_copy_start(a->shadow, r, err);
    a->copying = rc == 0;
    return rc;
}

/* Sends the rest of the run, ends its COPY and enters the pipeline again. */
static int copy_finish(struct apply *a, struct err *err)
{
    int rc = apply_run_copy_send(a->shadow, &a->run, err);
    int rc2 = apply_run_copy_end(a->shadow, a->run_rel, rc != 0, err);
    a->copying = false;
    apply_run_reset(&a->run);
    if (!rc && !rc2 && !PQenterPipelineMode(a->shadow))
        rc = err_set(err, -EIO, "shadow: cannot enter pipeline mode");
    return rc ? rc : rc2;
}

/* Ends the current run of inserts: its COPY, if it has one. */
static int end_run(struct apply *a, struct err *err)
{
    int rc = a->copying ? copy_finish(a, err) : 0;
    a->run_rel = NULL;
    a->run_len = 0;
    return rc;
}

/* One masked row into the open COPY; the rows go out in pieces of COPY_SEND_BYTES, so
 * the shadow loads them while more are masked. */
static int copy_row(struct apply *a, const struct relation *r, struct err *err)
{
    int rc = apply_run_add(&a->run, r, a->row.v, r->ncols);
    if (rc == -ENOSPC && a->run.text.len) { /* a huge row after others */
        rc = apply_run_copy_send(a->shadow, &a->run, err);
        if (rc)
            return rc;
        rc = apply_run_add(&a->run, r, a->row.v, r->ncols);
    }
    if (rc == -EINVAL)
        return err_set(err, -EPROTO, "table '%s': an insert without every value", r->display);
    if (rc)
        return err_set(err, -ENOSPC, "table '%s': row too large", r->display);
    return a->run.text.len >= COPY_SEND_BYTES ? apply_run_copy_send(a->shadow, &a->run, err) : 0;
}

/* One masked row as a prepared INSERT into the pipeline. */
static int insert_row(struct apply *a, const struct relation *r, struct err *err)
{
    size_t np = 0;
    buf_reset(&a->params);
    if (add_params(a, &np, a->row.v, r->ncols, NULL, 0))
        return err_set(err, -ENOSPC, "table '%s': row too large", r->display);
    return send_prepared(a, 'i', r, np, err);
}

/* Consecutive inserts into one table are a run: its first COPY_MIN_ROWS - 1 rows go as
 * prepared INSERTs, the rest through one COPY that ends with the run (another table,
 * any other message). Short runs, the common case, cost nothing more than before. */
static int do_insert(struct apply *a, const struct pgoutput_msg *m, struct err *err)
{
    struct relation *r = find_rel(a, m->relid, err);
    if (!r)
        return -ENOENT;
    int rc = relation_mask(r, a->key, &a->rng, m->new_.v, m->new_.n, NULL, &a->row, err);
    if (!rc && a->run_rel != r)
        rc = end_run(a, err);
    r->txn.inserts++;
    if (rc)
        return rc;
    a->run_rel = r;
    if (++a->run_len >= COPY_MIN_ROWS && !a->copying)
        rc = copy_begin(a, r, err);
    if (rc)
        return rc;
    return a->copying ? copy_row(a, r, err) : insert_row(a, r, err);
}

static bool has_unchanged(const struct pgoutput_tuple *t)
{
    for (uint16_t i = 0; i < t->n; i++)
        if (t->v[i].kind == 'u')
            return true;
    return false;
}

/* The key of the row to change: from the old tuple when sent (the key changed, or
 * replica identity full), else from the new one. Masked like the row was. */
static int old_key(struct apply *a, const struct relation *r, const struct pgoutput_msg *m,
                   const struct relation_row **from, struct err *err)
{
    *from = &a->row;
    if (!m->old_kind)
        return 0;
    *from = &a->old;
    return relation_mask(r, a->key, &a->rng, m->old.v, m->old.n, NULL, &a->old, err);
}

static int do_update(struct apply *a, const struct pgoutput_msg *m, struct err *err)
{
    struct relation *r = find_rel(a, m->relid, err);
    const struct relation_row *from;
    if (!r)
        return -ENOENT;
    int rc = relation_mask(r, a->key, &a->rng, m->new_.v, m->new_.n, NULL, &a->row, err);
    if (!rc)
        rc = old_key(a, r, m, &from, err);
    if (rc)
        return rc;
    size_t np = 0;
    buf_reset(&a->params);
    if (add_params(a, &np, a->row.v, r->ncols, NULL, 0) ||
        add_params(a, &np, from->v, r->ncols, r->key, r->nkey))
        return err_set(err, -ENOSPC, "table '%s': row too large", r->display);
    r->txn.updates++;
    if (!has_unchanged(&m->new_))
        return send_prepared(a, 'u', r, np, err);
    buf_reset(&a->sql);
    sql_update(&a->sql, r, m->new_.v);
    fix_params(a, np);
    return sent(a, PQsendQueryParams(a->shadow, a->sql.data, (int)np, NULL, a->pv, NULL, NULL, 0),
                err);
}

static int do_delete(struct apply *a, const struct pgoutput_msg *m, struct err *err)
{
    struct relation *r = find_rel(a, m->relid, err);
    if (!r)
        return -ENOENT;
    if (!m->old_kind)
        return err_set(err, -EPROTO, "table '%s': a delete without its key", r->display);
    int rc = relation_mask(r, a->key, &a->rng, m->old.v, m->old.n, NULL, &a->old, err);
    size_t np = 0;
    buf_reset(&a->params);
    if (!rc && add_params(a, &np, a->old.v, r->ncols, r->key, r->nkey))
        rc = err_set(err, -ENOSPC, "table '%s': key too large", r->display);
    r->txn.deletes++;
    return rc ? rc : send_prepared(a, 'd', r, np, err);
}

static int do_truncate(struct apply *a, const struct pgoutput_msg *m, struct err *err)
{
    buf_reset(&a->sql);
    buf_appends(&a->sql, "TRUNCATE ");
    for (uint32_t i = 0; i < m->nrelids; i++) {
        struct relation *r = find_rel(a, m->relids[i], err);
        if (!r)
            return -ENOENT;
        buf_printf(&a->sql, "%s%s", i ? ", " : "", r->qname);
        r->txn.truncates++;
    }
    if (m->truncate_flags & 2)
        buf_appends(&a->sql, " RESTART IDENTITY");
    return sent(a, PQsendQueryParams(a->shadow, a->sql.data, 0, NULL, NULL, NULL, NULL, 0), err);
}

static int do_begin(struct apply *a, const struct pgoutput_msg *m, struct err *err)
{
    a->txn_lsn = m->lsn;
    a->txn_ts = m->ts;
    a->txn_changes = 0;
    if (a->state == APPLY_GROUPED) { /* joins the group's open shadow transaction */
        a->state = APPLY_IN_TXN;
        return 0;
    }
    if (m->lsn < a->done_lsn) { /* committed on the shadow before a restart */
        a->state = APPLY_SKIPPING;
        return 0;
    }
    if (!PQenterPipelineMode(a->shadow))
        return err_set(err, -EIO, "shadow: cannot enter pipeline mode");
    a->state = APPLY_IN_TXN;
    a->pending = 0;
    return sent(a, PQsendQueryParams(a->shadow, "BEGIN", 0, NULL, NULL, NULL, NULL, 0), err);
}

static int send_table_counts(struct apply *a, struct relation *r, struct err *err)
{
    char n[4][24];
    const char *p[6] = {n[0], n[1], n[2], n[3], a->slot, r->display};
    snprintf(n[0], sizeof(n[0]), "%" PRIu64, r->txn.inserts);
    snprintf(n[1], sizeof(n[1]), "%" PRIu64, r->txn.updates);
    snprintf(n[2], sizeof(n[2]), "%" PRIu64, r->txn.deletes);
    snprintf(n[3], sizeof(n[3]), "%" PRIu64, r->txn.truncates);
    return sent(a, PQsendQueryPrepared(a->shadow, "ds_table", 6, p, NULL, NULL, 0), err);
}

/* Commits the group: the progress record of its last source transaction, the table
 * counts, COMMIT (with a flush wait once per sync interval), then one round trip. */
static int commit_group(struct apply *a, bool *committed, struct err *err)
{
    char lsn[32], ts[24], changes[24], txns[24];
    const char *p[5] = {lsn, ts, changes, a->slot, txns};
    uint64_t now = clock_mono_ns();
    bool sync = now - a->last_sync_ns >= a->sync_every_ns;
    pgconn_lsn_format(a->group_lsn, lsn, sizeof(lsn));
    snprintf(ts, sizeof(ts), "%" PRId64, a->group_ts);
    snprintf(changes, sizeof(changes), "%" PRIu64, a->group_changes);
    snprintf(txns, sizeof(txns), "%" PRIu64, a->group_txns);
    int rc = sent(a, PQsendQueryPrepared(a->shadow, "ds_progress", 5, p, NULL, NULL, 0), err);
    for (size_t i = 0; i < a->nrels && !rc; i++) {
        struct relation_counts *t = &a->rels[i].txn;
        if (t->inserts || t->updates || t->deletes || t->truncates)
            rc = send_table_counts(a, &a->rels[i], err);
    }
    if (!rc && sync) /* this commit flushes the WAL of every earlier one too */
        rc = sent(a,
                  PQsendQueryParams(a->shadow, "SET LOCAL synchronous_commit = on", 0, NULL, NULL,
                                    NULL, NULL, 0),
                  err);
    if (!rc)
        rc = sent(a, PQsendQueryParams(a->shadow, "COMMIT", 0, NULL, NULL, NULL, NULL, 0), err);
    if (!rc)
        rc = drain(a, err);
    if (rc)
        return rc;
    PQexitPipelineMode(a->shadow);
    for (size_t i = 0; i < a->nrels; i++) {
        struct relation *r = &a->rels[i];
        r->total.inserts += r->txn.inserts;
        r->total.updates += r->txn.updates;
        r->total.deletes += r->txn.deletes;
        r->total.truncates += r->txn.truncates;
        memset(&r->txn, 0, sizeof(r->txn));
    }
    a->done_lsn = a->group_lsn;
    if (sync) {
        a->durable_lsn = a->group_lsn;
        a->last_sync_ns = now;
    }
    a->done_ts = a->group_ts;
    a->rows_applied += a->group_changes;
    a->txns_applied += a->group_txns;
    a->group_changes = a->group_txns = 0;
    a->state = APPLY_IDLE;
    *committed = true;
    return 0;
}

/* The source transaction joins the open group; a full group commits now, else the caller
 * commits it with apply_flush once no further transaction is waiting. */
static int do_commit(struct apply *a, const struct pgoutput_msg *m, bool *committed,
                     struct err *err)
{
    a->group_lsn = m->end_lsn;
    a->group_ts = m->ts;
    a->group_txns++;
    a->group_changes += a->txn_changes;
    a->state = APPLY_GROUPED;
    if (a->group_changes < GROUP_CHANGES && a->group_txns < GROUP_TXNS)
        return 0;
    return commit_group(a, committed, err);
}

int apply_flush(struct apply *a, bool *committed, struct err *err)
{
    *committed = false;
    return a->state == APPLY_GROUPED ? commit_group(a, committed, err) : 0;
}

int apply_sync(struct apply *a, struct err *err)
{
    if (a->state != APPLY_IDLE || a->durable_lsn >= a->done_lsn)
        return 0;
    /* A transaction with an xid commits a WAL record; synchronous, it returns once the
     * WAL up to that record, every earlier commit's included, is flushed. */
    int rc =
        pgconn_cmd(a->shadow, "shadow",
                   "BEGIN; SET LOCAL synchronous_commit = on; SELECT txid_current(); COMMIT", err);
    if (rc)
        return rc;
    a->durable_lsn = a->done_lsn;
    a->last_sync_ns = clock_mono_ns();
    return 0;
}

/* The type of a column as the source names it (format_type) and its pg_type name. */
static int source_type(struct apply *a, const struct pgoutput_column *c, char **sql, char **typname,
                       struct err *err)
{
    char oid[16], mod[16];
    snprintf(oid, sizeof(oid), "%u", c->type_oid);
    snprintf(mod, sizeof(mod), "%d", c->typmod);
    const char *p[] = {oid, mod};
    PGresult *res = pgconn_query(a->src, "source",
                                 "SELECT format_type($1::oid, $2::int), typname FROM pg_type "
                                 "WHERE oid = $1::oid",
                                 2, p, err);
    if (!res)
        return -EIO;
    int rc = PQntuples(res) == 1 ? 0 : err_set(err, -ENOENT, "source: unknown type %s", oid);
    if (!rc) {
        *sql = xstrdup(PQgetvalue(res, 0, 0));
        *typname = xstrdup(PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return rc;
}

/* Compares the columns the source sends with r's: the same, in the same order, then
 * possibly new ones at the end. Differences go to diff; *added counts the new ones. */
static int compare_columns(struct apply *a, struct relation *r, const struct pgoutput_msg *m,
                           struct buf *diff, size_t *added, size_t *changed, struct err *err)
{
    *added = *changed = 0;
    for (size_t i = 0; i < r->ncols || i < m->ncols; i++) {
        struct relation_column *c = i < r->ncols ? &r->cols[i] : NULL;
        const struct pgoutput_column *s = i < m->ncols ? &m->cols[i] : NULL;
        *changed += !s || (c && strcmp(c->name, s->name));
        if (!s) {
            buf_printf(diff, "%scolumn '%s' dropped", diff->len ? ", " : "", c->name);
        } else if (!c) {
            (*added)++;
            buf_printf(diff, "%scolumn '%s' added", diff->len ? ", " : "", s->name);
        } else if (strcmp(c->name, s->name)) {
            buf_printf(diff, "%scolumn '%s' is now '%s'", diff->len ? ", " : "", c->name, s->name);
        } else if (c->type_oid != s->type_oid || c->typmod != s->typmod) {
            char *sql = NULL, *tn = NULL;
            int rc = source_type(a, s, &sql, &tn, err);
            if (rc)
                return rc;
            if (strcmp(sql, c->type_sql)) {
                (*changed)++;
                buf_printf(diff, "%scolumn '%s' changed type from %s to %s", diff->len ? ", " : "",
                           c->name, c->type_sql, sql);
            } else {
                c->type_oid = s->type_oid;
                c->typmod = s->typmod;
            }
            free(sql);
            free(tn);
        }
    }
    return 0;
}

static int add_column(struct apply *a, struct relation *r, const struct pgoutput_column *s,
                      struct err *err)
{
    char *tn = NULL;
    r->cols = xreallocarray(r->cols, r->ncols + 1, sizeof(*r->cols));
    struct relation_column *c = &r->cols[r->ncols];
    memset(c, 0, sizeof(*c));
    int rc = source_type(a, s, &c->type_sql, &tn, err);
    if (rc)
        return rc;
    c->name = xstrdup(s->name);
    c->type_oid = s->type_oid;
    c->typmod = s->typmod;
    c->mtype = mask_type_of(s->type_oid, tn);
    c->rule.kind = MASK_KEEP;
    free(tn);
    char *sql = catalog_add_column_sql(r, r->ncols++);
    if (a->state == APPLY_IN_TXN)
        rc = sent(a, PQsendQueryParams(a->shadow, sql, 0, NULL, NULL, NULL, NULL, 0), err);
    else
        rc = pgconn_cmd(a->shadow, "shadow", sql, err);
    free(sql);
    return rc;
}

static int do_relation(struct apply *a, const struct pgoutput_msg *m, struct err *err)
{
    struct relation *r = find_rel(a, m->relid, err);
    struct buf diff;
    size_t added, changed;
    if (!r)
        return -ENOENT;
    buf_init(&diff, 64 * 1024);
    int rc = compare_columns(a, r, m, &diff, &added, &changed, err);
    bool only_added = added > 0 && changed == 0;
    if (!rc && diff.len && (!a->follow || !only_added))
        rc = err_set(err, -EPROTO, "schema drift in table '%s': %s%s", r->display, diff.data,
                     only_added ? " (set `schema: follow` to add new columns to the shadow)" : "");
    for (size_t i = r->ncols; !rc && i < m->ncols; i++)
        rc = add_column(a, r, &m->cols[i], err);
    if (!rc && added) {
        r->ver++;
        rc =
            a->state == APPLY_IN_TXN ? prepare_rel(a, r, true, err) : prepare_rel(a, r, false, err);
    }
    buf_release(&diff);
    return rc;
}

int apply_message(struct apply *a, const struct pgoutput_msg *m, bool *committed, struct err *err)
{
    *committed = false;
    if (a->run_len && m->kind != PGOUTPUT_INSERT) { /* any other message ends the run */
        int rc = end_run(a, err);
        if (rc)
            return rc;
    }
    if (a->state == APPLY_GROUPED && m->kind != PGOUTPUT_BEGIN) {
        int rc = commit_group(a, committed, err); /* anything else ends the group first */
        if (rc)
            return rc;
    }
    switch (m->kind) {
    case PGOUTPUT_BEGIN:
        return do_begin(a, m, err);
    case PGOUTPUT_COMMIT:
        if (a->state == APPLY_SKIPPING) {
            a->state = APPLY_IDLE;
            return 0;
        }
        return do_commit(a, m, committed, err);
    case PGOUTPUT_RELATION:
        return do_relation(a, m, err);
    case PGOUTPUT_INSERT:
    case PGOUTPUT_UPDATE:
    case PGOUTPUT_DELETE:
    case PGOUTPUT_TRUNCATE:
        break;
    default:
        return 0; /* Origin, Type, Message: nothing to apply */
    }
    if (a->state == APPLY_SKIPPING)
        return 0;
    if (a->state != APPLY_IN_TXN)
        return err_set(err, -EPROTO, "source: a change outside a transaction");
    a->txn_changes++;
    if (m->kind == PGOUTPUT_INSERT)
        return do_insert(a, m, err);
    if (m->kind == PGOUTPUT_UPDATE)
        return do_update(a, m, err);
    if (m->kind == PGOUTPUT_DELETE)
        return do_delete(a, m, err);
    return do_truncate(a, m, err);
}
