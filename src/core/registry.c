/* SPDX-License-Identifier: MIT */
/* The seed's registry of live peers: registrations as leases, bounded in size. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "registry.h"

static const struct node_addr *
entry_key(const void *ctx, uint32_t slot)
{
	return &((const struct registry *)ctx)->v[slot].addr;
}

static const struct node_addr *
sample_key(const void *ctx, uint32_t i)
{
	return &((const struct node_addr *)ctx)[i];
}

void
registry_init(struct registry *r, size_t max, uint64_t k0, uint64_t k1)
{
	memset(r, 0, sizeof(*r));
	r->max = max;
	addr_index_init(&r->index, k0, k1);
	/* A key of its own, derived: the two indexes' collisions are unrelated. */
	host_counts_init(&r->hosts, k0 ^ 0x686f737473ULL, k1 + 0x9e3779b97f4a7c15ULL);
}

void
registry_free(struct registry *r)
{
	free(r->v);
	addr_index_free(&r->index);
	host_counts_free(&r->hosts);
	memset(r, 0, sizeof(*r));
}

struct registry_entry *
registry_find(struct registry *r, const struct node_addr *addr)
{
	int64_t slot = addr_index_find(&r->index, addr, entry_key, r);

	return slot < 0 ? NULL : &r->v[slot];
}

/* A free slot: a reused one, or a new one at the end (the array grows). */
static uint32_t
take_slot(struct registry *r)
{
	uint32_t slot;

	if (r->free_slots) {
		slot = r->free_slots - 1;
		r->free_slots = r->v[slot].next;
		return slot;
	}
	if (r->slots == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->v = xreallocarray(r->v, r->cap, sizeof(*r->v));
	}
	return r->slots++;
}

enum registry_result
registry_register(struct registry *r, const struct node_addr *addr, const struct node_addr *from,
		  uint64_t now, uint64_t lease)
{
	struct registry_entry *e = registry_find(r, addr);
	struct node_addr host = *from;
	uint32_t slot;

	if (e) {
		e->expires_at = now + lease;
		e->refreshed_at = now;
		return REGISTRY_REFRESHED;
	}
	if (r->n >= r->max)
		return REGISTRY_FULL;
	if (r->max_per_host && host_counts_get(&r->hosts, from) >= r->max_per_host)
		return REGISTRY_HOST_FULL;
	host.port = 0;
	host_counts_add(&r->hosts, &host);
	slot = take_slot(r);
	r->v[slot] = (struct registry_entry){*addr, host, now, now + lease, r->last, 0, true, now, 0};
	if (r->last)
		r->v[r->last - 1].next = slot + 1;
	else
		r->first = slot + 1;
	r->last = slot + 1;
	r->n++;
	r->version++;
	addr_index_insert(&r->index, addr, slot, entry_key, r);
	return REGISTRY_NEW;
}

uint32_t
registry_host_count(const struct registry *r, const struct node_addr *a)
{
	return host_counts_get(&r->hosts, a);
}

/*
 * Once fewer than a quarter of the slots are used, the entries move to the
 * front of a smaller array, in order: sampling stays fast, and memory
 * follows the registry down.
 */
static void
compact(struct registry *r)
{
	struct registry_entry *nv;
	size_t ncap = 16;
	uint32_t k = 0;

	if (r->slots <= 64 || r->n >= r->slots / 4)
		return;
	while (ncap < 2 * r->n)
		ncap *= 2;
	nv = xcalloc(ncap, sizeof(*nv));
	for (uint32_t s = r->first; s; s = r->v[s - 1].next, k++) {
		nv[k] = r->v[s - 1];
		nv[k].prev = k;
		nv[k].next = k + 1 < r->n ? k + 2 : 0;
	}
	free(r->v);
	r->v = nv;
	r->cap = ncap;
	r->slots = k;
	r->first = k ? 1 : 0;
	r->last = k;
	r->free_slots = 0;
	addr_index_clear(&r->index);
	for (uint32_t i = 0; i < k; i++)
		addr_index_insert(&r->index, &r->v[i].addr, i, entry_key, r);
}

