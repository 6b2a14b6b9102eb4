/* SPDX-License-Identifier: MIT */
/* Unit tests of the seed core (seed.c) through its inputs: leases, peer lists, dead reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/seed.h"
#include "fakeenv.h"

#define SEC USEC_PER_SEC
#define MS USEC_PER_MSEC

#define SELF "10.0.0.1:5000"
#define P1 "10.0.2.1:6000"
#define P2 "10.0.2.2:6000"
#define REPORTER "10.0.2.9:6000"
#define REPORTER2 "10.0.2.10:6000"
#define MAX_LIST 128

struct st {
	struct fake_env fe;
	struct seed_node s;
	bool started;
};

static int
setup(void **state)
{
	struct st *t = xcalloc(1, sizeof(*t));

	fake_env_init(&t->fe);
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct st *t = *state;

	if (t->started)
		seed_node_free(&t->s);
	fake_env_free(&t->fe);
	free(t);
	return 0;
}

/* Starts the seed with cfg (freed). */
static void
start_cfg(struct st *t, struct gossip_config *cfg)
{
	struct node_addr self = addr(SELF);

	seed_node_init(&t->s, cfg, &self, 1, &t->fe.env);
	conf_free(cfg);
	t->started = true;
	seed_node_start(&t->s, t->fe.now);
}

static void
start(struct st *t)
{
	struct gossip_config cfg;

	conf_init(&cfg);
	start_cfg(t, &cfg);
}

static void
run_until(struct st *t, uint64_t mono)
{
	fake_seed_run_until(&t->fe, &t->s, mono);
}

/* The i-th test peer: 10.0.3.x:6000. */
static struct node_addr
nth(unsigned i)
{
	char s[32];

	snprintf(s, sizeof(s), "10.0.%u.%u:6000", 3 + i / 250, i % 250 + 1);
	return addr(s);
}

static struct fake_link *
client(struct st *t)
{
	struct fake_link *fl = fake_seed_accept(&t->fe, &t->s, "10.0.2.200:40000");

	assert_non_null(fl->lk);
	return fl;
}

static void
send_register(struct st *t, struct fake_link *fl, const struct node_addr *a)
{
	struct buf b = {0};

	wire_encode_addr_msg(&b, WIRE_REGISTER, a);
	assert_int_equal(fake_seed_frame(&t->fe, &t->s, fl, &b), 0);
}

static void
send_dead_report_by(struct st *t, struct fake_link *fl, const struct node_addr *dead,
		   const char *reporter)
{
	struct node_addr rep = addr(reporter);
	struct buf b = {0};

	wire_encode_dead_report(&b, dead, t->fe.now.real / SEC, &rep);
	assert_int_equal(fake_seed_frame(&t->fe, &t->s, fl, &b), 0);
}

static void
send_dead_report(struct st *t, struct fake_link *fl, const struct node_addr *dead)
{
	send_dead_report_by(t, fl, dead, REPORTER);
}

/* The first PEER_LIST sent on fl since `since`, into out; returns its length. */
static size_t
peer_list_sent(struct st *t, size_t since, struct fake_link *fl, struct node_addr *out)
{
	struct wire_msg m;
	size_t k = 0, count;

	assert_true(fake_sent_msg(&t->fe, since, fl, WIRE_PEER_LIST, &m));
	count = m.peer_list.count; /* the iteration consumes it */
	while (k < MAX_LIST && wire_peer_list_next(&m.peer_list, &out[k]))
		k++;
	assert_int_equal(k, count);
	return k;
}

static bool
in_list(const struct node_addr *list, size_t k, const struct node_addr *a)
{
	for (size_t i = 0; i < k; i++)
		if (node_addr_equal(&list[i], a))
			return true;
	return false;
}

/* Whether the seed lists a now (asked with PEER_LIST_REQ on a new connection). */
static bool
lists(struct st *t, const char *a)
{
	struct node_addr want = addr(a), list[MAX_LIST];
	struct fake_link *fl = client(t);
	size_t mark = fake_mark(&t->fe);
	struct buf b = {0};
	size_t k;

	wire_encode_empty(&b, WIRE_PEER_LIST_REQ);
	assert_int_equal(fake_seed_frame(&t->fe, &t->s, fl, &b), 0);
	k = peer_list_sent(t, mark, fl, list);
	return in_list(list, k, &want);
}

