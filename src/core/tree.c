/* SPDX-License-Identifier: MIT */
/*
 * The broadcast tree (Plumtree, Leitão et al. 2007). A message travels in
 * full ("eager push") only over links that are part of a spanning tree of
 * the neighbour graph; every other link carries just its id in a batched
 * IHAVE ("lazy push"). A duplicate arriving on an eager link proves a cycle:
 * the receiver answers PRUNE and both ends make the link lazy. A peer that
 * hears IHAVE for a message it then does not get in full sends GRAFT: the
 * announcer resends the message and the link turns eager, which repairs the
 * tree after a failure. With peer.lazy_push = false every link stays eager:
 * plain flooding.
 *
 * What keeps the tree whole, and the copies few, on a loaded network (where
 * eager copies come late, and a needless GRAFT costs a duplicate and moves
 * the tree):
 * - The GRAFT wait is graft_timeout plus this peer's own random share of a
 *   quarter of it (the peers beside a cut then do not all ask at once: the
 *   first GRAFT repairs it for the others), times 1 + the local health score
 *   (membership.h): on a slow host copies are late as pings are.
 * - A peer that has received other messages in full during the wait, and
 *   lost no eager link since the announcement, takes the tree to be
 *   delivering late and waits again, up to TREE_GRAFT_PATIENCE waits in
 *   all. Not for an IHAVE over an eager link: a neighbour announces there
 *   only when its queue to us is too full to push (tree_push).
 * - GRAFT asks the announcer, then one other neighbour at a time, the last
 *   time every neighbour.
 * - A duplicate prunes its link only while the link of the first copy is
 *   still in the tree (tree_duplicate); a peer pruned out of the tree asks
 *   back in.
 * - A lazy link carries one IHAVE for a message, not one each way.
 *
 * On slow links (peer.adaptive_timers, gossip(7) "Timers that follow the
 * round trip"):
 * - Ids for a neighbour wait up to max(peer.ihave_delay, 8 x the link's
 *   smoothed round trip), the latter capped at 1.5 peer.ping_interval, and
 *   ride on the first PING or PONG that goes to it meanwhile
 *   (peer.carry_ihave): a PING or PONG crosses every quiet link about once a
 *   ping_interval, so on a WAN announcements cost bytes on frames sent
 *   anyway, not frames of their own. Only ids still waiting at their deadline
 *   go in an IHAVE. On a LAN the round trip is short: ids go after
 *   peer.ihave_delay, as before.
 * - The GRAFT wait is at least twice the median smoothed round trip of the
 *   links up (at most TREE_RTT_WAIT_MAX): an eager copy several hops long is
 *   not asked for again while it is still crossing the network.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "peer_int.h"
#include "ring.h"

/* Announced messages waiting to arrive per attempt, at most: a full FIFO asks for its oldest. */
/* What a link that comes up is told of: messages received this recently, this many at most. */
#define TREE_CATCH_UP_USEC (10 * USEC_PER_SEC)
#define TREE_CATCH_UP_MAX WIRE_MAX_IDS
#define TREE_MAX_MISSING 16384
/*
 * TREE_GRAFT_TRIES (peer.h) GRAFT attempts per missing message, waiting the
 * GRAFT wait, then twice as long each time (a loaded network answers late,
 * and a message given up on is lost to this peer). Asking one neighbour at a
 * time, not all, keeps a late answer from costing a duplicate per neighbour
 * and from making every link eager at once; the last attempt asks all, in
 * case the ones asked before had let go of their copy (resend_cache_size).
 */
/* Waiting IHAVE ids searched for one a neighbour turns out to have, at most. */
#define TREE_UNANNOUNCE_MAX 32
/* How many ids ahead IHAVE processing prefetches seen-cache slots. */
#define TREE_PREFETCH 8
/* While other messages keep arriving, a missing one is waited for up to this many GRAFT waits. */
#define TREE_GRAFT_PATIENCE 4
/* The adaptive GRAFT wait, at most (unless peer.graft_timeout is longer). */
#define TREE_RTT_WAIT_MAX (5 * USEC_PER_SEC)
/* Round trips sampled for the median (tree_tick). */
#define TREE_RTT_SAMPLES 64
/* GRAFT answers remembered per link, so that none is sent twice (answered_before()). */
#define TREE_GRAFT_ANSWERED 256
/*
 * The GRAFT timer is an idle wake-up (WAKE_IDLE): it runs after all pending
 * input, so a peer that was starved of CPU reads the copies that reached it
 * meanwhile before it asks for them. The tick runs it when a stream of input
 * holds it back for longer than a graft_timeout.
 */

