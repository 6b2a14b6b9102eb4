/* SPDX-License-Identifier: MIT */
/* The peer's overlay: neighbour links, handshake, liveness, dead detection, degree upkeep. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "list.h"
#include "peer_int.h"

const char *
nb_state_name(enum nb_state s)
{
	switch (s) {
	case NB_UP:
		return "up";
	case NB_CONNECTING:
		return "connecting";
	case NB_DOWN:
		return "down";
	}
	return "?";
}

struct neighbour *
overlay_find(const struct peer_node *n, const struct node_addr *a)
{
	for (struct neighbour *nb = n->neighbours; nb; nb = nb->next)
		if (node_addr_equal(&nb->addr, a))
			return nb;
	return NULL;
}

/* Closes nb's link without the close counting against it. */
static void
detach_link(struct peer_node *n, struct neighbour *nb, const char *reason, uint64_t now)
{
	struct link *lk = nb->link;

	if (!lk)
		return;
	tree_link_lost(n, nb, now);
	nb->link = NULL;
	peer_link_close(n, lk, reason, 0, false);
}

static struct neighbour *
neighbour_new(struct peer_node *n, const struct node_addr *a, bool wanted)
{
	struct neighbour *nb = xcalloc(1, sizeof(*nb));
	uint32_t count = n->n_neighbours;

	/* 2^32 neighbours in one run would take centuries of churn; 0 stays "none". */
	nb->serial = ++n->neighbour_serial ? n->neighbour_serial : ++n->neighbour_serial;
	nb->addr = *a;
	node_addr_str(a, nb->addr_str);
	nb->wanted = wanted;
	nb->state = NB_DOWN;
	liveness_init(&nb->live);
	DLIST_PUSH(&n->neighbours, nb, &count);
	n->n_neighbours = count;
	return nb;
}

static void
neighbour_remove(struct peer_node *n, struct neighbour *nb, const char *reason, uint64_t now)
{
	uint32_t count = n->n_neighbours;

	detach_link(n, nb, reason, now);
	DLIST_REMOVE(&n->neighbours, nb, &count);
	n->n_neighbours = count;
	buf_free(&nb->ihave);
	buf_free(&nb->graft);
	addr_set_free(&nb->certs_sent);
	free(nb->grafted);
	free(nb);
	peer_notice(n, NOTICE_STATUS);
}

int
neighbour_send(struct peer_node *n, struct neighbour *nb, struct blob *frame)
{
	int r;

	if (!nb->link)
		return -ENOTCONN;
	r = peer_link_send(n, nb->link, frame);
	if (r == -ENOBUFS) {
		/* A neighbour that cannot keep up is dropped, not waited for. */
		n->stats.neighbours_dropped_slow++;
		peer_log(n, LOG_WARNING,
			 "neighbour %s: send queue over peer.send_queue_limit (%llu bytes); dropping "
			 "the connection",
			 nb->addr_str, (unsigned long long)n->cfg.peer.send_queue_limit);
		detach_link(n, nb, "send queue full", n->now);
		nb->state = NB_DOWN;
	}
	return r;
}

void
neighbour_send_buf(struct peer_node *n, struct neighbour *nb, struct buf *b)
{
	struct blob *bl = blob_from_buf(b);

	(void)neighbour_send(n, nb, bl);
	blob_unref(bl);
	buf_free(b);
}

static void
send_hello(struct peer_node *n, struct link *lk)
{
	struct buf b = {0};

	wire_encode_hello(&b, WIRE_ROLE_PEER, &n->self, n->incarnation);
	(void)peer_link_send_buf(n, lk, &b);
	buf_free(&b);
}

static void
start_connect(struct peer_node *n, struct neighbour *nb, uint64_t now)
{
	int r;

	detach_link(n, nb, "reconnecting", now);
	nb->live.attempt_at = now;
	nb->link = peer_link_connect(n, LINK_NEIGHBOUR, nb, &nb->addr, now,
				     n->cfg.peer.send_queue_limit, &r);
	if (!nb->link) {
		nb->state = NB_DOWN;
		peer_debug(n, "connect to %s failed: %s", nb->addr_str, strerror(-r));
		/* The next tick declares it dead once it has missed enough. */
		(void)liveness_miss(&nb->live, &n->live, r == -ECONNREFUSED, now);
		return;
	}
	nb->state = NB_CONNECTING;
}

