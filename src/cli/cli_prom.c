/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_prom: the one-sample lookup in a Prometheus text exposition that `doppel stress
 * --metrics` needs: a family's series selected by its instance label. Lines are
 * `name{l1="v1",...} value [timestamp]`; label values may hold \\, \" and \n escapes.
 * Comments (# HELP, # TYPE) and other families are skipped. Pure; owns nothing.
 */
#include "cli/cli_prom.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Compares the escaped label value at *p (just after its opening quote, ending before end)
 * with want; leaves *p after the closing quote. 1 equal, 0 different, -EINVAL malformed. */
static int label_value_eq(const char **p, const char *end, const char *want)
{
    const char *s = *p;
    bool eq = true;
    size_t k = 0;
    for (; s < end && *s != '"'; s++) {
        char c = *s;
        if (c == '\\') {
            if (++s >= end)
                return -EINVAL;
            c = *s == 'n' ? '\n' : *s;
        }
        eq = eq && want[k] == c;
        if (eq)
            k++;
    }
    if (s >= end)
        return -EINVAL;
    *p = s + 1;
    return eq && want[k] == '\0';
}

/* Parses {labels} at *p; sets *match when instance="want"; leaves *p after '}'. */
static int labels_match(const char **p, const char *end, const char *want, bool *match)
{
    const char *s = *p + 1;
    *match = false;
    while (s < end && *s != '}') {
        const char *name = s;
        while (s < end && *s != '=')
            s++;
        if (s + 1 >= end || s[1] != '"')
            return -EINVAL;
        bool is_inst = (size_t)(s - name) == strlen("instance") && !memcmp(name, "instance", 8);
        s += 2;
        int eq = label_value_eq(&s, end, want);
        if (eq < 0)
            return eq;
        *match = *match || (is_inst && eq == 1);
        if (s < end && *s == ',')
            s++;
    }
    if (s >= end)
        return -EINVAL;
    *p = s + 1;
    return 0;
}

/* One sample line [line, end): 1 and *out when it is family with the instance, 0 when it
 * is another series, -EINVAL when it is the wanted series but malformed. */
static int sample_line(const char *line, const char *end, const char *family, const char *instance,
                       double *out)
{
    size_t fl = strlen(family);
    if ((size_t)(end - line) <= fl || memcmp(line, family, fl) != 0 || line[fl] != '{')
        return 0;
    const char *p = line + fl;
    bool match;
    int rc = labels_match(&p, end, instance, &match);
    if (rc || !match)
        return rc;
    char num[64];
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    size_t n = 0;
    while (p + n < end && p[n] != ' ' && p[n] != '\t' && p[n] != '\r' && n < sizeof(num) - 1)
        n++;
    memcpy(num, p, n);
    num[n] = '\0';
    char *stop;
    double v = strtod(num, &stop);
    if (n == 0 || *stop != '\0' || !isfinite(v))
        return -EINVAL;
    *out = v;
    return 1;
}

int cli_prom_instance_value(const char *text, size_t len, const char *family, const char *instance,
                            double *out)
{
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if (*p != '#') {
            int rc = sample_line(p, le, family, instance, out);
            if (rc != 0)
                return rc < 0 ? rc : 0;
        }
        p = le + 1;
    }
    return -ENOENT;
}
