/* SPDX-License-Identifier: MIT */
/* What a protocol core asks of the world: its effects (send, connect, close, wake, deliver, log). */
#ifndef GOSSIP_CORE_ENV_H
#define GOSSIP_CORE_ENV_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <syslog.h>

#include "buf.h"
#include "identity.h"
#include "ratelimit.h"
#include "util.h"

/*
 * The protocol cores (peer.h, seed.h) never touch a socket, a clock, a file
 * or the log. Time comes in with every input; what a core wants done goes
 * out through these operations, which the daemons implement on sd-event
 * (src/io, src/peer, src/seed), the unit tests record, and the simulator
 * (tests/sim) carries out on a virtual network.
 *
 * Rules that keep the cores simple:
 * - An operation never calls back into the core. A connection that fails
 *   while the core sends on it is reported later, as an input.
 * - A link the core closes is forgotten by both sides at once: the
 *   environment never reports anything more about it.
 */

/* Two moments: the monotonic clock (every deadline) and the wall clock (timestamps). */
struct instant {
	uint64_t mono; /* usec */
	uint64_t real; /* usec since the Unix epoch */
};

/* Structured fields of a log event (journal fields GOSSIP_*, MESSAGE_ID). */
struct log_fields {
	const char *event;  /* GOSSIP_EVENT: registered, removed, received, sent, dead, ... */
	const char *msg_id; /* GOSSIP_MSG_ID: sha256 hex */
	const char *origin; /* GOSSIP_ORIGIN: ip:port */
	const char *remote; /* GOSSIP_REMOTE: ip:port */
	const char *sd_id;  /* MESSAGE_ID: 32 hex digits, for catalogued events */
};

/* MESSAGE_ID values of catalogued events (see the journal catalog). */
#define GOSSIP_SD_ID_PEER_REGISTERED "5b1d0a3e8c7f4e2a9d6b1c0f3a7e5d21"
#define GOSSIP_SD_ID_PEER_REMOVED "8e2f6c1a4b9d4f7e8a3c5b2d1e0f9a42"
#define GOSSIP_SD_ID_DEAD_NODE "c3a94f0e7b2d48e1a6f5d9c8b7e2a163"
#define GOSSIP_SD_ID_RECEIVED "1f7e3b9a5c2d4e6f8a0b1c2d3e4f5a84"
#define GOSSIP_SD_ID_SENT "a6d2c8e4f0b14a3c9e7d5b3a1f0e8c95"
#define GOSSIP_SD_ID_READY "0d4b8f2a6e1c4d9b8f3a7e6c5d4b3a26"

/* What a connection is for, to the core that owns it. */
enum link_kind {
	LINK_PENDING,   /* inbound, waiting for HELLO */
	LINK_NEIGHBOUR, /* peer to peer */
	LINK_PROBE,     /* a seed's liveness probe: inbound at a peer, outbound at a seed */
	LINK_SEED,      /* peer to seed, or a client at a seed */
	LINK_IPROBE,    /* a peer's probe of a node for a neighbour that asked (PING_REQ) */
	LINK_MEMBERS,   /* a peer's question to a seed for gossipctl members (members.c) */
};

/* Remote description of a link for log lines: an address, or "control pid N". */
#define LINK_DESC_LEN (NODE_ADDR_STRLEN + 16)

/*
 * One connection as a core sees it. The core allocates it and gives it to
 * the environment (connect, or the return of an accept input); the
 * environment keeps its own handle in io.
 */
struct link {
	enum link_kind kind;
	void *owner;        /* the core's object using it (a neighbour, a seed link, a probe) */
	void *io;           /* the environment's handle */
	bool outbound;
	uint64_t opened_at;
	size_t queue_limit; /* bytes queued to it at most; a send beyond is refused */
	/*
	 * The largest frame it may send (0: any the protocol allows); a longer
	 * one, even a partial one, closes it. Links not yet trusted with more
	 * get a small cap, so a remote cannot make the node buffer much.
	 */
	size_t max_frame;
	/* The remote end: its address (for an accepted link, where it connects from). */
	struct node_addr remote;
	uint64_t last_heard; /* monotonic: its last frame, or its opening (core's use) */
	/*
	 * The remote's verified certificate (TLS), set by the environment before
	 * the accept or connected input and valid while the link is; NULL on a
	 * plaintext link.
	 */
	const struct identity *identity;
	char desc[LINK_DESC_LEN];
	struct link *prev, *next; /* the core's list of links of its kind */
};

/* What the environment knows of a link's traffic (env_ops.progress). */
struct link_progress {
	size_t queued;      /* bytes waiting to be written */
	uint64_t bytes_out; /* written so far */
	int unread;         /* bytes received and not read yet (asked for only when wanted) */
};

/* Wake-up classes: an idle wake-up runs only once pending input is handled. */
enum wake_class {
	WAKE_NORMAL,
	WAKE_IDLE,
	WAKE_CLASSES,
};