static void
test_register_answers_peer_list_with_registrant(void **state)
{
	struct st *t = *state;
	struct node_addr p1 = addr(P1), p2 = addr(P2), list[MAX_LIST];
	struct fake_link *l1, *l2;
	struct fake_log *ev;
	size_t mark, pos;

	start(t);
	l1 = client(t);
	mark = fake_mark(&t->fe);
	send_register(t, l1, &p1);
	assert_int_equal(peer_list_sent(t, mark, l1, list), 1);
	assert_true(node_addr_equal(&list[0], &p1));
	pos = mark;
	ev = fake_next_event(&t->fe, &pos, "registered", P1);
	assert_non_null(ev);
	assert_string_equal(ev->sd_id, GOSSIP_SD_ID_PEER_REGISTERED);

	l2 = client(t);
	mark = fake_mark(&t->fe);
	send_register(t, l2, &p2);
	assert_int_equal(peer_list_sent(t, mark, l2, list), 2);
	assert_true(in_list(list, 2, &p1));
	assert_true(in_list(list, 2, &p2));
	assert_int_equal(fake_count_sent(&t->fe, mark, l1, 0), 0);
}

static void
test_unrefreshed_lease_expires_at_sweep(void **state)
{
	struct st *t = *state;
	struct gossip_config cfg;
	struct node_addr p1 = addr(P1);
	struct fake_log *ev;
	uint64_t t0;
	size_t mark, pos;

	conf_init(&cfg);
	cfg.seed.lease_time_usec = 10 * SEC;
	start_cfg(t, &cfg);
	t0 = t->fe.now.mono;
	send_register(t, client(t), &p1);
	mark = fake_mark(&t->fe);
	run_until(t, t0 + 10 * SEC - 1);
	assert_int_equal(fake_count_events(&t->fe, mark, "removed", NULL), 0);
	assert_true(lists(t, P1));

	/* Removed by the first sweep at or after the lease's end. */
	run_until(t, t0 + 10 * SEC + SEED_SWEEP_USEC);
	pos = mark;
	ev = fake_next_event(&t->fe, &pos, "removed", P1);
	assert_non_null(ev);
	assert_non_null(strstr(ev->msg, "lease expired"));
	assert_string_equal(ev->sd_id, GOSSIP_SD_ID_PEER_REMOVED);
	assert_false(lists(t, P1));
}

static void
test_refresh_extends_lease(void **state)
{
	struct st *t = *state;
	struct gossip_config cfg;
	struct node_addr p1 = addr(P1), p2 = addr(P2), list[MAX_LIST];
	struct fake_link *l1;
	uint64_t t0;
	size_t mark;

	conf_init(&cfg);
	cfg.seed.lease_time_usec = 10 * SEC;
	start_cfg(t, &cfg);
	t0 = t->fe.now.mono;
	l1 = client(t);
	send_register(t, l1, &p1);
	send_register(t, client(t), &p2);

	run_until(t, t0 + 6 * SEC);
	mark = fake_mark(&t->fe);
	send_register(t, l1, &p1); /* refresh: answered, not news */
	assert_int_equal(peer_list_sent(t, mark, l1, list), 2);
	assert_int_equal(fake_count_events(&t->fe, mark, "registered", NULL), 0);

	/* p2's lease ends at 10 s, p1's now at 16 s. */
	run_until(t, t0 + 16 * SEC - 1);
	assert_int_equal(fake_count_events(&t->fe, mark, "removed", P2), 1);
	assert_int_equal(fake_count_events(&t->fe, mark, "removed", P1), 0);
	assert_true(lists(t, P1));
	run_until(t, t0 + 16 * SEC + SEED_SWEEP_USEC);
	assert_int_equal(fake_count_events(&t->fe, mark, "removed", P1), 1);
}

