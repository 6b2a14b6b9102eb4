/* SPDX-License-Identifier: MIT */
/* For the core tests: a fake clock and an environment (core/env.h) recording every effect. */
#ifndef GOSSIP_FAKEENV_H
#define GOSSIP_FAKEENV_H

/*
 * Include after <cmocka.h>. The first part is the environment: its
 * operations only record what the core asked for, in order, and never call
 * back into the core (the rule of env.h). Connections are fake_links, the
 * environment's handle (link->io) of each link: they outlive the core's
 * links, so an effect names its link even after the core freed it. The
 * second part gives a core the inputs its environment would: frames,
 * connects, closes and wake-ups at the time they were asked for.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/env.h"
#include "core/peer.h"
#include "core/seed.h"
#include "core/wire.h"
#include "testaddr.h"

/* The clock starts here: 0 means "no deadline" to the cores. */
#define FAKE_T0 (1000000ULL)
/* The wall clock at FAKE_T0 (2023-11-14, in usec since the epoch). */
#define FAKE_REAL0 (1700000000ULL * USEC_PER_SEC)
/* Wake-ups run by one fake_*_run_until at most: a core that keeps asking for "now" is a bug. */
#define FAKE_MAX_WAKEUPS 100000

/* One connection, as the environment knows it. */
struct fake_link {
	unsigned id;          /* 1, 2, ... in the order links appeared */
	struct link *lk;      /* the core's link while open; NULL once closed (the core frees it) */
	bool outbound;
	struct node_addr to;  /* outbound: where it connects */
	char desc[LINK_DESC_LEN];
	enum link_kind kind;  /* at connect or accept */
	bool closed;
	/* What queued() and progress() report: set by the test. */
	size_t queued;
	uint64_t bytes_out;
	int unread;
};

enum fake_kind {
	FX_CONNECT,
	FX_SEND,
	FX_CLOSE,
	FX_FLUSH,
	FX_WAKE,
	FX_DELIVER,
	FX_LOG,
	FX_NOTICE,
};

struct fake_delivery {
	uint8_t id[WIRE_ID_LEN];
	struct node_addr from, origin;
	uint64_t timestamp, seq;
	uint8_t *payload;
	uint32_t len;
};

/* A log event: the priority, copies of the fields that were set (else NULL) and the message. */
struct fake_log {
	int prio;
	char *event, *msg_id, *origin, *remote, *sd_id;
	char *msg;
};

/* One effect. A send of several frames in one blob is recorded as one FX_SEND per frame. */
struct fake_effect {
	enum fake_kind kind;
	struct fake_link *link; /* FX_CONNECT (NULL when it failed at once), FX_SEND, FX_CLOSE */
	union {
		struct node_addr connect_to;
		struct {
			struct blob *frame; /* a copy */
			uint8_t type;       /* its wire type; 0 when it is not a valid frame */
		} send;
		struct {
			char *reason;
			int error;
			bool after_flush;
		} close;
		struct {
			enum wake_class cls;
			uint64_t at;
		} wake;
		struct fake_delivery deliver;
		struct fake_log log;
		enum notice notice;
	};
};

struct fake_env {
	struct env env; /* give this to the core */
	struct instant now;
	struct fake_effect *fx;
	size_t n, cap;
	struct fake_link **links;
	size_t n_links;
	uint64_t wake[WAKE_CLASSES]; /* what the core last asked for, per class; 0: nothing */
	int connect_error;           /* connect() returns it when set (-ECONNREFUSED, ...) */
	unsigned misuse;             /* operations on links the core had closed: must stay 0 */
	bool echo;                   /* FAKEENV_LOG=1: log events also go to stderr */
	const char *last_reason;     /* of the last frame a core rejected */
};

/* ---- the clock ---------------------------------------------------------------------- */

static inline void
fake_set_time(struct fake_env *fe, uint64_t mono)
{
	fe->now.mono = mono;
	fe->now.real = FAKE_REAL0 + (mono - FAKE_T0);
}

/* ---- links -------------------------------------------------------------------------- */

static inline struct fake_link *
fake_link_new(struct fake_env *fe, struct link *lk, bool outbound, const char *desc)
{
	struct fake_link *fl = xcalloc(1, sizeof(*fl));

	fe->links = xreallocarray(fe->links, fe->n_links + 1, sizeof(*fe->links));
	fe->links[fe->n_links++] = fl;
	fl->id = (unsigned)fe->n_links;
	fl->lk = lk;
	fl->outbound = outbound;
	fl->kind = lk ? lk->kind : LINK_PENDING;
	snprintf(fl->desc, sizeof(fl->desc), "%s", desc);
	return fl;
}