struct tree_missing {
	uint8_t id[WIRE_ID_LEN];
	struct node_addr from; /* who announced it first */
	uint64_t announced;    /* when */
	uint64_t since;        /* when its current wait began */
	uint8_t tries;         /* GRAFTs sent for it so far */
	bool from_eager;       /* announced over an eager link: a push held back */
};

static bool
is_up(const struct neighbour *nb)
{
	return nb->state == NB_UP && nb->link;
}

static struct neighbour *
find_up(struct peer_node *n, const struct node_addr *a)
{
	struct neighbour *nb = overlay_find(n, a);
	return nb && is_up(nb) ? nb : NULL;
}

/* Sends the ids gathered in ids (IHAVE or GRAFT), at most WIRE_MAX_IDS a frame, and empties it. */
static void
flush_ids(struct peer_node *n, struct neighbour *nb, uint8_t type, struct buf *ids)
{
	size_t count = ids->len / WIRE_ID_LEN;

	for (size_t off = 0; off < count && is_up(nb); off += WIRE_MAX_IDS) {
		size_t k = count - off < WIRE_MAX_IDS ? count - off : WIRE_MAX_IDS;
		struct buf b = {0};

		wire_encode_ids(&b, type, ids->data + off * WIRE_ID_LEN, (uint16_t)k);
		if (type == WIRE_IHAVE) {
			n->stats.ihave_frames_sent++;
			n->stats.ihave_ids_sent += k;
		} else {
			n->stats.graft_frames_sent++;
			n->stats.grafts_sent += k;
		}
		neighbour_send_buf(n, nb, &b); /* may drop nb's link, never nb itself */
	}
	ids->len = 0;
}

/*
 * Adds id to the ids waiting for nb (IHAVE or GRAFT), sending them at once
 * when a frame's worth waits: after a burst, a timer run with thousands of
 * ids due would otherwise grow each neighbour's buffer to megabytes, which it
 * keeps.
 */
static void
add_id(struct peer_node *n, struct neighbour *nb, uint8_t type, struct buf *ids, const uint8_t *id)
{
	buf_append(ids, id, WIRE_ID_LEN);
	if (ids->len / WIRE_ID_LEN >= WIRE_MAX_IDS)
		flush_ids(n, nb, type, ids);
}

static void
flush_ihave(struct peer_node *n, struct neighbour *nb)
{
	flush_ids(n, nb, WIRE_IHAVE, &nb->ihave);
}

void
tree_received(struct peer_node *n, const uint8_t id[WIRE_ID_LEN], uint64_t now)
{
	n->tree_delivered_at = now;
	memcpy(n->last_delivered, id, WIRE_ID_LEN);
}

void
tree_link_lost(struct peer_node *n, const struct neighbour *nb, uint64_t now)
{
	if (nb->state == NB_UP && (!nb->lazy || !n->cfg.peer.lazy_push))
		n->tree_cut_at = now;
}

/*
 * Ids due now go in IHAVE frames, and with them those due within
 * peer.ihave_delay: on a LAN every link's wait is that, and one timer run
 * announces to all, as soon as the first ids are due. Announcements that
 * come later than that make the tail of delivery times longer (a new link's
 * catch-up ids among them): with each link waiting its own 0.1 s, the
 * simulator's churn gave p99 610 ms instead of 7 ms.
 */
void
tree_ihave_due(struct peer_node *n, uint64_t now)
{
	uint64_t next = 0;

	for (struct neighbour *nb = n->neighbours; nb; nb = nb->next) {
		if (!nb->ihave.len)
			continue;
		if (nb->ihave_due <= now + n->cfg.peer.ihave_delay_usec)
			flush_ihave(n, nb);
		else if (!next || nb->ihave_due < next)
			next = nb->ihave_due;
	}
	peer_timer_set(n, PEER_T_IHAVE, next);
}

