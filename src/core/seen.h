/* SPDX-License-Identifier: MIT */
/* Seen-message cache: which message ids were delivered, bounded in count and age. */
#ifndef GOSSIP_SEEN_H
#define GOSSIP_SEEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "wire.h"

/*
 * Ids live in a ring in insertion order (so the oldest is always next to
 * go) and in an open-addressing hash table of ring positions. At capacity
 * the oldest id is evicted; ids older than max_age are expired on insert
 * and by seen_cache_expire(). Every operation is O(1) amortised and the
 * cache never allocates after seen_cache_init().
 *
 * An entry may also hold the message's frame, so the message can be sent
 * again on request (GRAFT). Frames are bounded in total bytes: over the
 * budget, the oldest entries let go of theirs (the ids stay).
 */
struct seen_entry {
	uint8_t id[WIRE_ID_LEN];
	uint64_t at; /* insertion time, usec */
	struct blob *frame; /* NULL when not kept */
	uint32_t tag;       /* the caller's, 0 unless set */
	uint64_t stamp;     /* the caller's (a message's origin timestamp), 0 unless set */
};

struct seen_cache {
	struct seen_entry *ring;
	uint32_t *table; /* ring index + 1; 0 = empty slot */
	size_t capacity;
	size_t table_mask;
	size_t head; /* oldest entry */
	size_t count;
	uint64_t max_age_usec;
	uint64_t evicted; /* dropped at capacity before reaching max_age */
	uint64_t evicted_stamp; /* the largest stamp of those, 0 = none yet */
	uint64_t evicted_at;    /* the insertion time of the newest of those */
	uint64_t expired; /* dropped for age */
	size_t frame_bytes;  /* held by entries' frames */
	size_t frame_budget; /* at most */
	size_t frame_skip;   /* the oldest entries whose frames were released for the budget */
};

void seen_cache_init(struct seen_cache *c, size_t capacity, uint64_t max_age_usec);
void seen_cache_free(struct seen_cache *c);
bool seen_cache_contains(const struct seen_cache *c, const uint8_t id[WIRE_ID_LEN]);
/* A hint that id is about to be looked up: its table slot is fetched into the CPU cache. */
void seen_cache_prefetch(const struct seen_cache *c, const uint8_t id[WIRE_ID_LEN]);
/* Whether id is present; if so, *ret_tag is its tag. */
bool seen_cache_tag(const struct seen_cache *c, const uint8_t id[WIRE_ID_LEN], uint32_t *ret_tag);
/* Inserts id at time now. Returns false when it was already present. */
bool seen_cache_insert(struct seen_cache *c, const uint8_t id[WIRE_ID_LEN], uint64_t now);
/*
 * The cache's memory: an id stamped at most the returned time may have been
 * evicted at capacity, and a miss for it proves nothing; one stamped later
 * was not. 0 while no stamped id was evicted. Stamps are times on another
 * clock than insertion times: `now` is on the insertion clock, `stamp_now`
 * the same moment on the stamps' clock. The horizon is the largest evicted
 * stamp, but never later than when the newest evicted id was inserted, so
 * one stamp far ahead (a sender's clock running fast) cannot make every
 * later id look forgotten.
 */
uint64_t seen_cache_horizon(const struct seen_cache *c, uint64_t now, uint64_t stamp_now);
/* Drops entries older than max_age. Returns how many. */
size_t seen_cache_expire(struct seen_cache *c, uint64_t now);
/* The i-th oldest entry, i < c->count. */
const struct seen_entry *seen_cache_at(const struct seen_cache *c, size_t i);
/* Tags the newest entry (the id just inserted). */
void seen_cache_set_tag(struct seen_cache *c, uint32_t tag);
/* Stamps the newest entry (the id just inserted); see seen_cache_horizon(). */
void seen_cache_set_stamp(struct seen_cache *c, uint64_t stamp);
/* Keeps a reference to frame in the newest entry (the id just inserted). */
void seen_cache_keep_frame(struct seen_cache *c, struct blob *frame);
/* The frame kept with id, or NULL. */
struct blob *seen_cache_frame(const struct seen_cache *c, const uint8_t id[WIRE_ID_LEN]);
/* Bounds the bytes of kept frames (0 keeps none), releasing the oldest at once if over. */
void seen_cache_set_frame_budget(struct seen_cache *c, size_t bytes);

#endif
