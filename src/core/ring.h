/* SPDX-License-Identifier: MIT */
/* FIFO rings of fixed-size elements: one growing array, O(1) push and pop, a bound of choice. */
#ifndef GOSSIP_CORE_RING_H
#define GOSSIP_CORE_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The array is allocated on the first push and doubles when full, up to the
 * bound the caller gives each push, so a ring that is rarely busy costs
 * little until it is. ring_release() gives the array back.
 */
struct ring {
	uint8_t *v;
	size_t elem; /* bytes per element */
	size_t cap, head, n;
};

#define RING_INIT(type)                                                                            \
	{                                                                                          \
		.elem = sizeof(type)                                                               \
	}

void ring_init(struct ring *r, size_t elem);
/* Frees the array; the ring is empty and usable again. */
void ring_release(struct ring *r);
/* A slot at the back (its contents undefined), growing up to max elements; NULL when full. */
void *ring_push(struct ring *r, size_t max);
/* The i-th element from the front (i < n). */
static inline void *
ring_at(const struct ring *r, size_t i)
{
	size_t k = r->head + i;

	if (k >= r->cap)
		k -= r->cap;
	return r->v + k * r->elem;
}
/* The front element, or NULL when empty. */
static inline void *
ring_front(const struct ring *r)
{
	return r->n ? r->v + r->head * r->elem : NULL;
}
/* Drops the front element. */
void ring_pop(struct ring *r);

#endif
