/* SPDX-License-Identifier: MIT */
/* Unit tests of the peer's overlay (overlay.c) through the peer core: neighbours, liveness. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/peer.h"
#include "fakeenv.h"
#include "testid.h"

#define SEC USEC_PER_SEC
#define MS USEC_PER_MSEC

#define SELF "10.0.1.1:6000"
#define SEED "10.0.0.1:5000"
#define MAX_LIST 16

/* Peers the seed lists (SELF among them): P[0..5]. */
static const char *const P[] = {"10.0.2.1:6000", "10.0.2.2:6000", "10.0.2.3:6000",
				"10.0.2.4:6000", "10.0.2.5:6000", "10.0.2.6:6000"};

struct ot {
	struct fake_env fe;
	struct peer_node n;
	struct fake_link *seed; /* the link to the one seed */
	bool started;
	uint64_t rng_seed; /* the core's; 0: 1 */
	uint64_t history;  /* peer_node_set_history() before the start; 0: not called */
};

static int
setup(void **state)
{
	struct ot *t = xcalloc(1, sizeof(*t));

	fake_env_init(&t->fe);
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct ot *t = *state;

	if (t->started)
		peer_node_free(&t->n);
	fake_env_free(&t->fe);
	free(t);
	return 0;
}

static void
overlay_config(struct gossip_config *cfg)
{
	conf_init(cfg);
	cfg->n_seeds = 1;
	cfg->seeds = xcalloc(1, sizeof(*cfg->seeds));
	cfg->seeds[0] = addr(SEED);
}

/* The seed answers REGISTER with SELF and the first k of P. */
static void
seed_lists(struct ot *t, size_t k)
{
	struct node_addr list[MAX_LIST];
	struct buf b = {0};

	assert_true(k + 1 <= MAX_LIST && k <= ARRAY_SIZE(P));
	list[0] = addr(SELF);
	for (size_t i = 0; i < k; i++)
		list[i + 1] = addr(P[i]);
	wire_encode_peer_list(&b, list, (uint32_t)(k + 1));
	assert_int_equal(fake_peer_frame(&t->fe, &t->n, t->seed, &b), 0);
}

/* Starts the peer with cfg (freed) at the clock's time; it connects to its seed and registers. */
static void
start_cfg(struct ot *t, struct gossip_config *cfg)
{
	struct node_addr self = addr(SELF), seed = addr(SEED);
	struct wire_msg m;
	size_t mark;

	peer_node_init(&t->n, cfg, &self, t->rng_seed ? t->rng_seed : 1, &t->fe.env);
	conf_free(cfg);
	t->started = true;
	if (t->history)
		peer_node_set_history(&t->n, t->history);
	peer_node_start(&t->n, t->fe.now);
	fake_peer_run_until(&t->fe, &t->n, t->fe.now.mono);
	t->seed = fake_link_to(&t->fe, &seed, LINK_SEED);
	assert_non_null(t->seed);
	mark = fake_mark(&t->fe);
	fake_peer_connected(&t->fe, &t->n, t->seed);
	assert_true(fake_sent_msg(&t->fe, mark, t->seed, WIRE_REGISTER, &m));
	assert_true(node_addr_equal(&m.addr, &self));
}

/* Started with cfg, registered: the seed listed SELF and the first k of P. */
static void
start_registered(struct ot *t, struct gossip_config *cfg, size_t k)
{
	start_cfg(t, cfg);
	seed_lists(t, k);
	assert_int_equal(t->n.state, PEER_READY);
}

/* Started with the defaults and listed alone: no neighbour of its own choosing. */
static void
start_alone(struct ot *t)
{
	struct gossip_config cfg;

	overlay_config(&cfg);
	start_registered(t, &cfg, 0);
}

/* The neighbour connects started since `since`, at most max, into out; returns how many. */
static size_t
dialled(struct ot *t, size_t since, struct fake_link **out, size_t max)
{
	struct fake_effect *e;
	size_t k = 0;

	while ((e = fake_next(&t->fe, &since, FX_CONNECT, NULL))) {
		assert_non_null(e->link);
		if (e->link->kind != LINK_NEIGHBOUR)
			continue;
		assert_true(k < max);
		out[k++] = e->link;
	}
	return k;
}

/* Whether a is one of the first k of P. */
static bool
listed(const struct node_addr *a, size_t k)
{
	for (size_t i = 0; i < k; i++) {
		struct node_addr p = addr(P[i]);
		if (node_addr_equal(a, &p))
			return true;
	}
	return false;
}

/* The first of the first k of P that is not among the k-1 links in out. */
static struct node_addr
spare(struct fake_link **out, size_t k)
{
	for (size_t i = 0; i < k; i++) {
		struct node_addr p = addr(P[i]);
		bool used = false;
		for (size_t j = 0; j + 1 < k; j++)
			used |= node_addr_equal(&out[j]->to, &p);
		if (!used)
			return p;
	}
	fail_msg("every listed peer was dialled");
	return addr(SELF);
}

/* The peer's neighbour at a, or NULL. */
static const struct neighbour *
neighbour_at(const struct ot *t, const struct node_addr *a)
{
	for (const struct neighbour *nb = t->n.neighbours; nb; nb = nb->next)
		if (node_addr_equal(&nb->addr, a))
			return nb;
	return NULL;
}

static void
frame_hello(struct ot *t, struct fake_link *fl, const struct node_addr *from)
{
	struct buf b = {0};

	wire_encode_hello(&b, WIRE_ROLE_PEER, from, 7);
	assert_int_equal(fake_peer_frame(&t->fe, &t->n, fl, &b), 0);
}

/* The connect on fl completes and the remote answers HELLO: a neighbour up. */
static void
outbound_up(struct ot *t, struct fake_link *fl)
{
	size_t mark = fake_mark(&t->fe);

	fake_peer_connected(&t->fe, &t->n, fl);
	assert_int_equal(fake_count_sent(&t->fe, mark, fl, WIRE_HELLO), 1);
	frame_hello(t, fl, &fl->to);
	assert_int_equal(fake_count_events(&t->fe, mark, "neighbour-up", NULL), 1);
}

static void
frame_error(struct ot *t, struct fake_link *fl, uint16_t code, const char *text)
{
	struct buf b = {0};

	wire_encode_error(&b, code, text);
	assert_int_equal(fake_peer_frame(&t->fe, &t->n, fl, &b), 0);
}

static void
frame_nonce(struct ot *t, struct fake_link *fl, uint8_t type, uint64_t nonce)
{
	struct buf b = {0};

	wire_encode_nonce(&b, type, nonce);
	assert_int_equal(fake_peer_frame(&t->fe, &t->n, fl, &b), 0);
}

/* Answers every PING sent on fl since `since` with its PONG. */
static void
answer_pings(struct ot *t, size_t since, struct fake_link *fl)
{
	size_t end = fake_mark(&t->fe);
	struct fake_effect *e;
	struct wire_msg m;

	while (since < end && (e = fake_next_sent(&t->fe, &since, fl, WIRE_PING))) {
		fake_decode(e, &m);
		frame_nonce(t, fl, WIRE_PONG, m.nonce);
	}
}

static void
test_registration_dials_degree_distinct_peers(void **state)
{
	struct ot *t = *state;
	struct gossip_config cfg;
	struct fake_link *out[MAX_LIST];
	struct node_addr self = addr(SELF);
	size_t mark, k;

	overlay_config(&cfg);
	cfg.peer.degree = 4;
	start_cfg(t, &cfg);
	mark = fake_mark(&t->fe);
	seed_lists(t, 6);
	assert_int_equal(fake_count_events(&t->fe, mark, "registered", SEED), 1);
	assert_int_equal(fake_count_notices(&t->fe, mark, NOTICE_READY), 1);

	k = dialled(t, mark, out, MAX_LIST);
	assert_int_equal(k, 4);
	for (size_t i = 0; i < k; i++) {
		assert_false(node_addr_equal(&out[i]->to, &self));
		assert_true(listed(&out[i]->to, 6));
		for (size_t j = 0; j < i; j++)
			assert_false(node_addr_equal(&out[i]->to, &out[j]->to));
	}
}

static void
test_registration_never_dials_itself(void **state)
{
	struct ot *t = *state;
	struct gossip_config cfg;
	struct fake_link *out[MAX_LIST];
	struct node_addr self = addr(SELF);
	size_t mark, k;

	/* More wanted than listed: every other listed peer is dialled, and only those. */
	overlay_config(&cfg);
	cfg.peer.degree = 8;
	start_cfg(t, &cfg);
	mark = fake_mark(&t->fe);
	seed_lists(t, 3);
	k = dialled(t, mark, out, MAX_LIST);
	assert_int_equal(k, 3);
	for (size_t i = 0; i < k; i++)
		assert_false(node_addr_equal(&out[i]->to, &self));
}

static void
test_refused_neighbour_is_avoided_and_replaced(void **state)
{
	struct ot *t = *state;
	struct gossip_config cfg;
	struct fake_link *out[MAX_LIST];
	struct node_addr fifth;
	size_t mark;

	overlay_config(&cfg);
	cfg.peer.degree = 4;
	start_cfg(t, &cfg);
	mark = fake_mark(&t->fe);
	seed_lists(t, 5);
	assert_int_equal(dialled(t, mark, out, MAX_LIST), 4);
	fifth = spare(out, 5);

	/* A full neighbour is replaced by the one listed peer left. */
	fake_peer_connected(&t->fe, &t->n, out[0]);
	mark = fake_mark(&t->fe);
	frame_error(t, out[0], WIRE_ERR_FULL, "too many neighbours");
	assert_non_null(fake_close_of(&t->fe, mark, out[0]));
	assert_int_equal(dialled(t, mark, out + 4, 1), 1);
	assert_true(node_addr_equal(&out[4]->to, &fifth));

	/* One that refuses is not replaced by either: no one else is listed. */
	fake_peer_connected(&t->fe, &t->n, out[1]);
	mark = fake_mark(&t->fe);
	frame_error(t, out[1], WIRE_ERR_REFUSED, "peer is leaving");
	assert_non_null(fake_close_of(&t->fe, mark, out[1]));
	assert_int_equal(fake_count(&t->fe, mark, FX_CONNECT), 0);

	/* Listed again, they stay avoided. */
	seed_lists(t, 5);
	assert_int_equal(fake_count(&t->fe, mark, FX_CONNECT), 0);
	assert_int_equal(t->n.n_neighbours, 3);
}