/* A message delivered, for the peer's output, journal, history and followers. */
struct delivery {
	const uint8_t *id;
	const struct node_addr *from; /* the neighbour it came from */
	const char *from_str;
	const struct node_addr *origin;
	uint64_t timestamp; /* at the origin, unix usec */
	uint64_t seq;
	uint64_t received; /* unix usec */
	const uint8_t *payload;
	uint32_t len;
	struct blob *frame; /* holds the payload; a reference may be taken */
};

/* Things that changed, for the program around the core. */
enum notice {
	NOTICE_STATUS,  /* something its status line shows */
	NOTICE_READY,   /* the peer is ready (registered with a seed majority) */
	NOTICE_TICK,    /* the periodic tick ran: housekeeping may run too */
	NOTICE_STOPPED, /* leaving is done: the program may exit */
	NOTICE_MEMBERS, /* a membership query is answered (members.h) */
};

struct env_ops {
	/* Starts connecting lk to `to`: 0, or -errno when it failed at once (lk unused then). */
	int (*connect)(void *ctx, struct link *lk, const struct node_addr *to);
	/*
	 * Queues frame on lk (a reference is taken): 0, -ENOBUFS when it would
	 * take the queue over lk->queue_limit (nothing queued), -EPIPE when the
	 * link is going away.
	 */
	int (*send)(void *ctx, struct link *lk, struct blob *frame);
	/* Bytes queued on lk and not yet written. */
	size_t (*queued)(void *ctx, const struct link *lk);
	/* Traffic of lk, unread bytes only when want_unread (it may cost a system call). */
	void (*progress)(void *ctx, const struct link *lk, bool want_unread, struct link_progress *ret);
	/*
	 * Closes lk now, or once what is queued is written (after_flush). Either
	 * way the core forgets lk and the environment reports nothing more of it.
	 */
	void (*close)(void *ctx, struct link *lk, const char *reason, int error, bool after_flush);
	/* Writes what is queued on every link now rather than at the end of this round. */
	void (*flush)(void *ctx);
	/* Calls the core's wakeup input for cls at `at` (monotonic usec); 0 cancels. */
	void (*wake)(void *ctx, enum wake_class cls, uint64_t at);
	void (*deliver)(void *ctx, const struct delivery *d);
	/* A log event; file, line and func name the core's call site. */
	void (*log)(void *ctx, int prio, const struct log_fields *f, const char *file, int line,
		    const char *func, const char *msg);
	/*
	 * Optional, with TLS: signs msg with this node's key (Ed25519): 0, or
	 * -errno. And checks a certificate (DER) against the cluster CA, its
	 * dates and revocation: 0 with *ret filled (ret->cert a new reference
	 * for the caller), or -errno with *reason.
	 */
	int (*sign)(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64]);
	int (*verify_cert)(void *ctx, const uint8_t *der, size_t len, struct identity *ret,
			   const char **reason);
	void (*notice)(void *ctx, enum notice what);
	/*
	 * Optional: the node now holds message id (delivered, or sent by it),
	 * stamped by its origin (unix usec). The program may persist it, and
	 * give it back with peer_node_remember() after a restart.
	 */
	void (*remember)(void *ctx, const uint8_t *id, uint64_t stamp);
	/*
	 * Optional: looks the host name up (its addresses of family, with
	 * port), without waiting for it. The answer comes later as the core's
	 * resolved input, with token; never from within this call.
	 */
	void (*resolve)(void *ctx, uint64_t token, const char *host, uint16_t port, int family);
};

struct env {
	const struct env_ops *ops;
	void *ctx;
	int max_prio; /* log events above this priority are not even formatted */
};

/* Formats and emits a log event through env (a no-op above env->max_prio). */
void env_emit(const struct env *env, int prio, const struct log_fields *f, const char *file,
	      int line, const char *func, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
#define env_logf(env, prio, f, ...) env_emit(env, prio, f, __FILE__, __LINE__, __func__, __VA_ARGS__)

/*
 * env_emit() for a line a remote can cause: written only when the rate
 * limit rl lets it pass at now, with " (N similar lines suppressed)" after
 * it when lines were held back since the last one.
 */
void env_emit_limited(const struct env *env, struct ratelimit *rl, uint64_t now, int prio,
		      const struct log_fields *f, const char *file, int line, const char *func,
		      const char *fmt, ...) __attribute__((format(printf, 9, 10)));
#define env_logf_limited(env, rl, now, prio, f, ...)                                               \
	env_emit_limited(env, rl, now, prio, f, __FILE__, __LINE__, __func__, __VA_ARGS__)

static inline bool
env_log_enabled(const struct env *env, int prio)
{
	return prio <= env->max_prio;
}

/*
 * Whether a frame of len bytes may be queued behind `queued` bytes and still
 * leave keep bytes of limit free. An empty queue takes any frame (within the
 * limit, as send checks), so that a frame larger than the share still goes.
 * A limit of 0 means none.
 */
bool queue_room_for(size_t queued, size_t limit, size_t len, size_t keep);

#endif
