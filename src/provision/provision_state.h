/* SPDX-License-Identifier: Apache-2.0 */
/*
 * provision_state: one record per running instance in doppel's state directory
 * (<dir>/<id>.instance: key=value lines -- owner pid and start time, instance pid and
 * start time, port, cgroup directories, labels), written when an instance starts and
 * removed when it is gone. A doppel killed with SIGKILL leaves its records behind; the
 * next one to start on the same directory finds them and removes the stray instances
 * (their whole process group, and their cgroups), so no shadow outlives its owner.
 */
#ifndef DOPPEL_PROVISION_PROVISION_STATE_H
#define DOPPEL_PROVISION_PROVISION_STATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "provision/provision.h"

int pstate_write(const char *dir, const struct provision_instance *inst, uint64_t start_ticks);
void pstate_remove(const char *dir, const char *id);
/* Cleans the records of owners that are gone; returns the number of instances killed. */
size_t pstate_sweep(const char *dir);

#endif
