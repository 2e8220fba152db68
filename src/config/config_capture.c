/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_capture: the schema of the top-level `capture:` section (struct config_capture):
 * where `doppel serve` records the anonymized traffic its mirror sees, how large a file may
 * grow and which share of requests is recorded. Hooked into config_table_top; the file
 * format is docs/capture-format.md, the recording itself observer/capture_tap.c.
 */
#include <stddef.h>

#include "config/config.h"
#include "config/config_table.h"

#define CAP(f) offsetof(struct config_capture, f)
/* clang-format off */
const struct schema_key config_table_capture[] = {
    {.name = "path", .type = SCHEMA_STRING, .flags = SCHEMA_FILEPATH | SCHEMA_NONEMPTY,
     .offset = CAP(path),
     .doc = "file name pattern, expanded with strftime in UTC (`%Y%m%d-%H` starts a file "
            "per hour); absent: no capture"},
    {.name = "max_file", .type = SCHEMA_SIZE, .def = "256MiB", .min = 4096,
     .max = 64ULL * 1024 * 1024 * 1024, .offset = CAP(max_file),
     .doc = "a file that would grow past this is closed and the next one numbered"},
    {.name = "sample_percent", .type = SCHEMA_U32, .def = "100", .min = 0, .max = 100,
     .offset = CAP(sample_percent), .doc = "share of finished requests recorded (integer)"},
    {.name = "queue", .type = SCHEMA_U32, .def = "4096", .min = 16, .max = 1048576,
     .offset = CAP(queue),
     .doc = "records waiting for the writer thread, per worker; past it records are dropped "
            "and counted (`doppel_capture_dropped_total`)"},
    {0},
};
/* clang-format on */
