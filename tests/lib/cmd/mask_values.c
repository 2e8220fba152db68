/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mask_values: the masking rules as a filter, so an end-to-end test can hand masked values
 * to a real PostgreSQL and let its types and constraints judge them. It sits outside the
 * pipeline (tests/lib/cmd, built as build/tests/mask_values) and owns nothing but its
 * buffers.
 *
 *   mask_values KEY < lines
 *
 * Each input line is one row in PostgreSQL COPY text form: a row key, then for each
 * column "RULE|TYPE|VALUE" (TYPE a pg_type name), separated by tabs. Each output line is
 * the row key and the masked values, tab-separated, "\N" for NULL: ready for COPY FROM.
 * A bad rule, type or value prints "mask_values: line N, column C: what" to stderr and
 * exits 1. The noise generator is seeded with 1; the key is prepared once, as the data
 * shadow prepares it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "datashadow/mask.h"

struct job {
    struct mask_key key;
    struct rng rng;
    struct buf out;
};

/* Masks "RULE|TYPE|VALUE" and appends the result to line. */
static int mask_field(struct job *j, char *field, const char *row_key, struct buf *line,
                      struct err *err)
{
    char *bar1 = strchr(field, '|'), *bar2 = bar1 ? strchr(bar1 + 1, '|') : NULL;
    struct mask_rule r;
    bool is_null;

    if (!bar2)
        return err_set(err, -EINVAL, "want RULE|TYPE|VALUE");
    *bar1 = *bar2 = '\0';
    if (mask_rule_parse(field, &r, err) != 0)
        return err->code;
    enum mask_type t = mask_type_of(0, bar1 + 1);
    int rc = mask_rule_check(&r, t, bar1 + 1, err);
    if (rc == 0)
        rc = mask_value(&r, t, &j->key, bar2 + 1, strlen(bar2 + 1), row_key, strlen(row_key),
                        &j->rng, &j->out, &is_null, err);
    mask_rule_release(&r);
    if (rc == 0)
        rc = is_null ? buf_appends(line, "\\N") : buf_append(line, j->out.data, j->out.len);
    return rc;
}

static int mask_line(struct job *j, char *text, struct buf *line, int lineno)
{
    char *save = NULL, *row_key = strtok_r(text, "\t", &save);
    struct err err;
    int col = 1;

    err_clear(&err);
    if (!row_key)
        return 0;
    buf_reset(line);
    buf_appends(line, row_key);
    for (char *f = strtok_r(NULL, "\t", &save); f; f = strtok_r(NULL, "\t", &save), col++) {
        buf_append(line, "\t", 1);
        if (mask_field(j, f, row_key, line, &err) != 0) {
            fprintf(stderr, "mask_values: line %d, column %d: %s\n", lineno, col, err.msg);
            return 1;
        }
    }
    printf("%s\n", line->data);
    return 0;
}

int main(int argc, char **argv)
{
    struct job j = {0};
    struct buf line;
    char *text = NULL;
    size_t cap = 0;
    int rc = 0, lineno = 0;

    if (argc != 2 || strlen(argv[1]) > sizeof(j.key.bytes)) {
        fprintf(stderr, "usage: mask_values KEY < lines (KEY up to 64 bytes)\n");
        return 2;
    }
    j.key.len = strlen(argv[1]);
    memcpy(j.key.bytes, argv[1], j.key.len);
    mask_key_prepare(&j.key);
    rng_seed(&j.rng, 1);
    buf_init(&j.out, 1 << 20);
    buf_init(&line, 1 << 24);
    while (rc == 0 && getline(&text, &cap, stdin) > 0) {
        text[strcspn(text, "\n")] = '\0';
        rc = mask_line(&j, text, &line, ++lineno);
    }
    free(text);
    buf_release(&j.out);
    buf_release(&line);
    mask_key_release(&j.key);
    return rc;
}
