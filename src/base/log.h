/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log: leveled diagnostics to stderr, one line each, room first:
 *   log_warn("mirror", "shadow '%s' timed out after %d ms", name, ms);
 * Thread-safe (one fprintf per line). The level is process-wide, set once at start.
 */
#ifndef DOPPEL_BASE_LOG_H
#define DOPPEL_BASE_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "debug|info|warn|error|off"; returns -EINVAL otherwise. */
int log_parse_level(const char *s, enum log_level *out);
void log_msg(enum log_level level, const char *room, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(room, ...) log_msg(LOG_DEBUG, room, __VA_ARGS__)
#define log_info(room, ...) log_msg(LOG_INFO, room, __VA_ARGS__)
#define log_warn(room, ...) log_msg(LOG_WARN, room, __VA_ARGS__)
#define log_error(room, ...) log_msg(LOG_ERROR, room, __VA_ARGS__)

#endif