static void
test_inbound_hello_makes_a_neighbour(void **state)
{
	struct ot *t = *state;
	struct node_addr self = addr(SELF), x = addr(P[0]);
	struct fake_link *in;
	struct fake_log *l;
	struct wire_msg m;
	size_t mark, pos;

	start_alone(t);
	mark = fake_mark(&t->fe);
	in = fake_peer_accept(&t->fe, &t->n, "10.0.2.1:41000");
	assert_non_null(in->lk);
	assert_int_equal(t->n.n_pending, 1);
	frame_hello(t, in, &x);

	assert_true(fake_sent_msg(&t->fe, mark, in, WIRE_HELLO, &m));
	assert_int_equal(m.hello.role, WIRE_ROLE_PEER);
	assert_true(node_addr_equal(&m.hello.addr, &self));
	assert_int_equal(m.hello.incarnation, t->n.incarnation);
	pos = mark;
	l = fake_next_event(&t->fe, &pos, "neighbour-up", P[0]);
	assert_non_null(l);
	assert_int_equal(t->n.n_neighbours, 1);
	assert_int_equal(t->n.n_pending, 0);
	assert_non_null(neighbour_at(t, &x));
	assert_int_equal(neighbour_at(t, &x)->state, NB_UP);
	assert_false(neighbour_at(t, &x)->wanted);
	assert_int_equal(t->n.stats.connections_accepted, 1);
}

static void
test_inbound_refused_at_max_neighbours(void **state)
{
	struct ot *t = *state;
	struct gossip_config cfg;
	struct node_addr third = addr(P[2]);
	struct fake_link *in;
	struct fake_effect *cl;
	struct wire_msg m;
	size_t mark;

	overlay_config(&cfg);
	cfg.peer.max_neighbours = 2;
	start_registered(t, &cfg, 0);
	fake_peer_neighbour_in(&t->fe, &t->n, P[0]);
	fake_peer_neighbour_in(&t->fe, &t->n, P[1]);
	assert_int_equal(t->n.n_neighbours, 2);

	mark = fake_mark(&t->fe);
	in = fake_peer_accept(&t->fe, &t->n, P[2]);
	frame_hello(t, in, &third);
	assert_true(fake_sent_msg(&t->fe, mark, in, WIRE_ERROR, &m));
	assert_int_equal(m.error.code, WIRE_ERR_FULL);
	assert_int_equal(fake_count_sent(&t->fe, mark, in, WIRE_HELLO), 0);
	cl = fake_close_of(&t->fe, mark, in);
	assert_non_null(cl);
	assert_true(cl->close.after_flush); /* the ERROR goes out first */
	assert_int_equal(t->n.n_neighbours, 2);
	assert_int_equal(t->n.n_pending, 0);
}

static void
test_hello_claiming_our_address_is_rejected(void **state)
{
	struct ot *t = *state;
	struct node_addr self = addr(SELF);
	struct fake_link *in;
	size_t mark;
	struct buf b = {0};

	start_alone(t);
	mark = fake_mark(&t->fe);
	in = fake_peer_accept(&t->fe, &t->n, "10.0.2.1:41000");
	wire_encode_hello(&b, WIRE_ROLE_PEER, &self, 7);
	assert_int_equal(fake_peer_frame(&t->fe, &t->n, in, &b), -EBADMSG);
	assert_non_null(t->fe.last_reason);
	assert_non_null(strstr(t->fe.last_reason, "own address"));
	assert_int_equal(fake_count_sent(&t->fe, mark, in, 0), 0);
	assert_int_equal(t->n.n_neighbours, 0);
	assert_int_equal(t->n.n_pending, 0);
	assert_int_equal(t->n.stats.malformed_frames, 1);
}

/* Dials x (the only peer listed besides SELF) and completes the connect, before x's HELLO. */
static struct fake_link *
dial_only(struct ot *t, const char *x)
{
	struct gossip_config cfg;
	struct node_addr xa = addr(x);
	struct node_addr list[2] = {addr(SELF), xa};
	struct fake_link *out;
	struct buf b = {0};

	overlay_config(&cfg);
	cfg.peer.degree = 1;
	start_cfg(t, &cfg);
	wire_encode_peer_list(&b, list, 2);
	assert_int_equal(fake_peer_frame(&t->fe, &t->n, t->seed, &b), 0);
	out = fake_link_to(&t->fe, &xa, LINK_NEIGHBOUR);
	assert_non_null(out);
	fake_peer_connected(&t->fe, &t->n, out);
	return out;
}

static void
test_duplicate_link_smaller_address_keeps_its_own(void **state)
{
	struct ot *t = *state;
	const char *x = "10.0.1.9:6000"; /* larger than SELF */
	struct node_addr xa = addr(x);
	struct fake_link *out, *in;
	struct wire_msg m;
	size_t mark;

	out = dial_only(t, x);
	mark = fake_mark(&t->fe);
	in = fake_peer_accept(&t->fe, &t->n, x);
	frame_hello(t, in, &xa);
	assert_true(fake_sent_msg(&t->fe, mark, in, WIRE_ERROR, &m));
	assert_int_equal(m.error.code, WIRE_ERR_DUPLICATE);
	assert_non_null(fake_close_of(&t->fe, mark, in));
	assert_null(fake_close_of(&t->fe, mark, out));

	/* Ours becomes the neighbour's link. */
	frame_hello(t, out, &xa);
	assert_int_equal(fake_count_events(&t->fe, mark, "neighbour-up", x), 1);
	assert_int_equal(t->n.n_neighbours, 1);
	assert_ptr_equal(t->n.neighbours->link, out->lk);
}

static void
test_duplicate_link_larger_address_yields_to_theirs(void **state)
{
	struct ot *t = *state;
	const char *x = "10.0.0.9:6000"; /* smaller than SELF */
	struct node_addr xa = addr(x);
	struct fake_link *out, *in;
	struct fake_effect *cl;
	size_t mark;

	out = dial_only(t, x);
	mark = fake_mark(&t->fe);
	in = fake_peer_accept(&t->fe, &t->n, x);
	frame_hello(t, in, &xa);
	cl = fake_close_of(&t->fe, mark, out);
	assert_non_null(cl);
	assert_string_equal(cl->close.reason, "duplicate link");
	assert_null(fake_close_of(&t->fe, mark, in));
	assert_int_equal(fake_count_sent(&t->fe, mark, in, WIRE_HELLO), 1);
	assert_int_equal(fake_count_sent(&t->fe, mark, in, WIRE_ERROR), 0);
	assert_int_equal(fake_count_events(&t->fe, mark, "neighbour-up", x), 1);
	assert_int_equal(t->n.n_neighbours, 1);
	assert_ptr_equal(t->n.neighbours->link, in->lk);
	assert_true(t->n.neighbours->wanted);
}

static void
test_idle_neighbour_is_pinged_and_pong_answers(void **state)
{
	struct ot *t = *state;
	struct fake_link *a;
	struct wire_msg m;
	uint64_t nonce;
	size_t mark;

	start_alone(t);
	a = fake_peer_neighbour_in(&t->fe, &t->n, P[0]);
	mark = fake_mark(&t->fe);
	fake_peer_tick(&t->fe, &t->n); /* its HELLO was heard since the last tick */
	assert_int_equal(fake_count_sent(&t->fe, mark, a, WIRE_PING), 0);
	mark = fake_mark(&t->fe);
	fake_peer_tick(&t->fe, &t->n);
	assert_true(fake_sent_msg(&t->fe, mark, a, WIRE_PING, &m));
	assert_int_equal(t->n.stats.pings_sent, 1);

	/* Its PONG answers the ping; one with another nonce does not. */
	nonce = m.nonce;
	fake_set_time(&t->fe, t->fe.now.mono + 3 * MS);
	frame_nonce(t, a, WIRE_PONG, nonce + 1);
	assert_int_equal(t->n.stats.pongs_received, 0);
	frame_nonce(t, a, WIRE_PONG, nonce);
	assert_int_equal(t->n.stats.pongs_received, 1);
	assert_int_equal(t->n.neighbours->live.rtt_usec, 3 * MS);

	/* And its PING gets our PONG with its nonce. */
	mark = fake_mark(&t->fe);
	frame_nonce(t, a, WIRE_PING, 0x1234);
	assert_true(fake_sent_msg(&t->fe, mark, a, WIRE_PONG, &m));
	assert_int_equal(m.nonce, 0x1234);
}

/* Started with cfg (freed): three neighbours of its own choosing (of P[0..3]), up. */
static void
three_up_cfg(struct ot *t, struct gossip_config *cfg, struct fake_link **out,
	     struct node_addr *spare_ret)
{
	size_t mark;

	cfg->peer.degree = 3;
	start_cfg(t, cfg);
	mark = fake_mark(&t->fe);
	seed_lists(t, 4);
	assert_int_equal(dialled(t, mark, out, 3), 3);
	for (int i = 0; i < 3; i++)
		outbound_up(t, out[i]);
	*spare_ret = spare(out, 4);
}

/* Three neighbours of its own choosing (of P[0..3]), up; the fourth listed peer is spare. */
static void
three_up(struct ot *t, struct fake_link **out, struct node_addr *spare_ret)
{
	struct gossip_config cfg;

	overlay_config(&cfg);
	three_up_cfg(t, &cfg, out, spare_ret);
}

static void
check_dead_report(struct ot *t, size_t since, const struct node_addr *dead)
{
	struct node_addr self = addr(SELF);
	struct wire_msg m;

	assert_int_equal(fake_count_sent(&t->fe, since, t->seed, WIRE_DEAD_REPORT), 1);
	assert_true(fake_sent_msg(&t->fe, since, t->seed, WIRE_DEAD_REPORT, &m));
	assert_true(node_addr_equal(&m.dead.dead, dead));
	assert_true(node_addr_equal(&m.dead.reporter, &self));
	assert_int_equal(m.dead.timestamp, t->fe.now.real / SEC);
}

/* DEAD_REPORT frames about a sent to the seed since `since`. */
static unsigned
dead_reports_about(struct ot *t, size_t since, const struct node_addr *a)
{
	struct fake_effect *e;
	struct wire_msg m;
	unsigned k = 0;

	while ((e = fake_next_sent(&t->fe, &since, t->seed, WIRE_DEAD_REPORT))) {
		fake_decode(e, &m);
		k += node_addr_equal(&m.dead.dead, a);
	}
	return k;
}

