// SPDX-License-Identifier: Apache-2.0
/*
 * stream: START_REPLICATION, the CopyBoth loop, keepalives and standby status updates
 * (see stream.h). The message layouts are PostgreSQL's streaming replication protocol:
 * 'w' XLogData (start LSN, end LSN, send time, payload), 'k' primary keepalive (end LSN,
 * send time, reply requested) and our 'r' standby status update (written, flushed,
 * applied LSNs, clock, reply requested).
 */
#include "datashadow/stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

#include "base/clock.h"
#include "base/xalloc.h"
#include "datashadow/pgconn.h"
#include "datashadow/pgoutput.h"

#define POLL_NS 100000000ULL /* how soon a stop request is noticed */

void stream_init(struct stream *s, PGconn *repl, uint64_t from, uint64_t interval_ns,
                 stream_data_cb *on_data, void *arg)
{
    memset(s, 0, sizeof(*s));
    s->repl = repl;
    s->flushed = from;
    s->interval_ns = interval_ns;
    s->on_data = on_data;
    s->arg = arg;
    s->idle = true;
}

int stream_start(struct stream *s, const char *slot, const char *publication, struct err *err)
{
    char lsn[32];
    char *qs = pgconn_ident(slot), *qp = pgconn_ident(publication);
    char *lit = PQescapeLiteral(s->repl, qp, strlen(qp));
    pgconn_lsn_format(s->flushed, lsn, sizeof(lsn));
    s->proto = s->streaming && PQserverVersion(s->repl) >= 140000 ? 2 : 1;
    char *sql =
        xasprintf("START_REPLICATION SLOT %s LOGICAL %s (proto_version '%d', %s"
                  "publication_names %s)",
                  qs, lsn, s->proto, s->proto == 2 ? "streaming 'on', " : "", lit ? lit : "''");
    PGresult *res = PQexec(s->repl, sql);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    int rc = PQresultStatus(res) == PGRES_COPY_BOTH
                 ? 0
                 : err_set(err, state && !strcmp(state, "55006") ? -EBUSY : -EIO,
                           "source: cannot start replication from slot '%s': %s", slot,
                           PQresultErrorMessage(res));
    PQclear(res);
    PQfreemem(lit);
    free(sql);
    free(qs);
    free(qp);
    s->last_status = clock_mono_ns();
    return rc;
}

static int64_t pg_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((int64_t)ts.tv_sec - PGOUTPUT_EPOCH_UNIX) * 1000000 + ts.tv_nsec / 1000;
}

int stream_status(struct stream *s, bool reply, struct err *err)
{
    char m[34];
    m[0] = 'r';
    pgoutput_put64(m + 1, s->flushed);
    pgoutput_put64(m + 9, s->flushed);
    pgoutput_put64(m + 17, s->flushed);
    pgoutput_put64(m + 25, (uint64_t)pg_now_us());
    m[33] = reply ? 1 : 0;
    s->last_status = clock_mono_ns();
    if (PQputCopyData(s->repl, m, sizeof(m)) != 1 || PQflush(s->repl) != 0)
        return err_set(err, -EIO, "source: sending a status update: %s", PQerrorMessage(s->repl));
    return 0;
}

static int on_message(struct stream *s, const char *buf, size_t n, struct err *err)
{
    if (buf[0] == 'w' && n >= 25) {
        uint64_t end = pgoutput_get64(buf + 9);
        if (end > s->server_end)
            s->server_end = end;
        return s->on_data(s, buf + 25, n - 25, s->arg, err);
    }
    if (buf[0] == 'k' && n >= 18) {
        uint64_t end = pgoutput_get64(buf + 1);
        if (end > s->server_end)
            s->server_end = end;
        /* between transactions, with every commit durable, everything up to the source's
         * end is applied or not ours */
        if (s->idle && end > s->flushed)
            s->flushed = end;
        return buf[17] ? stream_status(s, false, err) : 0;
    }
    return err_set(err, -EPROTO, "source: unexpected replication message '%c'", buf[0]);
}

static int wait_readable(PGconn *c, uint64_t ns)
{
    fd_set fds;
    int fd = PQsocket(c);
    struct timeval tv = {.tv_sec = (time_t)(ns / 1000000000u),
                         .tv_usec = (suseconds_t)(ns % 1000000000u / 1000)};
    FD_ZERO(&fds);
    FD_SET(fd, &fds);
    int rc = select(fd + 1, &fds, NULL, NULL, &tv);
    return rc < 0 && errno != EINTR ? -errno : 0;
}

static int ended(struct stream *s, struct err *err)
{
    PGresult *res = PQgetResult(s->repl);
    int rc = err_set(err, -EPIPE, "source ended replication: %s",
                     res && PQresultErrorMessage(res)[0] ? PQresultErrorMessage(res)
                                                         : PQerrorMessage(s->repl));
    PQclear(res);
    return rc;
}

int stream_run(struct stream *s, const atomic_bool *stop, struct err *err)
{
    int rc = 0;
    bool polled = false;
    while (!rc && !atomic_load(stop)) {
        char *buf = NULL;
        int n = PQgetCopyData(s->repl, &buf, 1);
        if (n > 0) {
            polled = false;
            rc = on_message(s, buf, (size_t)n, err);
            PQfreemem(buf);
        } else if (n == 0 && !polled) { /* read what the socket holds before going idle */
            polled = true;
            if (!PQconsumeInput(s->repl))
                rc = err_set(err, -EIO, "source: %s", PQerrorMessage(s->repl));
        } else if (n == 0) {
            polled = false;
            rc = s->on_idle ? s->on_idle(s, s->arg, err) : 0;
            if (!rc)
                rc = wait_readable(s->repl, POLL_NS);
            if (!rc && !PQconsumeInput(s->repl))
                rc = err_set(err, -EIO, "source: %s", PQerrorMessage(s->repl));
        } else {
            rc =
                n == -1 ? ended(s, err) : err_set(err, -EIO, "source: %s", PQerrorMessage(s->repl));
        }
        /* the periodic tick first (durability, lag figures, the slot's retained WAL),
         * so that the status update carries what it made durable */
        if (!rc && clock_mono_ns() - s->last_status >= s->interval_ns) {
            rc = s->on_data(s, NULL, 0, s->arg, err);
            if (!rc)
                rc = stream_status(s, false, err);
        }
    }
    if (!rc && s->on_idle)
        rc = s->on_idle(s, s->arg, err);
    if (!rc)
        rc = s->on_data(s, NULL, 0, s->arg, err);
    if (!rc)
        rc = stream_status(s, false, err);
    return rc;
}
