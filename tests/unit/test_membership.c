/* SPDX-License-Identifier: MIT */
/* Unit tests for membership.c: seed majorities, seed order, address sets, neighbour liveness. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/membership.h"
#include "core/util.h"

#define SEC USEC_PER_SEC
#define MS USEC_PER_MSEC

static struct node_addr
nth(unsigned i)
{
	char s[48];
	struct node_addr a;
	if (i % 4 == 3)
		snprintf(s, sizeof(s), "[2001:db8::%x]:%u", i, 7000 + i);
	else
		snprintf(s, sizeof(s), "10.0.%u.%u:%u", i / 250, i % 250 + 1, 6000 + i);
	if (node_addr_parse(s, &a) < 0)
		fail_msg("bad test address %s", s);
	return a;
}

static void
test_seed_majority(void **state)
{
	static const size_t want[] = {1, 2, 2, 3, 3, 4, 4, 5, 5, 6};

	for (size_t n = 1; n <= 10; n++) {
		assert_int_equal(seed_majority(n), want[n - 1]);
		/* Two majorities always intersect; one fewer would not guarantee it. */
		assert_true(2 * seed_majority(n) > n);
		assert_true(2 * (seed_majority(n) - 1) <= n);
		assert_true(seed_majority(n) <= n);
	}
}

static void
test_shuffle_permutation(void **state)
{
	struct rng rng;
	uint32_t order[64];

	rng_seed(&rng, 7);
	for (size_t n = 0; n <= 64; n++) {
		for (int rep = 0; rep < 50; rep++) {
			bool seen[64] = {false};
			memset(order, 0xff, sizeof(order));
			seed_order_shuffle(n, &rng, order);
			for (size_t i = 0; i < n; i++) {
				assert_true(order[i] < n);
				assert_false(seen[order[i]]);
				seen[order[i]] = true;
			}
			/* Nothing written past n. */
			for (size_t i = n; i < 64; i++)
				assert_int_equal(order[i], 0xffffffffu);
		}
	}
}

static void
test_shuffle_uniform(void **state)
{
	enum { N = 5, RUNS = 100000 };
	struct rng rng;
	uint32_t order[N];
	unsigned first[N] = {0}, at[N][N];
	unsigned identity = 0;

	memset(at, 0, sizeof(at));
	rng_seed(&rng, 0xabcdef);
	for (int r = 0; r < RUNS; r++) {
		seed_order_shuffle(N, &rng, order);
		first[order[0]]++;
		for (int i = 0; i < N; i++)
			at[order[i]][i]++;
		if (order[0] == 0 && order[1] == 1 && order[2] == 2 && order[3] == 3)
			identity++;
	}
	/* Expected 20000 each; the bound is loose, the seed fixed. */
	for (int s = 0; s < N; s++) {
		assert_in_range(first[s], 18500, 21500);
		for (int i = 0; i < N; i++)
			assert_in_range(at[s][i], 18500, 21500);
	}
	/* Each of the 120 orders has probability 1/120. */
	assert_in_range(identity, 600, 1100);

	/* Two seeds: both orders occur. */
	{
		unsigned swapped = 0;
		uint32_t o2[2];
		for (int r = 0; r < 1000; r++) {
			seed_order_shuffle(2, &rng, o2);
			swapped += o2[0] == 1;
		}
		assert_in_range(swapped, 400, 600);
	}
}

static void
test_addr_set_basic(void **state)
{
	struct addr_set s = {0};
	struct node_addr a = nth(0), b = nth(3), c = nth(5);

	assert_false(addr_set_contains(&s, &a));
	assert_false(addr_set_remove(&s, &a));
	assert_true(addr_set_add(&s, &a));
	assert_false(addr_set_add(&s, &a));
	assert_true(addr_set_add(&s, &b));
	assert_int_equal(s.n, 2);
	assert_true(addr_set_contains(&s, &a));
	assert_true(addr_set_contains(&s, &b));
	assert_false(addr_set_contains(&s, &c));
	/* Same IP, other port: a different member. */
	c = a;
	c.port++;
	assert_false(addr_set_contains(&s, &c));
	assert_true(addr_set_remove(&s, &a));
	assert_false(addr_set_remove(&s, &a));
	assert_false(addr_set_contains(&s, &a));
	assert_true(addr_set_contains(&s, &b));
	assert_int_equal(s.n, 1);
	addr_set_clear(&s);
	assert_int_equal(s.n, 0);
	assert_false(addr_set_contains(&s, &b));
	assert_true(addr_set_add(&s, &b));
	addr_set_free(&s);
	assert_int_equal(s.n, 0);
	assert_null(s.v);
}

