// SPDX-License-Identifier: Apache-2.0
/*
 * datashadow: the run of a data shadow from connection to stop (see datashadow.h). The
 * order matters: the catalog and the rules are checked before anything is created, the
 * progress row in the shadow decides between snapshot and resume, and only an LSN whose
 * commit is durable on the shadow is ever reported to the source as flushed.
 *
 * With protocol version 2 the source streams a large transaction in segments before it
 * commits (Stream Start ... Stream Stop, segments of several transactions interleaved).
 * Changes inside a segment go to the spool of their top-level transaction; Relation
 * messages there are schema and take effect at once. Stream Abort drops the spool (or
 * truncates it to a rolled-back subtransaction); Stream Commit applies it through the
 * ordinary path, between a Begin and a Commit made from the Stream Commit, so masking,
 * skipping what a restart already applied, the progress record and LSN confirmation are
 * those of any transaction. While a spool is open, keepalives do not move the flushed
 * LSN: a restart must get the open transactions sent again from their start.
 */
#include "datashadow/datashadow.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "datashadow/apply.h"
#include "datashadow/catalog.h"
#include "datashadow/mask.h"
#include "datashadow/pgconn.h"
#include "datashadow/pgoutput.h"
#include "datashadow/schema.h"
#include "datashadow/snapshot.h"
#include "datashadow/spool.h"
#include "datashadow/stream.h"

#define KEY_MIN 16
#define KEY_MAX 64
#define SLOT_BUSY_WAIT_NS (120ULL * 1000000000)

struct datashadow {
    const struct config_data *cfg; /* borrowed */
    struct mask_key key;
    bool has_key;
    struct datashadow_stats stats;
    PGconn *src, *shadow, *repl;
    struct relation *rels; /* owned */
    size_t nrels;
    struct apply apply;
    struct pgoutput_msg msg;
    bool wal_warned;
    struct spool_set spools; /* the streamed transactions not yet committed or aborted */
    struct spool *seg;       /* borrowed from spools: the open segment's, NULL outside one */
};

static int hexval(int c)
{
    return isdigit(c) ? c - '0' : tolower(c) - 'a' + 10;
}

/* The mirror's key format: hex when the trimmed text is only hex digits (32 or more),
 * else the raw bytes. */
static int decode_key(const char *s, size_t len, struct mask_key *k)
{
    size_t t = len, i = 0;
    while (t && isspace((unsigned char)s[t - 1]))
        t--;
    while (i < t && isxdigit((unsigned char)s[i]))
        i++;
    if (i == t && t >= 2 * KEY_MIN && t % 2 == 0) {
        if (t / 2 > KEY_MAX)
            return -ERANGE;
        for (i = 0; i < t / 2; i++)
            k->bytes[i] = (unsigned char)(hexval(s[2 * i]) * 16 + hexval(s[2 * i + 1]));
        k->len = t / 2;
        return 0;
    }
    if (len < KEY_MIN || len > KEY_MAX)
        return -ERANGE;
    memcpy(k->bytes, s, len);
    k->len = len;
    return 0;
}

int datashadow_read_key(const struct config_data *c, struct mask_key *key, bool *has_key,
                        struct err *err)
{
    char buf[2 * KEY_MAX + 64];
    size_t len = 0;
    if (c->key_file && c->key_env)
        return err_set(err, -EINVAL, "data: set either 'key_file' or 'key_env', not both");
    if (c->key_file) {
        FILE *f = fopen(c->key_file, "rb");
        if (!f)
            return err_set(err, -errno, "data: cannot open key file '%s': %m", c->key_file);
        len = fread(buf, 1, sizeof(buf), f);
        fclose(f);
    } else if (c->key_env) {
        const char *v = getenv(c->key_env);
        if (!v)
            return err_set(err, -ENOENT, "data: environment variable '%s' is not set", c->key_env);
        len = strlen(v) < sizeof(buf) ? strlen(v) : sizeof(buf);
        memcpy(buf, v, len);
    } else {
        *has_key = false;
        return 0;
    }
    *has_key = false;
    int rc = len == sizeof(buf) || decode_key(buf, len, key);
    explicit_bzero(buf, sizeof(buf));
    if (rc)
        return err_set(err, -ERANGE, "data: the masking key must be 16 to 64 bytes, raw or hex");
    mask_key_prepare(key);
    *has_key = true;
    return 0;
}

