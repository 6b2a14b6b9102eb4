/* SPDX-License-Identifier: MIT */
/* gossip-peer control socket: gossipctl requests, caller credentials, tail -f streaming. */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "daemon.h"
#include "log.h"
#include "peer.h"

static int ctl_on_frame(struct conn *c, const uint8_t *frame, size_t len, const char **reason);
static void ctl_on_bad_frame(struct conn *c, const char *reason);
static void ctl_on_close(struct conn *c, const char *reason, int error);

static const struct conn_callbacks ctl_callbacks = {
	.frame_check = ctl_frame_check,
	.on_frame = ctl_on_frame,
	.on_bad_frame = ctl_on_bad_frame,
	.on_close = ctl_on_close,
};

static void
reply_end(struct ctl_client *cl, uint8_t status, const char *text)
{
	struct buf b = {0};
	ctl_encode_end(&b, status, text);
	(void)conn_send_buf(cl->conn, &b);
	buf_free(&b);
}

/* Sends the frames in b; a client too slow to read them is dropped. */
static bool
send_or_drop(struct ctl_client *cl, struct buf *b)
{
	if (conn_send_buf(cl->conn, b) == 0)
		return true;
	log_warn("control client (pid %d): over %u bytes unread; disconnecting it", (int)cl->pid,
		 PEER_CTL_QUEUE_LIMIT);
	conn_close(cl->conn, "client too slow", ENOBUFS);
	return false;
}

static const char *
state_name(enum peer_state s)
{
	switch (s) {
	case PEER_REGISTERING:
		return "registering";
	case PEER_READY:
		return "ready";
	case PEER_LEAVING:
		return "leaving";
	}
	return "?";
}

static void
do_status(struct ctl_client *cl)
{
	struct peer *p = cl->peer;
	struct ctl_record r;
	struct buf b = {0};

	ctl_record_begin(&r, &b);
	ctl_record_str(&r, "node", p->self_str);
	ctl_record_str(&r, "state", state_name(p->state));
	ctl_record_str(&r, "version", GOSSIP_VERSION);
	ctl_record_u64(&r, "pid", (uint64_t)getpid());
	ctl_record_double(&r, "uptime", (double)(now_monotonic_usec() - p->started_at) / 1e6);
	ctl_record_u64(&r, "seeds_known", p->n_seeds);
	ctl_record_u64(&r, "seeds_required", p->seeds_required);
	ctl_record_u64(&r, "seeds_registered", seeds_registered(p));
	ctl_record_u64(&r, "neighbours", p->n_neighbours);
	ctl_record_u64(&r, "degree", p->cfg.peer.degree);
	ctl_record_u64(&r, "known_peers", p->known.n);
	ctl_record_u64(&r, "messages_received", p->stats.messages_received);
	ctl_record_u64(&r, "messages_sent", p->stats.messages_sent);
	ctl_record_str(&r, "control_socket", p->ctl_path);
	ctl_record_str(&r, "log_file", p->log_path);
	ctl_record_str(&r, "output_file", p->output_path);
	ctl_record_end(&r);
	ctl_encode_end(&b, CTL_OK, "");
	send_or_drop(cl, &b);
	buf_free(&b);
}

static void
do_peers(struct ctl_client *cl)
{
	struct peer *p = cl->peer;
	uint64_t now = now_monotonic_usec();
	struct buf b = {0};

	for (struct neighbour *nb = p->neighbours; nb; nb = nb->next) {
		struct ctl_record r;
		ctl_record_begin(&r, &b);
		ctl_record_str(&r, "addr", nb->addr_str);
		ctl_record_str(&r, "direction", nb->link && nb->link->outbound ? "out" : "in");
		ctl_record_str(&r, "state", neighbour_state_name(nb->state));
		ctl_record_double(&r, "rtt_ms",
				  nb->live.rtt_usec ? (double)nb->live.rtt_usec / 1000.0 : -1.0);
		ctl_record_u64(&r, "misses", nb->live.misses);
		ctl_record_u64(&r, "queued_bytes", nb->conn ? nb->conn->queued_bytes : 0);
		ctl_record_str(&r, "push", nb->lazy && p->cfg.peer.lazy_push ? "lazy" : "eager");
		ctl_record_double(&r, "connected_for",
				  nb->state == LINK_UP ? (double)(now - nb->up_since) / 1e6 : 0.0);
		ctl_record_end(&r);
	}
	ctl_encode_end(&b, CTL_OK, "");
	send_or_drop(cl, &b);
	buf_free(&b);
}

