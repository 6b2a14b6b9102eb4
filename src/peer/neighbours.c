/* SPDX-License-Identifier: MIT */
/* gossip-peer overlay: neighbour connections, handshake, liveness, dead detection, degree upkeep. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "peer.h"

/* An inbound connection must say HELLO within this time. */
#define HANDSHAKE_TIMEOUT_USEC (5 * USEC_PER_SEC)

static int link_on_frame(struct conn *c, const uint8_t *frame, size_t len, const char **reason);
static void link_on_connected(struct conn *c);
static void link_on_close(struct conn *c, const char *reason, int error);

static const struct conn_callbacks link_callbacks = {
	.frame_check = wire_frame_check,
	.on_frame = link_on_frame,
	.on_connected = link_on_connected,
	.on_close = link_on_close,
};

const char *
neighbour_state_name(enum link_state s)
{
	switch (s) {
	case LINK_UP:
		return "up";
	case LINK_CONNECTING:
		return "connecting";
	case LINK_DOWN:
		return "down";
	}
	return "?";
}

struct neighbour *
find_neighbour(struct peer *p, const struct node_addr *a)
{
	for (struct neighbour *nb = p->neighbours; nb; nb = nb->next)
		if (node_addr_equal(&nb->addr, a))
			return nb;
	return NULL;
}

static void
pending_add(struct peer *p, struct link *lk)
{
	lk->next = p->pending;
	if (p->pending)
		p->pending->prev = lk;
	p->pending = lk;
	p->n_pending++;
}

static void
pending_remove(struct peer *p, struct link *lk)
{
	if (lk->prev)
		lk->prev->next = lk->next;
	else
		p->pending = lk->next;
	if (lk->next)
		lk->next->prev = lk->prev;
	lk->prev = lk->next = NULL;
	p->n_pending--;
}

/* Detaches nb's connection without the close counting against it. */
static void
detach_conn(struct neighbour *nb, const char *reason)
{
	struct conn *c = nb->conn;

	if (!c)
		return;
	tree_link_lost(nb->peer, nb);
	nb->conn = NULL;
	nb->link->owner = NULL;
	nb->link = NULL;
	conn_close(c, reason, 0);
}

static struct neighbour *
neighbour_new(struct peer *p, const struct node_addr *a, bool wanted)
{
	struct neighbour *nb = xcalloc(1, sizeof(*nb));

	nb->peer = p;
	/* 2^32 neighbours in one run would take centuries of churn; 0 stays "none". */
	nb->serial = ++p->neighbour_serial ? p->neighbour_serial : ++p->neighbour_serial;
	nb->addr = *a;
	node_addr_str(a, nb->addr_str);
	nb->wanted = wanted;
	nb->state = LINK_DOWN;
	liveness_init(&nb->live);
	nb->next = p->neighbours;
	if (p->neighbours)
		p->neighbours->prev = nb;
	p->neighbours = nb;
	p->n_neighbours++;
	return nb;
}

static void
neighbour_remove(struct neighbour *nb, const char *reason)
{
	struct peer *p = nb->peer;

	detach_conn(nb, reason);
	if (nb->prev)
		nb->prev->next = nb->next;
	else
		p->neighbours = nb->next;
	if (nb->next)
		nb->next->prev = nb->prev;
	p->n_neighbours--;
	buf_free(&nb->ihave);
	buf_free(&nb->graft);
	free(nb);
	peer_update_status(p);
}

int
neighbour_send_blob(struct neighbour *nb, struct blob *frame)
{
	int r;

	if (!nb->conn)
		return -ENOTCONN;
	r = conn_send_blob(nb->conn, frame);
	if (r == -ENOBUFS) {
		/* A neighbour that cannot keep up is dropped, not waited for. */
		nb->peer->stats.neighbours_dropped_slow++;
		log_warn("neighbour %s: send queue over peer.send_queue_limit (%llu bytes); dropping "
			 "the connection", nb->addr_str, (unsigned long long)nb->peer->cfg.peer.send_queue_limit);
		detach_conn(nb, "send queue full");
		nb->state = LINK_DOWN;
	}
	return r;
}

void
neighbour_send_buf(struct neighbour *nb, struct buf *b)
{
	struct blob *bl = blob_from_buf(b);
	(void)neighbour_send_blob(nb, bl);
	blob_unref(bl);
	buf_free(b);
}

