/* SPDX-License-Identifier: MIT */
/* Unit tests for sink.c: whole lines, written at once or batched until sink_flush(). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/sink.h"

struct pipe_pair {
	int r, w;
};

static struct pipe_pair
open_pipe(void)
{
	int fds[2];

	assert_int_equal(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
	/* Larger than SINK_FLUSH_BYTES, so a flush of a full buffer never blocks. */
	fcntl(fds[1], F_SETPIPE_SZ, 4 * SINK_FLUSH_BYTES);
	return (struct pipe_pair){fds[0], fds[1]};
}

/* Everything readable now, NUL-terminated (empty when nothing was written). */
static char *
drain(int fd)
{
	size_t cap = 8 * SINK_FLUSH_BYTES, len = 0;
	char *out = malloc(cap + 1);
	ssize_t n;

	assert_non_null(out);
	while (len < cap && (n = read(fd, out + len, cap - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	return out;
}

static int
line(struct sink *s, const char *a, const char *b)
{
	struct iovec iov[2] = {{(void *)a, strlen(a)}, {(void *)b, strlen(b)}};
	return sink_line(s, iov, 2);
}

static void
test_unbuffered_writes_each_line(void **state)
{
	struct pipe_pair p = open_pipe();
	struct sink s;
	char *got;

	sink_init(&s, p.w);
	assert_int_equal(line(&s, "[stamp] ", "first"), 0);
	got = drain(p.r);
	assert_string_equal(got, "[stamp] first\n");
	free(got);
	assert_int_equal(line(&s, "", "second"), 0);
	got = drain(p.r);
	assert_string_equal(got, "second\n");
	free(got);
	sink_done(&s);
	close(p.r);
	close(p.w);
}

static void
test_buffered_waits_for_flush(void **state)
{
	struct pipe_pair p = open_pipe();
	struct sink s;
	char *got;

	sink_init(&s, p.w);
	sink_set_buffered(&s, true);
	assert_int_equal(line(&s, "a", "1"), 0);
	assert_int_equal(line(&s, "b", "2"), 0);
	got = drain(p.r);
	assert_string_equal(got, "");
	free(got);
	assert_int_equal(sink_flush(&s), 0);
	got = drain(p.r);
	assert_string_equal(got, "a1\nb2\n");
	free(got);
	/* Nothing pending: a flush writes nothing. */
	assert_int_equal(sink_flush(&s), 0);
	got = drain(p.r);
	assert_string_equal(got, "");
	free(got);
	/* Turning buffering off writes what waits. */
	assert_int_equal(line(&s, "c", "3"), 0);
	sink_set_buffered(&s, false);
	got = drain(p.r);
	assert_string_equal(got, "c3\n");
	free(got);
	sink_done(&s);
	close(p.r);
	close(p.w);
}

static void
test_buffered_flushes_at_the_limit(void **state)
{
	struct pipe_pair p = open_pipe();
	struct sink s;
	char *chunk = malloc(1024), *got;
	size_t lines = 0;

	memset(chunk, 'x', 1023);
	chunk[1023] = '\0';
	sink_init(&s, p.w);
	sink_set_buffered(&s, true);
	/* 1024 bytes a line with its newline: the line that reaches the limit is written with it. */
	while ((lines + 1) * 1024 < SINK_FLUSH_BYTES) {
		assert_int_equal(line(&s, chunk, ""), 0);
		lines++;
	}
	got = drain(p.r);
	assert_int_equal(strlen(got), 0);
	free(got);
	assert_int_equal(line(&s, chunk, ""), 0);
	got = drain(p.r);
	assert_int_equal(strlen(got), SINK_FLUSH_BYTES);
	assert_int_equal(got[SINK_FLUSH_BYTES - 1], '\n');
	free(got);
	sink_done(&s);
	free(chunk);
	close(p.r);
	close(p.w);
}

static void
test_done_writes_pending(void **state)
{
	struct pipe_pair p = open_pipe();
	struct sink s;
	char *got;

	sink_init(&s, p.w);
	sink_set_buffered(&s, true);
	assert_int_equal(line(&s, "last", " words"), 0);
	sink_done(&s);
	got = drain(p.r);
	assert_string_equal(got, "last words\n");
	free(got);
	assert_int_equal(s.fd, -1);
	close(p.r);
	close(p.w);
}

static void
test_errors(void **state)
{
	struct pipe_pair p = open_pipe();
	struct sink s;

	/* No fd: lines are dropped, without error. */
	sink_init(&s, -1);
	assert_int_equal(line(&s, "into", " nothing"), 0);
	sink_set_buffered(&s, true);
	assert_int_equal(line(&s, "into", " nothing"), 0);
	assert_int_equal(sink_flush(&s), 0);
	sink_done(&s);

	/* A reader that went away: the error comes back, and what was pending is gone. */
	signal(SIGPIPE, SIG_IGN);
	close(p.r);
	sink_init(&s, p.w);
	assert_int_equal(line(&s, "a", "b"), -EPIPE);
	sink_set_buffered(&s, true);
	assert_int_equal(line(&s, "a", "b"), 0);
	assert_int_equal(sink_flush(&s), -EPIPE);
	assert_int_equal(s.pending.len, 0);
	sink_done(&s);
	close(p.w);
}

/* The contents of path, NUL-terminated. */
static char *
slurp(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *got;

	assert_true(fd >= 0);
	got = drain(fd);
	close(fd);
	return got;
}

/* Log rotation: lines before the reopen in the renamed file, after it in the new one. */
static void
test_reopen_after_rename(void **state)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : P_tmpdir;
	char dir[256], path[300], rotated[300], *got;
	struct sink s;
	int fd;

	snprintf(dir, sizeof(dir), "%s/gossip-test-sink-XXXXXX", tmp);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/output.txt", dir);
	snprintf(rotated, sizeof(rotated), "%s/output.txt.1", dir);
	fd = sink_open_append(path);
	assert_true(fd >= 0);
	sink_init(&s, fd);
	sink_set_buffered(&s, true);
	assert_int_equal(line(&s, "before", ""), 0);
	assert_int_equal(sink_flush(&s), 0);
	assert_int_equal(rename(path, rotated), 0);
	/* Written to the renamed file while it is still open, and pending at the reopen. */
	assert_int_equal(line(&s, "during", ""), 0);
	assert_int_equal(sink_reopen(&s, path), 0);
	assert_int_equal(line(&s, "after", ""), 0);
	sink_done(&s);
	got = slurp(rotated);
	assert_string_equal(got, "before\nduring\n");
	free(got);
	got = slurp(path);
	assert_string_equal(got, "after\n");
	free(got);

	/* The path cannot be opened (a directory now): the old fd is kept, and still written. */
	fd = sink_open_append(path);
	sink_init(&s, fd);
	assert_int_equal(rename(path, rotated), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(sink_reopen(&s, path), -EISDIR);
	assert_int_equal(s.fd, fd);
	assert_int_equal(line(&s, "kept", ""), 0);
	sink_done(&s);
	close(fd);
	got = slurp(rotated);
	assert_string_equal(got, "after\nkept\n");
	free(got);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(unlink(rotated), 0);
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unbuffered_writes_each_line),
	    cmocka_unit_test(test_buffered_waits_for_flush),
	    cmocka_unit_test(test_buffered_flushes_at_the_limit),
	    cmocka_unit_test(test_done_writes_pending),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_reopen_after_rename),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
