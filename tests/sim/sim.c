/* SPDX-License-Identifier: MIT */
/*
 * The deterministic network simulator: the same src/core seeds and peers as
 * the daemons, on a virtual clock and a virtual network of TCP-like
 * connections (in order, reliable; a loss costs a retransmission timeout;
 * partitions hold traffic until the heal; a killed process resets its
 * connections). Everything random comes from one seeded generator and
 * events at the same time run in the order they were queued, so a seed
 * gives the same run, event for event.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/list.h"
#include "sim.h"

enum inflight_kind {
	IF_FRAME,
	IF_FIN,
};

struct inflight {
	struct inflight *next;
	uint64_t at;
	struct blob *frame;
	uint8_t kind;
};

struct pending_out {
	uint64_t depart;
	size_t len;
};

/* Internal event kinds, after those of sim.h. */
enum {
	EV_EXIT = EV_ACTION + 1, /* a node's process ends after leaving */
};

static const struct env_ops sim_ops;

/* ---- addresses and message ids ---------------------------------------------------------- */

static size_t
addr_hash(const struct node_addr *a)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (int i = 0; i < 4; i++)
		h = (h ^ a->addr[i]) * 0x100000001b3ULL;
	h = (h ^ a->port) * 0x100000001b3ULL;
	return (size_t)(h ^ (h >> 29));
}

static void
node_address(uint32_t i, bool is_seed, struct node_addr *ret)
{
	uint32_t ip = (10u << 24) + i + 1;

	memset(ret, 0, sizeof(*ret));
	ret->family = AF_INET;
	ret->addr[0] = (uint8_t)(ip >> 24);
	ret->addr[1] = (uint8_t)(ip >> 16);
	ret->addr[2] = (uint8_t)(ip >> 8);
	ret->addr[3] = (uint8_t)ip;
	ret->port = is_seed ? 5000 : 6000;
}

static int64_t
find_node(const struct sim *s, const struct node_addr *a)
{
	for (size_t i = addr_hash(a) & s->addr_mask;; i = (i + 1) & s->addr_mask) {
		uint32_t v = s->addr_table[i];
		if (!v)
			return -1;
		if (node_addr_equal(&s->nodes[v - 1].addr, a))
			return v - 1;
	}
}

static int64_t
find_msg(const struct sim *s, const uint8_t *id)
{
	uint64_t h;

	memcpy(&h, id, sizeof(h));
	for (size_t i = h & s->msg_mask;; i = (i + 1) & s->msg_mask) {
		uint32_t v = s->msg_table[i];
		if (!v)
			return -1;
		if (!memcmp(s->msgs[v - 1].id, id, WIRE_ID_LEN))
			return v - 1;
	}
}

static void
add_msg_index(struct sim *s, uint32_t k)
{
	uint64_t h;
	size_t i;

	memcpy(&h, s->msgs[k].id, sizeof(h));
	for (i = h & s->msg_mask; s->msg_table[i]; i = (i + 1) & s->msg_mask)
		;
	s->msg_table[i] = k + 1;
}

/* ---- the network --------------------------------------------------------------------- */

static bool
path_cut(const struct sim *s, uint32_t a, uint32_t b)
{
	return s->partitioned && s->nodes[a].group != s->nodes[b].group;
}

static uint64_t
one_way(struct sim *s)
{
	uint64_t d = s->net.latency_usec;

	if (s->net.jitter_usec)
		d += rng_below(&s->rng, s->net.jitter_usec);
	return d;
}

/* Extra delay of a frame lost once or more: TCP's retransmission timeouts, doubling. */
static uint64_t
loss_delay(struct sim *s)
{
	uint64_t rto = 2 * s->net.latency_usec, d = 0;

	if (s->net.loss <= 0)
		return 0;
	if (rto < SIM_RTO_MIN_USEC)
		rto = SIM_RTO_MIN_USEC;
	while ((double)(rng_next(&s->rng) >> 11) * 0x1.0p-53 < s->net.loss && d < 120 * SIM_S) {
		d += rto;
		rto *= 2;
	}
	return d;
}

