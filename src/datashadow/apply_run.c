// SPDX-License-Identifier: Apache-2.0
/*
 * apply_run: the rows of a run of inserts into one table as COPY text (see apply_run.h),
 * written with copytext_escape (the snapshot's COPY writes the same text), and sent.
 */
#include "datashadow/apply_run.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "datashadow/copytext.h"
#include "datashadow/pgconn.h"

#define APPLY_RUN_MAX (1024u * 1024u * 1024u)

void apply_run_init(struct apply_run *run)
{
    run->rel = NULL;
    run->rows = 0;
    buf_init(&run->text, APPLY_RUN_MAX);
}

void apply_run_release(struct apply_run *run)
{
    if (!run)
        return;
    buf_release(&run->text);
    run->rel = NULL;
    run->rows = 0;
}

void apply_run_reset(struct apply_run *run)
{
    buf_reset(&run->text);
    run->rel = NULL;
    run->rows = 0;
}

int apply_run_add(struct apply_run *run, const struct relation *rel, const struct pgoutput_value *v,
                  size_t n)
{
    size_t start = run->text.len;
    int rc = 0;
    if (run->rows && run->rel != rel)
        return -EINVAL;
    for (size_t i = 0; i < n && !rc; i++) {
        if (v[i].kind != 't' && v[i].kind != 'n')
            rc = -EINVAL;
        else if (i && buf_append(&run->text, "\t", 1))
            rc = -ENOSPC;
        else
            rc = copytext_escape(&run->text, &v[i]);
    }
    if (!rc)
        rc = buf_append(&run->text, "\n", 1);
    if (rc) {
        run->text.len = start;
        if (run->text.data)
            run->text.data[start] = '\0';
        return rc;
    }
    run->rel = rel;
    run->rows++;
    return 0;
}

void apply_run_sql(struct buf *b, const struct relation *r)
{
    buf_printf(b, "COPY %s (", r->qname);
    for (size_t i = 0; i < r->ncols; i++) {
        char *q = pgconn_ident(r->cols[i].name);
        buf_printf(b, "%s%s", i ? ", " : "", q);
        free(q);
    }
    buf_appends(b, ") FROM STDIN");
}

/* Reads every result of the COPY; the first error is the one reported. */
static int copy_results(PGconn *c, const struct relation *r, struct err *err)
{
    int rc = 0;
    PGresult *res;
    while ((res = PQgetResult(c))) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK && !rc)
            rc =
                err_set(err, -EIO, "shadow: table '%s': %s", r->display, PQresultErrorMessage(res));
        PQclear(res);
    }
    return rc;
}

int apply_run_copy_start(PGconn *c, const struct relation *r, struct err *err)
{
    struct buf sql;
    buf_init(&sql, 16 * 1024 * 1024);
    apply_run_sql(&sql, r);
    PGresult *res = PQexec(c, sql.data);
    buf_release(&sql);
    int rc = PQresultStatus(res) == PGRES_COPY_IN ? 0
                                                  : err_set(err, -EIO, "shadow: table '%s': %s",
                                                            r->display, PQresultErrorMessage(res));
    PQclear(res);
    return rc;
}

int apply_run_copy_send(PGconn *c, struct apply_run *run, struct err *err)
{
    int rc = 0;
    /* PQputCopyData takes at most INT_MAX bytes: a run's text is far smaller unless one
     * row is huge, so send in slices */
    for (size_t off = 0; off < run->text.len && !rc; off += 1u << 30) {
        size_t len = run->text.len - off < (1u << 30) ? run->text.len - off : 1u << 30;
        if (PQputCopyData(c, run->text.data + off, (int)len) != 1)
            rc = err_set(err, -EIO, "shadow: table '%s': %s", run->rel->display, PQerrorMessage(c));
    }
    buf_reset(&run->text);
    return rc;
}

int apply_run_copy_end(PGconn *c, const struct relation *r, bool failed, struct err *err)
{
    int rc = 0;
    if (PQputCopyEnd(c, failed ? "apply failed" : NULL) != 1)
        rc = err_set(failed ? NULL : err, -EIO, "shadow: table '%s': %s", r->display,
                     PQerrorMessage(c));
    int rc2 = copy_results(c, r, rc || failed ? NULL : err);
    return rc ? rc : rc2;
}
