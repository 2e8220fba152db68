/* SPDX-License-Identifier: Apache-2.0 */
/*
 * provision_egress: the bridges out of a sealed instance's network namespace. For each
 * allowed `host:port` doppel listens on 127.0.0.1:<port> inside the namespace and relays
 * every connection to host:port outside it, so the instance reaches that one target (a
 * shadow database, say) and nothing else. The relay runs on the provisioner's loop.
 */
#ifndef DOPPEL_PROVISION_PROVISION_EGRESS_H
#define DOPPEL_PROVISION_PROVISION_EGRESS_H

struct pinst;

/* Starts reading the wrapper's sync pipe: once the namespace exists, the bridges are made
 * and the wrapper is told to exec the instance. */
void pegress_begin(struct pinst *in);
/* Closes every bridge and relayed connection of the instance. */
void pegress_close_all(struct pinst *in);

#endif
