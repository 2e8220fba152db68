/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli: `doppel <subcommand>` dispatch, `doppel help [NAME]`, `doppel --help`.
 * Adding a subcommand: write cli/cli_<name>.c defining `const struct cli_cmd
 * cli_cmd_<name>`, declare it in cli.h and list it in `commands` below.
 */
#include "cli/cli.h"

#include <stdarg.h>
#include <string.h>

/* One line per subcommand, so branches that add one merge cleanly. */
/* clang-format off */
static const struct cli_cmd *const commands[] = {
    &cli_cmd_serve,
    &cli_cmd_analyze,
    &cli_cmd_check,
    &cli_cmd_replay,
    &cli_cmd_loadgen,
    &cli_cmd_stress,
    &cli_cmd_capture,
    &cli_cmd_learn,
    &cli_cmd_status,
    &cli_cmd_datashadow,
    &cli_cmd_version,
};
/* clang-format on */
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct cli_cmd *find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i];
    return NULL;
}

static void print_overview(FILE *out)
{
    fprintf(out, "doppel %s - shadow your production before you change it\n\n", DOPPEL_VERSION);
    fprintf(out, "usage: doppel <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out, "\n`doppel help <command>` or `doppel <command> --help` for details.\n");
}

void cli_print_help(const struct cli_cmd *cmd, FILE *out)
{
    fprintf(out, "usage: doppel %s\n\n%s\n", cmd->usage, cmd->summary);
    if (cmd->help)
        fprintf(out, "\n%s", cmd->help);
}

int cli_usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
{
    va_list ap;
    /* Sub-subcommands (analyze judge, ...) carry their parent as the usage's first word. */
    const char *parent = strncmp(cmd->usage, "analyze ", 8) == 0 ? "analyze " : "";
    fprintf(stderr, "doppel %s%s: ", parent, cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: doppel %s\n(see `doppel help %s%s`)\n", cmd->usage, parent,
            cmd->name);
    return CLI_USAGE;
}

static int wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    }
    return 0;
}

int cli_main(int argc, char **argv)
{
    if (argc < 2) {
        print_overview(stderr);
        return CLI_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        print_overview(stdout);
        return CLI_OK;
    }
    if (strcmp(name, "--version") == 0)
        name = "version";
    if (strcmp(name, "help") == 0) {
        if (argc < 3) {
            print_overview(stdout);
            return CLI_OK;
        }
        const struct cli_cmd *c = find(argv[2]);
        if (!c) {
            fprintf(stderr, "doppel: unknown command '%s'\n", argv[2]);
            return CLI_USAGE;
        }
        /* Subcommands with their own sub-subcommands print their help themselves. */
        if (strcmp(c->name, "analyze") == 0 && argc > 3) {
            char *av[] = {argv[2], argv[3], "--help", NULL};
            return c->run(3, av);
        }
        cli_print_help(c, stdout);
        return CLI_OK;
    }
    const struct cli_cmd *c = find(name);
    if (!c) {
        fprintf(stderr, "doppel: unknown command '%s'\n\n", name);
        print_overview(stderr);
        return CLI_USAGE;
    }
    if (strcmp(c->name, "analyze") != 0 && wants_help(argc - 1, argv + 1)) {
        cli_print_help(c, stdout);
        return CLI_OK;
    }
    return c->run(argc - 1, argv + 1);
}
