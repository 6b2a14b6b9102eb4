/* SPDX-License-Identifier: MIT */
/* Unit tests for seen.c: the seen-message cache, its count and age bounds, and its hash table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/seen.h"
#include "core/util.h"

#define SEC USEC_PER_SEC

/* A distinct id per n, with well-spread first 8 bytes (as SHA-256 output would be). */
static void
make_id(uint8_t id[WIRE_ID_LEN], uint64_t n)
{
	uint64_t h = (n + 1) * 0x9e3779b97f4a7c15ULL;
	memcpy(id, &h, 8);
	memset(id + 8, 0, WIRE_ID_LEN - 8);
	memcpy(id + 8, &n, sizeof(n));
	id[WIRE_ID_LEN - 1] = 0x5a;
}

/*
 * An id whose table home slot is `home` (under a table mask) and whose
 * remaining bytes make it distinct: many ids share few homes.
 */
static void
make_colliding_id(uint8_t id[WIRE_ID_LEN], uint64_t home, uint64_t n)
{
	memset(id, 0, WIRE_ID_LEN);
	memcpy(id, &home, 8);
	memcpy(id + 8, &n, sizeof(n));
}

static void
test_insert_contains(void **state)
{
	struct seen_cache c;
	uint8_t a[WIRE_ID_LEN], b[WIRE_ID_LEN];

	seen_cache_init(&c, 100, 600 * SEC);
	make_id(a, 1);
	make_id(b, 2);
	assert_false(seen_cache_contains(&c, a));
	assert_true(seen_cache_insert(&c, a, 1000));
	assert_true(seen_cache_contains(&c, a));
	assert_false(seen_cache_contains(&c, b));
	assert_int_equal(c.count, 1);
	/* Duplicate insert reports false and changes nothing. */
	assert_false(seen_cache_insert(&c, a, 2000));
	assert_int_equal(c.count, 1);
	assert_true(seen_cache_insert(&c, b, 2000));
	assert_int_equal(c.count, 2);
	assert_true(seen_cache_contains(&c, a));
	assert_true(seen_cache_contains(&c, b));
	/* Ids differing only in the last byte are distinct. */
	memcpy(b, a, WIRE_ID_LEN);
	b[WIRE_ID_LEN - 1] ^= 1;
	assert_false(seen_cache_contains(&c, b));
	assert_true(seen_cache_insert(&c, b, 3000));
	assert_int_equal(c.count, 3);
	assert_int_equal(c.evicted, 0);
	assert_int_equal(c.expired, 0);
	seen_cache_free(&c);
}

static void
test_capacity_bound(void **state)
{
	const size_t cap = 1000, k = 137;
	struct seen_cache c;
	uint8_t id[WIRE_ID_LEN];

	seen_cache_init(&c, cap, 3600 * SEC);
	for (size_t i = 0; i < cap + k; i++) {
		make_id(id, i);
		assert_true(seen_cache_insert(&c, id, 1000 + i));
		assert_true(c.count <= cap);
	}
	assert_int_equal(c.count, cap);
	assert_int_equal(c.evicted, k);
	assert_int_equal(c.expired, 0);
	for (size_t i = 0; i < k; i++) {
		make_id(id, i);
		if (seen_cache_contains(&c, id))
			fail_msg("id %zu should have been evicted", i);
	}
	for (size_t i = k; i < cap + k; i++) {
		make_id(id, i);
		if (!seen_cache_contains(&c, id))
			fail_msg("id %zu lost", i);
	}
	/* An evicted id can come back, evicting the next oldest. */
	make_id(id, 0);
	assert_true(seen_cache_insert(&c, id, 5000));
	assert_int_equal(c.evicted, k + 1);
	make_id(id, k);
	assert_false(seen_cache_contains(&c, id));
	seen_cache_free(&c);
}

