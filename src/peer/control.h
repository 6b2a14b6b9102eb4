/* SPDX-License-Identifier: MIT */
/* gossip-peer's control socket: gossipctl requests, caller credentials, tail -f streaming. */
#ifndef GOSSIP_PEER_CONTROL_H
#define GOSSIP_PEER_CONTROL_H

#include <stdbool.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "core/peer.h"
#include "io/conn.h"
#include "io/listener.h"
#include "output.h"

/* Bytes queued to one gossipctl client before it is dropped as too slow. */
#define CONTROL_QUEUE_LIMIT (8u * 1024 * 1024)
/* gossipctl requests wait while a neighbour has more than this queued (or half its limit). */
#define CONTROL_PAUSE_BYTES ((size_t)512 * 1024)
/*
 * A client that sends no request for peer.control_idle_timeout is
 * disconnected (one following tail -f is not idle). At
 * peer.max_control_clients, a newcomer takes the place of the client idle
 * longest, if that one has been idle CONTROL_EVICT_IDLE_USEC: clients that
 * only connect cannot lock gossipctl out.
 */
#define CONTROL_EVICT_IDLE_USEC (USEC_PER_SEC)

struct ctl_client;

struct control {
	struct peer_node *node;
	struct output *out;
	struct conn_loop *loop;
	const char *log_path;
	uint64_t started_at;
	char *path;
	bool path_owned; /* we created the socket file and remove it on exit */
	int fd;
	gid_t gid;
	struct listener listener;
	sd_event_source *flow_src; /* flow control of gossipctl requests */
	sd_event_source *idle_src; /* closes idle clients */
	bool paused;
	struct ctl_client *clients;
	uint32_t n_clients;
};

/*
 * Serves gossipctl at path (taken over; systemd's socket when it passed
 * one) for node, whose received messages are in out. 0 or -errno (logged).
 */
int control_start(struct control *ctl, struct conn_loop *loop, struct peer_node *node,
		  struct output *out, char *path, const char *log_path);
void control_stop(struct control *ctl);
/* A membership query ended (NOTICE_MEMBERS): answer the clients waiting for it. */
void control_members_answered(struct control *ctl);
/* A message was delivered: tell `tail -f` clients. */
void control_notify_delivery(struct control *ctl, const struct history_entry *h);

#endif
