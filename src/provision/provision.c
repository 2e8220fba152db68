/* SPDX-License-Identifier: Apache-2.0 */
/*
 * provision: the driver-independent half of the interface (see provision.h): dispatch of
 * the provision_* calls to the driver's ops, names, selector matching and the {port} /
 * {instance} placeholder expansion every driver uses. Owns nothing.
 */
#include "provision/provision.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int provision_start(struct provision *p, const struct provision_spec *spec, struct err *err)
{
    return p->ops->start(p, spec, err);
}

int provision_stop(struct provision *p, const char *id)
{
    return p->ops->stop(p, id);
}

int provision_kill(struct provision *p, const char *id, int signo)
{
    return p->ops->kill(p, id, signo);
}

int provision_pause(struct provision *p, const char *id)
{
    return p->ops->pause(p, id);
}

int provision_resume(struct provision *p, const char *id)
{
    return p->ops->resume(p, id);
}

int provision_restart(struct provision *p, const char *id)
{
    return p->ops->restart(p, id);
}

int provision_get(struct provision *p, const char *id, struct provision_instance *out)
{
    return p->ops->get(p, id, out);
}

size_t provision_list(struct provision *p, const struct provision_selector *sel,
                      struct provision_instance *out, size_t max)
{
    return p->ops->list(p, sel, out, max);
}

int provision_sample(struct provision *p, const char *id, struct provision_sample *out)
{
    return p->ops->sample(p, id, out);
}

void provision_stop_all(struct provision *p, void (*done)(void *ctx), void *ctx)
{
    p->ops->stop_all(p, done, ctx);
}

void provision_free(struct provision *p)
{
    if (p)
        p->ops->free(p);
}

void provision_set_event_cb(struct provision *p, provision_event_cb *cb, void *ctx)
{
    p->on_event = cb;
    p->event_ctx = ctx;
}

const char *provision_state_name(enum provision_state s)
{
    static const char *const names[] = {"starting", "ready",    "paused",
                                        "backoff",  "stopping", "exited"};
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

const char *provision_role_name(enum provision_role r)
{
    return r == PROVISION_ROLE_SHADOW ? "shadow" : "primary";
}

static bool field_match(const char *want, const char *have)
{
    return !want || strcmp(want, have) == 0;
}

bool provision_selector_match(const struct provision_selector *sel,
                              const struct provision_instance *inst)
{
    if (!sel)
        return true;
    return field_match(sel->service, inst->service) && field_match(sel->pool, inst->pool) &&
           field_match(sel->change_id, inst->change_id) && field_match(sel->id, inst->id) &&
           (sel->role < 0 || sel->role == (int)inst->role);
}

int provision_expand(const char *tmpl, uint16_t port, const char *id, struct buf *out)
{
    const char *s = tmpl;
    int rc = 0;
    while (*s && !rc) {
        const char *brace = strchr(s, '{');
        if (!brace) {
            rc = buf_appends(out, s);
            break;
        }
        rc = buf_append(out, s, (size_t)(brace - s));
        if (rc)
            break;
        if (strncmp(brace, "{port}", 6) == 0) {
            rc = buf_printf(out, "%u", (unsigned)port);
            s = brace + 6;
        } else if (strncmp(brace, "{instance}", 10) == 0) {
            rc = buf_appends(out, id);
            s = brace + 10;
        } else {
            rc = buf_append(out, "{", 1);
            s = brace + 1;
        }
    }
    return rc;
}