static void
test_capacity_one(void **state)
{
	struct seen_cache c;
	uint8_t a[WIRE_ID_LEN], b[WIRE_ID_LEN];

	seen_cache_init(&c, 1, 3600 * SEC);
	make_id(a, 1);
	make_id(b, 2);
	for (int i = 0; i < 100; i++) {
		assert_true(seen_cache_insert(&c, (i & 1) ? b : a, (uint64_t)i));
		assert_int_equal(c.count, 1);
		assert_true(seen_cache_contains(&c, (i & 1) ? b : a));
		assert_false(seen_cache_contains(&c, (i & 1) ? a : b));
	}
	assert_int_equal(c.evicted, 99);
	seen_cache_free(&c);
}

static void
test_age_expiry(void **state)
{
	struct seen_cache c;
	uint8_t a[WIRE_ID_LEN], b[WIRE_ID_LEN], d[WIRE_ID_LEN];
	uint64_t t0 = 1000 * SEC;

	seen_cache_init(&c, 100, 10 * SEC);
	make_id(a, 1);
	make_id(b, 2);
	make_id(d, 3);
	assert_true(seen_cache_insert(&c, a, t0));
	assert_true(seen_cache_insert(&c, b, t0 + 5 * SEC));
	/* Nothing old enough yet. */
	assert_int_equal(seen_cache_expire(&c, t0 + 10 * SEC), 0);
	assert_int_equal(c.count, 2);
	/* Insert expires a first (12 s old), keeps b (7 s). */
	assert_true(seen_cache_insert(&c, d, t0 + 12 * SEC));
	assert_int_equal(c.expired, 1);
	assert_false(seen_cache_contains(&c, a));
	assert_true(seen_cache_contains(&c, b));
	assert_true(seen_cache_contains(&c, d));
	assert_int_equal(c.count, 2);
	/* Exactly max_age old is kept, one microsecond more is not. */
	assert_int_equal(seen_cache_expire(&c, t0 + 15 * SEC), 0);
	assert_true(seen_cache_contains(&c, b));
	assert_int_equal(seen_cache_expire(&c, t0 + 15 * SEC + 1), 1);
	assert_false(seen_cache_contains(&c, b));
	assert_true(seen_cache_contains(&c, d));
	assert_int_equal(c.expired, 2);
	assert_int_equal(c.evicted, 0);
	/* An expired id is new again. */
	assert_true(seen_cache_insert(&c, a, t0 + 16 * SEC));
	/* Everything goes after a long pause. */
	assert_int_equal(seen_cache_expire(&c, t0 + 1000 * SEC), 2);
	assert_int_equal(c.count, 0);
	assert_false(seen_cache_contains(&c, a));
	assert_false(seen_cache_contains(&c, d));
	assert_int_equal(c.expired, 4);
	assert_int_equal(seen_cache_expire(&c, t0 + 2000 * SEC), 0);
	seen_cache_free(&c);
}

static void
test_expire_many(void **state)
{
	struct seen_cache c;
	uint8_t id[WIRE_ID_LEN];

	seen_cache_init(&c, 1000, 10000);
	for (uint64_t i = 0; i < 1000; i++) {
		make_id(id, i);
		assert_true(seen_cache_insert(&c, id, 1000 + i));
	}
	assert_int_equal(c.count, 1000);
	/* At now = 1000 + 10000 + 499, ids 0..498 are over 10000 usec old. */
	assert_int_equal(seen_cache_expire(&c, 1000 + 10000 + 499), 499);
	assert_int_equal(c.count, 501);
	for (uint64_t i = 0; i < 1000; i++) {
		make_id(id, i);
		assert_int_equal(seen_cache_contains(&c, id), i >= 499);
	}
	seen_cache_free(&c);
}

