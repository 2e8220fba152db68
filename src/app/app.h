/* SPDX-License-Identifier: Apache-2.0 */
/*
 * app: the composition root of `doppel serve`. Builds the rooms from the config in
 * pipeline order (metrics, route table, listening sockets, workers, admin, health
 * checks), runs the control loop (signals, reload, flushes), and tears them down in
 * reverse: SIGTERM/SIGINT stop accepting and drain in-flight exchanges for drain_timeout;
 * SIGHUP reloads the config and publishes a new route table without dropping a request.
 */
#ifndef DOPPEL_APP_APP_H
#define DOPPEL_APP_APP_H

#include "base/err.h"

/* Runs until a terminating signal has drained the gateway. 0, or -errno with err set
 * when start-up failed. */
int app_serve(const char *config_path, struct err *err);

#endif
