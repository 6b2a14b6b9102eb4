/* SPDX-License-Identifier: MIT */
/* The seed's registry of live peers: registrations as leases, bounded in size. */
#ifndef GOSSIP_CORE_REGISTRY_H
#define GOSSIP_CORE_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addrindex.h"
#include "hostcount.h"
#include "ring.h"
#include "util.h"

struct registry_entry {
	struct node_addr addr;
	struct node_addr host;  /* the IP address it was registered from (port 0) */
	uint64_t registered_at; /* usec, monotonic */
	uint64_t expires_at;    /* lease end */
	uint32_t prev, next;    /* registration order (slot + 1; 0: none); next also chains free slots */
	bool used;
	uint64_t refreshed_at;  /* the last REGISTER (usec, monotonic) */
	uint64_t incarnation;   /* what the peer's HELLO said (0: it said none) */
};

/*
 * Entries live in slots of one array (a removed one's slot is reused), in
 * registration order through prev/next, and in a hash index keyed at
 * registry_init(): lookups, registrations and removals are O(1) whatever
 * addresses a registrant chooses.
 */
struct registry {
	struct registry_entry *v;
	size_t n, cap;
	size_t max;          /* registrations accepted at most */
	size_t max_per_host; /* of them from one IP address (0: no limit) */
	uint64_t version;    /* changes whenever the set of addresses does */
	uint32_t first, last, free_slots;
	uint32_t slots; /* slots handed out so far: v[0..slots) */
	struct addr_index index;
	struct host_counts hosts; /* registrations per registering IP address */
};

enum registry_result {
	REGISTRY_NEW,
	REGISTRY_REFRESHED,
	REGISTRY_FULL,
	REGISTRY_HOST_FULL, /* max_per_host registrations from that host already */
};

/* k0, k1: the hash key (random in the daemon). */
void registry_init(struct registry *r, size_t max, uint64_t k0, uint64_t k1);
void registry_free(struct registry *r);
/*
 * Registers addr, from the host (IP address) `from`, or refreshes its lease
 * until now + lease. A registration counts against the host it first came
 * from until it is removed.
 */
enum registry_result registry_register(struct registry *r, const struct node_addr *addr,
				       const struct node_addr *from, uint64_t now, uint64_t lease);
/* Registrations made from the IP address of a. */
uint32_t registry_host_count(const struct registry *r, const struct node_addr *a);
struct registry_entry *registry_find(struct registry *r, const struct node_addr *addr);
/* Returns true when addr was registered. */
bool registry_remove(struct registry *r, const struct node_addr *addr);
/*
 * Removes the first entry whose lease ended at or before now and copies its
 * address to *ret. Returns false when none has expired.
 */
bool registry_pop_expired(struct registry *r, uint64_t now, struct node_addr *ret);
/* Copies up to max addresses into out (all when max >= n). Returns the count. */
size_t registry_list(const struct registry *r, struct node_addr *out, size_t max);
/*
 * Up to max distinct registered addresses chosen at random (all of them, in
 * registration order, when there are no more than max), in O(max) expected
 * time however large the registry. Returns the count.
 */
size_t registry_sample(const struct registry *r, struct rng *rng, struct node_addr *out, size_t max);
/* "{a, b, c}" with at most limit entries then ", ... (N in all)"; malloc'd. */
char *registry_format(const struct registry *r, size_t limit);

/* A dead-node report about target, from reporter. */
struct report {
	struct node_addr target;
	struct node_addr reporter;
	uint64_t report_time; /* unix seconds, from the report */
};

/* Reports waiting for a probe: first in, first out, one per target, at most cap. */
struct report_queue {
	struct ring r; /* of struct report */
	size_t cap;
};

void report_queue_init(struct report_queue *q, size_t cap);
void report_queue_free(struct report_queue *q);
/* Appends r: 0, -EEXIST when a report about its target waits already, -ENOSPC when full. */
int report_queue_push(struct report_queue *q, const struct report *r);
/* Takes the oldest report into *r; false when none waits. */
bool report_queue_pop(struct report_queue *q, struct report *r);

#endif
