/* SPDX-License-Identifier: Apache-2.0 */
/* cli_serve: `doppel serve -c FILE` runs the gateway in the foreground until SIGTERM/SIGINT. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>

#include "app/app.h"
#include "base/err.h"

static int run(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {NULL, 0, NULL, 0}};
    const char *config = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
        if (c == 'c')
            config = optarg;
        else
            return cli_usage_error(&cli_cmd_serve, "unknown option");
    }
    if (!config)
        return cli_usage_error(&cli_cmd_serve, "missing -c FILE");
    if (optind < argc)
        return cli_usage_error(&cli_cmd_serve, "unexpected argument '%s'", argv[optind]);
    struct err err = {0};
    if (app_serve(config, &err) != 0) {
        fprintf(stderr, "doppel serve: %s\n", err.msg[0] ? err.msg : "failed to start");
        return err.code == -EINVAL || err.code == -ENOENT ? CLI_USAGE : CLI_FAILED;
    }
    return CLI_OK;
}

const struct cli_cmd cli_cmd_serve = {
    .name = "serve",
    .usage = "serve -c FILE",
    .summary = "run the shadowing gateway in the foreground",
    .help = "Serves every service of the config: production traffic to the primary pool,\n"
            "sampled and anonymized copies to the shadow pools, metrics and the admin API on\n"
            "the admin listener.\n\n"
            "  -c, --config FILE   the YAML config (see docs/config.md; `doppel check -c FILE`)\n\n"
            "Signals: SIGHUP reloads the config (routes, pools, weights, mirror rules; a bad\n"
            "config is refused and the running one kept); SIGTERM or SIGINT stop accepting and\n"
            "drain in-flight exchanges for limits.drain_timeout, then exit (a second signal\n"
            "stops at once). Logs go to standard error.\n"
            "Exit status: 0 after a drain, 1 when start-up fails, 2 for a bad config or usage.\n",
    .run = run,
};
