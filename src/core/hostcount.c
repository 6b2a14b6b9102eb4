/* SPDX-License-Identifier: MIT */
/* Counts per remote host (IP address): the per-source limits on connections and registrations. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "hostcount.h"

/*
 * The host an address counts for: its IPv4 address, or its IPv6 /64 (a
 * single host is commonly given a whole /64, and could otherwise count as
 * 2^64 hosts).
 */
static struct node_addr
host_of(const struct node_addr *a)
{
	struct node_addr ip = *a;

	ip.port = 0;
	if (ip.family == AF_INET6)
		memset(ip.addr + 8, 0, 8);
	return ip;
}

void
host_counts_init(struct host_counts *h, uint64_t k0, uint64_t k1)
{
	memset(h, 0, sizeof(*h));
	addr_set_init(&h->hosts, k0, k1);
}

void
host_counts_free(struct host_counts *h)
{
	addr_set_free(&h->hosts);
	free(h->count);
	h->count = NULL;
	h->cap = 0;
}

uint32_t
host_counts_get(const struct host_counts *h, const struct node_addr *a)
{
	struct node_addr ip = host_of(a);
	int64_t i = addr_set_find(&h->hosts, &ip);

	return i < 0 ? 0 : h->count[i];
}

uint32_t
host_counts_add(struct host_counts *h, const struct node_addr *a)
{
	struct node_addr ip = host_of(a);
	int64_t i = addr_set_find(&h->hosts, &ip);

	if (i >= 0)
		return ++h->count[i];
	addr_set_add(&h->hosts, &ip); /* appended: at hosts.n - 1 */
	if (h->hosts.n > h->cap) {
		h->cap = h->cap ? 2 * h->cap : 16;
		h->count = xreallocarray(h->count, h->cap, sizeof(*h->count));
	}
	h->count[h->hosts.n - 1] = 1;
	return 1;
}

void
host_counts_sub(struct host_counts *h, const struct node_addr *a)
{
	struct node_addr ip = host_of(a);
	int64_t i = addr_set_find(&h->hosts, &ip);
	size_t last = h->hosts.n - 1;

	if (i < 0 || --h->count[i])
		return;
	/* At zero the host goes; the set moves its last element into the gap, and so do we. */
	addr_set_remove(&h->hosts, &ip);
	h->count[i] = h->count[last];
}
