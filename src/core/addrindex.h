/* SPDX-License-Identifier: MIT */
/* A hash index from node addresses to the caller's element numbers (sets, the seed's registry). */
#ifndef GOSSIP_CORE_ADDRINDEX_H
#define GOSSIP_CORE_ADDRINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/*
 * Open addressing with linear probing, at most half full, deletion by
 * backward shift. The elements live in the caller's array: the index keeps
 * their numbers and asks `key` for an element's address. Addresses come from
 * the network, so the hash is SipHash-2-4 keyed by the owner: whoever picks
 * the addresses cannot make them collide without the key.
 */
struct addr_index {
	uint32_t *slots; /* element + 1; 0 is empty */
	size_t mask;     /* slots - 1, or 0 before the first insert */
	size_t n;
	uint64_t key[2];
};

typedef const struct node_addr *(*addr_index_key_fn)(const void *ctx, uint32_t elem);

void addr_index_init(struct addr_index *t, uint64_t k0, uint64_t k1);
void addr_index_free(struct addr_index *t);
/* Empties the index, keeping its table. */
void addr_index_clear(struct addr_index *t);
/* The element with address a, or -1. */
int64_t addr_index_find(const struct addr_index *t, const struct node_addr *a,
			addr_index_key_fn key, const void *ctx);
/* Adds elem (address a, not present yet), growing the table when half full. */
void addr_index_insert(struct addr_index *t, const struct node_addr *a, uint32_t elem,
		       addr_index_key_fn key, const void *ctx);
/* Removes the element with address a, if any; returns it or -1. */
int64_t addr_index_remove(struct addr_index *t, const struct node_addr *a, addr_index_key_fn key,
			  const void *ctx);
/* The element with address a is now numbered elem (the caller moved it). */
void addr_index_renumber(struct addr_index *t, const struct node_addr *a, uint32_t elem,
			 addr_index_key_fn key, const void *ctx);

/* SipHash-2-4 of an address under the key k. */
uint64_t node_addr_hash(const struct node_addr *a, const uint64_t k[2]);

#endif
