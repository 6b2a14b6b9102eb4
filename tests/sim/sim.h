/* SPDX-License-Identifier: MIT */
/* The deterministic network simulator: seeds and peers of src/core on a virtual clock and network. */
#ifndef GOSSIP_SIM_SIM_H
#define GOSSIP_SIM_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/peer.h"
#include "core/ring.h"
#include "core/seed.h"
#include "eventq.h"

#define SIM_MS 1000ULL
#define SIM_S 1000000ULL
/* Virtual time starts here, not at 0 (a core's deadline of 0 means "none"). */
#define SIM_EPOCH_MONO (1 * SIM_S)
/* The wall clock the nodes see at SIM_EPOCH_MONO: 2026-01-01 00:00:00 UTC. */
#define SIM_EPOCH_REAL 1767225600000000ULL
/* TCP's least retransmission timeout (Linux): a lost frame arrives at least this late. */
#define SIM_RTO_MIN_USEC (200 * SIM_MS)

/* How frames cross the virtual network; a scenario changes them during a run. */
struct net_params {
	uint64_t latency_usec; /* one way */
	uint64_t jitter_usec;  /* each frame adds a uniform [0, jitter) */
	double loss;           /* a frame's chance to be lost once (then retransmitted) */
	uint64_t bandwidth;    /* bytes per second out of each node; 0: unlimited */
};

enum frame_kind_count {
	FK_GOSSIP,
	FK_IHAVE,
	FK_GRAFT,
	FK_PRUNE,
	FK_PING,
	FK_OTHER,
	FK_COUNT,
};

struct inflight;
struct vconn;

/* One end of a virtual TCP connection. */
struct vend {
	struct vconn *vc;
	int side;
	struct link *lk;   /* the core's link; NULL once the core let go of it */
	uint32_t node;
	bool open;         /* its node's core may still use it */
	uint64_t bytes_out;
	/* Bytes sent and not yet out of the node's uplink (bandwidth): a ring of (departure, length). */
	struct ring out;
	size_t queued;
	struct vend *prev, *next; /* its node's open ends */
};

struct frame_q {
	struct vconn *vc;
	struct inflight *head, *tail;
	uint64_t last_arrival; /* frames arrive in order */
	bool scheduled;        /* an event delivers the head */
	bool blocked;          /* held by a partition until the heal */
	struct frame_q *blocked_next;
};

struct vconn {
	uint32_t node[2]; /* [0] connected to [1] */
	uint32_t gen[2];  /* the process generation of each node when it was opened */
	struct vend end[2];
	struct frame_q q[2]; /* frames travelling to side i */
	bool established;
	unsigned refs; /* events and open ends that point at it */
};

struct sim;

struct sim_node {
	struct sim *sim;
	uint32_t index;
	bool is_seed;
	struct node_addr addr;
	uint32_t gen; /* process generation: a restart starts a new one */
	bool up;      /* the process runs */
	bool ready;
	bool leaving; /* left on purpose (churn), not dead */
	uint64_t stalled_until;
	uint64_t up_since, down_since;
	uint64_t member_since; /* its first start: a restart keeps it (the state file's header) */
	uint32_t group; /* partition side */
	uint64_t uplink_free_at;
	uint64_t wake_at[WAKE_CLASSES];
	struct peer_node *peer;
	struct seed_node *seed;
	struct env env;
	struct vend *ends; /* open ends of its connections */
	uint32_t n_ends;
	/* Detection of its death: first neighbour to declare it, seeds that removed it. */
	uint64_t crashed_at, detected_at, removed_at;
	uint32_t removed_by, registered_at_crash;
};

/* A broadcast the scenario made, and who got it when. */
struct sim_msg {
	uint8_t id[WIRE_ID_LEN];
	uint32_t origin;
	uint64_t sent_at;
	uint32_t *latency_us; /* per node; UINT32_MAX: not delivered */
	uint16_t *hops;
	uint32_t deliveries;
	uint32_t duplicates; /* delivered twice to one node: never allowed */
};

struct sim_counters {
	uint64_t frames[FK_COUNT];
	uint64_t payload_bytes;
	uint64_t ae_bytes; /* anti-entropy frames (AE_SUMMARY, AE_IDS) sent by peers */
	uint64_t false_dead;    /* a peer declared a live node dead */
	uint64_t false_removed; /* a seed removed a live peer for death */
	uint64_t live_leases_expired; /* a seed let a live peer's registration lapse */
	uint64_t deaths_declared;
	uint64_t events;
};

struct sim {
	uint64_t now;
	struct rng rng;
	uint64_t seed;
	struct eventq q;
	struct net_params net;
	bool partitioned;
	struct frame_q *blocked;
	struct sim_node *nodes;
	uint32_t n_nodes, n_seeds, cap_nodes;
	struct gossip_config peer_cfg, seed_cfg;
	/* Address -> node index, open addressing. */
	uint32_t *addr_table;
	size_t addr_mask;
	/* Message id -> index into msgs, open addressing. */
	struct sim_msg *msgs;
	uint32_t n_msgs, cap_msgs;
	uint32_t *msg_table;
	size_t msg_mask;
	struct sim_counters c;
	FILE *trace; /* every event a node reports, when tracing */
	uint64_t trace_lines;
};

enum sim_event_kind {
	EV_WAKE,
	EV_SYN,
	EV_SYNACK,
	EV_HEAD,
	EV_ACTION,
};

void sim_init(struct sim *s, uint64_t seed, uint32_t max_nodes, const struct net_params *net,
	      const struct gossip_config *peer_cfg, const struct gossip_config *seed_cfg);
void sim_free(struct sim *s);
/* Adds a node (not started); its address is derived from its index. */
uint32_t sim_add_node(struct sim *s, bool is_seed);
/* Starts (or restarts) a node's process now. */
void sim_start_node(struct sim *s, uint32_t i);
/* Kills a node's process now, as SIGKILL does: its peers see their connections reset. */
void sim_crash_node(struct sim *s, uint32_t i);
/* A peer leaves the network on purpose (SIGTERM). */
void sim_leave_node(struct sim *s, uint32_t i);
/* The node's process stops running for d (its input waits; its timers run late). */
void sim_stall_node(struct sim *s, uint32_t i, uint64_t d);
/* Cuts the network between nodes of different groups, or heals it. */
void sim_partition(struct sim *s, bool on);
/* Originates a message at peer i: its index in s->msgs, or -1 when refused. */
int sim_broadcast(struct sim *s, uint32_t i, size_t len);
/*
 * Runs events until virtual time `until` (inclusive), or, when action is
 * given, also returns early for each EV_ACTION event (0 returned with
 * *action set); 1 when `until` was reached.
 */
int sim_run(struct sim *s, uint64_t until, uint64_t *action);
/* Queues an EV_ACTION with arg at time t. */
void sim_schedule_action(struct sim *s, uint64_t t, uint64_t arg);
/* Whether node i's process is up and its overlay has at least one neighbour up. */
bool sim_node_connected(const struct sim *s, uint32_t i);
/* The seeds' config list: the first n_seeds nodes' addresses. */
void sim_set_seeds(struct sim *s, struct gossip_config *c);

#endif
