/* SPDX-License-Identifier: MIT */
/* Unit tests for registry.c: the seed's lease registry of peers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/registry.h"
#include "core/util.h"
#include "testaddr.h"

#define SEC USEC_PER_SEC

static struct node_addr
nth(unsigned i)
{
	char s[32];
	snprintf(s, sizeof(s), "10.0.%u.%u:%u", i / 250, i % 250 + 1, 6000 + i);
	return addr(s);
}

static void
test_register_new_refresh(void **state)
{
	struct registry r;
	struct node_addr a = addr("127.0.0.1:6000"), b = addr("[::1]:6000");
	struct registry_entry *e;

	registry_init(&r, 10, 1, 2);
	assert_int_equal(registry_register(&r, &a, &a, 100 * SEC, 30 * SEC), REGISTRY_NEW);
	assert_int_equal(r.n, 1);
	e = registry_find(&r, &a);
	assert_non_null(e);
	assert_true(e->registered_at == 100 * SEC);
	assert_true(e->expires_at == 130 * SEC);
	assert_null(registry_find(&r, &b));

	/* Refresh extends the lease and keeps the registration time. */
	assert_int_equal(registry_register(&r, &a, &a, 120 * SEC, 30 * SEC), REGISTRY_REFRESHED);
	assert_int_equal(r.n, 1);
	e = registry_find(&r, &a);
	assert_true(e->registered_at == 100 * SEC);
	assert_true(e->expires_at == 150 * SEC);

	/* Same IP, other port, or other family: another peer. */
	assert_int_equal(registry_register(&r, &b, &b, 120 * SEC, 30 * SEC), REGISTRY_NEW);
	b = addr("127.0.0.1:6001");
	assert_int_equal(registry_register(&r, &b, &b, 120 * SEC, 30 * SEC), REGISTRY_NEW);
	assert_int_equal(r.n, 3);
	registry_free(&r);
}

static void
test_full(void **state)
{
	struct registry r;
	struct node_addr extra = addr("192.0.2.1:1");

	registry_init(&r, 40, 1, 2);
	for (unsigned i = 0; i < 40; i++) {
		struct node_addr a = nth(i);
		assert_int_equal(registry_register(&r, &a, &a, 0, 30 * SEC), REGISTRY_NEW);
	}
	assert_int_equal(registry_register(&r, &extra, &extra, 0, 30 * SEC), REGISTRY_FULL);
	assert_int_equal(r.n, 40);
	assert_null(registry_find(&r, &extra));
	/* Full still refreshes the registered ones. */
	{
		struct node_addr a = nth(7);
		assert_int_equal(registry_register(&r, &a, &a, 10 * SEC, 30 * SEC), REGISTRY_REFRESHED);
		assert_true(registry_find(&r, &a)->expires_at == 40 * SEC);
	}
	/* After a removal there is room again. */
	{
		struct node_addr a = nth(3);
		assert_true(registry_remove(&r, &a));
		assert_int_equal(registry_register(&r, &extra, &extra, 0, 30 * SEC), REGISTRY_NEW);
		assert_int_equal(registry_register(&r, &a, &a, 0, 30 * SEC), REGISTRY_FULL);
	}
	registry_free(&r);

	registry_init(&r, 0, 1, 2);
	assert_int_equal(registry_register(&r, &extra, &extra, 0, SEC), REGISTRY_FULL);
	registry_free(&r);
}

static void
test_remove(void **state)
{
	struct registry r;
	struct node_addr out[8];

	registry_init(&r, 100, 1, 2);
	for (unsigned i = 0; i < 5; i++) {
		struct node_addr a = nth(i);
		registry_register(&r, &a, &a, 0, SEC);
	}
	{
		struct node_addr a = nth(2), unknown = addr("1.1.1.1:1");
		assert_true(registry_remove(&r, &a));
		assert_false(registry_remove(&r, &a));
		assert_false(registry_remove(&r, &unknown));
		assert_null(registry_find(&r, &a));
	}
	/* Registration order is kept. */
	assert_int_equal(registry_list(&r, out, ARRAY_SIZE(out)), 4);
	{
		static const unsigned want[] = {0, 1, 3, 4};
		for (size_t i = 0; i < 4; i++) {
			struct node_addr a = nth(want[i]);
			assert_true(node_addr_equal(&out[i], &a));
		}
	}
	registry_free(&r);
}

