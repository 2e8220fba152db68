/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_learn: `doppel learn FILE... -o MODEL.json` reads capture files and writes the
 * synthetic traffic model (replay/model.h, docs/capture.md) for `doppel loadgen`. Prints a
 * summary of the endpoint mix on standard error (standard output when -o is given), or
 * nothing but the model with -o -.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "replay/capture_reader.h"
#include "replay/model.h"

static int learn_file(const char *path, struct traffic_model *m)
{
    struct err err = {0};
    struct capture_reader *r;
    if (capture_reader_open(path, false, &r, &err) != 0) {
        fprintf(stderr, "doppel learn: %s\n", err.msg);
        return CLI_FAILED;
    }
    struct capture_record rec;
    while (capture_reader_next(r, &rec) == 1)
        traffic_model_add(m, &rec);
    capture_reader_free(r);
    return CLI_OK;
}

static int write_model(const char *out, const char *json)
{
    FILE *f = strcmp(out, "-") == 0 ? stdout : fopen(out, "w");
    if (!f) {
        perror(out);
        return CLI_FAILED;
    }
    fputs(json, f);
    fputc('\n', f);
    int bad = ferror(f);
    if (f != stdout)
        bad |= fclose(f);
    if (bad)
        fprintf(stderr, "doppel learn: cannot write '%s'\n", out);
    return bad ? CLI_FAILED : CLI_OK;
}

static void summary(const struct traffic_model *m, FILE *f)
{
    fprintf(f, "learned %llu requests, %zu endpoints, %.2f req/s over %.3f s\n",
            (unsigned long long)m->requests, m->nep, m->mean_rate,
            (double)(m->last_ns - m->first_ns) / 1e9);
    for (size_t i = 0; i < m->nep && i < 15; i++)
        fprintf(f, "  %6.2f%%  %-7s %s\n", 100 * m->ep[i].weight, m->ep[i].method, m->ep[i].path);
    if (m->think_n)
        fprintf(f, "think time: mean %.3f s, median %.3f s (%llu gaps)\n", m->think_mean_s,
                m->think_p50_s, (unsigned long long)m->think_n);
}

static int run(int argc, char **argv)
{
    static const struct option longopts[] = {{"output", required_argument, NULL, 'o'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *out = NULL;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        if (ch == 'o') {
            out = optarg;
        } else if (ch == 'h') {
            cli_print_help(&cli_cmd_learn, stdout);
            return CLI_OK;
        } else {
            return cli_usage_error(&cli_cmd_learn, "unknown option");
        }
    }
    if (!out)
        return cli_usage_error(&cli_cmd_learn, "missing -o MODEL.json");
    if (optind >= argc)
        return cli_usage_error(&cli_cmd_learn, "no capture FILE given");
    struct traffic_model m;
    traffic_model_init(&m);
    int rc = CLI_OK;
    for (int i = optind; i < argc && rc == CLI_OK; i++)
        rc = learn_file(argv[i], &m);
    traffic_model_finish(&m);
    if (rc == CLI_OK && m.requests == 0) {
        fprintf(stderr, "doppel learn: no requests with a primary response in the captures\n");
        rc = CLI_FAILED;
    }
    if (rc == CLI_OK) {
        char *json = traffic_model_to_json(&m);
        rc = write_model(out, json);
        free(json);
        if (rc == CLI_OK)
            summary(&m, strcmp(out, "-") == 0 ? stderr : stdout);
    }
    traffic_model_release(&m);
    return rc;
}

const struct cli_cmd cli_cmd_learn = {
    .name = "learn",
    .usage = "learn FILE... -o MODEL.json",
    .summary = "learn a synthetic traffic model (endpoint mix, templates, rates) from captures",
    .help = "  -o, --output FILE   where the model JSON goes (`-`: standard output)\n"
            "Paths are templated (/users/123 -> /users/{id}; also {uuid}, {hex}); each\n"
            "endpoint keeps the headers and body of its first request and up to 32 example\n"
            "targets. Also learned: arrival rate per hour of day (UTC) and the think time of\n"
            "clients. `doppel loadgen --model` generates traffic from it. See docs/capture.md.\n",
    .run = run,
};