static void
test_addr_set_many(void **state)
{
	struct addr_set s = {0};
	struct rng rng;
	bool in[500] = {false};

	rng_seed(&rng, 11);
	for (int op = 0; op < 20000; op++) {
		unsigned i = (unsigned)rng_below(&rng, 500);
		struct node_addr a = nth(i);
		if (rng_below(&rng, 3)) {
			assert_int_equal(addr_set_add(&s, &a), !in[i]);
			in[i] = true;
		} else {
			assert_int_equal(addr_set_remove(&s, &a), in[i]);
			in[i] = false;
		}
	}
	{
		size_t count = 0;
		for (unsigned i = 0; i < 500; i++) {
			struct node_addr a = nth(i);
			assert_int_equal(addr_set_contains(&s, &a), in[i]);
			count += in[i];
		}
		assert_int_equal(s.n, count);
	}
	addr_set_free(&s);
}

/* Excludes members whose port is even, or all when ctx says so. */
static bool
exclude_even(const struct node_addr *a, void *ctx)
{
	return a->port % 2 == 0;
}

static bool
exclude_all(const struct node_addr *a, void *ctx)
{
	(*(unsigned *)ctx)++;
	return true;
}

static bool
exclude_one(const struct node_addr *a, void *ctx)
{
	return node_addr_equal(a, ctx);
}

static void
test_addr_set_pick(void **state)
{
	struct addr_set s = {0};
	struct rng rng;
	struct node_addr got, keep;
	unsigned hits[20] = {0}, calls = 0;

	rng_seed(&rng, 5);
	assert_false(addr_set_pick(&s, &rng, NULL, NULL, &got));
	for (unsigned i = 0; i < 20; i++) {
		struct node_addr a = nth(i);
		addr_set_add(&s, &a);
	}
	/* Without exclusion every member comes up, roughly uniformly. */
	for (int r = 0; r < 20000; r++) {
		assert_true(addr_set_pick(&s, &rng, NULL, NULL, &got));
		for (unsigned i = 0; i < 20; i++) {
			struct node_addr a = nth(i);
			if (node_addr_equal(&a, &got))
				hits[i]++;
		}
	}
	for (unsigned i = 0; i < 20; i++)
		assert_in_range(hits[i], 800, 1200);

	/* Excluded members are never picked; the others all are. */
	memset(hits, 0, sizeof(hits));
	for (int r = 0; r < 10000; r++) {
		assert_true(addr_set_pick(&s, &rng, exclude_even, NULL, &got));
		assert_true(got.port % 2 == 1);
		for (unsigned i = 0; i < 20; i++) {
			struct node_addr a = nth(i);
			if (node_addr_equal(&a, &got))
				hits[i]++;
		}
	}
	for (unsigned i = 0; i < 20; i++) {
		if (nth(i).port % 2 == 0)
			assert_int_equal(hits[i], 0);
		else
			assert_in_range(hits[i], 800, 1200);
	}

	/* All excluded: false, and every member was asked about. */
	assert_false(addr_set_pick(&s, &rng, exclude_all, &calls, &got));
	assert_true(calls >= 20);

	/* One left after excluding all others. */
	keep = nth(13);
	for (unsigned i = 0; i < 20; i++) {
		struct node_addr a = nth(i);
		if (i != 13)
			addr_set_remove(&s, &a);
	}
	assert_true(addr_set_pick(&s, &rng, NULL, NULL, &got));
	assert_true(node_addr_equal(&got, &keep));
	assert_false(addr_set_pick(&s, &rng, exclude_one, &keep, &got));
	addr_set_free(&s);
}

