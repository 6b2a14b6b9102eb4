/* SPDX-License-Identifier: MIT */
/* gossip-peer: the peer daemon's state, shared by its modules (seeds, neighbours, gossip, control). */
#ifndef GOSSIP_PEER_H
#define GOSSIP_PEER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "conf.h"
#include "conn.h"
#include "membership.h"
#include "seen.h"
#include "sink.h"
#include "util.h"
#include "wire.h"

/* Inbound connections that have not said HELLO yet, at most. */
#define PEER_MAX_PENDING 64
/* Bytes queued to one gossipctl client before it is dropped as too slow. */
#define PEER_CTL_QUEUE_LIMIT (8u * 1024 * 1024)
/* gossipctl requests wait while a neighbour has more than this queued (or half its limit; control.c). */
#define PEER_CTL_PAUSE_BYTES ((size_t)512 * 1024)

struct peer;
struct tree_fifo;

/* What a connection of the peer is for: its conn->userdata. */
enum link_kind {
	LINK_PENDING,   /* inbound, waiting for HELLO */
	LINK_NEIGHBOUR, /* to or from another peer */
	LINK_PROBE,     /* a seed checking that we are alive */
	LINK_SEED,      /* to a seed */
};

struct link {
	enum link_kind kind;
	struct peer *peer;
	void *owner; /* struct neighbour * or struct seed_link * */
	struct conn *conn;
	bool outbound;
	uint64_t opened_at;
	struct link *prev, *next; /* pending/probe list */
};

struct neighbour {
	struct peer *peer;
	uint32_t serial; /* this peer's own number for it, never 0 nor reused */
	struct node_addr addr;
	char addr_str[NODE_ADDR_STRLEN];
	bool wanted; /* one of the `degree` neighbours this peer chose itself */
	enum link_state state;
	struct conn *conn; /* NULL when LINK_DOWN */
	struct link *link;
	struct liveness live;
	uint64_t up_since;
	uint64_t drained_mark; /* conn->bytes_out at the last tick */
	bool lazy;        /* tree.c: this link gets IHAVE, not the messages themselves */
	struct buf ihave; /* ids waiting for the next IHAVE to this neighbour */
	struct buf graft; /* ids to ask it for at the end of this GRAFT timer run */
	struct neighbour *prev, *next;
};

struct seed_link {
	struct peer *peer;
	struct node_addr addr;
	char addr_str[NODE_ADDR_STRLEN];
	struct conn *conn;
	struct link *link;
	bool connected;
	bool wanted;     /* part of the majority this peer registers with */
	bool registered; /* a PEER_LIST answered our REGISTER on this connection */
	struct addr_set list; /* peers this seed last listed */
	uint64_t register_sent_at; /* a registration attempt (connect + REGISTER) began; 0 = none */
	uint64_t next_attempt;
	uint64_t backoff;
};

struct history_entry {
	uint8_t id[WIRE_ID_LEN];
	struct node_addr from, origin;
	uint64_t timestamp, received, seq;
	struct blob *frame; /* holds the payload */
	const uint8_t *payload;
	uint32_t len;
};

struct ctl_client {
	struct peer *peer;
	struct conn *conn;
	pid_t pid;
	uid_t uid;
	bool following;
	struct ctl_client *prev, *next;
};

struct peer_stats {
	uint64_t messages_sent, messages_received, duplicates_received;
	uint64_t gossip_frames_sent, gossip_frames_received, gossip_bytes_sent;
	uint64_t pings_sent, pongs_received, neighbours_dead, neighbours_dropped_slow;
	uint64_t malformed_frames, connections_accepted, oversized_dropped;
	uint64_t ihave_frames_sent, ihave_ids_sent, ihave_ids_received, ihave_ids_spared;
	uint64_t grafts_sent, grafts_answered, grafts_failed, grafts_deferred, graft_retries;
	uint64_t grafts_unanswerable; /* GRAFT ids whose copy this peer no longer keeps */
	uint64_t prunes_sent, prunes_received, prunes_withheld, tree_rejoins;
	uint64_t announcements_dropped, control_pauses, pushes_deferred, local_health_raises;
	uint64_t stale_dropped;
};

enum peer_state {
	PEER_REGISTERING,
	PEER_READY,
	PEER_LEAVING,
};

struct peer {
	sd_event *event;
	struct conn_loop loop;
	struct gossip_config cfg;
	struct node_addr self;
	char self_str[NODE_ADDR_STRLEN];
	char self_ip[NODE_ADDR_STRLEN];
	uint64_t incarnation;
	struct rng rng;
	enum peer_state state;
	uint64_t started_at;

	int listen_fd;
	sd_event_source *listen_src;
	sd_event_source *tick_timer;
	sd_event_source *register_timer;
	sd_event_source *refresh_timer;
	sd_event_source *leave_timer;
	sd_event_source *leave_check;
	sd_event_source *stdin_src;
	struct buf stdin_buf;

	/* seeds */
	struct seed_link *seeds;
	uint32_t n_seeds;
	uint32_t *seed_order;
	uint32_t seeds_required;
	uint64_t last_retry_log;
	uint64_t stale_logged_at, stale_logged; /* the last "stale" warning: when, stale_dropped then */
	uint64_t stale_reach; /* at the last stale drop, how far back the seen cache reached */
	uint64_t trim_mark; /* frames in and out at the last tick */
	bool trim_due;      /* frames moved since the last malloc_trim() */

	/* overlay */
	struct addr_set known;
	struct addr_set avoid; /* dead or refusing: not connected to until they talk to us */
	uint64_t avoid_cleared_at;
	struct neighbour *neighbours;
	uint32_t n_neighbours;
	uint32_t neighbour_serial; /* the last one given */
	struct link *pending; /* inbound before HELLO, and seed probes */
	uint32_t n_pending;
	struct liveness_params live;
	struct local_health health; /* membership.h */

