/* SPDX-License-Identifier: MIT */
/* Framed, non-blocking stream connections on sd-event, with a bounded zero-copy send queue. */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "core/list.h"

#define READ_CHUNK (64 * 1024)
/*
 * Bytes read per wakeup before yielding to other connections and timers
 * (unless conn->read_budget says otherwise): a burst must not hold the loop
 * so long that PINGs go unanswered and queued frames unsent meanwhile.
 */
#define READ_BUDGET (256 * 1024)
#define MAX_IOV 64

static ssize_t
plain_recv(struct conn *c, void *buf, size_t len)
{
	ssize_t n = recv(c->fd, buf, len, 0);
	return n < 0 ? -errno : n;
}

static ssize_t
plain_sendv(struct conn *c, const struct iovec *iov, int n)
{
	struct msghdr mh = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n};
	ssize_t r = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
	return r < 0 ? -errno : r;
}

static void
plain_free(struct conn *c)
{
}

const struct conn_transport conn_plain_transport = {plain_recv, plain_sendv, plain_free, NULL, NULL};

static void conn_free(struct conn *c);
static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);
static void conn_fail(struct conn *c, int error);
static void became_ready(struct conn *c);
static bool transport_pending(const struct conn *c);
static void schedule_resume(struct conn *c);

void
conn_loop_flush(struct conn_loop *l)
{
	while (l->dirty) {
		struct conn *c = l->dirty;
		l->dirty = c->dirty_next;
		c->is_dirty = false;
		c->dirty_next = NULL;
		if (!c->closed)
			conn_flush(c);
	}
}

static int
on_post(sd_event_source *s, void *userdata)
{
	struct conn_loop *l = userdata;

	conn_loop_flush(l);
	if (l->after_flush)
		l->after_flush(l->after_flush_ctx);
	return 0;
}

int
conn_loop_init(struct conn_loop *l, sd_event *e)
{
	memset(l, 0, sizeof(*l));
	l->event = e;
	l->scratch = xmalloc(READ_CHUNK);
	return sd_event_add_post(e, &l->post, on_post, l);
}

void
conn_loop_done(struct conn_loop *l)
{
	while (l->all) {
		if (l->all->closed)
			conn_free(l->all);
		else
			conn_close(l->all, "stopping", 0);
	}
	l->post = sd_event_source_disable_unref(l->post);
	free(l->scratch);
	l->scratch = NULL;
	free(l->wscratch);
	l->wscratch = NULL;
}

bool
conn_ready(const struct conn *c)
{
	return !c->connecting && !c->sniffing && !c->handshaking;
}

static void
mark_dirty(struct conn *c)
{
	if (c->is_dirty || !conn_ready(c))
		return;
	c->is_dirty = true;
	c->dirty_next = c->loop->dirty;
	c->loop->dirty = c;
}

static void
unlink_dirty(struct conn *c)
{
	struct conn **pp;

	if (!c->is_dirty)
		return;
	for (pp = &c->loop->dirty; *pp; pp = &(*pp)->dirty_next) {
		if (*pp == c) {
			*pp = c->dirty_next;
			break;
		}
	}
	c->is_dirty = false;
}