/* An inbound connection, before the core accepted it: its io handle. */
static inline struct fake_link *
fake_inbound(struct fake_env *fe, const char *desc)
{
	return fake_link_new(fe, NULL, false, desc);
}

/* The core has forgotten fl's link (it closed it, or was told it closed). */
static inline void
fake_link_gone(struct fake_link *fl)
{
	fl->closed = true;
	fl->lk = NULL;
}

/* The last link the core opened to a, of kind (or of any kind when kind < 0), or NULL. */
static inline struct fake_link *
fake_link_to(const struct fake_env *fe, const struct node_addr *a, int kind)
{
	for (size_t i = fe->n_links; i-- > 0;) {
		struct fake_link *fl = fe->links[i];
		if (fl->outbound && node_addr_equal(&fl->to, a) &&
		    (kind < 0 || (int)fl->kind == kind))
			return fl;
	}
	return NULL;
}

/* ---- recording ---------------------------------------------------------------------- */

static inline struct fake_effect *
fake_record(struct fake_env *fe, enum fake_kind kind, struct fake_link *fl)
{
	struct fake_effect *e;

	if (fe->n == fe->cap) {
		fe->cap = fe->cap ? 2 * fe->cap : 256;
		fe->fx = xreallocarray(fe->fx, fe->cap, sizeof(*fe->fx));
	}
	e = &fe->fx[fe->n++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->link = fl;
	return e;
}

static inline char *
fake_strdup(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* The open fake_link of lk, or NULL (counted as misuse) when the core uses a link it closed. */
static inline struct fake_link *
fake_open_link(struct fake_env *fe, const struct link *lk)
{
	struct fake_link *fl = lk ? lk->io : NULL;

	if (!fl || fl->closed || fl->lk != lk) {
		fe->misuse++;
		return NULL;
	}
	return fl;
}

/* ---- the operations ----------------------------------------------------------------- */

static inline int
fake_op_connect(void *ctx, struct link *lk, const struct node_addr *to)
{
	struct fake_env *fe = ctx;
	struct fake_effect *e = fake_record(fe, FX_CONNECT, NULL);
	struct fake_link *fl;

	e->connect_to = *to;
	if (fe->connect_error)
		return fe->connect_error;
	fl = fake_link_new(fe, lk, true, lk->desc);
	fl->to = *to;
	lk->io = fl;
	e->link = fl;
	return 0;
}

/* Records each frame of the blob (a core may encode several frames into one). */
static inline void
fake_record_frames(struct fake_env *fe, struct fake_link *fl, const struct blob *frame)
{
	size_t off = 0;

	while (off < frame->len) {
		const char *reason;
		long len = wire_frame_check(frame->data + off, frame->len - off, &reason);
		struct fake_effect *e = fake_record(fe, FX_SEND, fl);

		if (len <= 0) {
			/* Not a frame: kept whole, of type 0, for the test to fail on. */
			e->send.frame = blob_new(frame->data + off, frame->len - off);
			return;
		}
		e->send.frame = blob_new(frame->data + off, (size_t)len);
		e->send.type = frame->data[off + 3];
		off += (size_t)len;
	}
}

static inline int
fake_op_send(void *ctx, struct link *lk, struct blob *frame)
{
	struct fake_env *fe = ctx;
	struct fake_link *fl = fake_open_link(fe, lk);

	if (!fl)
		return -EPIPE;
	if (lk->queue_limit && fl->queued + frame->len > lk->queue_limit)
		return -ENOBUFS;
	fake_record_frames(fe, fl, frame);
	return 0;
}

static inline size_t
fake_op_queued(void *ctx, const struct link *lk)
{
	struct fake_link *fl = fake_open_link(ctx, lk);

	return fl ? fl->queued : 0;
}

static inline void
fake_op_progress(void *ctx, const struct link *lk, bool want_unread, struct link_progress *ret)
{
	struct fake_link *fl = fake_open_link(ctx, lk);

	memset(ret, 0, sizeof(*ret));
	if (!fl)
		return;
	ret->queued = fl->queued;
	ret->bytes_out = fl->bytes_out;
	ret->unread = want_unread ? fl->unread : 0;
}

static inline void
fake_op_close(void *ctx, struct link *lk, const char *reason, int error, bool after_flush)
{
	struct fake_env *fe = ctx;
	struct fake_link *fl = fake_open_link(fe, lk);
	struct fake_effect *e = fake_record(fe, FX_CLOSE, fl);

	e->close.reason = fake_strdup(reason);
	e->close.error = error;
	e->close.after_flush = after_flush;
	if (fl)
		fake_link_gone(fl);
	lk->io = NULL;
}

static inline void
fake_op_flush(void *ctx)
{
	fake_record(ctx, FX_FLUSH, NULL);
}

static inline void
fake_op_wake(void *ctx, enum wake_class cls, uint64_t at)
{
	struct fake_env *fe = ctx;
	struct fake_effect *e = fake_record(fe, FX_WAKE, NULL);

	e->wake.cls = cls;
	e->wake.at = at;
	fe->wake[cls] = at;
}

static inline void
fake_op_deliver(void *ctx, const struct delivery *d)
{
	struct fake_effect *e = fake_record(ctx, FX_DELIVER, NULL);
	struct fake_delivery *c = &e->deliver;

	memcpy(c->id, d->id, WIRE_ID_LEN);
	c->from = *d->from;
	c->origin = *d->origin;
	c->timestamp = d->timestamp;
	c->seq = d->seq;
	c->len = d->len;
	c->payload = xmalloc(d->len ? d->len : 1);
	memcpy(c->payload, d->payload, d->len);
}

static inline void
fake_op_log(void *ctx, int prio, const struct log_fields *f, const char *file, int line,
	    const char *func, const char *msg)
{
	struct fake_env *fe = ctx;
	struct fake_log *l = &fake_record(fe, FX_LOG, NULL)->log;

	(void)file, (void)line, (void)func;
	l->prio = prio;
	l->msg = xstrdup(msg);
	if (f) {
		l->event = fake_strdup(f->event);
		l->msg_id = fake_strdup(f->msg_id);
		l->origin = fake_strdup(f->origin);
		l->remote = fake_strdup(f->remote);
		l->sd_id = fake_strdup(f->sd_id);
	}
	if (fe->echo)
		fprintf(stderr, "%llu <%d> %s%s%s: %s\n", (unsigned long long)fe->now.mono, prio,
			l->event ? "[" : "", l->event ? l->event : "", l->event ? "]" : "", msg);
}

static inline void
fake_op_notice(void *ctx, enum notice what)
{
	fake_record(ctx, FX_NOTICE, NULL)->notice = what;
}

static const struct env_ops fake_env_ops = {
	.connect = fake_op_connect,
	.send = fake_op_send,
	.queued = fake_op_queued,
	.progress = fake_op_progress,
	.close = fake_op_close,
	.flush = fake_op_flush,
	.wake = fake_op_wake,
	.deliver = fake_op_deliver,
	.log = fake_op_log,
	.notice = fake_op_notice,
};

/* Every log event, debug included, is formatted and recorded. */
static inline void
fake_env_init(struct fake_env *fe)
{
	const char *echo = getenv("FAKEENV_LOG");

	memset(fe, 0, sizeof(*fe));
	fe->env = (struct env){.ops = &fake_env_ops, .ctx = fe, .max_prio = LOG_DEBUG};
	fe->echo = echo && *echo && strcmp(echo, "0") != 0;
	fake_set_time(fe, FAKE_T0);
}

static inline void
fake_effect_free(struct fake_effect *e)
{
	switch (e->kind) {
	case FX_SEND:
		blob_unref(e->send.frame);
		break;
	case FX_CLOSE:
		free(e->close.reason);
		break;
	case FX_DELIVER:
		free(e->deliver.payload);
		break;
	case FX_LOG:
		free(e->log.event);
		free(e->log.msg_id);
		free(e->log.origin);
		free(e->log.remote);
		free(e->log.sd_id);
		free(e->log.msg);
		break;
	default:
		break;
	}
}

/* Frees the record (after the core is freed), then checks no link was used after its close. */
static inline void
fake_env_free(struct fake_env *fe)
{
	unsigned misuse = fe->misuse;

	for (size_t i = 0; i < fe->n; i++)
		fake_effect_free(&fe->fx[i]);
	for (size_t i = 0; i < fe->n_links; i++)
		free(fe->links[i]);
	free(fe->fx);
	free(fe->links);
	memset(fe, 0, sizeof(*fe));
	assert_int_equal(misuse, 0);
}

/* ---- looking at what was recorded --------------------------------------------------- */

/* Where the record is now: the effects of what follows start here. */
static inline size_t
fake_mark(const struct fake_env *fe)
{
	return fe->n;
}

/*
 * The next effect of kind at or after *pos, on link fl (any when NULL), or
 * NULL; *pos moves past it, so that a loop visits each once.
 */
static inline struct fake_effect *
fake_next(struct fake_env *fe, size_t *pos, enum fake_kind kind, const struct fake_link *fl)
{
	for (size_t i = *pos; i < fe->n; i++) {
		struct fake_effect *e = &fe->fx[i];
		if (e->kind == kind && (!fl || e->link == fl)) {
			*pos = i + 1;
			return e;
		}
	}
	*pos = fe->n;
	return NULL;
}

/* The next frame sent at or after *pos on fl (any link when NULL) of wire type (any when 0). */
static inline struct fake_effect *
fake_next_sent(struct fake_env *fe, size_t *pos, const struct fake_link *fl, uint8_t type)
{
	struct fake_effect *e;

	while ((e = fake_next(fe, pos, FX_SEND, fl)))
		if (!type || e->send.type == type)
			return e;
	return NULL;
}

static inline unsigned
fake_count_sent(struct fake_env *fe, size_t since, const struct fake_link *fl, uint8_t type)
{
	unsigned k = 0;

	while (fake_next_sent(fe, &since, fl, type))
		k++;
	return k;
}

/* Decodes a recorded frame (failing the test if it does not decode); m points into the record. */
static inline void
fake_decode(const struct fake_effect *e, struct wire_msg *m)
{
	const char *reason = NULL;

	assert_int_equal(e->kind, FX_SEND);
	if (wire_decode(e->send.frame->data, e->send.frame->len, m, &reason) < 0)
		fail_msg("link %u: a frame that does not decode: %s", e->link ? e->link->id : 0,
			 reason);
}

/* The first frame of type sent on fl since `since`, decoded into m; false when there is none. */
static inline bool
fake_sent_msg(struct fake_env *fe, size_t since, const struct fake_link *fl, uint8_t type,
	      struct wire_msg *m)
{
	struct fake_effect *e = fake_next_sent(fe, &since, fl, type);

	if (e)
		fake_decode(e, m);
	return e != NULL;
}

/* Whether a decoded frame names id: a GOSSIP of that message, or an IHAVE or GRAFT listing it. */
static inline bool
fake_names_id(const struct wire_msg *m, const uint8_t *id)
{
	const uint8_t *ids;
	uint16_t count;

	if (m->type == WIRE_GOSSIP)
		return !memcmp(m->gossip.id, id, WIRE_ID_LEN);
	if (m->type == WIRE_IHAVE || m->type == WIRE_GRAFT) {
		ids = m->ids.ids;
		count = m->ids.count;
	} else if (m->type == WIRE_PING || m->type == WIRE_PONG) {
		ids = m->carried.ids; /* announcements riding along */
		count = m->carried.count;
	} else {
		return false;
	}
	for (uint16_t i = 0; i < count; i++)
		if (!memcmp(ids + (size_t)i * WIRE_ID_LEN, id, WIRE_ID_LEN))
			return true;
	return false;
}

/* Frames of type sent since `since` on fl (any link when NULL) that name id. */
static inline unsigned
fake_count_id(struct fake_env *fe, size_t since, const struct fake_link *fl, uint8_t type,
	      const uint8_t *id)
{
	struct fake_effect *e;
	struct wire_msg m;
	unsigned k = 0;

	while ((e = fake_next_sent(fe, &since, fl, type))) {
		fake_decode(e, &m);
		k += fake_names_id(&m, id);
	}
	return k;
}

/* The close of fl recorded since `since`, or NULL. */
static inline struct fake_effect *
fake_close_of(struct fake_env *fe, size_t since, const struct fake_link *fl)
{
	return fake_next(fe, &since, FX_CLOSE, fl);
}

/* The reason of the close of fl recorded since `since`, failing the test when there is none. */
static inline const char *
fake_close_reason(struct fake_env *fe, size_t since, const struct fake_link *fl)
{
	struct fake_effect *e = fake_close_of(fe, since, fl);

	if (!e)
		fail_msg("link %u (%s) was not closed", fl->id, fl->desc);
	return e->close.reason;
}

static inline unsigned
fake_count(struct fake_env *fe, size_t since, enum fake_kind kind)
{
	unsigned k = 0;

	while (fake_next(fe, &since, kind, NULL))
		k++;
	return k;
}

/* The next log event named event (and about remote, unless NULL) at or after *pos, or NULL. */
static inline struct fake_log *
fake_next_event(struct fake_env *fe, size_t *pos, const char *event, const char *remote)
{
	struct fake_effect *e;

	while ((e = fake_next(fe, pos, FX_LOG, NULL)))
		if (e->log.event && !strcmp(e->log.event, event) &&
		    (!remote || (e->log.remote && !strcmp(e->log.remote, remote))))
			return &e->log;
	return NULL;
}

static inline unsigned
fake_count_events(struct fake_env *fe, size_t since, const char *event, const char *remote)
{
	unsigned k = 0;

	while (fake_next_event(fe, &since, event, remote))
		k++;
	return k;
}

/* The first log message since `since` containing text, or NULL. */
static inline struct fake_log *
fake_find_log(struct fake_env *fe, size_t since, const char *text)
{
	struct fake_effect *e;

	while ((e = fake_next(fe, &since, FX_LOG, NULL)))
		if (strstr(e->log.msg, text))
			return &e->log;
	return NULL;
}

static inline unsigned
fake_count_notices(struct fake_env *fe, size_t since, enum notice what)
{
	struct fake_effect *e;
	unsigned k = 0;

	while ((e = fake_next(fe, &since, FX_NOTICE, NULL)))
		k += e->notice == what;
	return k;
}

/* ---- inputs to a peer core ------------------------------------------------------------ */

/* The core's link of fl, failing the test when the core has closed it. */
static inline struct link *
fake_lk(const struct fake_link *fl)
{
	if (!fl || fl->closed || !fl->lk)
		fail_msg("link %u is closed", fl ? fl->id : 0);
	return fl->lk;
}

/* An inbound connection from desc, given to the core: its fake_link, closed when refused. */
static inline struct fake_link *
fake_peer_accept(struct fake_env *fe, struct peer_node *n, const char *desc)
{
	struct node_addr remote = addr(desc);
	struct fake_link *fl = fake_inbound(fe, desc);

	fl->lk = peer_node_accept(n, fl, &remote, fe->now);
	if (!fl->lk)
		fake_link_gone(fl);
	else
		fl->kind = fl->lk->kind;
	return fl;
}

/* The connect the core started on fl completed. */
static inline void
fake_peer_connected(struct fake_env *fe, struct peer_node *n, struct fake_link *fl)
{
	peer_node_connected(n, fake_lk(fl), fe->now);
}

/* fl closed under the core (reason, error): it is told, and frees the link. */
static inline void
fake_peer_closed(struct fake_env *fe, struct peer_node *n, struct fake_link *fl, const char *reason,
		 int error)
{
	struct link *lk = fake_lk(fl);

	fake_link_gone(fl);
	peer_node_closed(n, lk, reason, error, fe->now);
}

/*
 * Gives the frame in b (emptied) to the core as received on fl. What the core
 * returns is returned; on -EBADMSG the link is closed and reported closed, as
 * the environment does, and the reason kept in fe->last_reason.
 */
static inline int
fake_peer_frame(struct fake_env *fe, struct peer_node *n, struct fake_link *fl, struct buf *b)
{
	const char *reason = NULL;
	int r = peer_node_frame(n, fake_lk(fl), b->data, b->len, true, fe->now, &reason);

	buf_free(b);
	if (r == -EBADMSG) {
		fe->last_reason = reason;
		if (!fl->closed)
			fake_peer_closed(fe, n, fl, reason, EBADMSG);
	}
	return r;
}

/* The earliest wake-up asked for, due by `until`: its class, or -1. Ties go to WAKE_NORMAL. */
static inline int
fake_due(const struct fake_env *fe, uint64_t until)
{
	int cls = -1;

	for (int c = 0; c < WAKE_CLASSES; c++)
		if (fe->wake[c] && fe->wake[c] <= until && (cls < 0 || fe->wake[c] < fe->wake[cls]))
			cls = c;
	return cls;
}

/* Runs the next wake-up due by until, at its time; false when there is none. */
static inline bool
fake_peer_step(struct fake_env *fe, struct peer_node *n, uint64_t until)
{
	int cls = fake_due(fe, until);

	if (cls < 0)
		return false;
	if (fe->wake[cls] > fe->now.mono)
		fake_set_time(fe, fe->wake[cls]);
	fe->wake[cls] = 0; /* spent: the core asks again for what is left */
	peer_node_wakeup(n, (enum wake_class)cls, fe->now);
	return true;
}

/* Runs every wake-up due up to until, each at the time asked for; the clock ends at until. */
static inline void
fake_peer_run_until(struct fake_env *fe, struct peer_node *n, uint64_t until)
{
	unsigned k = 0;

	while (fake_peer_step(fe, n, until))
		if (++k > FAKE_MAX_WAKEUPS)
			fail_msg("the peer keeps asking to be woken by %llu",
				 (unsigned long long)until);
	if (until > fe->now.mono)
		fake_set_time(fe, until);
}

/* Runs wake-ups up to and including the next periodic tick (NOTICE_TICK); the clock stays there. */
static inline void
fake_peer_tick(struct fake_env *fe, struct peer_node *n)
{
	size_t mark = fake_mark(fe);

	while (!fake_count_notices(fe, mark, NOTICE_TICK))
		if (!fake_peer_step(fe, n, UINT64_MAX))
			fail_msg("the peer has no tick scheduled");
}

/* An inbound neighbour: a connection from addr_text that says HELLO. */
static inline struct fake_link *
fake_peer_neighbour_in(struct fake_env *fe, struct peer_node *n, const char *addr_text)
{
	struct node_addr a = addr(addr_text);
	struct fake_link *fl = fake_peer_accept(fe, n, addr_text);
	struct buf b = {0};

	wire_encode_hello(&b, WIRE_ROLE_PEER, &a, 42);
	assert_int_equal(fake_peer_frame(fe, n, fl, &b), 0);
	return fl;
}

/* ---- inputs to a seed core ------------------------------------------------------------ */

/* As fake_peer_accept, for a seed. */
static inline struct fake_link *
fake_seed_accept(struct fake_env *fe, struct seed_node *s, const char *desc)
{
	struct node_addr remote = addr(desc);
	struct fake_link *fl = fake_inbound(fe, desc);

	fl->lk = seed_node_accept(s, fl, &remote, fe->now);
	if (!fl->lk)
		fake_link_gone(fl);
	else
		fl->kind = fl->lk->kind;
	return fl;
}

/* As fake_peer_closed, for a seed. */
static inline void
fake_seed_closed(struct fake_env *fe, struct seed_node *s, struct fake_link *fl, const char *reason,
		 int error)
{
	struct link *lk = fake_lk(fl);

	fake_link_gone(fl);
	seed_node_closed(s, lk, reason, error, fe->now);
}

/* As fake_peer_frame, for a seed. */
static inline int
fake_seed_frame(struct fake_env *fe, struct seed_node *s, struct fake_link *fl, struct buf *b)
{
	const char *reason = NULL;
	int r = seed_node_frame(s, fake_lk(fl), b->data, b->len, fe->now, &reason);

	buf_free(b);
	if (r == -EBADMSG) {
		fe->last_reason = reason;
		if (!fl->closed)
			fake_seed_closed(fe, s, fl, reason, EBADMSG);
	}
	return r;
}

/* Runs the seed's wake-ups due up to until, each at its time; the clock ends at until. */
static inline void
fake_seed_run_until(struct fake_env *fe, struct seed_node *s, uint64_t until)
{
	unsigned k = 0;

	while (fe->wake[WAKE_NORMAL] && fe->wake[WAKE_NORMAL] <= until) {
		if (fe->wake[WAKE_NORMAL] > fe->now.mono)
			fake_set_time(fe, fe->wake[WAKE_NORMAL]);
		fe->wake[WAKE_NORMAL] = 0;
		seed_node_wakeup(s, fe->now);
		if (++k > FAKE_MAX_WAKEUPS)
			fail_msg("the seed keeps asking to be woken by %llu",
				 (unsigned long long)until);
	}
	if (until > fe->now.mono)
		fake_set_time(fe, until);
}

#endif
