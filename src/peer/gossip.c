/* SPDX-License-Identifier: MIT */
/* gossip-peer broadcast: originate, verify, deliver once, forward once; output files and history. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "peer.h"

int
gossip_init(struct peer *p)
{
	seen_cache_init(&p->seen, p->cfg.peer.seen_cache_size, p->cfg.peer.seen_cache_age_usec);
	tree_init(p);
	p->history = p->cfg.peer.history ? xcalloc(p->cfg.peer.history, sizeof(*p->history)) : NULL;
	p->output_fd = open(p->output_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (p->output_fd < 0)
		return -errno;
	sink_init(&p->output, p->output_fd);
	sink_set_buffered(&p->output, true);
	/* The first sequence number is random so a restarted origin never reuses an id. */
	p->next_seq = rng_next(&p->rng) >> 16;
	return 0;
}

void
gossip_free(struct peer *p)
{
	for (uint32_t i = 0; i < p->history_len; i++)
		blob_unref(p->history[(p->history_head + i) % p->cfg.peer.history].frame);
	free(p->history);
	p->history = NULL;
	p->history_len = 0;
	tree_free(p);
	seen_cache_free(&p->seen);
	gossip_flush_output(p);
	sink_done(&p->output);
	buf_free(&p->line_buf);
	if (p->output_fd >= 0)
		close(p->output_fd);
	p->output_fd = -1;
	p->stdin_src = sd_event_source_disable_unref(p->stdin_src);
	buf_free(&p->stdin_buf);
}

int
gossip_broadcast(struct peer *p, const uint8_t *payload, size_t len, uint8_t id[WIRE_ID_LEN],
		 uint64_t *seq)
{
	uint64_t ts = now_realtime_usec();
	struct buf b = {0};
	struct blob *frame;
	char hex[2 * WIRE_ID_LEN + 1];
	struct log_fields f = {.event = "sent", .msg_id = hex, .origin = p->self_str,
			       .sd_id = GOSSIP_SD_ID_SENT};
	uint32_t n;

	if (len == 0)
		return -EINVAL;
	if (len > p->cfg.peer.max_message_size)
		return -EMSGSIZE;
	*seq = p->next_seq++;
	if (wire_message_id(&p->self, ts, *seq, payload, len, id) < 0)
		return -EIO;
	seen_cache_insert(&p->seen, id, now_monotonic_usec());
	seen_cache_set_stamp(&p->seen, ts);
	wire_encode_gossip(&b, id, &p->self, ts, *seq, payload, (uint32_t)len);
	frame = blob_from_buf(&b);
	buf_free(&b);
	seen_cache_keep_frame(&p->seen, frame);
	n = tree_push(p, frame, id, NULL, &p->self);
	blob_unref(frame);
	p->stats.messages_sent++;
	hex_encode(id, WIRE_ID_LEN, hex);
	log_event(LOG_INFO, &f, "Broadcast message %s (%zu bytes) to %u neighbours", hex, len, n);
	return 0;
}

static void
remember(struct peer *p, const struct wire_msg *m, const struct node_addr *from, struct blob *frame,
	 uint64_t received)
{
	uint32_t cap = p->cfg.peer.history;
	struct history_entry e = {
		.from = *from,
		.origin = m->gossip.origin,
		.timestamp = m->gossip.timestamp,
		.received = received,
		.seq = m->gossip.seq,
		.frame = frame,
		.payload = m->gossip.payload, /* points into frame */
		.len = m->gossip.len,
	};

	memcpy(e.id, m->gossip.id, WIRE_ID_LEN);
	/* Followers (tail -f) see every message, even with no history kept. */
	control_notify_delivery(p, &e);
	if (!cap)
		return;
	if (p->history_len == cap) {
		blob_unref(p->history[p->history_head].frame);
		p->history_head = (p->history_head + 1) % cap;
		p->history_len--;
	}
	e.frame = blob_ref(frame);
	p->history[(p->history_head + p->history_len) % cap] = e;
	p->history_len++;
}