/*
 * nb has the message id (it announced it, or sent it): it need not be told
 * of it, and a lazy link then carries one IHAVE for a message, not one each
 * way. Searched only while few ids wait, which is when IHAVE frames are
 * small and many: under load each frame carries hundreds.
 */
static void
unannounce(struct peer_node *n, struct neighbour *nb, const uint8_t *id)
{
	size_t count = nb->ihave.len / WIRE_ID_LEN;

	if (count > TREE_UNANNOUNCE_MAX)
		return;
	for (size_t i = 0; i < count; i++) {
		uint8_t *x = nb->ihave.data + i * WIRE_ID_LEN;
		if (memcmp(x, id, WIRE_ID_LEN) == 0) {
			memmove(x, x + WIRE_ID_LEN, (count - i - 1) * WIRE_ID_LEN);
			nb->ihave.len -= WIRE_ID_LEN;
			n->stats.ihave_ids_spared++;
			return;
		}
	}
}

/* How long ids wait for nb before an IHAVE of their own (see the top of this file). */
static uint64_t
ihave_wait(const struct peer_node *n, const struct neighbour *nb)
{
	uint64_t w = n->cfg.peer.ihave_delay_usec, r = 8 * nb->live.srtt_usec;

	if (n->cfg.peer.adaptive_timers) {
		if (r > n->cfg.peer.ping_interval_usec * 3 / 2)
			r = n->cfg.peer.ping_interval_usec * 3 / 2;
		if (r > w)
			w = r;
	}
	return w;
}

static void
queue_ihave(struct peer_node *n, struct neighbour *nb, const uint8_t *id, uint64_t now)
{
	if (!nb->ihave.len) {
		nb->ihave_due = now + ihave_wait(n, nb);
		if (!n->timer[PEER_T_IHAVE] || nb->ihave_due < n->timer[PEER_T_IHAVE])
			peer_timer_set(n, PEER_T_IHAVE, nb->ihave_due);
	}
	add_id(n, nb, WIRE_IHAVE, &nb->ihave, id);
}

/*
 * At a liveness tick: ids wait for nb over a slow link (their wait longer
 * than peer.ihave_delay), and the next tick comes after their deadline. A
 * PING then carries them; sooner, they would leave before their wait is
 * over (more ids gather meanwhile, and the tree's copy of a message is not
 * overtaken by its announcement). In the simulator's wan25 this took IHAVE
 * frames from 9 to 14 per broadcast down to 0.3 to 1.4. On a LAN the IHAVE
 * goes 0.1 s after the first id, as before.
 */
bool
tree_carry_due(const struct peer_node *n, const struct neighbour *nb, uint64_t now)
{
	return n->cfg.peer.carry_ihave && n->cfg.peer.lazy_push && is_up(nb) && nb->ihave.len &&
	       ihave_wait(n, nb) > n->cfg.peer.ihave_delay_usec &&
	       nb->ihave_due < now + n->cfg.peer.ping_interval_usec;
}

void
tree_send_ping(struct peer_node *n, struct neighbour *nb, uint8_t type, uint64_t nonce)
{
	struct buf b = {0};
	/* add_id() sends a full frame's worth at once: fewer than WIRE_MAX_IDS wait. */
	uint16_t k = n->cfg.peer.carry_ihave && is_up(nb) ? (uint16_t)(nb->ihave.len / WIRE_ID_LEN)
							  : 0;

	wire_encode_ping(&b, type, nonce, nb->ihave.data, k);
	if (k) {
		n->stats.ihave_ids_sent += k;
		n->stats.ihave_ids_carried += k;
		nb->ihave.len = 0;
	}
	neighbour_send_buf(n, nb, &b);
}

/*
 * Payloads (pushes and GRAFT answers) fill at most 3/4 of send_queue_limit.
 * The rest is for ids and control frames: a neighbour that falls behind for a
 * while is told the ids (IHAVE) and GRAFTs the messages once it has caught
 * up, instead of losing its connection, and everything queued on it, at the
 * limit.
 */