static void
declare_dead(struct peer_node *n, struct neighbour *nb, struct instant t)
{
	struct node_addr a = nb->addr;

	n->stats.neighbours_dead++;
	if (nb->live.suspected && !nb->live.hard)
		peer_log(n, LOG_WARNING,
			 "Neighbour %s is dead: suspected for %.1f s, and none of the %u neighbours "
			 "asked reached it",
			 nb->addr_str, (double)(t.mono - nb->live.suspect_since) / 1e6,
			 nb->probes_asked);
	else
		peer_log(n, LOG_WARNING,
			 "Neighbour %s is dead: %u consecutive missed pings or failed reconnects%s",
			 nb->addr_str, nb->live.misses,
			 nb->live.hard ? ", the last refused by its host" : "");
	neighbour_remove(n, nb, "dead", t.mono);
	addr_set_remove(&n->known, &a);
	addr_set_add(&n->avoid, &a);
	seeds_report_dead(n, &a, t);
}

static bool
exclude_neighbour(const struct node_addr *a, void *ctx)
{
	struct peer_node *n = ctx;

	return node_addr_equal(a, &n->self) || overlay_find(n, a);
}

static bool
exclude_candidate(const struct node_addr *a, void *ctx)
{
	struct peer_node *n = ctx;

	return node_addr_equal(a, &n->self) || overlay_find(n, a) || addr_set_contains(&n->avoid, a);
}

void
overlay_welcome(struct peer_node *n, const struct node_addr *a, uint64_t now)
{
	struct neighbour *nb;
	uint32_t wanted = 0;

	for (nb = n->neighbours; nb; nb = nb->next)
		wanted += nb->wanted;
	/* One beyond peer.degree at most: churn must not grow the degree step by step. */
	if (n->state == PEER_LEAVING || n->n_neighbours >= n->cfg.peer.max_neighbours ||
	    wanted > n->cfg.peer.degree || exclude_candidate(a, n))
		return;
	nb = neighbour_new(n, a, true);
	peer_debug(n, "connecting to newcomer %s", nb->addr_str);
	n->stats.newcomers_dialled++;
	start_connect(n, nb, now);
}

void
overlay_maintain(struct peer_node *n, uint64_t now)
{
	uint32_t wanted = 0;
	struct node_addr a;

	if (n->state == PEER_LEAVING)
		return;
	for (struct neighbour *nb = n->neighbours; nb; nb = nb->next)
		wanted += nb->wanted;
	while (wanted < n->cfg.peer.degree && n->n_neighbours < n->cfg.peer.max_neighbours &&
	       addr_set_pick(&n->known, &n->rng, exclude_candidate, n, &a)) {
		struct neighbour *nb = neighbour_new(n, &a, true);
		peer_debug(n, "connecting to new neighbour %s", nb->addr_str);
		start_connect(n, nb, now);
		wanted++;
	}
}

static void
neighbour_up(struct peer_node *n, struct neighbour *nb, struct link *lk, uint64_t now)
{
	struct log_fields f = {.event = "neighbour-up", .remote = nb->addr_str};

	nb->link = lk;
	lk->owner = nb;
	lk->kind = LINK_NEIGHBOUR;
	lk->queue_limit = n->cfg.peer.send_queue_limit;
	lk->max_frame = 0; /* a neighbour's messages may be as large as the protocol allows */
	nb->state = NB_UP;
	nb->up_since = now;
	/*
	 * What we dialled, we chose. An inbound plaintext link in a network with
	 * TLS (tls.mode optional) proves nothing of the address it claims.
	 * Without TLS nothing is proven anyway, and the prototype's behaviour
	 * stays: such a neighbour is redialled and reported like any other.
	 */
	nb->unverified = !lk->outbound && !lk->identity && n->verifying;
	nb->lazy = false; /* a new link starts in the tree; duplicates prune it */
	tree_link_up(n, nb, now);
	liveness_heard(&nb->live);
	nb->live.awaiting = false;
	addr_set_remove(&n->avoid, &nb->addr);
	addr_set_remove(&n->refusers, &nb->addr);
	authn_link_up(n, nb, lk);
	peer_event(n, LOG_INFO, &f, "Connected to neighbour %s (%s)", nb->addr_str,
		   lk->outbound ? "outgoing" : "incoming");
	peer_notice(n, NOTICE_STATUS);
}

