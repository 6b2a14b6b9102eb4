/* SPDX-License-Identifier: MIT */
/* gossipctl members: the network's membership as the seeds see it, asked of every seed and merged. */
#ifndef GOSSIP_CORE_MEMBERS_H
#define GOSSIP_CORE_MEMBERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "env.h"
#include "util.h"
#include "wire.h"

/* A seed that has not answered in full within this time is reported as failed. */
#define MEMBERS_TIMEOUT_USEC (3 * USEC_PER_SEC)
/* A query asked again within this time of the last one's end gets that one's answer. */
#define MEMBERS_REUSE_USEC USEC_PER_SEC
/* Registrations taken from one seed, at most: the largest seed.max_peers. */
#define MEMBERS_MAX_PER_SEED 50000
/* The send queue of a query's connection: its requests are small. */
#define MEMBERS_QUEUE_LIMIT (64 * 1024)

enum members_seed_state {
	MEMBERS_ASKING,
	MEMBERS_ANSWERED,
	MEMBERS_FAILED,
};

/* One seed of the peer's seed list, asked over a connection of the query's own. */
struct members_seed {
	struct node_addr addr;
	char addr_str[NODE_ADDR_STRLEN];
	struct link *link;
	enum members_seed_state state;
	char why[160];         /* FAILED: what went wrong */
	struct wire_member *v; /* its registrations, in increasing address order */
	size_t n, cap;
};

/* One registration, merged across the seeds that hold it. */
struct member {
	struct node_addr addr;
	uint32_t seeds;        /* how many seeds hold it */
	size_t held;           /* those seeds' indices: held_by[held .. held + seeds) */
	uint8_t state;         /* WIRE_MEMBER_SUSPECT when any of them suspects it */
	uint64_t incarnation;  /* of its freshest registration (0: not known) */
	uint32_t lease_age_ms; /* of its freshest registration */
	uint32_t registered_s; /* of its oldest */
};

struct members_query {
	bool running;
	uint64_t started_at, done_at; /* monotonic */
	struct members_seed *seeds;
	uint32_t n_seeds, answered;
	struct member *v; /* the merged view, in increasing address order */
	size_t n;
	uint32_t *held_by;
};

struct peer_node;

/*
 * Asks every seed of the peer's list for its registrations (MEMBERS_REQ),
 * unless a query runs already. Returns 1 when an answer is ready now (the
 * last one, when it ended less than MEMBERS_REUSE_USEC ago), 0 when it will
 * be: the core then gives NOTICE_MEMBERS.
 */
int peer_node_members(struct peer_node *n, struct instant t);
/* The last query's answer (valid until the next query starts), or NULL. */
const struct members_query *peer_node_members_result(const struct peer_node *n);

#endif