static void
test_pop_expired(void **state)
{
	struct registry r;
	struct node_addr got;
	struct node_addr a = nth(0), b = nth(1), c = nth(2), d = nth(3);

	registry_init(&r, 100, 1, 2);
	registry_register(&r, &a, &a, 0, 30 * SEC);       /* expires 30 */
	registry_register(&r, &b, &b, 5 * SEC, 30 * SEC); /* 35 */
	registry_register(&r, &c, &c, 6 * SEC, 30 * SEC); /* 36 */
	registry_register(&r, &d, &d, 7 * SEC, 30 * SEC); /* 37 */
	/* b is refreshed, so only a, c and d lapse by 37. */
	assert_int_equal(registry_register(&r, &b, &b, 20 * SEC, 30 * SEC), REGISTRY_REFRESHED);

	assert_false(registry_pop_expired(&r, 30 * SEC - 1, &got));
	assert_int_equal(r.n, 4);
	/* A lease ends at expires_at: popped at exactly that time. */
	assert_true(registry_pop_expired(&r, 30 * SEC, &got));
	assert_true(node_addr_equal(&got, &a));
	assert_false(registry_pop_expired(&r, 30 * SEC, &got));

	assert_true(registry_pop_expired(&r, 40 * SEC, &got));
	assert_true(node_addr_equal(&got, &c));
	assert_true(registry_pop_expired(&r, 40 * SEC, &got));
	assert_true(node_addr_equal(&got, &d));
	assert_false(registry_pop_expired(&r, 40 * SEC, &got));
	assert_int_equal(r.n, 1);
	assert_non_null(registry_find(&r, &b));

	assert_true(registry_pop_expired(&r, 50 * SEC, &got));
	assert_true(node_addr_equal(&got, &b));
	assert_int_equal(r.n, 0);
	assert_false(registry_pop_expired(&r, UINT64_MAX, &got));
	registry_free(&r);
}

static void
test_list(void **state)
{
	struct registry r;
	struct node_addr out[64];

	registry_init(&r, 1000, 1, 2);
	assert_int_equal(registry_list(&r, out, ARRAY_SIZE(out)), 0);
	for (unsigned i = 0; i < 50; i++) {
		struct node_addr a = nth(i);
		registry_register(&r, &a, &a, 0, SEC);
	}
	memset(out, 0, sizeof(out));
	assert_int_equal(registry_list(&r, out, ARRAY_SIZE(out)), 50);
	for (unsigned i = 0; i < 50; i++) {
		struct node_addr a = nth(i);
		assert_true(node_addr_equal(&out[i], &a));
	}
	/* A smaller max is honoured and nothing beyond it is written. */
	memset(out, 0xee, sizeof(out));
	assert_int_equal(registry_list(&r, out, 10), 10);
	for (unsigned i = 0; i < 10; i++) {
		struct node_addr a = nth(i);
		assert_true(node_addr_equal(&out[i], &a));
	}
	assert_int_equal(((uint8_t *)&out[10])[0], 0xee);
	assert_int_equal(registry_list(&r, out, 0), 0);
	registry_free(&r);
}

static void
check_format(const struct registry *r, size_t limit, const char *want)
{
	char *s = registry_format(r, limit);
	assert_non_null(s);
	assert_string_equal(s, want);
	free(s);
}

static void
test_format(void **state)
{
	struct registry r;
	struct node_addr a = addr("127.0.0.1:6000"), b = addr("[::1]:6001"),
	                 c = addr("10.0.0.1:6002");

	registry_init(&r, 100, 1, 2);
	check_format(&r, 10, "{}");
	check_format(&r, 0, "{}");
	registry_register(&r, &a, &a, 0, SEC);
	check_format(&r, 10, "{127.0.0.1:6000}");
	registry_register(&r, &b, &b, 0, SEC);
	registry_register(&r, &c, &c, 0, SEC);
	check_format(&r, 10, "{127.0.0.1:6000, [::1]:6001, 10.0.0.1:6002}");
	check_format(&r, 3, "{127.0.0.1:6000, [::1]:6001, 10.0.0.1:6002}");
	check_format(&r, 2, "{127.0.0.1:6000, [::1]:6001, ... (3 in all)}");
	check_format(&r, 1, "{127.0.0.1:6000, ... (3 in all)}");
	registry_free(&r);

	/* Many entries: the output stays bounded by the limit. */
	registry_init(&r, 10000, 1, 2);
	for (unsigned i = 0; i < 1000; i++) {
		struct node_addr x = nth(i);
		registry_register(&r, &x, &x, 0, SEC);
	}
	{
		char *s = registry_format(&r, 5);
		assert_non_null(strstr(s, ", ... (1000 in all)}"));
		assert_true(strlen(s) < 200);
		assert_true(strncmp(s, "{10.0.0.1:6000, 10.0.0.2:6001,", 30) == 0);
		free(s);
	}
	registry_free(&r);
}

static int
push_about(struct report_queue *q, const char *target)
{
	struct report r = {.target = addr(target), .reporter = addr("10.0.0.1:1"), .report_time = 7};
	return report_queue_push(q, &r);
}

