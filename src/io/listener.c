/* SPDX-License-Identifier: MIT */
/* Accepting connections on a listening socket: one loop for the seed, the peer and the control socket. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

#include "listener.h"
#include "log.h"

static int
on_ready(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct listener *l = userdata;

	for (unsigned i = 0; i < l->batch; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("%s%saccept failed: %s", l->what ? l->what : "",
					 l->what ? ": " : "", strerror(errno));
			break;
		}
		if (ss.ss_family == AF_UNIX)
			sl = 0;
		l->on_accept(l->ctx, cfd, &ss, sl);
	}
	return 0;
}

int
listener_start(struct listener *l, sd_event *e, int fd, unsigned batch, const char *what,
	       void (*on_accept)(void *ctx, int fd, const struct sockaddr_storage *ss, socklen_t sl),
	       void *ctx)
{
	*l = (struct listener){.fd = fd, .batch = batch, .what = what, .on_accept = on_accept,
			       .ctx = ctx};
	return sd_event_add_io(e, &l->src, fd, EPOLLIN, on_ready, l);
}

void
listener_stop(struct listener *l)
{
	l->src = sd_event_source_disable_unref(l->src);
}
