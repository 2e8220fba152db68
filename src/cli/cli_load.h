/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_load: what `doppel replay`, `doppel loadgen` and `doppel stress` share: the target
 * URL, the connection, rewrite and filter flags, rate and speed parsing, request sources
 * named on the command line, the progress line and the summary (text or JSON). Owns the
 * flag values it collected (borrowed from argv) and the progress state.
 */
#ifndef DOPPEL_CLI_LOAD_H
#define DOPPEL_CLI_LOAD_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "cli/cli.h"
#include "replay/replay.h"

#define CLI_LOAD_MAX_LIST 32

/* getopt_long codes of the shared flags (outside the range of short options). */
enum {
    CLI_LOAD_O_TARGET = 1000,
    CLI_LOAD_O_CONNECTIONS,
    CLI_LOAD_O_TIMEOUT,
    CLI_LOAD_O_DURATION,
    CLI_LOAD_O_MAX_REQUESTS,
    CLI_LOAD_O_HOST,
    CLI_LOAD_O_HEADER,
    CLI_LOAD_O_REMOVE_HEADER,
    CLI_LOAD_O_PATH_PREFIX,
    CLI_LOAD_O_METHOD,
    CLI_LOAD_O_PATH,
    CLI_LOAD_O_JSON,
    CLI_LOAD_O_PROGRESS,
    CLI_LOAD_O_LOOP,
    CLI_LOAD_O_RECORD,
    CLI_LOAD_O_THREADS,
    CLI_LOAD_O_LAST,
};

/* The shared entries of a getopt_long table; a command appends its own and {0}. */
#define CLI_LOAD_LONGOPTS                                                                          \
    {"target", required_argument, 0, CLI_LOAD_O_TARGET},                                           \
        {"connections", required_argument, 0, CLI_LOAD_O_CONNECTIONS},                             \
        {"timeout", required_argument, 0, CLI_LOAD_O_TIMEOUT},                                     \
        {"duration", required_argument, 0, CLI_LOAD_O_DURATION},                                   \
        {"max-requests", required_argument, 0, CLI_LOAD_O_MAX_REQUESTS},                           \
        {"host", required_argument, 0, CLI_LOAD_O_HOST},                                           \
        {"header", required_argument, 0, CLI_LOAD_O_HEADER},                                       \
        {"remove-header", required_argument, 0, CLI_LOAD_O_REMOVE_HEADER},                         \
        {"path-prefix", required_argument, 0, CLI_LOAD_O_PATH_PREFIX},                             \
        {"method", required_argument, 0, CLI_LOAD_O_METHOD},                                       \
        {"path", required_argument, 0, CLI_LOAD_O_PATH},                                           \
        {"json", no_argument, 0, CLI_LOAD_O_JSON},                                                 \
        {"progress", no_argument, 0, CLI_LOAD_O_PROGRESS},                                         \
        {"loop", no_argument, 0, CLI_LOAD_O_LOOP},                                                 \
        {"record", required_argument, 0, CLI_LOAD_O_RECORD},                                       \
    {                                                                                              \
        "threads", required_argument, 0, CLI_LOAD_O_THREADS                                        \
    }

/* The shared flags' help text. */
#define CLI_LOAD_HELP                                                                              \
    "  --target URL          http://HOST:PORT[/PREFIX] (required; PREFIX as --path-prefix)\n"      \
    "  --connections N       keep-alive connections, opened as needed (default 64)\n"              \
    "  --timeout DUR         per request, from its write (default 10s); a request that\n"          \
    "                        waits longer for a free connection is dropped (overflow)\n"           \
    "  --duration DUR        send only what is scheduled within DUR\n"                             \
    "  --max-requests N      send at most N requests\n"                                            \
    "  --host H              Host header sent (default: the target's HOST:PORT)\n"                 \
    "  --header 'N: V'       add a header (repeatable)\n"                                          \
    "  --remove-header N     drop a recorded header (repeatable)\n"                                \
    "  --path-prefix P       prepend P to every request path\n"                                    \
    "  --method M            send only method M (repeatable)\n"                                    \
    "  --path P              send only paths starting with P (repeatable)\n"                       \
    "  --loop                start over at the end of the source\n"                                \
    "  --record FILE         write every exchange (request, the target's response) to a\n"         \
    "                        capture file (strftime pattern, as in serve's capture)\n"             \
    "  --threads N           split the schedule over N threads (cores; default 1)\n"               \
    "  --progress            progress line on stderr even when it is not a terminal\n"             \
    "  --json                machine-readable summary on stdout\n"

struct capture_writer;
struct traffic_model;
struct cli_load {
    const struct cli_cmd *cmd;
    struct replay_opts ro;
    const char *target;
    char host[300];
    const char *add[CLI_LOAD_MAX_LIST + 1], *remove[CLI_LOAD_MAX_LIST + 1];
    const char *methods[CLI_LOAD_MAX_LIST + 1], *paths[CLI_LOAD_MAX_LIST + 1];
    size_t nadd, nremove, nmethods, npaths;
    bool json, progress, host_set;
    const char *record_path;
    struct capture_writer *record; /* owned, with --record */
    uint64_t record_lost;
    unsigned nthreads;           /* --threads; 1 after finish */
    uint64_t seed;               /* of a model source */
    bool model_own_pace;         /* a model source keeps its hourly arrival curve */
    struct traffic_model *model; /* owned, once a model: source was opened */
    struct replay_source *extra[REPLAY_MAX_THREADS - 1]; /* owned: threads 2.. */
    /* progress line state */
    const char *label; /* "step 3 (300/s)" or NULL */
    uint64_t prev_sent, prev_ns;
    bool tty;
};

void cli_load_init(struct cli_load *l, const struct cli_cmd *cmd);
/* Handles one shared flag: 1 handled, 0 not a shared flag, CLI_USAGE after a usage error. */
int cli_load_flag(struct cli_load *l, int opt, const char *arg);
/* After parsing: checks --target and fills ro (addr, rewrite, filter). 0 or CLI_USAGE. */
int cli_load_finish(struct cli_load *l);
/* "2000/s", "2000", "120/m" -> requests/s > 0. */
int cli_load_parse_rate(const char *s, double *out);
/* "3x", "3", "0.5x" -> factor > 0. */
int cli_load_parse_speed(const char *s, double *out);
/* Turns on the progress callback when stderr is a terminal or --progress was given. */
void cli_load_enable_progress(struct cli_load *l);
/* Ends a progress line (a terminal's carriage-return line). */
void cli_load_progress_end(struct cli_load *l);
/* The summary of one run: text on stdout, or a JSON object added to parent as `name`
 * (parent NULL: printed as the whole document). */
void cli_load_print_text(const struct replay_stats *st, FILE *out);
struct cJSON;
struct cJSON *cli_load_stats_json(const struct replay_stats *st);
/* Opens a source named on the command line: "url:PATH" (one GET of PATH, repeated with
 * --loop), "capture:FILE[,FILE...]", "model:FILE". 0 or CLI_USAGE/CLI_FAILED (printed). */
int cli_load_open_source(struct cli_load *l, const char *spec, struct replay_source **out);
/* The sources of `doppel replay`: one "url:PATH", or capture files played in order. */
int cli_load_open_sources(struct cli_load *l, char *const *names, size_t n,
                          struct replay_source **out);
/* Closes what cli_load_finish/run opened (the --record writer). */
void cli_load_release(struct cli_load *l);
/* Runs, printing errors; returns CLI_OK, or CLI_FAILED when the source failed. */
int cli_load_run(struct cli_load *l, struct replay_source *src, struct replay_stats *st);

#endif