/*
 * Ticks until `silent` (answering nothing) is suspected: out[1] and out[2]
 * answer their pings. Returns the mark before that tick; *pings counts the
 * pings silent got.
 */
/* One tick, out[1] and out[2] answering their pings: the mark before it. */
static size_t
tick_answered(struct ot *t, struct fake_link **out)
{
	size_t mark = fake_mark(&t->fe);

	fake_peer_tick(&t->fe, &t->n);
	answer_pings(t, mark, out[1]);
	answer_pings(t, mark, out[2]);
	return mark;
}

static size_t
tick_until_suspected(struct ot *t, struct fake_link **out, struct fake_link *silent,
		     unsigned *pings)
{
	unsigned ticks = 0;
	size_t mark;

	*pings = 0;
	for (;;) {
		mark = tick_answered(t, out);
		*pings += fake_count_sent(&t->fe, mark, silent, WIRE_PING);
		if (t->n.stats.neighbours_suspected)
			return mark;
		assert_true(++ticks < 20);
	}
}

/* The PING_REQ sent on fl since `since` about target: true with its nonce. */
static bool
ping_req_on(struct ot *t, size_t since, struct fake_link *fl, const struct node_addr *target,
	    uint64_t *nonce)
{
	struct wire_msg m;

	if (!fake_sent_msg(&t->fe, since, fl, WIRE_PING_REQ, &m))
		return false;
	assert_true(node_addr_equal(&m.probe.target, target));
	*nonce = m.probe.nonce;
	return true;
}

static void
frame_ping_ack(struct ot *t, struct fake_link *fl, uint64_t nonce, bool alive,
	       const struct node_addr *target)
{
	struct buf b = {0};

	wire_encode_ping_ack(&b, nonce, alive, target);
	assert_int_equal(fake_peer_frame(&t->fe, &t->n, fl, &b), 0);
}

/* Ticks, out[1] and out[2] answering their pings, until the clock reaches `until`. */
static void
tick_answering_until(struct ot *t, struct fake_link **out, uint64_t until)
{
	while (t->fe.now.mono < until)
		(void)tick_answered(t, out);
}

/* Ticks (the helpers answering pings) until silent's link is closed; returns the last mark. */
static size_t
tick_until_closed(struct ot *t, struct fake_link **out, struct fake_link *silent, unsigned max)
{
	unsigned ticks = 0;
	size_t mark;

	for (;;) {
		mark = tick_answered(t, out);
		if (silent->closed)
			return mark;
		assert_int_equal(fake_count_sent(&t->fe, mark, t->seed, WIRE_DEAD_REPORT), 0);
		assert_true(++ticks < max);
	}
}

static void
test_silent_neighbour_suspected_then_dead(void **state)
{
	struct ot *t = *state;
	struct fake_link *out[4], *silent;
	struct node_addr replacement;
	char silent_str[NODE_ADDR_STRLEN];
	uint64_t n1, n2, suspected_at;
	unsigned pings;
	struct fake_log *l;
	size_t mark, pos;

	three_up(t, out, &replacement);
	silent = out[0];
	node_addr_str(&silent->to, silent_str);
	assert_int_equal(t->n.cfg.peer.ping_misses, 3);
	mark = tick_until_suspected(t, out, silent, &pings);
	suspected_at = t->fe.now.mono;
	/* Suspected at the tick its third ping went unanswered (which pings it again). */
	assert_int_equal(pings, t->n.cfg.peer.ping_misses + 1);
	assert_int_equal(fake_count_events(&t->fe, mark, "suspect", silent_str), 1);
	/* Both other neighbours are asked to probe it; it is not asked itself, nor reported. */
	assert_true(ping_req_on(t, mark, out[1], &silent->to, &n1));
	assert_true(ping_req_on(t, mark, out[2], &silent->to, &n2));
	assert_int_equal(n1, n2);
	assert_int_equal(fake_count_sent(&t->fe, mark, silent, WIRE_PING_REQ), 0);
	assert_int_equal(t->n.stats.probe_requests_sent, 2);
	assert_false(silent->closed);
	/* The helpers could not reach it either. */
	frame_ping_ack(t, out[1], n1, false, &silent->to);
	frame_ping_ack(t, out[2], n1, false, &silent->to);
	mark = tick_until_closed(t, out, silent, 20);
	/* Dead at the first tick peer.suspicion_timeout after it was suspected. */
	assert_true(t->fe.now.mono - suspected_at >= t->n.cfg.peer.suspicion_timeout_usec);
	assert_true(t->fe.now.mono - suspected_at <
		    t->n.cfg.peer.suspicion_timeout_usec + t->n.cfg.peer.ping_interval_usec);
	assert_int_equal(t->n.stats.neighbours_dead, 1);
	assert_string_equal(fake_close_reason(&t->fe, mark, silent), "dead");
	assert_non_null(fake_find_log(&t->fe, mark, "suspected for 6.0 s, and none of the 2"));
	check_dead_report(t, mark, &silent->to);
	pos = mark;
	l = fake_next_event(&t->fe, &pos, "dead", silent_str);
	assert_non_null(l);
	assert_string_equal(l->sd_id, GOSSIP_SD_ID_DEAD_NODE);
	/* It is gone; the others live on, and the spare replaces it. */
	assert_null(neighbour_at(t, &silent->to));
	assert_int_equal(t->n.n_neighbours, 3);
	assert_false(out[1]->closed);
	assert_false(out[2]->closed);
	assert_non_null(fake_link_to(&t->fe, &replacement, LINK_NEIGHBOUR));
	assert_int_equal(dialled(t, mark, out + 3, 1), 1);
	assert_true(node_addr_equal(&out[3]->to, &replacement));
}

static void
test_suspected_neighbour_refuted_through_a_helper(void **state)
{
	struct ot *t = *state;
	struct fake_link *out[4], *silent;
	struct node_addr replacement;
	char silent_str[NODE_ADDR_STRLEN];
	uint64_t nonce;
	unsigned pings;
	size_t mark;

	three_up(t, out, &replacement);
	silent = out[0];
	node_addr_str(&silent->to, silent_str);
	mark = tick_until_suspected(t, out, silent, &pings);
	assert_true(ping_req_on(t, mark, out[1], &silent->to, &nonce));
	/* An answer to another suspicion (its nonce) proves nothing. */
	frame_ping_ack(t, out[2], nonce + 1, true, &silent->to);
	assert_true(neighbour_at(t, &silent->to)->live.suspected);
	assert_int_equal(t->n.stats.suspicions_refuted, 0);
	mark = fake_mark(&t->fe);
	frame_ping_ack(t, out[1], nonce, true, &silent->to);
	assert_false(neighbour_at(t, &silent->to)->live.suspected);
	assert_int_equal(t->n.stats.suspicions_refuted, 1);
	assert_int_equal(fake_count_events(&t->fe, mark, "refuted", silent_str), 1);
	/* Its link stays, and it is not dead when the suspicion would have ended. */
	tick_answering_until(t, out, t->fe.now.mono + t->n.cfg.peer.suspicion_timeout_usec);
	assert_false(silent->closed);
	assert_int_equal(t->n.stats.neighbours_dead, 0);
	/* Still silent on its own link: suspected again, three misses later. */
	assert_int_equal(t->n.stats.neighbours_suspected, 2);
}

static void
test_no_helper_answering_doubts_ourselves_first(void **state)
{
	struct ot *t = *state;
	struct fake_link *out[4], *silent;
	struct node_addr replacement;
	uint64_t expired_at;
	unsigned pings;
	size_t mark;

	three_up(t, out, &replacement);
	silent = out[0];
	mark = tick_until_suspected(t, out, silent, &pings);
	assert_int_equal(t->n.health.score, 0);
	/* Nobody answers the PING_REQs at all: at the end of the suspicion we doubt our links. */
	tick_answering_until(t, out, t->fe.now.mono + t->n.cfg.peer.suspicion_timeout_usec -
					     t->n.cfg.peer.ping_interval_usec);
	mark = fake_mark(&t->fe);
	tick_answering_until(t, out, t->fe.now.mono + 1);
	expired_at = t->fe.now.mono;
	assert_false(silent->closed);
	assert_non_null(fake_find_log(&t->fe, mark, "0 of the 2 neighbours asked to probe it answered"));
	assert_true(t->n.health.score >= 1);
	/* Then it is dead, once the longer (scaled) suspicion has passed again. */
	mark = tick_until_closed(t, out, silent, 60);
	assert_true(t->fe.now.mono - expired_at >= t->n.cfg.peer.suspicion_timeout_usec);
	assert_int_equal(t->n.stats.neighbours_dead, 1);
	check_dead_report(t, mark, &silent->to);
}

static void
test_one_helper_of_two_not_reaching_it_is_not_enough(void **state)
{
	struct ot *t = *state;
	struct fake_link *out[4], *silent;
	struct node_addr replacement;
	uint64_t nonce;
	unsigned pings;
	size_t mark;

	three_up(t, out, &replacement);
	silent = out[0];
	mark = tick_until_suspected(t, out, silent, &pings);
	assert_true(ping_req_on(t, mark, out[1], &silent->to, &nonce));
	/* One says it could not reach it; the other says nothing (a lossy path, perhaps). */
	frame_ping_ack(t, out[1], nonce, false, &silent->to);
	tick_answering_until(t, out, t->fe.now.mono + t->n.cfg.peer.suspicion_timeout_usec);
	assert_false(silent->closed);
	assert_int_equal(t->n.health.score, 0); /* one answered: not our own links */
	/* Then dead, after one more suspicion timeout. */
	mark = tick_until_closed(t, out, silent, 40);
	assert_int_equal(t->n.stats.neighbours_dead, 1);
	check_dead_report(t, mark, &silent->to);
}

