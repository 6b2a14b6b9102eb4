/* SPDX-License-Identifier: MIT */
/* Unit tests of the seed's evidence table (evidence.c): distinct reporters, limits, expiry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "core/evidence.h"

static struct node_addr
a4(uint32_t host, uint16_t port)
{
	struct node_addr a = {.family = AF_INET, .port = port};

	a.addr[0] = 10;
	a.addr[1] = (uint8_t)(host >> 16);
	a.addr[2] = (uint8_t)(host >> 8);
	a.addr[3] = (uint8_t)host;
	return a;
}

static void
test_distinct_reporters_counted_once(void **state)
{
	struct evidence e = {0};
	struct node_addr x = a4(1, 6000), r1 = a4(2, 6000), r2 = a4(2, 6001), first;

	(void)state;
	assert_int_equal(evidence_count(&e, &x), 0);
	assert_false(evidence_first(&e, &x, &first));
	assert_int_equal(evidence_add(&e, &x, &r1, 10), 1);
	assert_int_equal(evidence_add(&e, &x, &r1, 11), 1);
	/* Another port of the same host is another reporter (one host may run several peers). */
	assert_int_equal(evidence_add(&e, &x, &r2, 12), 2);
	assert_int_equal(evidence_count(&e, &x), 2);
	assert_true(evidence_first(&e, &x, &first));
	assert_true(node_addr_equal(&first, &r1));
	evidence_clear(&e, &x);
	assert_int_equal(evidence_count(&e, &x), 0);
	evidence_free(&e);
}

static void
test_reporters_capped(void **state)
{
	struct evidence e = {0};
	struct node_addr x = a4(1, 6000);
	uint32_t k = 0;

	(void)state;
	for (uint16_t i = 0; i < EVIDENCE_MAX_REPORTERS + 5; i++) {
		struct node_addr r = a4(100, (uint16_t)(7000 + i));
		k = evidence_add(&e, &x, &r, 1);
		assert_int_equal(k, i < EVIDENCE_MAX_REPORTERS ? i + 1u : EVIDENCE_MAX_REPORTERS);
	}
	assert_int_equal(k, EVIDENCE_MAX_REPORTERS);
	evidence_free(&e);
}

static void
test_full_table_replaces_the_oldest(void **state)
{
	struct evidence e = {0};
	struct node_addr r = a4(9999, 6000), extra = a4(EVIDENCE_MAX_SUSPECTS + 1, 6000);

	(void)state;
	for (uint32_t i = 0; i < EVIDENCE_MAX_SUSPECTS; i++) {
		struct node_addr x = a4(i + 1, 6000);
		/* Target 1 is the newest, target 2 the oldest. */
		assert_int_equal(evidence_add(&e, &x, &r, i == 0 ? 5000 : 100 + i), 1);
	}
	assert_int_equal(e.n, EVIDENCE_MAX_SUSPECTS);
	assert_int_equal(e.replaced, 0);
	assert_int_equal(evidence_add(&e, &extra, &r, 6000), 1);
	assert_int_equal(e.n, EVIDENCE_MAX_SUSPECTS);
	assert_int_equal(e.replaced, 1);
	assert_int_equal(evidence_count(&e, &(struct node_addr){0}), 0);
	{
		struct node_addr oldest = a4(2, 6000), newest = a4(1, 6000);
		assert_int_equal(evidence_count(&e, &oldest), 0);
		assert_int_equal(evidence_count(&e, &newest), 1);
	}
	assert_int_equal(evidence_count(&e, &extra), 1);
	evidence_free(&e);
}

static void
test_expiry(void **state)
{
	struct evidence e = {0};
	struct node_addr x = a4(1, 6000), y = a4(2, 6000), r = a4(3, 6000);

	(void)state;
	evidence_add(&e, &x, &r, 1000);
	evidence_add(&e, &y, &r, 2000);
	evidence_expire(&e, 2000, 1000); /* x is exactly max_age old: kept */
	assert_int_equal(evidence_count(&e, &x), 1);
	evidence_expire(&e, 2001, 1000);
	assert_int_equal(evidence_count(&e, &x), 0);
	assert_int_equal(evidence_count(&e, &y), 1);
	evidence_free(&e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_distinct_reporters_counted_once),
	    cmocka_unit_test(test_reporters_capped),
	    cmocka_unit_test(test_full_table_replaces_the_oldest),
	    cmocka_unit_test(test_expiry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
