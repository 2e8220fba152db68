/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_analyze: dispatch of `doppel analyze <what>` to the table below.
 */
#include "cli/cli_analyze.h"

#include <string.h>

static const struct cli_cmd *const subs[] = {
    /* one line per analyze subcommand, in pipeline order */
    &cli_analyze_judge,
    &cli_analyze_detect,
    &cli_analyze_forecast,
    &cli_analyze_degrade,
    &cli_analyze_capacity,
    &cli_analyze_rating,
    NULL,
};

static void overview(FILE *out)
{
    fprintf(out, "usage: doppel analyze <what> [options]\n\n"
                 "Runs the analyzer (pure functions) on files, so every decision the controller\n"
                 "makes can be reproduced offline.\n\n");
    for (size_t i = 0; subs[i]; i++)
        fprintf(out, "  %-10s %s\n", subs[i]->name, subs[i]->summary);
    fprintf(out, "\n`doppel help analyze <what>` or `doppel analyze <what> --help` for details.\n");
}

static int run(int argc, char **argv)
{
    if (argc < 2) {
        overview(stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        overview(stdout);
        return CLI_OK;
    }
    for (size_t i = 0; subs[i]; i++) {
        if (strcmp(subs[i]->name, argv[1]) != 0)
            continue;
        for (int j = 2; j < argc; j++) {
            if (strcmp(argv[j], "--help") == 0 || strcmp(argv[j], "-h") == 0) {
                cli_print_help(subs[i], stdout);
                return CLI_OK;
            }
        }
        return subs[i]->run(argc - 1, argv + 1);
    }
    fprintf(stderr, "doppel analyze: unknown analysis '%s'\n\n", argv[1]);
    overview(stderr);
    return CLI_USAGE;
}

const struct cli_cmd cli_cmd_analyze = {
    .name = "analyze",
    .usage = "analyze <judge|detect|forecast|degrade|capacity|rating> [options]",
    .summary = "run the analyzer on files: canary judge, anomaly, forecast, degradation, "
               "capacity, rating",
    .run = run,
};