static const struct liveness_params params = {
    .interval_usec = 1 * SEC,
    .timeout_usec = 1 * SEC,
    .misses = 3,
};

/*
 * A neighbour heard from gets no PING from the tick; one may be started all
 * the same (to carry announcements), but not while one is outstanding, and
 * its PONG measures the round trip from when it was started.
 */
static void
test_liveness_start_ping(void **state)
{
	struct liveness l;
	struct rng rng;
	uint64_t t = 1000 * SEC, nonce;

	rng_seed(&rng, 1);
	liveness_init(&l);
	liveness_heard(&l);
	assert_int_equal(liveness_tick(&l, NB_UP, t, &params, &rng), LIVENESS_WAIT);
	assert_false(l.awaiting);
	assert_true(liveness_start_ping(&l, t + 10 * MS, &rng));
	assert_true(l.awaiting);
	nonce = l.nonce;
	assert_false(liveness_start_ping(&l, t + 20 * MS, &rng));
	assert_true(l.nonce == nonce);
	/* Its PONG measures the round trip from when it was sent. */
	assert_true(liveness_pong(&l, nonce, t + 210 * MS));
	assert_true(l.rtt_usec == 200 * MS);
	assert_true(liveness_start_ping(&l, t + 300 * MS, &rng));
	assert_true(l.nonce != nonce);
	(void)state;
}

static void
test_liveness_ping_pong(void **state)
{
	struct liveness l;
	struct rng rng;
	uint64_t t = 1000 * SEC, nonce;

	rng_seed(&rng, 1);
	liveness_init(&l);
	assert_int_equal(l.misses, 0);
	assert_false(l.awaiting);
	assert_true(l.rtt_usec == 0);

	assert_int_equal(liveness_tick(&l, NB_UP, t, &params, &rng), LIVENESS_PING);
	assert_true(l.awaiting);
	nonce = l.nonce;
	/* While the ping is outstanding and not timed out, wait. */
	assert_int_equal(liveness_tick(&l, NB_UP, t + 500 * MS, &params, &rng), LIVENESS_WAIT);
	assert_true(l.nonce == nonce);
	/* A pong with another nonce is ignored. */
	assert_false(liveness_pong(&l, nonce + 1, t + 100 * MS));
	assert_false(liveness_pong(&l, ~nonce, t + 100 * MS));
	assert_true(l.awaiting);
	assert_true(l.rtt_usec == 0);
	/* The right one ends the wait and measures the round trip. */
	assert_true(liveness_pong(&l, nonce, t + 123 * MS));
	assert_false(l.awaiting);
	assert_true(l.rtt_usec == 123 * MS);
	assert_int_equal(l.misses, 0);
	/* A duplicate pong is not counted again. */
	assert_false(liveness_pong(&l, nonce, t + 200 * MS));
	assert_true(l.rtt_usec == 123 * MS);

	/* Next tick pings again with a fresh nonce. */
	assert_int_equal(liveness_tick(&l, NB_UP, t + 1 * SEC, &params, &rng), LIVENESS_PING);
	assert_true(l.nonce != nonce);
	/* The old nonce no longer answers. */
	assert_false(liveness_pong(&l, nonce, t + 1100 * MS));
	assert_true(liveness_pong(&l, l.nonce, t + 1 * SEC));
	assert_true(l.rtt_usec > 0);
}

static void
test_liveness_dead_after_misses(void **state)
{
	for (uint32_t misses = 1; misses <= 5; misses++) {
		struct liveness_params p = params;
		struct liveness l;
		struct rng rng;
		uint64_t t = 50 * SEC;
		uint64_t first_nonce;

		p.misses = misses;
		rng_seed(&rng, misses);
		liveness_init(&l);
		assert_int_equal(liveness_tick(&l, NB_UP, t, &p, &rng), LIVENESS_PING);
		first_nonce = l.nonce;
		for (uint32_t k = 1; k < misses; k++) {
			t += p.interval_usec;
			/* A timed-out ping is a miss, and a new ping goes out. */
			assert_int_equal(liveness_tick(&l, NB_UP, t, &p, &rng), LIVENESS_PING);
			assert_int_equal(l.misses, k);
			assert_true(l.awaiting);
		}
		/* A late pong for the first ping does not help. */
		if (misses > 1)
			assert_false(liveness_pong(&l, first_nonce, t + 1));
		t += p.interval_usec;
		assert_int_equal(liveness_tick(&l, NB_UP, t, &p, &rng), LIVENESS_DEAD);
		assert_int_equal(l.misses, misses);
	}
}

