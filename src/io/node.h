/* SPDX-License-Identifier: MIT */
/* A protocol core (core/peer.h, core/seed.h) run on sd-event: its links are conns, its wake-ups timers. */
#ifndef GOSSIP_IO_NODE_H
#define GOSSIP_IO_NODE_H

#include <stdbool.h>

#include <systemd/sd-event.h>

#include "conn.h"
#include "tls.h"
#include "core/env.h"
#include "core/hostcount.h"
#include "core/ratelimit.h"

/* The inputs of one core, as the glue calls them. */
struct node_inputs {
	struct link *(*accept)(void *core, void *io, const struct node_addr *remote, struct instant t);
	void (*connected)(void *core, struct link *lk, struct instant t);
	int (*frame)(void *core, struct link *lk, const uint8_t *frame, size_t len, bool last_in_read,
		     struct instant t, const char **reason);
	void (*closed)(void *core, struct link *lk, const char *reason, int error, struct instant t);
	void (*wakeup)(void *core, enum wake_class cls, struct instant t);
	/*
	 * Optional: whether connections from remote get the slots kept free
	 * of the global handshake limit (the peer's seeds, whose probes must
	 * get through a flood of others).
	 */
	bool (*reserved)(void *core, const struct node_addr *remote);
	/* Optional: the answer to env_ops.resolve (n addresses, or none and why). */
	void (*resolved)(void *core, uint64_t token, const struct node_addr *addrs, size_t n,
			 const char *error, struct instant t);
};

struct node_io {
	sd_event *event;
	struct conn_loop *loop;
	const struct node_inputs *in;
	void *core;
	struct env env; /* what the core is given: ops below, ctx this struct */
	struct env_ops ops;
	sd_event_source *wake[WAKE_CLASSES];
	struct tls_ctx *tls; /* NULL: plaintext (tls.mode off) */
	unsigned handshaking; /* accepted connections before their handshake is done */
	struct host_counts handshaking_hosts; /* of them, per source IP address */
	struct node_addr source; /* where outgoing connections leave from (family 0: anywhere) */
	struct ratelimit refused_log;
	uint64_t plaintext_refused, handshakes_failed, handshakes_refused;
	/* The program's part of the environment: may be NULL. */
	void (*deliver)(void *ctx, const struct delivery *d);
	void (*notice)(void *ctx, enum notice what);
	void (*remember)(void *ctx, const uint8_t *id, uint64_t stamp);
	/* Whether an event of the core goes to the journal or stderr (else to the log file only). */
	bool (*log_gate)(void *ctx, const struct log_fields *f);
	void *ctx;
	struct resolver *resolver; /* env_ops.resolve: the program's (io/resolve.h) */
};

/*
 * Sets up io for core on loop; deliver and notice (either may be NULL) get
 * ctx. io->env is what to give the core's init. Log events go to io/log.h.
 */
void node_io_init(struct node_io *io, struct conn_loop *loop, const struct node_inputs *in,
		  void *core, void (*deliver)(void *ctx, const struct delivery *d),
		  void (*notice)(void *ctx, enum notice what), void *ctx);
void node_io_done(struct node_io *io);
/* An accepted socket from remote for the core: refused (closed) when the core says so. */
void node_io_accept(struct node_io *io, int fd, const struct node_addr *remote);
/* The program keeps the ids of messages held (env_ops.remember), with the same ctx. */
void node_io_set_remember(struct node_io *io,
			  void (*remember)(void *ctx, const uint8_t *id, uint64_t stamp));
/*
 * Names the core asks for (env_ops.resolve) are looked up on r, which must
 * outlive io; the answers go to the core's resolved input.
 */
void node_io_set_resolver(struct node_io *io, struct resolver *r);
/* The program decides which of the core's events reach the journal, with the same ctx. */
void node_io_set_log_gate(struct node_io *io,
			  bool (*gate)(void *ctx, const struct log_fields *f));
/* Outgoing connections leave from a's IP address, where the host has it (see conn_connect()). */
void node_io_set_source(struct node_io *io, const struct node_addr *a);
/* The TLS configuration for connections from now on (a reference is taken; NULL: plaintext). */
void node_io_set_tls(struct node_io *io, struct tls_ctx *t);
/*
 * Accepted connections still in their TLS handshake, at most (more are
 * refused), and of them from one IP address: one host cannot hold them all.
 * Reserved sources (node_inputs.reserved) are held to the second only.
 */
#define NODE_IO_MAX_HANDSHAKES 256
#define NODE_IO_MAX_HANDSHAKES_PER_HOST 16

/* The conn a link of this core runs on (NULL once closed). */
struct conn *node_io_conn(const struct link *lk);

#endif