static void
vconn_unref(struct sim *s, struct vconn *vc)
{
	if (--vc->refs)
		return;
	for (int d = 0; d < 2; d++) {
		while (vc->q[d].head) {
			struct inflight *f = vc->q[d].head;
			vc->q[d].head = f->next;
			blob_unref(f->frame);
			free(f);
		}
		ring_release(&vc->end[d].out);
	}
	free(vc);
}

static void
schedule_head(struct sim *s, struct vconn *vc, int dir)
{
	struct frame_q *q = &vc->q[dir];

	if (q->scheduled || q->blocked || !q->head || !vc->established)
		return;
	q->scheduled = true;
	vc->refs++;
	eventq_push(&s->q, q->head->at > s->now ? q->head->at : s->now, EV_HEAD, 0, (uint64_t)dir,
		    vc);
}

static void
enqueue(struct sim *s, struct vconn *vc, int dir, uint64_t at, uint8_t kind, struct blob *frame)
{
	struct frame_q *q = &vc->q[dir];
	struct inflight *f = xcalloc(1, sizeof(*f));

	if (at < q->last_arrival)
		at = q->last_arrival; /* TCP delivers in order: a late frame holds up the rest */
	q->last_arrival = at;
	f->at = at;
	f->kind = kind;
	f->frame = frame ? blob_ref(frame) : NULL;
	if (q->tail)
		q->tail->next = f;
	else
		q->head = f;
	q->tail = f;
	schedule_head(s, vc, dir);
}

static void
end_detach(struct sim *s, struct vend *e)
{
	struct sim_node *nd = &s->nodes[e->node];

	if (!e->open)
		return;
	e->open = false;
	e->lk = NULL;
	DLIST_REMOVE(&nd->ends, e, &nd->n_ends);
	vconn_unref(s, e->vc);
}

static void
end_attach(struct sim *s, struct vend *e, struct vconn *vc, int side, struct link *lk)
{
	struct sim_node *nd = &s->nodes[vc->node[side]];

	*e = (struct vend){.vc = vc, .side = side, .lk = lk, .node = vc->node[side], .open = true};
	lk->io = e;
	DLIST_PUSH(&nd->ends, e, &nd->n_ends);
	vc->refs++;
}

/* Closes one end: its core forgets it, and the other end gets EOF after what is in flight. */
static void
end_close(struct sim *s, struct vend *e)
{
	struct vconn *vc = e->vc;
	int side = e->side;

	if (!e->open)
		return;
	vc->refs++; /* end_detach may drop the last reference */
	end_detach(s, e);
	enqueue(s, vc, 1 - side, s->now + one_way(s), IF_FIN, NULL);
	vconn_unref(s, vc);
}

/* ---- what a node's core sees: its environment ---------------------------------------- */

static void
count_frame(struct sim *s, const struct sim_node *nd, const struct blob *frame)
{
	enum frame_kind_count k;

	if (nd->is_seed || frame->len < WIRE_HDR_LEN)
		return;
	switch (frame->data[3]) {
	case WIRE_GOSSIP:
		k = FK_GOSSIP;
		s->c.payload_bytes += frame->len;
		break;
	case WIRE_IHAVE:
		k = FK_IHAVE;
		break;
	case WIRE_GRAFT:
		k = FK_GRAFT;
		break;
	case WIRE_PRUNE:
		k = FK_PRUNE;
		break;
	case WIRE_PING:
	case WIRE_PONG:
		k = FK_PING;
		break;
	case WIRE_AE_SUMMARY:
	case WIRE_AE_IDS:
		k = FK_OTHER;
		s->c.ae_bytes += frame->len;
		break;
	default:
		k = FK_OTHER;
		break;
	}
	s->c.frames[k]++;
}

static int
op_connect(void *ctx, struct link *lk, const struct node_addr *to)
{
	struct sim_node *nd = ctx;
	struct sim *s = nd->sim;
	struct vconn *vc = xcalloc(1, sizeof(*vc));
	int64_t t = find_node(s, to);

	vc->node[0] = nd->index;
	vc->gen[0] = nd->gen;
	vc->q[0].vc = vc->q[1].vc = vc;
	end_attach(s, &vc->end[0], vc, 0, lk);
	vc->refs++;
	if (t < 0) {
		/* Nobody there: the connect fails after a round trip. */
		eventq_push(&s->q, s->now + 2 * one_way(s), EV_SYNACK, 0, EHOSTUNREACH, vc);
		return 0;
	}
	vc->node[1] = (uint32_t)t;
	eventq_push(&s->q, s->now + one_way(s), EV_SYN, 0, 0, vc);
	return 0;
}