static void
test_liveness_timeout_boundary(void **state)
{
	struct liveness_params p = {
	    .interval_usec = 1 * SEC, .timeout_usec = 300 * MS, .misses = 2};
	struct liveness l;
	struct rng rng;
	uint64_t t = 10 * SEC;

	rng_seed(&rng, 3);
	liveness_init(&l);
	assert_int_equal(liveness_tick(&l, NB_UP, t, &p, &rng), LIVENESS_PING);
	assert_int_equal(liveness_tick(&l, NB_UP, t + 300 * MS - 1, &p, &rng), LIVENESS_WAIT);
	assert_int_equal(l.misses, 0);
	assert_int_equal(liveness_tick(&l, NB_UP, t + 300 * MS, &p, &rng), LIVENESS_PING);
	assert_int_equal(l.misses, 1);
	/* Answered: the count starts over. */
	assert_true(liveness_pong(&l, l.nonce, t + 400 * MS));
	assert_int_equal(l.misses, 0);
	assert_true(l.rtt_usec == 100 * MS);
}

/* The smoothed round trip: the first measure, then 7/8 of the old plus 1/8 of the new. */
static void
test_liveness_smoothed_rtt(void **state)
{
	struct liveness l;
	struct rng rng;
	uint64_t t = 1000 * SEC;

	rng_seed(&rng, 1);
	liveness_init(&l);
	assert_true(l.srtt_usec == 0);
	assert_int_equal(liveness_tick(&l, NB_UP, t, &params, &rng), LIVENESS_PING);
	assert_true(liveness_pong(&l, l.nonce, t + 200 * MS));
	assert_true(l.srtt_usec == 200 * MS);
	t += 1 * SEC;
	assert_int_equal(liveness_tick(&l, NB_UP, t, &params, &rng), LIVENESS_PING);
	assert_true(liveness_pong(&l, l.nonce, t + 600 * MS));
	assert_true(l.rtt_usec == 600 * MS);
	assert_true(l.srtt_usec == 250 * MS); /* (7 * 200 + 600) / 8 */
}

/*
 * With adaptive timers a ping waits at least 3 smoothed round trips and a
 * connection attempt 4 (and at least connect_usec), up to
 * LIVENESS_RTT_WAIT_MAX; without, the timeout alone, as a LAN wants.
 */
static void
test_liveness_waits_follow_the_round_trip(void **state)
{
	struct liveness_params p = {.interval_usec = 500 * MS, .timeout_usec = 500 * MS,
				    .misses = 3, .connect_usec = 2 * SEC, .adaptive = true};
	struct liveness l;
	struct rng rng;
	uint64_t t = 1000 * SEC;

	rng_seed(&rng, 1);
	liveness_init(&l);
	l.srtt_usec = 300 * MS; /* a slow link: 3 round trips are 900 ms */
	assert_int_equal(liveness_tick(&l, NB_UP, t, &p, &rng), LIVENESS_PING);
	assert_false(liveness_ping_overdue(&l, t + 899 * MS, &p));
	assert_true(liveness_ping_overdue(&l, t + 900 * MS, &p));
	p.adaptive = false; /* the timeout alone */
	assert_false(liveness_ping_overdue(&l, t + 499 * MS, &p));
	assert_true(liveness_ping_overdue(&l, t + 500 * MS, &p));
	p.adaptive = true;
	l.srtt_usec = 5 * SEC; /* 15 s, capped */
	assert_false(liveness_ping_overdue(&l, t + LIVENESS_RTT_WAIT_MAX - 1, &p));
	assert_true(liveness_ping_overdue(&l, t + LIVENESS_RTT_WAIT_MAX, &p));

	/* A connection attempt: connect_usec on a fast link, 4 round trips on a slow one. */
	liveness_init(&l);
	l.attempt_at = t;
	l.srtt_usec = 1 * MS;
	assert_int_equal(liveness_tick(&l, NB_CONNECTING, t + 2 * SEC - 1, &p, &rng), LIVENESS_WAIT);
	assert_int_equal(liveness_tick(&l, NB_CONNECTING, t + 2 * SEC, &p, &rng), LIVENESS_RECONNECT);
	assert_int_equal(l.misses, 1);
	l.srtt_usec = 700 * MS;
	t = l.attempt_at;
	assert_int_equal(liveness_tick(&l, NB_CONNECTING, t + 2800 * MS - 1, &p, &rng),
			 LIVENESS_WAIT);
	assert_int_equal(liveness_tick(&l, NB_CONNECTING, t + 2800 * MS, &p, &rng),
			 LIVENESS_RECONNECT);
	/* Without adaptive timers nor connect_usec: the ping timeout, as before. */
	p.adaptive = false;
	p.connect_usec = 0;
	l.misses = 0; /* a third failure in a row would declare it dead */
	t = l.attempt_at;
	assert_int_equal(liveness_tick(&l, NB_CONNECTING, t + 500 * MS - 1, &p, &rng), LIVENESS_WAIT);
	assert_int_equal(liveness_tick(&l, NB_CONNECTING, t + 500 * MS, &p, &rng),
			 LIVENESS_RECONNECT);
}

