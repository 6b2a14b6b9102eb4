/* SPDX-License-Identifier: MIT */
/* A seed's registrations as MEMBERS lists them (roster.h). */
#include <stdlib.h>
#include <string.h>

#include "roster.h"

static int
cmp_member(const void *a, const void *b)
{
	return node_addr_cmp(&((const struct wire_member *)a)->addr,
			     &((const struct wire_member *)b)->addr);
}

static uint32_t
to_u32(uint64_t v)
{
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* The index of the first entry after a (n when none). */
static size_t
first_after(const struct roster *r, const struct node_addr *a)
{
	size_t lo = 0, hi = r->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (node_addr_cmp(&r->v[mid].addr, a) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void
roster_build(struct roster *r, const struct registry *reg, const struct evidence *ev,
	     uint64_t now)
{
	size_t k = 0;

	if (r->cap < reg->n) {
		r->cap = reg->n;
		free(r->v);
		r->v = xcalloc(r->cap, sizeof(*r->v));
	}
	for (uint32_t s = reg->first; s; s = reg->v[s - 1].next) {
		const struct registry_entry *e = &reg->v[s - 1];
		r->v[k++] = (struct wire_member){
			.addr = e->addr,
			.state = WIRE_MEMBER_ALIVE,
			.incarnation = e->incarnation,
			.lease_age_ms = to_u32((now - e->refreshed_at) / USEC_PER_MSEC),
			.registered_s = to_u32((now - e->registered_at) / USEC_PER_SEC),
		};
	}
	r->n = k;
	if (r->n > 1) /* an empty registry has no array: qsort(NULL, 0) is undefined */
		qsort(r->v, r->n, sizeof(*r->v), cmp_member);
	/* The suspects are few (EVIDENCE_MAX_SUSPECTS at most): each found by bisection. */
	for (size_t i = 0; i < ev->n; i++) {
		size_t at = first_after(r, &ev->v[i].target);
		if (at > 0 && node_addr_equal(&r->v[at - 1].addr, &ev->v[i].target))
			r->v[at - 1].state = WIRE_MEMBER_SUSPECT;
	}
	r->built_at = now;
	r->builds++;
}

void
roster_page(const struct roster *r, const struct node_addr *after, struct buf *b)
{
	size_t from = after ? first_after(r, after) : 0, count = r->n - from;
	bool more = count > WIRE_MAX_MEMBERS;

	if (more)
		count = WIRE_MAX_MEMBERS;
	wire_encode_members(b, to_u32(r->n), more, count ? r->v + from : NULL, (uint16_t)count);
}

void
roster_free(struct roster *r)
{
	free(r->v);
	memset(r, 0, sizeof(*r));
}
