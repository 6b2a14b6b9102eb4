/* SPDX-License-Identifier: MIT */
/*
 * Indirect probes (SWIM, Lifeguard): a peer that suspects a neighbour asks
 * others to probe it (PING_REQ), and probes for the neighbours that ask it.
 *
 * Loss and slowness stall one TCP stream; they rarely stall several at once.
 * A helper that has the suspect as a neighbour pings it over that link (a
 * new connection would wait out a lost SYN's 1 s timeout); any frame from it
 * since the request proves it alive. Otherwise the helper connects to it.
 * A neighbour suspected over its own link is proven alive when another
 * neighbour reaches it over another (PING_ACK, alive). It is dead when the
 * suspicion timeout passes with no such proof and most of the neighbours
 * asked said "it did not answer me" (PING_ACK, not alive). When fewer did,
 * the others silent, the fault is likelier our own or on the paths around
 * us: the suspicion starts again once (and when none answered at all, local
 * health rises) before the neighbour is declared dead.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "list.h"
#include "peer_int.h"

/* A probe this peer runs because a neighbour asked (PING_REQ). */
struct iprobe {
	struct node_addr requester, target;
	uint64_t nonce;      /* the requester's, echoed in PING_ACK */
	uint64_t ping_nonce; /* ours, to the target */
	uint64_t started, deadline;
	struct link *link;   /* our own connection to it; NULL when it is our neighbour */
	struct iprobe *prev, *next;
};

/* Concurrent probes run for others, at most; and for one requester. */
#define PROBE_MAX_RUNNING 16
#define PROBE_MAX_PER_REQUESTER 4

/*
 * How long a helper tries: most of the suspicion (a new connection over a
 * lossy path may wait out a lost SYN's 1 s, and more), so its "not alive"
 * still comes before the suspicion ends.
 */
static uint64_t
helper_timeout(const struct peer_node *n)
{
	uint64_t t = n->cfg.peer.suspicion_timeout_usec / 4 * 3;

	return t > 2 * n->cfg.peer.ping_timeout_usec ? t : 2 * n->cfg.peer.ping_timeout_usec;
}

static bool
may_help(const struct neighbour *nb, const struct neighbour *target)
{
	return nb != target && nb->state == NB_UP && nb->link && !nb->unverified &&
	       !nb->live.suspected;
}

void
probe_suspect(struct peer_node *n, struct neighbour *nb, struct instant t)
{
	struct neighbour **cand = xcalloc(n->n_neighbours ? n->n_neighbours : 1, sizeof(*cand));
	uint32_t nc = 0, want = n->cfg.peer.indirect_probes;
	struct log_fields f = {.event = "suspect", .remote = nb->addr_str};

	nb->probed_for = nb->live.suspicions;
	nb->probe_nonce = rng_next(&n->rng);
	nb->probes_asked = nb->probes_nacked = 0;
	nb->probe_extended = false;
	for (struct neighbour *h = n->neighbours; h; h = h->next)
		if (may_help(h, nb))
			cand[nc++] = h;
	for (uint32_t i = 0; i < nc && nb->probes_asked < want; i++) {
		uint32_t j = i + (uint32_t)rng_below(&n->rng, nc - i);
		struct neighbour *h = cand[j];
		struct buf b = {0};

		cand[j] = cand[i];
		wire_encode_ping_req(&b, nb->probe_nonce, &nb->addr);
		neighbour_send_buf(n, h, &b);
		nb->probes_asked++;
	}
	free(cand);
	n->stats.neighbours_suspected++;
	n->stats.probe_requests_sent += nb->probes_asked;
	peer_event(n, LOG_INFO, &f,
		   "Neighbour %s is suspected: %u missed pings or failed reconnects; asked %u "
		   "neighbours to probe it",
		   nb->addr_str, nb->live.misses, nb->probes_asked);
}