/* Many ids on one home slot, including chains that wrap around the table end. */
static void
test_collisions_and_wrap(void **state)
{
	struct seen_cache c;
	uint8_t id[WIRE_ID_LEN];
	size_t mask;

	seen_cache_init(&c, 64, 3600 * SEC);
	mask = c.table_mask;
	assert_true(mask + 1 >= 128);
	for (uint64_t i = 0; i < 64; i++) {
		make_colliding_id(id, mask - (i % 3), i);
		assert_true(seen_cache_insert(&c, id, i));
	}
	for (uint64_t i = 0; i < 64; i++) {
		make_colliding_id(id, mask - (i % 3), i);
		assert_true(seen_cache_contains(&c, id));
		make_colliding_id(id, mask - (i % 3), i + 1000);
		assert_false(seen_cache_contains(&c, id));
	}
	/* Evict them one by one; the rest must stay reachable each time. */
	for (uint64_t i = 64; i < 128; i++) {
		make_colliding_id(id, (i % 2) ? 0 : mask, i);
		assert_true(seen_cache_insert(&c, id, i));
		for (uint64_t j = i - 63; j <= i; j++) {
			uint64_t home = j < 64 ? mask - (j % 3) : ((j % 2) ? 0 : mask);
			make_colliding_id(id, home, j);
			if (!seen_cache_contains(&c, id))
				fail_msg("id %llu lost after inserting %llu", (unsigned long long)j,
				         (unsigned long long)i);
		}
		make_colliding_id(id, mask - ((i - 64) % 3), i - 64);
		assert_false(seen_cache_contains(&c, id));
	}
	assert_int_equal(c.evicted, 64);
	seen_cache_free(&c);
}

/* The reference model: a FIFO of (id number, time). */
struct model {
	uint64_t *ids, *at;
	size_t head, count, cap;
	uint64_t max_age, evicted, expired;
};

static bool
model_contains(const struct model *m, uint64_t n)
{
	for (size_t i = 0; i < m->count; i++)
		if (m->ids[(m->head + i) % m->cap] == n)
			return true;
	return false;
}

static size_t
model_expire(struct model *m, uint64_t now)
{
	size_t n = 0;
	while (m->count && now - m->at[m->head] > m->max_age) {
		m->head = (m->head + 1) % m->cap;
		m->count--;
		n++;
	}
	m->expired += n;
	return n;
}

static bool
model_insert(struct model *m, uint64_t n, uint64_t now)
{
	size_t pos;
	model_expire(m, now);
	if (model_contains(m, n))
		return false;
	if (m->count == m->cap) {
		m->head = (m->head + 1) % m->cap;
		m->count--;
		m->evicted++;
	}
	pos = (m->head + m->count) % m->cap;
	m->ids[pos] = n;
	m->at[pos] = now;
	m->count++;
	return true;
}

#define POOL 300

static void
churn(size_t cap, size_t nhomes, long ops, uint64_t seed)
{
	struct seen_cache c;
	struct model m = {0};
	struct rng rng;
	uint8_t(*pool)[WIRE_ID_LEN] = calloc(POOL, WIRE_ID_LEN);
	uint64_t homes[8], now = 1;

	assert_true(nhomes <= ARRAY_SIZE(homes));
	seen_cache_init(&c, cap, 50);
	m.cap = cap;
	m.ids = calloc(cap, sizeof(*m.ids));
	m.at = calloc(cap, sizeof(*m.at));
	m.max_age = 50;
	rng_seed(&rng, seed);
	/* Homes clustered at the end of the table so chains wrap to slot 0. */
	for (size_t h = 0; h < nhomes; h++)
		homes[h] = (c.table_mask - 2 + h * 2) & c.table_mask;
	for (uint64_t i = 0; i < POOL; i++)
		make_colliding_id(pool[i], homes[i % nhomes], i);

	for (long op = 0; op < ops; op++) {
		uint64_t n = rng_below(&rng, POOL);
		uint64_t r = rng_below(&rng, 100);

		/* Time mostly crawls (eviction by count), sometimes jumps (expiry). */
		if (r < 2)
			now += rng_below(&rng, 80);
		else if (r < 60)
			now += rng_below(&rng, 2);
		if (r < 70) {
			bool got = seen_cache_insert(&c, pool[n], now);
			bool want = model_insert(&m, n, now);
			if (got != want)
				fail_msg("op %ld: insert(%llu) = %d, model %d", op,
				         (unsigned long long)n, got, want);
		} else if (r < 75) {
			size_t got = seen_cache_expire(&c, now);
			size_t want = model_expire(&m, now);
			if (got != want)
				fail_msg("op %ld: expire = %zu, model %zu", op, got, want);
		} else {
			bool got = seen_cache_contains(&c, pool[n]);
			bool want = model_contains(&m, n);
			if (got != want)
				fail_msg("op %ld: contains(%llu) = %d, model %d", op,
				         (unsigned long long)n, got, want);
		}
		assert_int_equal(c.count, m.count);
		if (op % 997 == 0) {
			assert_true(c.evicted == m.evicted);
			assert_true(c.expired == m.expired);
			for (uint64_t k = 0; k < POOL; k++)
				if (seen_cache_contains(&c, pool[k]) != model_contains(&m, k))
					fail_msg("op %ld: id %llu: phantom or lost entry", op,
					         (unsigned long long)k);
		}
	}
	assert_true(c.evicted == m.evicted);
	assert_true(c.expired == m.expired);
	/* Both bounds were exercised. */
	assert_true(m.evicted > 1000);
	assert_true(m.expired > 1000);
	seen_cache_free(&c);
	free(m.ids);
	free(m.at);
	free(pool);
}

