/* SPDX-License-Identifier: MIT */
/* Rate limits for log lines a remote can cause: a burst per window, then a count of the rest. */
#include <stdio.h>

#include "ratelimit.h"

bool
ratelimit_pass(struct ratelimit *r, uint64_t now, uint64_t *suppressed)
{
	uint32_t burst = r->burst ? r->burst : RATELIMIT_BURST;

	if (!r->window_start || now - r->window_start >= RATELIMIT_WINDOW_USEC) {
		r->window_start = now ? now : 1;
		r->passed = 0;
	}
	if (r->passed >= burst) {
		r->suppressed++;
		r->total_suppressed++;
		return false;
	}
	r->passed++;
	*suppressed = r->suppressed;
	r->suppressed = 0;
	return true;
}

bool
ratelimit_pass_note(struct ratelimit *r, uint64_t now, char note[RATELIMIT_NOTE_LEN])
{
	uint64_t suppressed;

	note[0] = '\0';
	if (!ratelimit_pass(r, now, &suppressed))
		return false;
	if (suppressed)
		snprintf(note, RATELIMIT_NOTE_LEN, " (%llu similar lines suppressed)",
			 (unsigned long long)suppressed);
	return true;
}