static void
test_local_health_score(void **state)
{
	struct liveness_params p = {.interval_usec = 500 * MS, .timeout_usec = 400 * MS, .misses = 3};
	struct local_health h = {0};

	/* On time, or late by at most a quarter of the timeout: nothing changes. */
	assert_false(local_health_tick(&h, 0, &p));
	assert_false(local_health_tick(&h, 100 * MS, &p));
	assert_int_equal(h.score, 0);
	/* Later than that: up by one, and one more per whole timeout late, never past the maximum. */
	assert_true(local_health_tick(&h, 100 * MS + 1, &p));
	assert_int_equal(h.score, 1);
	assert_true(local_health_tick(&h, 400 * MS - 1, &p));
	assert_int_equal(h.score, 2);
	assert_true(local_health_tick(&h, 400 * MS, &p)); /* one whole timeout: two up */
	assert_int_equal(h.score, 4);
	assert_true(local_health_tick(&h, 1000 * MS, &p)); /* 2.5 timeouts: three up */
	assert_int_equal(h.score, 7);
	assert_true(local_health_tick(&h, 1000 * MS, &p)); /* stops at the maximum */
	assert_int_equal(h.score, LOCAL_HEALTH_MAX);
	assert_false(local_health_tick(&h, 10 * SEC, &p));
	h.score = 0;
	assert_true(local_health_tick(&h, UINT64_MAX, &p)); /* no wrap-around */
	assert_int_equal(h.score, LOCAL_HEALTH_MAX);
	assert_false(local_health_tick(&h, 10 * SEC, &p));
	/* Back on time: one down per LOCAL_HEALTH_CALM_TICKS ticks, to 0 and no further. */
	for (uint32_t k = LOCAL_HEALTH_MAX; k > 0; k--) {
		for (int i = 1; i < LOCAL_HEALTH_CALM_TICKS; i++) {
			assert_false(local_health_tick(&h, 1 * MS, &p));
			assert_int_equal(h.score, k);
		}
		assert_true(local_health_tick(&h, 1 * MS, &p));
		assert_int_equal(h.score, k - 1);
	}
	assert_false(local_health_tick(&h, 1 * MS, &p));
	assert_int_equal(h.score, 0);
}