bool
probe_expired(struct peer_node *n, struct neighbour *nb, struct instant t)
{
	uint32_t was = n->health.score;

	/* Dead when most of those asked could not reach it either (or nobody could be asked). */
	if (!nb->probes_asked || 2 * nb->probes_nacked > nb->probes_asked || nb->probe_extended)
		return false;
	/*
	 * Most of those asked did not answer at all: our own links, or the
	 * paths around us, are the likelier fault. Once, we wait again.
	 */
	nb->probe_extended = true;
	liveness_extend(&nb->live, t.mono);
	if (!nb->probes_nacked && local_health_raise(&n->health, 1))
		peer_health_changed(n, was, "no neighbour answered our probe requests");
	peer_log(n, LOG_INFO,
		 "Neighbour %s: %u of the %u neighbours asked to probe it answered; waiting "
		 "once more before declaring it dead",
		 nb->addr_str, nb->probes_nacked, nb->probes_asked);
	return true;
}

void
probe_ack(struct peer_node *n, struct neighbour *from, const struct wire_msg *m,
	  struct instant t)
{
	struct neighbour *nb = overlay_find(n, &m->probe.target);
	struct log_fields f = {.event = "refuted", .remote = nb ? nb->addr_str : NULL};

	(void)t;
	if (!nb || !nb->live.suspected || nb->probed_for != nb->live.suspicions ||
	    m->probe.nonce != nb->probe_nonce)
		return; /* an answer to a suspicion that ended, or to nothing we asked */
	if (!m->probe.alive) {
		nb->probes_nacked++;
		return;
	}
	n->stats.suspicions_refuted++;
	liveness_heard(&nb->live);
	peer_event(n, LOG_INFO, &f, "Neighbour %s answered a probe through %s: no longer suspected",
		   nb->addr_str, from->addr_str);
}

static void
send_ack(struct peer_node *n, const struct node_addr *requester, uint64_t nonce, bool alive,
	 const struct node_addr *target)
{
	struct neighbour *nb = overlay_find(n, requester);
	struct buf b = {0};

	if (!nb || nb->state != NB_UP || !nb->link)
		return; /* it is gone: nobody to tell */
	wire_encode_ping_ack(&b, nonce, alive, target);
	neighbour_send_buf(n, nb, &b);
}

static void
iprobe_finish(struct peer_node *n, struct iprobe *p, bool alive, const char *why)
{
	char ts[NODE_ADDR_STRLEN];

	peer_debug(n, "probe of %s for a neighbour: %s", node_addr_str(&p->target, ts), why);
	send_ack(n, &p->requester, p->nonce, alive, &p->target);
	DLIST_REMOVE(&n->iprobes, p, &n->n_iprobes);
	if (p->link) {
		p->link->owner = NULL;
		peer_link_close(n, p->link, "probe finished", 0, false);
	}
	free(p);
}

static uint32_t
running_for(const struct peer_node *n, const struct node_addr *requester,
	    const struct node_addr *target, bool *same)
{
	uint32_t k = 0;

	*same = false;
	for (const struct iprobe *p = n->iprobes; p; p = p->next) {
		if (!node_addr_equal(&p->requester, requester))
			continue;
		k++;
		*same |= node_addr_equal(&p->target, target);
	}
	return k;
}

/* Whether a PING_REQ from `from` is run; counts and logs a refusal. */
static bool
request_ok(struct peer_node *n, struct neighbour *from, const struct node_addr *target)
{
	char ts[NODE_ADDR_STRLEN];
	bool same;
	uint32_t mine = running_for(n, &from->addr, target, &same);

	if (same)
		return false; /* already running: its answer will do */
	if (!from->unverified && n->n_iprobes < PROBE_MAX_RUNNING &&
	    mine < PROBE_MAX_PER_REQUESTER)
		return true;
	n->stats.probe_requests_refused++;
	peer_log_limited(n, LOG_WARNING, "not probing %s for neighbour %s: %s",
			 node_addr_str(target, ts), from->addr_str,
			 from->unverified ? "its link is not verified"
			 : mine >= PROBE_MAX_PER_REQUESTER ? "too many probes running for it"
							   : "too many probes running");
	return false;
}

