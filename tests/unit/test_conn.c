/* SPDX-License-Identifier: MIT */
/* Unit tests of conn: the send queue's room check and ring (conn_room_for, conn_trim), failed writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/conn.h"

/* A socket that takes everything it is given. */
static ssize_t
sink_sendv(struct conn *c, const struct iovec *iov, int n)
{
	ssize_t total = 0;
	for (int i = 0; i < n; i++)
		total += (ssize_t)iov[i].iov_len;
	return total;
}

/* A socket that is always full. */
static ssize_t
full_sendv(struct conn *c, const struct iovec *iov, int n)
{
	return -EAGAIN;
}

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

static void
queue(struct conn *c, unsigned n)
{
	struct blob *bl = blob_new("frame", 5);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(conn_send_blob(c, bl), 0);
	blob_unref(bl);
}

static void
test_trim_after_a_burst(void **state)
{
	struct conn_loop loop = {0};
	struct conn_transport full = {.sendv = full_sendv}, sink = {.sendv = sink_sendv};
	struct conn c = {.loop = &loop, .fd = -1, .tr = &full};

	/* A burst's backlog grows the ring past what is kept. */
	queue(&c, 4 * CONN_OUT_KEEP);
	assert_true(c.out.cap >= 4 * CONN_OUT_KEEP);
	/* Nothing is given back while frames wait. */
	conn_flush(&c);
	conn_trim(&c);
	assert_non_null(c.out.v);
	assert_int_equal(c.out.n, 4 * CONN_OUT_KEEP);
	/* Drained: the ring goes, and the queue still works after. */
	c.tr = &sink;
	conn_flush(&c);
	assert_int_equal(c.out.n, 0);
	assert_int_equal(c.queued_bytes, 0);
	conn_trim(&c);
	assert_null(c.out.v);
	assert_int_equal(c.out.cap, 0);
	queue(&c, 3);
	assert_int_equal(c.out.n, 3);
	assert_int_equal(c.queued_bytes, 15);
	conn_flush(&c);
	assert_int_equal(c.out.n, 0);
	/* A small ring is kept: a steady trickle does not reallocate it every tick. */
	conn_trim(&c);
	assert_non_null(c.out.v);
	assert_true(c.out.cap <= CONN_OUT_KEEP);
	ring_release(&c.out);
}

/* Drains c completely through a socket that takes everything. */
static void
drain(struct conn *c)
{
	static struct conn_transport sink = {.sendv = sink_sendv};

	c->tr = &sink;
	conn_flush(c);
	assert_int_equal(c->out.n, 0);
}

static void
test_trim_at_the_limit(void **state)
{
	struct conn_loop loop = {0};
	struct conn_transport full = {.sendv = full_sendv};
	struct conn c = {.loop = &loop, .fd = -1, .tr = &full};

	/* The ring doubles from 8, so CONN_OUT_KEEP chunks fill a ring of exactly that many. */
	queue(&c, CONN_OUT_KEEP);
	assert_int_equal(c.out.cap, CONN_OUT_KEEP);
	drain(&c);
	conn_trim(&c);
	assert_non_null(c.out.v);
	assert_int_equal(c.out.cap, CONN_OUT_KEEP);
	/* One chunk more doubles it past the limit: that ring is given back. */
	c.tr = &full;
	queue(&c, CONN_OUT_KEEP + 1);
	assert_int_equal(c.out.cap, 2 * CONN_OUT_KEEP);
	drain(&c);
	conn_trim(&c);
	assert_null(c.out.v);
	assert_int_equal(c.out.cap, 0);
}

/* A socket whose peer has gone: every write fails. */
static ssize_t
reset_sendv(struct conn *c, const struct iovec *iov, int n)
{
	return -ECONNRESET;
}

static int closes, close_error;

static void
count_close(struct conn *c, const char *reason, int error)
{
	closes++;
	close_error = error;
}

static long
never_a_frame(const uint8_t *buf, size_t len, const char **reason)
{
	return 0;
}

/*
 * A write that fails inside conn_loop_flush(), called by an owner in the
 * middle of its work, must not run on_close (which frees the owner's state)
 * under it: the connection is marked failed and closed from the loop.
 */
static void
test_failed_write_closes_from_the_loop(void **state)
{
	static const struct conn_callbacks cb = {.frame_check = never_a_frame,
						 .on_close = count_close};
	static const struct conn_transport reset = {.sendv = reset_sendv};
	struct conn_loop loop;
	sd_event *e;
	struct conn *c;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(sd_event_new(&e), 0);
	assert_int_equal(conn_loop_init(&loop, e), 0);
	c = conn_new(&loop, sv[0], false, &cb, NULL, "test");
	assert_non_null(c);
	c->tr = &reset;
	closes = 0;
	queue(c, 2);
	conn_loop_flush(&loop);
	assert_int_equal(closes, 0);
	assert_true(c->failed);
	/* Sends after the failure are refused, not queued. */
	{
		struct blob *bl = blob_new("x", 1);
		assert_int_equal(conn_send_blob(c, bl), -EPIPE);
		blob_unref(bl);
	}
	/* The loop closes it, once, with the write's error. */
	assert_true(sd_event_run(e, 0) > 0);
	assert_int_equal(closes, 1);
	assert_int_equal(close_error, ECONNRESET);
	(void)sd_event_run(e, 0);
	assert_int_equal(closes, 1);
	conn_loop_done(&loop);
	sd_event_unref(e);
	close(sv[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_room_at_the_limit),
	    cmocka_unit_test(test_room_empty_or_unlimited),
	    cmocka_unit_test(test_trim_after_a_burst),
	    cmocka_unit_test(test_trim_at_the_limit),
	    cmocka_unit_test(test_failed_write_closes_from_the_loop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
