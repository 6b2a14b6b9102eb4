/* SPDX-License-Identifier: MIT */
/* Unit tests of seedname.c through the peer core: a seed given by name, asked for and followed. */
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
#define SELF "10.0.1.1:6000"
#define NAMED "10.0.0.1:5000" /* where a.example:5000 resolved at start */
#define OTHER "10.0.0.2:5000" /* the second seed, given by address */

/* What the core asked of env_ops.resolve. */
struct asked {
	unsigned calls;
	uint64_t token;
	char host[256];
	uint16_t port;
	int family;
};

struct nt {
	struct fake_env fe;
	struct env_ops ops; /* the fake environment's, with resolve */
	struct peer_node n;
	struct fake_link *named, *other;
	struct asked asked;
};

static void
op_resolve(void *ctx, uint64_t token, const char *host, uint16_t port, int family)
{
	struct nt *t = ctx; /* the fake environment is the first member */

	t->asked.calls++;
	t->asked.token = token;
	snprintf(t->asked.host, sizeof(t->asked.host), "%s", host);
	t->asked.port = port;
	t->asked.family = family;
}

static void
seed_config(struct gossip_config *c)
{
	conf_init(c);
	c->n_seeds = 2;
	c->seeds = xcalloc(2, sizeof(*c->seeds));
	c->seed_names = xcalloc(2, sizeof(*c->seed_names));
	c->seeds[0] = addr(NAMED);
	c->seed_names[0].host = xstrdup("a.example");
	c->seed_names[0].where = xstrdup("seeds.txt:1");
	c->seeds[1] = addr(OTHER);
	c->seed_names[1].where = xstrdup("seeds.txt:2");
}

/* The seed on fl answers REGISTER. */
static void
registered(struct nt *t, struct fake_link *fl)
{
	struct node_addr self = addr(SELF);
	struct buf b = {0};

	fake_peer_connected(&t->fe, &t->n, fl);
	wire_encode_peer_list(&b, &self, 1);
	assert_int_equal(fake_peer_frame(&t->fe, &t->n, fl, &b), 0);
}

static int
setup(void **state)
{
	struct nt *t = xcalloc(1, sizeof(*t));
	struct node_addr self = addr(SELF), named = addr(NAMED), other = addr(OTHER);
	struct gossip_config c;

	fake_env_init(&t->fe);
	t->ops = *t->fe.env.ops;
	t->ops.resolve = op_resolve;
	t->fe.env.ops = &t->ops;
	seed_config(&c);
	peer_node_init(&t->n, &c, &self, 1, &t->fe.env);
	conf_free(&c);
	peer_node_start(&t->n, t->fe.now);
	fake_peer_run_until(&t->fe, &t->n, t->fe.now.mono);
	t->named = fake_link_to(&t->fe, &named, LINK_SEED);
	t->other = fake_link_to(&t->fe, &other, LINK_SEED);
	assert_non_null(t->named);
	assert_non_null(t->other);
	registered(t, t->named);
	registered(t, t->other);
	assert_int_equal(t->n.state, PEER_READY);
	assert_int_equal(t->asked.calls, 0); /* the daemon resolved it at start */
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct nt *t = *state;

	peer_node_free(&t->n);
	fake_env_free(&t->fe);
	free(t);
	return 0;
}

/* Runs to the next lease refresh (every seed.lease_time / 3). */
static void
to_refresh(struct nt *t)
{
	fake_peer_run_until(&t->fe, &t->n, t->fe.now.mono + t->n.cfg.seed.lease_time_usec / 3);
}

static void
answer(struct nt *t, const char *const *addrs, size_t k, const char *error)
{
	struct node_addr a[8];

	assert_true(k <= 8);
	for (size_t i = 0; i < k; i++)
		a[i] = addr(addrs[i]);
	peer_node_resolved(&t->n, t->asked.token, a, k, error, t->fe.now);
}

/* Each refresh asks for the name (not for the address); an answer that still has it changes nothing. */
static void
test_refresh_asks(void **state)
{
	struct nt *t = *state;
	static const char *const both[] = {"10.0.0.9:5000", NAMED};
	size_t mark;

	to_refresh(t);
	assert_int_equal(t->asked.calls, 1);
	assert_string_equal(t->asked.host, "a.example");
	assert_int_equal(t->asked.port, 5000);
	assert_int_equal(t->asked.family, AF_INET);
	mark = fake_mark(&t->fe);
	answer(t, both, 2, NULL);
	assert_null(fake_close_of(&t->fe, mark, t->named));
	assert_null(fake_find_log(&t->fe, mark, "moved"));
	to_refresh(t);
	assert_int_equal(t->asked.calls, 2);
}

