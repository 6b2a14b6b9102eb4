/* SPDX-License-Identifier: MIT */
/* The simulator's scenarios: a table of networks, loads and faults, and the figures of a run. */
#ifndef GOSSIP_SIM_SCENARIO_H
#define GOSSIP_SIM_SCENARIO_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sim.h"

enum fault {
	F_NONE,
	F_CHURN,        /* fault_share of the peers leave or join per minute, for fault_for */
	F_LOSS,         /* every frame has loss_rate chance of a loss, for fault_for */
	F_PARTITION,    /* two halves cut apart for fault_for, then healed */
	F_MASS_RESTART, /* every peer killed, and started again after fault_for */
	F_CRASH,        /* fault_share of the peers killed (SIGKILL), not restarted */
	F_STALL,        /* fault_share of the peers stop running for fault_for */
	F_DOWN,         /* fault_share of the peers killed, and started again after fault_for */
	F_OVERLOAD,     /* every node runs about half the time, in slices, for fault_for */
};

struct scenario {
	const char *name;
	const char *what;
	uint32_t peers, seeds;
	uint32_t broadcasts;
	uint64_t interval; /* between broadcasts; 0: all at once */
	uint32_t payload;  /* bytes */
	struct net_params net;
	enum fault fault;
	uint64_t fault_at;  /* after the first measured broadcast */
	uint64_t fault_for;
	double fault_share;
	double loss_rate;
	uint64_t settle; /* after the last broadcast */
	/* What `--check` asserts. */
	double min_delivery;
	double max_redundancy;
	int64_t max_false; /* live peers declared dead plus live peers removed; -1: no bound */
};

extern const struct scenario scenarios[];
extern const size_t n_scenarios;
const struct scenario *scenario_find(const char *name);

struct dist {
	uint64_t count;
	double p50, p99, max;
};

/* The figures of one run. */
struct figures {
	const struct scenario *sc;
	uint32_t peers;
	uint64_t seed;
	uint32_t broadcasts;
	uint64_t expected, delivered, duplicates;
	double delivery;
	struct dist hops, latency_ms;
	double redundancy;           /* payload frames sent per delivery */
	double control_per_broadcast; /* IHAVE + GRAFT + PRUNE frames */
	double ihave_per_broadcast, graft_per_broadcast, prune_per_broadcast;
	uint64_t crashed;
	struct dist detect_s, remove_s; /* of the crashed peers */
	uint64_t undetected, unremoved;
	uint64_t false_dead, false_removed, live_leases_expired;
	double ae_bytes_per_peer_min; /* anti-entropy bytes each peer sent a minute, mean */
	double ready_s;               /* warm-up: all peers ready and connected */
	double recovered_s;           /* after a fault: all peers ready and connected again */
	double views_s;               /* after a fault: every peer knows every other (1e9: never) */
	double caught_up_s;           /* after a fault: the last delivery of a measured message */
	double memory_per_node_kb;
	uint64_t events;
	double virtual_s, wall_s;
	uint8_t trace_hash[32];
};

struct run_options {
	uint32_t peers;      /* 0: the scenario's */
	uint32_t broadcasts; /* 0: the scenario's */
	uint64_t seed;
	FILE *trace;
};

/* Runs sc; fills *f. */
void scenario_run(const struct scenario *sc, const struct run_options *o, struct figures *f);
void figures_print(const struct figures *f, FILE *out);
void figures_json(const struct figures *f, FILE *out);

#endif
