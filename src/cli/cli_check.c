/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_check: `doppel check -c FILE [--json]` loads a configuration exactly as `serve`
 * would and reports "FILE: ok (...)" and warnings, or the first error as
 * "file:line:col: message" (exit 2). `doppel check --schema-markdown` prints the
 * configuration reference that docs/config.md holds.
 */
#include "cli/cli.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdlib.h>

#include "base/buf.h"
#include "config/config.h"

static int print_json(const char *file, const struct config *cfg, const struct err *err)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "file", file);
    cJSON_AddBoolToObject(o, "ok", cfg != NULL);
    if (cfg) {
        const char *const *w;
        size_t nw = config_warnings(cfg, &w);
        cJSON_AddNumberToObject(o, "services", (double)cfg->nservices);
        cJSON_AddNumberToObject(o, "routes", (double)config_nroutes(cfg));
        cJSON_AddNumberToObject(o, "shadows", (double)config_nshadows(cfg));
        cJSON *arr = cJSON_AddArrayToObject(o, "warnings");
        for (size_t i = 0; i < nw; i++)
            cJSON_AddItemToArray(arr, cJSON_CreateString(w[i]));
    } else {
        cJSON_AddStringToObject(o, "error", err->msg);
    }
    char *s = cJSON_Print(o);
    printf("%s\n", s);
    free(s);
    cJSON_Delete(o);
    return cfg ? CLI_OK : CLI_USAGE;
}

static int print_text(const char *file, const struct config *cfg, const struct err *err)
{
    if (!cfg) {
        fprintf(stderr, "%s\n", err->msg);
        return CLI_USAGE;
    }
    const char *const *w;
    size_t nw = config_warnings(cfg, &w);
    printf("%s: ok (%zu services, %zu routes, %zu shadows)\n", file, cfg->nservices,
           config_nroutes(cfg), config_nshadows(cfg));
    for (size_t i = 0; i < nw; i++)
        fprintf(stderr, "%s\n", w[i]);
    return CLI_OK;
}

static int print_schema(void)
{
    struct buf b;
    buf_init(&b, 1024 * 1024);
    config_schema_markdown(&b);
    fwrite(b.data, 1, b.len, stdout);
    buf_release(&b);
    return CLI_OK;
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {"schema-markdown", no_argument, NULL, 'm'},
        {NULL, 0, NULL, 0},
    };
    const char *file = NULL;
    int json = 0, schema = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
        if (c == 'c')
            file = optarg;
        else if (c == 'j')
            json = 1;
        else if (c == 'm')
            schema = 1;
        else
            return cli_usage_error(&cli_cmd_check, "unknown or incomplete option '%s'",
                                   argv[optind - 1]);
    }
    if (optind < argc)
        return cli_usage_error(&cli_cmd_check, "unexpected argument '%s'", argv[optind]);
    if (schema)
        return file || json
                   ? cli_usage_error(&cli_cmd_check, "--schema-markdown takes no other option")
                   : print_schema();
    if (!file)
        return cli_usage_error(&cli_cmd_check, "missing -c FILE");
    struct config *cfg = NULL;
    struct err err = {0};
    config_load(file, &cfg, &err);
    int rc = json ? print_json(file, cfg, &err) : print_text(file, cfg, &err);
    config_free(cfg);
    return rc;
}

const struct cli_cmd cli_cmd_check = {
    .name = "check",
    .usage = "check -c FILE [--json] | check --schema-markdown",
    .summary = "validate a configuration file (errors as file:line:col)",
    .help =
        "Loads FILE exactly as `doppel serve` would, reading anonymization keys and\n"
        "checking cross-references, without opening any socket.\n\n"
        "  -c, --config FILE   the configuration to check\n"
        "  --json              print {\"file\", \"ok\", \"services\", \"routes\", \"shadows\",\n"
        "                      \"warnings\"} or {\"file\", \"ok\": false, \"error\"} on stdout\n"
        "  --schema-markdown   print the reference of every key (docs/config.md)\n\n"
        "Prints \"FILE: ok (N services, M routes, K shadows)\" and any warnings (on\n"
        "stderr), exit 0; or the first error as \"file:line:col: message\", exit 2.\n",
    .run = run,
};