static void
test_churn_colliding(void **state)
{
	/* 64 entries in a 128-slot table, all ids on 3 homes around the wrap. */
	churn(64, 3, 2000000, 1);
}

static void
test_churn_spread(void **state)
{
	churn(64, 8, 1000000, 2);
	churn(5, 1, 300000, 3);
	churn(100, 2, 300000, 4);
}

/* Frames kept for resending: found by id, bounded in bytes (oldest released first),
 * released with their entries, and counted exactly. */
static void
test_frames(void **state)
{
	struct seen_cache c;
	struct blob *f[8];
	uint8_t id[WIRE_ID_LEN];

	seen_cache_init(&c, 4, 100 * SEC);
	seen_cache_set_frame_budget(&c, 250);
	for (int i = 0; i < 8; i++) {
		uint8_t data[100];
		memset(data, i, sizeof(data));
		f[i] = blob_new(data, sizeof(data));
	}
	/* Two frames fit, the third releases the oldest. */
	for (int i = 0; i < 3; i++) {
		make_id(id, i);
		assert_true(seen_cache_insert(&c, id, SEC));
		seen_cache_keep_frame(&c, f[i]);
	}
	assert_int_equal(c.frame_bytes, 200);
	make_id(id, 0);
	assert_true(seen_cache_contains(&c, id));
	assert_null(seen_cache_frame(&c, id));
	make_id(id, 1);
	assert_ptr_equal(seen_cache_frame(&c, id), f[1]);
	make_id(id, 2);
	assert_ptr_equal(seen_cache_frame(&c, id), f[2]);
	assert_int_equal(f[1]->refs, 2);
	/* An id without a frame, then eviction at capacity releases a frame with its entry. */
	make_id(id, 3);
	assert_true(seen_cache_insert(&c, id, SEC));
	assert_null(seen_cache_frame(&c, id));
	make_id(id, 4);
	assert_true(seen_cache_insert(&c, id, SEC));
	seen_cache_keep_frame(&c, f[4]);
	make_id(id, 5);
	assert_true(seen_cache_insert(&c, id, SEC)); /* evicts 1 */
	make_id(id, 1);
	assert_false(seen_cache_contains(&c, id));
	assert_int_equal(f[1]->refs, 1);
	assert_int_equal(c.frame_bytes, 200); /* 2 and 4 */
	/* Over budget: the oldest frame (2) goes. */
	seen_cache_keep_frame(&c, f[5]);
	assert_int_equal(c.frame_bytes, 200); /* 4 and 5 */
	make_id(id, 2);
	assert_null(seen_cache_frame(&c, id));
	make_id(id, 5);
	assert_ptr_equal(seen_cache_frame(&c, id), f[5]);
	/* A frame of exactly the whole budget is kept (releasing every other one)... */
	{
		uint8_t exact[250] = {0};
		struct blob *ef = blob_new(exact, sizeof(exact));
		make_id(id, 9);
		assert_true(seen_cache_insert(&c, id, SEC));
		seen_cache_keep_frame(&c, ef);
		assert_ptr_equal(seen_cache_frame(&c, id), ef);
		assert_int_equal(c.frame_bytes, 250);
		make_id(id, 5);
		assert_null(seen_cache_frame(&c, id));
		blob_unref(ef);
	}
	/* ...one byte over it is not; a budget of 0 releases everything. */
	{
		uint8_t big[251] = {0};
		struct blob *bf = blob_new(big, sizeof(big));
		make_id(id, 8);
		assert_true(seen_cache_insert(&c, id, SEC));
		seen_cache_keep_frame(&c, bf);
		assert_null(seen_cache_frame(&c, id));
		assert_int_equal(bf->refs, 1);
		blob_unref(bf);
	}
	seen_cache_set_frame_budget(&c, 0);
	assert_int_equal(c.frame_bytes, 0);
	for (int i = 0; i < 8; i++)
		assert_int_equal(f[i]->refs, 1);
	/* Frames kept after a full release are still bounded and released on free. */
	seen_cache_set_frame_budget(&c, 1000);
	make_id(id, 6);
	assert_true(seen_cache_insert(&c, id, SEC));
	seen_cache_keep_frame(&c, f[6]);
	assert_ptr_equal(seen_cache_frame(&c, id), f[6]);
	seen_cache_set_frame_budget(&c, 50);
	assert_null(seen_cache_frame(&c, id));
	seen_cache_set_frame_budget(&c, 1000);
	make_id(id, 7);
	assert_true(seen_cache_insert(&c, id, SEC));
	seen_cache_keep_frame(&c, f[7]);
	/* Age expiry releases frames too. */
	seen_cache_expire(&c, 1000 * SEC);
	assert_int_equal(c.count, 0);
	assert_int_equal(c.frame_bytes, 0);
	assert_int_equal(f[7]->refs, 1);
	make_id(id, 0);
	assert_true(seen_cache_insert(&c, id, 1000 * SEC));
	seen_cache_keep_frame(&c, f[0]);
	seen_cache_free(&c);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(f[i]->refs, 1);
		blob_unref(f[i]);
	}
}

