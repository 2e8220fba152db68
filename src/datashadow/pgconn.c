// SPDX-License-Identifier: Apache-2.0
/*
 * pgconn: libpq connections and queries with messages a user can act on (see pgconn.h).
 */
#include "datashadow/pgconn.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

/* libpq messages end in a newline and sometimes hold several lines; keep the first. */
static const char *first_line(const char *msg, char *out, size_t size)
{
    snprintf(out, size, "%s", msg ? msg : "");
    out[strcspn(out, "\n")] = '\0';
    return out;
}

/* Server notices ("schema already exists, skipping") are not for the user. */
static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

int pgconn_open(const char *conninfo, bool replication, uint64_t timeout_ns, const char *what,
                PGconn **out, struct err *err)
{
    char tmo[32], line[400];
    snprintf(tmo, sizeof(tmo), "%" PRIu64, timeout_ns / 1000000000u ? timeout_ns / 1000000000u : 1);
    const char *keys[] = {"dbname", "connect_timeout", "application_name",
                          replication ? "replication" : NULL, NULL};
    const char *vals[] = {conninfo, tmo, "doppel-datashadow", "database", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    *out = NULL;
    if (!c)
        return err_set(err, -ENOMEM, "%s: cannot allocate a connection", what);
    if (PQstatus(c) != CONNECTION_OK) {
        err_set(err, -ECONNREFUSED, "%s database unreachable: %s", what,
                first_line(PQerrorMessage(c), line, sizeof(line)));
        PQfinish(c);
        return -ECONNREFUSED;
    }
    PQsetNoticeProcessor(c, quiet, NULL);
    *out = c;
    return 0;
}

PGresult *pgconn_query(PGconn *c, const char *what, const char *sql, int nparams,
                       const char *const *params, struct err *err)
{
    char line[400];
    PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    err_set(err, -EIO, "%s: %s", what,
            first_line(r ? PQresultErrorMessage(r) : PQerrorMessage(c), line, sizeof(line)));
    PQclear(r);
    return NULL;
}

int pgconn_cmd(PGconn *c, const char *what, const char *sql, struct err *err)
{
    char line[400];
    PGresult *r = PQexec(c, sql); /* simple protocol: sql may hold several statements */
    ExecStatusType st = PQresultStatus(r);
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc = err_set(
            err, -EIO, "%s: %s", what,
            first_line(r ? PQresultErrorMessage(r) : PQerrorMessage(c), line, sizeof(line)));
    PQclear(r);
    return rc;
}

char *pgconn_ident(const char *name)
{
    size_t n = strlen(name), k = 2;
    for (size_t i = 0; i < n; i++)
        k += name[i] == '"' ? 2 : 1;
    char *q = xmalloc(k + 1), *p = q;
    *p++ = '"';
    for (size_t i = 0; i < n; i++) {
        if (name[i] == '"')
            *p++ = '"';
        *p++ = name[i];
    }
    *p++ = '"';
    *p = '\0';
    return q;
}

void pgconn_lsn_format(uint64_t lsn, char *out, size_t size)
{
    snprintf(out, size, "%X/%X", (unsigned)(lsn >> 32), (unsigned)(lsn & 0xffffffffu));
}

int pgconn_lsn_parse(const char *s, uint64_t *out)
{
    unsigned hi, lo;
    int used = 0;
    if (!s || sscanf(s, "%X/%X%n", &hi, &lo, &used) != 2 || s[used])
        return -EINVAL;
    *out = (uint64_t)hi << 32 | lo;
    return 0;
}
