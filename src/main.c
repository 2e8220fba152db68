/* SPDX-License-Identifier: Apache-2.0 */
/* doppel entry point: everything happens in the subcommand table (cli/cli.c), except the
 * exec wrapper the process provisioner runs its instances through (provision_exec.h). */
#include <string.h>

#include "cli/cli.h"
#include "provision/provision_exec.h"

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], PROVISION_EXEC_ARG) == 0)
        return provision_exec_main(argc - 1, argv + 1);
    return cli_main(argc, argv);
}