static void
test_registry_full_refuses_and_closes_after_flush(void **state)
{
	struct st *t = *state;
	struct gossip_config cfg;
	struct node_addr p1 = addr(P1), p2 = addr(P2), p3 = nth(3), list[MAX_LIST];
	struct fake_link *l1, *l3;
	struct fake_effect *cl;
	struct wire_msg m;
	size_t mark;

	conf_init(&cfg);
	cfg.seed.max_peers = 2;
	start_cfg(t, &cfg);
	l1 = client(t);
	send_register(t, l1, &p1);
	send_register(t, client(t), &p2);

	l3 = client(t);
	mark = fake_mark(&t->fe);
	send_register(t, l3, &p3);
	assert_true(fake_sent_msg(&t->fe, mark, l3, WIRE_ERROR, &m));
	assert_int_equal(m.error.code, WIRE_ERR_FULL);
	assert_int_equal(fake_count_sent(&t->fe, mark, l3, WIRE_PEER_LIST), 0);
	cl = fake_close_of(&t->fe, mark, l3);
	assert_non_null(cl);
	assert_true(cl->close.after_flush);
	assert_int_equal(fake_count_events(&t->fe, mark, "registered", NULL), 0);

	/* Those registered still refresh. */
	mark = fake_mark(&t->fe);
	send_register(t, l1, &p1);
	assert_int_equal(peer_list_sent(t, mark, l1, list), 2);
	assert_false(in_list(list, 2, &p3));
}

static void
test_unspecified_address_refused(void **state)
{
	static const char *const bad[] = {"0.0.0.0:6000", "[::]:6000"};
	struct st *t = *state;

	start(t);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct node_addr a = addr(bad[i]);
		struct fake_link *fl = client(t);
		size_t mark = fake_mark(&t->fe);
		struct fake_effect *cl;
		struct wire_msg m;

		send_register(t, fl, &a);
		assert_true(fake_sent_msg(&t->fe, mark, fl, WIRE_ERROR, &m));
		assert_int_equal(m.error.code, WIRE_ERR_REFUSED);
		cl = fake_close_of(&t->fe, mark, fl);
		assert_non_null(cl);
		assert_true(cl->close.after_flush);
		assert_int_equal(fake_count_events(&t->fe, mark, "registered", NULL), 0);
		assert_false(lists(t, bad[i]));
	}
}

/*
 * P1 registered, then reported dead from another connection: returns the
 * probe's link, connected, and the nonce of its PING.
 */
static struct fake_link *
probe_p1(struct st *t, uint64_t *nonce)
{
	struct node_addr p1 = addr(P1), self = addr(SELF);
	struct fake_link *probe;
	struct wire_msg m;
	size_t mark;

	send_register(t, client(t), &p1);
	mark = fake_mark(&t->fe);
	send_dead_report(t, client(t), &p1);
	assert_int_equal(fake_count_events(&t->fe, mark, "dead-report", P1), 1);
	assert_int_equal(fake_count(&t->fe, mark, FX_CONNECT), 1);
	probe = fake_link_to(&t->fe, &p1, LINK_PROBE);
	assert_non_null(probe);

	mark = fake_mark(&t->fe);
	seed_node_connected(&t->s, fake_lk(probe), t->fe.now);
	assert_true(fake_sent_msg(&t->fe, mark, probe, WIRE_HELLO, &m));
	assert_int_equal(m.hello.role, WIRE_ROLE_SEED);
	assert_true(node_addr_equal(&m.hello.addr, &self));
	assert_true(fake_sent_msg(&t->fe, mark, probe, WIRE_PING, &m));
	*nonce = m.nonce;
	return probe;
}

static void
frame_pong(struct st *t, struct fake_link *fl, uint64_t nonce)
{
	struct buf b = {0};

	wire_encode_nonce(&b, WIRE_PONG, nonce);
	assert_int_equal(fake_seed_frame(&t->fe, &t->s, fl, &b), 0);
}

static void
test_probe_answered_keeps_peer(void **state)
{
	struct st *t = *state;
	struct fake_link *probe;
	uint64_t nonce, reported;
	size_t mark;

	start(t);
	mark = fake_mark(&t->fe);
	reported = t->fe.now.mono;
	probe = probe_p1(t, &nonce);
	run_until(t, reported + t->s.cfg.seed.probe_timeout_usec / 2);
	frame_pong(t, probe, nonce + 1); /* not the probe's: ignored */
	assert_false(probe->closed);
	frame_pong(t, probe, nonce);
	assert_non_null(fake_find_log(&t->fe, mark, "rejected"));
	assert_non_null(fake_close_of(&t->fe, mark, probe));

	run_until(t, reported + 2 * t->s.cfg.seed.probe_timeout_usec);
	assert_int_equal(fake_count_events(&t->fe, mark, "removed", NULL), 0);
	assert_true(lists(t, P1));
}

