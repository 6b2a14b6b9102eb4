/* SPDX-License-Identifier: MIT */
/* A seed's evidence against registered peers: who reported each dead, and since when. */
#ifndef GOSSIP_CORE_EVIDENCE_H
#define GOSSIP_CORE_EVIDENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/*
 * A seed removes a reported peer whose probe went unanswered only when
 * seed.dead_reporters different peers reported it (gossip(7), "The seed's
 * evidence rule"). This table keeps, for each peer reported and not yet
 * removed or cleared, the distinct reporters (up to EVIDENCE_MAX_REPORTERS)
 * and the time of the first report. It holds EVIDENCE_MAX_SUSPECTS peers at
 * most: a report about one more replaces the oldest entry, whose peer's
 * lease then decides.
 */
#define EVIDENCE_MAX_SUSPECTS 1024
#define EVIDENCE_MAX_REPORTERS 16

struct suspect {
	struct node_addr target;
	struct node_addr reporters[EVIDENCE_MAX_REPORTERS];
	uint32_t n;
	uint64_t first_at; /* monotonic */
};

struct evidence {
	struct suspect *v; /* EVIDENCE_MAX_SUSPECTS slots once used */
	size_t n;
	uint64_t replaced; /* entries replaced when the table was full */
};

/* Records that reporter reported target; returns target's distinct reporters so far. */
uint32_t evidence_add(struct evidence *e, const struct node_addr *target,
		      const struct node_addr *reporter, uint64_t now);
uint32_t evidence_count(const struct evidence *e, const struct node_addr *target);
/* The first reporter of target, for log lines; false when there is none. */
bool evidence_first(const struct evidence *e, const struct node_addr *target,
		    struct node_addr *ret);
/* Forgets target (it answered, refreshed its lease, left or was removed). */
void evidence_clear(struct evidence *e, const struct node_addr *target);
/* Forgets reports older than max_age. */
void evidence_expire(struct evidence *e, uint64_t now, uint64_t max_age);
void evidence_free(struct evidence *e);

#endif
