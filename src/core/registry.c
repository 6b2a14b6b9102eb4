/* SPDX-License-Identifier: MIT */
/* The seed's registry of live peers: registrations as leases, bounded in size. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "registry.h"

void
registry_init(struct registry *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max;
}

void
registry_free(struct registry *r)
{
	free(r->v);
	memset(r, 0, sizeof(*r));
}

struct registry_entry *
registry_find(struct registry *r, const struct node_addr *addr)
{
	for (size_t i = 0; i < r->n; i++)
		if (node_addr_equal(&r->v[i].addr, addr))
			return &r->v[i];
	return NULL;
}

enum registry_result
registry_register(struct registry *r, const struct node_addr *addr, uint64_t now, uint64_t lease)
{
	struct registry_entry *e = registry_find(r, addr);

	if (e) {
		e->expires_at = now + lease;
		return REGISTRY_REFRESHED;
	}
	if (r->n >= r->max)
		return REGISTRY_FULL;
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->v = xreallocarray(r->v, r->cap, sizeof(*r->v));
	}
	r->v[r->n++] = (struct registry_entry){*addr, now, now + lease};
	return REGISTRY_NEW;
}

static void
remove_at(struct registry *r, size_t i)
{
	/* Keep registration order: the log's "Current peers" reads naturally. */
	memmove(&r->v[i], &r->v[i + 1], (r->n - i - 1) * sizeof(*r->v));
	r->n--;
}

bool
registry_remove(struct registry *r, const struct node_addr *addr)
{
	struct registry_entry *e = registry_find(r, addr);
	if (!e)
		return false;
	remove_at(r, (size_t)(e - r->v));
	return true;
}

bool
registry_pop_expired(struct registry *r, uint64_t now, struct node_addr *ret)
{
	for (size_t i = 0; i < r->n; i++) {
		if (r->v[i].expires_at <= now) {
			*ret = r->v[i].addr;
			remove_at(r, i);
			return true;
		}
	}
	return false;
}

size_t
registry_list(const struct registry *r, struct node_addr *out, size_t max)
{
	size_t n = r->n < max ? r->n : max;
	for (size_t i = 0; i < n; i++)
		out[i] = r->v[i].addr;
	return n;
}

char *
registry_format(const struct registry *r, size_t limit)
{
	struct buf b = {0};
	char s[NODE_ADDR_STRLEN], tail[64];

	buf_append(&b, "{", 1);
	for (size_t i = 0; i < r->n && i < limit; i++) {
		if (i)
			buf_append(&b, ", ", 2);
		node_addr_str(&r->v[i].addr, s);
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
	memset(q, 0, sizeof(*q));
	q->cap = cap;
}

void
report_queue_free(struct report_queue *q)
{
	free(q->v);
	report_queue_init(q, q->cap);
}

int
report_queue_push(struct report_queue *q, const struct report *r)
{
	for (size_t i = 0; i < q->n; i++)
		if (node_addr_equal(&q->v[(q->head + i) % q->cap].target, &r->target))
			return -EEXIST;
	if (q->n == q->cap)
		return -ENOSPC;
	if (!q->v)
		q->v = xcalloc(q->cap, sizeof(*q->v));
	q->v[(q->head + q->n) % q->cap] = *r;
	q->n++;
	return 0;
}

bool
report_queue_pop(struct report_queue *q, struct report *r)
{
	if (!q->n)
		return false;
	*r = q->v[q->head];
	q->head = (q->head + 1) % q->cap;
	q->n--;
	return true;
}
