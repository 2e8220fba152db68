/* SPDX-License-Identifier: Apache-2.0 */
/* doppel entry point: everything happens in the subcommand table (cli/cli.c). */
#include "cli/cli.h"

int main(int argc, char **argv)
{
    return cli_main(argc, argv);
}