/* Frames still in the node's uplink: those whose departure is after now. */
static size_t
queued_of(struct sim *s, struct vend *e)
{
	struct pending_out *p;

	while ((p = ring_front(&e->out)) && p->depart <= s->now) {
		e->queued -= p->len;
		ring_pop(&e->out);
	}
	return e->queued;
}

static void
note_out(struct vend *e, uint64_t depart, size_t len)
{
	if (!e->out.elem)
		ring_init(&e->out, sizeof(struct pending_out));
	*(struct pending_out *)ring_push(&e->out, 0) = (struct pending_out){depart, len};
	e->queued += len;
}

static int
op_send(void *ctx, struct link *lk, struct blob *frame)
{
	struct sim_node *nd = ctx;
	struct sim *s = nd->sim;
	struct vend *e = lk->io;
	uint64_t depart = s->now;

	if (!e || !e->open)
		return -EPIPE;
	if (lk->queue_limit && queued_of(s, e) + frame->len > lk->queue_limit)
		return -ENOBUFS;
	if (s->net.bandwidth) {
		if (nd->uplink_free_at > depart)
			depart = nd->uplink_free_at;
		depart += frame->len * SIM_S / s->net.bandwidth;
		nd->uplink_free_at = depart;
		note_out(e, depart, frame->len);
	}
	e->bytes_out += frame->len;
	count_frame(s, nd, frame);
	enqueue(s, e->vc, 1 - e->side, depart + one_way(s) + loss_delay(s), IF_FRAME, frame);
	return 0;
}

static size_t
op_queued(void *ctx, const struct link *lk)
{
	struct sim_node *nd = ctx;

	return lk->io ? queued_of(nd->sim, lk->io) : 0;
}

static void
op_progress(void *ctx, const struct link *lk, bool want_unread, struct link_progress *ret)
{
	struct vend *e = lk->io;

	ret->queued = op_queued(ctx, lk);
	ret->bytes_out = e ? e->bytes_out : 0;
	ret->unread = 0;
}

static void
op_close(void *ctx, struct link *lk, const char *reason, int error, bool after_flush)
{
	struct sim_node *nd = ctx;
	struct vend *e = lk->io;

	lk->io = NULL;
	if (e)
		end_close(nd->sim, e);
}

static void
op_flush(void *ctx)
{
}

static void
op_wake(void *ctx, enum wake_class cls, uint64_t at)
{
	struct sim_node *nd = ctx;
	struct sim *s = nd->sim;

	nd->wake_at[cls] = at;
	if (!at)
		return;
	eventq_push(&s->q, at > s->now ? at : s->now, EV_WAKE, nd->index,
		    ((uint64_t)nd->gen << 8) | (uint64_t)cls, (void *)(uintptr_t)at);
}

static void
trace(struct sim *s, const struct sim_node *nd, const char *what, const char *detail)
{
	if (!s->trace)
		return;
	fprintf(s->trace, "%" PRIu64 ".%06" PRIu64 " %u %s %s\n",
		(uint64_t)((s->now - SIM_EPOCH_MONO) / SIM_S), (uint64_t)((s->now - SIM_EPOCH_MONO) % SIM_S),
		nd->index, what, detail);
	s->trace_lines++;
}

static void
op_deliver(void *ctx, const struct delivery *d)
{
	struct sim_node *nd = ctx;
	struct sim *s = nd->sim;
	int64_t k = find_msg(s, d->id), from;
	struct sim_msg *m;
	char hex[2 * WIRE_ID_LEN + 1];

	if (s->trace)
		trace(s, nd, "delivered", hex_encode(d->id, WIRE_ID_LEN, hex));
	if (k < 0)
		return;
	m = &s->msgs[k];
	if (m->latency_us[nd->index] != UINT32_MAX) {
		m->duplicates++;
		return;
	}
	m->latency_us[nd->index] = (uint32_t)(s->now - m->sent_at);
	from = find_node(s, d->from);
	m->hops[nd->index] = (uint16_t)((from >= 0 && (uint32_t)from != m->origin &&
					 m->hops[from] != UINT16_MAX ? m->hops[from] : 0) + 1);
	m->deliveries++;
}

