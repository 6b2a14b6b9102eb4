/* SPDX-License-Identifier: MIT */
/* Unit tests of the broadcast tree (tree.c) through the peer core: PRUNE, IHAVE, GRAFT, repair. */
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

#define SEC USEC_PER_SEC
#define MS USEC_PER_MSEC

#define SELF "10.0.1.1:6000"
#define SEED "10.0.0.1:5000"
#define NA "10.0.2.1:6000"
#define NB "10.0.2.2:6000"
#define NC "10.0.2.3:6000"
/* Where the messages come from: not a neighbour. */
#define ORIGIN "10.0.9.9:6000"

/* A peer with three inbound neighbours a, b and c, every link eager. */
struct tt {
	struct fake_env fe;
	struct peer_node n;
	struct fake_link *a, *b, *c;
	bool started;
};

/* A message from ORIGIN, sent now. */
struct msg {
	uint8_t id[WIRE_ID_LEN];
	uint64_t ts, seq;
	char text[32];
};

static int
setup(void **state)
{
	struct tt *t = xcalloc(1, sizeof(*t));

	fake_env_init(&t->fe);
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct tt *t = *state;

	if (t->started)
		peer_node_free(&t->n);
	fake_env_free(&t->fe);
	free(t);
	return 0;
}

/* The defaults, one seed, and pings far apart: these tests are about the tree, not liveness. */
static void
tree_config(struct gossip_config *cfg)
{
	conf_init(cfg);
	cfg->n_seeds = 1;
	cfg->seeds = xcalloc(1, sizeof(*cfg->seeds));
	cfg->seeds[0] = addr(SEED);
	cfg->peer.ping_interval_usec = cfg->peer.ping_timeout_usec = 3600 * SEC;
}

/*
 * Starts the peer with cfg (freed) and its three neighbours. It begins
 * registering (a connect to the seed, left pending): the tree does not
 * wait for the seeds.
 */
static void
start_cfg(struct tt *t, struct gossip_config *cfg)
{
	struct node_addr self = addr(SELF);

	peer_node_init(&t->n, cfg, &self, 1, &t->fe.env);
	conf_free(cfg);
	t->started = true;
	peer_node_start(&t->n, t->fe.now);
	fake_peer_run_until(&t->fe, &t->n, t->fe.now.mono);
	t->a = fake_peer_neighbour_in(&t->fe, &t->n, NA);
	t->b = fake_peer_neighbour_in(&t->fe, &t->n, NB);
	t->c = fake_peer_neighbour_in(&t->fe, &t->n, NC);
	assert_int_equal(t->n.n_neighbours, 3);
}

static void
start(struct tt *t, bool lazy_push)
{
	struct gossip_config cfg;

	tree_config(&cfg);
	cfg.peer.lazy_push = lazy_push;
	start_cfg(t, &cfg);
}

static void
later(struct tt *t, uint64_t usec)
{
	fake_peer_run_until(&t->fe, &t->n, t->fe.now.mono + usec);
}

static struct msg
msg_new(struct tt *t, uint64_t seq)
{
	struct node_addr o = addr(ORIGIN);
	struct msg m = {.ts = t->fe.now.real, .seq = seq};

	snprintf(m.text, sizeof(m.text), "message %llu", (unsigned long long)seq);
	assert_int_equal(
	    wire_message_id(&o, m.ts, m.seq, (const uint8_t *)m.text, strlen(m.text), m.id), 0);
	return m;
}

/* m arrives in full from fl. */
static void
gossip_from(struct tt *t, struct fake_link *fl, const struct msg *m)
{
	struct node_addr o = addr(ORIGIN);
	struct buf b = {0};

	wire_encode_gossip(&b, m->id, &o, m->ts, m->seq, (const uint8_t *)m->text,
			   (uint32_t)strlen(m->text));
	assert_int_equal(fake_peer_frame(&t->fe, &t->n, fl, &b), 0);
}

/* IHAVE or GRAFT naming id arrives from fl. */
static void
ids_from(struct tt *t, struct fake_link *fl, uint8_t type, const uint8_t *id)
{
	struct buf b = {0};

	wire_encode_ids(&b, type, id, 1);
	assert_int_equal(fake_peer_frame(&t->fe, &t->n, fl, &b), 0);
}

static void
prune_from(struct tt *t, struct fake_link *fl)
{
	struct buf b = {0};

	wire_encode_empty(&b, WIRE_PRUNE);
	assert_int_equal(fake_peer_frame(&t->fe, &t->n, fl, &b), 0);
}

/* Frames of type naming id sent on fl since `since`. */
static unsigned
sent_id(struct tt *t, size_t since, struct fake_link *fl, uint8_t type, const uint8_t *id)
{
	return fake_count_id(&t->fe, since, fl, type, id);
}

/* This peer originates a message; its id in id. */
static void
broadcast(struct tt *t, uint8_t id[WIRE_ID_LEN])
{
	uint64_t seq;

	assert_int_equal(
	    peer_node_broadcast(&t->n, (const uint8_t *)"hello", 5, t->fe.now, id, &seq), 0);
}

/* A statistic by its name in gossipctl stats. */
static uint64_t
stat_named(const struct peer_node *n, const char *name)
{
	for (size_t i = 0; i < peer_stat_count; i++)
		if (!strcmp(peer_stat_descs[i].name, name))
			return peer_node_stat(n, i);
	fail_msg("no statistic %s", name);
	return 0;
}

