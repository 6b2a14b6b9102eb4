/* SPDX-License-Identifier: MIT */
/* The simulator's event queue: a 4-ary min-heap ordered by (time, sequence number). */
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "eventq.h"

void
eventq_init(struct eventq *q)
{
	memset(q, 0, sizeof(*q));
}

void
eventq_free(struct eventq *q)
{
	free(q->v);
	memset(q, 0, sizeof(*q));
}

static inline bool
before(const struct event *a, const struct event *b)
{
	return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

void
eventq_push(struct eventq *q, uint64_t time, uint32_t kind, uint32_t node, uint64_t arg, void *ptr)
{
	struct event e = {time, q->next_seq++, kind, node, arg, ptr};
	size_t i;

	if (q->n == q->cap) {
		q->cap = q->cap ? q->cap * 2 : 1024;
		q->v = xreallocarray(q->v, q->cap, sizeof(*q->v));
	}
	i = q->n++;
	while (i > 0) {
		size_t parent = (i - 1) / 4;
		if (!before(&e, &q->v[parent]))
			break;
		q->v[i] = q->v[parent];
		i = parent;
	}
	q->v[i] = e;
}

bool
eventq_pop(struct eventq *q, struct event *ret)
{
	struct event last;
	size_t i = 0;

	if (!q->n)
		return false;
	*ret = q->v[0];
	last = q->v[--q->n];
	for (;;) {
		size_t first = 4 * i + 1, best = first;
		if (first >= q->n)
			break;
		for (size_t c = first + 1; c < first + 4 && c < q->n; c++)
			if (before(&q->v[c], &q->v[best]))
				best = c;
		if (!before(&q->v[best], &last))
			break;
		q->v[i] = q->v[best];
		i = best;
	}
	if (q->n)
		q->v[i] = last;
	return true;
}
