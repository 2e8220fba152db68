/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth: bearer-token authentication for the admin API. The admin listener loads the
 * tokens file named by `admin.tokens_file` once (and again on reload) and checks the
 * Authorization header of every request against it before routing.
 *
 * The file holds no tokens, only their SHA-256 digests: one 64-character hex digest per
 * line (either case), blank lines and lines starting with '#' ignored, surrounding
 * whitespace trimmed. A token is accepted when the SHA-256 of the string after "Bearer "
 * equals one of the digests; every digest is compared in constant time and the scan never
 * stops early, so timing tells nothing about which digest, or how much of one, matched.
 * Create a line with: printf %s "$TOKEN" | sha256sum
 */
#ifndef DOPPEL_ADMIN_AUTH_H
#define DOPPEL_ADMIN_AUTH_H

#include <stddef.h>

#include "base/err.h"

#define AUTH_DIGEST_LEN 32          /* SHA-256 */
#define AUTH_FILE_MAX (1024 * 1024) /* tokens files larger than this are refused */

enum auth_result {
    AUTH_OK = 0,  /* a listed token */
    AUTH_MISSING, /* no bearer credentials at all: answer 401 with WWW-Authenticate */
    AUTH_INVALID, /* bearer credentials that are malformed or not listed: answer 403 */
};

struct auth {
    unsigned char (*digests)[AUTH_DIGEST_LEN]; /* owned */
    size_t n;
};

void auth_init(struct auth *a);
void auth_release(struct auth *a);

/* Reads a tokens file into a (which must be initialized; its old digests are replaced
 * only on success). Errors read "path:line: what is wrong"; a file without any digest
 * is an error too, since it would lock every client out. */
int auth_load(struct auth *a, const char *path, struct err *err);
/* The same for text already in memory; name is used in messages. */
int auth_parse(struct auth *a, const char *name, const char *text, size_t len, struct err *err);

/* Checks the value of an Authorization header (NULL or len 0 when absent):
 * "Bearer <token>", scheme case-insensitive, token68 characters only. */
enum auth_result auth_check(const struct auth *a, const char *authorization, size_t len);

/* Writes the lowercase hex SHA-256 of token and a NUL into out. 0 or -EIO. */
int auth_hash_hex(const char *token, char out[2 * AUTH_DIGEST_LEN + 1]);

#endif
