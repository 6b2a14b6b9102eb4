/* SPDX-License-Identifier: MIT */
/* A protocol core (core/peer.h, core/seed.h) run on sd-event: its links are conns, its wake-ups timers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "node.h"
#include "resolve.h"
#include "tls.h"
#include "core/wire.h"

/* A conn's owner: the link the core knows it by, or NULL once the core has let go of it. */
struct node_conn {
	struct node_io *io;
	struct link *lk;
	bool accepting; /* accepted, its handshake not done: the core has not seen it yet */
	struct node_addr remote;
	char desc[LINK_DESC_LEN];
};

static int on_frame(struct conn *c, const uint8_t *frame, size_t len, const char **reason);
static void on_connected(struct conn *c);
static void on_close(struct conn *c, const char *reason, int error);

static const struct conn_callbacks node_callbacks = {
	.frame_check = wire_frame_check,
	.on_frame = on_frame,
	.on_connected = on_connected,
	.on_close = on_close,
};

static int
on_frame(struct conn *c, const uint8_t *frame, size_t len, const char **reason)
{
	struct node_conn *nc = c->userdata;
	int r;

	if (!nc->lk)
		return 0; /* the core closed it; what is still read is of no interest */
	r = nc->io->in->frame(nc->io->core, nc->lk, frame, len, c->last_in_chunk, instant_now(),
			      reason);
	/*
	 * The frame may have changed what the link is (a pending link becoming
	 * a neighbour's), or closed it: then on_close has freed nc.
	 */
	nc = c->userdata;
	if (nc && nc->lk)
		c->max_frame = nc->lk->max_frame;
	return r;
}

/* An accepted connection leaves its handshake (done, or closed). */
static void
handshake_over(struct node_io *io, struct node_conn *nc)
{
	nc->accepting = false;
	io->handshaking--;
	host_counts_sub(&io->handshaking_hosts, &nc->remote);
}

/* The core's accept of a connection now ready (its TLS handshake done, when TLS). */
static void
accept_ready(struct node_io *io, struct conn *c, struct node_conn *nc)
{
	handshake_over(io, nc);
	nc->lk = io->in->accept(io->core, c, &nc->remote, instant_now());
	if (!nc->lk) {
		conn_close(c, "refused", 0);
		return;
	}
	nc->lk->identity = tls_identity(c);
	c->queue_limit = nc->lk->queue_limit;
	c->max_frame = nc->lk->max_frame;
}

static void
on_connected(struct conn *c)
{
	struct node_conn *nc = c->userdata;

	if (nc->accepting) {
		accept_ready(nc->io, c, nc);
		return;
	}
	if (nc->lk) {
		nc->lk->identity = tls_identity(c);
		nc->io->in->connected(nc->io->core, nc->lk, instant_now());
	}
}

/* An accepted connection that never reached the core: a refused plaintext one, a failed handshake. */
static void
log_unaccepted(struct node_io *io, struct node_conn *nc, const char *reason, int error)
{
	char more[RATELIMIT_NOTE_LEN];

	handshake_over(io, nc);
	if (error == EPROTONOSUPPORT)
		io->plaintext_refused++;
	else if (error)
		io->handshakes_failed++;
	if (!error || !ratelimit_pass_note(&io->refused_log, now_monotonic_usec(), more))
		return;
	if (error == EPROTONOSUPPORT)
		log_warn("refusing plaintext connection from %s: tls.mode is required%s", nc->desc,
			 more);
	else
		log_warn("connection from %s closed before it was accepted: %s%s%s%s", nc->desc,
			 reason, error == EPROTO ? "" : ": ", error == EPROTO ? "" : strerror(error),
			 more);
}

static void
on_close(struct conn *c, const char *reason, int error)
{
	struct node_conn *nc = c->userdata;
	struct node_io *io = nc->io;
	struct link *lk = nc->lk;

	if (nc->accepting)
		log_unaccepted(io, nc, reason, error);
	free(nc);
	c->userdata = NULL;
	if (lk) {
		lk->io = NULL;
		io->in->closed(io->core, lk, reason, error, instant_now());
	}
}

static struct conn *
conn_of(const struct link *lk)
{
	return lk->io;
}

static int
op_connect(void *ctx, struct link *lk, const struct node_addr *to)
{
	struct node_io *io = ctx;
	struct node_conn *nc = xcalloc(1, sizeof(*nc));
	struct conn *c;
	int r;

	*nc = (struct node_conn){.io = io, .lk = lk};
	r = conn_connect(io->loop, to, io->source.family ? &io->source : NULL, &node_callbacks, nc, &c);
	if (r < 0) {
		free(nc);
		return r;
	}
	if (io->tls && tls_client(c, io->tls) < 0) {
		nc->lk = NULL;
		conn_close(c, "out of memory for TLS", ENOMEM);
		return -ENOMEM;
	}
	c->queue_limit = lk->queue_limit;
	c->max_frame = lk->max_frame;
	lk->io = c;
	return 0;
}