static void
test_refused_reconnects_are_dead_without_suspicion(void **state)
{
	struct ot *t = *state;
	struct fake_link *out[4], *victim, *re;
	struct node_addr replacement, va;
	unsigned ticks = 0;
	size_t start = fake_mark(&t->fe);

	three_up(t, out, &replacement);
	victim = out[0];
	va = victim->to;
	/* A crashed process: its connection ends, and its host refuses every reconnect. */
	fake_peer_closed(&t->fe, &t->n, victim, "connection reset by peer", ECONNRESET);
	for (;;) {
		(void)tick_answered(t, out);
		re = fake_link_to(&t->fe, &va, LINK_NEIGHBOUR);
		assert_non_null(re);
		fake_peer_closed(&t->fe, &t->n, re, "connect", ECONNREFUSED);
		if (!neighbour_at(t, &va))
			break;
		assert_true(++ticks < 5);
	}
	/* Dead as soon as the misses are counted: no suspicion, nobody asked to probe it. */
	assert_int_equal(t->n.stats.neighbours_dead, 1);
	assert_int_equal(t->n.stats.neighbours_suspected, 0);
	assert_int_equal(fake_count(&t->fe, start, FX_SEND) > 0, 1);
	assert_int_equal(fake_count_sent(&t->fe, start, out[1], WIRE_PING_REQ), 0);
	assert_non_null(fake_find_log(&t->fe, start, "the last refused by its host"));
	check_dead_report(t, start, &va);
}

static void
test_any_frame_is_proof_of_life(void **state)
{
	struct ot *t = *state;
	struct node_addr origin = addr("10.0.9.9:6000");
	struct fake_link *a, *b;
	uint8_t id[WIRE_ID_LEN];
	struct buf f = {0};
	size_t mark;

	start_alone(t);
	a = fake_peer_neighbour_in(&t->fe, &t->n, P[0]);
	b = fake_peer_neighbour_in(&t->fe, &t->n, P[1]);
	fake_peer_tick(&t->fe, &t->n);

	/* a sends a message between two ticks; b sends nothing. */
	assert_int_equal(
	    wire_message_id(&origin, t->fe.now.real, 1, (const uint8_t *)"hi", 2, id), 0);
	wire_encode_gossip(&f, id, &origin, t->fe.now.real, 1, (const uint8_t *)"hi", 2);
	assert_int_equal(fake_peer_frame(&t->fe, &t->n, a, &f), 0);
	mark = fake_mark(&t->fe);
	fake_peer_tick(&t->fe, &t->n);
	assert_int_equal(fake_count_sent(&t->fe, mark, a, WIRE_PING), 0);
	assert_int_equal(fake_count_sent(&t->fe, mark, b, WIRE_PING), 1);
}

/* By when an inbound connection opened at `opened` is closed without HELLO: the next tick. */
static uint64_t
handshake_over(const struct ot *t, uint64_t opened)
{
	return opened + PEER_HANDSHAKE_TIMEOUT_USEC + t->n.cfg.peer.ping_interval_usec;
}

static void
test_inbound_without_hello_closed_after_handshake_timeout(void **state)
{
	struct ot *t = *state;
	struct fake_link *in;
	struct fake_effect *cl;
	uint64_t opened;
	size_t mark;

	start_alone(t);
	mark = fake_mark(&t->fe);
	opened = t->fe.now.mono;
	in = fake_peer_accept(&t->fe, &t->n, "10.0.2.1:41000");
	fake_peer_run_until(&t->fe, &t->n, opened + PEER_HANDSHAKE_TIMEOUT_USEC);
	assert_false(in->closed);
	/* The first tick after the timeout (ticks come every ping_interval) closes it. */
	fake_peer_run_until(&t->fe, &t->n, handshake_over(t, opened));
	cl = fake_close_of(&t->fe, mark, in);
	assert_non_null(cl);
	assert_int_equal(cl->close.error, ETIMEDOUT);
	assert_string_equal(cl->close.reason, "no HELLO in time");
	assert_non_null(fake_find_log(&t->fe, mark, "no HELLO in time"));
	assert_int_equal(t->n.n_pending, 0);
}

static void
test_leave_removes_neighbour_without_dead_report(void **state)
{
	struct ot *t = *state;
	struct fake_link *out[4], *x;
	struct node_addr replacement;
	char xs[NODE_ADDR_STRLEN];
	struct buf b = {0};
	size_t mark;

	three_up(t, out, &replacement);
	x = out[0];
	node_addr_str(&x->to, xs);
	mark = fake_mark(&t->fe);
	wire_encode_addr_msg(&b, WIRE_LEAVE, &x->to);
	assert_int_equal(fake_peer_frame(&t->fe, &t->n, x, &b), 0);

	assert_string_equal(fake_close_reason(&t->fe, mark, x), "left");
	assert_null(neighbour_at(t, &x->to));
	assert_int_equal(fake_count_events(&t->fe, mark, "left", xs), 1);
	assert_int_equal(fake_count_events(&t->fe, mark, "dead", NULL), 0);
	assert_int_equal(fake_count_sent(&t->fe, mark, t->seed, WIRE_DEAD_REPORT), 0);
	assert_int_equal(t->n.stats.neighbours_dead, 0);
	assert_int_equal(dialled(t, mark, out + 3, 1), 1);
	assert_true(node_addr_equal(&out[3]->to, &replacement));

	/* Nor later: it is gone, not missing (the others, silent here, may be found dead). */
	mark = fake_mark(&t->fe);
	for (int i = 0; i < 6; i++)
		fake_peer_tick(&t->fe, &t->n);
	assert_int_equal(dead_reports_about(t, mark, &x->to), 0);
	assert_int_equal(fake_count_events(&t->fe, mark, "dead", xs), 0);
}

static void
test_full_send_queue_drops_neighbour(void **state)
{
	struct ot *t = *state;
	struct fake_link *a;
	size_t mark;

	start_alone(t);
	a = fake_peer_neighbour_in(&t->fe, &t->n, P[0]);
	a->queued = t->n.cfg.peer.send_queue_limit; /* not a byte more fits */
	mark = fake_mark(&t->fe);
	fake_peer_tick(&t->fe, &t->n);
	fake_peer_tick(&t->fe, &t->n); /* pings it: the PING does not fit */
	assert_string_equal(fake_close_reason(&t->fe, mark, a), "send queue full");
	assert_int_equal(t->n.stats.neighbours_dropped_slow, 1);
	assert_int_equal(fake_count_sent(&t->fe, mark, a, 0), 0);
}

/* A seed's or a peer's probe (role) is answered, refreshes our leases once, and is closed idle. */
static void
check_probe_answered(struct ot *t, uint8_t role)
{
	struct node_addr prober = addr(role == WIRE_ROLE_SEED ? SEED : P[3]);
	struct fake_link *in, *again;
	struct wire_msg m;
	struct buf b = {0};
	uint64_t opened;
	size_t mark;

	start_alone(t);
	mark = fake_mark(&t->fe);
	opened = t->fe.now.mono;
	in = fake_peer_accept(&t->fe, &t->n, role == WIRE_ROLE_SEED ? "10.0.0.1:43000"
								    : "10.0.2.4:43000");
	/* HELLO in the prober's role, then PING. */
	wire_encode_hello(&b, role, &prober, 5);
	assert_int_equal(fake_peer_frame(&t->fe, &t->n, in, &b), 0);
	frame_nonce(t, in, WIRE_PING, 99);
	assert_true(fake_sent_msg(&t->fe, mark, in, WIRE_HELLO, &m));
	assert_int_equal(m.hello.role, WIRE_ROLE_PEER);
	assert_true(fake_sent_msg(&t->fe, mark, in, WIRE_PONG, &m));
	assert_int_equal(m.nonce, 99);
	assert_int_equal(t->n.n_neighbours, 0);
	assert_int_equal(fake_count_events(&t->fe, mark, "neighbour-up", NULL), 0);
	/* Someone doubts us: the seeds hear from us at once, not at the next refresh. */
	assert_int_equal(fake_count_sent(&t->fe, mark, t->seed, WIRE_REGISTER), 1);
	/* A second probe in the same ping interval does not send another. */
	again = fake_peer_accept(&t->fe, &t->n, "10.0.2.5:43001");
	wire_encode_hello(&b, role, &prober, 5);
	assert_int_equal(fake_peer_frame(&t->fe, &t->n, again, &b), 0);
	assert_int_equal(fake_count_sent(&t->fe, mark, t->seed, WIRE_REGISTER), 1);

	fake_peer_run_until(&t->fe, &t->n, handshake_over(t, opened));
	assert_string_equal(fake_close_reason(&t->fe, mark, in), "probe idle");
	assert_int_equal(t->n.n_pending, 0);
}

static void
test_seed_probe_is_answered_then_closed(void **state)
{
	check_probe_answered(*state, WIRE_ROLE_SEED);
}

static void
test_peer_probe_is_answered_then_closed(void **state)
{
	check_probe_answered(*state, WIRE_ROLE_PROBE);
}

static void
frame_ping_req(struct ot *t, struct fake_link *fl, uint64_t nonce, const struct node_addr *target)
{
	struct buf b = {0};

	wire_encode_ping_req(&b, nonce, target);
	assert_int_equal(fake_peer_frame(&t->fe, &t->n, fl, &b), 0);
}

/* The PING_ACK sent on fl since `since`: its alive flag, checking nonce and target. */
static bool
acked(struct ot *t, size_t since, struct fake_link *fl, uint64_t nonce,
      const struct node_addr *target)
{
	struct wire_msg m;

	assert_int_equal(fake_count_sent(&t->fe, since, fl, WIRE_PING_ACK), 1);
	assert_true(fake_sent_msg(&t->fe, since, fl, WIRE_PING_ACK, &m));
	assert_int_equal(m.probe.nonce, nonce);
	assert_true(node_addr_equal(&m.probe.target, target));
	return m.probe.alive;
}

