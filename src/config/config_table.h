/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_table: the schema tables of doppel's configuration, shared by config.c (load,
 * checks, free) and config_table.c (the tables and their parse callbacks). Internal to
 * the config room.
 */
#ifndef DOPPEL_CONFIG_CONFIG_TABLE_H
#define DOPPEL_CONFIG_CONFIG_TABLE_H

#include "config/schema.h"

/* The root of the file, describing struct config. */
extern const struct schema_key config_table_top[];
/* services[].mirror (and each route's mirror), describing struct config_mirror. */
extern const struct schema_key config_table_mirror[];
/* The top-level capture section, describing struct config_capture (config_capture.c). */
extern const struct schema_key config_table_capture[];

/* chaos (config_chaos.c), describing struct config_chaos. */
extern const struct schema_key config_table_chaos[];
/* The chaos section's cross-field checks (faults complete, scopes naming real pools),
 * with the fault's position in the file. */
struct config;
int config_chaos_check(const struct config *cfg, const struct cnode *root, struct err *err);

/* A pool's `run:` and the top-level `provision:` (config_provision.c). */
extern const struct schema_key config_table_run[];
extern const struct schema_key config_table_provision[];
struct config;
struct config_service;
/* A shadow's run starts as a copy of its service's primary run. */
void config_shadow_init(const void *parent, void *elem);
/* The checks of managed pools, once a service's routes are resolved. */
int config_provision_finish(const struct cnode *svc_map, struct config_service *svc,
                            const struct config *cfg, struct err *err);

/* data (config_data.c), describing struct config_data. */
extern const struct schema_key config_table_data[];

#endif