/* HELLO on an inbound connection from another peer: it becomes a neighbour, or is refused. */
static int
pending_hello(struct peer_node *n, struct link *lk, const struct wire_msg *m, uint64_t now,
	      const char **reason)
{
	struct neighbour *nb;
	char as[NODE_ADDR_STRLEN];

	node_addr_str(&m->hello.addr, as);
	if (node_addr_equal(&m->hello.addr, &n->self)) {
		*reason = "HELLO claims our own address";
		return -EBADMSG;
	}
	if (!peer_claim_ok(n, lk, &m->hello.addr, "HELLO")) {
		peer_link_refuse(n, lk, WIRE_ERR_REFUSED, "the certificate does not list that address");
		return 0;
	}
	if (n->state == PEER_LEAVING) {
		peer_link_refuse(n, lk, WIRE_ERR_REFUSED, "peer is leaving");
		return 0;
	}
	nb = overlay_find(n, &m->hello.addr);
	if (nb && nb->link && nb->state == NB_UP) {
		/*
		 * A live link stays: an inbound HELLO never displaces it, or anyone
		 * could take over a neighbour's slot. Only a verified one replaces
		 * a plaintext one (optional mode).
		 */
		if (!nb->unverified || !lk->identity) {
			peer_debug(n, "HELLO from %s: already connected", as);
			peer_link_refuse(n, lk, WIRE_ERR_DUPLICATE, "already connected");
			return 0;
		}
		detach_link(n, nb, "replaced by a verified link", now);
	} else if (nb && nb->link && nb->state == NB_CONNECTING) {
		/* Both ends connecting at once: keep the link the smaller address opened. */
		if (node_addr_cmp(&n->self, &m->hello.addr) < 0) {
			peer_debug(n, "duplicate link from %s refused (ours wins)", as);
			peer_link_refuse(n, lk, WIRE_ERR_DUPLICATE, "already connected");
			return 0;
		}
		peer_debug(n, "duplicate link from %s: keeping theirs", as);
		detach_link(n, nb, "duplicate link", now);
	}
	if (!nb) {
		if (n->n_neighbours >= n->cfg.peer.max_neighbours) {
			peer_log_limited(n, LOG_INFO, "refusing neighbour %s: peer.max_neighbours (%u) reached",
				 as, n->cfg.peer.max_neighbours);
			peer_link_refuse(n, lk, WIRE_ERR_FULL, "too many neighbours");
			return 0;
		}
		nb = neighbour_new(n, &m->hello.addr, false);
	}
	DLIST_REMOVE(&n->pending, lk, &n->n_pending);
	send_hello(n, lk);
	neighbour_up(n, nb, lk, now);
	/*
	 * Proven alive, and its address by its certificate: learn it even if
	 * the seeds have not told us yet. A plaintext claim is not learned when
	 * certificates could have proven it (tls.mode optional).
	 */
	if (lk->identity || !n->verifying)
		addr_set_add(&n->known, &nb->addr);
	return 0;
}

static void
handle_error_frame(struct peer_node *n, struct neighbour *nb, const struct wire_msg *m,
		   uint64_t now)
{
	switch (m->error.code) {
	case WIRE_ERR_DUPLICATE:
		/* Their link to us wins; wait for it rather than count a miss. */
		peer_debug(n, "neighbour %s: duplicate link, using theirs", nb->addr_str);
		detach_link(n, nb, "duplicate link", now);
		nb->state = NB_CONNECTING;
		nb->live.attempt_at = now;
		break;
	case WIRE_ERR_FULL:
	case WIRE_ERR_REFUSED:
		peer_log(n, LOG_INFO, "neighbour %s refused the link: %s", nb->addr_str, m->error.text);
		addr_set_add(&n->avoid, &nb->addr);
		addr_set_add(&n->refusers, &nb->addr);
		neighbour_remove(n, nb, "refused", now);
		overlay_maintain(n, now);
		break;
	default:
		peer_log_limited(n, LOG_WARNING, "neighbour %s reported an error (code %u): %s", nb->addr_str,
			 m->error.code, m->error.text);
		break;
	}
}