static void
send_hello(struct peer *p, struct conn *c)
{
	struct buf b = {0};
	wire_encode_hello(&b, WIRE_ROLE_PEER, &p->self, p->incarnation);
	(void)conn_send_buf(c, &b);
	buf_free(&b);
}

static void
start_connect(struct neighbour *nb)
{
	struct peer *p = nb->peer;
	struct link *lk;
	int r;

	detach_conn(nb, "reconnecting");
	lk = xcalloc(1, sizeof(*lk));
	*lk = (struct link){.kind = LINK_NEIGHBOUR, .peer = p, .owner = nb, .outbound = true,
			    .opened_at = now_monotonic_usec()};
	nb->live.attempt_at = lk->opened_at;
	r = conn_connect(&p->loop, &nb->addr, &link_callbacks, lk, &nb->conn);
	if (r < 0) {
		free(lk);
		nb->conn = NULL;
		nb->state = LINK_DOWN;
		log_debug("connect to %s failed: %s", nb->addr_str, strerror(-r));
		if (liveness_miss(&nb->live, &p->live))
			nb->state = LINK_DOWN; /* the next tick declares it dead */
		return;
	}
	nb->conn->queue_limit = p->cfg.peer.send_queue_limit;
	lk->conn = nb->conn;
	nb->link = lk;
	nb->state = LINK_CONNECTING;
}

static void
declare_dead(struct neighbour *nb)
{
	struct peer *p = nb->peer;
	struct node_addr a = nb->addr;

	p->stats.neighbours_dead++;
	log_warn("Neighbour %s is dead: %u consecutive missed pings or failed reconnects",
		 nb->addr_str, nb->live.misses);
	neighbour_remove(nb, "dead");
	addr_set_remove(&p->known, &a);
	addr_set_add(&p->avoid, &a);
	seeds_report_dead(p, &a);
}

static bool
exclude_candidate(const struct node_addr *a, void *ctx)
{
	struct peer *p = ctx;
	return node_addr_equal(a, &p->self) || find_neighbour(p, a) ||
	       addr_set_contains(&p->avoid, a);
}

/* Picks replacements until this peer has `degree` neighbours of its own choosing. */
void
neighbours_maintain(struct peer *p)
{
	uint32_t wanted = 0;
	struct node_addr a;

	if (p->state == PEER_LEAVING)
		return;
	for (struct neighbour *nb = p->neighbours; nb; nb = nb->next)
		if (nb->wanted)
			wanted++;
	while (wanted < p->cfg.peer.degree && p->n_neighbours < p->cfg.peer.max_neighbours &&
	       addr_set_pick(&p->known, &p->rng, exclude_candidate, p, &a)) {
		struct neighbour *nb = neighbour_new(p, &a, true);
		log_debug("connecting to new neighbour %s", nb->addr_str);
		start_connect(nb);
		wanted++;
	}
}

static void
neighbour_up(struct neighbour *nb, struct conn *c, struct link *lk)
{
	struct peer *p = nb->peer;
	struct log_fields f = {.event = "neighbour-up", .remote = nb->addr_str};

	nb->conn = c;
	nb->link = lk;
	lk->owner = nb;
	lk->conn = c;
	lk->kind = LINK_NEIGHBOUR;
	c->queue_limit = p->cfg.peer.send_queue_limit;
	nb->state = LINK_UP;
	nb->up_since = now_monotonic_usec();
	nb->lazy = false; /* a new link starts in the tree; duplicates prune it */
	liveness_heard(&nb->live);
	nb->live.awaiting = false;
	addr_set_remove(&p->avoid, &nb->addr);
	log_event(LOG_INFO, &f, "Connected to neighbour %s (%s)", nb->addr_str,
		  lk->outbound ? "outgoing" : "incoming");
	peer_update_status(p);
}

static void
send_error_close(struct conn *c, uint16_t code, const char *text)
{
	struct buf b = {0};
	wire_encode_error(&b, code, text);
	(void)conn_send_buf(c, &b);
	buf_free(&b);
	conn_close_after_flush(c, text);
}