	/* gossip */
	struct seen_cache seen;
	uint64_t next_seq;
	int output_fd;
	struct sink output; /* output.txt, batched per loop iteration */
	struct buf line_buf; /* the line of the message being delivered */
	char *output_path;
	char *log_path;
	struct history_entry *history;
	uint32_t history_len, history_head;

	/* broadcast tree (tree.c) */
	struct seen_cache announced; /* ids heard in IHAVE, so each is waited for once */
	struct tree_fifo *missing; /* announced messages not received yet, per attempt */
	uint64_t tree_delivered_at; /* the last message received in full; 0: none yet */
	uint8_t last_delivered[WIRE_ID_LEN]; /* its id */
	uint64_t tree_cut_at;       /* an eager link was lost */
	uint64_t graft_jitter;      /* this peer's own part of the GRAFT wait (tree.c) */
	sd_event_source *ihave_timer, *graft_timer;

	/* control */
	char *ctl_path;
	int ctl_fd;
	bool ctl_path_owned; /* we created the socket file and remove it on exit */
	gid_t ctl_gid;
	sd_event_source *ctl_src;
	sd_event_source *flow_src; /* flow control of gossipctl requests */
	bool ctl_paused;
	struct ctl_client *ctl_clients;
	uint32_t n_ctl_clients;

	struct peer_stats stats;
};

/* seeds.c */
void seeds_init(struct peer *p);
void seeds_start(struct peer *p);
void seeds_free(struct peer *p);
uint32_t seeds_registered(const struct peer *p);
void seeds_report_dead(struct peer *p, const struct node_addr *dead);
void seeds_leave(struct peer *p);
void seeds_rebuild_known(struct peer *p);
/* Applies a reloaded seed list and timers. */
void seeds_reconfigure(struct peer *p);
/* Gives up on seeds that do not answer REGISTER in time. */
void seeds_tick(struct peer *p, uint64_t now);

/* neighbours.c */
void neighbours_start(struct peer *p);
void neighbours_free(struct peer *p);
int neighbours_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata);
void neighbours_tick(struct peer *p, uint64_t now);
void neighbours_maintain(struct peer *p);
void neighbours_leave(struct peer *p);
bool neighbours_all_flushed(const struct peer *p);
const char *neighbour_state_name(enum link_state s);
/* Queues a frame to nb; a neighbour whose queue is over the limit loses its link (-ENOBUFS). */
int neighbour_send_blob(struct neighbour *nb, struct blob *frame);
/* The same with the frame in b, which is freed. */
void neighbour_send_buf(struct neighbour *nb, struct buf *b);
struct neighbour *find_neighbour(struct peer *p, const struct node_addr *a);

/* gossip.c */
int gossip_init(struct peer *p);
void gossip_free(struct peer *p);
/* Originates a message; returns 0 with the id, or -EMSGSIZE/-EINVAL. */
int gossip_broadcast(struct peer *p, const uint8_t *payload, size_t len, uint8_t id[WIRE_ID_LEN],
		     uint64_t *seq);
/* A GOSSIP frame from neighbour nb. -EBADMSG with *reason on a bad frame. */
int gossip_receive(struct peer *p, struct neighbour *nb, const uint8_t *frame, size_t len,
		   const struct wire_msg *m, const char **reason);
void gossip_stdin_start(struct peer *p);
/* Writes the output.txt lines of this loop iteration. */
void gossip_flush_output(struct peer *p);
/* Periodic: warns, at most every GOSSIP_STALE_LOG_USEC, of messages dropped as stale. */
void gossip_tick(struct peer *p, uint64_t now);

/* tree.c */
void tree_init(struct peer *p);
void tree_free(struct peer *p);
void tree_reconfigure(struct peer *p);
/* Sends frame (message id) on eager links and queues IHAVE on lazy ones; returns the eager count. */
uint32_t tree_push(struct peer *p, struct blob *frame, const uint8_t id[WIRE_ID_LEN],
		   const struct neighbour *except, const struct node_addr *origin);
/* A message arrived in full for the first time. */
void tree_received(struct peer *p, const uint8_t id[WIRE_ID_LEN], uint64_t now);
/* From the periodic tick: GRAFTs held back too long by a stream of input go now. */
void tree_tick(struct peer *p, uint64_t now);
/* nb's connection is going away (while nb->state still says whether it was up). */
void tree_link_lost(struct peer *p, const struct neighbour *nb);
/* A duplicate came from nb; first_from: the serial of the neighbour of the first copy, or 0. */
void tree_duplicate(struct peer *p, struct neighbour *nb, const uint8_t id[WIRE_ID_LEN],
		    uint32_t first_from);
/* IHAVE, GRAFT or PRUNE from nb. */
void tree_on_frame(struct peer *p, struct neighbour *nb, const struct wire_msg *m);

/* control.c */
int control_start(struct peer *p);
void control_stop(struct peer *p);
/* A message was delivered: tell `tail -f` clients. */
void control_notify_delivery(struct peer *p, const struct history_entry *h);

/* main.c */
void peer_update_status(struct peer *p);
/* Counts and logs a change of the local health score from was; why names a rise's cause. */
void peer_health_changed(struct peer *p, uint32_t was, const char *why);
void peer_check_ready(struct peer *p);
/* Every path that ends a conn of the peer for a protocol reason logs through here. */
void peer_log_conn_error(struct peer *p, struct conn *c, const char *what, const char *reason,
			 int error);

#endif