static void
do_stats(struct ctl_client *cl)
{
	struct peer *p = cl->peer;
	struct peer_stats *s = &p->stats;
	struct ctl_record r;
	struct buf b = {0};

	ctl_record_begin(&r, &b);
	ctl_record_u64(&r, "messages_sent", s->messages_sent);
	ctl_record_u64(&r, "messages_received", s->messages_received);
	ctl_record_u64(&r, "duplicates_received", s->duplicates_received);
	ctl_record_u64(&r, "gossip_frames_sent", s->gossip_frames_sent);
	ctl_record_u64(&r, "gossip_frames_received", s->gossip_frames_received);
	ctl_record_u64(&r, "gossip_bytes_sent", s->gossip_bytes_sent);
	ctl_record_u64(&r, "pings_sent", s->pings_sent);
	ctl_record_u64(&r, "pongs_received", s->pongs_received);
	ctl_record_u64(&r, "neighbours_dead", s->neighbours_dead);
	ctl_record_u64(&r, "neighbours_dropped_slow", s->neighbours_dropped_slow);
	ctl_record_u64(&r, "malformed_frames", s->malformed_frames);
	ctl_record_u64(&r, "oversized_dropped", s->oversized_dropped);
	ctl_record_u64(&r, "seen_cache_entries", p->seen.count);
	ctl_record_u64(&r, "seen_cache_evicted", p->seen.evicted);
	ctl_record_u64(&r, "connections_accepted", s->connections_accepted);
	ctl_record_u64(&r, "ihave_frames_sent", s->ihave_frames_sent);
	ctl_record_u64(&r, "ihave_ids_sent", s->ihave_ids_sent);
	ctl_record_u64(&r, "ihave_ids_received", s->ihave_ids_received);
	ctl_record_u64(&r, "ihave_ids_spared", s->ihave_ids_spared);
	ctl_record_u64(&r, "grafts_sent", s->grafts_sent);
	ctl_record_u64(&r, "grafts_answered", s->grafts_answered);
	ctl_record_u64(&r, "grafts_unanswerable", s->grafts_unanswerable);
	ctl_record_u64(&r, "grafts_failed", s->grafts_failed);
	ctl_record_u64(&r, "grafts_deferred", s->grafts_deferred);
	ctl_record_u64(&r, "graft_retries", s->graft_retries);
	ctl_record_u64(&r, "prunes_sent", s->prunes_sent);
	ctl_record_u64(&r, "prunes_received", s->prunes_received);
	ctl_record_u64(&r, "prunes_withheld", s->prunes_withheld);
	ctl_record_u64(&r, "tree_rejoins", s->tree_rejoins);
	ctl_record_u64(&r, "announcements_dropped", s->announcements_dropped);
	{
		uint64_t lazy = 0;
		for (struct neighbour *nb = p->neighbours; nb; nb = nb->next)
			lazy += nb->state == LINK_UP && nb->lazy;
		ctl_record_u64(&r, "lazy_links", lazy);
	}
	ctl_record_u64(&r, "resend_cache_bytes", p->seen.frame_bytes);
	ctl_record_u64(&r, "control_pauses", s->control_pauses);
	ctl_record_u64(&r, "pushes_deferred", s->pushes_deferred);
	ctl_record_u64(&r, "local_health", p->health.score);
	ctl_record_u64(&r, "local_health_raises", s->local_health_raises);
	ctl_record_u64(&r, "stale_dropped", s->stale_dropped);
	ctl_record_end(&r);
	ctl_encode_end(&b, CTL_OK, "");
	send_or_drop(cl, &b);
	buf_free(&b);
}

static void
encode_history(struct buf *b, const struct history_entry *h)
{
	char hex[2 * WIRE_ID_LEN + 1], a[NODE_ADDR_STRLEN];
	struct ctl_record r;

	ctl_record_begin(&r, b);
	ctl_record_str(&r, "id", hex_encode(h->id, WIRE_ID_LEN, hex));
	ctl_record_str(&r, "from", node_addr_str(&h->from, a));
	ctl_record_str(&r, "origin", node_addr_str(&h->origin, a));
	ctl_record_u64(&r, "timestamp", h->timestamp);
	ctl_record_u64(&r, "received", h->received);
	ctl_record_u64(&r, "seq", h->seq);
	ctl_record_u64(&r, "size", h->len);
	ctl_record_bytes(&r, "text", h->payload, h->len);
	ctl_record_end(&r);
}