static bool
payload_fits(struct peer_node *n, const struct neighbour *nb, size_t len)
{
	size_t limit = nb->link->queue_limit;

	return queue_room_for(n->env.ops->queued(n->env.ctx, nb->link), limit, len, limit / 4);
}

uint32_t
tree_push(struct peer_node *n, struct blob *frame, const uint8_t id[WIRE_ID_LEN],
	  const struct neighbour *except, const struct node_addr *origin, uint64_t now)
{
	uint32_t sent = 0;

	for (struct neighbour *nb = n->neighbours, *next; nb; nb = next) {
		next = nb->next;
		if (nb == except || !is_up(nb) || node_addr_equal(&nb->addr, origin))
			continue;
		if (n->cfg.peer.lazy_push && nb->lazy) {
			queue_ihave(n, nb, id, now);
			continue;
		}
		if (!payload_fits(n, nb, frame->len)) {
			n->stats.pushes_deferred++;
			queue_ihave(n, nb, id, now);
			continue;
		}
		authn_before_push(n, nb, origin);
		if (neighbour_send(n, nb, frame) < 0)
			continue;
		n->stats.gossip_frames_sent++;
		n->stats.gossip_bytes_sent += frame->len;
		sent++;
	}
	return sent;
}

static struct neighbour *
find_serial(struct peer_node *n, uint32_t serial)
{
	for (struct neighbour *nb = n->neighbours; nb; nb = nb->next)
		if (nb->serial == serial)
			return nb;
	return NULL;
}

/*
 * A duplicate proves a cycle of eager links, and the link it came over is
 * pruned, but only while the link that brought the first copy is still in
 * the tree. When copies are in flight on two links, each link delivers some
 * first: pruning the link of every duplicate would prune both, and cut this
 * peer off the tree.
 */
void
tree_duplicate(struct peer_node *n, struct neighbour *nb, const uint8_t id[WIRE_ID_LEN],
	       uint32_t first_from)
{
	struct buf b = {0};
	struct neighbour *first;

	unannounce(n, nb, id);
	if (!n->cfg.peer.lazy_push)
		return;
	if (first_from) {
		first = find_serial(n, first_from);
		if (first == nb || !first || first->state != NB_UP || first->lazy) {
			n->stats.prunes_withheld++;
			return;
		}
	}
	nb->lazy = true;
	wire_encode_empty(&b, WIRE_PRUNE);
	n->stats.prunes_sent++;
	neighbour_send_buf(n, nb, &b);
}

/* Asks nb for the message (sent with the others at the end of the timer run); nb is eager again. */
static void
queue_graft(struct peer_node *n, struct neighbour *nb, const uint8_t *id)
{
	nb->lazy = false;
	add_id(n, nb, WIRE_GRAFT, &nb->graft, id);
}

/*
 * Announced messages wait in one FIFO per attempt (n->missing[tries], rings
 * of struct tree_missing): all entries of a FIFO wait equally long, so each
 * is in deadline order and only its front is due first.
 */
static struct tree_missing *
front(struct peer_node *n, unsigned tries)
{
	return ring_front(&n->missing[tries]);
}

/* The GRAFT wait (see the top of this file). */
static uint64_t
graft_wait(const struct peer_node *n)
{
	uint64_t base = n->cfg.peer.graft_timeout_usec, r = 2 * n->tree_rtt;

	if (n->cfg.peer.adaptive_timers) {
		if (r > TREE_RTT_WAIT_MAX)
			r = TREE_RTT_WAIT_MAX;
		if (r > base)
			base = r;
	}
	return (base + n->graft_jitter) * (1 + n->health.score);
}

static uint64_t
deadline_of(const struct peer_node *n, const struct tree_missing *e)
{
	return e->since + (graft_wait(n) << e->tries);
}

/* The earliest deadline of all the FIFOs, or 0 when all are empty. */
static uint64_t
next_deadline(struct peer_node *n)
{
	uint64_t at = 0;

	for (unsigned t = 0; t <= TREE_GRAFT_TRIES; t++) {
		struct tree_missing *e = front(n, t);
		if (e && (!at || deadline_of(n, e) < at))
			at = deadline_of(n, e);
	}
	return at;
}

