/* SPDX-License-Identifier: Apache-2.0 */
/*
 * capture_writer: rotating capture files (see capture_writer.h). Owns the open file, its
 * write buffer and the counters; the caller owns the thread that calls it.
 */
#include "replay/capture_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "replay/capture.h"

#define WRITER_FLUSH_AT (256 * 1024)
#define WRITER_MAX_SEQ 100000

struct capture_writer {
    char *pattern; /* owned */
    uint64_t max_file;
    int fd;              /* -1 before the first record and after a failed open */
    char base[PATH_MAX]; /* the pattern expanded for the current file's hour, no sequence */
    uint64_t base_sec;   /* the second base was expanded for: the pattern (strftime) cannot
                            change within it, so records of that second skip the expansion */
    char path[PATH_MAX]; /* the current file */
    unsigned seq;
    uint64_t file_bytes, file_records;
    bool warned; /* a write error was logged for this file */
    bool stream; /* the file is a pipe or a device: no size rotation */
    struct buf out;
    struct capture_writer_stats st;
};

static void insert_seq(char *out, size_t outlen, size_t used, unsigned seq)
{
    char *slash = strrchr(out, '/');
    char *dot = strrchr(slash ? slash : out, '.');
    if (!dot || dot == out || dot == slash + 1) {
        snprintf(out + used, outlen - used, ".%u", seq);
        return;
    }
    char ext[PATH_MAX];
    snprintf(ext, sizeof(ext), "%s", dot);
    snprintf(dot, outlen - (size_t)(dot - out), ".%u%s", seq, ext);
}

int capture_writer_expand(const char *pattern, uint64_t now_ns, unsigned seq, char *out,
                          size_t outlen)
{
    time_t t = (time_t)(now_ns / CLOCK_NS_PER_S);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, outlen - 16, pattern, &tm);
    if (n == 0)
        return -ENAMETOOLONG;
    if (seq)
        insert_seq(out, outlen, n, seq);
    return 0;
}

int capture_writer_new(const char *pattern, uint64_t max_file, struct capture_writer **out,
                       struct err *err)
{
    char probe[PATH_MAX];
    if (!*pattern || capture_writer_expand(pattern, clock_wall_ns(), 0, probe, sizeof(probe)))
        return err_set(err, -EINVAL, "capture path '%s': empty or too long once expanded", pattern);
    struct capture_writer *w = xcalloc(1, sizeof(*w));
    w->pattern = xstrdup(pattern);
    w->max_file = max_file;
    w->fd = -1;
    buf_init(&w->out, CAPTURE_RECORD_MAX + 2 * WRITER_FLUSH_AT);
    *out = w;
    return 0;
}

/* Creates the directories above path (like mkdir -p of its dirname). */
static void make_parents(const char *path)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        mkdir(tmp, 0750);
        *p = '/';
    }
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

int capture_writer_flush(struct capture_writer *w)
{
    if (w->fd < 0 || w->out.len == 0)
        return 0;
    int rc = write_all(w->fd, w->out.data, w->out.len);
    buf_reset(&w->out);
    if (rc && !w->warned) {
        log_warn("replay", "capture '%s': %s; records are being lost", w->path, strerror(-rc));
        w->warned = true;
    }
    return rc;
}

static void close_file(struct capture_writer *w)
{
    if (w->fd < 0)
        return;
    capture_writer_flush(w);
    close(w->fd);
    w->fd = -1;
}

static void opened(struct capture_writer *w, int fd, unsigned seq, uint64_t now_ns)
{
    w->fd = fd;
    w->seq = seq;
    w->warned = false;
    w->file_records = 0;
    w->file_bytes = CAPTURE_FILE_HEADER_LEN;
    unsigned char hdr[CAPTURE_FILE_HEADER_LEN];
    capture_file_header(hdr, now_ns);
    buf_append(&w->out, hdr, sizeof(hdr));
    w->st.files++;
    w->st.bytes += sizeof(hdr);
}

/* A named pipe or a device (/dev/stdout) at the path is written to as a stream: a reader
 * on the other end gets one file header and then frames. Opening a pipe waits for its
 * reader, here on the writer's thread. */
static int open_stream(struct capture_writer *w, uint64_t now_ns)
{
    struct stat sb;
    if (stat(w->path, &sb) != 0 || !(S_ISFIFO(sb.st_mode) || S_ISCHR(sb.st_mode)))
        return 1;
    int fd = open(w->path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    w->stream = true;
    opened(w, fd, 0, now_ns);
    return 0;
}

/* Opens base with the first free sequence number from seq on. */
static int open_file(struct capture_writer *w, uint64_t now_ns, unsigned seq)
{
    close_file(w);
    w->stream = false;
    if (seq == 0 && capture_writer_expand(w->pattern, now_ns, 0, w->path, sizeof(w->path)) == 0) {
        int rc = open_stream(w, now_ns);
        if (rc <= 0)
            return rc;
    }
    for (; seq < WRITER_MAX_SEQ; seq++) {
        if (capture_writer_expand(w->pattern, now_ns, seq, w->path, sizeof(w->path)))
            return -ENAMETOOLONG;
        make_parents(w->path);
        int fd = open(w->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
        if (fd < 0 && errno == EEXIST)
            continue;
        if (fd < 0)
            return -errno;
        opened(w, fd, seq, now_ns);
        return 0;
    }
    return -EEXIST;
}

/* Opens the right file for a record of len payload bytes written at now_ns. */
static int pick_file(struct capture_writer *w, uint64_t now_ns, size_t len)
{
    uint64_t sec = now_ns / CLOCK_NS_PER_S;
    if (w->fd < 0 || sec != w->base_sec) {
        char base[PATH_MAX];
        capture_writer_expand(w->pattern, now_ns, 0, base, sizeof(base));
        w->base_sec = sec;
        if (w->fd < 0 || strcmp(base, w->base) != 0) {
            snprintf(w->base, sizeof(w->base), "%s", base);
            return open_file(w, now_ns, 0);
        }
    }
    if (w->max_file && !w->stream && w->file_records > 0 &&
        w->file_bytes + CAPTURE_FRAME_HEADER_LEN + len > w->max_file)
        return open_file(w, now_ns, w->seq + 1);
    return 0;
}

int capture_writer_write(struct capture_writer *w, uint64_t now_ns, const void *payload, size_t len)
{
    int rc = len > CAPTURE_RECORD_MAX ? -EMSGSIZE : pick_file(w, now_ns, len);
    if (rc) {
        if (!w->warned)
            log_warn("replay", "capture '%s': cannot write: %s", w->pattern, strerror(-rc));
        w->warned = true;
        w->st.errors++;
        return rc;
    }
    unsigned char hdr[CAPTURE_FRAME_HEADER_LEN];
    capture_frame_header(hdr, payload, len);
    buf_append(&w->out, hdr, sizeof(hdr));
    buf_append(&w->out, payload, len);
    w->file_bytes += sizeof(hdr) + len;
    w->file_records++;
    w->st.records++;
    w->st.bytes += sizeof(hdr) + len;
    if (w->out.len >= WRITER_FLUSH_AT && (rc = capture_writer_flush(w)) != 0)
        w->st.errors++;
    return rc;
}

const char *capture_writer_path(const struct capture_writer *w)
{
    return w->fd < 0 ? "" : w->path;
}

void capture_writer_stats(const struct capture_writer *w, struct capture_writer_stats *out)
{
    *out = w->st;
}

void capture_writer_free(struct capture_writer *w)
{
    if (!w)
        return;
    close_file(w);
    buf_release(&w->out);
    free(w->pattern);
    free(w);
}
