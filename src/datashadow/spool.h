/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spool: the changes of a large source transaction that PostgreSQL streams before it
 * commits (pgoutput protocol version 2), held until its Stream Commit applies them or its
 * Stream Abort drops them. One spool per top-level transaction; each record is the raw
 * bytes of one change message, length-prefixed. Records stay in memory up to a cap, and
 * past it go to a temporary file that is unlinked at once (so nothing is left behind by a
 * crash). The offset of the first change of every subtransaction is kept, so rolling back
 * to a savepoint truncates the spool there. A spool_set holds the spools of the streamed
 * transactions still open, keyed by top-level xid (their segments interleave).
 *
 * Owns its memory and its file descriptor; spool_release frees both.
 */
#ifndef DOPPEL_DATASHADOW_SPOOL_H
#define DOPPEL_DATASHADOW_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define SPOOL_MEM_DEFAULT (8u * 1024 * 1024) /* per transaction, before spilling to a file */

struct spool_sub {
    uint32_t xid;
    uint64_t off;     /* where its first change starts */
    uint64_t records; /* records before it */
};

struct spool {
    uint32_t xid;   /* the top-level transaction */
    struct buf mem; /* the first records, while they fit in mem.max */
    int fd;         /* -1, or the unlinked file holding the records after mem */
    uint64_t file_len;
    uint64_t records;       /* appended, less those truncated away */
    struct spool_sub *subs; /* owned */
    size_t nsubs, subs_cap;
};

/* Reads the records in order; keeps a buffer for those read from the file. */
struct spool_iter {
    uint64_t off;
    char *buf; /* owned */
    size_t cap;
};

void spool_init(struct spool *s, uint32_t xid, size_t mem_max);
void spool_release(struct spool *s);
/* Appends one change made by (sub)transaction subxid. -EMSGSIZE for a record over 4 GiB,
 * or the -errno of creating or writing the file. */
int spool_append(struct spool *s, uint32_t subxid, const char *data, size_t len);
/* Rolls back subtransaction subxid: drops its changes and every later one. Nothing to do
 * (0) when it made no change. */
int spool_abort_sub(struct spool *s, uint32_t subxid);
/* Bytes held, in memory and in the file. */
uint64_t spool_size(const struct spool *s);

void spool_iter_init(struct spool_iter *it);
void spool_iter_release(struct spool_iter *it);
/* The next record: 1 with *data, *len set (valid until the next call), 0 at the end, or
 * -errno (-EIO for a record that does not fit what was written). */
int spool_next(const struct spool *s, struct spool_iter *it, const char **data, size_t *len);

struct spool_set {
    struct spool **v; /* owned */
    size_t n, cap;
    size_t mem_max; /* for each new spool */
};

void spool_set_init(struct spool_set *ss, size_t mem_max);
void spool_set_release(struct spool_set *ss);
/* The spool of top-level transaction xid, or NULL. */
struct spool *spool_set_find(const struct spool_set *ss, uint32_t xid);
/* The spool of xid, created empty when there is none. */
struct spool *spool_set_open(struct spool_set *ss, uint32_t xid);
/* Releases and forgets the spool of xid, if any. */
void spool_set_drop(struct spool_set *ss, uint32_t xid);

#endif
