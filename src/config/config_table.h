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

#endif
