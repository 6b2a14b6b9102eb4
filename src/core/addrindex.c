/* SPDX-License-Identifier: MIT */
/* A hash index from node addresses to the caller's element numbers (sets, the seed's registry). */
#include <stdlib.h>
#include <string.h>

#include "addrindex.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = ROTL(v1, 13);                                                                 \
		v1 ^= v0;                                                                          \
		v0 = ROTL(v0, 32);                                                                 \
		v2 += v3;                                                                          \
		v3 = ROTL(v3, 16);                                                                 \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = ROTL(v3, 21);                                                                 \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = ROTL(v1, 17);                                                                 \
		v1 ^= v2;                                                                          \
		v2 = ROTL(v2, 32);                                                                 \
	} while (0)

static uint64_t
load64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* SipHash-2-4 over the 24 bytes: family, port, then the 16 address bytes (two words). */
uint64_t
node_addr_hash(const struct node_addr *a, const uint64_t k[2])
{
	uint64_t v0 = 0x736f6d6570736575ULL ^ k[0], v1 = 0x646f72616e646f6dULL ^ k[1];
	uint64_t v2 = 0x6c7967656e657261ULL ^ k[0], v3 = 0x7465646279746573ULL ^ k[1];
	uint64_t m[3] = {(uint64_t)a->family | ((uint64_t)a->port << 8), load64(a->addr),
			 load64(a->addr + 8)};
	uint64_t b = (uint64_t)24 << 56;

	for (int i = 0; i < 3; i++) {
		v3 ^= m[i];
		SIPROUND;
		SIPROUND;
		v0 ^= m[i];
	}
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

void
addr_index_init(struct addr_index *t, uint64_t k0, uint64_t k1)
{
	memset(t, 0, sizeof(*t));
	t->key[0] = k0;
	t->key[1] = k1;
}

void
addr_index_free(struct addr_index *t)
{
	free(t->slots);
	t->slots = NULL;
	t->mask = 0;
	t->n = 0;
}

void
addr_index_clear(struct addr_index *t)
{
	if (t->slots)
		memset(t->slots, 0, (t->mask + 1) * sizeof(*t->slots));
	t->n = 0;
}

static size_t
home(const struct addr_index *t, const struct node_addr *a)
{
	return (size_t)node_addr_hash(a, t->key) & t->mask;
}

/* The slot holding a, or the empty slot where it would go. */
static size_t
slot_of(const struct addr_index *t, const struct node_addr *a, addr_index_key_fn key,
	const void *ctx, bool *found)
{
	size_t i = home(t, a);

	for (;; i = (i + 1) & t->mask) {
		uint32_t v = t->slots[i];
		if (!v || node_addr_equal(key(ctx, v - 1), a)) {
			*found = v != 0;
			return i;
		}
	}
}

int64_t
addr_index_find(const struct addr_index *t, const struct node_addr *a, addr_index_key_fn key,
		const void *ctx)
{
	bool found;
	size_t i;

	if (!t->n)
		return -1;
	i = slot_of(t, a, key, ctx, &found);
	return found ? (int64_t)t->slots[i] - 1 : -1;
}

static void
grow(struct addr_index *t, addr_index_key_fn key, const void *ctx)
{
	size_t size = t->slots ? 2 * (t->mask + 1) : 16;
	uint32_t *old = t->slots;
	size_t old_size = t->slots ? t->mask + 1 : 0;

	t->slots = xcalloc(size, sizeof(*t->slots));
	t->mask = size - 1;
	for (size_t i = 0; i < old_size; i++) {
		size_t j;
		if (!old[i])
			continue;
		for (j = home(t, key(ctx, old[i] - 1)); t->slots[j]; j = (j + 1) & t->mask)
			;
		t->slots[j] = old[i];
	}
	free(old);
}

void
addr_index_insert(struct addr_index *t, const struct node_addr *a, uint32_t elem,
		  addr_index_key_fn key, const void *ctx)
{
	bool found;
	size_t i;

	if (!t->slots || 2 * (t->n + 1) > t->mask + 1)
		grow(t, key, ctx);
	i = slot_of(t, a, key, ctx, &found);
	if (!found)
		t->n++;
	t->slots[i] = elem + 1;
}

int64_t
addr_index_remove(struct addr_index *t, const struct node_addr *a, addr_index_key_fn key,
		  const void *ctx)
{
	bool found;
	size_t i, j;
	int64_t elem;

	if (!t->n)
		return -1;
	i = slot_of(t, a, key, ctx, &found);
	if (!found)
		return -1;
	elem = (int64_t)t->slots[i] - 1;
	t->slots[i] = 0;
	t->n--;
	/* Backward shift: move later entries of the probe run back into the hole. */
	for (j = (i + 1) & t->mask; t->slots[j]; j = (j + 1) & t->mask) {
		size_t k = home(t, key(ctx, t->slots[j] - 1));
		bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
		if (stays)
			continue;
		t->slots[i] = t->slots[j];
		t->slots[j] = 0;
		i = j;
	}
	return elem;
}

void
addr_index_renumber(struct addr_index *t, const struct node_addr *a, uint32_t elem,
		    addr_index_key_fn key, const void *ctx)
{
	bool found;
	size_t i = slot_of(t, a, key, ctx, &found);

	if (found)
		t->slots[i] = elem + 1;
}