static int
do_tail(struct ctl_client *cl, const uint8_t *body, size_t len)
{
	struct peer *p = cl->peer;
	uint32_t count, start;
	struct buf b = {0};
	bool follow;

	if (len != 5 || body[0] > 1) {
		reply_end(cl, CTL_ERR_USAGE, "malformed TAIL request");
		return 0;
	}
	follow = body[0] == 1;
	count = get_u32(body + 1);
	if (count > p->history_len)
		count = p->history_len;
	start = p->history_len - count;
	for (uint32_t i = start; i < p->history_len; i++)
		encode_history(&b, &p->history[(p->history_head + i) % p->cfg.peer.history]);
	if (!follow)
		ctl_encode_end(&b, CTL_OK, "");
	if (send_or_drop(cl, &b) && follow)
		cl->following = true;
	buf_free(&b);
	return 0;
}

static void flow_update(struct peer *p);

static void
do_send(struct ctl_client *cl, const uint8_t *body, size_t len)
{
	struct peer *p = cl->peer;
	uint8_t id[WIRE_ID_LEN];
	char hex[2 * WIRE_ID_LEN + 1], text[128];
	struct ctl_record r;
	struct buf b = {0};
	uint64_t seq;
	int rr;

	if (len == 0) {
		reply_end(cl, CTL_ERR_EMPTY, "empty message");
		return;
	}
	if (len > p->cfg.peer.max_message_size) {
		snprintf(text, sizeof(text), "message too long: %zu bytes (peer.max_message_size is %u)",
			 len, p->cfg.peer.max_message_size);
		reply_end(cl, CTL_ERR_TOO_LONG, text);
		return;
	}
	rr = gossip_broadcast(p, body, len, id, &seq);
	if (rr < 0) {
		snprintf(text, sizeof(text), "cannot broadcast: %s", strerror(-rr));
		reply_end(cl, CTL_ERR_FAILED, text);
		return;
	}
	ctl_record_begin(&r, &b);
	ctl_record_str(&r, "id", hex_encode(id, WIRE_ID_LEN, hex));
	ctl_record_u64(&r, "seq", seq);
	ctl_record_u64(&r, "size", len);
	ctl_record_end(&r);
	ctl_encode_end(&b, CTL_OK, "sent");
	send_or_drop(cl, &b);
	buf_free(&b);
	flow_update(p);
}

static int
ctl_on_frame(struct conn *c, const uint8_t *frame, size_t len, const char **reason)
{
	struct ctl_client *cl = c->userdata;
	const uint8_t *body = frame + CTL_HDR_LEN;
	size_t blen = len - CTL_HDR_LEN;

	if (cl->following) {
		*reason = "request while following tail";
		return -EBADMSG;
	}
	switch (frame[3]) {
	case CTL_SEND:
		do_send(cl, body, blen);
		return 0;
	case CTL_STATUS:
		do_status(cl);
		return 0;
	case CTL_PEERS:
		do_peers(cl);
		return 0;
	case CTL_STATS:
		do_stats(cl);
		return 0;
	case CTL_TAIL:
		return do_tail(cl, body, blen);
	default:
		*reason = "not a request frame";
		return -EBADMSG;
	}
}

static void
ctl_on_bad_frame(struct conn *c, const char *reason)
{
	struct ctl_client *cl = c->userdata;
	char text[160];

	cl->peer->stats.malformed_frames++;
	log_warn("control client (pid %d, uid %u): malformed request: %s; closing", (int)cl->pid,
		 (unsigned)cl->uid, reason);
	snprintf(text, sizeof(text), "malformed request: %s", reason);
	reply_end(cl, CTL_ERR_PROTOCOL, text);
}

static void
ctl_on_close(struct conn *c, const char *reason, int error)
{
	struct ctl_client *cl = c->userdata;
	struct peer *p = cl->peer;

	if (error && error != ENOBUFS)
		log_debug("control client (pid %d): %s: %s", (int)cl->pid, reason, strerror(error));
	if (cl->prev)
		cl->prev->next = cl->next;
	else
		p->ctl_clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	p->n_ctl_clients--;
	free(cl);
}

/*
 * Is gid among the caller's supplementary groups? SO_PEERGROUPS reports
 * them from the socket itself, so it works where /proc of other users is
 * hidden (ProtectProc=invisible).
 */