/* The time the peer waits after an IHAVE before it asks for the message (no round trip known). */
static uint64_t
graft_wait(const struct tt *t)
{
	return (t->n.cfg.peer.graft_timeout_usec + t->n.graft_jitter) * (1 + t->n.health.score);
}

static void
test_duplicate_on_eager_link_prunes_it(void **state)
{
	struct tt *t = *state;
	struct msg m1, m2;
	size_t mark;

	start(t, true);
	m1 = msg_new(t, 1);
	mark = fake_mark(&t->fe);
	gossip_from(t, t->a, &m1);
	assert_int_equal(fake_count(&t->fe, mark, FX_DELIVER), 1);
	assert_int_equal(sent_id(t, mark, t->b, WIRE_GOSSIP, m1.id), 1);
	assert_int_equal(sent_id(t, mark, t->c, WIRE_GOSSIP, m1.id), 1);
	assert_int_equal(sent_id(t, mark, t->a, WIRE_GOSSIP, m1.id), 0);

	/* The copy from b proves a cycle: b's link leaves the tree. */
	mark = fake_mark(&t->fe);
	gossip_from(t, t->b, &m1);
	assert_int_equal(fake_count(&t->fe, mark, FX_DELIVER), 0);
	assert_int_equal(fake_count_sent(&t->fe, mark, t->b, WIRE_PRUNE), 1);
	assert_int_equal(fake_count_sent(&t->fe, mark, t->a, WIRE_PRUNE), 0);
	assert_int_equal(fake_count_sent(&t->fe, mark, t->c, WIRE_PRUNE), 0);
	assert_int_equal(t->n.stats.prunes_sent, 1);
	assert_int_equal(t->n.stats.duplicates_received, 1);

	/* The next message is pushed to c, only announced to b. */
	mark = fake_mark(&t->fe);
	m2 = msg_new(t, 2);
	gossip_from(t, t->a, &m2);
	assert_int_equal(sent_id(t, mark, t->c, WIRE_GOSSIP, m2.id), 1);
	assert_int_equal(sent_id(t, mark, t->b, WIRE_GOSSIP, m2.id), 0);
	assert_int_equal(fake_count_sent(&t->fe, mark, t->b, WIRE_IHAVE), 0); /* batched, not yet */
	later(t, t->n.cfg.peer.ihave_delay_usec);
	assert_int_equal(sent_id(t, mark, t->b, WIRE_IHAVE, m2.id), 1);
	assert_int_equal(fake_count_sent(&t->fe, mark, t->c, WIRE_IHAVE), 0);
	assert_int_equal(fake_count_sent(&t->fe, mark, t->a, WIRE_IHAVE), 0);
}

static void
test_duplicate_on_the_first_link_is_not_pruned(void **state)
{
	struct tt *t = *state;
	struct msg m1 = {0};
	size_t mark;

	start(t, true);
	m1 = msg_new(t, 1);
	gossip_from(t, t->a, &m1);
	mark = fake_mark(&t->fe);
	gossip_from(t, t->a, &m1);
	assert_int_equal(fake_count_sent(&t->fe, mark, NULL, WIRE_PRUNE), 0);
	assert_int_equal(t->n.stats.prunes_withheld, 1);
}

static void
test_duplicate_withheld_when_first_link_is_down(void **state)
{
	struct tt *t = *state;
	struct msg m1, m2;
	size_t mark;

	start(t, true);
	m1 = msg_new(t, 1);
	gossip_from(t, t->a, &m1);
	fake_peer_closed(&t->fe, &t->n, t->a, "connection reset", ECONNRESET);

	/* a no longer carries the tree: pruning b too would cut this peer off. */
	mark = fake_mark(&t->fe);
	gossip_from(t, t->b, &m1);
	assert_int_equal(fake_count_sent(&t->fe, mark, NULL, WIRE_PRUNE), 0);
	assert_int_equal(t->n.stats.prunes_withheld, 1);
	assert_int_equal(t->n.stats.prunes_sent, 0);

	/* b is still eager. */
	m2 = msg_new(t, 2);
	gossip_from(t, t->c, &m2);
	assert_int_equal(sent_id(t, mark, t->b, WIRE_GOSSIP, m2.id), 1);
}

static void
test_duplicate_withheld_when_first_link_is_lazy(void **state)
{
	struct tt *t = *state;
	struct msg m1, m2;
	size_t mark;

	start(t, true);
	m1 = msg_new(t, 1);
	gossip_from(t, t->a, &m1);
	prune_from(t, t->a); /* a's link has left the tree since */

	mark = fake_mark(&t->fe);
	gossip_from(t, t->b, &m1);
	assert_int_equal(fake_count_sent(&t->fe, mark, NULL, WIRE_PRUNE), 0);
	assert_int_equal(t->n.stats.prunes_withheld, 1);

	m2 = msg_new(t, 2);
	gossip_from(t, t->c, &m2);
	assert_int_equal(sent_id(t, mark, t->b, WIRE_GOSSIP, m2.id), 1);
	assert_int_equal(sent_id(t, mark, t->a, WIRE_GOSSIP, m2.id), 0);
}