static void
test_ping_req_probes_the_target_for_the_asker(void **state)
{
	struct ot *t = *state;
	struct node_addr spare_addr, x = addr("10.0.3.1:6000"), y = addr("10.0.3.2:6000");
	struct node_addr self = addr(SELF);
	struct fake_link *out[3], *probe;
	struct wire_msg m;
	size_t mark;

	three_up(t, out, &spare_addr);
	/* X answers: alive. */
	mark = fake_mark(&t->fe);
	frame_ping_req(t, out[0], 77, &x);
	assert_int_equal(t->n.stats.probe_requests_received, 1);
	probe = fake_link_to(&t->fe, &x, LINK_IPROBE);
	assert_non_null(probe);
	fake_peer_connected(&t->fe, &t->n, probe);
	assert_true(fake_sent_msg(&t->fe, mark, probe, WIRE_HELLO, &m));
	assert_int_equal(m.hello.role, WIRE_ROLE_PROBE);
	assert_true(node_addr_equal(&m.hello.addr, &self));
	assert_true(fake_sent_msg(&t->fe, mark, probe, WIRE_PING, &m));
	assert_int_equal(fake_count_sent(&t->fe, mark, out[0], WIRE_PING_ACK), 0);
	frame_nonce(t, probe, WIRE_PONG, m.nonce);
	assert_true(acked(t, mark, out[0], 77, &x));
	assert_non_null(fake_close_of(&t->fe, mark, probe));
	assert_int_equal(t->n.n_iprobes, 0);
	/* Y's host refuses: not alive. */
	mark = fake_mark(&t->fe);
	frame_ping_req(t, out[1], 78, &y);
	probe = fake_link_to(&t->fe, &y, LINK_IPROBE);
	fake_peer_closed(&t->fe, &t->n, probe, "connect", ECONNREFUSED);
	assert_false(acked(t, mark, out[1], 78, &y));
	/* Y connects but never answers: not alive, at the deadline (3/4 of the suspicion timeout). */
	mark = fake_mark(&t->fe);
	frame_ping_req(t, out[1], 79, &y);
	probe = fake_link_to(&t->fe, &y, LINK_IPROBE);
	fake_peer_connected(&t->fe, &t->n, probe);
	tick_answering_until(t, out, t->fe.now.mono + t->n.cfg.peer.suspicion_timeout_usec / 4 * 3 -
					     t->n.cfg.peer.ping_interval_usec);
	assert_int_equal(fake_count_sent(&t->fe, mark, out[1], WIRE_PING_ACK), 0);
	tick_answering_until(t, out, t->fe.now.mono + t->n.cfg.peer.ping_interval_usec);
	assert_false(acked(t, mark, out[1], 79, &y));
	assert_non_null(fake_close_of(&t->fe, mark, probe));
}

static void
test_ping_req_about_a_neighbour_heard_just_now(void **state)
{
	struct ot *t = *state;
	struct node_addr spare_addr;
	struct fake_link *out[3];
	size_t mark;

	three_up(t, out, &spare_addr);
	/* out[1] spoke (its HELLO) this very instant: no probe needed. */
	mark = fake_mark(&t->fe);
	frame_ping_req(t, out[0], 5, &out[1]->to);
	assert_true(acked(t, mark, out[0], 5, &out[1]->to));
	assert_int_equal(fake_count(&t->fe, mark, FX_CONNECT), 0);
}

static void
test_ping_req_about_a_quiet_neighbour_pings_it_over_our_link(void **state)
{
	struct ot *t = *state;
	struct node_addr spare_addr;
	struct fake_link *out[3];
	struct wire_msg m;
	size_t mark;

	three_up(t, out, &spare_addr);
	/* out[1] has been quiet for longer than a ping timeout. */
	fake_set_time(&t->fe, t->fe.now.mono + 2 * t->n.cfg.peer.ping_timeout_usec);
	mark = fake_mark(&t->fe);
	frame_ping_req(t, out[0], 6, &out[1]->to);
	/* No new connection: a PING over the link we have. */
	assert_int_equal(fake_count(&t->fe, mark, FX_CONNECT), 0);
	assert_true(fake_sent_msg(&t->fe, mark, out[1], WIRE_PING, &m));
	assert_int_equal(fake_count_sent(&t->fe, mark, out[0], WIRE_PING_ACK), 0);
	/* Whatever it sends next answers. */
	frame_nonce(t, out[1], WIRE_PONG, m.nonce);
	assert_true(acked(t, mark, out[0], 6, &out[1]->to));
	assert_int_equal(t->n.n_iprobes, 0);
	/* Asked again, and silent until the deadline: not alive. */
	fake_set_time(&t->fe, t->fe.now.mono + 2 * t->n.cfg.peer.ping_timeout_usec);
	mark = fake_mark(&t->fe);
	frame_ping_req(t, out[0], 7, &out[1]->to);
	fake_peer_run_until(&t->fe, &t->n, t->fe.now.mono + t->n.cfg.peer.suspicion_timeout_usec);
	assert_false(acked(t, mark, out[0], 7, &out[1]->to));
}

static void
test_ping_req_limits(void **state)
{
	static const char *const askers[] = {"10.0.4.1:6000", "10.0.4.2:6000", "10.0.4.3:6000"};
	struct ot *t = *state;
	struct node_addr spare_addr;
	struct fake_link *out[3], *in[ARRAY_SIZE(askers)];
	size_t mark = fake_mark(&t->fe);
	uint32_t target = 0;

	three_up(t, out, &spare_addr);
	for (size_t i = 0; i < ARRAY_SIZE(askers); i++)
		in[i] = fake_peer_neighbour_in(&t->fe, &t->n, askers[i]);
	/* One asker gets 4 probes at once; a fifth is refused, a repeat ignored. */
	for (int k = 0; k < 5; k++) {
		char ta[NODE_ADDR_STRLEN];
		struct node_addr x;
		snprintf(ta, sizeof(ta), "10.0.5.%u:6000", ++target);
		x = addr(ta);
		frame_ping_req(t, out[0], (uint64_t)k, &x);
		if (k == 0)
			frame_ping_req(t, out[0], 100, &x);
	}
	assert_int_equal(t->n.n_iprobes, 4);
	assert_int_equal(t->n.stats.probe_requests_refused, 1);
	assert_non_null(fake_find_log(&t->fe, mark, "too many probes running for it"));
	/* 16 in all: four askers of four. */
	for (size_t i = 0; i < 2; i++)
		for (int k = 0; k < 4; k++) {
			char ta[NODE_ADDR_STRLEN];
			struct node_addr x;
			snprintf(ta, sizeof(ta), "10.0.5.%u:6000", ++target);
			x = addr(ta);
			frame_ping_req(t, i ? out[1] : out[2], (uint64_t)k, &x);
		}
	for (int k = 0; k < 4; k++) {
		char ta[NODE_ADDR_STRLEN];
		struct node_addr x;
		snprintf(ta, sizeof(ta), "10.0.5.%u:6000", ++target);
		x = addr(ta);
		frame_ping_req(t, in[0], (uint64_t)k, &x);
	}
	assert_int_equal(t->n.n_iprobes, 16);
	assert_int_equal(t->n.stats.probe_requests_refused, 1);
	mark = fake_mark(&t->fe);
	{
		struct node_addr x = addr("10.0.6.1:6000");
		frame_ping_req(t, in[1], 1, &x);
	}
	assert_int_equal(t->n.n_iprobes, 16);
	assert_int_equal(t->n.stats.probe_requests_refused, 2);
	assert_int_equal(fake_count(&t->fe, mark, FX_CONNECT), 0);
	assert_non_null(fake_find_log(&t->fe, mark, "too many probes running"));
}

/* ---- anti-entropy ---- */

#define AE_BUCKET ((uint64_t)WIRE_AE_BUCKET_SEC * SEC)

/* A message from an origin far away, stamped ts, received over fl: its id in id. */
static void
deliver_stamped(struct ot *t, struct fake_link *fl, uint64_t ts, uint64_t seq, uint8_t *id)
{
	struct node_addr origin = addr("10.0.9.9:6000");
	struct buf f = {0};

	assert_int_equal(wire_message_id(&origin, ts, seq, (const uint8_t *)"m", 1, id), 0);
	wire_encode_gossip(&f, id, &origin, ts, seq, (const uint8_t *)"m", 1);
	assert_int_equal(fake_peer_frame(&t->fe, &t->n, fl, &f), 0);
}

static uint32_t
bucket_of(uint64_t ts)
{
	return (uint32_t)(ts / AE_BUCKET);
}

/* The buckets a peer compares at the clock's time: the window, less the newest two. */
static void
ae_range_now(struct ot *t, uint32_t *first, uint32_t *last)
{
	uint64_t now = t->fe.now.real;
	uint64_t window = t->n.cfg.peer.seen_cache_age_usec - t->n.cfg.peer.max_clock_skew_usec;

	*first = (uint32_t)((now - window) / AE_BUCKET + 1);
	*last = (uint32_t)(now / AE_BUCKET - 2);
}

static void
frame_ae(struct ot *t, struct fake_link *fl, uint8_t stage, uint32_t first, uint32_t last,
	 const struct wire_ae_bucket *v, uint16_t count)
{
	struct buf b = {0};

	wire_encode_ae_summary(&b, stage, first, last, v, count);
	assert_int_equal(fake_peer_frame(&t->fe, &t->n, fl, &b), 0);
}

/* The ids of the AE_IDS frames sent on fl since `since`, into ids (at most max): how many. */
static size_t
ae_ids_sent(struct ot *t, size_t since, struct fake_link *fl, uint8_t *ids, size_t max)
{
	struct fake_effect *e;
	struct wire_msg m;
	size_t k = 0;

	while ((e = fake_next_sent(&t->fe, &since, fl, WIRE_AE_IDS))) {
		fake_decode(e, &m);
		for (uint16_t i = 0; i < m.ids.count; i++) {
			assert_true(k < max);
			memcpy(ids + k++ * WIRE_ID_LEN, m.ids.ids + i * WIRE_ID_LEN, WIRE_ID_LEN);
		}
	}
	return k;
}

static void
test_ae_total_sent_each_interval(void **state)
{
	struct ot *t = *state;
	struct fake_link *out[3];
	struct node_addr spare_addr;
	uint8_t id[3][WIRE_ID_LEN];
	uint64_t now, digest = 0;
	uint32_t first, last, sent = 0;
	struct wire_ae_bucket e;
	struct wire_msg m;
	size_t mark;

	t->history = FAKE_REAL0 - 3600 * SEC; /* a member for an hour, by its state file */
	three_up(t, out, &spare_addr);
	now = t->fe.now.real;
	deliver_stamped(t, out[0], now - 100 * SEC, 1, id[0]);
	deliver_stamped(t, out[0], now - 95 * SEC, 2, id[1]);
	/* Too new to compare yet: still on its way to others. */
	deliver_stamped(t, out[0], now - 1 * SEC, 3, id[2]);
	for (int i = 0; i < 2; i++)
		digest += get_u64(id[i]);
	/* The first TOTAL: to one neighbour, over the buckets it can compare. */
	assert_int_equal(t->n.stats.ae_summaries_sent, 0);
	mark = fake_mark(&t->fe);
	while (!t->n.stats.ae_summaries_sent) {
		mark = tick_answered(t, out);
		assert_true(t->fe.now.mono < FAKE_T0 + 60 * SEC);
	}
	ae_range_now(t, &first, &last);
	for (int i = 0; i < 3; i++) {
		if (!fake_sent_msg(&t->fe, mark, out[i], WIRE_AE_SUMMARY, &m))
			continue;
		sent += fake_count_sent(&t->fe, mark, out[i], WIRE_AE_SUMMARY);
		assert_int_equal(m.ae.stage, WIRE_AE_TOTAL);
		assert_int_equal(m.ae.first, first);
		assert_int_equal(m.ae.last, last);
		wire_ae_entry(&m, 0, &e);
		assert_int_equal(e.count, 2);
		assert_true(e.digest == digest);
	}
	assert_int_equal(sent, 1);
	/* Then one an interval, not more nor less. */
	for (uint64_t k = 2; k <= 4; k++) {
		uint64_t from = t->fe.now.mono;
		while (t->n.stats.ae_summaries_sent < k)
			(void)tick_answered(t, out);
		assert_int_equal(t->fe.now.mono - from, t->n.cfg.peer.anti_entropy_interval_usec);
	}
	assert_true(t->n.stats.ae_bytes_sent > 0);
}

