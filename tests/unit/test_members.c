/* SPDX-License-Identifier: MIT */
/* Unit tests of gossipctl members in the peer core (members.c): every seed asked, pages, merge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/members.h"
#include "core/peer.h"
#include "fakeenv.h"

#define SEC USEC_PER_SEC
#define MS USEC_PER_MSEC
#define SELF "10.0.1.1:6000"

static const char *const SEEDS[] = {"10.0.0.1:5000", "10.0.0.2:5000", "10.0.0.3:5000"};
enum { NSEEDS = 3 };

struct mt {
	struct fake_env fe;
	struct peer_node n;
	struct fake_link *ask[NSEEDS]; /* the query's link to each seed */
};

static int
setup(void **state)
{
	struct mt *t = xcalloc(1, sizeof(*t));
	struct gossip_config cfg;
	struct node_addr self = addr(SELF);

	fake_env_init(&t->fe);
	conf_init(&cfg);
	cfg.n_seeds = NSEEDS;
	cfg.seeds = xcalloc(NSEEDS, sizeof(*cfg.seeds));
	for (int i = 0; i < NSEEDS; i++)
		cfg.seeds[i] = addr(SEEDS[i]);
	peer_node_init(&t->n, &cfg, &self, 1, &t->fe.env);
	conf_free(&cfg);
	peer_node_start(&t->n, t->fe.now);
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct mt *t = *state;

	peer_node_free(&t->n);
	assert_int_equal(t->fe.misuse, 0);
	fake_env_free(&t->fe);
	free(t);
	return 0;
}

/* Starts a query: one connection of its own to every seed, each asking from the start. */
static void
ask_all(struct mt *t)
{
	assert_int_equal(peer_node_members(&t->n, t->fe.now), 0);
	for (int i = 0; i < NSEEDS; i++) {
		struct node_addr a = addr(SEEDS[i]);
		struct wire_msg m;
		size_t mark;

		t->ask[i] = fake_link_to(&t->fe, &a, LINK_MEMBERS);
		assert_non_null(t->ask[i]);
		mark = fake_mark(&t->fe);
		fake_peer_connected(&t->fe, &t->n, t->ask[i]);
		assert_true(fake_sent_msg(&t->fe, mark, t->ask[i], WIRE_MEMBERS_REQ, &m));
		assert_true(m.members_req.from_start);
	}
}

static struct wire_member
entry(const char *a, uint8_t state, uint64_t incarnation, uint32_t lease_ms, uint32_t reg_s)
{
	return (struct wire_member){addr(a), state, incarnation, lease_ms, reg_s};
}

/* Seed i answers with a page; returns what the core returned. */
static int
answer(struct mt *t, int i, bool more, const struct wire_member *v, uint16_t count)
{
	struct buf b = {0};

	wire_encode_members(&b, 99, more, v, count);
	return fake_peer_frame(&t->fe, &t->n, t->ask[i], &b);
}

static const struct member *
find(const struct members_query *q, const char *a)
{
	struct node_addr x = addr(a);

	for (size_t i = 0; i < q->n; i++)
		if (node_addr_equal(&q->v[i].addr, &x))
			return &q->v[i];
	fail_msg("%s is not in the answer", a);
	return NULL;
}

/* Two seeds answer (one in two pages), one refuses: the registrations merged, each seed told. */
static void
test_members_merged_across_seeds(void **state)
{
	struct mt *t = *state;
	const struct wire_member a1[] = {entry("10.0.2.1:6000", 1, 7, 500, 10),
					 entry("10.0.2.2:6000", 1, 0, 9000, 30)};
	const struct wire_member a2[] = {entry("10.0.2.3:6000", 1, 5, 100, 5)};
	const struct wire_member b1[] = {entry("10.0.2.2:6000", 2, 8, 1000, 20),
					 entry("10.0.2.3:6000", 1, 5, 300, 50)};
	const struct members_query *q;
	const struct member *m;
	struct wire_msg req;
	size_t mark = fake_mark(&t->fe);
	struct buf b = {0};

	ask_all(t);
	assert_int_equal(answer(t, 0, true, a1, 2), 0);
	/* The next page is asked for after the last address. */
	assert_true(fake_sent_msg(&t->fe, fake_mark(&t->fe) - 1, t->ask[0], WIRE_MEMBERS_REQ, &req));
	assert_false(req.members_req.from_start);
	assert_true(node_addr_equal(&req.members_req.after, &a1[1].addr));
	assert_int_equal(answer(t, 0, false, a2, 1), 0);
	assert_true(t->ask[0]->closed);
	assert_int_equal(answer(t, 1, false, b1, 2), 0);
	assert_int_equal(fake_count_notices(&t->fe, mark, NOTICE_MEMBERS), 0);
	wire_encode_error(&b, WIRE_ERR_REFUSED, "MEMBERS_REQ needs a verified certificate");
	assert_int_equal(fake_peer_frame(&t->fe, &t->n, t->ask[2], &b), 0);
	assert_int_equal(fake_count_notices(&t->fe, mark, NOTICE_MEMBERS), 1);

	q = peer_node_members_result(&t->n);
	assert_non_null(q);
	assert_int_equal(q->answered, 2);
	assert_int_equal(q->seeds[2].state, MEMBERS_FAILED);
	assert_non_null(strstr(q->seeds[2].why, "verified certificate"));
	assert_int_equal(q->n, 3);
	m = find(q, "10.0.2.1:6000");
	assert_int_equal(m->seeds, 1);
	m = find(q, "10.0.2.2:6000");
	assert_int_equal(m->seeds, 2);
	assert_int_equal(q->held_by[m->held], 0);
	assert_int_equal(q->held_by[m->held + 1], 1);
	assert_int_equal(m->state, WIRE_MEMBER_SUSPECT); /* one seed suspects it */
	assert_int_equal(m->lease_age_ms, 1000);         /* the freshest registration's */
	assert_true(m->incarnation == 8);                /* and its incarnation */
	assert_int_equal(m->registered_s, 30);           /* the oldest */
	m = find(q, "10.0.2.3:6000");
	assert_int_equal(m->seeds, 2);
	assert_int_equal(m->lease_age_ms, 100);
	assert_int_equal(m->state, WIRE_MEMBER_ALIVE);
}