static void
test_graft_after_ihave_when_message_missing(void **state)
{
	struct tt *t = *state;
	struct msg x;
	uint64_t announced, due;
	size_t mark;

	start(t, true);
	prune_from(t, t->b);
	x = msg_new(t, 7); /* never arrives in full */
	mark = fake_mark(&t->fe);
	announced = t->fe.now.mono;
	ids_from(t, t->b, WIRE_IHAVE, x.id);

	/* The GRAFT wait: graft_timeout plus this peer's jitter (up to a quarter), health 0. */
	assert_int_equal(t->n.health.score, 0);
	assert_true(t->n.graft_jitter <= t->n.cfg.peer.graft_timeout_usec / 4);
	due = announced + graft_wait(t);
	assert_int_equal(t->fe.wake[WAKE_IDLE], due);

	fake_peer_run_until(&t->fe, &t->n, due - 1);
	assert_int_equal(fake_count_sent(&t->fe, mark, NULL, WIRE_GRAFT), 0);
	fake_peer_run_until(&t->fe, &t->n, due);
	assert_int_equal(fake_count_sent(&t->fe, mark, NULL, WIRE_GRAFT), 1);
	assert_int_equal(sent_id(t, mark, t->b, WIRE_GRAFT, x.id), 1);
	assert_int_equal(t->n.stats.grafts_sent, 1);
}

static void
test_graft_wait_scales_with_local_health(void **state)
{
	struct tt *t = *state;
	struct gossip_config cfg;
	struct msg x;
	uint64_t announced, due;
	size_t mark;

	tree_config(&cfg);
	cfg.peer.ping_timeout_usec = 1 * SEC;
	start_cfg(t, &cfg);
	/* A tick that runs 2.5 s late (a starved host) raises the score by 2.5 / 1 + 1. */
	fake_set_time(&t->fe, t->n.timer[PEER_T_TICK] + 2500 * MS);
	t->fe.wake[WAKE_NORMAL] = 0;
	peer_node_wakeup(&t->n, WAKE_NORMAL, t->fe.now);
	assert_int_equal(t->n.health.score, 3);

	prune_from(t, t->b);
	x = msg_new(t, 7);
	mark = fake_mark(&t->fe);
	announced = t->fe.now.mono;
	ids_from(t, t->b, WIRE_IHAVE, x.id);
	due = announced + 4 * (t->n.cfg.peer.graft_timeout_usec + t->n.graft_jitter);
	assert_int_equal(t->fe.wake[WAKE_IDLE], due);
	fake_peer_run_until(&t->fe, &t->n, due - 1);
	assert_int_equal(fake_count_sent(&t->fe, mark, NULL, WIRE_GRAFT), 0);
	fake_peer_run_until(&t->fe, &t->n, due);
	assert_int_equal(sent_id(t, mark, t->b, WIRE_GRAFT, x.id), 1);
}

static void
test_no_graft_when_message_arrives_in_time(void **state)
{
	struct tt *t = *state;
	struct msg x;
	uint64_t due;
	size_t mark;

	start(t, true);
	prune_from(t, t->b);
	x = msg_new(t, 7);
	mark = fake_mark(&t->fe);
	ids_from(t, t->b, WIRE_IHAVE, x.id);
	due = t->fe.wake[WAKE_IDLE];
	assert_true(due > t->fe.now.mono);

	fake_peer_run_until(&t->fe, &t->n, due - 1);
	gossip_from(t, t->a, &x);
	assert_int_equal(fake_count(&t->fe, mark, FX_DELIVER), 1);
	/* Every later attempt's wait too. */
	later(t, 64 * graft_wait(t));
	assert_int_equal(fake_count_sent(&t->fe, mark, NULL, WIRE_GRAFT), 0);
	assert_int_equal(t->n.stats.grafts_sent, 0);
}

static void
test_graft_received_resends_and_makes_link_eager(void **state)
{
	struct tt *t = *state;
	struct fake_effect *e;
	struct wire_msg w;
	struct msg m1, m2;
	size_t mark, pos;

	start(t, true);
	m1 = msg_new(t, 1);
	gossip_from(t, t->a, &m1);
	prune_from(t, t->b);

	mark = fake_mark(&t->fe);
	ids_from(t, t->b, WIRE_GRAFT, m1.id);
	pos = mark;
	e = fake_next_sent(&t->fe, &pos, t->b, WIRE_GOSSIP);
	assert_non_null(e);
	fake_decode(e, &w);
	assert_memory_equal(w.gossip.id, m1.id, WIRE_ID_LEN);
	assert_int_equal(w.gossip.len, strlen(m1.text));
	assert_memory_equal(w.gossip.payload, m1.text, strlen(m1.text));
	assert_null(fake_next_sent(&t->fe, &pos, NULL, WIRE_GOSSIP));
	assert_int_equal(t->n.stats.grafts_answered, 1);

	/* b's link is eager again: the next message is pushed, not announced. */
	mark = fake_mark(&t->fe);
	m2 = msg_new(t, 2);
	gossip_from(t, t->a, &m2);
	later(t, t->n.cfg.peer.ihave_delay_usec);
	assert_int_equal(sent_id(t, mark, t->b, WIRE_GOSSIP, m2.id), 1);
	assert_int_equal(fake_count_sent(&t->fe, mark, t->b, WIRE_IHAVE), 0);
}

static void
test_graft_for_unknown_id_is_unanswerable(void **state)
{
	struct tt *t = *state;
	struct msg x;
	size_t mark;

	start(t, true);
	x = msg_new(t, 9); /* never seen here */
	mark = fake_mark(&t->fe);
	ids_from(t, t->b, WIRE_GRAFT, x.id);
	assert_int_equal(fake_count_sent(&t->fe, mark, NULL, 0), 0);
	assert_int_equal(t->n.stats.grafts_unanswerable, 1);
	assert_int_equal(t->n.stats.grafts_answered, 0);
}

