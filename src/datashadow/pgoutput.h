/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pgoutput: decoding of the messages PostgreSQL's `pgoutput` logical decoding plugin sends
 * (protocol version 1: Begin, Commit, Origin, Relation, Type, Insert, Update, Delete,
 * Truncate, Message; version 2 adds the streaming of large in-progress transactions:
 * Stream Start, Stream Stop, Stream Commit, Stream Abort, and an Int32 xid after the kind
 * byte of the messages sent inside a stream segment), as documented in "Logical
 * Replication Message Formats". Pure: the
 * decoder reads one message from the bytes of an XLogData payload and fills a struct whose
 * strings and values point into those bytes (valid while they are). The arrays of columns
 * and values are owned by the message and reused across calls.
 */
#ifndef DOPPEL_DATASHADOW_PGOUTPUT_H
#define DOPPEL_DATASHADOW_PGOUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pgoutput_kind {
    PGOUTPUT_BEGIN = 'B',
    PGOUTPUT_COMMIT = 'C',
    PGOUTPUT_ORIGIN = 'O',
    PGOUTPUT_RELATION = 'R',
    PGOUTPUT_TYPE = 'Y',
    PGOUTPUT_INSERT = 'I',
    PGOUTPUT_UPDATE = 'U',
    PGOUTPUT_DELETE = 'D',
    PGOUTPUT_TRUNCATE = 'T',
    PGOUTPUT_MESSAGE = 'M',
    PGOUTPUT_STREAM_START = 'S',  /* v2 */
    PGOUTPUT_STREAM_STOP = 'E',   /* v2 */
    PGOUTPUT_STREAM_COMMIT = 'c', /* v2 */
    PGOUTPUT_STREAM_ABORT = 'A',  /* v2 */
};

/* One column value of a tuple: 'n' NULL, 'u' unchanged TOASTed value (not sent), 't' text. */
struct pgoutput_value {
    char kind;
    const char *data; /* 't': not NUL-terminated */
    uint32_t len;
};

struct pgoutput_tuple {
    struct pgoutput_value *v; /* owned by the message, reused */
    uint16_t n;
    uint16_t cap;
};

struct pgoutput_column {
    uint8_t flags; /* 1: part of the replica identity key */
    const char *name;
    uint32_t type_oid;
    int32_t typmod;
};

struct pgoutput_msg {
    enum pgoutput_kind kind;
    uint64_t lsn;     /* Begin: the transaction's final (commit) LSN; Commit: commit LSN */
    uint64_t end_lsn; /* Commit: end of the transaction's commit record */
    int64_t ts;       /* Begin, Commit: commit time, microseconds since 2000-01-01 UTC */
    /* Begin; Stream Start, Commit, Abort: the top-level transaction; a change inside a
     * stream segment: its (sub)transaction */
    uint32_t xid;
    uint32_t sub_xid;   /* Stream Abort: the subtransaction rolled back (xid: all of it) */
    bool first_segment; /* Stream Start: the transaction's first segment */
    uint32_t relid;     /* Relation, Type (the type OID), Insert, Update, Delete */
    const char *nspname, *relname; /* Relation; Type: its namespace and name */
    char replident;                /* Relation: 'd' default, 'n' nothing, 'f' full, 'i' index */
    struct pgoutput_column *cols;  /* Relation; owned, reused */
    uint16_t ncols, cols_cap;
    char old_kind; /* Update, Delete: 'K' key columns, 'O' whole old row, 0 none */
    struct pgoutput_tuple old, new_;
    uint8_t truncate_flags; /* Truncate: 1 CASCADE, 2 RESTART IDENTITY */
    uint32_t *relids;       /* Truncate; owned, reused */
    uint32_t nrelids, relids_cap;
};

/* Decodes one message. Returns 0, or -EPROTO when it is truncated or malformed, or
 * -ENOTSUP for a message kind neither protocol version sends. in_stream says the message
 * came between a Stream Start and its Stream Stop, where the changes (and Relation, Type
 * and Message) carry the xid of their transaction after the kind byte. */
int pgoutput_decode_in(const char *p, size_t len, bool in_stream, struct pgoutput_msg *m);
/* The same outside any stream segment (every message of protocol version 1). */
int pgoutput_decode(const char *p, size_t len, struct pgoutput_msg *m);
void pgoutput_msg_release(struct pgoutput_msg *m);

/* Big-endian reads and writes of the replication protocol's integers. */
uint64_t pgoutput_get64(const char *p);
void pgoutput_put64(char *p, uint64_t v);

/* PostgreSQL's epoch (2000-01-01) in Unix seconds: timestamps are microseconds since it. */
#define PGOUTPUT_EPOCH_UNIX 946684800LL

#endif