static void
test_ae_exchange_lists_and_fetches_what_differs(void **state)
{
	struct ot *t = *state;
	struct fake_link *out[3], *nb;
	struct node_addr spare_addr, origin = addr("10.0.9.9:6000");
	uint8_t m1[WIRE_ID_LEN], m2[WIRE_ID_LEN], m3[WIRE_ID_LEN], got[4 * WIRE_ID_LEN];
	uint64_t now, t1, t2;
	uint32_t first, last;
	struct wire_ae_bucket mine[2], e;
	struct wire_msg m;
	struct buf b = {0};
	size_t mark;

	t->history = FAKE_REAL0 - 3600 * SEC;
	three_up(t, out, &spare_addr);
	nb = out[1];
	now = t->fe.now.real;
	t1 = now - 100 * SEC;
	t2 = now - 50 * SEC;
	/* Its own buckets must not share one: t1's and t2's differ by five. */
	deliver_stamped(t, out[0], t1, 1, m1);
	deliver_stamped(t, out[0], t2, 2, m2);
	assert_int_equal(wire_message_id(&origin, t2 + 1, 3, (const uint8_t *)"m", 1, m3), 0);
	ae_range_now(t, &first, &last);
	mine[0] = (struct wire_ae_bucket){bucket_of(t1), 1, get_u64(m1)};
	mine[1] = (struct wire_ae_bucket){bucket_of(t2), 1, get_u64(m2)};

	/* The same total: nothing to say. */
	mark = fake_mark(&t->fe);
	frame_ae(t, nb, WIRE_AE_TOTAL, first, last,
		 &(struct wire_ae_bucket){first, 2, get_u64(m1) + get_u64(m2)}, 1);
	assert_int_equal(fake_count_sent(&t->fe, mark, nb, WIRE_AE_SUMMARY), 0);
	/* Another: every non-empty bucket comes back. */
	frame_ae(t, nb, WIRE_AE_TOTAL, first, last, &(struct wire_ae_bucket){first, 3, 1}, 1);
	assert_true(fake_sent_msg(&t->fe, mark, nb, WIRE_AE_SUMMARY, &m));
	assert_int_equal(m.ae.stage, WIRE_AE_DETAIL);
	assert_int_equal(m.ae.count, 2);
	for (uint16_t i = 0; i < 2; i++) {
		wire_ae_entry(&m, i, &e);
		assert_int_equal(e.bucket, mine[i].bucket);
		assert_int_equal(e.count, 1);
		assert_true(e.digest == mine[i].digest);
	}
	/* Their detail: the same in m1's bucket, m2 and m3 in m2's. */
	mark = fake_mark(&t->fe);
	frame_ae(t, nb, WIRE_AE_DETAIL, first, last,
		 (struct wire_ae_bucket[]){mine[0], {mine[1].bucket, 2, get_u64(m2) + get_u64(m3)}}, 2);
	/* Our ids of the bucket that differs, and a WANT for it. */
	assert_int_equal(ae_ids_sent(t, mark, nb, got, 4), 1);
	assert_memory_equal(got, m2, WIRE_ID_LEN);
	assert_true(fake_sent_msg(&t->fe, mark, nb, WIRE_AE_SUMMARY, &m));
	assert_int_equal(m.ae.stage, WIRE_AE_WANT);
	assert_int_equal(m.ae.count, 1);
	wire_ae_entry(&m, 0, &e);
	assert_int_equal(e.bucket, mine[1].bucket);
	/* Their ids: we ask for the one we lack, of them. */
	mark = fake_mark(&t->fe);
	buf_append(&b, m2, WIRE_ID_LEN);
	buf_append(&b, m3, WIRE_ID_LEN);
	{
		struct buf f = {0};
		wire_encode_ids(&f, WIRE_AE_IDS, b.data, 2);
		assert_int_equal(fake_peer_frame(&t->fe, &t->n, nb, &f), 0);
	}
	buf_free(&b);
	assert_int_equal(fake_count_id(&t->fe, mark, nb, WIRE_GRAFT, m3), 1);
	assert_int_equal(fake_count_id(&t->fe, mark, nb, WIRE_GRAFT, m2), 0);
	assert_int_equal(t->n.stats.ae_fetched, 1);
	/* A WANT for m1's bucket, where they have nothing: our ids of it. */
	mark = fake_mark(&t->fe);
	frame_ae(t, nb, WIRE_AE_WANT, first, last, &(struct wire_ae_bucket){mine[0].bucket, 0, 0}, 1);
	assert_int_equal(ae_ids_sent(t, mark, nb, got, 4), 1);
	assert_memory_equal(got, m1, WIRE_ID_LEN);
	/* A WANT for a bucket that is the same here lists nothing. */
	mark = fake_mark(&t->fe);
	frame_ae(t, nb, WIRE_AE_WANT, first, last, &mine[0], 1);
	assert_int_equal(fake_count_sent(&t->fe, mark, nb, WIRE_AE_IDS), 0);
}

/* ---- membership repair ---- */

/* The seed answers a refresh with SELF and the k addresses of v. */
static void
seed_lists_addrs(struct ot *t, const struct node_addr *v, size_t k)
{
	struct node_addr *list = xcalloc(k + 1, sizeof(*list));
	struct buf b = {0};

	list[0] = addr(SELF);
	if (k)
		memcpy(list + 1, v, k * sizeof(*v));
	wire_encode_peer_list(&b, list, (uint32_t)(k + 1));
	free(list);
	assert_int_equal(fake_peer_frame(&t->fe, &t->n, t->seed, &b), 0);
}

/* The seed answers a refresh with SELF and the given peers of P. */
static void
seed_lists_these(struct ot *t, const size_t *which, size_t k)
{
	struct node_addr list[MAX_LIST];

	assert_true(k <= MAX_LIST);
	for (size_t i = 0; i < k; i++)
		list[i] = addr(P[which[i]]);
	seed_lists_addrs(t, list, k);
}

static void
test_ae_compares_nothing_from_before_a_new_peer_came(void **state)
{
	struct ot *t = *state;
	struct fake_link *out[3];
	struct node_addr spare_addr;
	uint8_t before[WIRE_ID_LEN], after[WIRE_ID_LEN];
	uint64_t started;
	struct wire_ae_bucket e;
	struct wire_msg m;
	size_t mark;

	/* No state file: a member from its start. */
	three_up(t, out, &spare_addr);
	started = t->fe.now.real;
	deliver_stamped(t, out[1], started - 100 * SEC, 1, before);
	/* Sent before it was a member: not delivered, remembered so it is not asked for. */
	assert_int_equal(t->n.stats.before_member_dropped, 1);
	assert_int_equal(t->n.stats.messages_received, 0);
	tick_answering_until(t, out, t->fe.now.mono + 50 * SEC);
	/* Stamped after its start: compared. */
	deliver_stamped(t, out[1], started + 5 * SEC, 2, after);
	mark = fake_mark(&t->fe);
	while (!(fake_sent_msg(&t->fe, mark, out[1], WIRE_AE_SUMMARY, &m) ||
		 fake_sent_msg(&t->fe, mark, out[2], WIRE_AE_SUMMARY, &m)))
		(void)tick_answered(t, out);
	/* Its range begins after its start: the message from before is not counted. */
	assert_true(m.ae.first > bucket_of(started - 100 * SEC));
	assert_true(m.ae.first <= bucket_of(started + 5 * SEC));
	wire_ae_entry(&m, 0, &e);
	assert_int_equal(e.count, 1);
	assert_true(e.digest == get_u64(after));
}

static void
test_a_link_that_comes_up_is_told_of_recent_messages(void **state)
{
	struct ot *t = *state;
	struct fake_link *out[3], *in;
	struct node_addr spare_addr;
	uint8_t recent[WIRE_ID_LEN], old[WIRE_ID_LEN];
	size_t mark;

	three_up(t, out, &spare_addr);
	deliver_stamped(t, out[1], t->fe.now.real, 1, old);
	tick_answering_until(t, out, t->fe.now.mono + 11 * SEC);
	deliver_stamped(t, out[1], t->fe.now.real, 2, recent);
	mark = fake_mark(&t->fe);
	in = fake_peer_neighbour_in(&t->fe, &t->n, "10.0.4.9:6000");
	fake_peer_run_until(&t->fe, &t->n, t->fe.now.mono + t->n.cfg.peer.ihave_delay_usec);
	/* The message of the last 10 s is announced to it, the older one not. */
	assert_int_equal(fake_count_id(&t->fe, mark, in, WIRE_IHAVE, recent), 1);
	assert_int_equal(fake_count_id(&t->fe, mark, in, WIRE_IHAVE, old), 0);
	assert_int_equal(t->n.stats.catch_up_ids_sent, 1);
}