/* HELLO on an inbound connection: it becomes a neighbour, a seed probe, or is refused. */
static int
pending_hello(struct peer *p, struct conn *c, struct link *lk, const struct wire_msg *m,
	      const char **reason)
{
	struct neighbour *nb;
	char as[NODE_ADDR_STRLEN];

	if (m->hello.role == WIRE_ROLE_SEED) {
		lk->kind = LINK_PROBE;
		send_hello(p, c);
		return 0;
	}
	node_addr_str(&m->hello.addr, as);
	if (node_addr_equal(&m->hello.addr, &p->self)) {
		*reason = "HELLO claims our own address";
		return -EBADMSG;
	}
	if (p->state == PEER_LEAVING) {
		send_error_close(c, WIRE_ERR_REFUSED, "peer is leaving");
		return 0;
	}
	nb = find_neighbour(p, &m->hello.addr);
	if (nb && nb->conn && nb->state != LINK_DOWN) {
		/* Two links between the same pair: keep the one the smaller address opened. */
		if (node_addr_cmp(&p->self, &m->hello.addr) < 0) {
			log_debug("duplicate link from %s refused (ours wins)", as);
			send_error_close(c, WIRE_ERR_DUPLICATE, "already connected");
			return 0;
		}
		log_debug("duplicate link from %s: keeping theirs", as);
		detach_conn(nb, "duplicate link");
	}
	if (!nb) {
		if (p->n_neighbours >= p->cfg.peer.max_neighbours) {
			log_info("refusing neighbour %s: peer.max_neighbours (%u) reached", as,
				 p->cfg.peer.max_neighbours);
			send_error_close(c, WIRE_ERR_FULL, "too many neighbours");
			return 0;
		}
		nb = neighbour_new(p, &m->hello.addr, false);
	}
	pending_remove(p, lk);
	send_hello(p, c);
	neighbour_up(nb, c, lk);
	/* It is alive and talking to us: learn it even if the seeds have not told us yet. */
	addr_set_add(&p->known, &nb->addr);
	return 0;
}

static void
handle_error_frame(struct neighbour *nb, const struct wire_msg *m)
{
	struct peer *p = nb->peer;

	switch (m->error.code) {
	case WIRE_ERR_DUPLICATE:
		/* Their link to us wins; wait for it rather than count a miss. */
		log_debug("neighbour %s: duplicate link, using theirs", nb->addr_str);
		detach_conn(nb, "duplicate link");
		nb->state = LINK_CONNECTING;
		nb->live.attempt_at = now_monotonic_usec();
		break;
	case WIRE_ERR_FULL:
	case WIRE_ERR_REFUSED:
		log_info("neighbour %s refused the link: %s", nb->addr_str, m->error.text);
		addr_set_add(&p->avoid, &nb->addr);
		neighbour_remove(nb, "refused");
		neighbours_maintain(p);
		break;
	default:
		log_warn("neighbour %s reported an error (code %u): %s", nb->addr_str, m->error.code,
			 m->error.text);
		break;
	}
}

static int
neighbour_frame(struct neighbour *nb, struct conn *c, const uint8_t *frame, size_t len,
		const struct wire_msg *m, const char **reason)
{
	struct peer *p = nb->peer;
	struct buf b = {0};

	/* Any frame is proof of life: a busy link is never declared silent. */
	liveness_heard(&nb->live);
	switch (m->type) {
	case WIRE_HELLO:
		if (nb->state != LINK_CONNECTING || !node_addr_equal(&m->hello.addr, &nb->addr) ||
		    m->hello.role != WIRE_ROLE_PEER) {
			*reason = nb->state == LINK_CONNECTING ? "HELLO from an unexpected node"
							       : "unexpected HELLO";
			return -EBADMSG;
		}
		neighbour_up(nb, c, nb->link);
		return 0;
	case WIRE_GOSSIP:
		if (nb->state != LINK_UP) {
			*reason = "GOSSIP before HELLO";
			return -EBADMSG;
		}
		return gossip_receive(p, nb, frame, len, m, reason);
	case WIRE_PING:
		wire_encode_nonce(&b, WIRE_PONG, m->nonce);
		neighbour_send_buf(nb, &b);
		return 0;
	case WIRE_PONG:
		if (liveness_pong(&nb->live, m->nonce, now_monotonic_usec()))
			p->stats.pongs_received++;
		return 0;
	case WIRE_LEAVE: {
		struct log_fields f = {.event = "left", .remote = nb->addr_str};
		log_event(LOG_INFO, &f, "Neighbour %s left", nb->addr_str);
		addr_set_remove(&p->known, &nb->addr);
		neighbour_remove(nb, "left");
		neighbours_maintain(p);
		return 0;
	}
	case WIRE_ERROR:
		handle_error_frame(nb, m);
		return 0;
	case WIRE_IHAVE:
	case WIRE_GRAFT:
	case WIRE_PRUNE:
		if (nb->state != LINK_UP) {
			*reason = "broadcast tree frame before HELLO";
			return -EBADMSG;
		}
		tree_on_frame(p, nb, m);
		return 0;
	default:
		*reason = "unexpected frame type between peers";
		return -EBADMSG;
	}
}