struct conn *
conn_new(struct conn_loop *l, int fd, bool connecting, const struct conn_callbacks *cb,
	 void *userdata, const char *desc)
{
	struct conn *c = xcalloc(1, sizeof(*c));
	int one = 1;

	c->loop = l;
	c->fd = fd;
	c->tr = &conn_plain_transport;
	c->cb = cb;
	c->userdata = userdata;
	c->connecting = connecting;
	snprintf(c->desc, sizeof(c->desc), "%s", desc);
	DLIST_PUSH_AS(&l->all, c, &l->n_conns, all_prev, all_next);
	/* Gossip frames are small and latency matters: no Nagle delay. Fails harmlessly on AF_UNIX. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (sd_event_add_io(l->event, &c->io, fd, connecting ? EPOLLOUT : EPOLLIN, on_io, c) < 0) {
		conn_free(c);
		return NULL;
	}
	return c;
}

/*
 * Connections leave from the node's own address, so that what a remote sees
 * as their source is what the node advertises (a host with several
 * addresses would otherwise pick by route). The port stays free until the
 * connect picks it (IP_BIND_ADDRESS_NO_PORT), so ports do not run out.
 */
static void
bind_source(int fd, const struct node_addr *from)
{
	struct node_addr a = *from;
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1;

	a.port = 0;
	sl = node_addr_to_sockaddr(&a, &ss);
	(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	(void)bind(fd, (struct sockaddr *)&ss, sl); /* not an address of this host: the kernel's pick */
}

int
conn_connect(struct conn_loop *l, const struct node_addr *to, const struct node_addr *from,
	     const struct conn_callbacks *cb, void *userdata, struct conn **ret)
{
	struct sockaddr_storage ss;
	socklen_t sl = node_addr_to_sockaddr(to, &ss);
	char desc[NODE_ADDR_STRLEN];
	struct conn *c;
	int fd, r;

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A loopback source reaches only loopback. */
	if (from && from->family == to->family && !node_addr_is_unspecified(from) &&
	    node_addr_is_loopback(from) == node_addr_is_loopback(to))
		bind_source(fd, from);
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
		r = -errno;
		close(fd);
		return r;
	}
	/* Even an immediate success is reported through on_connected, from the loop. */
	c = conn_new(l, fd, true, cb, userdata, node_addr_str(to, desc));
	if (!c)
		return -ENOMEM;
	*ret = c;
	return 0;
}

static void
set_events(struct conn *c)
{
	uint32_t ev = 0;

	if (c->closed)
		return;
	if (c->connecting)
		ev = EPOLLOUT;
	else if (c->sniffing)
		ev = EPOLLIN;
	else if (c->handshaking)
		ev = c->hs_want_write ? EPOLLOUT : EPOLLIN;
	else {
		if (!c->closing && !c->input_paused)
			ev |= EPOLLIN;
		if (c->out.n)
			ev |= EPOLLOUT;
	}
	sd_event_source_set_io_events(c->io, ev);
}

int
conn_send_blob(struct conn *c, struct blob *bl)
{
	if (c->closed || c->closing || c->failed)
		return -EPIPE;
	if (bl->len == 0)
		return 0; /* nothing to send; a queued empty chunk would never be dequeued */
	if (c->queue_limit && c->queued_bytes + bl->len > c->queue_limit)
		return -ENOBUFS;
	if (!c->out.elem)
		ring_init(&c->out, sizeof(struct out_chunk));
	*(struct out_chunk *)ring_push(&c->out, 0) = (struct out_chunk){blob_ref(bl), 0};
	c->queued_bytes += bl->len;
	c->frames_out++;
	mark_dirty(c);
	return 0;
}

int
conn_send_buf(struct conn *c, struct buf *b)
{
	struct blob *bl = blob_from_buf(b);
	int r = conn_send_blob(c, bl);
	blob_unref(bl);
	return r;
}

void
conn_flush(struct conn *c)
{
	struct iovec iov[MAX_IOV];

	if (!conn_ready(c))
		return; /* sent once the connection is up */
	while (c->out.n && !c->closed && !c->failed) {
		int n = 0;
		ssize_t w;

		for (size_t i = 0; i < c->out.n && n < MAX_IOV; i++) {
			struct out_chunk *ch = ring_at(&c->out, i);
			iov[n].iov_base = ch->bl->data + ch->off;
			iov[n].iov_len = ch->bl->len - ch->off;
			n++;
		}
		w = c->tr->sendv(c, iov, n);
		if (w == -EAGAIN || w == -EINTR)
			break;
		if (w < 0) {
			conn_fail(c, (int)-w);
			return;
		}
		c->bytes_out += (uint64_t)w;
		c->queued_bytes -= (size_t)w;
		while (w > 0) {
			struct out_chunk *ch = ring_front(&c->out);
			size_t left = ch->bl->len - ch->off;
			if ((size_t)w < left) {
				ch->off += (size_t)w;
				break;
			}
			w -= (ssize_t)left;
			blob_unref(ch->bl);
			ch->bl = NULL;
			ring_pop(&c->out);
		}
	}
	if (c->closed || c->failed)
		return;
	if (!c->out.n && c->closing) {
		conn_close(c, c->close_reason ? c->close_reason : "closed", 0);
		return;
	}
	set_events(c);
}

void
conn_trim(struct conn *c)
{
	if (c->out.n || c->out.cap <= CONN_OUT_KEEP)
		return;
	ring_release(&c->out);
}

bool
conn_room_for(const struct conn *c, size_t len, size_t keep)
{
	if (!c->queue_limit || !c->queued_bytes)
		return true;
	return keep < c->queue_limit && c->queued_bytes + len <= c->queue_limit - keep;
}

void
conn_set_input_paused(struct conn *c, bool paused)
{
	if (c->input_paused == paused)
		return;
	c->input_paused = paused;
	set_events(c);
	if (!paused && conn_ready(c) && transport_pending(c))
		schedule_resume(c);
}

static void
handle_connect_done(struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		conn_close(c, "connect failed", err);
		return;
	}
	c->connecting = false;
	if (c->tr->handshake) {
		conn_begin_handshake(c);
		return;
	}
	became_ready(c);
}