static void
test_local_health_misses(void **state)
{
	struct liveness_params p = {.interval_usec = 500 * MS, .timeout_usec = 400 * MS, .misses = 3};
	struct local_health h = {0};

	/* One hung neighbour among several says nothing about this host; half do not either. */
	assert_false(local_health_misses(&h, 0, 0));
	assert_false(local_health_misses(&h, 1, 3));
	assert_false(local_health_misses(&h, 2, 4));
	assert_int_equal(h.score, 0);
	/* Most of them, or the only one: the host is suspect. */
	assert_true(local_health_misses(&h, 3, 4));
	assert_int_equal(h.score, 1);
	assert_true(local_health_misses(&h, 1, 1));
	assert_int_equal(h.score, 2);
	/* A tick on time right after such misses does not lower it, nor count as calm. */
	assert_false(local_health_tick(&h, 0, &p));
	assert_int_equal(h.score, 2);
	for (int i = 1; i < LOCAL_HEALTH_CALM_TICKS; i++)
		assert_false(local_health_tick(&h, 0, &p));
	assert_true(local_health_tick(&h, 0, &p));
	assert_int_equal(h.score, 1);
	/* Misses start the count of calm ticks again. */
	assert_false(local_health_tick(&h, 0, &p));
	assert_true(local_health_misses(&h, 1, 1));
	assert_false(local_health_tick(&h, 0, &p)); /* after misses */
	for (int i = 1; i < LOCAL_HEALTH_CALM_TICKS; i++)
		assert_false(local_health_tick(&h, 0, &p));
	assert_true(local_health_tick(&h, 0, &p));
	assert_int_equal(h.score, 1);
	/* Capped like the lateness. */
	for (int i = 0; i < 3 * LOCAL_HEALTH_MAX; i++)
		(void)local_health_misses(&h, 5, 5);
	assert_int_equal(h.score, LOCAL_HEALTH_MAX);
	assert_false(local_health_misses(&h, 5, 5));
}

static void
test_local_health_scales_timeouts(void **state)
{
	struct liveness_params p = {.interval_usec = 1 * SEC, .timeout_usec = 300 * MS, .misses = 2};
	struct liveness_params s2 = liveness_scaled(&p, 2), s0 = liveness_scaled(&p, 0);
	struct liveness l;
	struct rng rng;
	uint64_t t = 10 * SEC;

	assert_true(s0.timeout_usec == 300 * MS);
	assert_true(s2.timeout_usec == 900 * MS);
	assert_true(s2.interval_usec == p.interval_usec && s2.misses == p.misses);
	assert_true(liveness_scaled(&p, 1000).timeout_usec == (1 + LOCAL_HEALTH_MAX) * 300 * MS);

	/* Scaled, a ping outstanding for the plain timeout is not yet a miss. */
	rng_seed(&rng, 4);
	liveness_init(&l);
	assert_int_equal(liveness_tick(&l, NB_UP, t, &s2, &rng), LIVENESS_PING);
	assert_int_equal(liveness_tick(&l, NB_UP, t + 300 * MS, &s2, &rng), LIVENESS_WAIT);
	assert_int_equal(liveness_tick(&l, NB_UP, t + 900 * MS - 1, &s2, &rng), LIVENESS_WAIT);
	assert_int_equal(l.misses, 0);
	assert_int_equal(liveness_tick(&l, NB_UP, t + 900 * MS, &s2, &rng), LIVENESS_PING);
	assert_int_equal(l.misses, 1);
	/* A connect that hangs gets the longer timeout too. */
	liveness_init(&l);
	l.attempt_at = t;
	assert_int_equal(liveness_tick(&l, NB_CONNECTING, t + 600 * MS, &s2, &rng), LIVENESS_WAIT);
	assert_int_equal(liveness_tick(&l, NB_CONNECTING, t + 900 * MS, &s2, &rng),
			 LIVENESS_RECONNECT);
}