/* Another report about P1, from reporter: the connected probe's link and its PING's nonce. */
static struct fake_link *
probe_p1_again(struct st *t, const char *reporter, uint64_t *nonce)
{
	struct node_addr p1 = addr(P1);
	struct fake_link *probe;
	struct wire_msg m;
	size_t mark = fake_mark(&t->fe);

	send_dead_report_by(t, client(t), &p1, reporter);
	assert_int_equal(fake_count(&t->fe, mark, FX_CONNECT), 1);
	probe = fake_link_to(&t->fe, &p1, LINK_PROBE);
	assert_non_null(probe);
	seed_node_connected(&t->s, fake_lk(probe), t->fe.now);
	assert_true(fake_sent_msg(&t->fe, mark, probe, WIRE_PING, &m));
	*nonce = m.nonce;
	return probe;
}

static void
test_probe_unanswered_removes_only_with_two_reporters(void **state)
{
	struct st *t = *state;
	struct fake_link *probe;
	uint64_t nonce, deadline;
	struct fake_log *ev;
	size_t mark, pos;

	start(t);
	assert_int_equal(t->s.cfg.seed.dead_reporters, 2);
	mark = fake_mark(&t->fe);
	deadline = t->fe.now.mono + t->s.cfg.seed.probe_timeout_usec;
	probe = probe_p1(t, &nonce);
	frame_pong(t, probe, nonce ^ 1);
	run_until(t, deadline - 1);
	assert_false(probe->closed);
	/* No answer by the deadline, but one reporter is not enough: it stays. */
	run_until(t, deadline);
	assert_non_null(fake_close_of(&t->fe, mark, probe));
	assert_non_null(fake_find_log(&t->fe, mark, "not removing " P1 " yet"));
	assert_int_equal(t->s.stats.removals_held, 1);
	assert_true(lists(t, P1));
	/* The same reporter again counts once. */
	mark = fake_mark(&t->fe);
	probe = probe_p1_again(t, REPORTER, &nonce);
	run_until(t, t->fe.now.mono + t->s.cfg.seed.probe_timeout_usec);
	assert_int_equal(t->s.stats.removals_held, 2);
	assert_true(lists(t, P1));
	/* A second reporter, and the probe unanswered again: removed. */
	mark = fake_mark(&t->fe);
	probe = probe_p1_again(t, REPORTER2, &nonce);
	run_until(t, t->fe.now.mono + t->s.cfg.seed.probe_timeout_usec);
	pos = mark;
	ev = fake_next_event(&t->fe, &pos, "removed", P1);
	assert_non_null(ev);
	assert_non_null(strstr(ev->msg, "reported by 2 peers, and the seed's probe got no answer"));
	assert_false(lists(t, P1));
}

static void
test_lease_refresh_voids_the_reports(void **state)
{
	struct st *t = *state;
	struct node_addr p1 = addr(P1);
	uint64_t nonce;
	size_t mark;

	start(t);
	(void)probe_p1(t, &nonce);
	run_until(t, t->fe.now.mono + t->s.cfg.seed.probe_timeout_usec);
	assert_int_equal(t->s.stats.removals_held, 1);
	/* P1 speaks for itself: what REPORTER said is forgotten. */
	mark = fake_mark(&t->fe);
	send_register(t, client(t), &p1);
	assert_int_equal(t->s.stats.reports_withdrawn, 1);
	assert_non_null(fake_find_log(&t->fe, mark, "the dead-node reports about it are void"));
	/* So one more reporter, unanswered, is again only one. */
	(void)probe_p1_again(t, REPORTER2, &nonce);
	run_until(t, t->fe.now.mono + t->s.cfg.seed.probe_timeout_usec);
	assert_int_equal(t->s.stats.removals_held, 2);
	assert_true(lists(t, P1));
}