/* A live node is one whose process runs (a stalled one too): declaring it dead is false. */
static bool
alive(const struct sim *s, const struct sim_node *nd)
{
	return nd->up && !nd->leaving;
}

static void
note_dead(struct sim *s, const struct sim_node *by, const struct log_fields *f)
{
	struct node_addr a;
	int64_t t;

	if (!f->remote || node_addr_parse(f->remote, &a) < 0 || (t = find_node(s, &a)) < 0)
		return;
	s->c.deaths_declared++;
	if (alive(s, &s->nodes[t]))
		s->c.false_dead++;
	else if (s->nodes[t].crashed_at && !s->nodes[t].detected_at)
		s->nodes[t].detected_at = s->now;
}

static void
note_removed(struct sim *s, const struct log_fields *f, const char *msg)
{
	struct node_addr a;
	struct sim_node *t;
	int64_t k;

	if (!f->remote || node_addr_parse(f->remote, &a) < 0 || (k = find_node(s, &a)) < 0)
		return;
	t = &s->nodes[k];
	if (t->crashed_at && !t->up) {
		if (++t->removed_by == t->registered_at_crash)
			t->removed_at = s->now;
	} else if (alive(s, t) && strstr(msg, "lease expired")) {
		/* Not refreshed: another seed majority since a restart, or cut off (the last resort). */
		s->c.live_leases_expired++;
	} else if (alive(s, t) && !strstr(msg, "Peer left")) {
		s->c.false_removed++;
	}
}

static void
op_log(void *ctx, int prio, const struct log_fields *f, const char *file, int line,
       const char *func, const char *msg)
{
	struct sim_node *nd = ctx;
	struct sim *s = nd->sim;

	if (!f || !f->event)
		return;
	if (!strcmp(f->event, "dead") && !nd->is_seed)
		note_dead(s, nd, f);
	else if (!strcmp(f->event, "removed") && nd->is_seed)
		note_removed(s, f, msg);
	if (s->trace && strcmp(f->event, "received") && strcmp(f->event, "sent")) {
		char detail[160];
		snprintf(detail, sizeof(detail), "%s", f->remote ? f->remote : "-");
		trace(s, nd, f->event, detail);
	}
}

static void
op_notice(void *ctx, enum notice what)
{
	struct sim_node *nd = ctx;
	struct sim *s = nd->sim;

	if (what == NOTICE_READY) {
		nd->ready = true;
		trace(s, nd, "ready", "-");
	} else if (what == NOTICE_STOPPED) {
		/* Its process ends once the core has returned. */
		eventq_push(&s->q, s->now, EV_EXIT, nd->index, nd->gen, NULL);
	}
}

static const struct env_ops sim_ops = {
	.connect = op_connect,
	.send = op_send,
	.queued = op_queued,
	.progress = op_progress,
	.close = op_close,
	.flush = op_flush,
	.wake = op_wake,
	.deliver = op_deliver,
	.log = op_log,
	.notice = op_notice,
};

/* ---- events ---------------------------------------------------------------------------- */

static struct instant
instant(const struct sim *s)
{
	return (struct instant){s->now, SIM_EPOCH_REAL + (s->now - SIM_EPOCH_MONO)};
}

/* An event for a stalled node waits until it runs again; true when deferred. */
static bool
defer_if_stalled(struct sim *s, const struct event *ev, uint32_t node)
{
	if (s->nodes[node].stalled_until <= s->now)
		return false;
	eventq_push(&s->q, s->nodes[node].stalled_until, ev->kind, ev->node, ev->arg, ev->ptr);
	return true;
}

static void
on_wake(struct sim *s, const struct event *ev)
{
	struct sim_node *nd = &s->nodes[ev->node];
	enum wake_class cls = (enum wake_class)(ev->arg & 0xff);
	uint64_t due = (uint64_t)(uintptr_t)ev->ptr;

	if (!nd->up || (ev->arg >> 8) != nd->gen || nd->wake_at[cls] != due)
		return; /* another process, or moved since */
	if (defer_if_stalled(s, ev, ev->node))
		return;
	nd->wake_at[cls] = 0;
	if (nd->peer)
		peer_node_wakeup(nd->peer, cls, instant(s));
	else
		seed_node_wakeup(nd->seed, instant(s));
}

