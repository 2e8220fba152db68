/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_http: one blocking HTTP/1.1 GET on loopback for the subcommands that ask a running
 * doppel something (status: the instances; stress: the /metrics text). The answer is read
 * by the project's HTTP reader. The caller owns the fetch and its body.
 */
#ifndef DOPPEL_CLI_HTTP_H
#define DOPPEL_CLI_HTTP_H

#include <stdbool.h>

#include "base/buf.h"
#include "base/err.h"

struct cli_http_fetch {
    int status;
    bool done;
    struct buf body; /* buf_init it (with its size limit) before the GET */
};

/* GET path from addr ("host:port"), at most timeout_ms per wait; fills f (status, body).
 * what names the server in the error ("the admin API"). 0 or -errno with err set. */
int cli_http_get(const char *addr, const char *path, const char *what, int timeout_ms,
                 struct cli_http_fetch *f, struct err *err);
/* Splits "http://host:port/path" into addr and path (path "/" when absent); 0 or -EINVAL. */
int cli_http_split_url(const char *url, char *addr, size_t addr_len, char *path, size_t path_len);

#endif