/* Arms the GRAFT timer for at, unless it is already due earlier. */
static void
graft_timer_by(struct peer_node *n, uint64_t at)
{
	uint64_t armed = n->timer[PEER_T_GRAFT];

	if (armed && armed <= at)
		return;
	peer_timer_set(n, PEER_T_GRAFT, at);
}

static void missing_due(struct peer_node *n, struct tree_missing e, uint64_t now, bool forced);

/*
 * Queues e, waiting from now. A full FIFO makes room by asking for its oldest
 * entry at once rather than forgetting it: a message forgotten while its
 * eager copy is lost would never arrive.
 */
static void
missing_push(struct peer_node *n, struct tree_missing e, uint64_t now)
{
	struct ring *f = &n->missing[e.tries];
	struct tree_missing *slot;

	if (f->n == TREE_MAX_MISSING) {
		struct tree_missing oldest = *front(n, e.tries);

		ring_pop(f);
		missing_due(n, oldest, now, true);
	}
	e.since = now;
	slot = ring_push(f, TREE_MAX_MISSING);
	*slot = e;
	graft_timer_by(n, deadline_of(n, &e));
}

/* Whether one of the links that are up is eager: this peer is part of the tree. */
static bool
in_tree(const struct peer_node *n)
{
	for (const struct neighbour *nb = n->neighbours; nb; nb = nb->next)
		if (is_up(nb) && !nb->lazy)
			return true;
	return false;
}

/*
 * Whether e, due now, is probably still on its way: other messages arrived
 * in full during its wait, over a tree that lost no link since e was
 * announced and that this peer is still part of (with every link pruned,
 * what arrives are GRAFT answers), and it has not waited
 * TREE_GRAFT_PATIENCE GRAFT waits yet.
 */
static bool
tree_still_coming(const struct peer_node *n, const struct tree_missing *e, uint64_t now)
{
	return !e->from_eager && n->tree_delivered_at > e->since && n->tree_cut_at < e->announced &&
	       now - e->announced < graft_wait(n) * TREE_GRAFT_PATIENCE && in_tree(n);
}

/* A random neighbour that is up, other than `avoid` unless it is the only one; NULL if none. */
static struct neighbour *
pick_other(struct peer_node *n, const struct node_addr *avoid)
{
	struct neighbour *pick = NULL, *fallback = NULL;
	uint64_t seen = 0;

	for (struct neighbour *nb = n->neighbours; nb; nb = nb->next) {
		if (!is_up(nb))
			continue;
		if (node_addr_equal(&nb->addr, avoid)) {
			fallback = nb;
			continue;
		}
		if (rng_below(&n->rng, ++seen) == 0)
			pick = nb;
	}
	return pick ? pick : fallback;
}

/*
 * e came due, or was forced out of a full FIFO: unless it has arrived, ask for
 * it (the GRAFTs gathered go out at the end of graft_run), or wait again.
 */
static void
missing_due(struct peer_node *n, struct tree_missing e, uint64_t now, bool forced)
{
	struct neighbour *nb;

	if (seen_cache_contains(&n->seen, e.id))
		return; /* the eager copy came in time */
	if (e.tries == TREE_GRAFT_TRIES) {
		char hex[2 * WIRE_ID_LEN + 1];

		hex_encode(e.id, WIRE_ID_LEN, hex);
		if (forced) {
			/* Far more announced than arriving, for longer than every retry. */
			n->stats.announcements_dropped++;
			peer_debug(n, "forgetting announced message %s: too many are missing", hex);
			return;
		}
		n->stats.grafts_failed++;
		peer_log(n, LOG_WARNING,
			 "message %s was announced but never arrived after %d GRAFT attempts", hex,
			 TREE_GRAFT_TRIES);
		return;
	}
	if (!forced && tree_still_coming(n, &e, now)) {
		n->stats.grafts_deferred++;
		missing_push(n, e, now);
		return;
	}
	/*
	 * The announcer first; once it is gone or did not answer, someone else;
	 * the last time, everyone (a neighbour may have let go of its copy).
	 */
	if (e.tries == TREE_GRAFT_TRIES - 1) {
		for (nb = n->neighbours; nb; nb = nb->next)
			if (is_up(nb))
				queue_graft(n, nb, e.id);
		n->stats.graft_retries++;
	} else {
		if (e.tries > 0 || !(nb = find_up(n, &e.from)))
			nb = pick_other(n, &e.from);
		if (nb)
			queue_graft(n, nb, e.id);
		if (nb && e.tries > 0)
			n->stats.graft_retries++;
	}
	e.tries++;
	missing_push(n, e, now);
	if (forced)
		graft_timer_by(n, now); /* to send the GRAFT */
}