static void
test_prune_received_makes_link_lazy(void **state)
{
	struct tt *t = *state;
	uint8_t id[WIRE_ID_LEN];
	size_t mark;

	start(t, true);
	mark = fake_mark(&t->fe);
	prune_from(t, t->b);
	/* a and c keep this peer in the tree: nothing to send. */
	assert_int_equal(fake_count_sent(&t->fe, mark, NULL, 0), 0);
	assert_int_equal(t->n.stats.prunes_received, 1);
	assert_int_equal(stat_named(&t->n, "lazy_links"), 1);

	mark = fake_mark(&t->fe);
	broadcast(t, id);
	assert_int_equal(sent_id(t, mark, t->a, WIRE_GOSSIP, id), 1);
	assert_int_equal(sent_id(t, mark, t->c, WIRE_GOSSIP, id), 1);
	assert_int_equal(sent_id(t, mark, t->b, WIRE_GOSSIP, id), 0);
	later(t, t->n.cfg.peer.ihave_delay_usec);
	assert_int_equal(sent_id(t, mark, t->b, WIRE_IHAVE, id), 1);
}

/* a brought m1 first and b a duplicate: b's link is pruned, a's carries the tree. */
static void
tree_via_a(struct tt *t)
{
	struct msg m1 = msg_new(t, 1);
	size_t mark = fake_mark(&t->fe);

	gossip_from(t, t->a, &m1);
	gossip_from(t, t->b, &m1);
	assert_int_equal(fake_count_sent(&t->fe, mark, t->b, WIRE_PRUNE), 1);
}

static void
test_lost_eager_link_then_ihave_grafts_and_repairs(void **state)
{
	struct tt *t = *state;
	struct msg x, m3;
	uint64_t due;
	size_t mark;

	start(t, true);
	tree_via_a(t);
	later(t, 10 * MS);
	fake_peer_closed(&t->fe, &t->n, t->a, "connection reset", ECONNRESET);
	assert_int_equal(t->n.tree_cut_at, t->fe.now.mono);

	/* What a would have pushed is announced by b, and asked for from b. */
	later(t, 10 * MS);
	x = msg_new(t, 7);
	mark = fake_mark(&t->fe);
	ids_from(t, t->b, WIRE_IHAVE, x.id);
	due = t->fe.now.mono + graft_wait(t);
	fake_peer_run_until(&t->fe, &t->n, due);
	assert_int_equal(sent_id(t, mark, t->b, WIRE_GRAFT, x.id), 1);
	assert_int_equal(t->n.stats.grafts_deferred, 0);

	/* b answers with the message: delivered once, forwarded to c. */
	gossip_from(t, t->b, &x);
	assert_int_equal(fake_count(&t->fe, mark, FX_DELIVER), 1);
	assert_int_equal(sent_id(t, mark, t->c, WIRE_GOSSIP, x.id), 1);
	later(t, 64 * graft_wait(t));
	assert_int_equal(sent_id(t, mark, NULL, WIRE_GRAFT, x.id), 1);

	/* b's link is back in the tree: c's next message is pushed to it. */
	mark = fake_mark(&t->fe);
	m3 = msg_new(t, 3);
	gossip_from(t, t->c, &m3);
	assert_int_equal(sent_id(t, mark, t->b, WIRE_GOSSIP, m3.id), 1);
}

/* Other messages arrive in full from a every 100 ms until `until`. */
static void
stream_from_a(struct tt *t, uint64_t until, uint64_t *seq)
{
	while (t->fe.now.mono + 100 * MS <= until) {
		struct msg m;
		later(t, 100 * MS);
		m = msg_new(t, (*seq)++);
		gossip_from(t, t->a, &m);
	}
	fake_peer_run_until(&t->fe, &t->n, until);
}

static void
test_graft_deferred_while_tree_still_delivers(void **state)
{
	struct tt *t = *state;
	uint64_t seq = 100, due;
	struct msg x;
	size_t mark;

	start(t, true);
	tree_via_a(t);
	x = msg_new(t, 7);
	mark = fake_mark(&t->fe);
	ids_from(t, t->b, WIRE_IHAVE, x.id);
	due = t->fe.wake[WAKE_IDLE];
	stream_from_a(t, due, &seq);
	/* Other messages came over an intact tree: this one is taken to be late, not lost. */
	assert_int_equal(fake_count_sent(&t->fe, mark, NULL, WIRE_GRAFT), 0);
	assert_int_equal(t->n.stats.grafts_deferred, 1);
}

static void
test_eager_link_lost_after_ihave_grafts_at_once(void **state)
{
	struct tt *t = *state;
	uint64_t seq = 100, due;
	struct msg x;
	size_t mark;

	start(t, true);
	tree_via_a(t);
	x = msg_new(t, 7);
	mark = fake_mark(&t->fe);
	ids_from(t, t->b, WIRE_IHAVE, x.id);
	due = t->fe.wake[WAKE_IDLE];
	stream_from_a(t, t->fe.now.mono + 200 * MS, &seq);
	/* c's link, eager, is lost after the announcement: no more waiting. */
	fake_peer_closed(&t->fe, &t->n, t->c, "connection reset", ECONNRESET);
	stream_from_a(t, due, &seq);
	assert_int_equal(t->n.stats.grafts_deferred, 0);
	assert_int_equal(sent_id(t, mark, t->b, WIRE_GRAFT, x.id), 1);
}