/* The name moved: the old connection goes, and the seed is registered with at its new address. */
static void
test_moves(void **state)
{
	struct nt *t = *state;
	static const char *const moved[] = {"10.0.0.3:5000"};
	struct node_addr to = addr("10.0.0.3:5000"), from = addr(NAMED);
	struct fake_link *fl;
	struct wire_msg m;
	size_t mark;

	to_refresh(t);
	mark = fake_mark(&t->fe);
	answer(t, moved, 1, NULL);
	assert_non_null(strstr(fake_close_reason(&t->fe, mark, t->named), "resolves to another"));
	assert_non_null(fake_find_log(&t->fe, mark, "seed a.example:5000 moved from 10.0.0.1:5000 "
						      "to 10.0.0.3:5000"));
	assert_int_equal(fake_count_events(&t->fe, mark, "seed-moved", "10.0.0.3:5000"), 1);
	fake_peer_run_until(&t->fe, &t->n, t->fe.now.mono);
	fl = fake_link_to(&t->fe, &to, LINK_SEED);
	assert_non_null(fl);
	mark = fake_mark(&t->fe);
	fake_peer_connected(&t->fe, &t->n, fl);
	assert_true(fake_sent_msg(&t->fe, mark, fl, WIRE_REGISTER, &m));
	assert_true(peer_node_is_seed_host(&t->n, &to));
	assert_false(peer_node_is_seed_host(&t->n, &from));
	/* The next refresh asks for it by name, still. */
	to_refresh(t);
	assert_int_equal(t->asked.calls, 2);
	assert_string_equal(t->asked.host, "a.example");
}

/* A name that stops resolving: the last address is kept, and the warnings are rate-limited. */
static void
test_unresolvable_keeps(void **state)
{
	struct nt *t = *state;
	struct node_addr from = addr(NAMED);
	unsigned warned = 0;
	size_t mark, pos;
	struct fake_effect *e;

	to_refresh(t);
	mark = fake_mark(&t->fe);
	for (int i = 0; i < 3 * RATELIMIT_BURST; i++)
		answer(t, NULL, 0, "Name or service not known");
	pos = mark;
	while ((e = fake_next(&t->fe, &pos, FX_LOG, NULL)))
		warned += e->log.prio == LOG_WARNING &&
			  strstr(e->log.msg, "seed a.example:5000: cannot resolve a.example: Name or "
					     "service not known; keeping its last address 10.0.0.1:5000");
	assert_int_equal(warned, RATELIMIT_BURST);
	assert_null(fake_close_of(&t->fe, mark, t->named));
	assert_true(peer_node_is_seed_host(&t->n, &from));
	/* A window later, the next says how many were held back. */
	fake_peer_run_until(&t->fe, &t->n, t->fe.now.mono + RATELIMIT_WINDOW_USEC);
	mark = fake_mark(&t->fe);
	answer(t, NULL, 0, "Name or service not known");
	assert_non_null(fake_find_log(&t->fe, mark, "20 similar lines suppressed"));
}

/* A name now on another seed's address would count that seed twice: kept where it was. */
static void
test_onto_other_seed(void **state)
{
	struct nt *t = *state;
	static const char *const other[] = {OTHER};
	struct node_addr from = addr(NAMED);
	size_t mark;

	to_refresh(t);
	mark = fake_mark(&t->fe);
	answer(t, other, 1, NULL);
	assert_non_null(fake_find_log(&t->fe, mark, "seed a.example:5000 now resolves only to other "
						      "seeds' addresses"));
	assert_null(fake_close_of(&t->fe, mark, t->named));
	assert_true(peer_node_is_seed_host(&t->n, &from));
}

/* No second lookup while one is out (up to PEER_RESOLVE_TIMEOUT_USEC); none for a replaced list. */
static void
test_outstanding_and_stale(void **state)
{
	struct nt *t = *state;
	static const char *const moved[] = {"10.0.0.3:5000"};
	struct node_addr to = addr("10.0.0.3:5000");
	struct gossip_config c;
	uint64_t asked_at;
	size_t mark;

	to_refresh(t);
	asked_at = t->fe.now.mono;
	to_refresh(t);
	to_refresh(t);
	assert_int_equal(t->asked.calls, 1);
	while (t->fe.now.mono - asked_at < PEER_RESOLVE_TIMEOUT_USEC)
		to_refresh(t);
	assert_int_equal(t->asked.calls, 2);

	/* A reload with another list: an answer to the old one is dropped. */
	seed_config(&c);
	free(c.seed_names[0].host);
	c.seed_names[0].host = xstrdup("b.example");
	peer_node_reconfigure(&t->n, &c, t->fe.now);
	conf_free(&c);
	mark = fake_mark(&t->fe);
	answer(t, moved, 1, NULL);
	assert_null(fake_find_log(&t->fe, mark, "moved"));
	assert_false(peer_node_is_seed_host(&t->n, &to));
}

/* A reload that keeps the names keeps where they resolved to. */
static void
test_reload_same_names(void **state)
{
	struct nt *t = *state;
	static const char *const moved[] = {"10.0.0.3:5000"};
	struct node_addr to = addr("10.0.0.3:5000");
	struct gossip_config c;
	size_t mark;

	to_refresh(t);
	answer(t, moved, 1, NULL);
	seed_config(&c); /* a.example again, resolved by the reload to where it was at start */
	free(c.seed_names[0].host);
	c.seed_names[0].host = xstrdup("A.EXAMPLE");
	mark = fake_mark(&t->fe);
	peer_node_reconfigure(&t->n, &c, t->fe.now);
	conf_free(&c);
	assert_null(fake_find_log(&t->fe, mark, "seed list changed"));
	assert_true(peer_node_is_seed_host(&t->n, &to));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_refresh_asks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_moves, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unresolvable_keeps, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_onto_other_seed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_outstanding_and_stale, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reload_same_names, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
