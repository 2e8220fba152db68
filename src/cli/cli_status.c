/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_status: `doppel status [--admin HOST:PORT | -c FILE] [--json]` asks a running
 * doppel's admin API for its instances (GET /v1/instances) and prints one line per
 * instance: id, role, pool, state, pid, port, restarts, sealed, change, RSS, CPU. The
 * response is parsed by the project's HTTP reader; --json prints the API's answer.
 */
#include "cli/cli.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "config/config.h"
#include "cli/cli_http.h"

#define STATUS_BODY_MAX (8 << 20)
#define STATUS_TIMEOUT_MS 5000

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : "-";
}

static void print_table(const cJSON *root)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "instances"), *in;
    printf("%-24s %-8s %-10s %-9s %7s %6s %8s %6s %-10s %9s %6s\n", "INSTANCE", "ROLE", "POOL",
           "STATE", "PID", "PORT", "RESTARTS", "SEALED", "CHANGE", "RSS_MIB", "CPU%");
    cJSON_ArrayForEach(in, arr)
    {
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(in, "labels");
        const cJSON *res = cJSON_GetObjectItemCaseSensitive(in, "resources");
        printf("%-24s %-8s %-10s %-9s %7.0f %6.0f %8.0f %6s %-10s %9.1f %6.1f\n", str(in, "id"),
               str(l, "role"), str(l, "pool"), str(in, "state"), num(in, "pid"), num(in, "port"),
               num(in, "restarts"),
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(in, "sealed")) ? "yes" : "no",
               str(l, "change_id"), num(res, "rss_bytes") / (1 << 20), num(res, "cpu_percent"));
    }
    if (cJSON_GetArraySize(arr) == 0)
        printf("(no managed instances: driver %s)\n", str(root, "driver"));
}

static int admin_from_config(const char *path, char *out, size_t len)
{
    struct config *cfg = NULL;
    struct err err = {0};
    if (config_load(path, &cfg, &err) != 0) {
        fprintf(stderr, "doppel status: %s\n", err.msg);
        return CLI_USAGE;
    }
    int rc = CLI_OK;
    if (!cfg->admin.listen) {
        fprintf(stderr, "doppel status: %s: admin listener is off\n", path);
        rc = CLI_USAGE;
    } else {
        snprintf(out, len, "%s", cfg->admin.listen);
    }
    config_free(cfg);
    return rc;
}

static int status_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"admin", 1, 0, 'a'}, {"config", 1, 0, 'c'}, {"json", 0, 0, 'j'}, {"help", 0, 0, 'h'}, {0}};
    char addr[128] = "127.0.0.1:9900";
    bool json = false;
    int ch, rc;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "a:c:jh", opts, NULL)) != -1) {
        if (ch == 'a')
            snprintf(addr, sizeof(addr), "%s", optarg);
        else if (ch == 'c' && (rc = admin_from_config(optarg, addr, sizeof(addr))) != CLI_OK)
            return rc;
        else if (ch == 'j')
            json = true;
        else if (ch == 'h') {
            cli_print_help(&cli_cmd_status, stdout);
            return CLI_OK;
        } else if (ch != 'c')
            return cli_usage_error(&cli_cmd_status, "unknown option");
    }
    if (optind < argc)
        return cli_usage_error(&cli_cmd_status, "unexpected argument '%s'", argv[optind]);
    struct cli_http_fetch f = {0};
    struct err err = {0};
    buf_init(&f.body, STATUS_BODY_MAX);
    rc = cli_http_get(addr, "/v1/instances", "the admin API", STATUS_TIMEOUT_MS, &f, &err);
    cJSON *root = rc ? NULL : cJSON_ParseWithLength(f.body.data ? f.body.data : "", f.body.len);
    if (rc)
        fprintf(stderr, "doppel status: %s\n", err.msg);
    else if (f.status != 200 || !cJSON_IsObject(root))
        fprintf(stderr, "doppel status: the admin API at %s answered %d to GET /v1/instances\n",
                addr, f.status);
    else if (json)
        printf("%s\n", f.body.data);
    else
        print_table(root);
    int out = !rc && f.status == 200 && cJSON_IsObject(root) ? CLI_OK : CLI_FAILED;
    cJSON_Delete(root);
    buf_release(&f.body);
    return out;
}

const struct cli_cmd cli_cmd_status = {
    .name = "status",
    .usage = "status [--admin HOST:PORT | -c FILE] [--json]",
    .summary = "list the instances a running doppel manages (labels, state, resources)",
    .help = "Asks a running doppel's admin API (GET /v1/instances) for its managed instances\n"
            "and prints one line each. --admin names the admin address (default\n"
            "127.0.0.1:9900); -c FILE reads it from the configuration. --json prints the\n"
            "API's answer as it is. Exit status 0, or 1 when doppel cannot be reached.\n",
    .run = status_run,
};
