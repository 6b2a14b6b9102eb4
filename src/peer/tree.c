/* SPDX-License-Identifier: MIT */
/*
 * The broadcast tree (Plumtree, Leitão et al. 2007). A message travels in
 * full ("eager push") only over links that are part of a spanning tree of
 * the neighbour graph; every other link carries just its id in a batched
 * IHAVE ("lazy push"). A duplicate arriving on an eager link proves a cycle:
 * the receiver answers PRUNE and both ends make the link lazy. A peer that
 * hears IHAVE for a message it does not get in full within graft_timeout
 * sends GRAFT: the announcer resends the message and the link turns eager,
 * which repairs the tree after a failure. With peer.lazy_push = false every
 * link stays eager: plain flooding.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "peer.h"

/* IHAVE ids wait this long so that one frame carries many under load. */
#define TREE_IHAVE_DELAY_USEC 2000
/* Announced messages waiting to arrive, at most; the oldest give way. */
#define TREE_MAX_MISSING 16384
/*
 * GRAFT attempts per missing message: the announcer, then every neighbour,
 * waiting graft_timeout, then twice as long each time (a loaded network
 * answers late, and a message given up on is lost to this peer).
 */
#define TREE_GRAFT_TRIES 5

struct tree_missing {
	uint8_t id[WIRE_ID_LEN];
	struct node_addr from; /* who announced it */
	uint64_t deadline;
	uint8_t tries;
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

static void
flush_ihave(struct peer *p, struct neighbour *nb)
{
	flush_ids(p, nb, WIRE_IHAVE, &nb->ihave);
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
arm(struct peer *p, sd_event_source **src, uint64_t at, sd_event_time_handler_t cb)
{
	if (!*src) {
		if (sd_event_add_time(p->event, src, CLOCK_MONOTONIC, at, 500, cb, p) < 0) {
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

static void
queue_ihave(struct peer *p, struct neighbour *nb, const uint8_t *id)
{
	if (!timer_armed(p->ihave_timer, NULL))
		arm(p, &p->ihave_timer, now_monotonic_usec() + TREE_IHAVE_DELAY_USEC, on_ihave_timer);
	buf_append(&nb->ihave, id, WIRE_ID_LEN);
	if (nb->ihave.len / WIRE_ID_LEN >= WIRE_MAX_IDS)
		flush_ihave(p, nb);
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

void
tree_duplicate(struct peer *p, struct neighbour *nb)
{
	struct buf b = {0};

	if (!p->cfg.peer.lazy_push)
		return;
	nb->lazy = true;
	wire_encode_empty(&b, WIRE_PRUNE);
	p->stats.prunes_sent++;
	neighbour_send_buf(nb, &b);
}

/* Asks nb for the message (sent with the others at the end of the timer run); nb is eager again. */
static void
queue_graft(struct neighbour *nb, const uint8_t *id)
{
	nb->lazy = false;
	buf_append(&nb->graft, id, WIRE_ID_LEN);
}

/*
 * Announced messages wait in one FIFO per attempt: all entries of a FIFO wait
 * equally long, so each is in deadline order and only its front is due first.
 */
struct tree_fifo {
	struct tree_missing *e;
	uint32_t head, count;
};

static struct tree_fifo *
fifo_of(struct peer *p, unsigned tries)
{
	if (!p->missing)
		p->missing = xcalloc(TREE_GRAFT_TRIES + 1, sizeof(*p->missing));
	return &p->missing[tries];
}

/* The earliest deadline of all the FIFOs, or 0 when all are empty. */
static uint64_t
next_deadline(struct peer *p)
{
	uint64_t at = 0;

	for (unsigned t = 0; p->missing && t <= TREE_GRAFT_TRIES; t++) {
		struct tree_fifo *f = &p->missing[t];
		if (f->count && (!at || f->e[f->head].deadline < at))
			at = f->e[f->head].deadline;
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
	arm(p, &p->graft_timer, at, on_graft_timer);
}

static void
missing_push(struct peer *p, const struct tree_missing *e)
{
	struct tree_fifo *f = fifo_of(p, e->tries);

	if (!f->e)
		f->e = xcalloc(TREE_MAX_MISSING, sizeof(*f->e));
	if (f->count == TREE_MAX_MISSING) {
		/* Far more announced than arriving: forget the oldest announcement. */
		p->stats.announcements_dropped++;
		f->head = (f->head + 1) % TREE_MAX_MISSING;
		f->count--;
	}
	f->e[(f->head + f->count) % TREE_MAX_MISSING] = *e;
	f->count++;
	graft_timer_by(p, e->deadline);
}

static int
on_graft_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct peer *p = userdata;
	uint64_t now = now_monotonic_usec(), at;

	for (unsigned t = 0; p->missing && t <= TREE_GRAFT_TRIES; t++) {
		struct tree_fifo *f = &p->missing[t];

		while (f->count && f->e[f->head].deadline <= now) {
			struct tree_missing e = f->e[f->head];
			struct neighbour *nb;

			f->head = (f->head + 1) % TREE_MAX_MISSING;
			f->count--;
			if (seen_cache_contains(&p->seen, e.id))
				continue; /* the eager copy came in time */
			if (e.tries == TREE_GRAFT_TRIES) {
				char hex[2 * WIRE_ID_LEN + 1];
				p->stats.grafts_failed++;
				log_warn("message %s was announced but never arrived after %d GRAFT "
					 "attempts", hex_encode(e.id, WIRE_ID_LEN, hex), TREE_GRAFT_TRIES);
				continue;
			}
			if (e.tries == 0 && (nb = find_up(p, &e.from))) {
				queue_graft(nb, e.id);
			} else {
				/* The announcer is gone or did not answer: ask everyone. */
				for (nb = p->neighbours; nb; nb = nb->next)
					if (nb->state == LINK_UP && nb->conn)
						queue_graft(nb, e.id);
			}
			e.tries++;
			e.deadline = now + (p->cfg.peer.graft_timeout_usec << e.tries);
			missing_push(p, &e);
		}
	}
	for (struct neighbour *nb = p->neighbours; nb; nb = nb->next)
		flush_ids(p, nb, WIRE_GRAFT, &nb->graft);
	if ((at = next_deadline(p)))
		arm(p, &p->graft_timer, at, on_graft_timer);
	return 0;
}

void
tree_on_frame(struct peer *p, struct neighbour *nb, const struct wire_msg *m)
{
	uint64_t now = now_monotonic_usec();

	switch (m->type) {
	case WIRE_PRUNE:
		p->stats.prunes_received++;
		if (p->cfg.peer.lazy_push)
			nb->lazy = true;
		return;
	case WIRE_GRAFT:
		nb->lazy = false;
		for (uint16_t i = 0; i < m->ids.count && nb->conn; i++) {
			struct blob *frame = seen_cache_frame(&p->seen, m->ids.ids + i * WIRE_ID_LEN);
			if (!frame)
				continue;
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
			struct tree_missing e = {.from = nb->addr,
						 .deadline = now + p->cfg.peer.graft_timeout_usec};

			if (seen_cache_contains(&p->seen, id) || !seen_cache_insert(&p->announced, id, now))
				continue;
			memcpy(e.id, id, WIRE_ID_LEN);
			missing_push(p, &e);
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
	seen_cache_set_frame_budget(&p->seen, p->cfg.peer.resend_cache_size);
}

void
tree_reconfigure(struct peer *p)
{
	seen_cache_set_frame_budget(&p->seen, p->cfg.peer.resend_cache_size);
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
		free(p->missing[t].e);
	free(p->missing);
	p->missing = NULL;
	seen_cache_free(&p->announced);
}
