/* SPDX-License-Identifier: MIT */
/* gossip-peer's control socket: gossipctl requests, caller credentials, tail -f streaming. */
#include <errno.h>
#include <grp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "core/ctl.h"
#include "core/list.h"
#include "core/members.h"
#include "io/clock.h"
#include "io/daemon.h"
#include "io/log.h"
#include "io/node.h"
#include "io/paths.h"

/* One gossipctl connection. */
struct ctl_client {
	struct control *ctl;
	struct conn *conn;
	pid_t pid;
	uid_t uid;
	bool following;
	bool waiting_members; /* sent MEMBERS: answered once the seeds have */
	uint64_t last_active; /* monotonic: connected, or its last request */
	struct ctl_client *prev, *next;
};

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
		 CONTROL_QUEUE_LIMIT);
	conn_close(cl->conn, "client too slow", ENOBUFS);
	return false;
}

/* The reply of a request: the records in b, then END with OK. */
static void
reply_records(struct ctl_client *cl, struct buf *b)
{
	ctl_encode_end(b, CTL_OK, "");
	send_or_drop(cl, b);
	buf_free(b);
}

static void
do_status(struct ctl_client *cl)
{
	struct control *ctl = cl->ctl;
	const struct peer_node *p = ctl->node;
	struct ctl_record r;
	struct buf b = {0};

	ctl_record_begin(&r, &b);
	ctl_record_str(&r, "node", p->self_str);
	ctl_record_str(&r, "state", peer_state_name(p->state));
	ctl_record_str(&r, "version", GOSSIP_VERSION);
	ctl_record_u64(&r, "pid", (uint64_t)getpid());
	ctl_record_double(&r, "uptime", (double)(now_monotonic_usec() - ctl->started_at) / 1e6);
	ctl_record_u64(&r, "seeds_known", p->n_seeds);
	ctl_record_u64(&r, "seeds_required", p->seeds_required);
	ctl_record_u64(&r, "seeds_registered", peer_node_seeds_registered(p));
	ctl_record_u64(&r, "neighbours", p->n_neighbours);
	ctl_record_u64(&r, "degree", p->cfg.peer.degree);
	ctl_record_u64(&r, "known_peers", p->known.n);
	ctl_record_u64(&r, "messages_received", p->stats.messages_received);
	ctl_record_u64(&r, "messages_sent", p->stats.messages_sent);
	ctl_record_str(&r, "control_socket", ctl->path);
	ctl_record_str(&r, "log_file", ctl->log_path);
	ctl_record_str(&r, "output_file", ctl->out->path);
	ctl_record_end(&r);
	reply_records(cl, &b);
}

static size_t
queued_to(const struct neighbour *nb)
{
	const struct conn *c = nb->link ? node_io_conn(nb->link) : NULL;

	return c ? c->queued_bytes : 0;
}

static void
do_peers(struct ctl_client *cl)
{
	const struct peer_node *p = cl->ctl->node;
	uint64_t now = now_monotonic_usec();
	struct buf b = {0};

	for (const struct neighbour *nb = p->neighbours; nb; nb = nb->next) {
		struct ctl_record r;
		ctl_record_begin(&r, &b);
		ctl_record_str(&r, "addr", nb->addr_str);
		ctl_record_str(&r, "direction", nb->link && nb->link->outbound ? "out" : "in");
		ctl_record_str(&r, "state", nb_state_name(nb->state));
		ctl_record_double(&r, "rtt_ms",
				  nb->live.rtt_usec ? (double)nb->live.rtt_usec / 1000.0 : -1.0);
		ctl_record_u64(&r, "misses", nb->live.misses);
		ctl_record_u64(&r, "queued_bytes", queued_to(nb));
		ctl_record_str(&r, "push", nb->lazy && p->cfg.peer.lazy_push ? "lazy" : "eager");
		ctl_record_double(&r, "connected_for",
				  nb->state == NB_UP ? (double)(now - nb->up_since) / 1e6 : 0.0);
		ctl_record_end(&r);
	}
	reply_records(cl, &b);
}