static void
test_probe_refused_removes_peer_at_once(void **state)
{
	struct st *t = *state;
	struct fake_link *probe;
	uint64_t nonce;
	size_t mark;

	start(t);
	/* A reset proves nothing: a lossy path or a middlebox resets too. */
	probe = probe_p1(t, &nonce);
	mark = fake_mark(&t->fe);
	fake_seed_closed(&t->fe, &t->s, probe, "connection reset", ECONNRESET);
	assert_int_equal(fake_count_events(&t->fe, mark, "removed", P1), 0);
	assert_true(lists(t, P1));
	/* Its host refusing the connection does: nothing listens there. */
	probe = probe_p1_again(t, REPORTER, &nonce);
	mark = fake_mark(&t->fe);
	fake_seed_closed(&t->fe, &t->s, probe, "connect", ECONNREFUSED);
	assert_int_equal(fake_count_events(&t->fe, mark, "removed", P1), 1);
	assert_false(lists(t, P1));
	assert_int_equal(t->s.n_probes, 0);
}

static void
test_probe_connect_failing_at_once(void **state)
{
	struct st *t = *state;
	struct node_addr p1 = addr(P1);
	size_t mark;

	start(t);
	send_register(t, client(t), &p1);
	/* No route: nothing proven, the peer stays. */
	t->fe.connect_error = -ENETUNREACH;
	mark = fake_mark(&t->fe);
	send_dead_report(t, client(t), &p1);
	assert_int_equal(fake_count(&t->fe, mark, FX_CONNECT), 1);
	assert_int_equal(fake_count_events(&t->fe, mark, "removed", P1), 0);
	assert_true(lists(t, P1));
	/* Refused: removed. */
	t->fe.connect_error = -ECONNREFUSED;
	mark = fake_mark(&t->fe);
	send_dead_report(t, client(t), &p1);
	t->fe.connect_error = 0;
	assert_int_equal(fake_count_events(&t->fe, mark, "removed", P1), 1);
	assert_int_equal(t->s.n_probes, 0);
}

static void
test_dead_report_about_unregistered_peer_does_nothing(void **state)
{
	struct st *t = *state;
	struct node_addr p1 = addr(P1), p2 = addr(P2);
	size_t mark;

	start(t);
	send_register(t, client(t), &p1);
	mark = fake_mark(&t->fe);
	send_dead_report(t, client(t), &p2);
	assert_int_equal(fake_count_events(&t->fe, mark, "dead-report", P2), 1);
	assert_non_null(fake_find_log(&t->fe, mark, "not registered here"));
	assert_int_equal(fake_count(&t->fe, mark, FX_CONNECT), 0);
	assert_int_equal(fake_count_events(&t->fe, mark, "removed", NULL), 0);
	assert_true(lists(t, P1));
}

static void
test_dead_report_unconfirmed_removes_at_once(void **state)
{
	struct st *t = *state;
	struct gossip_config cfg;
	struct node_addr p1 = addr(P1);
	size_t mark;

	conf_init(&cfg);
	cfg.seed.confirm_dead = false;
	start_cfg(t, &cfg);
	send_register(t, client(t), &p1);
	mark = fake_mark(&t->fe);
	send_dead_report(t, client(t), &p1);
	assert_int_equal(fake_count(&t->fe, mark, FX_CONNECT), 0);
	assert_int_equal(fake_count_events(&t->fe, mark, "removed", P1), 1);
	assert_false(lists(t, P1));
}

/* The targets of the probes started since `since`, into out (at most max); returns how many. */
static size_t
probes_started(struct st *t, size_t since, struct node_addr *out, size_t max)
{
	struct fake_effect *e;
	size_t k = 0;

	while ((e = fake_next(&t->fe, &since, FX_CONNECT, NULL))) {
		assert_true(k < max);
		assert_int_equal(e->link->kind, LINK_PROBE);
		out[k++] = e->connect_to;
	}
	return k;
}