static void
test_flooding_pushes_everywhere_without_ihave(void **state)
{
	struct tt *t = *state;
	uint8_t id[WIRE_ID_LEN];
	struct msg m1, m2;
	size_t mark;

	start(t, false);
	mark = fake_mark(&t->fe);
	m1 = msg_new(t, 1);
	gossip_from(t, t->a, &m1);
	gossip_from(t, t->b, &m1); /* a duplicate prunes nothing */
	prune_from(t, t->c);       /* and a PRUNE is ignored */
	m2 = msg_new(t, 2);
	gossip_from(t, t->a, &m2);
	broadcast(t, id);
	later(t, 10 * t->n.cfg.peer.ihave_delay_usec);

	assert_int_equal(fake_count_sent(&t->fe, mark, NULL, WIRE_PRUNE), 0);
	assert_int_equal(t->n.stats.prunes_withheld, 0);
	assert_int_equal(sent_id(t, mark, t->b, WIRE_GOSSIP, m1.id), 1);
	assert_int_equal(sent_id(t, mark, t->c, WIRE_GOSSIP, m1.id), 1);
	assert_int_equal(sent_id(t, mark, t->b, WIRE_GOSSIP, m2.id), 1);
	assert_int_equal(sent_id(t, mark, t->c, WIRE_GOSSIP, m2.id), 1);
	assert_int_equal(sent_id(t, mark, t->a, WIRE_GOSSIP, id), 1);
	assert_int_equal(sent_id(t, mark, t->b, WIRE_GOSSIP, id), 1);
	assert_int_equal(sent_id(t, mark, t->c, WIRE_GOSSIP, id), 1);
	assert_int_equal(fake_count_sent(&t->fe, mark, NULL, WIRE_IHAVE), 0);
}

static void
test_full_queue_gets_ihave_instead_of_payload(void **state)
{
	struct tt *t = *state;
	struct msg m1;
	size_t mark;

	start(t, true);
	/* Payloads may fill 3/4 of the queue limit; the rest is for ids and control frames. */
	t->b->queued = t->n.cfg.peer.send_queue_limit * 3 / 4;
	mark = fake_mark(&t->fe);
	m1 = msg_new(t, 1);
	gossip_from(t, t->a, &m1);
	assert_int_equal(sent_id(t, mark, t->c, WIRE_GOSSIP, m1.id), 1);
	assert_int_equal(sent_id(t, mark, t->b, WIRE_GOSSIP, m1.id), 0);
	assert_int_equal(t->n.stats.pushes_deferred, 1);
	later(t, t->n.cfg.peer.ihave_delay_usec);
	assert_int_equal(sent_id(t, mark, t->b, WIRE_IHAVE, m1.id), 1);
	assert_null(fake_close_of(&t->fe, mark, t->b)); /* kept, not dropped */
}

/* Gives the neighbour at a this smoothed round trip, as its pings would have measured. */
static void
set_srtt(struct tt *t, const char *a, uint64_t srtt)
{
	struct node_addr x = addr(a);

	for (struct neighbour *nb = t->n.neighbours; nb; nb = nb->next)
		if (node_addr_equal(&nb->addr, &x)) {
			nb->live.srtt_usec = srtt;
			return;
		}
	fail_msg("no neighbour %s", a);
}

/* A PING (nonce) from fl, carrying ids when id is not NULL. */
static void
ping_from(struct tt *t, struct fake_link *fl, uint64_t nonce, const uint8_t *id)
{
	struct buf b = {0};

	wire_encode_ping(&b, WIRE_PING, nonce, id, id ? 1 : 0);
	assert_int_equal(fake_peer_frame(&t->fe, &t->n, fl, &b), 0);
}

/*
 * Message m1 arrives from a, with b a lazy link of round trip srtt: its id
 * waits for b. Returns the mark before m1.
 */
static size_t
announce_to_lazy_b(struct tt *t, struct gossip_config *cfg, uint64_t srtt, struct msg *m1)
{
	size_t mark;

	start_cfg(t, cfg);
	set_srtt(t, NB, srtt);
	prune_from(t, t->b);
	mark = fake_mark(&t->fe);
	*m1 = msg_new(t, 1);
	gossip_from(t, t->a, m1);
	assert_int_equal(sent_id(t, mark, t->c, WIRE_GOSSIP, m1->id), 1);
	return mark;
}

/*
 * On a slow link the id waits 8 round trips for a frame going there anyway:
 * the PONG to the neighbour's PING carries it, and no IHAVE follows.
 */
static void
test_ihave_rides_on_a_pong_on_a_slow_link(void **state)
{
	struct tt *t = *state;
	struct gossip_config cfg;
	struct msg m1;
	size_t mark;

	tree_config(&cfg);
	mark = announce_to_lazy_b(t, &cfg, 200 * MS, &m1);
	later(t, t->n.cfg.peer.ihave_delay_usec); /* a LAN link would have had its IHAVE now */
	assert_int_equal(fake_count_sent(&t->fe, mark, t->b, WIRE_IHAVE), 0);
	ping_from(t, t->b, 99, NULL);
	assert_int_equal(sent_id(t, mark, t->b, WIRE_PONG, m1.id), 1);
	later(t, 2 * SEC);
	assert_int_equal(fake_count_sent(&t->fe, mark, t->b, WIRE_IHAVE), 0);
	assert_int_equal(stat_named(&t->n, "ihave_ids_carried"), 1);
	assert_int_equal(stat_named(&t->n, "ihave_ids_sent"), 1);
	assert_int_equal(stat_named(&t->n, "ihave_frames_sent"), 0);
}