static void
became_ready(struct conn *c)
{
	/* Once: a handshake may finish inside the sniff step that started it. */
	if (c->was_ready)
		return;
	c->was_ready = true;
	c->hs_timer = sd_event_source_disable_unref(c->hs_timer);
	set_events(c);
	if (c->cb->on_connected)
		c->cb->on_connected(c);
	if (!c->closed && c->out.n)
		mark_dirty(c);
}

static int
on_hs_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct conn *c = userdata;

	c->in_dispatch = true;
	conn_close(c, c->sniffing ? "no data in time" : "TLS handshake not done in time", ETIMEDOUT);
	c->in_dispatch = false;
	conn_free(c);
	return 0;
}

static void
arm_hs_timer(struct conn *c)
{
	if (c->hs_timer)
		return;
	if (sd_event_add_time_relative(c->loop->event, &c->hs_timer, CLOCK_MONOTONIC,
				       CONN_HANDSHAKE_USEC, 100000, on_hs_timeout, c) < 0)
		abort(); /* out of memory for one event source */
}

static void
handshake_step(struct conn *c)
{
	const char *reason = "TLS handshake failed";
	bool want_write = false;
	int r = c->tr->handshake(c, &want_write, &reason);

	if (r == -EAGAIN) {
		c->hs_want_write = want_write;
		set_events(c);
		return;
	}
	if (r < 0) {
		conn_close(c, reason, -r);
		return;
	}
	c->handshaking = false;
	became_ready(c);
}

void
conn_begin_handshake(struct conn *c)
{
	c->handshaking = true;
	c->sniffing = false;
	arm_hs_timer(c);
	handshake_step(c);
}

void
conn_begin_sniff(struct conn *c, void (*sniffed)(struct conn *c, uint8_t first))
{
	c->sniffing = true;
	c->sniffed = sniffed;
	arm_hs_timer(c);
	set_events(c);
}

/* The first byte of an accepted connection, left in the socket for the transport. */
static void
sniff_step(struct conn *c)
{
	uint8_t first;
	ssize_t n = recv(c->fd, &first, 1, MSG_PEEK);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		conn_close(c, "read failed", errno);
		return;
	}
	if (n == 0) {
		conn_close(c, "connection closed by remote", 0);
		return;
	}
	c->sniffing = false;
	c->sniffed(c, first);
	if (!c->closed && !c->handshaking)
		became_ready(c);
}

