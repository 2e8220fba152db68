/* SPDX-License-Identifier: Apache-2.0 */
/*
 * list: intrusive circular doubly-linked list (the node lives inside its owner).
 */
#ifndef DOPPEL_BASE_LIST_H
#define DOPPEL_BASE_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct list {
    struct list *prev, *next;
};

#define list_entry(node, type, member) ((type *)((char *)(node)-offsetof(type, member)))
#define list_for_each_safe(pos, tmp, head)                                                         \
    for (pos = (head)->next, tmp = pos->next; pos != (head); pos = tmp, tmp = pos->next)

static inline void list_init(struct list *l)
{
    l->prev = l->next = l;
}
static inline bool list_empty(const struct list *l)
{
    return l->next == l;
}
static inline void list_insert_tail(struct list *head, struct list *n)
{
    n->prev = head->prev;
    n->next = head;
    head->prev->next = n;
    head->prev = n;
}
static inline void list_remove(struct list *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}
static inline struct list *list_pop_head(struct list *head)
{
    if (list_empty(head))
        return NULL;
    struct list *n = head->next;
    list_remove(n);
    return n;
}

#endif