static void
test_tags(void **state)
{
	struct seen_cache c;
	uint8_t a[WIRE_ID_LEN], b[WIRE_ID_LEN], x[WIRE_ID_LEN];
	uint32_t tag = 99;

	seen_cache_init(&c, 2, 600 * SEC);
	make_id(a, 1);
	make_id(b, 2);
	make_id(x, 3);
	/* Nothing to tag yet, and an absent id has no tag. */
	seen_cache_set_tag(&c, 5);
	assert_false(seen_cache_tag(&c, a, &tag));
	assert_int_equal(tag, 99);
	/* A tag goes on the newest entry only; untagged entries say 0. */
	assert_true(seen_cache_insert(&c, a, 1));
	assert_true(seen_cache_tag(&c, a, &tag));
	assert_int_equal(tag, 0);
	seen_cache_set_tag(&c, 7);
	assert_true(seen_cache_insert(&c, b, 2));
	seen_cache_set_tag(&c, 8);
	assert_true(seen_cache_tag(&c, a, &tag));
	assert_int_equal(tag, 7);
	assert_true(seen_cache_tag(&c, b, &tag));
	assert_int_equal(tag, 8);
	/* An entry reused at capacity starts untagged. */
	assert_true(seen_cache_insert(&c, x, 3));
	assert_false(seen_cache_contains(&c, a));
	assert_true(seen_cache_tag(&c, x, &tag));
	assert_int_equal(tag, 0);
	assert_true(seen_cache_tag(&c, b, &tag));
	assert_int_equal(tag, 8);
	/* Prefetching is only a hint: nothing changes. */
	seen_cache_prefetch(&c, a);
	seen_cache_prefetch(&c, x);
	assert_false(seen_cache_contains(&c, a));
	assert_true(seen_cache_contains(&c, x));
	seen_cache_free(&c);
}

