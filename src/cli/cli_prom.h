/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_prom: reads one sample out of a Prometheus text exposition (version 0.0.4), such as
 * a doppel admin /metrics answer: the value of a family's series whose `instance` label
 * has a given value. Used by `doppel stress --metrics`. No I/O, nothing allocated.
 */
#ifndef DOPPEL_CLI_PROM_H
#define DOPPEL_CLI_PROM_H

#include <stddef.h>

/* The value of the first sample of family (exact name) with label instance="instance" in
 * text[0..len). 0, -ENOENT when no such sample, -EINVAL when that sample's line is
 * malformed (bad labels, value not a finite number). */
int cli_prom_instance_value(const char *text, size_t len, const char *family, const char *instance,
                            double *out);

#endif