static bool
process_is(const struct sim *s, const struct vconn *vc, int side)
{
	const struct sim_node *nd = &s->nodes[vc->node[side]];
	return nd->up && nd->gen == vc->gen[side];
}

static void
on_syn(struct sim *s, const struct event *ev)
{
	struct vconn *vc = ev->ptr;
	struct sim_node *t = &s->nodes[vc->node[1]];
	struct link *lk;

	if (!vc->end[0].open || path_cut(s, vc->node[0], vc->node[1]))
		goto done; /* given up on, or the SYN is lost in the partition */
	if (!t->up) {
		/* The host answers for the dead process: connection refused. */
		vc->refs++;
		eventq_push(&s->q, s->now + one_way(s), EV_SYNACK, 0, ECONNREFUSED, vc);
		goto done;
	}
	if (defer_if_stalled(s, ev, vc->node[1]))
		return;
	vc->gen[1] = t->gen;
	vc->established = true;
	vc->refs++;
	eventq_push(&s->q, s->now + one_way(s), EV_SYNACK, 0, 0, vc);
	lk = t->peer ? peer_node_accept(t->peer, &vc->end[1], &s->nodes[vc->node[0]].addr, instant(s))
		     : seed_node_accept(t->seed, &vc->end[1], &s->nodes[vc->node[0]].addr, instant(s));
	if (!lk) {
		enqueue(s, vc, 0, s->now + one_way(s), IF_FIN, NULL); /* accepted, then closed */
	} else {
		end_attach(s, &vc->end[1], vc, 1, lk);
		schedule_head(s, vc, 1); /* what the connector sent meanwhile */
	}
done:
	vconn_unref(s, vc);
}

static void
on_synack(struct sim *s, const struct event *ev)
{
	struct vconn *vc = ev->ptr;
	struct vend *e = &vc->end[0];
	struct sim_node *nd = &s->nodes[vc->node[0]];
	struct link *lk = e->lk;

	if (!e->open || !process_is(s, vc, 0)) {
		vconn_unref(s, vc);
		return;
	}
	if (defer_if_stalled(s, ev, vc->node[0]))
		return; /* keeps its reference */
	if (ev->arg) {
		end_detach(s, e);
		if (nd->peer)
			peer_node_closed(nd->peer, lk, "connect failed", (int)ev->arg, instant(s));
		else
			seed_node_closed(nd->seed, lk, "connect failed", (int)ev->arg, instant(s));
	} else if (nd->peer) {
		peer_node_connected(nd->peer, lk, instant(s));
	} else {
		seed_node_connected(nd->seed, lk, instant(s));
	}
	vconn_unref(s, vc);
}

/*
 * What one send carried, frame by frame, to a core: -EBADMSG closes the
 * connection, as the daemons' conn does. A send may hold several frames (a
 * probe's HELLO and PING): the daemons read a byte stream.
 */
static void
feed_frame(struct sim *s, struct sim_node *nd, struct vend *e, const struct blob *frame, bool last)
{
	const uint8_t *p = frame->data;
	size_t left = frame->len;
	struct link *lk = e->lk;

	while (left && e->open && e->lk == lk) {
		const char *reason = NULL;
		long flen = wire_frame_check(p, left, &reason);
		size_t len = flen > 0 ? (size_t)flen : left; /* a bad one goes whole to the decoder */
		int r;

		r = nd->peer ? peer_node_frame(nd->peer, lk, p, len, last && len == left, instant(s),
					       &reason)
			     : seed_node_frame(nd->seed, lk, p, len, instant(s), &reason);
		if (r < 0 && e->open && e->lk == lk) {
			end_close(s, e);
			if (nd->peer)
				peer_node_closed(nd->peer, lk, reason ? reason : "malformed frame",
						 EBADMSG, instant(s));
			else
				seed_node_closed(nd->seed, lk, reason ? reason : "malformed frame",
						 EBADMSG, instant(s));
			return;
		}
		p += len;
		left -= len;
	}
}