/* Asked again within MEMBERS_REUSE_USEC: the last answer, and no seed is asked. */
static void
test_members_answer_reused_for_a_second(void **state)
{
	struct mt *t = *state;
	size_t mark;

	ask_all(t);
	for (int i = 0; i < NSEEDS; i++)
		assert_int_equal(answer(t, i, false, NULL, 0), 0);
	mark = fake_mark(&t->fe);
	fake_peer_run_until(&t->fe, &t->n, t->fe.now.mono + MEMBERS_REUSE_USEC - 1);
	assert_int_equal(peer_node_members(&t->n, t->fe.now), 1);
	for (size_t i = mark; i < t->fe.n; i++)
		assert_false(t->fe.fx[i].kind == FX_CONNECT && t->fe.fx[i].link &&
			     t->fe.fx[i].link->kind == LINK_MEMBERS);
	fake_peer_run_until(&t->fe, &t->n, t->fe.now.mono + 1);
	mark = fake_mark(&t->fe);
	assert_int_equal(peer_node_members(&t->n, t->fe.now), 0);
	/* A second request while it runs joins it. */
	assert_int_equal(peer_node_members(&t->n, t->fe.now), 0);
	for (int i = 0; i < NSEEDS; i++) {
		struct node_addr a = addr(SEEDS[i]);
		assert_true(fake_link_to(&t->fe, &a, LINK_MEMBERS) != t->ask[i]);
	}
	assert_int_equal(fake_count(&t->fe, mark, FX_CONNECT), NSEEDS);
}

/* Seeds that say nothing fail after MEMBERS_TIMEOUT_USEC; the query ends all the same. */
static void
test_members_silent_seeds_time_out(void **state)
{
	struct mt *t = *state;
	const struct members_query *q;
	uint64_t t0 = t->fe.now.mono;
	size_t mark = fake_mark(&t->fe);

	ask_all(t);
	assert_int_equal(answer(t, 1, false, NULL, 0), 0);
	fake_peer_run_until(&t->fe, &t->n, t0 + MEMBERS_TIMEOUT_USEC - 1);
	assert_int_equal(fake_count_notices(&t->fe, mark, NOTICE_MEMBERS), 0);
	fake_peer_run_until(&t->fe, &t->n, t0 + MEMBERS_TIMEOUT_USEC);
	assert_int_equal(fake_count_notices(&t->fe, mark, NOTICE_MEMBERS), 1);
	q = peer_node_members_result(&t->n);
	assert_int_equal(q->answered, 1);
	assert_true(t->ask[0]->closed && t->ask[2]->closed);
	assert_non_null(strstr(q->seeds[0].why, "no answer within 3 s"));
}

/* A page that goes back, or a closed connection, is that seed's failure only. */
static void
test_members_bad_pages(void **state)
{
	struct mt *t = *state;
	const struct wire_member p1[] = {entry("10.0.2.5:6000", 1, 1, 1, 1)};
	const struct wire_member p2[] = {entry("10.0.2.4:6000", 1, 1, 1, 1)};
	const struct members_query *q;

	ask_all(t);
	assert_int_equal(answer(t, 0, true, p1, 1), 0);
	assert_int_equal(answer(t, 0, false, p2, 1), -EBADMSG);
	assert_string_equal(t->fe.last_reason, "MEMBERS page out of order");
	fake_peer_closed(&t->fe, &t->n, t->ask[1], "connection closed by remote", 0);
	assert_int_equal(answer(t, 2, false, p2, 1), 0);
	q = peer_node_members_result(&t->n);
	assert_non_null(q);
	assert_int_equal(q->answered, 1);
	assert_non_null(strstr(q->seeds[0].why, "out of order"));
	assert_non_null(strstr(q->seeds[1].why, "connection closed by remote"));
	assert_int_equal(q->n, 1);
}

/* A leaving peer asks nobody: the answer comes at once, every seed failed. */
static void
test_members_while_leaving(void **state)
{
	struct mt *t = *state;
	const struct members_query *q;
	size_t mark;

	ask_all(t);
	mark = fake_mark(&t->fe);
	peer_node_leave(&t->n, t->fe.now);
	assert_int_equal(fake_count_notices(&t->fe, mark, NOTICE_MEMBERS), 1);
	q = peer_node_members_result(&t->n);
	assert_int_equal(q->answered, 0);
	assert_string_equal(q->seeds[0].why, "the peer is leaving");
	fake_peer_run_until(&t->fe, &t->n, t->fe.now.mono + MEMBERS_REUSE_USEC);
	mark = fake_mark(&t->fe);
	assert_int_equal(peer_node_members(&t->n, t->fe.now), 1);
	assert_int_equal(fake_count(&t->fe, mark, FX_CONNECT), 0);
	assert_int_equal(peer_node_members_result(&t->n)->answered, 0);
}

#define MT(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    MT(test_members_merged_across_seeds),
	    MT(test_members_answer_reused_for_a_second),
	    MT(test_members_silent_seeds_time_out),
	    MT(test_members_bad_pages),
	    MT(test_members_while_leaving),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
