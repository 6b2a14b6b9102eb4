/* SPDX-License-Identifier: MIT */
/* Helpers of the cores' environment interface: formatted log events, queue room. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env.h"

/* Formats and emits one event, note (may be "") after the message. */
static void
vemit(const struct env *env, int prio, const struct log_fields *f, const char *file, int line,
      const char *func, const char *note, const char *fmt, va_list ap)
{
	char stack[1024], *msg = stack;
	size_t extra = strlen(note);
	va_list copy;
	int n;

	va_copy(copy, ap);
	n = vsnprintf(stack, sizeof(stack), fmt, ap);
	if (n >= 0 && (size_t)n + extra >= sizeof(stack)) {
		msg = xmalloc((size_t)n + extra + 1);
		vsnprintf(msg, (size_t)n + 1, fmt, copy);
	}
	va_end(copy);
	if (n < 0)
		return;
	memcpy(msg + n, note, extra + 1);
	env->ops->log(env->ctx, prio, f, file, line, func, msg);
	if (msg != stack)
		free(msg);
}

void
env_emit(const struct env *env, int prio, const struct log_fields *f, const char *file, int line,
	 const char *func, const char *fmt, ...)
{
	va_list ap;

	if (!env_log_enabled(env, prio) || !env->ops->log)
		return;
	va_start(ap, fmt);
	vemit(env, prio, f, file, line, func, "", fmt, ap);
	va_end(ap);
}

void
env_emit_limited(const struct env *env, struct ratelimit *rl, uint64_t now, int prio,
		 const struct log_fields *f, const char *file, int line, const char *func,
		 const char *fmt, ...)
{
	char note[RATELIMIT_NOTE_LEN];
	va_list ap;

	if (!env_log_enabled(env, prio) || !env->ops->log || !ratelimit_pass_note(rl, now, note))
		return;
	va_start(ap, fmt);
	vemit(env, prio, f, file, line, func, note, fmt, ap);
	va_end(ap);
}

bool
queue_room_for(size_t queued, size_t limit, size_t len, size_t keep)
{
	if (!limit || !queued)
		return true;
	return keep < limit && queued + len <= limit - keep;
}
