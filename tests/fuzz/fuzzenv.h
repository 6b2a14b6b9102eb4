/* SPDX-License-Identifier: MIT */
/* For the core targets: tests/unit/fakeenv.h without cmocka (a failed check aborts); framing. */
#ifndef GOSSIP_FUZZENV_H
#define GOSSIP_FUZZENV_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/wire.h"
#include "fuzzdefs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A broken invariant: abort() so that libFuzzer reports the input. */
static inline void __attribute__((noreturn, format(printf, 1, 2)))
fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("fuzz: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

/* What fakeenv.h and testaddr.h take from cmocka. */
#define fail_msg(...) fuzz_fail(__VA_ARGS__)
#define assert_int_equal(a, b)                                                                    \
	do {                                                                                       \
		if ((unsigned long long)(a) != (unsigned long long)(b))                            \
			fuzz_fail("%s:%d: %s != %s", __FILE__, __LINE__, #a, #b);                  \
	} while (0)

#include "fakeenv.h"

_Static_assert(FAKE_REAL0 == FUZZ_REAL0, "fuzzdefs.h and fakeenv.h disagree on the clock");

/* A byte stream cut into frames as a connection cuts it. */
struct fuzz_stream {
	const uint8_t *p;
	size_t left;
	const char *refused; /* the header check refused what follows: why */
};

/*
 * The next complete frame, copied into a buffer of exactly its size (so that
 * AddressSanitizer sees a read past its end), or NULL at the end of the
 * stream, at an incomplete frame or at a header a connection would refuse.
 * *len is its length; the caller frees it.
 */
static inline uint8_t *
fuzz_next_frame(struct fuzz_stream *s, size_t *len)
{
	const char *reason = NULL;
	long n = wire_frame_check(s->p, s->left, &reason);
	uint8_t *frame;

	if (n < 0 && !reason)
		fuzz_fail("wire_frame_check refused a header without a reason");
	if (n < 0)
		s->refused = reason;
	if (n <= 0)
		return NULL;
	if ((size_t)n > s->left || (size_t)n < WIRE_HDR_LEN)
		fuzz_fail("wire_frame_check: %ld bytes of %zu", n, s->left);
	frame = xmalloc((size_t)n);
	memcpy(frame, s->p, (size_t)n);
	s->p += n;
	s->left -= (size_t)n;
	*len = (size_t)n;
	return frame;
}

/*
 * What the connection does where a stream stops before its end: a header it
 * refuses, or a partial frame over the link's max_frame, closes the link
 * (as io/conn.c does); returns the reason, or NULL when the link stays open.
 */
static inline const char *
fuzz_stream_close_reason(const struct fuzz_stream *s, const struct link *lk)
{
	if (s->refused)
		return s->refused;
	if (lk->max_frame && s->left > lk->max_frame)
		return "frame over this connection's size limit";
	return NULL;
}

/* Whether the connection refuses a whole frame of len bytes on lk (its max_frame). */
static inline bool
fuzz_over_limit(const struct link *lk, size_t len)
{
	return lk->max_frame && len > lk->max_frame;
}

/* Checks a core's verdict on a frame: 0, or -EBADMSG with a reason. */
static inline void
fuzz_check_verdict(int r, const char *reason)
{
	if (r != 0 && r != -EBADMSG)
		fuzz_fail("a frame input returned %d", r);
	if (r == -EBADMSG && !reason)
		fuzz_fail("a frame was refused without a reason");
}

#endif