static void
bad_frame(struct conn *c, const char *reason)
{
	if (c->closed || c->closing)
		return;
	if (!c->cb->on_bad_frame) {
		conn_close(c, reason, EBADMSG);
		return;
	}
	c->cb->on_bad_frame(c, reason);
	if (!c->closed)
		conn_close_after_flush(c, reason);
}

/*
 * Hands every complete frame in p[0..len) to on_frame. Returns the bytes
 * consumed, or -1 when the connection is closing or closed.
 */
static ssize_t
parse_frames(struct conn *c, const uint8_t *p, size_t len)
{
	size_t off = 0;

	while (!c->closed && !c->closing && !c->failed) {
		const char *reason = NULL;
		long flen = c->cb->frame_check(p + off, len - off, &reason);
		if (c->max_frame && (flen > (long)c->max_frame ||
				     (flen == 0 && len - off > c->max_frame))) {
			bad_frame(c, "frame over this connection's size limit");
			return -1;
		}
		if (flen == 0)
			return (ssize_t)off;
		c->last_in_chunk = flen > 0 && off + (size_t)flen == len;
		if (flen < 0 || (c->frames_in++, c->cb->on_frame(c, p + off, (size_t)flen, &reason) < 0)) {
			bad_frame(c, reason ? reason : "malformed frame");
			return -1;
		}
		off += (size_t)flen;
	}
	return -1;
}

static bool
transport_pending(const struct conn *c)
{
	return c->tr->pending && c->tr->pending(c);
}

static void handle_input(struct conn *c);

static int
on_resume(sd_event_source *s, void *userdata)
{
	struct conn *c = userdata;

	sd_event_source_set_enabled(s, SD_EVENT_OFF);
	c->in_dispatch = true;
	handle_input(c);
	c->in_dispatch = false;
	if (c->closed)
		conn_free(c);
	return 0;
}

/* Input held by the transport is read from the loop, after what else is due. */
static void
schedule_resume(struct conn *c)
{
	if (!c->resume_src && sd_event_add_defer(c->loop->event, &c->resume_src, on_resume, c) < 0)
		abort(); /* out of memory for one event source */
	sd_event_source_set_enabled(c->resume_src, SD_EVENT_ONESHOT);
}

static void
handle_input(struct conn *c)
{
	size_t budget = c->read_budget ? c->read_budget : READ_BUDGET;

	while (!c->closed && !c->closing && !c->failed && !c->input_paused && budget > 0) {
		ssize_t n, used;
		size_t want;

		if (c->in.len == 0) {
			/* Nothing pending: read into the shared buffer, keep only a partial frame. */
			want = READ_CHUNK;
			n = c->tr->recv(c, c->loop->scratch, want);
		} else {
			buf_reserve(&c->in, READ_CHUNK);
			want = c->in.cap - c->in.len;
			n = c->tr->recv(c, c->in.data + c->in.len, want);
		}
		if (n == -EAGAIN || n == -EINTR)
			break;
		if (n < 0) {
			conn_close(c, "read failed", (int)-n);
			return;
		}
		if (n == 0) {
			conn_close(c, "connection closed by remote", 0);
			return;
		}
		c->bytes_in += (uint64_t)n;
		budget = (size_t)n >= budget ? 0 : budget - (size_t)n;
		if (c->in.len == 0) {
			used = parse_frames(c, c->loop->scratch, (size_t)n);
			if (used < 0)
				return;
			buf_append(&c->in, c->loop->scratch + used, (size_t)n - (size_t)used);
		} else {
			c->in.len += (size_t)n;
			used = parse_frames(c, c->in.data, c->in.len);
			if (used < 0)
				return;
			buf_consume(&c->in, (size_t)used);
		}
		/* An idle connection holds no input memory. */
		if (c->in.len == 0 && c->in.cap)
			buf_free(&c->in);
		/*
		 * A short read emptied the socket: the next bytes wake the loop
		 * again (level-triggered), so asking now would only return EAGAIN,
		 * one system call per wakeup for nothing. Not so for what a
		 * transport holds: no socket event announces it.
		 */
		if ((size_t)n < want && !transport_pending(c))
			break;
	}
	if (!c->closed && !c->closing && !c->failed && !c->input_paused && transport_pending(c))
		schedule_resume(c);
}

