/* SPDX-License-Identifier: MIT */
/* Counts per remote host (IP address): the per-source limits on connections and registrations. */
#ifndef GOSSIP_CORE_HOSTCOUNT_H
#define GOSSIP_CORE_HOSTCOUNT_H

#include <stddef.h>
#include <stdint.h>

#include "membership.h"
#include "util.h"

/*
 * A count per host: an IPv4 address, or an IPv6 /64 (the port, and the
 * interface part of an IPv6 address, are ignored), kept only while above
 * zero: memory follows the hosts present, and lookups are O(1) through the
 * keyed hash of an addr_set whatever addresses the remotes have. count[i]
 * is the count of hosts.v[i].
 */
struct host_counts {
	struct addr_set hosts;
	uint32_t *count;
	size_t cap;
};

void host_counts_init(struct host_counts *h, uint64_t k0, uint64_t k1);
void host_counts_free(struct host_counts *h);
/* The count of a's host (0 when none). */
uint32_t host_counts_get(const struct host_counts *h, const struct node_addr *a);
/* Adds one to a's host; returns the new count. */
uint32_t host_counts_add(struct host_counts *h, const struct node_addr *a);
/* Takes one from a's host (none when it is at 0). */
void host_counts_sub(struct host_counts *h, const struct node_addr *a);

#endif
