/* SPDX-License-Identifier: MIT */
/* The seed's protocol without I/O: registrations as leases, peer lists, confirmed dead reports. */
#ifndef GOSSIP_CORE_SEED_H
#define GOSSIP_CORE_SEED_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "env.h"
#include "hostcount.h"
#include "ratelimit.h"
#include "evidence.h"
#include "registry.h"
#include "roster.h"
#include "util.h"

/* Probes of reported peers running at once; further reports wait their turn. */
#define SEED_MAX_PROBES 64
/* Reports waiting for a probe, at most; beyond that the lease decides. */
#define SEED_MAX_WAITING 4096
/* How often expired leases are swept. */
#define SEED_SWEEP_USEC (USEC_PER_SEC / 4)
/* How many addresses the "Current peers" part of a log line shows. */
#define SEED_LOG_PEERS_SHOWN 32
/*
 * The largest frame a client or a probed peer may send a seed: what it has
 * to say (REGISTER, DEAD_REPORT, an ERROR's text) is small, and a partial
 * frame it leaves is all the input memory it can hold.
 */
#define SEED_MAX_CLIENT_FRAME 4096
/* A sampled peer list (seed.peer_list_size) is drawn again at most this often. */
#define SEED_LIST_RESAMPLE_USEC USEC_PER_SEC
/* MEMBERS answers come from a snapshot of the registry at most this old (roster.h). */
#define SEED_ROSTER_MAX_AGE_USEC USEC_PER_SEC
/* Registration, removal and dead-report lines per RATELIMIT_WINDOW_USEC, at most. */
#define SEED_EVENT_LOG_BURST 1000

/* What a seed counts (for tests and the status line); never reset. */
struct seed_stats {
	uint64_t connections_refused;      /* seed.max_connections reached */
	uint64_t connections_refused_host; /* seed.max_connections_per_host reached */
	uint64_t registrations_refused_host; /* seed.max_peers_per_host reached */
	uint64_t claims_refused; /* frames claiming an address the sender's certificate does not list */
	uint64_t idle_closed;    /* clients silent for a whole lease */
	uint64_t slow_closed;    /* clients that did not read their answers */
	uint64_t peer_lists_sent;
	uint64_t peer_lists_encoded; /* the rest were the cached encoding */
	uint64_t removals_held;  /* silent probes that did not remove: too few reporters */
	uint64_t reports_withdrawn; /* reported peers that answered, or refreshed their lease */
	uint64_t members_pages_sent; /* MEMBERS frames (gossipctl members) */
	uint64_t members_refused;    /* MEMBERS_REQ over a link without a verified certificate */
};

/* What a client said in its HELLO (a peer: its address and incarnation); its link's owner. */
struct seed_client {
	struct node_addr addr;
	uint64_t incarnation;
};

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
	struct evidence evidence;    /* who reported whom (the evidence rule) */
	bool starting_probes;

	struct host_counts client_hosts; /* clients per source IP address */
	/* The last PEER_LIST encoded, for registry.version (and, sampled, until list_at + resample). */
	struct blob *list;
	uint64_t list_version, list_at;
	struct roster roster; /* the registry in address order, for MEMBERS */

	uint64_t sweep_at;
	uint64_t woken; /* the wake-up the environment was last asked for */
	struct seed_stats stats;
	/* Lines a remote can cause, each kind limited (ratelimit.h). */
	struct ratelimit events_log; /* registrations, removals, dead reports: the prototype's lines */
	struct ratelimit remote_log; /* refusals, malformed frames, errors reported by clients */
	struct ratelimit accept_log; /* connections refused at a limit */
	struct ratelimit claims_log;
};

void seed_node_init(struct seed_node *s, const struct gossip_config *cfg,
		    const struct node_addr *self, uint64_t seed, const struct env *env);
/* Starts sweeping expired leases. */
void seed_node_start(struct seed_node *s, struct instant t);
/* Ends every probe and connection through the environment and frees everything. */
void seed_node_free(struct seed_node *s);

/*
 * Connection inputs, as for the peer (peer.h). accept returns NULL to
 * refuse; remote is where the connection comes from.
 */
struct link *seed_node_accept(struct seed_node *s, void *io, const struct node_addr *remote,
			      struct instant t);
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