static bool
caller_in_group(int fd, gid_t gid)
{
	gid_t stack[64], *groups = stack;
	socklen_t len = sizeof(stack);
	bool found = false;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
		if (errno != ERANGE)
			return false;
		groups = xmalloc(len);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
			free(groups);
			return false;
		}
	}
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == gid)
			found = true;
	if (groups != stack)
		free(groups);
	return found;
}

static bool
caller_allowed(const struct peer *p, int fd, const struct ucred *cr)
{
	if (cr->uid == 0 || cr->uid == geteuid())
		return true;
	return cr->gid == p->ctl_gid || caller_in_group(fd, p->ctl_gid);
}

/*
 * Flow control: while a neighbour's send queue is over half of
 * peer.send_queue_limit, or over PEER_CTL_PAUSE_BYTES, gossipctl requests are
 * not read, so `send` waits instead of the queue overflowing and that
 * neighbour being dropped with the messages in it. Checked after each SEND;
 * while paused, after every event until every queue is under half of that.
 *
 * The byte cap keeps the backlog short in time, not only in memory: with
 * 4 MiB queued, a burst of 64 KiB messages runs a second and more ahead of
 * its slowest path. Copies then come after their IHAVE by more than a GRAFT
 * wait, and the GRAFTs find their frames gone from the resend cache
 * (peer.resend_cache_size, 64 MiB, holds 1024 such messages): messages were lost.
 */
static void
flow_update(struct peer *p)
{
	size_t most = 0, high = p->cfg.peer.send_queue_limit / 2;
	bool pause;

	if (high > PEER_CTL_PAUSE_BYTES)
		high = PEER_CTL_PAUSE_BYTES;
	for (struct neighbour *nb = p->neighbours; nb; nb = nb->next)
		if (nb->conn && nb->conn->queued_bytes > most)
			most = nb->conn->queued_bytes;
	pause = p->ctl_paused ? most > high / 2 : most > high;
	if (pause == p->ctl_paused)
		return;
	p->ctl_paused = pause;
	if (pause)
		p->stats.control_pauses++;
	log_debug("%s reading gossipctl requests: a neighbour has %zu bytes queued",
		  pause ? "pausing" : "resuming", most);
	for (struct ctl_client *cl = p->ctl_clients; cl; cl = cl->next)
		conn_set_input_paused(cl->conn, pause);
	if (p->flow_src)
		sd_event_source_set_enabled(p->flow_src, pause ? SD_EVENT_ON : SD_EVENT_OFF);
}

static int
on_flow_check(sd_event_source *src, void *userdata)
{
	flow_update(userdata);
	return 0;
}

static int
on_ctl_accept(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct peer *p = userdata;

	for (int i = 0; i < 16; i++) {
		struct ucred cr = {0};
		socklen_t sl = sizeof(cr);
		struct ctl_client *cl;
		char desc[64];
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("control socket: accept failed: %s", strerror(errno));
			break;
		}
		if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cr, &sl) < 0) {
			log_warn("control socket: cannot read caller credentials: %s", strerror(errno));
			close(cfd);
			continue;
		}
		snprintf(desc, sizeof(desc), "control pid %d", (int)cr.pid);
		cl = xcalloc(1, sizeof(*cl));
		cl->peer = p;
		cl->pid = cr.pid;
		cl->uid = cr.uid;
		cl->conn = conn_new(&p->loop, cfd, false, &ctl_callbacks, cl, desc);
		if (!cl->conn) {
			free(cl);
			continue;
		}
		cl->conn->queue_limit = PEER_CTL_QUEUE_LIMIT;
		/* A pipelined burst of SENDs yields to gossip and pings every few hundred. */
		cl->conn->read_budget = 32 * 1024;
		conn_set_input_paused(cl->conn, p->ctl_paused);
		cl->next = p->ctl_clients;
		if (p->ctl_clients)
			p->ctl_clients->prev = cl;
		p->ctl_clients = cl;
		p->n_ctl_clients++;
		if (!caller_allowed(p, cfd, &cr)) {
			log_warn("control socket: refusing pid %d uid %u: not root, not uid %u and not "
				 "in the control group",
				 (int)cr.pid, (unsigned)cr.uid, (unsigned)geteuid());
			reply_end(cl, CTL_ERR_PERMISSION, "permission denied");
			conn_close_after_flush(cl->conn, "permission denied");
		} else if (p->n_ctl_clients > p->cfg.peer.max_control_clients) {
			log_warn("control socket: refusing pid %d: peer.max_control_clients (%u) reached",
				 (int)cr.pid, p->cfg.peer.max_control_clients);
			reply_end(cl, CTL_ERR_FAILED, "too many control clients");
			conn_close_after_flush(cl->conn, "too many clients");
		}
	}
	return 0;
}