static void
test_probes_limited_rest_wait_their_turn(void **state)
{
	enum { N = SEED_MAX_PROBES + 2 };
	struct st *t = *state;
	struct node_addr started[N + 1];
	struct fake_link *reg, *rep, *probe;
	uint64_t nonce;
	struct wire_msg m;
	size_t mark;

	start(t);
	reg = client(t);
	rep = client(t);
	for (unsigned i = 0; i < N; i++) {
		struct node_addr a = nth(i);
		send_register(t, reg, &a);
	}
	mark = fake_mark(&t->fe);
	for (unsigned i = 0; i < N; i++) {
		struct node_addr a = nth(i);
		send_dead_report(t, rep, &a);
	}
	assert_int_equal(probes_started(t, mark, started, N + 1), SEED_MAX_PROBES);
	for (unsigned i = 0; i < SEED_MAX_PROBES; i++) {
		struct node_addr a = nth(i);
		assert_true(node_addr_equal(&started[i], &a));
	}

	/* One probe answered: the first waiting report is probed. */
	probe = fake_link_to(&t->fe, &started[0], LINK_PROBE);
	mark = fake_mark(&t->fe);
	seed_node_connected(&t->s, fake_lk(probe), t->fe.now);
	assert_true(fake_sent_msg(&t->fe, mark, probe, WIRE_PING, &m));
	nonce = m.nonce;
	frame_pong(t, probe, nonce);
	assert_int_equal(probes_started(t, mark, started, N + 1), 1);
	{
		struct node_addr a = nth(SEED_MAX_PROBES);
		assert_true(node_addr_equal(&started[0], &a));
	}

	/* One probe's connection lost: the last one. */
	mark = fake_mark(&t->fe);
	{
		struct node_addr a = nth(1);
		fake_seed_closed(&t->fe, &t->s, fake_link_to(&t->fe, &a, LINK_PROBE), "refused",
				 ECONNREFUSED);
	}
	assert_int_equal(probes_started(t, mark, started, N + 1), 1);
	{
		struct node_addr a = nth(SEED_MAX_PROBES + 1);
		assert_true(node_addr_equal(&started[0], &a));
	}
	assert_int_equal(t->s.n_probes, SEED_MAX_PROBES);

	/* None waits any more. */
	mark = fake_mark(&t->fe);
	run_until(t, t->fe.now.mono + 2 * t->s.cfg.seed.probe_timeout_usec);
	assert_int_equal(fake_count(&t->fe, mark, FX_CONNECT), 0);
	assert_int_equal(t->s.n_probes, 0);
}

static void
test_peer_list_sample_of_configured_size(void **state)
{
	enum { SIZE = 5, N = 20 };
	struct st *t = *state;
	struct gossip_config cfg;
	struct node_addr list[MAX_LIST], registered[N];
	struct fake_link *fl;

	conf_init(&cfg);
	cfg.seed.peer_list_size = SIZE;
	start_cfg(t, &cfg);
	fl = client(t);
	for (unsigned i = 0; i < N; i++) {
		size_t mark = fake_mark(&t->fe), k;

		registered[i] = nth(i);
		send_register(t, fl, &registered[i]);
		k = peer_list_sent(t, mark, fl, list);
		/* All while they fit, then a sample: distinct, every one registered. */
		assert_int_equal(k, i + 1 < SIZE ? i + 1 : SIZE);
		for (size_t j = 0; j < k; j++) {
			assert_true(in_list(registered, i + 1, &list[j]));
			assert_false(in_list(list, j, &list[j]));
		}
	}
}

/* ---- MEMBERS: the registrations, paged, from a snapshot ---------------------------- */

/* Asks for the page after `after` (NULL: the first) on fl; the answer is decoded into m. */
static void
members_page(struct st *t, struct fake_link *fl, const struct node_addr *after, struct wire_msg *m)
{
	size_t mark = fake_mark(&t->fe);
	struct buf b = {0};

	wire_encode_members_req(&b, after);
	assert_int_equal(fake_seed_frame(&t->fe, &t->s, fl, &b), 0);
	assert_true(fake_sent_msg(&t->fe, mark, fl, WIRE_MEMBERS, m));
}

/* The whole roster, page by page, into v (cap entries); returns the count and the pages. */
static size_t
members_walk(struct st *t, struct fake_link *fl, struct wire_member *v, size_t cap, unsigned *pages)
{
	struct wire_msg m;
	size_t n = 0;

	*pages = 0;
	do {
		members_page(t, fl, n ? &v[n - 1].addr : NULL, &m);
		++*pages;
		assert_true(m.members.count <= WIRE_MAX_MEMBERS);
		while (n < cap && wire_members_next(&m, &v[n]))
			n++;
	} while (m.members.more);
	return n;
}

