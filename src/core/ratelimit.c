/* SPDX-License-Identifier: MIT */
/* Rate limits for log lines a remote can cause: a burst per window, then a count of the rest. */
#include "ratelimit.h"

bool
ratelimit_pass(struct ratelimit *r, uint64_t now, uint64_t *suppressed)
{
	if (!r->window_start || now - r->window_start >= RATELIMIT_WINDOW_USEC) {
		r->window_start = now ? now : 1;
		r->passed = 0;
	}
	if (r->passed >= RATELIMIT_BURST) {
		r->suppressed++;
		r->total_suppressed++;
		return false;
	}
	r->passed++;
	*suppressed = r->suppressed;
	r->suppressed = 0;
	return true;
}
