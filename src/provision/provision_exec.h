/* SPDX-License-Identifier: Apache-2.0 */
/*
 * provision_exec: the few steps an instance needs between fork and exec that uv_spawn has
 * no hook for -- rlimits, joining its cgroups, a network namespace of its own with
 * loopback up. The process driver spawns the doppel binary itself as
 *   doppel --provision-exec [--nofile=N] [--as=BYTES] [--cgroup=DIR]... [--netns]
 *          [--sync-fd=N] -- COMMAND ARGS...
 * which does those steps in order and execs COMMAND, so the instance's pid is the pid the
 * driver spawned. src/main.c routes that first argument here before the subcommands.
 */
#ifndef DOPPEL_PROVISION_PROVISION_EXEC_H
#define DOPPEL_PROVISION_PROVISION_EXEC_H

#define PROVISION_EXEC_ARG "--provision-exec"
#define PROVISION_EXEC_ARG_STR PROVISION_EXEC_ARG

/* argv[0] is PROVISION_EXEC_ARG. Only returns on failure: 127 after a message on stderr. */
int provision_exec_main(int argc, char **argv);

#endif
