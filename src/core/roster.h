/* SPDX-License-Identifier: MIT */
/* A seed's registrations as MEMBERS lists them: a snapshot in address order, paged. */
#ifndef GOSSIP_CORE_ROSTER_H
#define GOSSIP_CORE_ROSTER_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "evidence.h"
#include "registry.h"
#include "wire.h"

/*
 * A seed answers MEMBERS_REQ from a snapshot of its registry, sorted by
 * address, built at most once per SEED_ROSTER_MAX_AGE_USEC (seed.h): a flood
 * of requests costs one sort a second and a page of copying each, whatever
 * the registry's size. Paging is by address, so a walk through the pages
 * lists every registration that lasts through it exactly once, even when
 * the snapshot is rebuilt between two pages.
 */
struct roster {
	struct wire_member *v;
	size_t n, cap;
	uint64_t built_at; /* monotonic usec; 0: never */
	uint64_t builds;   /* how many times it was built (for tests and stats) */
};

/* Takes a new snapshot of reg at now: ages from now, SUSPECT for those ev has reports about. */
void roster_build(struct roster *r, const struct registry *reg, const struct evidence *ev,
		  uint64_t now);
/* Appends the MEMBERS page after `after` (NULL: the first) to b. */
void roster_page(const struct roster *r, const struct node_addr *after, struct buf *b);
void roster_free(struct roster *r);

#endif
