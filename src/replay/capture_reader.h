/* SPDX-License-Identifier: Apache-2.0 */
/*
 * capture_reader: reads a capture file back, record by record, whatever state it is in. A
 * file ending inside a record (a crash, a full disk) yields every record before it and a
 * warning; a corrupt stretch in the middle (bad checksum, bad frame, bad record) is skipped
 * by scanning for the next frame whose header and payload checksums both hold, and counted.
 * Only a file that is not a capture file at all (wrong magic, unknown version) is an error.
 * The file is mapped read-only; records point into the mapping and stay valid until the
 * next capture_reader_next, capture_reader_rewind or capture_reader_free.
 */
#ifndef DOPPEL_REPLAY_CAPTURE_READER_H
#define DOPPEL_REPLAY_CAPTURE_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "replay/capture.h"

struct capture_reader_stats {
    unsigned version;
    uint64_t created_ns;              /* from the file header; 0 when the header is torn */
    uint64_t records;                 /* good records read so far */
    uint64_t skipped;                 /* corrupt stretches skipped (each lost one record or more) */
    uint64_t skipped_bytes;           /* bytes in those stretches and in a torn tail */
    bool torn;                        /* the file ends inside a record or inside its header */
    uint64_t first_ts_ns, last_ts_ns; /* smallest and largest record timestamps */
};

struct capture_reader;

/* Opens a file; quiet: no warnings logged (the counters still say what was skipped). */
int capture_reader_open(const char *path, bool quiet, struct capture_reader **out, struct err *err);
/* Reads from memory (borrowed until free); name is used in messages. */
int capture_reader_open_mem(const char *name, const void *data, size_t len, bool quiet,
                            struct capture_reader **out, struct err *err);
/* 1: *rec holds the next good record; 0: end of file. */
int capture_reader_next(struct capture_reader *r, struct capture_record *rec);
/* Back to the first record; the counters start again. */
void capture_reader_rewind(struct capture_reader *r);
/* Byte offset of the last record returned (its frame header), for messages. */
uint64_t capture_reader_offset(const struct capture_reader *r);
const struct capture_reader_stats *capture_reader_stats(const struct capture_reader *r);
const char *capture_reader_name(const struct capture_reader *r);
void capture_reader_free(struct capture_reader *r);

#endif