/* Indirect probes and anti-entropy: only over a link that said HELLO (and, for AE, verified). */
static int
repair_frame(struct peer_node *n, struct neighbour *nb, const struct wire_msg *m, struct instant t,
	     const char **reason)
{
	bool ae = m->type == WIRE_AE_SUMMARY || m->type == WIRE_AE_IDS;

	if (nb->state != NB_UP || (ae && nb->unverified)) {
		*reason = ae ? "anti-entropy frame before HELLO or on an unverified link"
			     : "probe frame before HELLO";
		return -EBADMSG;
	}
	switch (m->type) {
	case WIRE_AE_SUMMARY:
		ae_summary(n, nb, m, t);
		break;
	case WIRE_AE_IDS:
		ae_ids(n, nb, m, t);
		break;
	case WIRE_PING_REQ:
		probe_request(n, nb, m, t);
		break;
	default:
		probe_ack(n, nb, m, t);
		break;
	}
	return 0;
}

static int
neighbour_frame(struct peer_node *n, struct neighbour *nb, struct link *lk, const uint8_t *frame,
		size_t len, const struct wire_msg *m, bool last_in_read, struct instant t,
		const char **reason)
{
	/* Any frame is proof of life: a busy link is never declared silent. */
	liveness_heard(&nb->live);
	nb->heard_at = t.mono;
	if (n->n_iprobes)
		probe_heard(n, nb, t);
	switch (m->type) {
	case WIRE_HELLO:
		if (nb->state != NB_CONNECTING || !node_addr_equal(&m->hello.addr, &nb->addr) ||
		    m->hello.role != WIRE_ROLE_PEER) {
			*reason = nb->state == NB_CONNECTING ? "HELLO from an unexpected node"
							     : "unexpected HELLO";
			return -EBADMSG;
		}
		neighbour_up(n, nb, lk, t.mono);
		return 0;
	case WIRE_GOSSIP:
		if (nb->state != NB_UP) {
			*reason = "GOSSIP before HELLO";
			return -EBADMSG;
		}
		return gossip_receive(n, nb, frame, len, m, last_in_read, t, reason);
	case WIRE_PING:
		tree_carried(n, nb, m, t.mono);
		tree_send_ping(n, nb, WIRE_PONG, m->nonce);
		return 0;
	case WIRE_PONG:
		if (liveness_pong(&nb->live, m->nonce, t.mono))
			n->stats.pongs_received++;
		tree_carried(n, nb, m, t.mono);
		return 0;
	case WIRE_LEAVE: {
		struct log_fields f = {.event = "left", .remote = nb->addr_str};
		peer_event(n, LOG_INFO, &f, "Neighbour %s left", nb->addr_str);
		addr_set_remove(&n->known, &nb->addr);
		neighbour_remove(n, nb, "left", t.mono);
		overlay_maintain(n, t.mono);
		return 0;
	}
	case WIRE_ERROR:
		handle_error_frame(n, nb, m, t.mono);
		return 0;
	case WIRE_IHAVE:
	case WIRE_GRAFT:
	case WIRE_PRUNE:
		if (nb->state != NB_UP) {
			*reason = "broadcast tree frame before HELLO";
			return -EBADMSG;
		}
		tree_on_frame(n, nb, m, t.mono);
		return 0;
	case WIRE_CERT:
	case WIRE_CERT_REQ:
		if (nb->state != NB_UP) {
			*reason = "certificate frame before HELLO";
			return -EBADMSG;
		}
		authn_frame(n, nb, m, t);
		return 0;
	case WIRE_AE_SUMMARY:
	case WIRE_AE_IDS:
	case WIRE_PING_REQ:
	case WIRE_PING_ACK:
		return repair_frame(n, nb, m, t, reason);
	default:
		*reason = "unexpected frame type between peers";
		return -EBADMSG;
	}
}