static void
feed_eof(struct sim *s, struct sim_node *nd, struct vend *e)
{
	struct link *lk = e->lk;

	end_detach(s, e);
	if (nd->peer)
		peer_node_closed(nd->peer, lk, "connection closed by remote", 0, instant(s));
	else
		seed_node_closed(nd->seed, lk, "connection closed by remote", 0, instant(s));
}

static void
on_head(struct sim *s, const struct event *ev)
{
	struct vconn *vc = ev->ptr;
	int dir = (int)ev->arg;
	struct frame_q *q = &vc->q[dir];
	struct sim_node *nd = &s->nodes[vc->node[dir]];
	struct vend *e = &vc->end[dir];
	struct inflight *f;

	q->scheduled = false;
	if (path_cut(s, vc->node[0], vc->node[1])) {
		q->blocked = true; /* retransmitted after the heal; keeps its reference */
		q->blocked_next = s->blocked;
		s->blocked = q;
		return;
	}
	if (process_is(s, vc, dir) && e->open && nd->stalled_until > s->now) {
		q->scheduled = true;
		eventq_push(&s->q, nd->stalled_until, EV_HEAD, 0, ev->arg, vc);
		return;
	}
	f = q->head;
	q->head = f->next;
	if (!q->head)
		q->tail = NULL;
	schedule_head(s, vc, dir);
	if (process_is(s, vc, dir) && e->open) {
		if (f->kind == IF_FRAME)
			feed_frame(s, nd, e, f->frame, !q->head || q->head->at > s->now);
		else
			feed_eof(s, nd, e);
	}
	blob_unref(f->frame);
	free(f);
	vconn_unref(s, vc);
}

static void
free_core(struct sim_node *nd)
{
	if (nd->peer) {
		peer_node_free(nd->peer);
		free(nd->peer);
		nd->peer = NULL;
	}
	if (nd->seed) {
		seed_node_free(nd->seed);
		free(nd->seed);
		nd->seed = NULL;
	}
}

static void
on_exit_event(struct sim *s, const struct event *ev)
{
	struct sim_node *nd = &s->nodes[ev->node];

	if (!nd->up || nd->gen != ev->arg)
		return;
	nd->up = false;
	nd->down_since = s->now;
	free_core(nd);
	while (nd->ends)
		end_close(s, nd->ends);
	nd->gen++;
}

/* ---- the simulator ------------------------------------------------------------------------ */

void
sim_init(struct sim *s, uint64_t seed, uint32_t max_nodes, const struct net_params *net,
	 const struct gossip_config *peer_cfg, const struct gossip_config *seed_cfg)
{
	size_t tsize = 16;

	memset(s, 0, sizeof(*s));
	s->seed = seed;
	rng_seed(&s->rng, seed);
	s->now = SIM_EPOCH_MONO;
	s->net = *net;
	eventq_init(&s->q);
	conf_copy(&s->peer_cfg, peer_cfg);
	conf_copy(&s->seed_cfg, seed_cfg);
	s->cap_nodes = max_nodes;
	s->nodes = xcalloc(max_nodes, sizeof(*s->nodes));
	while (tsize < 2 * (size_t)max_nodes)
		tsize *= 2;
	s->addr_table = xcalloc(tsize, sizeof(*s->addr_table));
	s->addr_mask = tsize - 1;
}

void
sim_free(struct sim *s)
{
	struct event ev;

	for (uint32_t i = 0; i < s->n_nodes; i++) {
		struct sim_node *nd = &s->nodes[i];
		free_core(nd);
		while (nd->ends)
			end_detach(s, nd->ends);
	}
	/* What events still point at goes with them. */
	while (eventq_pop(&s->q, &ev))
		if (ev.kind == EV_SYN || ev.kind == EV_SYNACK || ev.kind == EV_HEAD)
			vconn_unref(s, ev.ptr);
	for (struct frame_q *q = s->blocked, *next; q; q = next) {
		next = q->blocked_next;
		vconn_unref(s, q->vc);
	}
	for (uint32_t k = 0; k < s->n_msgs; k++) {
		free(s->msgs[k].latency_us);
		free(s->msgs[k].hops);
	}
	free(s->msgs);
	free(s->msg_table);
	free(s->nodes);
	free(s->addr_table);
	eventq_free(&s->q);
	conf_free(&s->peer_cfg);
	conf_free(&s->seed_cfg);
}