static void
do_stats(struct ctl_client *cl)
{
	const struct peer_node *p = cl->ctl->node;
	struct ctl_record r;
	struct buf b = {0};

	ctl_record_begin(&r, &b);
	for (size_t i = 0; i < peer_stat_count; i++)
		ctl_record_u64(&r, peer_stat_descs[i].name, peer_node_stat(p, i));
	ctl_record_end(&r);
	reply_records(cl, &b);
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

static void
do_tail(struct ctl_client *cl, const uint8_t *body, size_t len)
{
	const struct output *o = cl->ctl->out;
	uint32_t count, start;
	struct buf b = {0};
	bool follow;

	if (len != 5 || body[0] > 1) {
		reply_end(cl, CTL_ERR_USAGE, "malformed TAIL request");
		return;
	}
	follow = body[0] == 1;
	count = get_u32(body + 1);
	uint32_t kept = output_history_len(o);

	if (count > kept)
		count = kept;
	start = kept - count;
	for (uint32_t i = start; i < kept; i++)
		encode_history(&b, output_history(o, i));
	if (!follow)
		ctl_encode_end(&b, CTL_OK, "");
	if (send_or_drop(cl, &b) && follow)
		cl->following = true;
	buf_free(&b);
}

static void flow_update(struct control *ctl);

static void
do_send(struct ctl_client *cl, const uint8_t *body, size_t len)
{
	struct peer_node *p = cl->ctl->node;
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
	rr = peer_node_broadcast(p, body, len, instant_now(), id, &seq);
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
	flow_update(cl->ctl);
}

/* Sends b, a reply that may be larger than the client's queue limit (MEMBERS: bounded). */
static void
send_large(struct ctl_client *cl, struct buf *b)
{
	size_t limit = cl->conn->queue_limit;

	if (b->len > CONTROL_QUEUE_LIMIT / 2)
		cl->conn->queue_limit = b->len + CONTROL_QUEUE_LIMIT;
	send_or_drop(cl, b);
	cl->conn->queue_limit = limit;
}

static void
encode_member_seed(struct buf *b, const struct members_seed *ms)
{
	struct ctl_record r;

	ctl_record_begin(&r, b);
	ctl_record_str(&r, "seed", ms->addr_str);
	ctl_record_bool(&r, "answered", ms->state == MEMBERS_ANSWERED);
	ctl_record_u64(&r, "registrations", ms->n);
	ctl_record_str(&r, "error", ms->state == MEMBERS_FAILED ? ms->why : "");
	ctl_record_end(&r);
}

static void
encode_member(struct buf *b, const struct members_query *q, const struct member *m)
{
	char a[NODE_ADDR_STRLEN], inc[17] = "";
	struct buf held = {0};
	struct ctl_record r;

	for (uint32_t i = 0; i < m->seeds; i++) {
		const char *s = q->seeds[q->held_by[m->held + i]].addr_str;
		if (i)
			buf_put_u8(&held, ',');
		buf_append(&held, s, strlen(s));
	}
	if (m->incarnation)
		snprintf(inc, sizeof(inc), "%016llx", (unsigned long long)m->incarnation);
	ctl_record_begin(&r, b);
	ctl_record_str(&r, "addr", node_addr_str(&m->addr, a));
	ctl_record_u64(&r, "seeds", m->seeds);
	ctl_record_bytes(&r, "held_by", held.data, (uint32_t)held.len);
	ctl_record_str(&r, "state", m->state == WIRE_MEMBER_SUSPECT ? "suspect" : "alive");
	ctl_record_str(&r, "incarnation", inc);
	ctl_record_double(&r, "lease_age", (double)m->lease_age_ms / 1e3);
	ctl_record_double(&r, "registered_for", (double)m->registered_s);
	ctl_record_end(&r);
	buf_free(&held);
}

/* The answer of a MEMBERS request: the seeds, then the registrations; FAILED when none answered. */
static void
answer_members(struct ctl_client *cl, const struct members_query *q)
{
	struct buf b = {0};
	char text[CTL_MAX_TEXT + 1];
	size_t used = 0;

	if (!cl->waiting_members)
		return;
	cl->waiting_members = false;
	for (uint32_t i = 0; i < q->n_seeds; i++)
		encode_member_seed(&b, &q->seeds[i]);
	for (size_t i = 0; i < q->n; i++)
		encode_member(&b, q, &q->v[i]);
	if (q->answered) {
		ctl_encode_end(&b, CTL_OK, "");
		send_large(cl, &b);
		buf_free(&b);
		return;
	}
	used = (size_t)snprintf(text, sizeof(text), "no seed answered (%u asked)", q->n_seeds);
	for (uint32_t i = 0; i < q->n_seeds && used < sizeof(text); i++)
		used += (size_t)snprintf(text + used, sizeof(text) - used, "; %s: %s",
					 q->seeds[i].addr_str, q->seeds[i].why);
	ctl_encode_end(&b, CTL_ERR_FAILED, text);
	send_large(cl, &b);
	buf_free(&b);
}

void
control_members_answered(struct control *ctl)
{
	const struct members_query *q = peer_node_members_result(ctl->node);

	for (struct ctl_client *cl = ctl->clients, *next; q && cl; cl = next) {
		next = cl->next;
		answer_members(cl, q);
	}
}

static void
do_members(struct ctl_client *cl)
{
	cl->waiting_members = true;
	if (peer_node_members(cl->ctl->node, instant_now()) > 0)
		answer_members(cl, peer_node_members_result(cl->ctl->node));
}

/* A metric of METRICS: value is a u64 unless it is a double (is_double). */
static void
encode_metric(struct buf *b, const char *name, bool counter, const char *help, uint64_t u,
	      double f, bool is_double)
{
	struct ctl_record r;

	ctl_record_begin(&r, b);
	ctl_record_str(&r, "metric", name);
	ctl_record_str(&r, "type", counter ? "counter" : "gauge");
	ctl_record_str(&r, "help", help);
	if (is_double)
		ctl_record_double(&r, "value", f);
	else
		ctl_record_u64(&r, "value", u);
	ctl_record_end(&r);
}

/* Read from the state rather than counted, yet never decreasing: a counter all the same. */
static bool
stat_is_counter(size_t i)
{
	return !peer_stat_descs[i].gauge || strcmp(peer_stat_descs[i].name, "seen_cache_evicted") == 0;
}

static void
do_metrics(struct ctl_client *cl)
{
	struct control *ctl = cl->ctl;
	const struct peer_node *p = ctl->node;
	struct ctl_record r;
	struct buf b = {0};

	ctl_record_begin(&r, &b);
	ctl_record_str(&r, "node", p->self_str);
	ctl_record_str(&r, "version", GOSSIP_VERSION);
	ctl_record_end(&r);
	for (size_t i = 0; i < peer_stat_count; i++)
		encode_metric(&b, peer_stat_descs[i].name, stat_is_counter(i), peer_stat_descs[i].help,
			      peer_node_stat(p, i), 0, false);
	encode_metric(&b, "ready", false, "1 when registered with a majority of the seeds",
		      p->state == PEER_READY, 0, false);
	encode_metric(&b, "neighbours", false, "neighbours, up or not", p->n_neighbours, 0, false);
	encode_metric(&b, "known_peers", false, "peers the seeds list", p->known.n, 0, false);
	encode_metric(&b, "seeds_known", false, "seeds in the seed list", p->n_seeds, 0, false);
	encode_metric(&b, "seeds_registered", false, "seeds this peer is registered with",
		      peer_node_seeds_registered(p), 0, false);
	encode_metric(&b, "uptime_seconds", false, "seconds since the peer started", 0,
		      (double)(now_monotonic_usec() - ctl->started_at) / 1e6, true);
	reply_records(cl, &b);
}

static int
ctl_on_frame(struct conn *c, const uint8_t *frame, size_t len, const char **reason)
{
	struct ctl_client *cl = c->userdata;
	const uint8_t *body = frame + CTL_HDR_LEN;
	size_t blen = len - CTL_HDR_LEN;

	cl->last_active = now_monotonic_usec();
	if (cl->following) {
		*reason = "request while following tail";
		return -EBADMSG;
	}
	if (cl->waiting_members) {
		*reason = "request before the answer to MEMBERS";
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
		do_tail(cl, body, blen);
		return 0;
	case CTL_MEMBERS:
		do_members(cl);
		return 0;
	case CTL_METRICS:
		do_metrics(cl);
		return 0;
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

	cl->ctl->node->stats.malformed_frames++;
	log_warn("control client (pid %d, uid %u): malformed request: %s; closing", (int)cl->pid,
		 (unsigned)cl->uid, reason);
	snprintf(text, sizeof(text), "malformed request: %s", reason);
	reply_end(cl, CTL_ERR_PROTOCOL, text);
}

static void
ctl_on_close(struct conn *c, const char *reason, int error)
{
	struct ctl_client *cl = c->userdata;
	struct control *ctl = cl->ctl;

	if (error && error != ENOBUFS)
		log_debug("control client (pid %d): %s: %s", (int)cl->pid, reason, strerror(error));
	DLIST_REMOVE(&ctl->clients, cl, &ctl->n_clients);
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
caller_allowed(const struct control *ctl, int fd, const struct ucred *cr)
{
	if (cr->uid == 0 || cr->uid == geteuid())
		return true;
	return cr->gid == ctl->gid || caller_in_group(fd, ctl->gid);
}

/*
 * Flow control: while a neighbour's send queue is over half of
 * peer.send_queue_limit, or over CONTROL_PAUSE_BYTES, gossipctl requests are
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
flow_update(struct control *ctl)
{
	size_t most = 0, high = ctl->node->cfg.peer.send_queue_limit / 2;
	bool pause;

	if (high > CONTROL_PAUSE_BYTES)
		high = CONTROL_PAUSE_BYTES;
	for (const struct neighbour *nb = ctl->node->neighbours; nb; nb = nb->next)
		if (queued_to(nb) > most)
			most = queued_to(nb);
	pause = ctl->paused ? most > high / 2 : most > high;
	if (pause == ctl->paused)
		return;
	ctl->paused = pause;
	if (pause)
		ctl->node->stats.control_pauses++;
	log_debug("%s reading gossipctl requests: a neighbour has %zu bytes queued",
		  pause ? "pausing" : "resuming", most);
	for (struct ctl_client *cl = ctl->clients; cl; cl = cl->next)
		conn_set_input_paused(cl->conn, pause);
	if (ctl->flow_src)
		sd_event_source_set_enabled(ctl->flow_src, pause ? SD_EVENT_ON : SD_EVENT_OFF);
}

static int
on_flow_check(sd_event_source *src, void *userdata)
{
	flow_update(userdata);
	return 0;
}

/* At the limit: closes the client idle longest, if idle long enough; false when none is. */
static bool
evict_idlest(struct control *ctl, const struct ctl_client *newcomer)
{
	uint64_t now = now_monotonic_usec();
	struct ctl_client *idlest = NULL;

	for (struct ctl_client *cl = ctl->clients; cl; cl = cl->next)
		if (cl != newcomer && !cl->following && !cl->conn->closing &&
		    (!idlest || cl->last_active < idlest->last_active))
			idlest = cl;
	if (!idlest || now - idlest->last_active < CONTROL_EVICT_IDLE_USEC)
		return false;
	log_warn("control socket: peer.max_control_clients (%u) reached: disconnecting pid %d, idle "
		 "%.1f s, for pid %d", ctl->node->cfg.peer.max_control_clients, (int)idlest->pid,
		 (double)(now - idlest->last_active) / 1e6, (int)newcomer->pid);
	conn_close(idlest->conn, "idle, making room", 0);
	return true;
}

static int
on_idle_check(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct control *ctl = userdata;
	uint64_t now = now_monotonic_usec();

	uint64_t idle = ctl->node->cfg.peer.control_idle_timeout_usec;

	for (struct ctl_client *cl = ctl->clients, *next; cl; cl = next) {
		next = cl->next;
		/* Paused clients are not read: their silence is ours. */
		if (cl->following || ctl->paused || cl->conn->closing || now - cl->last_active < idle)
			continue;
		log_info("control socket: disconnecting pid %d: no request for %.1f s "
			 "(peer.control_idle_timeout)", (int)cl->pid, (double)idle / 1e6);
		conn_close(cl->conn, "idle", 0);
	}
	sd_event_source_set_time(src, now + idle / 4);
	return 0;
}

/* Refuses a client it may not serve; false when refused. */
static bool
admit_client(struct control *ctl, struct ctl_client *cl, int fd, const struct ucred *cr)
{
	uint32_t max = ctl->node->cfg.peer.max_control_clients;

	if (!caller_allowed(ctl, fd, cr)) {
		log_warn("control socket: refusing pid %d uid %u: not root, not uid %u and not in the "
			 "control group",
			 (int)cr->pid, (unsigned)cr->uid, (unsigned)geteuid());
		reply_end(cl, CTL_ERR_PERMISSION, "permission denied");
		conn_close_after_flush(cl->conn, "permission denied");
		return false;
	}
	if (ctl->n_clients > max && !evict_idlest(ctl, cl)) {
		log_warn("control socket: refusing pid %d: peer.max_control_clients (%u) reached",
			 (int)cr->pid, max);
		reply_end(cl, CTL_ERR_FAILED, "too many control clients");
		conn_close_after_flush(cl->conn, "too many clients");
		return false;
	}
	return true;
}

static void
on_ctl_accept(void *ctx, int cfd, const struct sockaddr_storage *ss, socklen_t sl)
{
	struct control *ctl = ctx;
	struct ucred cr = {0};
	socklen_t crl = sizeof(cr);
	struct ctl_client *cl;
	char desc[64];

	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cr, &crl) < 0) {
		log_warn("control socket: cannot read caller credentials: %s", strerror(errno));
		close(cfd);
		return;
	}
	snprintf(desc, sizeof(desc), "control pid %d", (int)cr.pid);
	cl = xcalloc(1, sizeof(*cl));
	cl->ctl = ctl;
	cl->pid = cr.pid;
	cl->uid = cr.uid;
	cl->last_active = now_monotonic_usec();
	cl->conn = conn_new(ctl->loop, cfd, false, &ctl_callbacks, cl, desc);
	if (!cl->conn) {
		free(cl);
		return;
	}
	cl->conn->queue_limit = CONTROL_QUEUE_LIMIT;
	/* A pipelined burst of SENDs yields to gossip and pings every few hundred. */
	cl->conn->read_budget = 32 * 1024;
	conn_set_input_paused(cl->conn, ctl->paused);
	DLIST_PUSH(&ctl->clients, cl, &ctl->n_clients);
	(void)admit_client(ctl, cl, cfd, &cr);
}

void
control_notify_delivery(struct control *ctl, const struct history_entry *h)
{
	struct blob *bl = NULL;
	struct buf b = {0};

	for (struct ctl_client *cl = ctl->clients, *next; cl; cl = next) {
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
				 "disconnecting it", (int)cl->pid, CONTROL_QUEUE_LIMIT);
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

/*
 * Creates the runtime directory dir if needed; false (logged) when it is
 * someone else's to control: gossipctl would not trust a socket in it.
 */
static bool
own_runtime_dir(const char *dir)
{
	char why[PATHS_WHY_LEN];
	int r;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		log_warn("cannot create %s: %s", dir, strerror(errno));
	if ((r = paths_check_dir(dir, why)) == -EPERM) {
		log_error("refusing to put the control socket in %s: %s", dir, why);
		return false;
	}
	return true;
}

/* The socket passed by systemd, or one created at ctl->path: the fd, or -errno (logged). */
static int
open_socket(struct control *ctl, gid_t chown_gid)
{
	int fd = daemon_fds_take(NULL);

	if (fd >= 0) {
		struct sockaddr_un sa;
		socklen_t sl = sizeof(sa);
		/* Report the path systemd actually listens on. */
		if (getsockname(fd, (struct sockaddr *)&sa, &sl) == 0 && sa.sun_path[0] &&
		    sl > offsetof(struct sockaddr_un, sun_path)) {
			free(ctl->path);
			ctl->path = xstrndup(sa.sun_path, sl - offsetof(struct sockaddr_un, sun_path));
		}
		log_info("using the control socket %s passed by systemd", ctl->path);
		return fd;
	}
	{
		char *dir = xstrdup(ctl->path), *slash = strrchr(dir, '/');
		if (slash && slash != dir) {
			*slash = '\0';
			/* Our own runtime directory; a configured path's directory must exist. */
			if (!ctl->node->cfg.peer.control_socket && !own_runtime_dir(dir)) {
				free(dir);
				return -EPERM;
			}
		}
		free(dir);
	}
	fd = daemon_unix_listen(ctl->path, 0660, chown_gid);
	if (fd < 0) {
		log_error("cannot create control socket %s: %s", ctl->path,
			  fd == -EADDRINUSE ? "another process is serving it" : strerror(-fd));
		return fd;
	}
	ctl->path_owned = true;
	return fd;
}

int
control_start(struct control *ctl, struct conn_loop *loop, struct peer_node *node,
	      struct output *out, char *path, const char *log_path)
{
	const char *group = node->cfg.peer.control_group;
	gid_t chown_gid = (gid_t)-1;
	int r;

	*ctl = (struct control){.node = node, .out = out, .loop = loop, .log_path = log_path,
				.started_at = now_monotonic_usec(), .path = path, .fd = -1,
				.gid = getegid()};
	if (sd_event_add_post(loop->event, &ctl->flow_src, on_flow_check, ctl) < 0)
		return -ENOMEM;
	sd_event_source_set_enabled(ctl->flow_src, SD_EVENT_OFF);
	if (sd_event_add_time(loop->event, &ctl->idle_src, CLOCK_MONOTONIC,
			      ctl->started_at + node->cfg.peer.control_idle_timeout_usec / 4,
			      USEC_PER_SEC / 100, on_idle_check,
			      ctl) < 0 ||
	    sd_event_source_set_enabled(ctl->idle_src, SD_EVENT_ON) < 0)
		return -ENOMEM;
	if (group) {
		if (resolve_group(group, &ctl->gid) < 0) {
			log_error("peer.control_group: no group named '%s'", group);
			return -ENOENT;
		}
		chown_gid = ctl->gid;
	}
	if ((ctl->fd = open_socket(ctl, chown_gid)) < 0)
		return ctl->fd;
	r = listener_start(&ctl->listener, loop->event, ctl->fd, 16, "control socket", on_ctl_accept,
			   ctl);
	return r;
}

void
control_stop(struct control *ctl)
{
	for (struct ctl_client *cl = ctl->clients; cl; cl = cl->next) {
		if (cl->following) {
			reply_end(cl, CTL_OK, "peer stopping");
			conn_flush(cl->conn);
		}
	}
	while (ctl->clients)
		conn_close(ctl->clients->conn, "stopping", 0);
	listener_stop(&ctl->listener);
	ctl->flow_src = sd_event_source_disable_unref(ctl->flow_src);
	ctl->idle_src = sd_event_source_disable_unref(ctl->idle_src);
	if (ctl->fd >= 0)
		close(ctl->fd);
	ctl->fd = -1;
	if (ctl->path_owned && ctl->path)
		unlink(ctl->path);
	free(ctl->path);
	ctl->path = NULL;
}