static int check_slot_name(const char *s, struct err *err)
{
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_");
    if (n == 0 || s[n] || n > 63)
        return err_set(err, -EINVAL, "data: slot '%s' must be 1 to 63 of [a-z0-9_]", s);
    return 0;
}

int datashadow_new(const struct config_data *cfg, struct datashadow **out, struct err *err)
{
    struct datashadow *ds = xcalloc(1, sizeof(*ds));
    ds->cfg = cfg;
    *out = NULL;
    int rc = !cfg->source || !cfg->shadow
                 ? err_set(err, -EINVAL, "data: 'source' and 'shadow' are required")
                 : check_slot_name(cfg->slot, err);
    if (!rc)
        rc = datashadow_read_key(cfg, &ds->key, &ds->has_key, err);
    if (rc) {
        datashadow_free(ds);
        return rc;
    }
    *out = ds;
    return 0;
}

static void disconnect(struct datashadow *ds)
{
    PQfinish(ds->repl);
    PQfinish(ds->shadow);
    PQfinish(ds->src);
    ds->repl = ds->shadow = ds->src = NULL;
}

void datashadow_free(struct datashadow *ds)
{
    if (!ds)
        return;
    disconnect(ds);
    catalog_free(ds->rels, ds->nrels);
    pgoutput_msg_release(&ds->msg);
    spool_set_release(&ds->spools);
    mask_key_release(&ds->key);
    free(ds);
}

const struct datashadow_stats *datashadow_stats(const struct datashadow *ds)
{
    return &ds->stats;
}

static int connect_all(struct datashadow *ds, struct err *err)
{
    const struct config_data *c = ds->cfg;
    int rc = pgconn_open(c->source, false, c->connect_timeout_ns, "source", &ds->src, err);
    if (!rc)
        rc = pgconn_open(c->shadow, false, c->connect_timeout_ns, "shadow", &ds->shadow, err);
    if (!rc)
        rc = pgconn_open(c->source, true, c->connect_timeout_ns, "source", &ds->repl, err);
    if (rc && strstr(err->msg, "replication"))
        err_prefix(err, "the source user needs the REPLICATION attribute (ALTER ROLE ... "
                        "REPLICATION) and a pg_hba.conf entry for replication");
    return rc;
}

static int ensure_publication(struct datashadow *ds, struct err *err)
{
    const char *p[] = {ds->cfg->publication};
    PGresult *res = pgconn_query(ds->src, "source",
                                 "SELECT 1 FROM pg_publication WHERE pubname = $1", 1, p, err);
    if (!res)
        return -EIO;
    int exists = PQntuples(res);
    PQclear(res);
    if (exists)
        return 0;
    if (!ds->cfg->create_publication)
        return err_set(err, -ENOENT,
                       "source: publication '%s' does not exist: create it "
                       "(CREATE PUBLICATION %s FOR TABLE ...) or set create_publication",
                       ds->cfg->publication, ds->cfg->publication);
    char *q = pgconn_ident(ds->cfg->publication);
    char *sql = xasprintf("CREATE PUBLICATION %s FOR ALL TABLES", q);
    int rc = pgconn_cmd(ds->src, "source", sql, err);
    if (rc)
        err_prefix(err, "cannot create publication '%s' (a superuser can: %s)",
                   ds->cfg->publication, sql);
    else
        log_info("datashadow", "created publication '%s' for all tables", ds->cfg->publication);
    free(q);
    free(sql);
    return rc;
}

static int check_key_needed(struct datashadow *ds, struct err *err)
{
    for (size_t i = 0; i < ds->nrels; i++)
        for (size_t j = 0; j < ds->rels[i].ncols; j++) {
            const struct mask_rule *r = &ds->rels[i].cols[j].rule;
            bool keyed = r->kind == MASK_HASH || r->kind == MASK_SHIFT ||
                         (r->kind == MASK_NOISE && r->stable);
            if (keyed && !ds->has_key)
                return err_set(err, -EINVAL,
                               "data: column '%s.%s' has a keyed rule: set "
                               "'key_file' or 'key_env'",
                               ds->rels[i].display, ds->rels[i].cols[j].name);
        }
    return 0;
}