static void
put_str(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

/*
 * "Received from <from>: <origin> - <origin time>:<origin ip>:'<text>'", NUL
 * terminated, in b; os is the origin as node_addr_str() gives it. Built by
 * hand: a busy peer writes one per message.
 */
static void
format_received(struct buf *b, const struct wire_msg *m, const char *from, const char *os)
{
	char oip[NODE_ADDR_STRLEN], ots[32], *text;

	node_addr_ip_str(&m->gossip.origin, oip);
	format_wallclock(m->gossip.timestamp, ots, sizeof(ots));
	text = escape_text(m->gossip.payload, m->gossip.len);
	b->len = 0;
	put_str(b, "Received from ");
	put_str(b, from);
	put_str(b, ": ");
	put_str(b, os);
	put_str(b, " - ");
	put_str(b, ots);
	buf_append(b, ":", 1);
	put_str(b, oip);
	put_str(b, ":'");
	put_str(b, text);
	buf_append(b, "'", 2); /* with the NUL */
	free(text);
}

static void
output_failed(struct peer *p, int r)
{
	if (r < 0)
		log_warn("cannot write %s: %s", p->output_path, strerror(-r));
}

/* Whole lines, one write per loop iteration: peers sharing output.txt never interleave. */
static void
write_output(struct peer *p, const char *line, uint64_t now_real)
{
	char stamp[32];
	struct iovec iov[4];

	format_wallclock(now_real, stamp, sizeof(stamp));
	iov[0] = (struct iovec){(void *)"[", 1};
	iov[1] = (struct iovec){stamp, strlen(stamp)};
	iov[2] = (struct iovec){(void *)"] ", 2};
	iov[3] = (struct iovec){(void *)line, strlen(line)};
	output_failed(p, sink_line(&p->output, iov, 4));
}

void
gossip_flush_output(struct peer *p)
{
	output_failed(p, sink_flush(&p->output));
}

/* At most one warning about stale messages this often. */
#define GOSSIP_STALE_LOG_USEC (10 * 1000 * 1000)

/*
 * The seen cache's ids carry their messages' timestamps. A message not in the
 * cache may have been delivered before if it was sent no later than the
 * latest message the cache evicted at capacity: this copy (a late GRAFT
 * answer, a push that waited in a queue) may be of a message delivered and
 * forgotten since. It is dropped, not delivered twice. Messages that arrive
 * in the order they were sent, however late, are newer than what was
 * evicted. Only while the cache is evicting, that is when messages come
 * faster than peer.seen_cache_size per peer.seen_cache_age. An origin whose
 * clock runs ahead cannot make everyone's messages look old (see
 * seen_cache_horizon); one whose clock is behind ours by more than the cache
 * covers loses messages. Returns the horizon when stale, else 0.
 */
static uint64_t
stale_horizon(const struct peer *p, const struct wire_msg *m, uint64_t now, uint64_t real)
{
	uint64_t h = seen_cache_horizon(&p->seen, now, real);

	return h && m->gossip.timestamp <= h ? h : 0;
}

void
gossip_tick(struct peer *p, uint64_t now)
{
	uint64_t n = p->stats.stale_dropped - p->stale_logged;

	if (!n || (p->stale_logged_at && now - p->stale_logged_at < GOSSIP_STALE_LOG_USEC))
		return;
	log_warn("dropped %llu message(s) sent before the latest one the full seen cache forgot "
		 "(it reached back %.1f s at the last drop): each may have been delivered already; "
		 "raise peer.seen_cache_size (now %u) to remember more",
		 (unsigned long long)n, (double)p->stale_reach / 1e6, p->cfg.peer.seen_cache_size);
	p->stale_logged = p->stats.stale_dropped;
	p->stale_logged_at = now;
}

int
gossip_receive(struct peer *p, struct neighbour *nb, const uint8_t *frame, size_t len,
	       const struct wire_msg *m, const char **reason)
{
	uint8_t check[WIRE_ID_LEN];
	uint64_t now = now_monotonic_usec(), real, horizon;
	char hex[2 * WIRE_ID_LEN + 1], os[NODE_ADDR_STRLEN];
	struct blob *copy;
	uint32_t first_from;
	const char *line;

	p->stats.gossip_frames_received++;
	if (seen_cache_tag(&p->seen, m->gossip.id, &first_from)) {
		p->stats.duplicates_received++;
		tree_duplicate(p, nb, m->gossip.id, first_from);
		return 0;
	}
	if (wire_message_id(&m->gossip.origin, m->gossip.timestamp, m->gossip.seq,
			    m->gossip.payload, m->gossip.len, check) < 0) {
		*reason = "cannot compute SHA-256";
		return -EBADMSG;
	}
	if (memcmp(check, m->gossip.id, WIRE_ID_LEN) != 0) {
		*reason = "message id does not match its contents";
		return -EBADMSG;
	}
	hex_encode(m->gossip.id, WIRE_ID_LEN, hex);
	if (m->gossip.len > p->cfg.peer.max_message_size) {
		/* Another peer allows larger messages; ours does not: drop it, keep the link. */
		if (seen_cache_insert(&p->seen, m->gossip.id, now)) {
			seen_cache_set_stamp(&p->seen, m->gossip.timestamp);
			p->stats.oversized_dropped++;
		}
		log_warn("dropping message %s from %s: %u bytes is over peer.max_message_size (%u)",
			 hex, nb->addr_str, m->gossip.len, p->cfg.peer.max_message_size);
		return 0;
	}
	real = now_realtime_usec();
	if ((horizon = stale_horizon(p, m, now, real))) {
		p->stats.stale_dropped++;
		p->stale_reach = real - horizon;
		/*
		 * Counted as announced already, so an IHAVE naming it does not make
		 * it asked for (each answer would be dropped too). Not in the seen
		 * cache: it would evict a newer id there, and move the horizon.
		 */
		seen_cache_insert(&p->announced, m->gossip.id, now);
		log_debug("dropping message %s from %s: sent before the seen cache's memory begins",
			  hex, nb->addr_str);
		return 0;
	}
	seen_cache_insert(&p->seen, m->gossip.id, now);
	seen_cache_set_tag(&p->seen, nb->serial);
	seen_cache_set_stamp(&p->seen, m->gossip.timestamp);
	tree_received(p, m->gossip.id, now);
	p->stats.messages_received++;

	/* Forward first: the copy to neighbours matters more than our own bookkeeping. */
	copy = blob_new(frame, len);
	seen_cache_keep_frame(&p->seen, copy);
	tree_push(p, copy, m->gossip.id, nb, &m->gossip.origin);
	/*
	 * With no more input at hand, send now rather than after the bookkeeping
	 * below: each hop's delay adds up along the tree. Amid a burst, the
	 * frames queue up and go out together at the end of the read.
	 */
	if (nb->conn && nb->conn->last_in_chunk)
		conn_loop_flush(&p->loop);

	node_addr_str(&m->gossip.origin, os);
	format_received(&p->line_buf, m, nb->addr_str, os);
	line = (const char *)p->line_buf.data;
	write_output(p, line, real);
	{
		struct log_fields f = {.event = "received", .msg_id = hex, .origin = os,
				       .remote = nb->addr_str, .sd_id = GOSSIP_SD_ID_RECEIVED};
		log_event(LOG_INFO, &f, "%s (id %s)", line, hex);
	}

	if (p->cfg.peer.history) {
		struct wire_msg hm = *m;
		/* Point the payload into our own copy of the frame. */
		hm.gossip.payload = copy->data + (m->gossip.payload - frame);
		remember(p, &hm, &nb->addr, copy, real);
	}
	blob_unref(copy);
	return 0;
}

static void
stdin_line(struct peer *p, char *line, size_t len)
{
	uint8_t id[WIRE_ID_LEN];
	uint64_t seq;
	int r;

	if (len && line[len - 1] == '\r')
		line[--len] = '\0';
	if (len == 0)
		return;
	if (strcmp(line, "exit") == 0) {
		log_info("exit typed: no longer reading input; the peer keeps running");
		p->stdin_src = sd_event_source_disable_unref(p->stdin_src);
		return;
	}
	r = gossip_broadcast(p, (const uint8_t *)line, len, id, &seq);
	if (r == -EMSGSIZE)
		log_warn("input line of %zu bytes is over peer.max_message_size (%u); not sent", len,
			 p->cfg.peer.max_message_size);
	else if (r < 0)
		log_warn("cannot broadcast input line: %s", strerror(-r));
}

static int
on_stdin(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct peer *p = userdata;
	size_t limit = (size_t)p->cfg.peer.max_message_size + 2;
	ssize_t n;
	char *nl;

	buf_reserve(&p->stdin_buf, 4096);
	n = read(fd, p->stdin_buf.data + p->stdin_buf.len, p->stdin_buf.cap - p->stdin_buf.len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		log_info("end of input: no longer reading it; the peer keeps running");
		p->stdin_src = sd_event_source_disable_unref(p->stdin_src);
		return 0;
	}
	p->stdin_buf.len += (size_t)n;
	while (p->stdin_src && (nl = memchr(p->stdin_buf.data, '\n', p->stdin_buf.len))) {
		size_t l = (size_t)(nl - (char *)p->stdin_buf.data);
		*nl = '\0';
		stdin_line(p, (char *)p->stdin_buf.data, l);
		buf_consume(&p->stdin_buf, l + 1);
	}
	if (p->stdin_buf.len > limit) {
		log_warn("input line over peer.max_message_size (%u bytes); discarded",
			 p->cfg.peer.max_message_size);
		p->stdin_buf.len = 0;
	}
	return 0;
}

void
gossip_stdin_start(struct peer *p)
{
	if (!isatty(STDIN_FILENO))
		return;
	if (sd_event_add_io(p->event, &p->stdin_src, STDIN_FILENO, EPOLLIN, on_stdin, p) < 0)
		log_warn("cannot read the terminal; type messages with gossipctl send instead");
	else
		log_info("Type a message and press Enter to broadcast it; 'exit' stops input");
}
