/* SPDX-License-Identifier: MIT */
/* Seen-message cache: which message ids were delivered, bounded in count and age. */
#include <stdlib.h>
#include <string.h>

#include "seen.h"
#include "util.h"

void
seen_cache_init(struct seen_cache *c, size_t capacity, uint64_t max_age_usec)
{
	size_t tsize = 16;

	memset(c, 0, sizeof(*c));
	if (capacity < 1)
		capacity = 1;
	/* Load factor at most 1/2 keeps linear probing short. */
	while (tsize < capacity * 2)
		tsize *= 2;
	c->ring = xcalloc(capacity, sizeof(*c->ring));
	c->table = xcalloc(tsize, sizeof(*c->table));
	c->capacity = capacity;
	c->table_mask = tsize - 1;
	c->max_age_usec = max_age_usec;
}

static void
release_frame(struct seen_cache *c, struct seen_entry *e)
{
	if (!e->frame)
		return;
	c->frame_bytes -= e->frame->len;
	blob_unref(e->frame);
	e->frame = NULL;
}

void
seen_cache_free(struct seen_cache *c)
{
	for (size_t i = 0; i < c->count; i++)
		release_frame(c, &c->ring[(c->head + i) % c->capacity]);
	free(c->ring);
	free(c->table);
	memset(c, 0, sizeof(*c));
}

/* Ids are SHA-256 output, so any 8 bytes are a good hash. */
static size_t
slot_of(const struct seen_cache *c, const uint8_t *id)
{
	uint64_t h;
	memcpy(&h, id, sizeof(h));
	return (size_t)h & c->table_mask;
}

void
seen_cache_prefetch(const struct seen_cache *c, const uint8_t id[WIRE_ID_LEN])
{
	__builtin_prefetch(&c->table[slot_of(c, id)]);
}

/* The table slot holding id, or the empty slot where it would go. */
static size_t
find_slot(const struct seen_cache *c, const uint8_t *id, bool *found)
{
	size_t i = slot_of(c, id);

	for (;;) {
		uint32_t v = c->table[i];
		if (v == 0) {
			*found = false;
			return i;
		}
		if (memcmp(c->ring[v - 1].id, id, WIRE_ID_LEN) == 0) {
			*found = true;
			return i;
		}
		i = (i + 1) & c->table_mask;
	}
}

bool
seen_cache_contains(const struct seen_cache *c, const uint8_t id[WIRE_ID_LEN])
{
	bool found;
	find_slot(c, id, &found);
	return found;
}

bool
seen_cache_tag(const struct seen_cache *c, const uint8_t id[WIRE_ID_LEN], uint32_t *ret_tag)
{
	bool found;
	size_t slot = find_slot(c, id, &found);

	if (found)
		*ret_tag = c->ring[c->table[slot] - 1].tag;
	return found;
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
static void
table_delete(struct seen_cache *c, size_t i)
{
	size_t j = i;

	c->table[i] = 0;
	for (;;) {
		size_t k;
		j = (j + 1) & c->table_mask;
		if (c->table[j] == 0)
			return;
		k = slot_of(c, c->ring[c->table[j] - 1].id);
		/* Move j back to i unless its home k lies cyclically in (i, j]. */
		if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
			c->table[i] = c->table[j];
			c->table[j] = 0;
			i = j;
		}
	}
}

static void
drop_oldest(struct seen_cache *c)
{
	bool found;
	size_t slot = find_slot(c, c->ring[c->head].id, &found);

	if (found)
		table_delete(c, slot);
	release_frame(c, &c->ring[c->head]);
	if (c->frame_skip)
		c->frame_skip--;
	c->head = (c->head + 1) % c->capacity;
	c->count--;
}

static void
enforce_budget(struct seen_cache *c)
{
	while (c->frame_bytes > c->frame_budget && c->frame_skip < c->count) {
		release_frame(c, &c->ring[(c->head + c->frame_skip) % c->capacity]);
		c->frame_skip++;
	}
}

void
seen_cache_set_tag(struct seen_cache *c, uint32_t tag)
{
	if (c->count)
		c->ring[(c->head + c->count - 1) % c->capacity].tag = tag;
}

uint64_t
seen_cache_horizon(const struct seen_cache *c, uint64_t now, uint64_t stamp_now)
{
	uint64_t age, inserted;

	if (!c->evicted_stamp || now < c->evicted_at)
		return 0;
	age = now - c->evicted_at;
	inserted = age < stamp_now ? stamp_now - age : 0;
	return c->evicted_stamp < inserted ? c->evicted_stamp : inserted;
}

const struct seen_entry *
seen_cache_at(const struct seen_cache *c, size_t i)
{
	return &c->ring[(c->head + i) % c->capacity];
}

void
seen_cache_set_stamp(struct seen_cache *c, uint64_t stamp)
{
	if (c->count)
		c->ring[(c->head + c->count - 1) % c->capacity].stamp = stamp;
}

void
seen_cache_keep_frame(struct seen_cache *c, struct blob *frame)
{
	struct seen_entry *e;

	if (!c->count || !frame)
		return;
	e = &c->ring[(c->head + c->count - 1) % c->capacity];
	release_frame(c, e);
	if (frame->len > c->frame_budget)
		return;
	e->frame = blob_ref(frame);
	c->frame_bytes += frame->len;
	if (c->frame_skip >= c->count)
		c->frame_skip = c->count - 1; /* the entries before it hold no frame */
	enforce_budget(c);
}

struct blob *
seen_cache_frame(const struct seen_cache *c, const uint8_t id[WIRE_ID_LEN])
{
	bool found;
	size_t slot = find_slot(c, id, &found);

	return found ? c->ring[c->table[slot] - 1].frame : NULL;
}

void
seen_cache_set_frame_budget(struct seen_cache *c, size_t bytes)
{
	c->frame_budget = bytes;
	enforce_budget(c);
}

size_t
seen_cache_expire(struct seen_cache *c, uint64_t now)
{
	size_t n = 0;

	while (c->count && now - c->ring[c->head].at > c->max_age_usec) {
		drop_oldest(c);
		n++;
	}
	c->expired += n;
	return n;
}

bool
seen_cache_insert(struct seen_cache *c, const uint8_t id[WIRE_ID_LEN], uint64_t now)
{
	bool found;
	size_t slot, pos;

	seen_cache_expire(c, now);
	slot = find_slot(c, id, &found);
	if (found)
		return false;
	if (c->count == c->capacity) {
		if (c->ring[c->head].stamp > c->evicted_stamp)
			c->evicted_stamp = c->ring[c->head].stamp;
		c->evicted_at = c->ring[c->head].at;
		drop_oldest(c);
		c->evicted++;
		/* The deletion shifted entries back: the free slot may have moved. */
		slot = find_slot(c, id, &found);
	}
	pos = (c->head + c->count) % c->capacity;
	memcpy(c->ring[pos].id, id, WIRE_ID_LEN);
	c->ring[pos].at = now;
	c->ring[pos].frame = NULL;
	c->ring[pos].tag = 0;
	c->ring[pos].stamp = 0;
	c->table[slot] = (uint32_t)pos + 1;
	c->count++;
	return true;
}