/* The progress row of the slot: *found and its LSN, and the per-table counts. */
static int read_progress(struct datashadow *ds, bool *found, uint64_t *lsn, struct err *err)
{
    const char *p[] = {ds->cfg->slot};
    PGresult *res =
        pgconn_query(ds->shadow, "shadow",
                     "SELECT lsn::text FROM doppel_datashadow.progress WHERE slot = $1", 1, p, err);
    if (!res)
        return -EIO;
    *found = PQntuples(res) == 1;
    int rc = *found && pgconn_lsn_parse(PQgetvalue(res, 0, 0), lsn)
                 ? err_set(err, -EPROTO, "shadow: bad progress LSN")
                 : 0;
    PQclear(res);
    if (rc || !*found)
        return rc;
    res = pgconn_query(ds->shadow, "shadow",
                       "SELECT name, inserts, updates, deletes, truncates, snapshot_rows FROM "
                       "doppel_datashadow.tables WHERE slot = $1",
                       1, p, err);
    for (int i = 0; res && i < PQntuples(res); i++) {
        struct relation *r = catalog_find_name(ds->rels, ds->nrels, PQgetvalue(res, i, 0));
        if (!r)
            continue;
        r->total.inserts = strtoull(PQgetvalue(res, i, 1), NULL, 10);
        r->total.updates = strtoull(PQgetvalue(res, i, 2), NULL, 10);
        r->total.deletes = strtoull(PQgetvalue(res, i, 3), NULL, 10);
        r->total.truncates = strtoull(PQgetvalue(res, i, 4), NULL, 10);
        r->snapshot_rows = strtoull(PQgetvalue(res, i, 5), NULL, 10);
    }
    PQclear(res);
    return res ? 0 : -EIO;
}

static int check_slot(struct datashadow *ds, struct err *err)
{
    const char *p[] = {ds->cfg->slot};
    PGresult *res = pgconn_query(
        ds->src, "source", "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", 1, p, err);
    if (!res)
        return -EIO;
    int n = PQntuples(res);
    PQclear(res);
    if (n == 1)
        return 0;
    return err_set(err, -ESRCH,
                   "source: replication slot '%s' is gone (dropped?), so changes "
                   "since the last run are lost: to copy again, run on the shadow DELETE FROM "
                   "doppel_datashadow.progress WHERE slot = '%s'",
                   ds->cfg->slot, ds->cfg->slot);
}

static int prepare(struct datashadow *ds, uint64_t *lsn, struct err *err)
{
    bool found = false;
    int rc = connect_all(ds, err);
    if (!rc)
        rc = ensure_publication(ds, err);
    if (!rc)
        rc = catalog_load(ds->src, ds->cfg->publication, &ds->rels, &ds->nrels, err);
    if (!rc)
        rc = catalog_apply_rules(ds->rels, ds->nrels, ds->cfg, err);
    if (!rc)
        rc = check_key_needed(ds, err);
    if (!rc)
        rc = catalog_state_init(ds->shadow, err);
    if (!rc)
        rc = read_progress(ds, &found, lsn, err);
    if (rc || !found)
        return rc ? rc : 1;
    rc = check_slot(ds, err);
    for (size_t i = 0; i < ds->nrels && !rc; i++)
        rc = catalog_check_shadow(ds->shadow, &ds->rels[i],
                                  ds->cfg->schema == CONFIG_DATA_SCHEMA_FOLLOW, err);
    if (!rc) /* sequences do not stream: catch up with the source's at every start */
        rc = schema_sync_sequences(ds->src, ds->shadow, ds->rels, ds->nrels, err);
    return rc;
}

static void update_lag(struct datashadow *ds, const struct stream *s)
{
    struct datashadow_stats *st = &ds->stats;
    atomic_store(&st->applied_lsn, s->flushed);
    atomic_store(&st->source_lsn, s->server_end);
    atomic_store(&st->lag_bytes, s->server_end > s->flushed ? s->server_end - s->flushed : 0);
}