static int
on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct conn *c = userdata;

	c->in_dispatch = true;
	if (c->connecting) {
		handle_connect_done(c);
	} else if (c->sniffing) {
		sniff_step(c);
	} else if (c->handshaking) {
		handshake_step(c);
	} else {
		if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
			handle_input(c);
		if (!c->closed && !c->failed && (revents & EPOLLOUT))
			conn_flush(c);
		if (!c->closed && c->closing && (revents & (EPOLLHUP | EPOLLERR)))
			conn_close(c, c->close_reason ? c->close_reason : "closed", 0);
	}
	c->in_dispatch = false;
	if (c->closed)
		conn_free(c);
	return 0;
}

static void
conn_free(struct conn *c)
{
	DLIST_REMOVE_AS(&c->loop->all, c, &c->loop->n_conns, all_prev, all_next);
	unlink_dirty(c);
	c->io = sd_event_source_disable_unref(c->io);
	c->close_timer = sd_event_source_disable_unref(c->close_timer);
	c->fail_src = sd_event_source_disable_unref(c->fail_src);
	c->hs_timer = sd_event_source_disable_unref(c->hs_timer);
	c->resume_src = sd_event_source_disable_unref(c->resume_src);
	if (c->tr->free)
		c->tr->free(c);
	if (c->fd >= 0)
		close(c->fd);
	for (size_t i = 0; i < c->out.n; i++)
		blob_unref(((struct out_chunk *)ring_at(&c->out, i))->bl);
	ring_release(&c->out);
	buf_free(&c->in);
	free(c->close_reason);
	free(c);
}

void
conn_close(struct conn *c, const char *reason, int error)
{
	if (c->closed)
		return;
	c->closed = true;
	unlink_dirty(c);
	sd_event_source_set_enabled(c->io, SD_EVENT_OFF);
	if (c->cb->on_close)
		c->cb->on_close(c, reason, error);
	if (!c->in_dispatch)
		conn_free(c);
}

static int
on_failed(sd_event_source *s, void *userdata)
{
	struct conn *c = userdata;

	c->in_dispatch = true;
	conn_close(c, "write failed", c->fail_error);
	c->in_dispatch = false;
	conn_free(c);
	return 0;
}

/*
 * A write failed. The owner may be in the middle of using this connection
 * (it flushed while handling one of its frames), so the close, and on_close,
 * come from the loop: a defer source, dispatched before the loop waits again.
 */
static void
conn_fail(struct conn *c, int error)
{
	if (c->failed || c->closed)
		return;
	c->failed = true;
	c->fail_error = error;
	unlink_dirty(c);
	sd_event_source_set_enabled(c->io, SD_EVENT_OFF);
	if (sd_event_add_defer(c->loop->event, &c->fail_src, on_failed, c) < 0) {
		/* Out of memory for one small event source: the process cannot go on. */
		abort();
	}
}

static int
on_linger_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct conn *c = userdata;

	c->in_dispatch = true;
	conn_close(c, c->close_reason ? c->close_reason : "closed", 0);
	c->in_dispatch = false;
	conn_free(c);
	return 0;
}

void
conn_close_after_flush(struct conn *c, const char *reason)
{
	if (c->closed || c->closing)
		return;
	c->closing = true;
	free(c->close_reason);
	c->close_reason = xstrdup(reason);
	if (!c->out.n && conn_ready(c)) {
		conn_close(c, reason, 0);
		return;
	}
	/* A remote that never reads must not keep the connection forever. */
	(void)sd_event_add_time_relative(c->loop->event, &c->close_timer, CLOCK_MONOTONIC,
					 CONN_LINGER_USEC, 10000, on_linger_timeout, c);
	set_events(c);
}