static void
graft_run(struct peer_node *n, uint64_t now)
{
	for (unsigned t = 0; t <= TREE_GRAFT_TRIES; t++) {
		struct tree_missing *f;

		while ((f = front(n, t)) && deadline_of(n, f) <= now) {
			struct tree_missing e = *f;

			ring_pop(&n->missing[t]);
			missing_due(n, e, now, false);
		}
	}
	for (struct neighbour *nb = n->neighbours; nb; nb = nb->next)
		flush_ids(n, nb, WIRE_GRAFT, &nb->graft);
	peer_timer_set(n, PEER_T_GRAFT, next_deadline(n));
}

void
tree_graft_due(struct peer_node *n, uint64_t now)
{
	graft_run(n, now);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The median smoothed round trip of the links up that have one (0: none yet). */
static uint64_t
median_rtt(const struct peer_node *n)
{
	uint64_t v[TREE_RTT_SAMPLES];
	size_t k = 0;

	for (const struct neighbour *nb = n->neighbours; nb && k < TREE_RTT_SAMPLES; nb = nb->next)
		if (is_up(nb) && nb->live.srtt_usec)
			v[k++] = nb->live.srtt_usec;
	if (!k)
		return 0;
	qsort(v, k, sizeof(*v), cmp_u64);
	return v[k / 2];
}

void
tree_tick(struct peer_node *n, uint64_t now)
{
	uint64_t at;

	n->tree_rtt = median_rtt(n);

	if ((at = n->timer[PEER_T_GRAFT]) && at + n->cfg.peer.graft_timeout_usec < now)
		graft_run(n, now);
	/*
	 * A FIFO grows with a burst (up to TREE_MAX_MISSING entries). Entries at
	 * its front whose message has arrived are done with now rather than at
	 * their deadline (up to 2^TREE_GRAFT_TRIES GRAFT waits away), and a FIFO
	 * left empty gives its memory back: once a burst is over, a peer holds
	 * only what it held before it.
	 */
	for (unsigned t = 0; t <= TREE_GRAFT_TRIES; t++) {
		struct tree_missing *f;
		while ((f = front(n, t)) && seen_cache_contains(&n->seen, f->id))
			ring_pop(&n->missing[t]);
		if (!n->missing[t].n)
			ring_release(&n->missing[t]);
	}
}

void
tree_link_up(struct peer_node *n, struct neighbour *nb, uint64_t now)
{
	size_t k = 0;

	if (nb->grafted)
		memset(nb->grafted, 0, TREE_GRAFT_ANSWERED * sizeof(*nb->grafted));
	nb->graft_tokens = n->cfg.peer.send_queue_limit;
	nb->graft_refill_at = now;
	if (!n->cfg.peer.lazy_push)
		return; /* flooding announces nothing (anti-entropy still compares) */
	/*
	 * A link that comes up missed what went through the tree just before:
	 * the newest messages received are announced on it (a newcomer, or a
	 * network still forming after a restart, asks for those it lacks).
	 */
	for (size_t i = n->seen.count; i-- > 0 && k < TREE_CATCH_UP_MAX;) {
		const struct seen_entry *e = seen_cache_at(&n->seen, i);
		if (now - e->at > TREE_CATCH_UP_USEC)
			break;
		if (e->frame) {
			queue_ihave(n, nb, e->id, now);
			k++;
		}
	}
	n->stats.catch_up_ids_sent += k;
}

/*
 * Whether id was answered on nb's link already, by a table of the last ids
 * answered (a fingerprint per slot; a newer id takes an older one's slot).
 * Over TCP an answer is not lost: asking for it again is not repair but a
 * request for copies, which a GRAFT of many ids, repeated, makes a flood.
 */
static bool
answered_before(struct neighbour *nb, const uint8_t *id)
{
	uint64_t fp;
	size_t slot;

	memcpy(&fp, id, sizeof(fp)); /* ids are SHA-256: any 8 bytes are as good as a hash */
	fp |= 1;                     /* 0 marks an empty slot */
	slot = (size_t)(fp >> 1) % TREE_GRAFT_ANSWERED;
	if (!nb->grafted)
		nb->grafted = xcalloc(TREE_GRAFT_ANSWERED, sizeof(*nb->grafted));
	return nb->grafted[slot] == fp;
}

static void
mark_answered(struct neighbour *nb, const uint8_t *id)
{
	uint64_t fp;

	memcpy(&fp, id, sizeof(fp));
	fp |= 1;
	nb->grafted[(size_t)(fp >> 1) % TREE_GRAFT_ANSWERED] = fp;
}

/*
 * GRAFT answers to one neighbour spend a byte budget of send_queue_limit,
 * refilled at send_queue_limit a second: repair after a lag goes at that
 * pace; a neighbour that asks for more is answered later (it asks again).
 */
static bool
graft_budget(struct peer_node *n, struct neighbour *nb, size_t len)
{
	uint64_t cap = n->cfg.peer.send_queue_limit, elapsed = n->now - nb->graft_refill_at;

	if (elapsed) {
		uint64_t add = elapsed >= USEC_PER_SEC ? cap : cap * elapsed / USEC_PER_SEC;
		nb->graft_tokens = nb->graft_tokens + add > cap ? cap : nb->graft_tokens + add;
		nb->graft_refill_at = n->now;
	}
	if (nb->graft_tokens < len)
		return false;
	nb->graft_tokens -= len;
	return true;
}

/* GRAFT from nb: the messages it asks for that we still keep, and the link eager again. */
static void
answer_graft(struct peer_node *n, struct neighbour *nb, const struct wire_msg *m)
{
	struct node_addr origin;

	nb->lazy = false;
	for (uint16_t i = 0; i < m->ids.count && nb->link; i++) {
		const uint8_t *id = m->ids.ids + i * WIRE_ID_LEN;
		struct blob *frame = seen_cache_frame(&n->seen, id);
		if (!frame) {
			/* Never had it, or released it (peer.resend_cache_size). */
			n->stats.grafts_unanswerable++;
			continue;
		}
		if (answered_before(nb, id)) {
			n->stats.grafts_refused++;
			continue;
		}
		if (!payload_fits(n, nb, frame->len)) {
			/* It asks again, later, and others too. */
			n->stats.pushes_deferred++;
			continue;
		}
		if (!graft_budget(n, nb, frame->len)) {
			n->stats.grafts_refused++;
			continue;
		}
		wire_gossip_origin(frame->data, &origin);
		authn_before_push(n, nb, &origin);
		if (neighbour_send(n, nb, frame) < 0)
			continue;
		mark_answered(nb, id);
		n->stats.grafts_answered++;
		n->stats.gossip_frames_sent++;
		n->stats.gossip_bytes_sent += frame->len;
	}
}

/* Ids nb announced, in an IHAVE or on a PING or PONG: the missing ones are waited for. */
static void
announced(struct peer_node *n, struct neighbour *nb, const uint8_t *ids, uint16_t count,
	  uint64_t now)
{
	n->stats.ihave_ids_received += count;
	for (uint16_t i = 0; i < count; i++) {
		const uint8_t *id = ids + i * WIRE_ID_LEN;
		struct tree_missing e = {.from = nb->addr, .announced = now,
					 .from_eager = !nb->lazy || !n->cfg.peer.lazy_push};

		/* Lookups miss the CPU cache: start the ones a few ids ahead. */
		if (i + TREE_PREFETCH < count)
			seen_cache_prefetch(&n->seen, id + TREE_PREFETCH * WIRE_ID_LEN);
		if (seen_cache_contains(&n->seen, id)) {
			unannounce(n, nb, id); /* it has it: no need to tell it */
			continue;
		}
		/* Only the first announcement of a missing message counts. */
		if (!seen_cache_insert(&n->announced, id, now))
			continue;
		memcpy(e.id, id, WIRE_ID_LEN);
		missing_push(n, e, now);
	}
}

void
tree_carried(struct peer_node *n, struct neighbour *nb, const struct wire_msg *m, uint64_t now)
{
	if (m->carried.count && is_up(nb))
		announced(n, nb, m->carried.ids, m->carried.count, now);
}

void
tree_on_frame(struct peer_node *n, struct neighbour *nb, const struct wire_msg *m, uint64_t now)
{
	switch (m->type) {
	case WIRE_PRUNE:
		n->stats.prunes_received++;
		if (!n->cfg.peer.lazy_push)
			return;
		nb->lazy = true;
		/*
		 * Neighbours that prune this peer at once, each over copies it
		 * forwarded while the tree was changing, can leave it outside the
		 * tree. Then it asks this one, with GRAFT for the last message it
		 * received, to take it back (an answer is only a duplicate).
		 */
		if (!in_tree(n) && n->tree_delivered_at) {
			n->stats.tree_rejoins++;
			queue_graft(n, nb, n->last_delivered);
			flush_ids(n, nb, WIRE_GRAFT, &nb->graft);
		}
		return;
	case WIRE_GRAFT:
		answer_graft(n, nb, m);
		return;
	case WIRE_IHAVE:
		announced(n, nb, m->ids.ids, m->ids.count, now);
		return;
	default:
		return;
	}
}

uint32_t
tree_fetch(struct peer_node *n, struct neighbour *nb, const uint8_t *ids, uint16_t count,
	   uint64_t now)
{
	uint32_t asked = 0;

	for (uint16_t i = 0; i < count; i++) {
		const uint8_t *id = ids + (size_t)i * WIRE_ID_LEN;
		/* Asked of nb now; if it does not come, of the others, as a GRAFT retry. */
		struct tree_missing e = {.from = nb->addr, .announced = now, .tries = 1};

		if (seen_cache_contains(&n->seen, id))
			continue;
		(void)seen_cache_insert(&n->announced, id, now);
		memcpy(e.id, id, WIRE_ID_LEN);
		queue_graft(n, nb, id);
		missing_push(n, e, now);
		asked++;
	}
	flush_ids(n, nb, WIRE_GRAFT, &nb->graft);
	return asked;
}

void
tree_init(struct peer_node *n)
{
	size_t announced = n->cfg.peer.seen_cache_size < TREE_MAX_MISSING ? n->cfg.peer.seen_cache_size
									   : TREE_MAX_MISSING;

	for (unsigned t = 0; t <= TREE_GRAFT_TRIES; t++)
		ring_init(&n->missing[t], sizeof(struct tree_missing));
	/* No more ids can be missing at once than the seen cache remembers. */
	seen_cache_init(&n->announced, announced, n->cfg.peer.seen_cache_age_usec);
	tree_reconfigure(n);
}

void
tree_reconfigure(struct peer_node *n)
{
	seen_cache_set_frame_budget(&n->seen, n->cfg.peer.resend_cache_size);
	n->graft_jitter = rng_below(&n->rng, n->cfg.peer.graft_timeout_usec / 4 + 1);
	if (!n->cfg.peer.lazy_push) {
		/* Flooding: every link eager again, nothing left to announce. */
		for (struct neighbour *nb = n->neighbours; nb; nb = nb->next) {
			nb->lazy = false;
			flush_ihave(n, nb);
		}
	}
}

void
tree_free(struct peer_node *n)
{
	n->timer[PEER_T_IHAVE] = n->timer[PEER_T_GRAFT] = 0;
	for (unsigned t = 0; t <= TREE_GRAFT_TRIES; t++)
		ring_release(&n->missing[t]);
	seen_cache_free(&n->announced);
}