static int
op_send(void *ctx, struct link *lk, struct blob *frame)
{
	struct conn *c = conn_of(lk);

	/* The core may change a link's limit (a pending link becoming a neighbour's). */
	c->queue_limit = lk->queue_limit;
	return conn_send_blob(c, frame);
}

static size_t
op_queued(void *ctx, const struct link *lk)
{
	return conn_of(lk)->queued_bytes;
}

static void
op_progress(void *ctx, const struct link *lk, bool want_unread, struct link_progress *ret)
{
	struct conn *c = conn_of(lk);
	int unread = 0;

	ret->queued = c->queued_bytes;
	ret->bytes_out = c->bytes_out;
	ret->unread = want_unread && ioctl(c->fd, FIONREAD, &unread) == 0 ? unread : 0;
	/* Asked once a tick: the time to give back a burst's send ring. */
	conn_trim(c);
}

static void
op_close(void *ctx, struct link *lk, const char *reason, int error, bool after_flush)
{
	struct conn *c = conn_of(lk);
	struct node_conn *nc;

	if (!c)
		return;
	nc = c->userdata;
	nc->lk = NULL;
	lk->io = NULL;
	if (after_flush)
		conn_close_after_flush(c, reason);
	else
		conn_close(c, reason, error);
}

static void
op_flush(void *ctx)
{
	struct node_io *io = ctx;

	conn_loop_flush(io->loop);
}

static int
on_wake(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct node_io *io = userdata;
	enum wake_class cls = src == io->wake[WAKE_IDLE] ? WAKE_IDLE : WAKE_NORMAL;

	io->in->wakeup(io->core, cls, instant_now());
	return 0;
}

static void
op_wake(void *ctx, enum wake_class cls, uint64_t at)
{
	struct node_io *io = ctx;
	sd_event_source **src = &io->wake[cls];

	if (!at) {
		if (*src)
			sd_event_source_set_enabled(*src, SD_EVENT_OFF);
		return;
	}
	if (!*src) {
		if (sd_event_add_time(io->event, src, CLOCK_MONOTONIC, at, 500, on_wake, io) < 0 ||
		    sd_event_source_set_priority(*src, cls == WAKE_IDLE ? SD_EVENT_PRIORITY_NORMAL + 1
								     : SD_EVENT_PRIORITY_NORMAL) < 0) {
			log_error("cannot add a timer: out of memory");
			abort();
		}
		return;
	}
	sd_event_source_set_time(*src, at);
	sd_event_source_set_enabled(*src, SD_EVENT_ONESHOT);
}

static void
op_log(void *ctx, int prio, const struct log_fields *f, const char *file, int line,
       const char *func, const char *msg)
{
	struct node_io *io = ctx;

	if (f && io->log_gate && !io->log_gate(io->ctx, f))
		log_file_only(prio, "%s", msg);
	else
		log_emit(prio, file, line, func, f, "%s", msg);
}

static int
op_sign(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64])
{
	struct node_io *io = ctx;

	return io->tls ? tls_ctx_sign(io->tls, msg, len, sig) : -ENOKEY;
}

static int
op_verify_cert(void *ctx, const uint8_t *der, size_t len, struct identity *ret, const char **reason)
{
	struct node_io *io = ctx;

	memset(ret, 0, sizeof(*ret));
	if (!io->tls) {
		*reason = "no TLS configured";
		return -ENOKEY;
	}
	return tls_ctx_verify_cert(io->tls, der, len, ret, reason);
}

static void
op_deliver(void *ctx, const struct delivery *d)
{
	struct node_io *io = ctx;

	if (io->deliver)
		io->deliver(io->ctx, d);
}

static void
op_remember(void *ctx, const uint8_t *id, uint64_t stamp)
{
	struct node_io *io = ctx;

	io->remember(io->ctx, id, stamp);
}

void
node_io_set_remember(struct node_io *io,
		     void (*remember)(void *ctx, const uint8_t *id, uint64_t stamp))
{
	io->remember = remember;
	io->ops.remember = remember ? op_remember : NULL;
}

void
node_io_set_log_gate(struct node_io *io, bool (*gate)(void *ctx, const struct log_fields *f))
{
	io->log_gate = gate;
}

static void
resolve_answered(void *userdata, uint64_t token, const struct resolve_result *res)
{
	struct node_io *io = userdata;

	io->in->resolved(io->core, token, res->addrs, res->n, res->error, instant_now());
}

/* A lookup that cannot start is not answered: the core asks again later. */
static void
op_resolve(void *ctx, uint64_t token, const char *host, uint16_t port, int family)
{
	struct node_io *io = ctx;
	int r;

	if ((r = resolver_query(io->resolver, host, port, family, resolve_answered, io, token)) < 0)
		log_warn("cannot look %s up: %s", host, strerror(-r));
}