static void
test_avoided_peers_stay_in_the_view_and_come_back_when_registered_again(void **state)
{
	struct ot *t = *state;
	struct gossip_config cfg;
	struct fake_link *out[MAX_LIST];
	struct node_addr p0 = addr(P[0]), p1 = addr(P[1]);
	size_t mark;

	overlay_config(&cfg);
	cfg.peer.degree = 1;
	start_cfg(t, &cfg);
	seed_lists_these(t, (size_t[]){0}, 1);
	assert_int_equal(dialled(t, 0, out, MAX_LIST), 1);
	assert_true(node_addr_equal(&out[0]->to, &p0));
	/* P0 refuses us: avoided. */
	frame_error(t, out[0], WIRE_ERR_FULL, "too many neighbours");
	assert_true(addr_set_contains(&t->n.avoid, &p0));
	/* Still in the view the seeds give, but P1 is dialled instead of it. */
	mark = fake_mark(&t->fe);
	seed_lists_these(t, (size_t[]){0, 1}, 2);
	assert_true(addr_set_contains(&t->n.known, &p0));
	assert_int_equal(dialled(t, mark, out, MAX_LIST), 1);
	assert_true(node_addr_equal(&out[0]->to, &p1));
	outbound_up(t, out[0]);
	/* Listed again at every refresh: still avoided. */
	seed_lists_these(t, (size_t[]){0, 1}, 2);
	assert_true(addr_set_contains(&t->n.avoid, &p0));
	/* The seed drops it, then lists it again: it registered since, so it is alive. */
	seed_lists_these(t, (size_t[]){1}, 1);
	assert_false(addr_set_contains(&t->n.known, &p0));
	seed_lists_these(t, (size_t[]){0, 1}, 2);
	assert_false(addr_set_contains(&t->n.avoid, &p0));
	assert_true(addr_set_contains(&t->n.known, &p0));
}

static void
test_a_peer_left_with_only_avoided_candidates_dials_one(void **state)
{
	struct ot *t = *state;
	struct gossip_config cfg;
	struct fake_link *out[MAX_LIST];
	struct node_addr p0 = addr(P[0]);
	unsigned ticks = 0;
	size_t mark;

	overlay_config(&cfg);
	cfg.peer.degree = 1;
	start_cfg(t, &cfg);
	mark = fake_mark(&t->fe);
	seed_lists_these(t, (size_t[]){0}, 1);
	/* P0 is still starting: its host refuses us until it is declared dead. */
	while (t->n.stats.neighbours_dead == 0) {
		for (size_t k = dialled(t, mark, out, MAX_LIST); k-- > 0;)
			if (!out[k]->closed)
				fake_peer_closed(&t->fe, &t->n, out[k], "connect", ECONNREFUSED);
		mark = fake_mark(&t->fe);
		if (t->n.stats.neighbours_dead == 0)
			fake_peer_tick(&t->fe, &t->n);
		assert_true(++ticks < 20);
	}
	assert_true(addr_set_contains(&t->n.avoid, &p0));
	/* The seed still lists it (it is up now): alone, the peer dials it again. */
	seed_lists_these(t, (size_t[]){0}, 1);
	mark = fake_mark(&t->fe);
	fake_peer_tick(&t->fe, &t->n);
	assert_int_equal(dialled(t, mark, out, MAX_LIST), 1);
	assert_true(node_addr_equal(&out[0]->to, &p0));
	assert_int_equal(t->n.stats.avoided_redialled, 1);
	outbound_up(t, out[0]);
	assert_false(addr_set_contains(&t->n.avoid, &p0));
}

static void
test_newcomers_are_dialled_beyond_degree(void **state)
{
	unsigned welcomed = 0, runs = 24;

	(void)state;
	for (uint64_t seed = 1; seed <= runs; seed++) {
		struct ot *t = xcalloc(1, sizeof(*t));
		struct gossip_config cfg;
		struct fake_link *out[MAX_LIST];
		size_t mark, k;

		fake_env_init(&t->fe);
		t->rng_seed = seed;
		overlay_config(&cfg);
		cfg.peer.degree = 1;
		start_cfg(t, &cfg);
		seed_lists_these(t, (size_t[]){0}, 1);
		assert_int_equal(dialled(t, 0, out, MAX_LIST), 1);
		outbound_up(t, out[0]);
		/* Four peers known, gone from the seeds' lists, then back (a healed partition). */
		seed_lists_these(t, (size_t[]){0, 1, 2, 3, 4}, 5);
		assert_int_equal(t->n.stats.newcomers_dialled, 0); /* first seen: just joining */
		seed_lists_these(t, (size_t[]){0}, 1);
		mark = fake_mark(&t->fe);
		seed_lists_these(t, (size_t[]){0, 1, 2, 3, 4}, 5);
		k = dialled(t, mark, out, MAX_LIST);
		assert_true(k <= 1);
		if (k) {
			/* A newcomer, and beyond peer.degree. */
			assert_false(node_addr_equal(&out[0]->to, &(struct node_addr){0}));
			assert_int_equal(t->n.n_neighbours, 2);
			assert_int_equal(t->n.stats.newcomers_dialled, 1);
			welcomed++;
		}
		/* The same list again: nobody new, nobody dialled. */
		mark = fake_mark(&t->fe);
		seed_lists_these(t, (size_t[]){0, 1, 2, 3, 4}, 5);
		assert_int_equal(dialled(t, mark, out, MAX_LIST), 0);
		/* One joining for the first time: the usual churn, left to its own dialling. */
		seed_lists_these(t, (size_t[]){0, 1, 2, 3, 4, 5}, 6);
		assert_int_equal(dialled(t, mark, out, MAX_LIST), 0);
		/* One among six gone and back: not enough for a heal. */
		seed_lists_these(t, (size_t[]){0, 1, 2, 3, 4}, 5);
		seed_lists_these(t, (size_t[]){0, 1, 2, 3, 4, 5}, 6);
		assert_int_equal(dialled(t, mark, out, MAX_LIST), 0);
		peer_node_free(&t->n);
		fake_env_free(&t->fe);
		free(t);
	}
	/* Each time with a chance of 4 in 5 (newcomers over the view). */
	assert_true(welcomed >= runs / 2 && welcomed < runs);
}

static void
test_leave_tells_seeds_and_neighbours(void **state)
{
	struct ot *t = *state;
	struct node_addr self = addr(SELF), spare_addr;
	struct fake_link *out[4], *pending;
	struct fake_link *told[4];
	struct wire_msg m;
	size_t mark;

	three_up(t, out, &spare_addr);
	pending = fake_peer_accept(&t->fe, &t->n, "10.0.2.9:41000");
	told[0] = t->seed;
	memcpy(told + 1, out, 3 * sizeof(*out));
	mark = fake_mark(&t->fe);
	peer_node_leave(&t->n, t->fe.now);
	for (int i = 0; i < 4; i++) {
		struct fake_effect *cl = fake_close_of(&t->fe, mark, told[i]);
		assert_true(fake_sent_msg(&t->fe, mark, told[i], WIRE_LEAVE, &m));
		assert_true(node_addr_equal(&m.addr, &self));
		assert_non_null(cl);
		assert_true(cl->close.after_flush); /* the LEAVE goes out first */
	}
	assert_non_null(fake_close_of(&t->fe, mark, pending));
	assert_int_equal(fake_count_sent(&t->fe, mark, pending, 0), 0);
	assert_int_equal(fake_count_notices(&t->fe, mark, NOTICE_STOPPED), 1);
	assert_int_equal(t->fe.wake[WAKE_NORMAL], 0);
	assert_int_equal(t->fe.wake[WAKE_IDLE], 0);
	assert_int_equal(t->n.n_neighbours, 0);
}

/*
 * Peers that refused us are avoided for 2 * seed.lease_time from the start,
 * whatever the monotonic clock reads: avoid_cleared_at used to start at 0, so
 * on a host up for over a minute the first tick cleared the set and a peer
 * that had just refused us was dialled again at once.
 */
static void
test_refusal_before_first_tick_stays_avoided(void **state)
{
	struct ot *t = *state;
	struct gossip_config cfg;
	struct fake_link *out[MAX_LIST];
	size_t mark;

	fake_set_time(&t->fe, 3600 * SEC); /* an hour since boot */
	overlay_config(&cfg);
	cfg.peer.degree = 3;
	start_cfg(t, &cfg);
	mark = fake_mark(&t->fe);
	seed_lists(t, 4);
	assert_int_equal(dialled(t, mark, out, MAX_LIST), 3);
	/* Two refuse: one is replaced by the spare, the other cannot be. */
	fake_peer_connected(&t->fe, &t->n, out[0]);
	frame_error(t, out[0], WIRE_ERR_FULL, "too many neighbours");
	fake_peer_connected(&t->fe, &t->n, out[1]);
	frame_error(t, out[1], WIRE_ERR_FULL, "too many neighbours");
	mark = fake_mark(&t->fe);
	fake_peer_tick(&t->fe, &t->n);
	/* Fails: one of the two refusing peers is dialled again. */
	assert_int_equal(fake_count(&t->fe, mark, FX_CONNECT), 0);
}

/* ---- limits ---- */

/* The i-th address of 10.net.0.0/16 (i < 62500). */
static struct node_addr
nth_addr(unsigned net, size_t i)
{
	char s[32];

	snprintf(s, sizeof(s), "10.%u.%zu.%zu:6000", net, 1 + i / 250, 1 + i % 250);
	return addr(s);
}

/* Listed with nobody else, a is dialled (peer.degree 1) and refuses us: avoided. */
static void
listed_alone_and_refused(struct ot *t, const struct node_addr *a)
{
	struct fake_link *out[1];
	size_t mark = fake_mark(&t->fe);

	seed_lists_addrs(t, a, 1);
	assert_int_equal(dialled(t, mark, out, 1), 1);
	assert_true(node_addr_equal(&out[0]->to, a));
	fake_peer_connected(&t->fe, &t->n, out[0]);
	frame_error(t, out[0], WIRE_ERR_FULL, "too many neighbours");
	assert_true(addr_set_contains(&t->n.avoid, a));
}

/* k addresses of 10.net.0.0/16 listed with stay, then all but stay gone: how many remembered. */
static size_t
list_then_drop(struct ot *t, unsigned net, size_t k, const struct node_addr *stay)
{
	struct node_addr *v = xcalloc(k + 1, sizeof(*v));
	size_t remembered = 0;

	for (size_t i = 0; i < k; i++)
		v[i] = nth_addr(net, i);
	v[k] = *stay;
	seed_lists_addrs(t, v, k + 1);
	seed_lists_addrs(t, stay, 1);
	for (size_t i = 0; i < k; i++)
		remembered += addr_set_contains(&t->n.departed, &v[i]);
	free(v);
	return remembered;
}