static int
link_on_frame(struct conn *c, const uint8_t *frame, size_t len, const char **reason)
{
	struct link *lk = c->userdata;
	struct peer *p = lk->peer;
	struct wire_msg m;
	struct buf b = {0};

	if (wire_decode(frame, len, &m, reason) < 0)
		return -EBADMSG;
	switch (lk->kind) {
	case LINK_PENDING:
		if (m.type != WIRE_HELLO) {
			*reason = "expected HELLO first";
			return -EBADMSG;
		}
		return pending_hello(p, c, lk, &m, reason);
	case LINK_PROBE:
		if (m.type == WIRE_PING) {
			wire_encode_nonce(&b, WIRE_PONG, m.nonce);
			(void)conn_send_buf(c, &b);
			buf_free(&b);
		}
		return 0;
	case LINK_NEIGHBOUR:
		if (!lk->owner)
			return 0; /* detached, closing */
		return neighbour_frame(lk->owner, c, frame, len, &m, reason);
	case LINK_SEED:
		break;
	}
	*reason = "internal: wrong link kind";
	return -EBADMSG;
}

static void
link_on_connected(struct conn *c)
{
	struct link *lk = c->userdata;

	if (lk->owner)
		send_hello(lk->peer, c);
}

static void
link_on_close(struct conn *c, const char *reason, int error)
{
	struct link *lk = c->userdata;
	struct peer *p = lk->peer;
	struct neighbour *nb = lk->owner;

	if (error == EBADMSG || (error && lk->kind != LINK_NEIGHBOUR))
		peer_log_conn_error(p, c, lk->kind == LINK_NEIGHBOUR ? "neighbour" : "inbound",
				    reason, error);
	if (lk->kind != LINK_NEIGHBOUR) {
		pending_remove(p, lk);
		free(lk);
		return;
	}
	free(lk);
	if (!nb)
		return; /* detached on purpose */
	tree_link_lost(p, nb);
	nb->conn = NULL;
	nb->link = NULL;
	if (p->state == PEER_LEAVING) {
		neighbour_remove(nb, "leaving");
		return;
	}
	if (nb->state == LINK_UP)
		log_info("lost connection to neighbour %s: %s%s%s", nb->addr_str, reason,
			 error ? ": " : "", error ? strerror(error) : "");
	else
		log_debug("connect to %s failed: %s%s%s", nb->addr_str, reason, error ? ": " : "",
			  error ? strerror(error) : "");
	nb->state = LINK_DOWN;
	if (liveness_miss(&nb->live, &p->live))
		declare_dead(nb);
	peer_update_status(p);
}

int
neighbours_accept(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct peer *p = userdata;

	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		char desc[NODE_ADDR_STRLEN] = "?";
		struct node_addr ra;
		struct link *lk;
		struct conn *c;
		int cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("accept failed: %s", strerror(errno));
			break;
		}
		if (node_addr_from_sockaddr((struct sockaddr *)&ss, &ra) == 0)
			node_addr_str(&ra, desc);
		if (p->n_pending >= PEER_MAX_PENDING) {
			log_warn("refusing connection from %s: %d connections already waiting for HELLO",
				 desc, PEER_MAX_PENDING);
			close(cfd);
			continue;
		}
		lk = xcalloc(1, sizeof(*lk));
		*lk = (struct link){.kind = LINK_PENDING, .peer = p, .opened_at = now_monotonic_usec()};
		c = conn_new(&p->loop, cfd, false, &link_callbacks, lk, desc);
		if (!c) {
			free(lk);
			continue;
		}
		c->queue_limit = 64 * 1024;
		lk->conn = c;
		pending_add(p, lk);
		p->stats.connections_accepted++;
	}
	return 0;
}

