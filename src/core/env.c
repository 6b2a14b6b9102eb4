/* SPDX-License-Identifier: MIT */
/* Helpers of the cores' environment interface: formatted log events, queue room. */
#include <stdio.h>
#include <stdlib.h>

#include "env.h"

void
env_emit(const struct env *env, int prio, const struct log_fields *f, const char *file, int line,
	 const char *func, const char *fmt, ...)
{
	char stack[1024], *msg = stack;
	va_list ap;
	int n;

	if (!env_log_enabled(env, prio) || !env->ops->log)
		return;
	va_start(ap, fmt);
	n = vsnprintf(stack, sizeof(stack), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(stack)) {
		msg = xmalloc((size_t)n + 1);
		va_start(ap, fmt);
		vsnprintf(msg, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	env->ops->log(env->ctx, prio, f, file, line, func, msg);
	if (msg != stack)
		free(msg);
}

bool
queue_room_for(size_t queued, size_t limit, size_t len, size_t keep)
{
	if (!limit || !queued)
		return true;
	return keep < limit && queued + len <= limit - keep;
}
