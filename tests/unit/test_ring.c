/* SPDX-License-Identifier: MIT */
/* Unit tests for ring.c: FIFO order across wrap-around and growth, the bound, giving memory back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "core/ring.h"

static void
test_fifo_order_across_growth(void **state)
{
	struct ring r = RING_INIT(uint32_t);
	uint32_t next_in = 0, next_out = 0;

	/* Pushes and pops interleaved, so the front moves and the array wraps as it grows. */
	for (int round = 0; round < 200; round++) {
		for (int k = 0; k < 7; k++)
			*(uint32_t *)ring_push(&r, 0) = next_in++;
		for (int k = 0; k < 5; k++) {
			assert_int_equal(*(uint32_t *)ring_front(&r), next_out);
			ring_pop(&r);
			next_out++;
		}
		for (size_t i = 0; i < r.n; i++)
			assert_int_equal(*(uint32_t *)ring_at(&r, i), next_out + i);
	}
	assert_int_equal(r.n, next_in - next_out);
	ring_release(&r);
	assert_null(r.v);
	assert_int_equal(r.n, 0);
	assert_null(ring_front(&r));
	ring_pop(&r); /* harmless when empty */
}

static void
test_bound(void **state)
{
	struct ring r = RING_INIT(uint64_t);

	/* Exactly max elements fit (the array never grows past it), one more does not. */
	for (uint64_t i = 0; i < 12; i++)
		assert_non_null(ring_push(&r, 12));
	assert_null(ring_push(&r, 12));
	assert_int_equal(r.n, 12);
	assert_int_equal(r.cap, 12);
	/* Room again after a pop, at the wrapped end. */
	ring_pop(&r);
	*(uint64_t *)ring_push(&r, 12) = 99;
	assert_int_equal(*(uint64_t *)ring_at(&r, 11), 99);
	assert_null(ring_push(&r, 12));
	ring_release(&r);
}

static void
test_lazy_allocation(void **state)
{
	struct ring r;

	ring_init(&r, 40);
	/* Nothing allocated until the first push, and only a little then. */
	assert_null(r.v);
	assert_non_null(ring_push(&r, 16384));
	assert_true(r.cap <= 8);
	ring_release(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fifo_order_across_growth),
	    cmocka_unit_test(test_bound),
	    cmocka_unit_test(test_lazy_allocation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
