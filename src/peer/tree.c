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
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "peer.h"

/* Announced messages waiting to arrive per attempt, at most: a full FIFO asks for its oldest. */
#define TREE_MAX_MISSING 16384
/*
 * GRAFT attempts per missing message, waiting the GRAFT wait, then twice as
 * long each time (a loaded network answers late, and a message given up on
 * is lost to this peer). Asking one neighbour at a time, not all, keeps a
 * late answer from costing a duplicate per neighbour and from making every
 * link eager at once; the last attempt asks all, in case the ones asked
 * before had let go of their copy (resend_cache_size).
 */
#define TREE_GRAFT_TRIES 5
/* Waiting IHAVE ids searched for one a neighbour turns out to have, at most. */
#define TREE_UNANNOUNCE_MAX 32
/* How many ids ahead IHAVE processing prefetches seen-cache slots. */
#define TREE_PREFETCH 8
/* While other messages keep arriving, a missing one is waited for up to this many GRAFT waits. */
#define TREE_GRAFT_PATIENCE 4
/*
 * The GRAFT timer runs after all pending input: a peer that was starved of
 * CPU reads the copies that reached it meanwhile before it asks for them.
 * The tick runs it when a stream of input holds it back for longer than a
 * graft_timeout.
 */
#define TREE_GRAFT_PRIORITY (SD_EVENT_PRIORITY_NORMAL + 1)

struct tree_missing {
	uint8_t id[WIRE_ID_LEN];
	struct node_addr from; /* who announced it first */
	uint64_t announced;    /* when */
	uint64_t since;        /* when its current wait began */
	uint8_t tries;         /* GRAFTs sent for it so far */
	bool from_eager;       /* announced over an eager link: a push held back */
};

static struct neighbour *
find_up(struct peer *p, const struct node_addr *a)
{
	struct neighbour *nb = find_neighbour(p, a);
	return nb && nb->state == LINK_UP && nb->conn ? nb : NULL;
}

