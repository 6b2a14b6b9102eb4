/* SPDX-License-Identifier: MIT */
/* FIFO rings of fixed-size elements: one growing array, O(1) push and pop, a bound of choice. */
#include <stdlib.h>
#include <string.h>

#include "ring.h"
#include "util.h"

void
ring_init(struct ring *r, size_t elem)
{
	memset(r, 0, sizeof(*r));
	r->elem = elem;
}

void
ring_release(struct ring *r)
{
	free(r->v);
	r->v = NULL;
	r->cap = r->head = r->n = 0;
}

/* Doubles the array (from 8), keeping the elements in order from index 0. */
static void
grow(struct ring *r, size_t max)
{
	size_t ncap = r->cap ? 2 * r->cap : 8;
	uint8_t *nv;

	if (max && ncap > max)
		ncap = max;
	nv = xcalloc(ncap, r->elem);
	for (size_t i = 0; i < r->n; i++)
		memcpy(nv + i * r->elem, ring_at(r, i), r->elem);
	free(r->v);
	r->v = nv;
	r->cap = ncap;
	r->head = 0;
}

void *
ring_push(struct ring *r, size_t max)
{
	if (r->n == r->cap) {
		if (max && r->n >= max)
			return NULL;
		grow(r, max);
	}
	r->n++;
	return ring_at(r, r->n - 1);
}

void
ring_pop(struct ring *r)
{
	if (!r->n)
		return;
	r->head = r->head + 1 == r->cap ? 0 : r->head + 1;
	r->n--;
}