/* The stamps' clock in test_horizon: insertion time t (usec) is stamp time R(t). */
#define R(t) (1000 * SEC + (t))

/* Inserts id n at time t (seconds, on the insertion clock), stamped `stamp` (0: none). */
static void
insert_stamped(struct seen_cache *c, uint64_t n, uint64_t t, uint64_t stamp)
{
	uint8_t id[WIRE_ID_LEN];

	make_id(id, n);
	assert_true(seen_cache_insert(c, id, t * SEC));
	if (stamp)
		seen_cache_set_stamp(c, stamp);
}

/*
 * The horizon: the largest stamp of the ids evicted at capacity, but never
 * later than when the newest of them was inserted; unstamped ids and expiry
 * by age move neither.
 */
static void
test_horizon(void **state)
{
	struct seen_cache c;

	(void)state;
	seen_cache_init(&c, 4, 100 * SEC);
	insert_stamped(&c, 0, 1, R(SEC / 2)); /* sent 0.5 s before it arrived */
	insert_stamped(&c, 1, 2, R(0));       /* older, recovered late */
	insert_stamped(&c, 2, 3, 0);
	insert_stamped(&c, 3, 4, R(3 * SEC + SEC / 2));
	assert_int_equal(seen_cache_horizon(&c, 4 * SEC, R(4 * SEC)), 0); /* full, nothing forgotten */
	insert_stamped(&c, 4, 5, R(5 * SEC));                             /* evicts 0 */
	assert_int_equal(seen_cache_horizon(&c, 5 * SEC, R(5 * SEC)), R(SEC / 2));
	insert_stamped(&c, 5, 6, R(6 * SEC)); /* evicts 1: its older stamp does not lower it */
	assert_int_equal(seen_cache_horizon(&c, 6 * SEC, R(6 * SEC)), R(SEC / 2));
	insert_stamped(&c, 6, 7, R(7 * SEC)); /* evicts 2, unstamped */
	assert_int_equal(seen_cache_horizon(&c, 7 * SEC, R(7 * SEC)), R(SEC / 2));
	/* A stamp 92 s ahead of its arrival: the horizon stops at when it arrived. */
	insert_stamped(&c, 7, 8, R(100 * SEC)); /* evicts 3 */
	assert_int_equal(seen_cache_horizon(&c, 8 * SEC, R(8 * SEC)), R(3 * SEC + SEC / 2));
	for (uint64_t n = 8; n < 11; n++)
		insert_stamped(&c, n, n + 1, R((n + 1) * SEC)); /* evict 4, 5, 6 */
	assert_int_equal(seen_cache_horizon(&c, 11 * SEC, R(11 * SEC)), R(7 * SEC));
	insert_stamped(&c, 11, 12, R(12 * SEC)); /* evicts 7, stamped R(100 s), inserted at 8 s */
	assert_int_equal(seen_cache_horizon(&c, 12 * SEC, R(12 * SEC)), R(8 * SEC));
	assert_int_equal(c.evicted_stamp, R(100 * SEC));
	/* Everything expires by age: the horizon stays. */
	assert_int_equal(seen_cache_expire(&c, 200 * SEC), 4);
	assert_int_equal(seen_cache_horizon(&c, 200 * SEC, R(200 * SEC)), R(8 * SEC));
	seen_cache_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_insert_contains), cmocka_unit_test(test_capacity_bound),
	    cmocka_unit_test(test_capacity_one),    cmocka_unit_test(test_age_expiry),
	    cmocka_unit_test(test_expire_many),     cmocka_unit_test(test_collisions_and_wrap),
	    cmocka_unit_test(test_churn_colliding), cmocka_unit_test(test_churn_spread),
	    cmocka_unit_test(test_frames),          cmocka_unit_test(test_tags),
	    cmocka_unit_test(test_horizon),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
