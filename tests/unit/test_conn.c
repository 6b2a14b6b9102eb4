/* SPDX-License-Identifier: MIT */
/* Unit tests of the send queue's room check (conn_room_for). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "conn.h"

static void
test_room_at_the_limit(void **state)
{
	struct conn c = {.queue_limit = 1000, .queued_bytes = 1};

	/* 250 bytes of the limit kept free: 750 may be queued in all, not one more. */
	assert_true(conn_room_for(&c, 749, 250));
	assert_false(conn_room_for(&c, 750, 250));
	c.queued_bytes = 750;
	assert_true(conn_room_for(&c, 0, 250));
	assert_false(conn_room_for(&c, 1, 250));
	/* Nothing kept: the whole limit. */
	c.queued_bytes = 1;
	assert_true(conn_room_for(&c, 999, 0));
	assert_false(conn_room_for(&c, 1000, 0));
	/* Keeping the whole limit or more leaves no room once something is queued. */
	assert_false(conn_room_for(&c, 0, 1000));
	assert_false(conn_room_for(&c, 0, 5000));
}

static void
test_room_empty_or_unlimited(void **state)
{
	struct conn c = {.queue_limit = 1000};

	/* An empty queue takes a frame larger than the share, so large frames still go. */
	assert_true(conn_room_for(&c, 900, 250));
	assert_true(conn_room_for(&c, 5000, 250));
	/* No limit: always room. */
	c.queue_limit = 0;
	c.queued_bytes = (size_t)1 << 40;
	assert_true(conn_room_for(&c, (size_t)1 << 40, 250));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_room_at_the_limit),
	    cmocka_unit_test(test_room_empty_or_unlimited),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
