/* SPDX-License-Identifier: Apache-2.0 */
/*
 * capture_writer: writes capture files, rotating them by time and size. The path is a
 * pattern expanded with strftime in UTC ("var/capture/api-%Y%m%d-%H.dcap"): when the expanded
 * name changes, a new file starts. A file that would grow past max_file is closed and the
 * next one gets a sequence number before its extension ("api-20261122-23.1.dcap"); an
 * existing file is never appended to (its tail may be torn), the next free number is used.
 * A named pipe or a character device at the expanded path is written to as one stream
 * (no size rotation), for a consumer reading captures live. Single-threaded: one writer thread owns
 * one capture_writer. Frames are buffered and written with write(2) when the buffer fills or on
 * capture_writer_flush.
 */
#ifndef DOPPEL_REPLAY_CAPTURE_WRITER_H
#define DOPPEL_REPLAY_CAPTURE_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct capture_writer_stats {
    uint64_t records;
    uint64_t bytes;  /* file bytes written, headers included */
    uint64_t files;  /* files opened */
    uint64_t errors; /* records lost to write errors */
};

struct capture_writer;

/* max_file: bytes per file (0: no limit); at least one record goes into each file. */
int capture_writer_new(const char *pattern, uint64_t max_file, struct capture_writer **out,
                       struct err *err);
/* Frames and writes one record payload at wall time now_ns (which picks the file). On a
 * write error the record is lost, counted, logged once per file, and -errno returned. */
int capture_writer_write(struct capture_writer *w, uint64_t now_ns, const void *payload,
                         size_t len);
int capture_writer_flush(struct capture_writer *w);
/* The file being written ("" before the first record); borrowed. */
const char *capture_writer_path(const struct capture_writer *w);
void capture_writer_stats(const struct capture_writer *w, struct capture_writer_stats *out);
/* Flushes and closes. */
void capture_writer_free(struct capture_writer *w);

/* Expands pattern for wall time now_ns (UTC) and sequence seq (0: none) into out. */
int capture_writer_expand(const char *pattern, uint64_t now_ns, unsigned seq, char *out,
                          size_t outlen);

#endif