static void
test_liveness_heard(void **state)
{
	struct liveness l;
	struct rng rng;
	uint64_t t = 0;

	rng_seed(&rng, 9);
	liveness_init(&l);
	assert_int_equal(liveness_tick(&l, NB_UP, t, &params, &rng), LIVENESS_PING);
	t += SEC;
	assert_int_equal(liveness_tick(&l, NB_UP, t, &params, &rng), LIVENESS_PING);
	t += SEC;
	assert_int_equal(liveness_tick(&l, NB_UP, t, &params, &rng), LIVENESS_PING);
	assert_int_equal(l.misses, 2);
	/* Any frame from the neighbour resets the count... */
	liveness_heard(&l);
	assert_int_equal(l.misses, 0);
	/*
	 * ...and proves it alive until the next tick, which sends no ping (the
	 * outstanding one still counts as missed)...
	 */
	t += SEC;
	assert_int_equal(liveness_tick(&l, NB_UP, t, &params, &rng), LIVENESS_WAIT);
	assert_int_equal(l.misses, 1);
	assert_false(l.awaiting);
	/* ...so it takes `misses` more timeouts to declare it dead, counting that one. */
	t += SEC;
	assert_int_equal(liveness_tick(&l, NB_UP, t, &params, &rng), LIVENESS_PING);
	t += SEC;
	assert_int_equal(liveness_tick(&l, NB_UP, t, &params, &rng), LIVENESS_PING);
	assert_int_equal(l.misses, 2);
	t += SEC;
	assert_int_equal(liveness_tick(&l, NB_UP, t, &params, &rng), LIVENESS_DEAD);
}

static void
test_liveness_heard_skips_the_ping(void **state)
{
	struct liveness l;
	struct rng rng;
	uint64_t t = 0;

	rng_seed(&rng, 11);
	liveness_init(&l);
	/* A neighbour that talks every interval (its own PINGs, traffic) is never pinged. */
	for (int i = 0; i < 10; i++, t += SEC) {
		liveness_heard(&l);
		assert_int_equal(liveness_tick(&l, NB_UP, t, &params, &rng), LIVENESS_WAIT);
	}
	assert_int_equal(l.misses, 0);
	/* One interval of silence: pinged at the next tick. */
	assert_int_equal(liveness_tick(&l, NB_UP, t, &params, &rng), LIVENESS_PING);
	/* Two sides that skip when heard take turns: each PING answers for its sender. */
	liveness_heard(&l); /* the PONG... */
	assert_true(liveness_pong(&l, l.nonce, t + 1));
	t += SEC;
	assert_int_equal(liveness_tick(&l, NB_UP, t, &params, &rng), LIVENESS_WAIT);
	t += SEC;
	assert_int_equal(liveness_tick(&l, NB_UP, t, &params, &rng), LIVENESS_PING);
}

static void
test_liveness_down_reconnect(void **state)
{
	struct liveness l;
	struct rng rng;
	uint64_t t = 100 * SEC;

	rng_seed(&rng, 4);
	liveness_init(&l);
	/* A lost connection is a miss; the next tick reconnects. */
	assert_false(liveness_miss(&l, &params, false, 0));
	assert_int_equal(l.misses, 1);
	assert_int_equal(liveness_tick(&l, NB_DOWN, t, &params, &rng), LIVENESS_RECONNECT);
	assert_true(l.attempt_at == t);
	/* A DOWN tick itself is not a miss. */
	assert_int_equal(l.misses, 1);
	assert_false(liveness_miss(&l, &params, false, 0));
	t += SEC;
	assert_int_equal(liveness_tick(&l, NB_DOWN, t, &params, &rng), LIVENESS_RECONNECT);
	assert_true(l.attempt_at == t);
	/* The third failure is the configured count. */
	assert_true(liveness_miss(&l, &params, false, 0));
	assert_int_equal(l.misses, 3);
	assert_int_equal(liveness_tick(&l, NB_DOWN, t + SEC, &params, &rng), LIVENESS_DEAD);
}

static void
test_liveness_miss_clears_ping(void **state)
{
	struct liveness l;
	struct rng rng;

	rng_seed(&rng, 8);
	liveness_init(&l);
	assert_int_equal(liveness_tick(&l, NB_UP, 0, &params, &rng), LIVENESS_PING);
	/* The connection drops with a ping outstanding: its pong can no longer come. */
	assert_false(liveness_miss(&l, &params, false, 0));
	assert_false(l.awaiting);
	assert_false(liveness_pong(&l, l.nonce, 10));
	/* After reconnecting, the first UP tick pings at once. */
	assert_int_equal(liveness_tick(&l, NB_UP, 10, &params, &rng), LIVENESS_PING);
}

