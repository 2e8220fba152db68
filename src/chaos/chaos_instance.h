/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chaos_instance: instance faults, applied on the control loop through the instance ops
 * table the app fills from the provisioner (this room never includes the provisioner):
 * kill (SIGKILL), pause (SIGSTOP at the fault's start, SIGCONT at its end), restart, and
 * CPU burn / memory pressure by a helper process placed in the instance's cgroup (or, where
 * the instance has none, in its process group) and stopped at the fault's end. Helpers die
 * with doppel (PR_SET_PDEATHSIG) so none outlives it.
 */
#ifndef DOPPEL_CHAOS_CHAOS_INSTANCE_H
#define DOPPEL_CHAOS_CHAOS_INSTANCE_H

#include <sys/types.h>

#include "chaos/chaos.h"

/* Acts on every instance the fault's scope names; failures are logged per instance. */
void chaos_instance_start(const struct chaos_instance_ops *ops, const struct fault *f,
                          struct chaos_fault_run *run, const char *exp_id, int fault);
/* Undoes what start did (resume, stop helpers); kill and restart have nothing to undo. */
void chaos_instance_stop(const struct chaos_instance_ops *ops, const struct fault *f,
                         struct chaos_fault_run *run);

/* A helper process: burns one CPU (memory 0) or holds `memory` bytes touched, until
 * killed. Placed in cgroup (a directory, "" = none) or else in process group pgid (0 =
 * its own). Returns its pid or -errno. */
pid_t chaos_helper_spawn(uint64_t memory, const char *cgroup, pid_t pgid);
/* SIGKILL and reap. */
void chaos_helper_stop(pid_t pid);

#endif