/*
 * Peers that left the seeds' view are remembered as departed, PEER_MAX_DEPARTED
 * at most: one of those listed again is a returning peer (no longer avoided),
 * one beyond the limit is not. The limit is reached exactly: the 4096th
 * departed is remembered, the 4097th not, nor any of thousands more.
 */
static void
test_departed_peers_remembered_up_to_the_limit(void **state)
{
	struct ot *t = *state;
	struct gossip_config cfg;
	struct node_addr x = addr(P[0]), y = addr(P[1]), z = addr(P[2]);

	overlay_config(&cfg);
	cfg.peer.degree = 1;
	start_cfg(t, &cfg);
	/* Y, then X refuse us: both avoided; Y has left the view, the first departed. */
	listed_alone_and_refused(t, &y);
	listed_alone_and_refused(t, &x);
	assert_int_equal(t->n.departed.n, 1);
	/* 4095 more listed with X, then gone: every one remembered, 4096 departed. */
	assert_int_equal(list_then_drop(t, 1, PEER_MAX_DEPARTED - 1, &x), PEER_MAX_DEPARTED - 1);
	assert_int_equal(t->n.departed.n, PEER_MAX_DEPARTED);
	/* X goes too, the 4097th: not remembered. */
	seed_lists_addrs(t, &z, 1);
	assert_int_equal(t->n.departed.n, PEER_MAX_DEPARTED);
	assert_false(addr_set_contains(&t->n.departed, &x));
	/* Nor any of 5000 more listed and gone at once: the memory stays bounded. */
	assert_int_equal(list_then_drop(t, 2, 5000, &z), 0);
	assert_int_equal(t->n.departed.n, PEER_MAX_DEPARTED);
	assert_true(t->n.departed.cap <= 2 * PEER_MAX_DEPARTED);
	/* Both listed again: Y, remembered, is returning; X, forgotten, stays avoided. */
	seed_lists_addrs(t, (struct node_addr[]){x, y, z}, 3);
	assert_false(addr_set_contains(&t->n.avoid, &y));
	assert_false(addr_set_contains(&t->n.refusers, &y));
	assert_false(addr_set_contains(&t->n.departed, &y));
	assert_true(addr_set_contains(&t->n.avoid, &x));
	assert_true(addr_set_contains(&t->n.refusers, &x));
	/* Y's place freed: X leaving now is remembered, and returning when listed again. */
	assert_int_equal(t->n.departed.n, PEER_MAX_DEPARTED - 1);
	seed_lists_addrs(t, (struct node_addr[]){y, z}, 2);
	assert_true(addr_set_contains(&t->n.departed, &x));
	seed_lists_addrs(t, (struct node_addr[]){x, y, z}, 3);
	assert_false(addr_set_contains(&t->n.avoid, &x));
}

/*
 * The peer holds `held` ids (by its state file), in two buckets; a neighbour
 * WANTs both, holding none. Checks the AE_IDS frames of the answer (each of
 * at most WIRE_MAX_IDS ids, no id twice, only ids held) and that the stats
 * count what was sent; returns how many ids, and in *frames how many frames.
 * queue_limit: peer.send_queue_limit, 0 for the default.
 */
static size_t
ae_answer(struct ot *t, size_t held, uint64_t queue_limit, size_t *frames)
{
	struct gossip_config cfg;
	struct fake_link *out[3];
	struct node_addr spare_addr;
	uint8_t id[WIRE_ID_LEN], *sent = xcalloc(held, 1);
	uint64_t now, ids0, bytes0, bytes = 0;
	uint32_t first, last;
	struct fake_effect *e;
	struct wire_msg m;
	size_t mark, total = 0;

	*frames = 0;
	t->history = FAKE_REAL0 - 3600 * SEC;
	overlay_config(&cfg);
	if (queue_limit)
		cfg.peer.send_queue_limit = queue_limit;
	three_up_cfg(t, &cfg, out, &spare_addr);
	now = t->fe.now.real;
	for (size_t i = 0; i < held; i++) {
		test_id(i, id);
		peer_node_remember(&t->n, id, now - (i % 2 ? 50 : 100) * SEC, t->fe.now);
	}
	ae_range_now(t, &first, &last);
	ids0 = t->n.stats.ae_ids_sent;
	bytes0 = t->n.stats.ae_bytes_sent;
	mark = fake_mark(&t->fe);
	frame_ae(t, out[1], WIRE_AE_WANT, first, last,
		 (struct wire_ae_bucket[]){{bucket_of(now - 100 * SEC), 0, 0},
					   {bucket_of(now - 50 * SEC), 0, 0}}, 2);
	while ((e = fake_next_sent(&t->fe, &mark, out[1], WIRE_AE_IDS))) {
		fake_decode(e, &m);
		assert_in_range(m.ids.count, 1, WIRE_MAX_IDS);
		bytes += e->send.frame->len;
		++*frames;
		for (uint16_t i = 0; i < m.ids.count; i++) {
			uint64_t k = get_u64(m.ids.ids + (size_t)i * WIRE_ID_LEN);
			assert_true(k < held && !sent[k]);
			test_id(k, id);
			assert_memory_equal(m.ids.ids + (size_t)i * WIRE_ID_LEN, id, WIRE_ID_LEN);
			sent[k] = 1;
			total++;
		}
	}
	free(sent);
	assert_false(out[1]->closed); /* the answer fits the send queue */
	assert_int_equal(t->n.stats.ae_ids_sent - ids0, total);
	assert_int_equal(t->n.stats.ae_bytes_sent - bytes0, bytes);
	return total;
}

/* The ids one anti-entropy answer lists at most (gossip(7), ANTI-ENTROPY). */
#define AE_ANSWER_MAX 16384

/* More ids held in the buckets asked for than one answer lists: 16384 of them. */
static void
test_ae_answer_lists_16384_ids_at_most(void **state)
{
	size_t frames;

	assert_int_equal(ae_answer(*state, AE_ANSWER_MAX + 1, 0, &frames), AE_ANSWER_MAX);
	assert_int_equal(frames, AE_ANSWER_MAX / WIRE_MAX_IDS);
}

/* As many as one answer lists: all of them. */
static void
test_ae_answer_lists_all_of_16384_ids(void **state)
{
	size_t frames;

	assert_int_equal(ae_answer(*state, AE_ANSWER_MAX, 0, &frames), AE_ANSWER_MAX);
	assert_int_equal(frames, AE_ANSWER_MAX / WIRE_MAX_IDS);
}

/*
 * With the least peer.send_queue_limit, an answer fills an eighth of it at
 * most: a send queue over the limit would drop the neighbour.
 */
static void
test_ae_answer_fits_the_least_send_queue(void **state)
{
	struct ot *t = *state;
	const uint64_t limit = 65536;
	size_t frames, ids = ae_answer(t, AE_ANSWER_MAX + 1, limit, &frames);

	/* 248 ids in one frame: 7946 bytes of 8192. */
	assert_int_equal(frames, 1);
	assert_int_equal(ids, limit / 8 / (WIRE_ID_LEN + 1));
	assert_true(t->n.stats.ae_bytes_sent <= limit / 8); /* the answer, and nothing else */
	assert_int_equal(t->n.stats.neighbours_dropped_slow, 0);
}

#define OVERLAY_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    OVERLAY_TEST(test_registration_dials_degree_distinct_peers),
	    OVERLAY_TEST(test_registration_never_dials_itself),
	    OVERLAY_TEST(test_refused_neighbour_is_avoided_and_replaced),
	    OVERLAY_TEST(test_inbound_hello_makes_a_neighbour),
	    OVERLAY_TEST(test_inbound_refused_at_max_neighbours),
	    OVERLAY_TEST(test_hello_claiming_our_address_is_rejected),
	    OVERLAY_TEST(test_duplicate_link_smaller_address_keeps_its_own),
	    OVERLAY_TEST(test_duplicate_link_larger_address_yields_to_theirs),
	    OVERLAY_TEST(test_idle_neighbour_is_pinged_and_pong_answers),
	    OVERLAY_TEST(test_silent_neighbour_suspected_then_dead),
	    OVERLAY_TEST(test_suspected_neighbour_refuted_through_a_helper),
	    OVERLAY_TEST(test_no_helper_answering_doubts_ourselves_first),
	    OVERLAY_TEST(test_one_helper_of_two_not_reaching_it_is_not_enough),
	    OVERLAY_TEST(test_refused_reconnects_are_dead_without_suspicion),
	    OVERLAY_TEST(test_any_frame_is_proof_of_life),
	    OVERLAY_TEST(test_inbound_without_hello_closed_after_handshake_timeout),
	    OVERLAY_TEST(test_leave_removes_neighbour_without_dead_report),
	    OVERLAY_TEST(test_full_send_queue_drops_neighbour),
	    OVERLAY_TEST(test_seed_probe_is_answered_then_closed),
	    OVERLAY_TEST(test_peer_probe_is_answered_then_closed),
	    OVERLAY_TEST(test_ping_req_probes_the_target_for_the_asker),
	    OVERLAY_TEST(test_ping_req_about_a_neighbour_heard_just_now),
	    OVERLAY_TEST(test_ping_req_about_a_quiet_neighbour_pings_it_over_our_link),
	    OVERLAY_TEST(test_ping_req_limits),
	    OVERLAY_TEST(test_ae_total_sent_each_interval),
	    OVERLAY_TEST(test_ae_exchange_lists_and_fetches_what_differs),
	    OVERLAY_TEST(test_ae_compares_nothing_from_before_a_new_peer_came),
	    OVERLAY_TEST(test_a_link_that_comes_up_is_told_of_recent_messages),
	    OVERLAY_TEST(test_avoided_peers_stay_in_the_view_and_come_back_when_registered_again),
	    OVERLAY_TEST(test_a_peer_left_with_only_avoided_candidates_dials_one),
	    cmocka_unit_test(test_newcomers_are_dialled_beyond_degree),
	    OVERLAY_TEST(test_leave_tells_seeds_and_neighbours),
	    OVERLAY_TEST(test_refusal_before_first_tick_stays_avoided),
	    OVERLAY_TEST(test_departed_peers_remembered_up_to_the_limit),
	    OVERLAY_TEST(test_ae_answer_lists_16384_ids_at_most),
	    OVERLAY_TEST(test_ae_answer_lists_all_of_16384_ids),
	    OVERLAY_TEST(test_ae_answer_fits_the_least_send_queue),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
