/* SPDX-License-Identifier: Apache-2.0 */
/* cli_version: `doppel version` prints the version and the libraries it was built with. */
#include "cli/cli.h"

#include <openssl/opensslv.h>
#include <uv.h>
#include <yaml.h>

static int run(int argc, char **argv)
{
    (void)argv;
    if (argc > 1)
        return cli_usage_error(&cli_cmd_version, "takes no arguments");
    printf("doppel %s\n", DOPPEL_VERSION);
    printf("libuv %s, libyaml %s, %s\n", uv_version_string(), yaml_get_version_string(),
           OPENSSL_VERSION_TEXT);
    return CLI_OK;
}

const struct cli_cmd cli_cmd_version = {
    .name = "version",
    .usage = "version",
    .summary = "print the version of doppel and of the libraries it uses",
    .run = run,
};
