/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_datashadow: `doppel datashadow -c FILE` replicates the source PostgreSQL database
 * into the masked shadow until SIGINT/SIGTERM; `--status` prints lag and counts, `--verify`
 * compares the masked source with the shadow table by table. FILE is a datashadow.yaml
 * (a `data:` section only) or a serve config with a `data:` section.
 */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "config/cnode.h"
#include "config/config.h"
#include "datashadow/datashadow.h"

static atomic_bool stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&stop_requested, true);
}

/* A serve config (it has services) or a datashadow.yaml. */
static int load(const char *path, struct config **cfg, struct err *err)
{
    struct cnode *root = NULL;
    int rc = cnode_load_file(path, &root, err);
    if (rc)
        return rc;
    bool serve = cnode_get(root, "services") != NULL;
    cnode_free(root);
    rc = serve ? config_load(path, cfg, err) : config_load_data(path, cfg, err);
    if (!rc && !(*cfg)->data.source) {
        config_free(*cfg);
        *cfg = NULL;
        return err_set(err, -EINVAL, "%s: no 'data' section", path);
    }
    return rc;
}

static int run_stream(const struct config_data *d, struct err *err)
{
    struct datashadow *ds = NULL;
    struct sigaction sa = {.sa_handler = on_signal};
    int rc = datashadow_new(d, &ds, err);
    if (rc)
        return rc;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    rc = datashadow_run(ds, &stop_requested, err);
    datashadow_free(ds);
    return rc;
}

static int exit_code(int rc)
{
    if (!rc)
        return CLI_OK;
    return rc == -EINVAL || rc == -ENOENT ? CLI_USAGE : CLI_FAILED;
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"status", no_argument, NULL, 's'},
                                         {"verify", no_argument, NULL, 'v'},
                                         {"json", no_argument, NULL, 'j'},
                                         {NULL, 0, NULL, 0}};
    const char *path = NULL;
    bool status = false, verify = false, json = false, clean = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
        if (c == 'c')
            path = optarg;
        else if (c == 's' || c == 'v' || c == 'j')
            *(c == 's' ? &status : c == 'v' ? &verify : &json) = true;
        else
            return cli_usage_error(&cli_cmd_datashadow, "unknown option");
    }
    if (!path)
        return cli_usage_error(&cli_cmd_datashadow, "missing -c FILE");
    if (optind < argc)
        return cli_usage_error(&cli_cmd_datashadow, "unexpected argument '%s'", argv[optind]);
    if (status && verify)
        return cli_usage_error(&cli_cmd_datashadow, "--status and --verify exclude each other");
    struct err err = {0};
    struct config *cfg = NULL;
    struct buf out;
    buf_init(&out, 64 * 1024 * 1024);
    int rc = load(path, &cfg, &err);
    if (rc) {
        fprintf(stderr, "%s\n", err.msg);
        buf_release(&out);
        return CLI_USAGE;
    }
    if (status)
        rc = datashadow_status(&cfg->data, json, &out, &err);
    else if (verify)
        rc = datashadow_verify(&cfg->data, json, &out, &clean, &err);
    else
        rc = run_stream(&cfg->data, &err);
    fwrite(out.data ? out.data : "", 1, out.len, stdout);
    if (rc)
        fprintf(stderr, "doppel datashadow: %s\n", err.msg);
    buf_release(&out);
    config_free(cfg);
    return rc ? exit_code(rc) : verify && !clean ? CLI_FAILED : CLI_OK;
}

const struct cli_cmd cli_cmd_datashadow = {
    .name = "datashadow",
    .usage = "datashadow -c FILE [--status | --verify] [--json]",
    .summary = "replicate a PostgreSQL database into a masked shadow database",
    .help = "Copies the tables of the source's publication into the shadow database, masking\n"
            "columns by the rules of FILE, then streams every change (logical replication,\n"
            "pgoutput) until SIGINT or SIGTERM. Restart-safe: progress is recorded in the\n"
            "shadow in the same transactions as the data.\n"
            "  -c FILE    a datashadow.yaml (`data:` only) or a serve config with `data:`\n"
            "  --status   lag, rows applied, last LSN, per table; then exit\n"
            "  --verify   mask every source row and compare with the shadow; exit 1 when a\n"
            "             table differs\n"
            "  --json     --status and --verify as JSON\n"
            "Exit: 0 stopped or clean, 1 failed or differs, 2 bad config or rules.\n",
    .run = run,
};
