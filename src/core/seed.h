/* SPDX-License-Identifier: MIT */
/* The seed's protocol without I/O: registrations as leases, peer lists, confirmed dead reports. */
#ifndef GOSSIP_CORE_SEED_H
#define GOSSIP_CORE_SEED_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "env.h"
#include "ratelimit.h"
#include "registry.h"
#include "util.h"

/* Probes of reported peers running at once; further reports wait their turn. */
#define SEED_MAX_PROBES 64
/* Reports waiting for a probe, at most; beyond that the lease decides. */
#define SEED_MAX_WAITING 4096
/* How often expired leases are swept. */
#define SEED_SWEEP_USEC (USEC_PER_SEC / 4)
/* How many addresses the "Current peers" part of a log line shows. */
#define SEED_LOG_PEERS_SHOWN 32

/* A dead-node report being checked: the seed connects to the target and pings it. */
struct seed_probe {
	struct node_addr target;
	struct node_addr reporter;
	uint64_t report_time; /* unix seconds from the report */
	struct link *link;
	uint64_t nonce;
	uint64_t deadline; /* monotonic: no PONG by then is death */
	struct seed_probe *prev, *next;
};

struct seed_node {
	struct env env;
	struct gossip_config cfg; /* the node's own copy */
	struct node_addr self;
	char self_str[NODE_ADDR_STRLEN];
	uint64_t incarnation;
	struct rng rng;
	uint64_t now; /* the monotonic time of the input being handled */

	struct registry registry;
	struct link *clients; /* connections from peers (and anyone) */
	unsigned n_clients;
	struct seed_probe *probes;
	unsigned n_probes;
	struct report_queue waiting; /* reports beyond SEED_MAX_PROBES, up to SEED_MAX_WAITING */
	bool starting_probes;

	uint64_t sweep_at;
	uint64_t woken; /* the wake-up the environment was last asked for */
	uint64_t refused_connections;
	uint64_t last_refusal_log;
	uint64_t claims_refused; /* frames claiming an address the sender's certificate does not list */
	struct ratelimit claims_log;
};

void seed_node_init(struct seed_node *s, const struct gossip_config *cfg,
		    const struct node_addr *self, uint64_t seed, const struct env *env);
/* Starts sweeping expired leases. */
void seed_node_start(struct seed_node *s, struct instant t);
/* Ends every probe and connection through the environment and frees everything. */
void seed_node_free(struct seed_node *s);

/* Connection inputs, as for the peer (peer.h). accept returns NULL to refuse. */
struct link *seed_node_accept(struct seed_node *s, void *io, const char *desc, struct instant t);
void seed_node_connected(struct seed_node *s, struct link *lk, struct instant t);
int seed_node_frame(struct seed_node *s, struct link *lk, const uint8_t *frame, size_t len,
		    struct instant t, const char **reason);
void seed_node_closed(struct seed_node *s, struct link *lk, const char *reason, int error,
		      struct instant t);
void seed_node_wakeup(struct seed_node *s, struct instant t);

/* Applies a reloaded configuration (limits and timers; a copy is taken). */
void seed_node_reconfigure(struct seed_node *s, const struct gossip_config *cfg);
#define SEED_RESTART_SETTINGS "log_dir", "address"

#endif