void
probe_request(struct peer_node *n, struct neighbour *from, const struct wire_msg *m,
	      struct instant t)
{
	const struct node_addr *target = &m->probe.target;
	struct neighbour *nb = overlay_find(n, target);
	struct iprobe *p;
	int r;

	n->stats.probe_requests_received++;
	if (node_addr_equal(target, &n->self) ||
	    (nb && nb->state == NB_UP && t.mono - nb->heard_at < n->cfg.peer.ping_timeout_usec)) {
		/* It is us, or it spoke to us just now over a link of its own. */
		send_ack(n, &from->addr, m->probe.nonce, true, target);
		return;
	}
	if (!request_ok(n, from, target))
		return;
	p = xcalloc(1, sizeof(*p));
	p->requester = from->addr;
	p->target = *target;
	p->nonce = m->probe.nonce;
	p->ping_nonce = rng_next(&n->rng);
	p->started = t.mono;
	p->deadline = t.mono + helper_timeout(n);
	DLIST_PUSH(&n->iprobes, p, &n->n_iprobes);
	if (nb && nb->state == NB_UP && nb->link) {
		/* Our own link to it: a PING there, and whatever it sends next is the answer. */
		struct buf b = {0};
		wire_encode_nonce(&b, WIRE_PING, p->ping_nonce);
		neighbour_send_buf(n, nb, &b);
		return;
	}
	p->link = peer_link_connect(n, LINK_IPROBE, p, target, t.mono, PEER_PENDING_QUEUE_LIMIT, &r);
	if (!p->link)
		iprobe_finish(n, p, false, strerror(-r));
}

void
probe_heard(struct peer_node *n, const struct neighbour *nb, struct instant t)
{
	for (struct iprobe *p = n->iprobes, *next; p; p = next) {
		next = p->next;
		if (!p->link && node_addr_equal(&p->target, &nb->addr) && t.mono >= p->started)
			iprobe_finish(n, p, true, "a frame over our own link");
	}
}

void
probe_connected(struct peer_node *n, struct link *lk, struct instant t)
{
	struct iprobe *p = lk->owner;
	struct buf b = {0};

	(void)t;
	if (!peer_claim_ok(n, lk, &p->target, "the probed node")) {
		iprobe_finish(n, p, false, "its certificate does not list the address");
		return;
	}
	wire_encode_hello(&b, WIRE_ROLE_PROBE, &n->self, n->incarnation);
	wire_encode_nonce(&b, WIRE_PING, p->ping_nonce);
	(void)peer_link_send_buf(n, lk, &b);
	buf_free(&b);
}

int
probe_frame(struct peer_node *n, struct link *lk, const struct wire_msg *m, struct instant t)
{
	struct iprobe *p = lk->owner;

	(void)t;
	/* Its HELLO, our PONG, even an ERROR: the process at that address is running. */
	if (p)
		iprobe_finish(n, p, true, wire_type_name(m->type));
	return 0;
}

void
probe_closed(struct peer_node *n, struct link *lk, const char *reason, int error)
{
	struct iprobe *p = lk->owner;
	char why[128];

	if (!p)
		return;
	p->link = NULL;
	snprintf(why, sizeof(why), "%s%s%s", reason, error ? ": " : "", error ? strerror(error) : "");
	iprobe_finish(n, p, false, why);
}

void
probe_tick(struct peer_node *n, struct instant t)
{
	for (struct iprobe *p = n->iprobes, *next; p; p = next) {
		next = p->next;
		if (t.mono >= p->deadline)
			iprobe_finish(n, p, false, "no answer in time");
	}
}

void
probe_free(struct peer_node *n)
{
	while (n->iprobes) {
		struct iprobe *p = n->iprobes;
		DLIST_REMOVE(&n->iprobes, p, &n->n_iprobes);
		if (p->link) {
			p->link->owner = NULL;
			peer_link_close(n, p->link, "stopping", 0, false);
		}
		free(p);
	}
}