uint32_t
sim_add_node(struct sim *s, bool is_seed)
{
	uint32_t i = s->n_nodes++;
	struct sim_node *nd = &s->nodes[i];
	size_t h;

	if (i >= s->cap_nodes)
		abort();
	nd->sim = s;
	nd->index = i;
	nd->is_seed = is_seed;
	node_address(i, is_seed, &nd->addr);
	nd->env = (struct env){.ops = &sim_ops, .ctx = nd, .max_prio = LOG_INFO};
	for (h = addr_hash(&nd->addr) & s->addr_mask; s->addr_table[h]; h = (h + 1) & s->addr_mask)
		;
	s->addr_table[h] = i + 1;
	if (is_seed)
		s->n_seeds++;
	return i;
}

void
sim_set_seeds(struct sim *s, struct gossip_config *c)
{
	free(c->seeds);
	c->n_seeds = 0;
	c->seeds = xcalloc(s->n_seeds ? s->n_seeds : 1, sizeof(*c->seeds));
	for (uint32_t i = 0; i < s->n_nodes; i++)
		if (s->nodes[i].is_seed)
			c->seeds[c->n_seeds++] = s->nodes[i].addr;
}

/*
 * What the daemon's state file gives a restarted peer: when it first became a
 * member, and the messages it delivered (or sent) before.
 */
static void
restore_state(struct sim *s, uint32_t i)
{
	struct sim_node *nd = &s->nodes[i];

	if (!nd->member_since) {
		nd->member_since = s->now;
		return;
	}
	peer_node_set_history(nd->peer, SIM_EPOCH_REAL + (nd->member_since - SIM_EPOCH_MONO));
	for (uint32_t k = 0; k < s->n_msgs; k++) {
		const struct sim_msg *m = &s->msgs[k];
		if (m->origin == i || m->latency_us[i] != UINT32_MAX)
			peer_node_remember(nd->peer, m->id,
					   SIM_EPOCH_REAL + (m->sent_at - SIM_EPOCH_MONO), instant(s));
	}
}

void
sim_start_node(struct sim *s, uint32_t i)
{
	struct sim_node *nd = &s->nodes[i];
	uint64_t seed = rng_next(&s->rng);

	if (nd->up)
		return;
	nd->up = true;
	nd->ready = nd->is_seed;
	nd->leaving = false;
	nd->crashed_at = nd->detected_at = nd->removed_at = 0;
	nd->removed_by = 0;
	nd->up_since = s->now;
	memset(nd->wake_at, 0, sizeof(nd->wake_at));
	if (nd->is_seed) {
		nd->seed = xcalloc(1, sizeof(*nd->seed));
		seed_node_init(nd->seed, &s->seed_cfg, &nd->addr, seed, &nd->env);
		seed_node_start(nd->seed, instant(s));
	} else {
		nd->peer = xcalloc(1, sizeof(*nd->peer));
		peer_node_init(nd->peer, &s->peer_cfg, &nd->addr, seed, &nd->env);
		restore_state(s, i);
		peer_node_start(nd->peer, instant(s));
	}
}

void
sim_crash_node(struct sim *s, uint32_t i)
{
	struct sim_node *nd = &s->nodes[i];

	if (!nd->up)
		return;
	nd->registered_at_crash = 0;
	for (uint32_t k = 0; k < s->n_nodes; k++)
		if (s->nodes[k].seed && registry_find(&s->nodes[k].seed->registry, &nd->addr))
			nd->registered_at_crash++;
	free_core(nd);
	while (nd->ends)
		end_close(s, nd->ends);
	nd->up = false;
	nd->ready = false;
	nd->gen++;
	nd->down_since = nd->crashed_at = s->now;
	nd->detected_at = nd->removed_at = 0;
	nd->removed_by = 0;
	trace(s, nd, "crashed", "-");
}

void
sim_leave_node(struct sim *s, uint32_t i)
{
	struct sim_node *nd = &s->nodes[i];

	if (!nd->up || !nd->peer)
		return;
	nd->leaving = true;
	peer_node_leave(nd->peer, instant(s));
}