void
neighbours_tick(struct peer *p, uint64_t now)
{
	struct liveness_params live = liveness_scaled(&p->live, p->health.score);
	struct neighbour *nb, *next;
	struct link *lk, *lnext;
	unsigned up = 0, missed = 0;
	uint32_t was = p->health.score;

	for (nb = p->neighbours; nb; nb = next) {
		struct buf b = {0};
		next = nb->next;
		/*
		 * On a loaded host the answer may be late for reasons of our own: our
		 * PING waits behind a backlog queued to this neighbour, or its frames
		 * wait in our socket because this process was not scheduled. While
		 * the backlog drains the neighbour is reading (TCP takes more only when
		 * it reads), and unread bytes from it are as good as a frame: it is
		 * alive. A crashed or hung neighbour does neither, and misses count.
		 */
		if (nb->state == LINK_UP && nb->conn) {
			int unread = 0;
			if ((nb->conn->queued_bytes && nb->conn->bytes_out != nb->drained_mark) ||
			    (nb->live.awaiting && ioctl(nb->conn->fd, FIONREAD, &unread) == 0 && unread > 0))
				liveness_heard(&nb->live);
			nb->drained_mark = nb->conn->bytes_out;
			conn_trim(nb->conn);
		}
		if (nb->state == LINK_UP) {
			up++;
			missed += liveness_ping_overdue(&nb->live, now, &live);
		}
		switch (liveness_tick(&nb->live, nb->state, now, &live, &p->rng)) {
		case LIVENESS_WAIT:
			break;
		case LIVENESS_PING:
			wire_encode_nonce(&b, WIRE_PING, nb->live.nonce);
			neighbour_send_buf(nb, &b);
			p->stats.pings_sent++;
			break;
		case LIVENESS_RECONNECT:
			start_connect(nb);
			break;
		case LIVENESS_DEAD:
			declare_dead(nb);
			break;
		}
	}
	if (local_health_misses(&p->health, missed, up)) {
		char why[64];
		snprintf(why, sizeof(why), "%u of %u neighbours missed a ping", missed, up);
		peer_health_changed(p, was, why);
	}
	/* Inbound connections that never said HELLO, and finished probes. */
	for (lk = p->pending; lk; lk = lnext) {
		lnext = lk->next;
		if (now - lk->opened_at > HANDSHAKE_TIMEOUT_USEC)
			conn_close(lk->conn, lk->kind == LINK_PENDING ? "no HELLO in time" : "probe idle",
				   lk->kind == LINK_PENDING ? ETIMEDOUT : 0);
	}
	if (now - p->avoid_cleared_at > 2 * p->cfg.seed.lease_time_usec) {
		addr_set_clear(&p->avoid);
		p->avoid_cleared_at = now;
	}
	neighbours_maintain(p);
}

void
neighbours_leave(struct peer *p)
{
	struct neighbour *nb, *next;

	for (nb = p->neighbours; nb; nb = next) {
		struct buf b = {0};
		next = nb->next;
		if (nb->state != LINK_UP || !nb->conn) {
			neighbour_remove(nb, "leaving");
			continue;
		}
		wire_encode_addr_msg(&b, WIRE_LEAVE, &p->self);
		neighbour_send_buf(nb, &b);
		if (nb->conn)
			conn_close_after_flush(nb->conn, "leaving");
	}
}

bool
neighbours_all_flushed(const struct peer *p)
{
	return p->neighbours == NULL;
}

void
neighbours_start(struct peer *p)
{
	p->live = (struct liveness_params){p->cfg.peer.ping_interval_usec,
					   p->cfg.peer.ping_timeout_usec, p->cfg.peer.ping_misses};
}

void
neighbours_free(struct peer *p)
{
	while (p->neighbours)
		neighbour_remove(p->neighbours, "stopping");
	while (p->pending)
		conn_close(p->pending->conn, "stopping", 0);
	addr_set_free(&p->known);
	addr_set_free(&p->avoid);
}