static void
remove_slot(struct registry *r, uint32_t slot)
{
	struct registry_entry *e = &r->v[slot];

	addr_index_remove(&r->index, &e->addr, entry_key, r);
	host_counts_sub(&r->hosts, &e->host);
	r->version++;
	if (e->prev)
		r->v[e->prev - 1].next = e->next;
	else
		r->first = e->next;
	if (e->next)
		r->v[e->next - 1].prev = e->prev;
	else
		r->last = e->prev;
	e->next = r->free_slots;
	e->used = false;
	r->free_slots = slot + 1;
	r->n--;
	compact(r);
}

bool
registry_remove(struct registry *r, const struct node_addr *addr)
{
	int64_t slot = addr_index_find(&r->index, addr, entry_key, r);

	if (slot < 0)
		return false;
	remove_slot(r, (uint32_t)slot);
	return true;
}

bool
registry_pop_expired(struct registry *r, uint64_t now, struct node_addr *ret)
{
	for (uint32_t s = r->first; s; s = r->v[s - 1].next) {
		if (r->v[s - 1].expires_at <= now) {
			*ret = r->v[s - 1].addr;
			remove_slot(r, s - 1);
			return true;
		}
	}
	return false;
}

size_t
registry_list(const struct registry *r, struct node_addr *out, size_t max)
{
	size_t n = 0;

	for (uint32_t s = r->first; s && n < max; s = r->v[s - 1].next)
		out[n++] = r->v[s - 1].addr;
	return n;
}

/* Reservoir sampling of max of the entries, in one pass. */
static size_t
reservoir(const struct registry *r, struct rng *rng, struct node_addr *out, size_t max)
{
	size_t seen = 0;

	for (uint32_t k = r->first; k; k = r->v[k - 1].next, seen++) {
		if (seen < max)
			out[seen] = r->v[k - 1].addr;
		else {
			uint64_t j = rng_below(rng, seen + 1);
			if (j < max)
				out[j] = r->v[k - 1].addr;
		}
	}
	return seen < max ? seen : max;
}

size_t
registry_sample(const struct registry *r, struct rng *rng, struct node_addr *out, size_t max)
{
	struct addr_index picked;
	size_t n = 0;

	if (r->n <= max)
		return registry_list(r, out, max);
	if (r->n < 2 * max)
		return reservoir(r, rng, out, max);
	/*
	 * Random slots, free ones and repeats drawn again: at least a quarter of
	 * the slots are used (compact()) and at most half the entries are
	 * wanted, so a draw succeeds with probability 1/8 or more.
	 */
	addr_index_init(&picked, rng_next(rng), 0);
	while (n < max) {
		const struct registry_entry *e = &r->v[rng_below(rng, r->slots)];
		if (!e->used || addr_index_find(&picked, &e->addr, sample_key, out) >= 0)
			continue;
		out[n] = e->addr;
		addr_index_insert(&picked, &e->addr, (uint32_t)n, sample_key, out);
		n++;
	}
	addr_index_free(&picked);
	return n;
}

char *
registry_format(const struct registry *r, size_t limit)
{
	struct buf b = {0};
	char s[NODE_ADDR_STRLEN], tail[64];
	size_t i = 0;

	buf_append(&b, "{", 1);
	for (uint32_t k = r->first; k && i < limit; k = r->v[k - 1].next, i++) {
		if (i)
			buf_append(&b, ", ", 2);
		node_addr_str(&r->v[k - 1].addr, s);
		buf_append(&b, s, strlen(s));
	}
	if (r->n > limit) {
		snprintf(tail, sizeof(tail), ", ... (%zu in all)", r->n);
		buf_append(&b, tail, strlen(tail));
	}
	buf_append(&b, "}", 2); /* with the NUL */
	return (char *)b.data;
}

void
report_queue_init(struct report_queue *q, size_t cap)
{
	ring_init(&q->r, sizeof(struct report));
	q->cap = cap;
}

void
report_queue_free(struct report_queue *q)
{
	ring_release(&q->r);
}

int
report_queue_push(struct report_queue *q, const struct report *r)
{
	struct report *slot;

	for (size_t i = 0; i < q->r.n; i++)
		if (node_addr_equal(&((struct report *)ring_at(&q->r, i))->target, &r->target))
			return -EEXIST;
	if (!(slot = ring_push(&q->r, q->cap)))
		return -ENOSPC;
	*slot = *r;
	return 0;
}

bool
report_queue_pop(struct report_queue *q, struct report *r)
{
	struct report *front = ring_front(&q->r);

	if (!front)
		return false;
	*r = *front;
	ring_pop(&q->r);
	return true;
}