static void
start_unlimited(struct st *t)
{
	struct gossip_config cfg;

	conf_init(&cfg);
	cfg.seed.max_peers_per_host = 0;
	start_cfg(t, &cfg);
}

/* One more than a page: two pages, every registration once, in address order. */
static void
test_members_paged_at_the_cap(void **state)
{
	struct st *t = *state;
	enum { N = WIRE_MAX_MEMBERS + 1 };
	struct wire_member *v = xcalloc(N + 1, sizeof(*v));
	struct fake_link *fl;
	struct wire_msg m;
	unsigned pages;

	start_unlimited(t);
	fl = client(t);
	for (unsigned i = 0; i < N; i++) {
		struct node_addr a = nth(N - 1 - i); /* registered in reverse order */
		send_register(t, fl, &a);
	}
	members_page(t, fl, NULL, &m);
	assert_int_equal(m.members.total, N);
	assert_int_equal(m.members.count, WIRE_MAX_MEMBERS);
	assert_int_equal(m.members.more, 1);
	assert_int_equal(members_walk(t, fl, v, N + 1, &pages), N);
	assert_int_equal(pages, 2);
	for (unsigned i = 0; i < N; i++) {
		struct node_addr a = nth(i);
		assert_true(node_addr_equal(&v[i].addr, &a));
		assert_int_equal(v[i].state, WIRE_MEMBER_ALIVE);
	}
	/* After the last one: an empty last page. */
	members_page(t, fl, &v[N - 1].addr, &m);
	assert_int_equal(m.members.count, 0);
	assert_int_equal(m.members.more, 0);
	free(v);
}

/*
 * The smallest rosters: none (the sort is skipped: there is no array, and
 * qsort(NULL, 0) is undefined, which the sanitizer build checks) and one.
 */
static void
test_members_of_an_empty_and_a_one_peer_registry(void **state)
{
	struct st *t = *state;
	struct node_addr a = nth(0);
	struct fake_link *fl;
	struct wire_member e;
	struct wire_msg m;

	start_unlimited(t);
	fl = client(t);
	members_page(t, fl, NULL, &m);
	assert_int_equal(m.members.total, 0);
	assert_int_equal(m.members.count, 0);
	assert_int_equal(m.members.more, 0);

	send_register(t, fl, &a);
	run_until(t, t->fe.now.mono + 1 * SEC); /* the snapshot is a second old */
	members_page(t, fl, NULL, &m);
	assert_int_equal(m.members.total, 1);
	assert_int_equal(m.members.count, 1);
	assert_int_equal(m.members.more, 0);
	assert_true(wire_members_next(&m, &e));
	assert_true(node_addr_equal(&e.addr, &a));
	assert_false(wire_members_next(&m, &e));
}

/*
 * A flood of requests sorts the registry once a second: the answers are a snapshot at most
 * SEED_ROSTER_MAX_AGE_USEC old, and their lease ages count from the last refresh.
 */
static void
test_members_snapshot_cached(void **state)
{
	struct st *t = *state;
	struct node_addr a = nth(0), b = nth(1);
	struct fake_link *fl;
	struct wire_member e;
	struct wire_msg m;

	start(t);
	fl = client(t);
	send_register(t, fl, &a);
	for (int i = 0; i < 100; i++)
		members_page(t, fl, NULL, &m);
	assert_int_equal(t->s.roster.builds, 1);
	assert_int_equal(t->s.stats.members_pages_sent, 100);
	run_until(t, t->fe.now.mono + 600 * MS);
	send_register(t, fl, &b);
	members_page(t, fl, NULL, &m);
	assert_int_equal(m.members.total, 1); /* b is not in the snapshot yet */
	run_until(t, t->fe.now.mono + 400 * MS);
	members_page(t, fl, NULL, &m);
	assert_int_equal(t->s.roster.builds, 2);
	assert_int_equal(m.members.total, 2);
	assert_true(wire_members_next(&m, &e));
	assert_true(node_addr_equal(&e.addr, &a));
	assert_int_equal(e.lease_age_ms, 1000); /* registered a second ago, not refreshed */
	assert_int_equal(e.registered_s, 1);
	assert_true(wire_members_next(&m, &e));
	assert_int_equal(e.lease_age_ms, 400);
}