/* A frame on a link that is not a neighbour's yet: HELLO, or a seed's probe. */
static int
pending_frame(struct peer_node *n, struct link *lk, const struct wire_msg *m, uint64_t now,
	      const char **reason)
{
	struct buf b = {0};

	if (lk->kind == LINK_PROBE) {
		if (m->type == WIRE_PING) {
			wire_encode_nonce(&b, WIRE_PONG, m->nonce);
			(void)peer_link_send_buf(n, lk, &b);
			buf_free(&b);
		}
		return 0;
	}
	if (m->type != WIRE_HELLO) {
		*reason = "expected HELLO first";
		return -EBADMSG;
	}
	if (m->hello.role == WIRE_ROLE_SEED || m->hello.role == WIRE_ROLE_PROBE) {
		/* Someone doubts we are alive: answer, and tell the seeds too. */
		lk->kind = LINK_PROBE;
		send_hello(n, lk);
		seeds_refute(n, now);
		return 0;
	}
	return pending_hello(n, lk, m, now, reason);
}

int
overlay_frame(struct peer_node *n, struct link *lk, const uint8_t *frame, size_t len,
	      const struct wire_msg *m, bool last_in_read, struct instant t, const char **reason)
{
	if (lk->kind == LINK_IPROBE)
		return probe_frame(n, lk, m, t);
	if (lk->kind != LINK_NEIGHBOUR)
		return pending_frame(n, lk, m, t.mono, reason);
	return neighbour_frame(n, lk->owner, lk, frame, len, m, last_in_read, t, reason);
}

void
overlay_connected(struct peer_node *n, struct link *lk)
{
	struct neighbour *nb = lk->owner;

	if (lk->kind == LINK_IPROBE) {
		probe_connected(n, lk, (struct instant){n->now, 0});
		return;
	}
	if (lk->kind == LINK_NEIGHBOUR && !peer_claim_ok(n, lk, &nb->addr, "the connection")) {
		/* Whoever answered at that address is not who the address belongs to. */
		nb->link = NULL;
		peer_link_close(n, lk, "certificate does not list the address dialled", EPERM, false);
		nb->state = NB_DOWN;
		addr_set_add(&n->avoid, &nb->addr);
		addr_set_add(&n->refusers, &nb->addr);
		(void)liveness_miss(&nb->live, &n->live, true, n->now);
		return;
	}
	send_hello(n, lk);
}

void
overlay_closed(struct peer_node *n, struct link *lk, const char *reason, int error,
	       struct instant t)
{
	struct neighbour *nb = lk->owner;

	if (lk->kind == LINK_IPROBE) {
		probe_closed(n, lk, reason, error);
		return;
	}
	if (error == EBADMSG || (error && lk->kind != LINK_NEIGHBOUR))
		peer_log_link_error(n, lk, lk->kind == LINK_NEIGHBOUR ? "neighbour" : "inbound",
				    reason, error);
	if (lk->kind != LINK_NEIGHBOUR) {
		DLIST_REMOVE(&n->pending, lk, &n->n_pending);
		return;
	}
	tree_link_lost(n, nb, t.mono);
	nb->link = NULL;
	if (nb->unverified) {
		/* Nothing proved it was there: it is neither redialled nor reported dead. */
		peer_debug(n, "lost the plaintext link from %s: %s", nb->addr_str, reason);
		neighbour_remove(n, nb, "lost", t.mono);
		overlay_maintain(n, t.mono);
		return;
	}
	if (error == EPROTO)
		peer_log_limited(n, LOG_WARNING, "neighbour %s: %s", nb->addr_str, reason);
	else if (nb->state == NB_UP)
		peer_log(n, LOG_INFO, "lost connection to neighbour %s: %s%s%s", nb->addr_str, reason,
			 error ? ": " : "", error ? strerror(error) : "");
	else
		peer_debug(n, "connect to %s failed: %s%s%s", nb->addr_str, reason, error ? ": " : "",
			   error ? strerror(error) : "");
	nb->state = NB_DOWN;
	if (liveness_miss(&nb->live, &n->live, error == ECONNREFUSED, t.mono))
		declare_dead(n, nb, t);
	peer_notice(n, NOTICE_STATUS);
}