/* No frame goes to the slow link meanwhile: an IHAVE of its own, 8 round trips after. */
static void
test_ihave_alone_after_eight_round_trips(void **state)
{
	struct tt *t = *state;
	struct gossip_config cfg;
	struct msg m1;
	uint64_t due;
	size_t mark;

	tree_config(&cfg);
	mark = announce_to_lazy_b(t, &cfg, 50 * MS, &m1);
	due = t->fe.now.mono + 400 * MS;
	fake_peer_run_until(&t->fe, &t->n, due - 1);
	assert_int_equal(fake_count_sent(&t->fe, mark, t->b, WIRE_IHAVE), 0);
	fake_peer_run_until(&t->fe, &t->n, due);
	assert_int_equal(sent_id(t, mark, t->b, WIRE_IHAVE, m1.id), 1);
}

/* The wait is capped at 1.5 ping intervals: a PING or PONG crosses a quiet link that often. */
static void
test_ihave_wait_capped_by_the_ping_interval(void **state)
{
	struct tt *t = *state;
	struct gossip_config cfg;
	struct msg m1;
	size_t mark;

	tree_config(&cfg);
	cfg.peer.ping_interval_usec = cfg.peer.ping_timeout_usec = 400 * MS;
	cfg.peer.carry_ihave = false; /* the ticks' PINGs would take the id before its deadline */
	mark = announce_to_lazy_b(t, &cfg, 5 * SEC, &m1);
	/* 600 ms, not 40 s. */
	later(t, 600 * MS - 1);
	assert_int_equal(sent_id(t, mark, t->b, WIRE_IHAVE, m1.id), 0);
	later(t, 1);
	assert_int_equal(sent_id(t, mark, t->b, WIRE_IHAVE, m1.id), 1);
}

/*
 * A lazy link heard from all the time gets no PING from the ticks, so no
 * PONG comes back either: its ids ride on a PING all the same, at a tick
 * whose next one comes after their deadline (not sooner: they wait for
 * more ids, and for the tree's copy to arrive first), and no IHAVE follows.
 * Not with carrying off, nor on a LAN link, whose wait is peer.ihave_delay
 * (8 round trips of 12.5 ms are exactly 0.1 s: still a LAN link). Each
 * limit is tried on both sides: m1 comes `lead` before a tick.
 */
static void
test_ids_ride_on_a_ping_at_the_last_tick_before_their_deadline(void **state)
{
	static const struct {
		bool carry;
		uint64_t srtt, lead;
		int at_tick; /* PINGs carrying m1 at the tick */
	} cases[] = {
	    /* 8 round trips of 200 ms, capped at 1.5 intervals: m1 is due 1.5 s after it comes. */
	    {true, 200 * MS, 500 * MS + 1, 1}, /* due 1 us before the next tick */
	    {true, 200 * MS, 500 * MS, 0},     /* due with the next tick */
	    {true, 200 * MS, 500 * MS - 1, 0}, /* due after the next tick: it carries it */
	    {false, 200 * MS, 500 * MS + 1, 0},
	    {true, 12500, 50 * MS, 0},         /* a LAN link: due 50 ms after the tick */
	    {true, 12501, 50 * MS, 1},         /* a slow link, just */
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		bool lan = cases[i].srtt * 8 <= 100 * MS;
		uint64_t wait = lan ? 100 * MS : cases[i].srtt >= 200 * MS ? 1500 * MS
									       : 8 * cases[i].srtt;
		void *st;
		struct tt *t;
		struct gossip_config cfg;
		struct msg m1;
		uint64_t tick, due;
		size_t mark;

		setup(&st);
		t = st;
		tree_config(&cfg);
		cfg.peer.ping_interval_usec = cfg.peer.ping_timeout_usec = 1 * SEC;
		cfg.peer.carry_ihave = cases[i].carry;
		start_cfg(t, &cfg);
		set_srtt(t, NB, cases[i].srtt);
		prune_from(t, t->b);
		tick = t->n.timer[PEER_T_TICK];
		assert_true(tick > t->fe.now.mono + cases[i].lead);
		fake_peer_run_until(&t->fe, &t->n, tick - cases[i].lead);
		mark = fake_mark(&t->fe);
		m1 = msg_new(t, 1);
		gossip_from(t, t->a, &m1);
		due = t->fe.now.mono + wait;
		prune_from(t, t->b); /* heard from since the last tick */
		fake_peer_run_until(&t->fe, &t->n, tick);
		assert_int_equal(sent_id(t, mark, t->b, WIRE_PING, m1.id), cases[i].at_tick);
		assert_int_equal(stat_named(&t->n, "pings_to_carry"), cases[i].at_tick);
		fake_peer_run_until(&t->fe, &t->n, due - 1);
		/* Due after the next tick: that tick's PING (b not heard from since) carries it. */
		assert_int_equal(sent_id(t, mark, t->b, WIRE_PING, m1.id),
				 cases[i].at_tick || due > tick + 1 * SEC);
		assert_int_equal(sent_id(t, mark, t->b, WIRE_IHAVE, m1.id), 0);
		fake_peer_run_until(&t->fe, &t->n, due);
		assert_int_equal(sent_id(t, mark, t->b, WIRE_PING, m1.id) +
				     sent_id(t, mark, t->b, WIRE_IHAVE, m1.id), 1);
		if (due < tick + 1 * SEC) /* no tick between: the IHAVE, unless the tick took it */
			assert_int_equal(sent_id(t, mark, t->b, WIRE_IHAVE, m1.id), !cases[i].at_tick);
		assert_int_equal(stat_named(&t->n, "ihave_ids_sent"), 1);
		teardown(&st);
	}
	(void)state;
}