/* Pops the oldest report and checks it is the whole report about target. */
static void
pop_is(struct report_queue *q, const char *target)
{
	struct report r;
	struct node_addr want = addr(target), reporter = addr("10.0.0.1:1");

	assert_true(report_queue_pop(q, &r));
	assert_true(node_addr_equal(&r.target, &want));
	assert_true(node_addr_equal(&r.reporter, &reporter));
	assert_true(r.report_time == 7);
}

static void
test_report_queue_limit(void **state)
{
	struct report_queue q;
	struct report r;

	report_queue_init(&q, 3);
	assert_false(report_queue_pop(&q, &r));
	assert_int_equal(push_about(&q, "10.0.1.1:6000"), 0);
	assert_int_equal(push_about(&q, "10.0.1.2:6000"), 0);
	assert_int_equal(push_about(&q, "10.0.1.3:6000"), 0);
	/* Exactly cap wait; one more does not, nor does a second report about a waiting target. */
	assert_int_equal(push_about(&q, "10.0.1.4:6000"), -ENOSPC);
	assert_int_equal(push_about(&q, "10.0.1.2:6000"), -EEXIST);
	assert_int_equal(q.r.n, 3);
	/* First in, first out; a freed place takes one more, and the ring wraps in order. */
	pop_is(&q, "10.0.1.1:6000");
	assert_int_equal(push_about(&q, "10.0.1.4:6000"), 0);
	/* A target that has left the queue may be reported again. */
	pop_is(&q, "10.0.1.2:6000");
	assert_int_equal(push_about(&q, "10.0.1.2:6000"), 0);
	pop_is(&q, "10.0.1.3:6000");
	pop_is(&q, "10.0.1.4:6000");
	pop_is(&q, "10.0.1.2:6000");
	assert_false(report_queue_pop(&q, &r));
	report_queue_free(&q);
	assert_null(q.r.v);
	assert_int_equal(q.r.n, 0);
}

/* Many registrations and removals: lookups, order and counts stay right, slots are reused. */
static void
test_many_with_removals(void **state)
{
	struct registry r;
	struct node_addr out[3000];
	bool in[3000] = {false};
	struct rng rng;
	size_t count = 0;

	registry_init(&r, 3000, 7, 8);
	rng_seed(&rng, 5);
	for (int op = 0; op < 40000; op++) {
		unsigned i = (unsigned)rng_below(&rng, 3000);
		struct node_addr a = nth(i);
		if (rng_below(&rng, 2)) {
			enum registry_result res = registry_register(&r, &a, &a, 1, SEC);
			assert_int_equal(res, in[i] ? REGISTRY_REFRESHED : REGISTRY_NEW);
			count += !in[i];
			in[i] = true;
		} else {
			assert_int_equal(registry_remove(&r, &a), in[i]);
			count -= in[i];
			in[i] = false;
		}
	}
	assert_int_equal(r.n, count);
	assert_int_equal(registry_list(&r, out, 3000), count);
	/* Every entry listed is one registered, once. */
	for (size_t k = 0; k < count; k++) {
		unsigned i = (unsigned)(out[k].port - 6000);
		struct node_addr a = nth(i);
		assert_true(i < 3000 && in[i]);
		assert_true(node_addr_equal(&a, &out[k]));
		in[i] = false;
	}
	registry_free(&r);
}

/* A sample is random, distinct, registered and of the size asked; all when few. */
static void
test_sample(void **state)
{
	struct registry r;
	struct node_addr out[1000];
	unsigned hits[1000] = {0};
	struct rng rng;

	registry_init(&r, 1000, 1, 2);
	rng_seed(&rng, 3);
	for (unsigned i = 0; i < 1000; i++) {
		struct node_addr a = nth(i);
		registry_register(&r, &a, &a, 1, SEC);
	}
	/* Remove most: compaction keeps sampling fast, and the sample right. */
	for (unsigned i = 0; i < 1000; i++) {
		struct node_addr a = nth(i);
		if (i % 10)
			registry_remove(&r, &a);
	}
	assert_int_equal(r.n, 100);
	assert_true(r.slots <= 4 * r.n);
	assert_int_equal(registry_sample(&r, &rng, out, 200), 100); /* fewer than asked: all */
	for (int round = 0; round < 2000; round++) {
		size_t n = registry_sample(&r, &rng, out, 20);
		assert_int_equal(n, 20);
		for (size_t k = 0; k < n; k++) {
			unsigned i = (unsigned)(out[k].port - 6000);
			assert_true(i < 1000 && i % 10 == 0);
			assert_non_null(registry_find(&r, &out[k]));
			for (size_t j = 0; j < k; j++)
				assert_false(node_addr_equal(&out[j], &out[k]));
			hits[i]++;
		}
	}
	/* Each of the 100 is picked about 400 times in 2000 samples of 20. */
	for (unsigned i = 0; i < 1000; i += 10)
		assert_true(hits[i] > 250 && hits[i] < 550);
	registry_free(&r);
}