struct link *
overlay_accept(struct peer_node *n, void *io, const struct node_addr *remote, uint64_t now)
{
	char desc[NODE_ADDR_STRLEN];
	struct link *lk;

	node_addr_str(remote, desc);
	if (n->n_pending >= PEER_MAX_PENDING &&
	    !(n->n_pending < PEER_MAX_PENDING + PEER_RESERVED_PENDING &&
	      peer_node_is_seed_host(n, remote))) {
		n->stats.connections_refused++;
		env_logf_limited(&n->env, &n->accept_log, now, LOG_WARNING, NULL,
				 "refusing connection from %s: %d connections already waiting for "
				 "HELLO", desc, PEER_MAX_PENDING);
		return NULL;
	}
	lk = peer_link_new(n, LINK_PENDING, NULL, false, now, desc, PEER_PENDING_QUEUE_LIMIT);
	lk->io = io;
	lk->remote = *remote;
	lk->max_frame = PEER_PENDING_MAX_FRAME;
	DLIST_PUSH(&n->pending, lk, &n->n_pending);
	n->stats.connections_accepted++;
	return lk;
}

/*
 * On a loaded host the answer may be late for reasons of our own: our PING
 * waits behind a backlog queued to this neighbour, or its frames wait in our
 * socket because this process was not scheduled. While the backlog drains
 * the neighbour is reading (TCP takes more only when it reads), and unread
 * bytes from it are as good as a frame: it is alive. A crashed or hung
 * neighbour does neither, and misses count.
 */
static void
check_progress(struct peer_node *n, struct neighbour *nb)
{
	struct link_progress pr = {0};

	if (nb->state != NB_UP || !nb->link)
		return;
	n->env.ops->progress(n->env.ctx, nb->link, nb->live.awaiting, &pr);
	if ((pr.queued && pr.bytes_out != nb->drained_mark) || (nb->live.awaiting && pr.unread > 0))
		liveness_heard(&nb->live);
	nb->drained_mark = pr.bytes_out;
}

/* One neighbour's liveness step; returns whether it was up and missed a ping. */
static bool
tick_neighbour(struct peer_node *n, struct neighbour *nb, const struct liveness_params *live,
	       struct instant t)
{
	bool missed = nb->state == NB_UP && liveness_ping_overdue(&nb->live, t.mono, live);

	switch (liveness_tick(&nb->live, nb->state, t.mono, live, &n->rng)) {
	case LIVENESS_WAIT:
		/*
		 * Heard from, so no PING is due; but ids wait for it (lazy links
		 * carrying announcements are heard from all the time): they ride
		 * on a PING now, which a quiet link would have sent, rather than
		 * in an IHAVE of their own later.
		 */
		if (!tree_carry_due(n, nb, t.mono) || !liveness_start_ping(&nb->live, t.mono, &n->rng))
			break;
		n->stats.pings_to_carry++;
		/* fall through */
	case LIVENESS_PING:
		tree_send_ping(n, nb, WIRE_PING, nb->live.nonce);
		n->stats.pings_sent++;
		break;
	case LIVENESS_RECONNECT:
		start_connect(n, nb, t.mono);
		break;
	case LIVENESS_DEAD:
		if (nb->live.suspected && !nb->live.hard && probe_expired(n, nb, t))
			break;
		declare_dead(n, nb, t);
		return missed;
	}
	if (nb->live.suspected && nb->probed_for != nb->live.suspicions && n->live.suspicion_usec)
		probe_suspect(n, nb, t);
	return missed;
}