/* Sends the ids gathered in ids (IHAVE or GRAFT), at most WIRE_MAX_IDS a frame, and empties it. */
static void
flush_ids(struct peer *p, struct neighbour *nb, uint8_t type, struct buf *ids)
{
	size_t n = ids->len / WIRE_ID_LEN;

	for (size_t off = 0; off < n && nb->state == LINK_UP && nb->conn; off += WIRE_MAX_IDS) {
		size_t k = n - off < WIRE_MAX_IDS ? n - off : WIRE_MAX_IDS;
		struct buf b = {0};

		wire_encode_ids(&b, type, ids->data + off * WIRE_ID_LEN, (uint16_t)k);
		if (type == WIRE_IHAVE) {
			p->stats.ihave_frames_sent++;
			p->stats.ihave_ids_sent += k;
		} else {
			p->stats.grafts_sent += k;
		}
		neighbour_send_buf(nb, &b); /* may drop nb's conn, never nb itself */
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
add_id(struct peer *p, struct neighbour *nb, uint8_t type, struct buf *ids, const uint8_t *id)
{
	buf_append(ids, id, WIRE_ID_LEN);
	if (ids->len / WIRE_ID_LEN >= WIRE_MAX_IDS)
		flush_ids(p, nb, type, ids);
}

static void
flush_ihave(struct peer *p, struct neighbour *nb)
{
	flush_ids(p, nb, WIRE_IHAVE, &nb->ihave);
}

void
tree_received(struct peer *p, const uint8_t id[WIRE_ID_LEN], uint64_t now)
{
	p->tree_delivered_at = now;
	memcpy(p->last_delivered, id, WIRE_ID_LEN);
}

void
tree_link_lost(struct peer *p, const struct neighbour *nb)
{
	if (nb->state == LINK_UP && (!nb->lazy || !p->cfg.peer.lazy_push))
		p->tree_cut_at = now_monotonic_usec();
}

static int
on_ihave_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct peer *p = userdata;

	for (struct neighbour *nb = p->neighbours; nb; nb = nb->next)
		flush_ihave(p, nb);
	return 0;
}

static void
arm(struct peer *p, sd_event_source **src, uint64_t at, sd_event_time_handler_t cb, int64_t prio)
{
	if (!*src) {
		if (sd_event_add_time(p->event, src, CLOCK_MONOTONIC, at, 500, cb, p) < 0 ||
		    sd_event_source_set_priority(*src, prio) < 0) {
			log_error("cannot add a timer: out of memory");
			abort();
		}
		return;
	}
	sd_event_source_set_time(*src, at);
	sd_event_source_set_enabled(*src, SD_EVENT_ONESHOT);
}

/* Whether the one-shot timer src is set, and for when (*at). */
static bool
timer_armed(sd_event_source *src, uint64_t *at)
{
	int enabled = SD_EVENT_OFF;

	if (!src || sd_event_source_get_enabled(src, &enabled) < 0 || enabled == SD_EVENT_OFF)
		return false;
	return !at || sd_event_source_get_time(src, at) >= 0;
}

/*
 * nb has the message id (it announced it, or sent it): it need not be told
 * of it, and a lazy link then carries one IHAVE for a message, not one each
 * way. Searched only while few ids wait, which is when IHAVE frames are
 * small and many: under load each frame carries hundreds.
 */
static void
unannounce(struct neighbour *nb, const uint8_t *id)
{
	size_t n = nb->ihave.len / WIRE_ID_LEN;

	if (n > TREE_UNANNOUNCE_MAX)
		return;
	for (size_t i = 0; i < n; i++) {
		uint8_t *x = nb->ihave.data + i * WIRE_ID_LEN;
		if (memcmp(x, id, WIRE_ID_LEN) == 0) {
			memmove(x, x + WIRE_ID_LEN, (n - i - 1) * WIRE_ID_LEN);
			nb->ihave.len -= WIRE_ID_LEN;
			nb->peer->stats.ihave_ids_spared++;
			return;
		}
	}
}

static void
queue_ihave(struct peer *p, struct neighbour *nb, const uint8_t *id)
{
	if (!timer_armed(p->ihave_timer, NULL))
		arm(p, &p->ihave_timer, now_monotonic_usec() + p->cfg.peer.ihave_delay_usec,
		    on_ihave_timer, SD_EVENT_PRIORITY_NORMAL);
	add_id(p, nb, WIRE_IHAVE, &nb->ihave, id);
}

/*
 * Payloads (pushes and GRAFT answers) fill at most 3/4 of send_queue_limit.
 * The rest is for ids and control frames: a neighbour that falls behind for a
 * while is told the ids (IHAVE) and GRAFTs the messages once it has caught
 * up, instead of losing its connection, and everything queued on it, at the
 * limit.
 */
static bool
payload_fits(const struct neighbour *nb, size_t len)
{
	return conn_room_for(nb->conn, len, nb->conn->queue_limit / 4);
}

uint32_t
tree_push(struct peer *p, struct blob *frame, const uint8_t id[WIRE_ID_LEN],
	  const struct neighbour *except, const struct node_addr *origin)
{
	uint32_t n = 0;

	for (struct neighbour *nb = p->neighbours, *next; nb; nb = next) {
		next = nb->next;
		if (nb == except || nb->state != LINK_UP || !nb->conn ||
		    node_addr_equal(&nb->addr, origin))
			continue;
		if (p->cfg.peer.lazy_push && nb->lazy) {
			queue_ihave(p, nb, id);
			continue;
		}
		if (!payload_fits(nb, frame->len)) {
			p->stats.pushes_deferred++;
			queue_ihave(p, nb, id);
			continue;
		}
		if (neighbour_send_blob(nb, frame) < 0)
			continue;
		p->stats.gossip_frames_sent++;
		p->stats.gossip_bytes_sent += frame->len;
		n++;
	}
	return n;
}

static struct neighbour *
find_serial(struct peer *p, uint32_t serial)
{
	for (struct neighbour *nb = p->neighbours; nb; nb = nb->next)
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
tree_duplicate(struct peer *p, struct neighbour *nb, const uint8_t id[WIRE_ID_LEN],
	       uint32_t first_from)
{
	struct buf b = {0};
	struct neighbour *first;

	unannounce(nb, id);
	if (!p->cfg.peer.lazy_push)
		return;
	if (first_from) {
		first = find_serial(p, first_from);
		if (first == nb || !first || first->state != LINK_UP || first->lazy) {
			p->stats.prunes_withheld++;
			return;
		}
	}
	nb->lazy = true;
	wire_encode_empty(&b, WIRE_PRUNE);
	p->stats.prunes_sent++;
	neighbour_send_buf(nb, &b);
}

/* Asks nb for the message (sent with the others at the end of the timer run); nb is eager again. */
static void
queue_graft(struct peer *p, struct neighbour *nb, const uint8_t *id)
{
	nb->lazy = false;
	add_id(p, nb, WIRE_GRAFT, &nb->graft, id);
}

/*
 * Announced messages wait in one FIFO per attempt: all entries of a FIFO wait
 * equally long, so each is in deadline order and only its front is due first.
 */
struct tree_fifo {
	struct tree_missing *e;
	uint32_t head, count;
};

static void
fifo_release(struct tree_fifo *f)
{
	free(f->e);
	f->e = NULL;
	f->head = f->count = 0;
}

static struct tree_fifo *
fifo_of(struct peer *p, unsigned tries)
{
	if (!p->missing)
		p->missing = xcalloc(TREE_GRAFT_TRIES + 1, sizeof(*p->missing));
	return &p->missing[tries];
}

/* The GRAFT wait (see the top of this file). */
static uint64_t
graft_wait(const struct peer *p)
{
	return (p->cfg.peer.graft_timeout_usec + p->graft_jitter) * (1 + p->health.score);
}

static uint64_t
deadline_of(const struct peer *p, const struct tree_missing *e)
{
	return e->since + (graft_wait(p) << e->tries);
}

/* The earliest deadline of all the FIFOs, or 0 when all are empty. */
static uint64_t
next_deadline(struct peer *p)
{
	uint64_t at = 0;

	for (unsigned t = 0; p->missing && t <= TREE_GRAFT_TRIES; t++) {
		struct tree_fifo *f = &p->missing[t];
		if (f->count && (!at || deadline_of(p, &f->e[f->head]) < at))
			at = deadline_of(p, &f->e[f->head]);
	}
	return at;
}

static int on_graft_timer(sd_event_source *s, uint64_t usec, void *userdata);

/* Arms the GRAFT timer for at, unless it is already due earlier. */
static void
graft_timer_by(struct peer *p, uint64_t at)
{
	uint64_t armed;

	if (timer_armed(p->graft_timer, &armed) && armed <= at)
		return;
	arm(p, &p->graft_timer, at, on_graft_timer, TREE_GRAFT_PRIORITY);
}

static void missing_due(struct peer *p, struct tree_missing e, uint64_t now, bool forced);

/*
 * Queues e, waiting from now. A full FIFO makes room by asking for its oldest
 * entry at once rather than forgetting it: a message forgotten while its
 * eager copy is lost would never arrive.
 */
static void
missing_push(struct peer *p, struct tree_missing e, uint64_t now)
{
	struct tree_fifo *f = fifo_of(p, e.tries);

	if (!f->e)
		f->e = xcalloc(TREE_MAX_MISSING, sizeof(*f->e));
	if (f->count == TREE_MAX_MISSING) {
		struct tree_missing oldest = f->e[f->head];

		f->head = (f->head + 1) % TREE_MAX_MISSING;
		f->count--;
		missing_due(p, oldest, now, true);
	}
	e.since = now;
	f->e[(f->head + f->count) % TREE_MAX_MISSING] = e;
	f->count++;
	graft_timer_by(p, deadline_of(p, &e));
}

/* Whether one of the links that are up is eager: this peer is part of the tree. */
static bool
in_tree(const struct peer *p)
{
	for (const struct neighbour *nb = p->neighbours; nb; nb = nb->next)
		if (nb->state == LINK_UP && nb->conn && !nb->lazy)
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
tree_still_coming(const struct peer *p, const struct tree_missing *e, uint64_t now)
{
	return !e->from_eager && p->tree_delivered_at > e->since && p->tree_cut_at < e->announced &&
	       now - e->announced < graft_wait(p) * TREE_GRAFT_PATIENCE && in_tree(p);
}

/* A random neighbour that is up, other than `avoid` unless it is the only one; NULL if none. */
static struct neighbour *
pick_other(struct peer *p, const struct node_addr *avoid)
{
	struct neighbour *pick = NULL, *fallback = NULL;
	uint64_t n = 0;

	for (struct neighbour *nb = p->neighbours; nb; nb = nb->next) {
		if (nb->state != LINK_UP || !nb->conn)
			continue;
		if (node_addr_equal(&nb->addr, avoid)) {
			fallback = nb;
			continue;
		}
		if (rng_below(&p->rng, ++n) == 0)
			pick = nb;
	}
	return pick ? pick : fallback;
}

/*
 * e came due, or was forced out of a full FIFO: unless it has arrived, ask for
 * it (the GRAFTs gathered go out at the end of graft_run), or wait again.
 */
static void
missing_due(struct peer *p, struct tree_missing e, uint64_t now, bool forced)
{
	struct neighbour *nb;

	if (seen_cache_contains(&p->seen, e.id))
		return; /* the eager copy came in time */
	if (e.tries == TREE_GRAFT_TRIES) {
		char hex[2 * WIRE_ID_LEN + 1];

		hex_encode(e.id, WIRE_ID_LEN, hex);
		if (forced) {
			/* Far more announced than arriving, for longer than every retry. */
			p->stats.announcements_dropped++;
			log_debug("forgetting announced message %s: too many are missing", hex);
			return;
		}
		p->stats.grafts_failed++;
		log_warn("message %s was announced but never arrived after %d GRAFT attempts", hex,
			 TREE_GRAFT_TRIES);
		return;
	}
	if (!forced && tree_still_coming(p, &e, now)) {
		p->stats.grafts_deferred++;
		missing_push(p, e, now);
		return;
	}
	/*
	 * The announcer first; once it is gone or did not answer, someone else;
	 * the last time, everyone (a neighbour may have let go of its copy).
	 */
	if (e.tries == TREE_GRAFT_TRIES - 1) {
		for (nb = p->neighbours; nb; nb = nb->next)
			if (nb->state == LINK_UP && nb->conn)
				queue_graft(p, nb, e.id);
		p->stats.graft_retries++;
	} else {
		if (e.tries > 0 || !(nb = find_up(p, &e.from)))
			nb = pick_other(p, &e.from);
		if (nb)
			queue_graft(p, nb, e.id);
		if (nb && e.tries > 0)
			p->stats.graft_retries++;
	}
	e.tries++;
	missing_push(p, e, now);
	if (forced)
		graft_timer_by(p, now); /* to send the GRAFT */
}

static void
graft_run(struct peer *p)
{
	uint64_t now = now_monotonic_usec(), at;

	for (unsigned t = 0; p->missing && t <= TREE_GRAFT_TRIES; t++) {
		struct tree_fifo *f = &p->missing[t];

		while (f->count && deadline_of(p, &f->e[f->head]) <= now) {
			struct tree_missing e = f->e[f->head];

			f->head = (f->head + 1) % TREE_MAX_MISSING;
			f->count--;
			missing_due(p, e, now, false);
		}
	}
	for (struct neighbour *nb = p->neighbours; nb; nb = nb->next)
		flush_ids(p, nb, WIRE_GRAFT, &nb->graft);
	if ((at = next_deadline(p)))
		arm(p, &p->graft_timer, at, on_graft_timer, TREE_GRAFT_PRIORITY);
	else if (p->graft_timer)
		sd_event_source_set_enabled(p->graft_timer, SD_EVENT_OFF);
}

static int
on_graft_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	graft_run(userdata);
	return 0;
}

void
tree_tick(struct peer *p, uint64_t now)
{
	uint64_t at;

	if (timer_armed(p->graft_timer, &at) && at + p->cfg.peer.graft_timeout_usec < now)
		graft_run(p);
	/*
	 * A FIFO is allocated whole (TREE_MAX_MISSING entries) when a burst first
	 * needs it. Entries at its front whose message has arrived are done with
	 * now rather than at their deadline (up to 2^TREE_GRAFT_TRIES GRAFT waits
	 * away), and a FIFO left empty gives its memory back: once a burst is
	 * over, a peer holds only what it held before it.
	 */
	for (unsigned t = 0; p->missing && t <= TREE_GRAFT_TRIES; t++) {
		struct tree_fifo *f = &p->missing[t];
		while (f->count && seen_cache_contains(&p->seen, f->e[f->head].id)) {
			f->head = (f->head + 1) % TREE_MAX_MISSING;
			f->count--;
		}
		if (!f->count)
			fifo_release(f);
	}
}

void
tree_on_frame(struct peer *p, struct neighbour *nb, const struct wire_msg *m)
{
	uint64_t now = now_monotonic_usec();

	switch (m->type) {
	case WIRE_PRUNE:
		p->stats.prunes_received++;
		if (!p->cfg.peer.lazy_push)
			return;
		nb->lazy = true;
		/*
		 * Neighbours that prune this peer at once, each over copies it
		 * forwarded while the tree was changing, can leave it outside the
		 * tree. Then it asks this one, with GRAFT for the last message it
		 * received, to take it back (an answer is only a duplicate).
		 */
		if (!in_tree(p) && p->tree_delivered_at) {
			p->stats.tree_rejoins++;
			queue_graft(p, nb, p->last_delivered);
			flush_ids(p, nb, WIRE_GRAFT, &nb->graft);
		}
		return;
	case WIRE_GRAFT:
		nb->lazy = false;
		for (uint16_t i = 0; i < m->ids.count && nb->conn; i++) {
			struct blob *frame = seen_cache_frame(&p->seen, m->ids.ids + i * WIRE_ID_LEN);
			if (!frame) {
				/* Never had it, or released it (peer.resend_cache_size). */
				p->stats.grafts_unanswerable++;
				continue;
			}
			if (!payload_fits(nb, frame->len)) {
				/* It asks again, later, and others too. */
				p->stats.pushes_deferred++;
				continue;
			}
			if (neighbour_send_blob(nb, frame) < 0)
				continue;
			p->stats.grafts_answered++;
			p->stats.gossip_frames_sent++;
			p->stats.gossip_bytes_sent += frame->len;
		}
		return;
	case WIRE_IHAVE:
		p->stats.ihave_ids_received += m->ids.count;
		for (uint16_t i = 0; i < m->ids.count; i++) {
			const uint8_t *id = m->ids.ids + i * WIRE_ID_LEN;
			struct tree_missing e = {.from = nb->addr, .announced = now,
						 .from_eager = !nb->lazy || !p->cfg.peer.lazy_push};

			/* Lookups miss the CPU cache: start the ones a few ids ahead. */
			if (i + TREE_PREFETCH < m->ids.count)
				seen_cache_prefetch(&p->seen, id + TREE_PREFETCH * WIRE_ID_LEN);
			if (seen_cache_contains(&p->seen, id)) {
				unannounce(nb, id); /* it has it: no need to tell it */
				continue;
			}
			/* Only the first announcement of a missing message counts. */
			if (!seen_cache_insert(&p->announced, id, now))
				continue;
			memcpy(e.id, id, WIRE_ID_LEN);
			missing_push(p, e, now);
		}
		return;
	default:
		return;
	}
}

void
tree_init(struct peer *p)
{
	seen_cache_init(&p->announced, TREE_MAX_MISSING, p->cfg.peer.seen_cache_age_usec);
	tree_reconfigure(p);
}

void
tree_reconfigure(struct peer *p)
{
	seen_cache_set_frame_budget(&p->seen, p->cfg.peer.resend_cache_size);
	p->graft_jitter = rng_below(&p->rng, p->cfg.peer.graft_timeout_usec / 4 + 1);
	if (!p->cfg.peer.lazy_push) {
		/* Flooding: every link eager again, nothing left to announce. */
		for (struct neighbour *nb = p->neighbours; nb; nb = nb->next) {
			nb->lazy = false;
			flush_ihave(p, nb);
		}
	}
}

void
tree_free(struct peer *p)
{
	p->ihave_timer = sd_event_source_disable_unref(p->ihave_timer);
	p->graft_timer = sd_event_source_disable_unref(p->graft_timer);
	for (unsigned t = 0; p->missing && t <= TREE_GRAFT_TRIES; t++)
		fifo_release(&p->missing[t]);
	free(p->missing);
	p->missing = NULL;
	seen_cache_free(&p->announced);
}
