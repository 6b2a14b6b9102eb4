/* SPDX-License-Identifier: MIT */
/* The simulator's event queue: a 4-ary min-heap ordered by (time, sequence number). */
#ifndef GOSSIP_SIM_EVENTQ_H
#define GOSSIP_SIM_EVENTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Events due at the same virtual time run in the order they were queued
 * (seq), so a run depends on nothing but its inputs and its random seed.
 */
struct event {
	uint64_t time;
	uint64_t seq;
	uint32_t kind;
	uint32_t node;
	uint64_t arg;
	void *ptr;
};

struct eventq {
	struct event *v;
	size_t n, cap;
	uint64_t next_seq;
};

void eventq_init(struct eventq *q);
void eventq_free(struct eventq *q);
void eventq_push(struct eventq *q, uint64_t time, uint32_t kind, uint32_t node, uint64_t arg,
		 void *ptr);
/* Takes the earliest event into *ret; false when none is left. */
bool eventq_pop(struct eventq *q, struct event *ret);
static inline bool
eventq_empty(const struct eventq *q)
{
	return q->n == 0;
}

#endif
