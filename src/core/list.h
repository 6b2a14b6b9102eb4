/* SPDX-License-Identifier: MIT */
/* Intrusive doubly linked lists: any struct with a pair of prev/next pointers, and a count. */
#ifndef GOSSIP_CORE_LIST_H
#define GOSSIP_CORE_LIST_H

/*
 * head is the address of the list's first-element pointer, count the
 * address of its element count (any integer type). Insertion is at the
 * front; both operations are O(1). The _AS forms name the link fields, for
 * a struct on more than one list.
 */
#define DLIST_PUSH_AS(head, item, count, prev, next)                                               \
	do {                                                                                       \
		(item)->prev = NULL;                                                               \
		(item)->next = *(head);                                                            \
		if (*(head))                                                                       \
			(*(head))->prev = (item);                                                  \
		*(head) = (item);                                                                  \
		(*(count))++;                                                                      \
	} while (0)

#define DLIST_REMOVE_AS(head, item, count, prev, next)                                             \
	do {                                                                                       \
		if ((item)->prev)                                                                  \
			(item)->prev->next = (item)->next;                                         \
		else                                                                               \
			*(head) = (item)->next;                                                    \
		if ((item)->next)                                                                  \
			(item)->next->prev = (item)->prev;                                         \
		(item)->prev = (item)->next = NULL;                                                \
		(*(count))--;                                                                      \
	} while (0)

#define DLIST_PUSH(head, item, count) DLIST_PUSH_AS(head, item, count, prev, next)
#define DLIST_REMOVE(head, item, count) DLIST_REMOVE_AS(head, item, count, prev, next)

#endif
