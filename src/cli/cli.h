/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli: the subcommand table. Each subcommand lives in cli/cli_<name>.c, parses its own
 * flags with getopt_long, calls room APIs and prints. No business logic here.
 * Exit codes: CLI_OK 0, CLI_FAILED 1, CLI_USAGE 2.
 */
#ifndef DOPPEL_CLI_CLI_H
#define DOPPEL_CLI_CLI_H

#include <stdio.h>

#include "base/version.h"

enum { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2 };

typedef int cli_run_cb(int argc, char **argv);

struct cli_cmd {
    const char *name;
    const char *usage;   /* one line after "doppel " */
    const char *summary; /* one line */
    const char *help;    /* full text for `doppel help NAME` / `NAME --help` (may be NULL) */
    cli_run_cb *run;     /* argv[0] is the subcommand name */
};

int cli_main(int argc, char **argv);
/* Prints the usage and help of cmd to out. */
void cli_print_help(const struct cli_cmd *cmd, FILE *out);
/* For subcommands: prints "doppel NAME: msg" and a usage hint to stderr, returns CLI_USAGE. */
int cli_usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

extern const struct cli_cmd cli_cmd_version;
extern const struct cli_cmd cli_cmd_serve;
extern const struct cli_cmd cli_cmd_analyze;
extern const struct cli_cmd cli_cmd_check;
extern const struct cli_cmd cli_cmd_replay;
extern const struct cli_cmd cli_cmd_loadgen;
extern const struct cli_cmd cli_cmd_stress;
extern const struct cli_cmd cli_cmd_capture;
extern const struct cli_cmd cli_cmd_learn;
extern const struct cli_cmd cli_cmd_status;
extern const struct cli_cmd cli_cmd_datashadow;

#endif