static void
test_liveness_connecting_timeout(void **state)
{
	struct liveness_params p = {.interval_usec = 1 * SEC, .timeout_usec = 2 * SEC, .misses = 3};
	struct liveness l;
	struct rng rng;
	uint64_t t0 = 500 * SEC;

	rng_seed(&rng, 6);
	liveness_init(&l);
	assert_int_equal(liveness_tick(&l, NB_DOWN, t0, &p, &rng), LIVENESS_RECONNECT);
	assert_true(l.attempt_at == t0);
	/* Still within the timeout: wait. */
	assert_int_equal(liveness_tick(&l, NB_CONNECTING, t0 + 1 * SEC, &p, &rng), LIVENESS_WAIT);
	assert_int_equal(liveness_tick(&l, NB_CONNECTING, t0 + 2 * SEC - 1, &p, &rng),
	                 LIVENESS_WAIT);
	assert_int_equal(l.misses, 0);
	/* Timed out: a miss, and a new attempt starts now. */
	assert_int_equal(liveness_tick(&l, NB_CONNECTING, t0 + 2 * SEC, &p, &rng),
	                 LIVENESS_RECONNECT);
	assert_int_equal(l.misses, 1);
	assert_true(l.attempt_at == t0 + 2 * SEC);
	assert_int_equal(liveness_tick(&l, NB_CONNECTING, t0 + 3 * SEC, &p, &rng), LIVENESS_WAIT);
	assert_int_equal(liveness_tick(&l, NB_CONNECTING, t0 + 4 * SEC, &p, &rng),
	                 LIVENESS_RECONNECT);
	assert_int_equal(l.misses, 2);
	assert_int_equal(liveness_tick(&l, NB_CONNECTING, t0 + 6 * SEC, &p, &rng), LIVENESS_DEAD);
	assert_int_equal(l.misses, 3);
}

static void
test_liveness_connect_then_up(void **state)
{
	struct liveness l;
	struct rng rng;

	rng_seed(&rng, 10);
	liveness_init(&l);
	assert_int_equal(liveness_tick(&l, NB_DOWN, 0, &params, &rng), LIVENESS_RECONNECT);
	assert_int_equal(liveness_tick(&l, NB_CONNECTING, 2 * SEC, &params, &rng),
	                 LIVENESS_RECONNECT);
	assert_int_equal(l.misses, 1);
	/* Handshake done; the neighbour talks: alive again. */
	liveness_heard(&l);
	assert_int_equal(l.misses, 0);
	/* Its HELLO was just heard: the first tick up has nothing to ask, the next pings. */
	assert_int_equal(liveness_tick(&l, NB_UP, 2 * SEC + SEC / 2, &params, &rng), LIVENESS_WAIT);
	assert_int_equal(liveness_tick(&l, NB_UP, 3 * SEC, &params, &rng), LIVENESS_PING);
	assert_true(liveness_pong(&l, l.nonce, 3 * SEC));
	/* Same-microsecond answers still count as a measured round trip. */
	assert_true(l.rtt_usec > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seed_majority),
	    cmocka_unit_test(test_shuffle_permutation),
	    cmocka_unit_test(test_shuffle_uniform),
	    cmocka_unit_test(test_addr_set_basic),
	    cmocka_unit_test(test_addr_set_many),
	    cmocka_unit_test(test_addr_set_pick),
	    cmocka_unit_test(test_liveness_start_ping),
	    cmocka_unit_test(test_liveness_ping_pong),
	    cmocka_unit_test(test_liveness_dead_after_misses),
	    cmocka_unit_test(test_liveness_timeout_boundary),
	    cmocka_unit_test(test_local_health_score),
	    cmocka_unit_test(test_local_health_misses),
	    cmocka_unit_test(test_local_health_scales_timeouts),
	    cmocka_unit_test(test_liveness_heard),
	    cmocka_unit_test(test_liveness_heard_skips_the_ping),
	    cmocka_unit_test(test_liveness_down_reconnect),
	    cmocka_unit_test(test_liveness_miss_clears_ping),
	    cmocka_unit_test(test_liveness_connecting_timeout),
	    cmocka_unit_test(test_liveness_connect_then_up),
	    cmocka_unit_test(test_liveness_smoothed_rtt),
	    cmocka_unit_test(test_liveness_waits_follow_the_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
