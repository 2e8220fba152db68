/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_replay: `doppel replay SOURCE... --target URL` plays recorded requests (capture
 * files, or `url:PATH` for one fixed GET) against a target, open loop, at their recorded
 * pace times --speed or at a fixed --rate with the same mix, and prints the summary
 * (text or --json). Owns the sources it opened.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "cli/cli.h"
#include "cli/cli_load.h"

enum { O_SPEED = CLI_LOAD_O_LAST, O_RATE };

struct replay_cli_opts {
    struct cli_load load;
    double speed, rate;
    bool have_speed, have_rate;
};

static int parse(int argc, char **argv, struct replay_cli_opts *o)
{
    static const struct option longopts[] = {
        CLI_LOAD_LONGOPTS,
        {"speed", required_argument, 0, O_SPEED},
        {"rate", required_argument, 0, O_RATE},
        {0, 0, 0, 0},
    };
    int opt, rc;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        rc = cli_load_flag(&o->load, opt, optarg);
        if (rc == 1)
            continue;
        if (rc)
            return rc;
        if (opt == O_SPEED) {
            if (cli_load_parse_speed(optarg, &o->speed))
                return cli_usage_error(&cli_cmd_replay, "--speed '%s' is not a factor (3x)",
                                       optarg);
            o->have_speed = true;
        } else if (opt == O_RATE) {
            if (cli_load_parse_rate(optarg, &o->rate))
                return cli_usage_error(&cli_cmd_replay, "--rate '%s' is not a rate (2000/s)",
                                       optarg);
            o->have_rate = true;
        } else {
            return cli_usage_error(&cli_cmd_replay, "unknown option");
        }
    }
    if (optind >= argc)
        return cli_usage_error(&cli_cmd_replay, "no source: name capture files or url:PATH");
    if (o->have_speed && o->have_rate)
        return cli_usage_error(&cli_cmd_replay, "--speed and --rate exclude each other");
    if (o->have_rate)
        replay_sched_init_rate(&o->load.ro.sched, o->rate);
    else
        replay_sched_init_speed(&o->load.ro.sched, o->have_speed ? o->speed : 1.0);
    return cli_load_finish(&o->load);
}

static int print_summary(const struct replay_cli_opts *o, const struct replay_stats *st)
{
    if (!o->load.json) {
        cli_load_print_text(st, stdout);
        return 0;
    }
    cJSON *j = cli_load_stats_json(st);
    char *s = cJSON_Print(j);
    printf("%s\n", s);
    free(s);
    cJSON_Delete(j);
    return 0;
}

static int replay_cli_run(int argc, char **argv)
{
    struct replay_cli_opts o = {0};
    struct replay_source *src = NULL;
    struct replay_stats *st = NULL;
    cli_load_init(&o.load, &cli_cmd_replay);
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc;
    rc = cli_load_open_sources(&o.load, argv + optind, (size_t)(argc - optind), &src);
    if (rc)
        return rc;
    cli_load_enable_progress(&o.load);
    st = xmalloc(sizeof(*st));
    rc = cli_load_run(&o.load, src, st);
    print_summary(&o, st);
    free(st);
    replay_source_free(src);
    cli_load_release(&o.load);
    return rc;
}

const struct cli_cmd cli_cmd_replay = {
    .name = "replay",
    .usage = "replay SOURCE... --target URL [--speed 3x | --rate 2000/s] [--loop] "
             "[--duration DUR] [--max-requests N] [--json]",
    .summary = "play recorded requests against a target, open loop",
    .help = "SOURCE is a capture file (all files are played as one stream, in order) or\n"
            "url:PATH (one GET of PATH, e.g. with --rate and --loop). Each request is sent\n"
            "at its scheduled time whatever the target's latency; latency is measured from\n"
            "that time, so waiting for the target counts (no coordinated omission).\n\n"
            "  --speed F             recorded pace times F (3x; default 1x)\n"
            "  --rate R              fixed arrival rate, same mix (2000/s, 6000/m)\n" CLI_LOAD_HELP,
    .run = replay_cli_run,
};
