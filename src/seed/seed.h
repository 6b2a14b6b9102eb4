/* SPDX-License-Identifier: MIT */
/* gossip-seed: the registry server's state, shared by its main and protocol modules. */
#ifndef GOSSIP_SEED_H
#define GOSSIP_SEED_H

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "conf.h"
#include "conn.h"
#include "registry.h"
#include "util.h"

/* Probes of reported peers running at once; further reports wait their turn. */
#define SEED_MAX_PROBES 64
/* Reports waiting for a probe, at most; beyond that the lease decides. */
#define SEED_MAX_WAITING 4096

struct seed_client {
	struct seed *seed;
	struct conn *conn;
	struct seed_client *prev, *next;
};

struct seed_probe {
	struct seed *seed;
	struct node_addr target;
	struct node_addr reporter;
	uint64_t report_time; /* unix seconds from the report */
	struct conn *conn;
	uint64_t nonce;
	sd_event_source *timer;
	struct seed_probe *prev, *next;
};

struct seed {
	sd_event *event;
	struct conn_loop loop;
	struct gossip_config cfg;
	const char *config_path; /* -c FILE or NULL */
	struct node_addr self;
	char self_str[NODE_ADDR_STRLEN];
	uint64_t incarnation;
	struct rng rng;

	int listen_fd;
	sd_event_source *listen_src;
	sd_event_source *sweep_timer;

	struct registry registry;
	struct seed_client *clients;
	unsigned n_clients;
	struct seed_probe *probes;
	unsigned n_probes;
	struct report_queue waiting; /* reports beyond SEED_MAX_PROBES, up to SEED_MAX_WAITING */
	bool starting_probes;

	uint64_t refused_connections;
	uint64_t last_refusal_log;
};

int seed_start(struct seed *s);
void seed_stop(struct seed *s);
/* Applies a reloaded configuration (limits and timers). */
void seed_apply_config(struct seed *s);
void seed_update_status(struct seed *s);

#endif
