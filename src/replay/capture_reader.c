/* SPDX-License-Identifier: Apache-2.0 */
/*
 * capture_reader: tolerant reading of capture files (see capture_reader.h). Owns the
 * mapping, the header scratch and the counters.
 */
#include "replay/capture_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/xalloc.h"

struct capture_reader {
    char *name; /* owned */
    const unsigned char *data;
    size_t len;
    bool mapped, quiet;
    size_t start; /* first frame (after the file header) */
    size_t pos;
    size_t last; /* offset of the last record returned */
    struct capture_scratch scratch;
    struct capture_reader_stats st;
};

static uint16_t le16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static int read_header(struct capture_reader *r, struct err *err)
{
    size_t n = r->len < 4 ? r->len : 4;
    if (memcmp(r->data, CAPTURE_MAGIC, n) != 0)
        return err_set(err, -EINVAL, "%s: not a capture file (no '%s' magic)", r->name,
                       CAPTURE_MAGIC);
    if (r->len < CAPTURE_FILE_HEADER_LEN) {
        r->st.torn = true;
        r->st.skipped_bytes = r->len;
        r->start = r->len;
        if (!r->quiet)
            log_warn("replay", "%s: file header torn after %zu bytes; no records", r->name, r->len);
        return 0;
    }
    r->st.version = le16(r->data + 4);
    size_t hlen = le16(r->data + 6);
    if (r->st.version < CAPTURE_VERSION_MIN || r->st.version > CAPTURE_VERSION)
        return err_set(err, -EINVAL,
                       "%s: capture format version %u is not supported (only %d to %d)", r->name,
                       r->st.version, CAPTURE_VERSION_MIN, CAPTURE_VERSION);
    if (hlen < CAPTURE_FILE_HEADER_LEN || hlen > r->len)
        return err_set(err, -EINVAL, "%s: bad file header length %zu", r->name, hlen);
    for (int i = 7; i >= 0; i--)
        r->st.created_ns = (r->st.created_ns << 8) | r->data[8 + i];
    r->start = hlen;
    return 0;
}

int capture_reader_open_mem(const char *name, const void *data, size_t len, bool quiet,
                            struct capture_reader **out, struct err *err)
{
    struct capture_reader *r = xcalloc(1, sizeof(*r));
    r->name = xstrdup(name);
    r->data = data;
    r->len = len;
    r->quiet = quiet;
    int rc = read_header(r, err);
    if (rc) {
        capture_reader_free(r);
        return rc;
    }
    r->pos = r->start;
    *out = r;
    return 0;
}

int capture_reader_open(const char *path, bool quiet, struct capture_reader **out, struct err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(err, -errno, "%s: %s", path, strerror(errno));
    struct stat sb;
    void *p = NULL;
    int rc = 0;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        rc = err_set(err, -EINVAL, "%s: not a regular file", path);
        goto out;
    }
    if (sb.st_size > 0) {
        p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            rc = err_set(err, -errno, "%s: %s", path, strerror(errno));
            goto out;
        }
    }
    rc = capture_reader_open_mem(path, p ? p : "", (size_t)sb.st_size, quiet, out, err);
    if (rc && p)
        munmap(p, (size_t)sb.st_size);
    if (!rc)
        (*out)->mapped = p != NULL;
out:
    close(fd);
    return rc;
}

/* Whether a whole good record starts at off: *plen gets its payload length. */
static bool good_frame(struct capture_reader *r, size_t off, uint32_t *plen,
                       struct capture_record *rec)
{
    uint32_t crc;
    if (r->len - off < CAPTURE_FRAME_HEADER_LEN || !capture_frame_check(r->data + off, plen, &crc))
        return false;
    const unsigned char *payload = r->data + off + CAPTURE_FRAME_HEADER_LEN;
    if (*plen > r->len - off - CAPTURE_FRAME_HEADER_LEN || capture_crc32c(0, payload, *plen) != crc)
        return false;
    return capture_decode_version(payload, *plen, r->st.version, rec, &r->scratch, NULL) == 0;
}

/* Whether a frame header that holds starts at off but its payload runs past the end. */
static bool torn_frame(const struct capture_reader *r, size_t off)
{
    uint32_t plen, crc;
    if (r->len - off < CAPTURE_FRAME_HEADER_LEN)
        return memcmp(r->data + off, "DCRF", r->len - off < 4 ? r->len - off : 4) == 0;
    return capture_frame_check(r->data + off, &plen, &crc) &&
           plen > r->len - off - CAPTURE_FRAME_HEADER_LEN;
}

/* Counts and reports the stretch [from, to) as skipped. */
static void skip(struct capture_reader *r, size_t from, size_t to, bool torn)
{
    r->st.skipped_bytes += to - from;
    if (torn)
        r->st.torn = true;
    else
        r->st.skipped++;
    if (!r->quiet)
        log_warn("replay", "%s: offset %zu: %s, %zu bytes skipped", r->name, from,
                 torn ? "torn final record" : "corrupt record", to - from);
}

/* The next offset from off on where a frame sync word starts, or len. */
static size_t next_sync(const struct capture_reader *r, size_t off)
{
    const void *p = memmem(r->data + off, r->len - off, "DCRF", 4);
    return p ? (size_t)((const unsigned char *)p - r->data) : r->len;
}

int capture_reader_next(struct capture_reader *r, struct capture_record *rec)
{
    uint32_t plen;
    size_t bad = r->pos;
    bool in_bad = false;
    while (r->pos < r->len) {
        if (good_frame(r, r->pos, &plen, rec)) {
            if (in_bad)
                skip(r, bad, r->pos, false);
            r->last = r->pos;
            r->pos += CAPTURE_FRAME_HEADER_LEN + plen;
            r->st.records++;
            if (r->st.records == 1 || rec->ts_ns < r->st.first_ts_ns)
                r->st.first_ts_ns = rec->ts_ns;
            if (rec->ts_ns > r->st.last_ts_ns)
                r->st.last_ts_ns = rec->ts_ns;
            return 1;
        }
        if (!in_bad && torn_frame(r, r->pos)) {
            skip(r, r->pos, r->len, true);
            r->pos = r->len;
            return 0;
        }
        if (!in_bad)
            bad = r->pos;
        in_bad = true;
        r->pos = next_sync(r, r->pos + 1);
    }
    if (in_bad)
        skip(r, bad, r->len, false);
    return 0;
}

void capture_reader_rewind(struct capture_reader *r)
{
    struct capture_reader_stats st = {.version = r->st.version, .created_ns = r->st.created_ns};
    if (r->start > 0 && r->start < CAPTURE_FILE_HEADER_LEN)
        st.torn = true, st.skipped_bytes = r->start;
    r->st = st;
    r->pos = r->start;
}

uint64_t capture_reader_offset(const struct capture_reader *r)
{
    return r->last;
}

const struct capture_reader_stats *capture_reader_stats(const struct capture_reader *r)
{
    return &r->st;
}

const char *capture_reader_name(const struct capture_reader *r)
{
    return r->name;
}

void capture_reader_free(struct capture_reader *r)
{
    if (!r)
        return;
    if (r->mapped)
        munmap((void *)r->data, r->len);
    capture_scratch_release(&r->scratch);
    free(r->name);
    free(r);
}
