/* SPDX-License-Identifier: Apache-2.0 */
/*
 * capture: the capture file format (docs/capture-format.md) — one file header, then framed
 * records, each frame checksummed (CRC32C) so a reader can skip a torn tail or a corrupt
 * record and resynchronise on the next good frame. A record is one finished exchange as the
 * mirror sent it (anonymized): the request, and the primary's or a shadow's response. This
 * file owns the record layout (encode, decode) and the checksum; capture_writer.h writes
 * rotating files, capture_reader.h reads them back, and source_capture.c turns them into a
 * replay source. Everything here is byte layout, no I/O.
 */
#ifndef DOPPEL_REPLAY_CAPTURE_H
#define DOPPEL_REPLAY_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "http/head.h"
#include "replay/source.h"

#define CAPTURE_MAGIC "DCAP"
#define CAPTURE_VERSION 2     /* written; 2 added the answer-only flag */
#define CAPTURE_VERSION_MIN 1 /* the oldest version read */
#define CAPTURE_FILE_HEADER_LEN 16
#define CAPTURE_FRAME_SYNC 0x46524344u /* "DCRF" read as little-endian u32 */
#define CAPTURE_FRAME_HEADER_LEN 16
#define CAPTURE_RECORD_MAX (64u * 1024 * 1024) /* payload bytes of one record */
#define CAPTURE_HEADERS_MAX 1024               /* header fields of one message */

/* One response (primary or shadow) as captured. Strings point into the record's payload. */
struct capture_resp {
    bool present;
    int status;          /* 0: no response (see error) */
    unsigned error;      /* enum exchange_error (model/exchange.h) */
    uint64_t latency_ns; /* from the request's start to the response's end */
    const char *pool;    /* "primary" or the shadow pool's name */
    size_t pool_len;
    const struct http_header *headers;
    size_t nheaders;
    const void *body; /* capped copy */
    size_t body_len;
    bool body_truncated;
};

/* One record: a request (as sent to shadows, anonymized) and at most one of each response.
 * An answer-only record holds a shadow's response to a request that another record with
 * the same id carries (serve's shadow records); it may leave the request out (empty method,
 * target, headers and body) and is never replayed. Any other record carries a request:
 * serve's primary records and every record `replay --record` writes. */
struct capture_record {
    uint64_t ts_ns;   /* wall clock, ns since the Unix epoch, when the request started */
    uint64_t id;      /* the exchange id: every record of one request shares it; replay --record
                         keeps the source's id (its 1-based position when the source has none) */
    bool answer_only; /* flags bit 3; in version 1 files: a shadow-only record with no method */
    const char *method;
    size_t method_len;
    const char *target;
    size_t target_len;
    const struct http_header *headers;
    size_t nheaders;
    const void *body;
    size_t body_len;
    bool body_truncated;
    struct capture_resp primary, shadow;
};

/* Header arrays that decoding points the record at; grown as needed, reused. */
struct capture_scratch {
    struct http_header *h; /* owned */
    size_t cap;
};
void capture_scratch_release(struct capture_scratch *s);

/* CRC32C (Castagnoli, reflected 0x82F63B78); crc is 0 for a fresh sum. */
uint32_t capture_crc32c(uint32_t crc, const void *data, size_t n);
/* The same sum from the 256-entry table only (capture_crc32c uses the CPU's crc32
 * instruction where there is one). */
uint32_t capture_crc32c_portable(uint32_t crc, const void *data, size_t n);

/* The 16-byte file header: "DCAP", u16 version, u16 header length, u64 created wall ns. */
void capture_file_header(unsigned char out[CAPTURE_FILE_HEADER_LEN], uint64_t created_ns);
/* Appends the record's payload (no frame); -ENOSPC past out's maximum or a field's limit. */
int capture_encode_payload(const struct capture_record *r, struct buf *out);
/* Fills the 16-byte frame header for a payload: sync, length, payload CRC, header CRC. */
void capture_frame_header(unsigned char out[CAPTURE_FRAME_HEADER_LEN], const void *payload,
                          size_t len);
/* Appends one whole frame (header and payload). */
int capture_encode(const struct capture_record *r, struct buf *out);
/* Whether the 16 bytes at p are a well-formed frame header; *len gets the payload length. */
bool capture_frame_check(const unsigned char *p, uint32_t *len, uint32_t *crc);
/* Decodes a payload; r's strings point into it, its header arrays into scratch. 0, or
 * -EBADMSG when the bytes are not a record (err says what is wrong, err may be NULL). */
int capture_decode(const void *payload, size_t len, struct capture_record *r,
                   struct capture_scratch *scratch, struct err *err);
/* The same for a payload read from a file of the given version (CAPTURE_VERSION_MIN to
 * CAPTURE_VERSION); the layout of version 1 differs only in what the flags may say. */
int capture_decode_version(const void *payload, size_t len, unsigned version,
                           struct capture_record *r, struct capture_scratch *scratch,
                           struct err *err);

/* A replay source over capture files read in the given order (see source.h). Answer-only
 * records are skipped, so each client request is sent once; every other record (a primary
 * record, a replay recording's) is sent, with its exchange id in replay_req.id. */
int replay_source_capture_new(const char *const *paths, size_t n, struct replay_source **out,
                              struct err *err);

#endif
