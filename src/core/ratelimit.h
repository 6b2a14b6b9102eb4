/* SPDX-License-Identifier: MIT */
/* Rate limits for log lines a remote can cause: a burst per window, then a count of the rest. */
#ifndef GOSSIP_CORE_RATELIMIT_H
#define GOSSIP_CORE_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

/* Lines of one kind allowed per window, and the window. */
#define RATELIMIT_BURST 10
#define RATELIMIT_WINDOW_USEC (10 * 1000000ULL)

/*
 * One kind of line. A line passes when fewer than RATELIMIT_BURST passed in
 * the current window; the others are counted, and the first line of a later
 * window reports how many were suppressed.
 */
struct ratelimit {
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

#endif
