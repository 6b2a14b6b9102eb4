/* SPDX-License-Identifier: MIT */
/* Intrusive doubly linked lists: any struct with `prev` and `next` pointers, and a count. */
#ifndef GOSSIP_CORE_LIST_H
#define GOSSIP_CORE_LIST_H

/*
 * head is the address of the list's first-element pointer, count the
 * address of its element count. Insertion is at the front: O(1) both ways.
 */
#define DLIST_PUSH(head, item, count)                                                              \
	do {                                                                                       \
		(item)->prev = NULL;                                                               \
		(item)->next = *(head);                                                            \
		if (*(head))                                                                       \
			(*(head))->prev = (item);                                                  \
		*(head) = (item);                                                                  \
		(*(count))++;                                                                      \
	} while (0)

#define DLIST_REMOVE(head, item, count)                                                            \
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

#endif