/* A peer's HELLO gives its incarnation; a dead report makes it a suspect until it refreshes. */
static void
test_members_incarnation_and_suspect(void **state)
{
	struct st *t = *state;
	struct node_addr a = nth(0), b = nth(1);
	struct fake_link *fl, *fl2;
	struct wire_member e;
	struct wire_msg m;
	struct buf buf = {0};

	start(t);
	fl = client(t);
	wire_encode_hello(&buf, WIRE_ROLE_PEER, &a, 0xabcdef0123456789ULL);
	assert_int_equal(fake_seed_frame(&t->fe, &t->s, fl, &buf), 0);
	send_register(t, fl, &a);
	fl2 = client(t);
	send_register(t, fl2, &b); /* a peer of version 3: no HELLO */
	send_dead_report_by(t, fl2, &b, REPORTER);
	members_page(t, fl, NULL, &m);
	assert_true(wire_members_next(&m, &e));
	assert_true(e.incarnation == 0xabcdef0123456789ULL);
	assert_int_equal(e.state, WIRE_MEMBER_ALIVE);
	assert_true(wire_members_next(&m, &e));
	assert_true(node_addr_equal(&e.addr, &b));
	assert_true(e.incarnation == 0);
	assert_int_equal(e.state, WIRE_MEMBER_SUSPECT);
	/* Its refresh voids the report: alive again in the next snapshot. */
	send_register(t, fl2, &b);
	run_until(t, t->fe.now.mono + SEED_ROSTER_MAX_AGE_USEC);
	members_page(t, fl, NULL, &m);
	assert_true(wire_members_next(&m, &e));
	assert_true(wire_members_next(&m, &e));
	assert_int_equal(e.state, WIRE_MEMBER_ALIVE);
}

/* With TLS, only a client with a verified certificate may ask. */
static void
test_members_refused_without_certificate(void **state)
{
	struct st *t = *state;
	struct gossip_config cfg;
	struct fake_link *fl;
	struct buf b = {0};
	size_t mark;

	conf_init(&cfg);
	cfg.tls.mode = xstrdup("optional");
	start_cfg(t, &cfg);
	fl = client(t);
	mark = fake_mark(&t->fe);
	wire_encode_members_req(&b, NULL);
	assert_int_equal(fake_seed_frame(&t->fe, &t->s, fl, &b), 0);
	assert_int_equal(fake_count_sent(&t->fe, mark, fl, WIRE_MEMBERS), 0);
	assert_int_equal(fake_count_sent(&t->fe, mark, fl, WIRE_ERROR), 1);
	assert_true(fl->closed);
	assert_int_equal(t->s.stats.members_refused, 1);
	assert_int_equal(t->s.roster.builds, 0);
}

#define SEED_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    SEED_TEST(test_register_answers_peer_list_with_registrant),
	    SEED_TEST(test_unrefreshed_lease_expires_at_sweep),
	    SEED_TEST(test_refresh_extends_lease),
	    SEED_TEST(test_registry_full_refuses_and_closes_after_flush),
	    SEED_TEST(test_unspecified_address_refused),
	    SEED_TEST(test_probe_answered_keeps_peer),
	    SEED_TEST(test_probe_unanswered_removes_only_with_two_reporters),
	    SEED_TEST(test_lease_refresh_voids_the_reports),
	    SEED_TEST(test_probe_refused_removes_peer_at_once),
	    SEED_TEST(test_probe_connect_failing_at_once),
	    SEED_TEST(test_dead_report_about_unregistered_peer_does_nothing),
	    SEED_TEST(test_dead_report_unconfirmed_removes_at_once),
	    SEED_TEST(test_probes_limited_rest_wait_their_turn),
	    SEED_TEST(test_peer_list_sample_of_configured_size),
	    SEED_TEST(test_members_paged_at_the_cap),
	    SEED_TEST(test_members_of_an_empty_and_a_one_peer_registry),
	    SEED_TEST(test_members_snapshot_cached),
	    SEED_TEST(test_members_incarnation_and_suspect),
	    SEED_TEST(test_members_refused_without_certificate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
