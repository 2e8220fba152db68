// SPDX-License-Identifier: Apache-2.0
/*
 * datashadow_status: `doppel datashadow --status`, read-only. The shadow's progress row and
 * per-table counts say what has been applied; the source's pg_replication_slots says how
 * far the slot is behind the source's WAL and how much WAL it keeps. Works whether or not
 * a data shadow is running.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "datashadow/datashadow.h"
#include "datashadow/pgconn.h"

static const char *const sql_progress =
    "SELECT lsn::text, coalesce(commit_time::text, ''), coalesce(applied_at::text, ''), txns, "
    "changes FROM doppel_datashadow.progress WHERE slot = $1";
static const char *const sql_tables =
    "SELECT name, snapshot_rows, inserts, updates, deletes, truncates FROM "
    "doppel_datashadow.tables WHERE slot = $1 ORDER BY name";
static const char *const sql_slot =
    "SELECT active, coalesce(confirmed_flush_lsn::text, ''), pg_current_wal_lsn()::text, "
    "coalesce((pg_current_wal_lsn() - confirmed_flush_lsn)::bigint, 0), "
    "coalesce((pg_current_wal_lsn() - restart_lsn)::bigint, 0) FROM pg_replication_slots "
    "WHERE slot_name = $1";
/* Seconds since the shadow last applied a transaction, counted only while the slot is
 * behind the source (a quiet source is not lag). */
static const char *const sql_behind =
    "SELECT CASE WHEN $1::bigint > 0 THEN coalesce(extract(epoch FROM now() - applied_at), 0) "
    "ELSE 0 END FROM doppel_datashadow.progress WHERE slot = $2";

struct status {
    PGresult *progress, *tables, *slot, *behind;
};

static void status_release(struct status *s)
{
    PQclear(s->progress);
    PQclear(s->tables);
    PQclear(s->slot);
    PQclear(s->behind);
}

static int query(const struct config_data *cfg, PGconn *src, PGconn *shadow, struct status *s,
                 struct err *err)
{
    const char *p[] = {cfg->slot};
    s->progress = pgconn_query(shadow, "shadow", sql_progress, 1, p, err);
    if (!s->progress)
        return -EIO;
    if (PQntuples(s->progress) != 1)
        return err_set(err, -ENOENT,
                       "shadow: no progress for slot '%s': the data shadow has "
                       "not finished its snapshot yet",
                       cfg->slot);
    s->tables = pgconn_query(shadow, "shadow", sql_tables, 1, p, err);
    s->slot = s->tables ? pgconn_query(src, "source", sql_slot, 1, p, err) : NULL;
    if (!s->slot)
        return -EIO;
    if (PQntuples(s->slot) != 1)
        return err_set(err, -ENOENT, "source: replication slot '%s' does not exist", cfg->slot);
    const char *b[] = {PQgetvalue(s->slot, 0, 3), cfg->slot};
    s->behind = pgconn_query(shadow, "shadow", sql_behind, 2, b, err);
    return s->behind ? 0 : -EIO;
}

static double num(PGresult *r, int row, int col)
{
    return strtod(PQgetvalue(r, row, col), NULL);
}

static void print_json(const struct config_data *cfg, const struct status *s, struct buf *out)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "slot", cfg->slot);
    cJSON_AddBoolToObject(o, "active", PQgetvalue(s->slot, 0, 0)[0] == 't');
    cJSON_AddStringToObject(o, "applied_lsn", PQgetvalue(s->progress, 0, 0));
    cJSON_AddStringToObject(o, "confirmed_lsn", PQgetvalue(s->slot, 0, 1));
    cJSON_AddStringToObject(o, "source_lsn", PQgetvalue(s->slot, 0, 2));
    cJSON_AddNumberToObject(o, "bytes_behind", num(s->slot, 0, 3));
    cJSON_AddNumberToObject(o, "seconds_behind", num(s->behind, 0, 0));
    cJSON_AddNumberToObject(o, "retained_wal_bytes", num(s->slot, 0, 4));
    cJSON_AddStringToObject(o, "last_commit", PQgetvalue(s->progress, 0, 1));
    cJSON_AddStringToObject(o, "applied_at", PQgetvalue(s->progress, 0, 2));
    cJSON_AddNumberToObject(o, "transactions", num(s->progress, 0, 3));
    cJSON_AddNumberToObject(o, "rows_applied", num(s->progress, 0, 4));
    cJSON *tables = cJSON_AddArrayToObject(o, "tables");
    static const char *const names[] = {"name",    "snapshot_rows", "inserts",
                                        "updates", "deletes",       "truncates"};
    for (int i = 0; i < PQntuples(s->tables); i++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, names[0], PQgetvalue(s->tables, i, 0));
        for (int k = 1; k < 6; k++)
            cJSON_AddNumberToObject(t, names[k], num(s->tables, i, k));
        cJSON_AddItemToArray(tables, t);
    }
    char *text = cJSON_Print(o);
    buf_printf(out, "%s\n", text);
    free(text);
    cJSON_Delete(o);
}

static void print_text(const struct config_data *cfg, const struct status *s, struct buf *out)
{
    buf_printf(out, "slot            %s (%s)\n", cfg->slot,
               PQgetvalue(s->slot, 0, 0)[0] == 't' ? "active" : "inactive");
    buf_printf(out, "applied lsn     %s\n", PQgetvalue(s->progress, 0, 0));
    buf_printf(out, "confirmed lsn   %s\n", PQgetvalue(s->slot, 0, 1));
    buf_printf(out, "source lsn      %s\n", PQgetvalue(s->slot, 0, 2));
    buf_printf(out, "bytes behind    %s\n", PQgetvalue(s->slot, 0, 3));
    buf_printf(out, "seconds behind  %.1f\n", num(s->behind, 0, 0));
    buf_printf(out, "retained wal    %s bytes\n", PQgetvalue(s->slot, 0, 4));
    buf_printf(out, "last commit     %s\n", PQgetvalue(s->progress, 0, 1));
    buf_printf(out, "applied at      %s\n", PQgetvalue(s->progress, 0, 2));
    buf_printf(out, "transactions    %s\n", PQgetvalue(s->progress, 0, 3));
    buf_printf(out, "rows applied    %s\n", PQgetvalue(s->progress, 0, 4));
    buf_printf(out, "%-32s %12s %10s %10s %10s %10s\n", "table", "snapshot", "inserts", "updates",
               "deletes", "truncates");
    for (int i = 0; i < PQntuples(s->tables); i++)
        buf_printf(out, "%-32s %12s %10s %10s %10s %10s\n", PQgetvalue(s->tables, i, 0),
                   PQgetvalue(s->tables, i, 1), PQgetvalue(s->tables, i, 2),
                   PQgetvalue(s->tables, i, 3), PQgetvalue(s->tables, i, 4),
                   PQgetvalue(s->tables, i, 5));
}

int datashadow_status(const struct config_data *cfg, bool json, struct buf *out, struct err *err)
{
    PGconn *src = NULL, *shadow = NULL;
    struct status s = {0};
    int rc = pgconn_open(cfg->source, false, cfg->connect_timeout_ns, "source", &src, err);
    if (!rc)
        rc = pgconn_open(cfg->shadow, false, cfg->connect_timeout_ns, "shadow", &shadow, err);
    if (!rc)
        rc = query(cfg, src, shadow, &s, err);
    if (!rc && json)
        print_json(cfg, &s, out);
    else if (!rc)
        print_text(cfg, &s, out);
    status_release(&s);
    PQfinish(src);
    PQfinish(shadow);
    return rc;
}