/* Every status interval: how much WAL the slot keeps on the source. */
static int poll_slot(struct datashadow *ds, struct err *err)
{
    const char *p[] = {ds->cfg->slot};
    PGresult *res = pgconn_query(ds->src, "source",
                                 "SELECT (pg_current_wal_lsn() - restart_lsn)::bigint FROM "
                                 "pg_replication_slots WHERE slot_name = $1",
                                 1, p, err);
    if (!res)
        return -EIO;
    uint64_t held = PQntuples(res) ? strtoull(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    atomic_store(&ds->stats.retained_wal, held);
    if (held > ds->cfg->retained_wal_warn && !ds->wal_warned)
        log_warn("datashadow",
                 "slot '%s' retains %" PRIu64 " bytes of WAL on the source "
                 "(over retained_wal_warn)",
                 ds->cfg->slot, held);
    ds->wal_warned = held > ds->cfg->retained_wal_warn;
    return 0;
}

/* The stream may report as flushed what is durable on the shadow; between transactions
 * with every commit durable, it may also move up to the source's end (see stream.c). */
static void advance(struct datashadow *ds, struct stream *s)
{
    if (ds->apply.durable_lsn > s->flushed)
        s->flushed = ds->apply.durable_lsn;
    s->idle = ds->apply.state == APPLY_IDLE && ds->apply.durable_lsn == ds->apply.done_lsn &&
              ds->spools.n == 0 && !ds->seg;
}

static void count_commits(struct datashadow *ds)
{
    struct datashadow_stats *st = &ds->stats;
    atomic_store(&st->rows_applied, ds->apply.rows_applied);
    atomic_store(&st->txns_applied, ds->apply.txns_applied);
    atomic_store(&st->last_commit_us, ds->apply.done_ts + PGOUTPUT_EPOCH_UNIX * 1000000);
}

/* Stream Start, Stop and Abort: which spool the next changes go to, or which to drop. */
static int on_segment(struct datashadow *ds, const struct pgoutput_msg *m, struct err *err)
{
    bool in = ds->seg != NULL;
    if (in != (m->kind == PGOUTPUT_STREAM_STOP))
        return err_set(err, -EPROTO, "source: stream message '%c' %s a stream segment",
                       (char)m->kind, in ? "inside" : "outside");
    if (m->kind == PGOUTPUT_STREAM_STOP) {
        ds->seg = NULL;
        return 0;
    }
    if (m->kind == PGOUTPUT_STREAM_START) {
        if (m->first_segment) /* begins anew: nothing left over may be applied with it */
            spool_set_drop(&ds->spools, m->xid);
        ds->seg = spool_set_open(&ds->spools, m->xid);
        return 0;
    }
    if (m->sub_xid == m->xid) {
        spool_set_drop(&ds->spools, m->xid);
        return 0;
    }
    struct spool *sp = spool_set_find(&ds->spools, m->xid);
    int rc = sp ? spool_abort_sub(sp, m->sub_xid) : 0;
    return rc ? err_set(err, rc, "spool of transaction %u: %s", m->xid, strerror(-rc)) : 0;
}

/* The spooled changes of one transaction, decoded again and applied in order. */
static int apply_spool(struct datashadow *ds, struct spool *sp, bool *committed, struct err *err)
{
    struct spool_iter it;
    const char *d;
    size_t n;
    int got, rc = 0;
    spool_iter_init(&it);
    while (!rc && (got = spool_next(sp, &it, &d, &n)) != 0) {
        bool c = false;
        rc = got < 0 ? err_set(err, got, "reading the spool of transaction %u: %s", sp->xid,
                               strerror(-got))
                     : pgoutput_decode_in(d, n, true, &ds->msg);
        if (got > 0 && rc)
            rc =
                err_set(err, rc, "spool of transaction %u: a change that does not decode", sp->xid);
        if (!rc)
            rc = apply_message(&ds->apply, &ds->msg, &c, err);
        *committed |= c;
    }
    spool_iter_release(&it);
    return rc;
}

/* Stream Commit: the spool applied as one source transaction, framed by a Begin and a
 * Commit made from it, so that the rules of every other transaction hold. */
static int apply_streamed(struct datashadow *ds, bool *committed, struct err *err)
{
    const struct pgoutput_msg *m = &ds->msg;
    struct pgoutput_msg begin = {.kind = PGOUTPUT_BEGIN, .lsn = m->lsn, .ts = m->ts, .xid = m->xid};
    struct pgoutput_msg commit = {
        .kind = PGOUTPUT_COMMIT, .lsn = m->lsn, .end_lsn = m->end_lsn, .ts = m->ts};
    struct spool *sp = spool_set_find(&ds->spools, m->xid);
    uint64_t records = sp ? sp->records : 0, bytes = sp ? spool_size(sp) : 0;
    bool c = false;
    int rc = apply_message(&ds->apply, &begin, committed, err);
    if (!rc && sp)
        rc = apply_spool(ds, sp, committed, err);
    if (!rc)
        rc = apply_message(&ds->apply, &commit, &c, err);
    *committed |= c;
    spool_set_drop(&ds->spools, begin.xid);
    if (rc)
        return rc;
    atomic_fetch_add(&ds->stats.streamed_txns, 1);
    log_info("datashadow",
             "applied streamed transaction %u (%" PRIu64 " changes, %" PRIu64 " bytes spooled)",
             begin.xid, records, bytes);
    return 0;
}

/* One decoded message: stream framing, a change for the open segment's spool, or the
 * ordinary path. */
static int dispatch(struct datashadow *ds, const char *data, size_t len, bool *committed,
                    struct err *err)
{
    const struct pgoutput_msg *m = &ds->msg;
    int rc;
    switch (m->kind) {
    case PGOUTPUT_STREAM_START:
    case PGOUTPUT_STREAM_STOP:
    case PGOUTPUT_STREAM_ABORT:
        return on_segment(ds, m, err);
    case PGOUTPUT_STREAM_COMMIT:
        return ds->seg ? err_set(err, -EPROTO, "source: Stream Commit inside a stream segment")
                       : apply_streamed(ds, committed, err);
    case PGOUTPUT_INSERT:
    case PGOUTPUT_UPDATE:
    case PGOUTPUT_DELETE:
    case PGOUTPUT_TRUNCATE:
        if (!ds->seg)
            break;
        rc = spool_append(ds->seg, m->xid, data, len);
        return rc ? err_set(err, rc, "spooling a change of transaction %u: %s", ds->seg->xid,
                            strerror(-rc))
                  : 0;
    case PGOUTPUT_BEGIN:
    case PGOUTPUT_COMMIT:
        if (ds->seg)
            return err_set(err, -EPROTO, "source: '%c' inside a stream segment", (char)m->kind);
        break;
    default:
        if (ds->seg && m->kind != PGOUTPUT_RELATION)
            return 0; /* Type, Message: nothing to apply */
        break;
    }
    return apply_message(&ds->apply, m, committed, err);
}

static int on_data(struct stream *s, const char *data, size_t len, void *arg, struct err *err)
{
    struct datashadow *ds = arg;
    bool committed = false;
    if (!data) { /* the status tick: make what is committed durable, then report it */
        int rc = apply_sync(&ds->apply, err);
        advance(ds, s);
        update_lag(ds, s);
        return rc ? rc : poll_slot(ds, err);
    }
    int rc = pgoutput_decode_in(data, len, ds->seg != NULL, &ds->msg);
    if (rc)
        return err_set(err, rc, "source: a pgoutput message that does not decode (kind '%c')",
                       len ? data[0] : '?');
    rc = dispatch(ds, data, len, &committed, err);
    advance(ds, s);
    if (committed)
        count_commits(ds);
    update_lag(ds, s);
    return rc;
}

/* Nothing more waiting from the source: the open group of transactions commits. */
static int on_idle(struct stream *s, void *arg, struct err *err)
{
    struct datashadow *ds = arg;
    bool committed = false;
    int rc = apply_flush(&ds->apply, &committed, err);
    advance(ds, s);
    if (committed)
        count_commits(ds);
    update_lag(ds, s);
    return rc;
}

/* After a crash the source may hold the slot for the dead connection until it notices
 * (up to its wal_sender_timeout): wait for it rather than fail. */
static int start_when_free(struct datashadow *ds, struct stream *s, const atomic_bool *stop,
                           struct err *err)
{
    uint64_t give_up = clock_mono_ns() + SLOT_BUSY_WAIT_NS;
    int rc;
    while ((rc = stream_start(s, ds->cfg->slot, ds->cfg->publication, err)) == -EBUSY &&
           clock_mono_ns() < give_up && !atomic_load(stop)) {
        log_info("datashadow", "slot '%s' is still in use; waiting", ds->cfg->slot);
        nanosleep(&(struct timespec){.tv_nsec = 500000000}, NULL);
    }
    return rc;
}

static int stream_all(struct datashadow *ds, uint64_t lsn, const atomic_bool *stop, struct err *err)
{
    struct stream s;
    apply_init(&ds->apply, ds->shadow, ds->src, ds->rels, ds->nrels, ds->has_key ? &ds->key : NULL,
               ds->cfg->slot, ds->cfg->schema == CONFIG_DATA_SCHEMA_FOLLOW, lsn);
    ds->apply.sync_every_ns = ds->cfg->status_interval_ns;
    stream_init(&s, ds->repl, lsn, ds->cfg->status_interval_ns, on_data, ds);
    s.on_idle = on_idle;
    s.streaming = ds->cfg->streaming;
    spool_set_init(&ds->spools, SPOOL_MEM_DEFAULT);
    ds->seg = NULL;
    atomic_store(&ds->stats.applied_lsn, lsn);
    int rc = apply_prepare(&ds->apply, err);
    if (!rc)
        rc = start_when_free(ds, &s, stop, err);
    if (!rc) {
        char l[32];
        pgconn_lsn_format(lsn, l, sizeof(l));
        log_info("datashadow", "streaming from slot '%s' at %s (protocol version %d%s)",
                 ds->cfg->slot, l, s.proto, s.proto == 2 ? ", large transactions streamed" : "");
        atomic_store(&ds->stats.phase, DATASHADOW_STREAMING);
        rc = stream_run(&s, stop, err);
    }
    apply_release(&ds->apply);
    spool_set_release(&ds->spools);
    ds->seg = NULL;
    return rc;
}

int datashadow_run(struct datashadow *ds, const atomic_bool *stop, struct err *err)
{
    uint64_t lsn = 0;
    atomic_store(&ds->stats.phase, DATASHADOW_STARTING);
    int rc = prepare(ds, &lsn, err);
    if (rc == 1) { /* no progress recorded: first start, or a copy that never finished */
        struct snapshot_src s = {.repl = ds->repl,
                                 .src = ds->src,
                                 .shadow = ds->shadow,
                                 .slot = ds->cfg->slot,
                                 .key = ds->has_key ? &ds->key : NULL};
        atomic_store(&ds->stats.phase, DATASHADOW_SNAPSHOT);
        log_info("datashadow", "copying %zu tables (initial snapshot)", ds->nrels);
        rc = snapshot_run(&s, ds->rels, ds->nrels, &lsn, err);
    }
    if (!rc)
        rc = stream_all(ds, lsn, stop, err);
    disconnect(ds);
    atomic_store(&ds->stats.phase, rc ? DATASHADOW_FAILED : DATASHADOW_STOPPED);
    return rc;
}

void datashadow_metrics(const struct datashadow *ds, struct buf *out)
{
    const struct datashadow_stats *st = &ds->stats;
    uint64_t lag = atomic_load(&st->lag_bytes);
    int64_t last = atomic_load(&st->last_commit_us);
    double lag_s = 0;
    if (lag && last) {
        lag_s = (double)((int64_t)(clock_wall_ns() / 1000) - last) / 1e6;
        lag_s = lag_s < 0 ? 0 : lag_s;
    }
    buf_printf(out,
               "# HELP doppel_datashadow_up 1 while the data shadow streams changes\n"
               "# TYPE doppel_datashadow_up gauge\ndoppel_datashadow_up %d\n"
               "# HELP doppel_datashadow_lag_bytes source WAL not yet applied to the shadow\n"
               "# TYPE doppel_datashadow_lag_bytes gauge\ndoppel_datashadow_lag_bytes %" PRIu64 "\n"
               "# HELP doppel_datashadow_lag_seconds age of the last applied commit while behind\n"
               "# TYPE doppel_datashadow_lag_seconds gauge\ndoppel_datashadow_lag_seconds %.3f\n"
               "# HELP doppel_datashadow_rows_applied_total changes applied to the shadow\n"
               "# TYPE doppel_datashadow_rows_applied_total counter\n"
               "doppel_datashadow_rows_applied_total %" PRIu64 "\n"
               "# HELP doppel_datashadow_transactions_applied_total source transactions applied\n"
               "# TYPE doppel_datashadow_transactions_applied_total counter\n"
               "doppel_datashadow_transactions_applied_total %" PRIu64 "\n"
               "# HELP doppel_datashadow_streamed_transactions_total of them, streamed before "
               "their commit\n"
               "# TYPE doppel_datashadow_streamed_transactions_total counter\n"
               "doppel_datashadow_streamed_transactions_total %" PRIu64 "\n"
               "# HELP doppel_datashadow_retained_wal_bytes WAL the slot keeps on the source\n"
               "# TYPE doppel_datashadow_retained_wal_bytes gauge\n"
               "doppel_datashadow_retained_wal_bytes %" PRIu64 "\n",
               atomic_load(&st->phase) == DATASHADOW_STREAMING, lag, lag_s,
               atomic_load(&st->rows_applied), atomic_load(&st->txns_applied),
               atomic_load(&st->streamed_txns), atomic_load(&st->retained_wal));
}