void
control_notify_delivery(struct peer *p, const struct history_entry *h)
{
	struct blob *bl = NULL;
	struct buf b = {0};

	for (struct ctl_client *cl = p->ctl_clients, *next; cl; cl = next) {
		next = cl->next;
		if (!cl->following)
			continue;
		if (!bl) {
			encode_history(&b, h);
			bl = blob_from_buf(&b);
			buf_free(&b);
		}
		if (conn_send_blob(cl->conn, bl) < 0) {
			log_warn("control client (pid %d): tail -f not reading (%u bytes queued); "
				 "disconnecting it", (int)cl->pid, PEER_CTL_QUEUE_LIMIT);
			conn_close(cl->conn, "client too slow", ENOBUFS);
		}
	}
	blob_unref(bl);
}

static int
resolve_group(const char *name, gid_t *ret)
{
	struct group *g = getgrnam(name);
	uint64_t v;

	if (g) {
		*ret = g->gr_gid;
		return 0;
	}
	if (parse_u64(name, 0, UINT32_MAX - 1, &v) == 0) {
		*ret = (gid_t)v;
		return 0;
	}
	return -ENOENT;
}

int
control_start(struct peer *p)
{
	gid_t chown_gid = (gid_t)-1;
	int fd, r;

	p->ctl_gid = getegid();
	if (!p->flow_src) {
		if (sd_event_add_post(p->event, &p->flow_src, on_flow_check, p) < 0)
			return -ENOMEM;
		sd_event_source_set_enabled(p->flow_src, SD_EVENT_OFF);
	}
	if (p->cfg.peer.control_group) {
		r = resolve_group(p->cfg.peer.control_group, &p->ctl_gid);
		if (r < 0) {
			log_error("peer.control_group: no group named '%s'", p->cfg.peer.control_group);
			return r;
		}
		chown_gid = p->ctl_gid;
	}
	fd = daemon_fds_take(NULL);
	if (fd >= 0) {
		struct sockaddr_un sa;
		socklen_t sl = sizeof(sa);
		/* Report the path systemd actually listens on. */
		if (getsockname(fd, (struct sockaddr *)&sa, &sl) == 0 && sa.sun_path[0] &&
		    sl > offsetof(struct sockaddr_un, sun_path)) {
			free(p->ctl_path);
			p->ctl_path = xstrndup(sa.sun_path, sl - offsetof(struct sockaddr_un, sun_path));
		}
		log_info("using the control socket %s passed by systemd", p->ctl_path);
		p->ctl_path_owned = false;
	} else {
		char *dir = xstrdup(p->ctl_path), *slash = strrchr(dir, '/');
		if (slash && slash != dir) {
			*slash = '\0';
			/* Our own runtime directory; a configured path's directory must exist. */
			if (!p->cfg.peer.control_socket && mkdir(dir, 0755) < 0 && errno != EEXIST)
				log_warn("cannot create %s: %s", dir, strerror(errno));
		}
		free(dir);
		fd = daemon_unix_listen(p->ctl_path, 0660, chown_gid);
		if (fd < 0) {
			log_error("cannot create control socket %s: %s", p->ctl_path,
				  fd == -EADDRINUSE ? "another process is serving it"
						    : strerror(-fd));
			return fd;
		}
		p->ctl_path_owned = true;
	}
	p->ctl_fd = fd;
	return sd_event_add_io(p->event, &p->ctl_src, fd, EPOLLIN, on_ctl_accept, p);
}

void
control_stop(struct peer *p)
{
	for (struct ctl_client *cl = p->ctl_clients, *next; cl; cl = next) {
		next = cl->next;
		if (cl->following) {
			reply_end(cl, CTL_OK, "peer stopping");
			conn_flush(cl->conn);
		}
	}
	while (p->ctl_clients)
		conn_close(p->ctl_clients->conn, "stopping", 0);
	p->ctl_src = sd_event_source_disable_unref(p->ctl_src);
	p->flow_src = sd_event_source_disable_unref(p->flow_src);
	if (p->ctl_fd >= 0)
		close(p->ctl_fd);
	p->ctl_fd = -1;
	if (p->ctl_path_owned && p->ctl_path)
		unlink(p->ctl_path);
}