/* A fast link, adaptive timers off, or carrying off: the fixed peer.ihave_delay, no carrying. */
static void
test_ihave_delay_on_lan_or_when_adaptive_is_off(void **state)
{
	static const struct {
		uint64_t srtt;
		bool adaptive, carry;
	} cases[] = {{1 * MS, true, false}, {200 * MS, false, false}};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		void *st;
		struct tt *t;
		struct gossip_config cfg;
		struct msg m1;
		size_t mark;

		setup(&st);
		t = st;
		tree_config(&cfg);
		cfg.peer.adaptive_timers = cases[i].adaptive;
		cfg.peer.carry_ihave = cases[i].carry;
		mark = announce_to_lazy_b(t, &cfg, cases[i].srtt, &m1);
		ping_from(t, t->b, 5, NULL);
		assert_int_equal(sent_id(t, mark, t->b, WIRE_PONG, m1.id), 0);
		later(t, t->n.cfg.peer.ihave_delay_usec - 1);
		assert_int_equal(sent_id(t, mark, t->b, WIRE_IHAVE, m1.id), 0);
		later(t, 1);
		assert_int_equal(sent_id(t, mark, t->b, WIRE_IHAVE, m1.id), 1);
		teardown(&st);
	}
	(void)state;
}

/* Ids a PING carries are announcements: a missing message is asked for after the GRAFT wait. */
static void
test_ids_carried_by_a_ping_are_grafted(void **state)
{
	struct tt *t = *state;
	struct msg x;
	uint64_t due;
	size_t mark;

	start(t, true);
	prune_from(t, t->b);
	x = msg_new(t, 7);
	mark = fake_mark(&t->fe);
	due = t->fe.now.mono + graft_wait(t);
	ping_from(t, t->b, 11, x.id);
	assert_int_equal(fake_count_sent(&t->fe, mark, t->b, WIRE_PONG), 1);
	assert_int_equal(stat_named(&t->n, "ihave_ids_received"), 1);
	fake_peer_run_until(&t->fe, &t->n, due - 1);
	assert_int_equal(sent_id(t, mark, t->b, WIRE_GRAFT, x.id), 0);
	fake_peer_run_until(&t->fe, &t->n, due);
	assert_int_equal(sent_id(t, mark, t->b, WIRE_GRAFT, x.id), 1);
}

/*
 * The GRAFT wait is at least twice the median smoothed round trip of the
 * links (taken at each tick), at most 5 s; never below peer.graft_timeout.
 */
static void
test_graft_wait_follows_the_round_trips(void **state)
{
	static const struct {
		uint64_t a, b, c, base;
	} cases[] = {{400 * MS, 400 * MS, 3 * SEC, 800 * MS}, /* median 400 ms */
		     {10 * SEC, 10 * SEC, 10 * SEC, 5 * SEC}, /* capped */
		     {1 * MS, 100 * MS, 200 * MS, 500 * MS}}; /* graft_timeout */

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		void *st;
		struct tt *t;
		struct msg x;
		uint64_t due;
		size_t mark;

		setup(&st);
		t = st;
		start(t, true);
		set_srtt(t, NA, cases[i].a);
		set_srtt(t, NB, cases[i].b);
		set_srtt(t, NC, cases[i].c);
		fake_peer_run_until(&t->fe, &t->n, t->n.timer[PEER_T_TICK]); /* a tick takes the median */
		prune_from(t, t->b);
		x = msg_new(t, 7);
		mark = fake_mark(&t->fe);
		due = t->fe.now.mono + cases[i].base + t->n.graft_jitter;
		ids_from(t, t->b, WIRE_IHAVE, x.id);
		assert_int_equal(t->fe.wake[WAKE_IDLE], due);
		fake_peer_run_until(&t->fe, &t->n, due);
		assert_int_equal(sent_id(t, mark, t->b, WIRE_GRAFT, x.id), 1);
		teardown(&st);
	}
	(void)state;
}

/* The same id asked for again, in later GRAFTs or several times in one: answered once. */
static void
test_graft_answered_once_per_link(void **state)
{
	struct tt *t = *state;
	uint8_t ids[3 * WIRE_ID_LEN];
	struct buf b = {0};
	struct msg m1;
	size_t mark;

	start(t, true);
	m1 = msg_new(t, 1);
	gossip_from(t, t->a, &m1);
	prune_from(t, t->b);
	mark = fake_mark(&t->fe);
	ids_from(t, t->b, WIRE_GRAFT, m1.id);
	ids_from(t, t->b, WIRE_GRAFT, m1.id);
	for (int i = 0; i < 3; i++)
		memcpy(ids + i * WIRE_ID_LEN, m1.id, WIRE_ID_LEN);
	wire_encode_ids(&b, WIRE_GRAFT, ids, 3);
	assert_int_equal(fake_peer_frame(&t->fe, &t->n, t->b, &b), 0);
	assert_int_equal(sent_id(t, mark, t->b, WIRE_GOSSIP, m1.id), 1);
	assert_int_equal(t->n.stats.grafts_answered, 1);
	assert_int_equal(t->n.stats.grafts_refused, 4);
	/* Another neighbour asking is answered: the memory is per link. */
	ids_from(t, t->c, WIRE_GRAFT, m1.id);
	assert_int_equal(sent_id(t, mark, t->c, WIRE_GOSSIP, m1.id), 1);
	assert_int_equal(t->n.stats.grafts_answered, 2);
}