void
sim_stall_node(struct sim *s, uint32_t i, uint64_t d)
{
	if (s->nodes[i].stalled_until < s->now + d)
		s->nodes[i].stalled_until = s->now + d;
}

void
sim_partition(struct sim *s, bool on)
{
	s->partitioned = on;
	if (on)
		return;
	for (struct frame_q *q = s->blocked, *next; q; q = next) {
		uint64_t at = s->now + one_way(s);
		next = q->blocked_next;
		q->blocked = false;
		q->blocked_next = NULL;
		for (struct inflight *f = q->head; f; f = f->next)
			if (f->at < at)
				f->at = at;
		if (q->last_arrival < at)
			q->last_arrival = at;
		schedule_head(s, q->vc, (int)(q - q->vc->q));
		vconn_unref(s, q->vc); /* the blocked list's reference */
	}
	s->blocked = NULL;
}

int
sim_broadcast(struct sim *s, uint32_t i, size_t len)
{
	struct sim_node *nd = &s->nodes[i];
	uint8_t *payload, id[WIRE_ID_LEN];
	struct sim_msg *m;
	uint64_t seq;
	int r;

	if (!nd->up || !nd->peer)
		return -1;
	payload = xmalloc(len);
	for (size_t k = 0; k < len; k++)
		payload[k] = (uint8_t)('a' + (s->n_msgs + k) % 26);
	r = peer_node_broadcast(nd->peer, payload, len, instant(s), id, &seq);
	free(payload);
	if (r < 0)
		return -1;
	if (s->n_msgs == s->cap_msgs) {
		size_t tsize = 16;
		s->cap_msgs = s->cap_msgs ? 2 * s->cap_msgs : 64;
		s->msgs = xreallocarray(s->msgs, s->cap_msgs, sizeof(*s->msgs));
		while (tsize < 2 * (size_t)s->cap_msgs)
			tsize *= 2;
		free(s->msg_table);
		s->msg_table = xcalloc(tsize, sizeof(*s->msg_table));
		s->msg_mask = tsize - 1;
		for (uint32_t k = 0; k < s->n_msgs; k++)
			add_msg_index(s, k);
	}
	m = &s->msgs[s->n_msgs];
	memset(m, 0, sizeof(*m));
	memcpy(m->id, id, WIRE_ID_LEN);
	m->origin = i;
	m->sent_at = s->now;
	m->latency_us = xmalloc(s->cap_nodes * sizeof(*m->latency_us));
	m->hops = xmalloc(s->cap_nodes * sizeof(*m->hops));
	memset(m->latency_us, 0xff, s->cap_nodes * sizeof(*m->latency_us));
	memset(m->hops, 0xff, s->cap_nodes * sizeof(*m->hops));
	m->hops[i] = 0;
	add_msg_index(s, s->n_msgs);
	return (int)s->n_msgs++;
}

void
sim_schedule_action(struct sim *s, uint64_t t, uint64_t arg)
{
	eventq_push(&s->q, t, EV_ACTION, 0, arg, NULL);
}

bool
sim_node_connected(const struct sim *s, uint32_t i)
{
	const struct sim_node *nd = &s->nodes[i];

	if (!nd->up || !nd->peer || !nd->ready)
		return false;
	for (const struct neighbour *nb = nd->peer->neighbours; nb; nb = nb->next)
		if (nb->state == NB_UP)
			return true;
	return false;
}

int
sim_run(struct sim *s, uint64_t until, uint64_t *action)
{
	struct event ev;

	while (!eventq_empty(&s->q) && s->q.v[0].time <= until) {
		eventq_pop(&s->q, &ev);
		if (ev.time > s->now)
			s->now = ev.time;
		s->c.events++;
		switch (ev.kind) {
		case EV_WAKE:
			on_wake(s, &ev);
			break;
		case EV_SYN:
			on_syn(s, &ev);
			break;
		case EV_SYNACK:
			on_synack(s, &ev);
			break;
		case EV_HEAD:
			on_head(s, &ev);
			break;
		case EV_EXIT:
			on_exit_event(s, &ev);
			break;
		case EV_ACTION:
			if (action) {
				*action = ev.arg;
				return 0;
			}
			break;
		}
	}
	if (s->now < until)
		s->now = until;
	return 1;
}