/* Inbound connections that never said HELLO, and finished probes. */
static void
expire_pending(struct peer_node *n, uint64_t now)
{
	for (struct link *lk = n->pending, *next; lk; lk = next) {
		next = lk->next;
		if (now - lk->opened_at <= PEER_HANDSHAKE_TIMEOUT_USEC)
			continue;
		if (lk->kind == LINK_PENDING) {
			peer_log_link_error(n, lk, "inbound", "no HELLO in time", ETIMEDOUT);
			peer_link_close(n, lk, "no HELLO in time", ETIMEDOUT, false);
		} else {
			peer_link_close(n, lk, "probe idle", 0, false);
		}
	}
}

/*
 * Short of peer.degree with every candidate avoided (after a mass restart,
 * every peer refused the others' first connects while starting): one avoided
 * peer the seeds still list is dialled, a tick, so no peer stays alone until
 * the avoidance ends.
 */
static void
dial_avoided(struct peer_node *n, uint64_t now)
{
	uint32_t wanted = 0;
	struct node_addr a;

	for (struct neighbour *nb = n->neighbours; nb; nb = nb->next)
		wanted += nb->wanted;
	if (n->state != PEER_READY || wanted >= n->cfg.peer.degree ||
	    n->n_neighbours >= n->cfg.peer.max_neighbours || !n->avoid.n ||
	    !addr_set_pick(&n->known, &n->rng, exclude_neighbour, n, &a) ||
	    !addr_set_contains(&n->avoid, &a) || addr_set_contains(&n->refusers, &a))
		return; /* not one that refused us (full): it would again */
	addr_set_remove(&n->avoid, &a);
	n->stats.avoided_redialled++;
	overlay_welcome(n, &a, now);
}

void
overlay_tick(struct peer_node *n, struct instant t)
{
	struct liveness_params live = liveness_scaled(&n->live, n->health.score);
	unsigned up = 0, missed = 0;
	uint32_t was = n->health.score;

	for (struct neighbour *nb = n->neighbours, *next; nb; nb = next) {
		next = nb->next;
		check_progress(n, nb);
		up += nb->state == NB_UP;
		missed += tick_neighbour(n, nb, &live, t);
	}
	if (local_health_misses(&n->health, missed, up)) {
		char why[64];
		snprintf(why, sizeof(why), "%u of %u neighbours missed a ping", missed, up);
		peer_health_changed(n, was, why);
	}
	expire_pending(n, t.mono);
	probe_tick(n, t);
	dial_avoided(n, t.mono);
	if (t.mono - n->avoid_cleared_at > 2 * n->cfg.seed.lease_time_usec) {
		addr_set_clear(&n->avoid);
		addr_set_clear(&n->refusers);
		n->avoid_cleared_at = t.mono;
	}
	overlay_maintain(n, t.mono);
}

void
overlay_leave(struct peer_node *n)
{
	while (n->neighbours) {
		struct neighbour *nb = n->neighbours;
		struct buf b = {0};

		if (nb->state == NB_UP && nb->link) {
			struct link *lk = nb->link;
			wire_encode_addr_msg(&b, WIRE_LEAVE, &n->self);
			(void)peer_link_send_buf(n, lk, &b);
			buf_free(&b);
			nb->link = NULL;
			peer_link_close(n, lk, "leaving", 0, true);
		}
		neighbour_remove(n, nb, "leaving", 0);
	}
	while (n->pending)
		peer_link_close(n, n->pending, "leaving", 0, false);
	probe_free(n);
}

void
overlay_start(struct peer_node *n)
{
	n->live = (struct liveness_params){n->cfg.peer.ping_interval_usec,
					   n->cfg.peer.ping_timeout_usec, n->cfg.peer.ping_misses,
					   n->cfg.peer.suspicion_timeout_usec,
					   n->cfg.peer.connect_timeout_usec, n->cfg.peer.adaptive_timers};
}

void
overlay_free(struct peer_node *n)
{
	probe_free(n);
	while (n->neighbours)
		neighbour_remove(n, n->neighbours, "stopping", 0);
	while (n->pending)
		peer_link_close(n, n->pending, "stopping", 0, false);
	addr_set_free(&n->known);
	addr_set_free(&n->avoid);
	addr_set_free(&n->refusers);
	addr_set_free(&n->listed);
	addr_set_free(&n->departed);
}