/*
 * max_per_host bounds the registrations made from one IP address, whatever
 * addresses they name; refreshes pass at the limit, removals (by any path)
 * give the slot back, and the version moves only when the set changes.
 */
static void
test_per_host_limit(void **state)
{
	struct registry r;
	struct node_addr from_a = addr("10.9.0.1:40000"), from_b = addr("10.9.0.2:40001");
	struct node_addr x[5], got;
	uint64_t v;

	registry_init(&r, 100, 1, 2);
	r.max_per_host = 3;
	for (unsigned i = 0; i < 5; i++)
		x[i] = nth(i);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(registry_register(&r, &x[i], &from_a, 0, 30 * SEC), REGISTRY_NEW);
	/* Another port of the same host is the same host. */
	from_a.port = 41234;
	assert_int_equal(registry_host_count(&r, &from_a), 3);
	v = r.version;
	assert_int_equal(registry_register(&r, &x[3], &from_a, 0, 30 * SEC), REGISTRY_HOST_FULL);
	assert_null(registry_find(&r, &x[3]));
	assert_int_equal(r.version, v);
	/* Refreshing what it has is not a new registration. */
	assert_int_equal(registry_register(&r, &x[0], &from_a, SEC, 30 * SEC), REGISTRY_REFRESHED);
	assert_int_equal(r.version, v);
	/* An IPv6 host is its /64. */
	{
		struct node_addr v6a = addr("[2001:db8:1:2::1]:1"), v6b = addr("[2001:db8:1:2:ffff::9]:2");
		struct node_addr v6c = addr("[2001:db8:1:3::1]:1");
		assert_int_equal(registry_register(&r, &v6a, &v6a, 0, 30 * SEC), REGISTRY_NEW);
		assert_int_equal(registry_register(&r, &v6b, &v6b, 0, 30 * SEC), REGISTRY_NEW);
		assert_int_equal(registry_host_count(&r, &v6a), 2);
		assert_int_equal(registry_host_count(&r, &v6c), 0);
		assert_true(registry_remove(&r, &v6a));
		assert_true(registry_remove(&r, &v6b));
	}
	v = r.version;
	/* Other hosts are not held back. */
	assert_int_equal(registry_register(&r, &x[3], &from_b, 0, 30 * SEC), REGISTRY_NEW);
	assert_int_equal(registry_host_count(&r, &from_b), 1);
	assert_true(r.version != v);
	/* A removal gives its host a slot back. */
	assert_true(registry_remove(&r, &x[1]));
	assert_int_equal(registry_host_count(&r, &from_a), 2);
	assert_int_equal(registry_register(&r, &x[4], &from_a, 0, 30 * SEC), REGISTRY_NEW);
	/* So does a lease's end; a host at zero is forgotten. */
	while (registry_pop_expired(&r, 31 * SEC, &got))
		;
	assert_int_equal(r.n, 0);
	assert_int_equal(registry_host_count(&r, &from_a), 0);
	assert_int_equal(registry_host_count(&r, &from_b), 0);
	assert_int_equal(r.hosts.hosts.n, 0);
	registry_free(&r);
}

/* The i-th of many hosts (an IP address of its own). */
static struct node_addr
host_n(unsigned i)
{
	char s[32];
	snprintf(s, sizeof(s), "10.%u.%u.1:1", i / 250, i % 250);
	return addr(s);
}

/* Many hosts coming and going: each count stays exact (the host table moves its entries). */
static void
test_host_counts_churn(void **state)
{
	struct host_counts h;
	uint32_t want[500] = {0};
	struct rng rng;

	host_counts_init(&h, 3, 4);
	rng_seed(&rng, 9);
	for (int op = 0; op < 50000; op++) {
		unsigned i = (unsigned)rng_below(&rng, 500);
		struct node_addr a = host_n(i);
		a.port = (uint16_t)rng_below(&rng, 65536);
		if (rng_below(&rng, 3)) {
			assert_int_equal(host_counts_add(&h, &a), ++want[i]);
		} else {
			host_counts_sub(&h, &a);
			want[i] -= want[i] > 0;
		}
		if (op % 997 == 0)
			for (unsigned k = 0; k < 500; k++) {
				struct node_addr b = host_n(k);
				assert_int_equal(host_counts_get(&h, &b), want[k]);
			}
	}
	host_counts_free(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_register_new_refresh),
	    cmocka_unit_test(test_full),
	    cmocka_unit_test(test_remove),
	    cmocka_unit_test(test_pop_expired),
	    cmocka_unit_test(test_list),
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_report_queue_limit),
	    cmocka_unit_test(test_many_with_removals),
	    cmocka_unit_test(test_sample),
	    cmocka_unit_test(test_per_host_limit),
	    cmocka_unit_test(test_host_counts_churn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