/* Bytes of the GOSSIP frames sent on fl since mark, and their count in *n. */
static size_t
gossip_bytes_sent(struct tt *t, size_t mark, struct fake_link *fl, unsigned *n)
{
	struct fake_effect *e;
	size_t bytes = 0;

	*n = 0;
	while ((e = fake_next_sent(&t->fe, &mark, fl, WIRE_GOSSIP))) {
		bytes += e->send.frame->len;
		(*n)++;
	}
	return bytes;
}

/*
 * GRAFT answers to one link spend a budget of send_queue_limit bytes,
 * refilled at that many a second: answers stop at the budget, the rest
 * are refused (and asked again later), and time brings the budget back.
 */
static void
test_graft_answers_within_a_byte_budget(void **state)
{
	struct tt *t = *state;
	enum { N = 1000 };
	static uint8_t ids[N * WIRE_ID_LEN];
	struct gossip_config cfg;
	struct buf b = {0};
	size_t mark, bytes, limit;
	unsigned answered, again;

	tree_config(&cfg);
	cfg.peer.send_queue_limit = 16384; /* below the settings' range: fewer messages to test with */
	start_cfg(t, &cfg);
	limit = t->n.cfg.peer.send_queue_limit;
	for (unsigned i = 0; i < N; i++) {
		struct msg m = msg_new(t, i + 1);
		gossip_from(t, t->a, &m);
		memcpy(ids + i * WIRE_ID_LEN, m.id, WIRE_ID_LEN);
	}
	prune_from(t, t->b);
	mark = fake_mark(&t->fe);
	wire_encode_ids(&b, WIRE_GRAFT, ids, N);
	assert_int_equal(fake_peer_frame(&t->fe, &t->n, t->b, &b), 0);
	bytes = gossip_bytes_sent(t, mark, t->b, &answered);
	/* At the limit: within the budget, and the next answer would not have fitted. */
	assert_true(answered > 0 && answered < N);
	assert_true(bytes <= limit);
	assert_true(bytes + 100 > limit);
	assert_int_equal(t->n.stats.grafts_answered, answered);
	assert_int_equal(t->n.stats.grafts_refused, N - answered);
	/* Half a second later, half the budget is back, for the ids still missing. */
	later(t, SEC / 2);
	mark = fake_mark(&t->fe);
	wire_encode_ids(&b, WIRE_GRAFT, ids + answered * WIRE_ID_LEN, (uint16_t)(N - answered));
	assert_int_equal(fake_peer_frame(&t->fe, &t->n, t->b, &b), 0);
	bytes = gossip_bytes_sent(t, mark, t->b, &again);
	assert_true(again > 0);
	assert_true(bytes <= limit / 2 + 100 && bytes + 200 > limit / 2);
	buf_free(&b);
}

#define TREE_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    TREE_TEST(test_duplicate_on_eager_link_prunes_it),
	    TREE_TEST(test_duplicate_on_the_first_link_is_not_pruned),
	    TREE_TEST(test_duplicate_withheld_when_first_link_is_down),
	    TREE_TEST(test_duplicate_withheld_when_first_link_is_lazy),
	    TREE_TEST(test_graft_after_ihave_when_message_missing),
	    TREE_TEST(test_graft_wait_scales_with_local_health),
	    TREE_TEST(test_no_graft_when_message_arrives_in_time),
	    TREE_TEST(test_graft_received_resends_and_makes_link_eager),
	    TREE_TEST(test_graft_for_unknown_id_is_unanswerable),
	    TREE_TEST(test_prune_received_makes_link_lazy),
	    TREE_TEST(test_lost_eager_link_then_ihave_grafts_and_repairs),
	    TREE_TEST(test_graft_deferred_while_tree_still_delivers),
	    TREE_TEST(test_eager_link_lost_after_ihave_grafts_at_once),
	    TREE_TEST(test_flooding_pushes_everywhere_without_ihave),
	    TREE_TEST(test_full_queue_gets_ihave_instead_of_payload),
	    TREE_TEST(test_graft_answered_once_per_link),
	    TREE_TEST(test_graft_answers_within_a_byte_budget),
	    TREE_TEST(test_ihave_rides_on_a_pong_on_a_slow_link),
	    TREE_TEST(test_ihave_alone_after_eight_round_trips),
	    TREE_TEST(test_ihave_wait_capped_by_the_ping_interval),
	    cmocka_unit_test(test_ihave_delay_on_lan_or_when_adaptive_is_off),
	    TREE_TEST(test_ids_carried_by_a_ping_are_grafted),
	    TREE_TEST(test_ids_ride_on_a_ping_at_the_last_tick_before_their_deadline),
	    cmocka_unit_test(test_graft_wait_follows_the_round_trips),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
