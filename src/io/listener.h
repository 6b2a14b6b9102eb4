/* SPDX-License-Identifier: MIT */
/* Accepting connections on a listening socket: one loop for the seed, the peer and the control socket. */
#ifndef GOSSIP_IO_LISTENER_H
#define GOSSIP_IO_LISTENER_H

#include <stdbool.h>
#include <sys/socket.h>

#include <systemd/sd-event.h>

/*
 * Takes up to `batch` connections per wake-up (then yields to the rest of
 * the loop), non-blocking and close-on-exec, and hands each to on_accept
 * with the remote's address (sl 0 for AF_UNIX).
 */
struct listener {
	int fd;
	unsigned batch;
	const char *what; /* for log lines: "control socket", or NULL */
	void (*on_accept)(void *ctx, int fd, const struct sockaddr_storage *ss, socklen_t sl);
	void *ctx;
	sd_event_source *src;
};

/* Starts watching fd (which stays the caller's): 0 or -errno. */
int listener_start(struct listener *l, sd_event *e, int fd, unsigned batch, const char *what,
		   void (*on_accept)(void *ctx, int fd, const struct sockaddr_storage *ss,
				     socklen_t sl),
		   void *ctx);
/* Stops accepting; fd stays open (connections wait in its queue) until the caller closes it. */
void listener_stop(struct listener *l);

#endif