void
node_io_set_resolver(struct node_io *io, struct resolver *r)
{
	io->resolver = r;
	io->ops.resolve = r && io->in->resolved ? op_resolve : NULL;
}

static void
op_notice(void *ctx, enum notice what)
{
	struct node_io *io = ctx;

	if (io->notice)
		io->notice(io->ctx, what);
}

void
node_io_init(struct node_io *io, struct conn_loop *loop, const struct node_inputs *in, void *core,
	     void (*deliver)(void *ctx, const struct delivery *d),
	     void (*notice)(void *ctx, enum notice what), void *ctx)
{
	struct rng rng;

	memset(io, 0, sizeof(*io));
	io->event = loop->event;
	io->loop = loop;
	io->in = in;
	io->core = core;
	io->deliver = deliver;
	io->notice = notice;
	io->ctx = ctx;
	io->ops = (struct env_ops){
		.connect = op_connect,
		.send = op_send,
		.queued = op_queued,
		.progress = op_progress,
		.close = op_close,
		.flush = op_flush,
		.wake = op_wake,
		.deliver = op_deliver,
		.log = op_log,
		.sign = op_sign,
		.verify_cert = op_verify_cert,
		.notice = op_notice,
	};
	io->env = (struct env){.ops = &io->ops, .ctx = io,
			       .max_prio = log_enabled(LOG_DEBUG) ? LOG_DEBUG : LOG_INFO};
	rng_seed_random(&rng);
	host_counts_init(&io->handshaking_hosts, rng_next(&rng), rng_next(&rng));
}

void
node_io_set_source(struct node_io *io, const struct node_addr *a)
{
	io->source = *a;
	io->source.port = 0;
}

void
node_io_set_tls(struct node_io *io, struct tls_ctx *t)
{
	if (t)
		tls_ctx_ref(t);
	tls_ctx_unref(io->tls);
	io->tls = t;
}

void
node_io_done(struct node_io *io)
{
	if (io->resolver)
		resolver_cancel(io->resolver, io);
	tls_ctx_unref(io->tls);
	io->tls = NULL;
	host_counts_free(&io->handshaking_hosts);
	for (int c = 0; c < WAKE_CLASSES; c++)
		io->wake[c] = sd_event_source_disable_unref(io->wake[c]);
}

/*
 * Whether one more connection from remote may start a TLS handshake: not
 * when its host has NODE_IO_MAX_HANDSHAKES_PER_HOST going, nor (unless it
 * is reserved) when NODE_IO_MAX_HANDSHAKES are.
 */
static bool
handshake_room(struct node_io *io, const struct node_addr *remote, const char *desc)
{
	char more[RATELIMIT_NOTE_LEN];
	const char *why;

	if (host_counts_get(&io->handshaking_hosts, remote) >= NODE_IO_MAX_HANDSHAKES_PER_HOST)
		why = "from that host";
	else if (io->handshaking >= NODE_IO_MAX_HANDSHAKES &&
		 !(io->in->reserved && io->in->reserved(io->core, remote)))
		why = "in all";
	else
		return true;
	io->handshakes_refused++;
	if (ratelimit_pass_note(&io->refused_log, now_monotonic_usec(), more))
		log_warn("refusing connection from %s: %d connections %s already in their TLS "
			 "handshake%s", desc, strcmp(why, "in all") ? NODE_IO_MAX_HANDSHAKES_PER_HOST
								    : NODE_IO_MAX_HANDSHAKES, why, more);
	return false;
}

void
node_io_accept(struct node_io *io, int fd, const struct node_addr *remote)
{
	char desc[NODE_ADDR_STRLEN];
	struct node_conn *nc;
	struct conn *c;

	node_addr_str(remote, desc);
	if (io->tls && !handshake_room(io, remote, desc)) {
		close(fd);
		return;
	}
	nc = xcalloc(1, sizeof(*nc));
	c = conn_new(io->loop, fd, false, &node_callbacks, nc, desc);
	if (!c) {
		free(nc);
		return;
	}
	nc->io = io;
	nc->remote = *remote;
	snprintf(nc->desc, sizeof(nc->desc), "%s", desc);
	nc->accepting = true;
	io->handshaking++;
	host_counts_add(&io->handshaking_hosts, remote);
	/* With TLS, the core sees the connection once its handshake is done (on_connected). */
	if (!io->tls) {
		accept_ready(io, c, nc);
		return;
	}
	c->queue_limit = 64 * 1024;
	if (tls_server(c, io->tls) < 0)
		conn_close(c, "out of memory for TLS", ENOMEM);
}

struct conn *
node_io_conn(const struct link *lk)
{
	return lk->io;
}
