/* SPDX-License-Identifier: MIT */
/* Rate limits for log lines a remote can cause: a burst per window, then a count of the rest. */
#ifndef GOSSIP_CORE_RATELIMIT_H
#define GOSSIP_CORE_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Lines of one kind allowed per window (unless the limit sets its own burst), and the window. */
#define RATELIMIT_BURST 10
#define RATELIMIT_WINDOW_USEC (10 * 1000000ULL)
/*
 * The burst of the limits on the commonest lines a remote causes (malformed
 * frames, refusals): enough for an operator to see each of a handful of
 * misconfigured nodes, at most about 10 lines a second from any flood.
 */
#define RATELIMIT_REMOTE_BURST 100
/* Room for ratelimit_note()'s text. */
#define RATELIMIT_NOTE_LEN 64

/*
 * One kind of line. A line passes when fewer than `burst` (0:
 * RATELIMIT_BURST) passed in the current window; the others are counted,
 * and the first line of a later window reports how many were suppressed.
 */
struct ratelimit {
	uint32_t burst;
	uint64_t window_start;
	uint32_t passed;
	uint64_t suppressed; /* since the last line that passed */
	uint64_t total_suppressed;
};

/*
 * Whether a line may be written now. When it may, *suppressed is how many
 * were held back before it (to be reported with it), and is reset.
 */
bool ratelimit_pass(struct ratelimit *r, uint64_t now, uint64_t *suppressed);
/*
 * ratelimit_pass() with the report written for the caller: when the line
 * may be written, note is " (N similar lines suppressed)", or empty.
 */
bool ratelimit_pass_note(struct ratelimit *r, uint64_t now, char note[RATELIMIT_NOTE_LEN]);

#endif
