/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_analyze: `doppel analyze <what>` runs the analyzer's pure functions on files.
 * Each <what> lives in cli/cli_analyze_<what>.c as a struct cli_cmd (name = "judge", ...)
 * and is listed in the table in cli_analyze.c. Shared file helpers for them are here.
 */
#ifndef DOPPEL_CLI_CLI_ANALYZE_H
#define DOPPEL_CLI_CLI_ANALYZE_H

#include "cli/cli.h"

extern const struct cli_cmd cli_analyze_judge;
extern const struct cli_cmd cli_analyze_detect;
extern const struct cli_cmd cli_analyze_forecast;
extern const struct cli_cmd cli_analyze_degrade;
extern const struct cli_cmd cli_analyze_capacity;
extern const struct cli_cmd cli_analyze_rating;

#endif
