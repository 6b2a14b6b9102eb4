/* SPDX-License-Identifier: MIT */
/* The peer's broadcasts: originate, verify, deliver once, forward once. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "peer_int.h"

void
gossip_init(struct peer_node *n)
{
	seen_cache_init(&n->seen, n->cfg.peer.seen_cache_size, n->cfg.peer.seen_cache_age_usec);
	tree_init(n);
	authn_init(n);
	/* The first sequence number is random so a restarted origin never reuses an id. */
	n->next_seq = rng_next(&n->rng) >> 16;
}

void
gossip_free(struct peer_node *n)
{
	authn_free(n);
	tree_free(n);
	seen_cache_free(&n->seen);
}

int
gossip_broadcast(struct peer_node *n, const uint8_t *payload, size_t len, struct instant t,
		 uint8_t id[WIRE_ID_LEN], uint64_t *seq)
{
	struct buf b = {0};
	struct blob *frame;
	char hex[2 * WIRE_ID_LEN + 1];
	struct log_fields f = {.event = "sent", .msg_id = hex, .origin = n->self_str,
			       .sd_id = GOSSIP_SD_ID_SENT};
	uint8_t sig[WIRE_SIG_LEN];
	bool signed_ok;
	uint32_t sent;

	if (len == 0)
		return -EINVAL;
	if (len > n->cfg.peer.max_message_size)
		return -EMSGSIZE;
	*seq = n->next_seq++;
	if (wire_message_id(&n->self, t.real, *seq, payload, len, id) < 0)
		return -EIO;
	signed_ok = n->signing && authn_sign(n, id, sig);
	if (n->signing && !signed_ok)
		return -EIO;
	seen_cache_insert(&n->seen, id, t.mono);
	seen_cache_set_stamp(&n->seen, t.real);
	if (n->env.ops->remember)
		n->env.ops->remember(n->env.ctx, id, t.real);
	wire_encode_gossip_signed(&b, id, &n->self, t.real, *seq, signed_ok ? sig : NULL, payload,
				  (uint32_t)len);
	frame = blob_from_buf(&b);
	buf_free(&b);
	seen_cache_keep_frame(&n->seen, frame);
	sent = tree_push(n, frame, id, NULL, &n->self, t.mono);
	blob_unref(frame);
	n->stats.messages_sent++;
	hex_encode(id, WIRE_ID_LEN, hex);
	peer_event(n, LOG_INFO, &f, "Broadcast message %s (%zu bytes) to %u neighbours", hex, len,
		   sent);
	return 0;
}

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
stale_horizon(const struct peer_node *n, const struct wire_msg *m, struct instant t)
{
	uint64_t h = seen_cache_horizon(&n->seen, t.mono, t.real);

	return h && m->gossip.timestamp <= h ? h : 0;
}

void
gossip_tick(struct peer_node *n, uint64_t now)
{
	uint64_t k = n->stats.stale_dropped - n->stale_logged;

	if (!k || (n->stale_logged_at && now - n->stale_logged_at < PEER_STALE_LOG_USEC))
		return;
	peer_log(n, LOG_WARNING,
		 "dropped %llu message(s) sent before the latest one the full seen cache forgot "
		 "(it reached back %.1f s at the last drop): each may have been delivered already; "
		 "raise peer.seen_cache_size (now %u) to remember more",
		 (unsigned long long)k, (double)n->stale_reach / 1e6, n->cfg.peer.seen_cache_size);
	n->stale_logged = n->stats.stale_dropped;
	n->stale_logged_at = now;
}

/*
 * Within the window? A message accepted is at most seen_cache_age -
 * max_clock_skew old by our clock, so its id, had it been seen, is still in
 * the seen cache: a replay of an older one, even of one whose id expired by
 * age, is dropped here. Messages timestamped ahead by more than the skew
 * are dropped too (they would stay acceptable for longer).
 */
static bool
in_window(struct peer_node *n, const struct wire_msg *m, const char *from, struct instant t)
{
	uint64_t skew = n->cfg.peer.max_clock_skew_usec, ts = m->gossip.timestamp;
	uint64_t oldest = n->cfg.peer.seen_cache_age_usec - skew;
	char hex[2 * WIRE_ID_LEN + 1], os[NODE_ADDR_STRLEN];

	if (ts <= t.real + skew && ts + oldest >= t.real)
		return true;
	n->stats.out_of_window_dropped++;
	/* Not asked for when announced, either. */
	seen_cache_insert(&n->announced, m->gossip.id, t.mono);
	authn_log(n, LOG_WARNING, "dropping message %s from %s: its origin %s stamped it %+.1f s from "
		  "our clock, outside the window of -%.0f s to +%.0f s (peer.max_clock_skew, "
		  "peer.seen_cache_age)", hex_encode(m->gossip.id, WIRE_ID_LEN, hex), from,
		  node_addr_str(&m->gossip.origin, os), ((double)ts - (double)t.real) / 1e6,
		  (double)oldest / 1e6, (double)skew / 1e6);
	return false;
}

/*
 * Checks a message not seen before: its id, its size, its age. 1 to deliver
 * it, 0 to drop it quietly, -EBADMSG with *reason when the frame is bad.
 */
static int
admit(struct peer_node *n, const char *from, const struct wire_msg *m, struct instant t,
      const char **reason)
{
	uint8_t check[WIRE_ID_LEN];
	char hex[2 * WIRE_ID_LEN + 1];
	uint64_t horizon;

	if (wire_message_id(&m->gossip.origin, m->gossip.timestamp, m->gossip.seq,
			    m->gossip.payload, m->gossip.len, check) < 0) {
		*reason = "cannot compute SHA-256";
		return -EBADMSG;
	}
	if (memcmp(check, m->gossip.id, WIRE_ID_LEN) != 0) {
		*reason = "message id does not match its contents";
		return -EBADMSG;
	}
	if (m->gossip.len > n->cfg.peer.max_message_size) {
		/* Another peer allows larger messages; ours does not: drop it, keep the link. */
		if (seen_cache_insert(&n->seen, m->gossip.id, t.mono)) {
			seen_cache_set_stamp(&n->seen, m->gossip.timestamp);
			n->stats.oversized_dropped++;
		}
		peer_log_limited(n, LOG_WARNING,
			 "dropping message %s from %s: %u bytes is over peer.max_message_size (%u)",
			 hex_encode(m->gossip.id, WIRE_ID_LEN, hex), from, m->gossip.len,
			 n->cfg.peer.max_message_size);
		return 0;
	}
	if (!in_window(n, m, from, t))
		return 0;
	if (m->gossip.timestamp + PEER_JOIN_SLACK_USEC < n->history_from) {
		/*
		 * Sent before this peer became a member (a link coming up announced
		 * it): not ours to deliver. Remembered, so it is not asked for again.
		 */
		if (seen_cache_insert(&n->seen, m->gossip.id, t.mono)) {
			seen_cache_set_stamp(&n->seen, m->gossip.timestamp);
			n->stats.before_member_dropped++;
		}
		return 0;
	}
	if ((horizon = stale_horizon(n, m, t))) {
		n->stats.stale_dropped++;
		n->stale_reach = t.real - horizon;
		/*
		 * Counted as announced already, so an IHAVE naming it does not make
		 * it asked for (each answer would be dropped too). Not in the seen
		 * cache: it would evict a newer id there, and move the horizon.
		 */
		seen_cache_insert(&n->announced, m->gossip.id, t.mono);
		peer_debug(n, "dropping message %s from %s: sent before the seen cache's memory begins",
			   hex_encode(m->gossip.id, WIRE_ID_LEN, hex), from);
		return 0;
	}
	return 1;
}

/*
 * A new message, checked: remembered, forwarded, delivered once. nb is the
 * neighbour it came from, or NULL when that one left while the message
 * waited for its origin's certificate.
 */
static void
accept_msg(struct peer_node *n, struct neighbour *nb, const struct node_addr *from_addr,
	   const char *from_str, const uint8_t *frame, size_t len, const struct wire_msg *m,
	   bool last_in_read, struct instant t)
{
	struct node_addr from = *from_addr;
	char from_copy[NODE_ADDR_STRLEN];
	struct delivery d;
	struct blob *copy;

	seen_cache_insert(&n->seen, m->gossip.id, t.mono);
	seen_cache_set_tag(&n->seen, nb ? nb->serial : 0);
	seen_cache_set_stamp(&n->seen, m->gossip.timestamp);
	if (n->env.ops->remember)
		n->env.ops->remember(n->env.ctx, m->gossip.id, m->gossip.timestamp);
	tree_received(n, m->gossip.id, t.mono);
	n->stats.messages_received++;
	/* Copied now: forwarding may drop that neighbour (its queue full) and free it. */
	snprintf(from_copy, sizeof(from_copy), "%s", from_str);

	/* Forward first: the copy to neighbours matters more than our own bookkeeping. */
	copy = blob_new(frame, len);
	seen_cache_keep_frame(&n->seen, copy);
	tree_push(n, copy, m->gossip.id, nb, &m->gossip.origin, t.mono);
	/*
	 * With no more input at hand, send now rather than after the bookkeeping
	 * below: each hop's delay adds up along the tree. Amid a burst, the
	 * frames queue up and go out together at the end of the read.
	 */
	if (last_in_read)
		n->env.ops->flush(n->env.ctx);

	d = (struct delivery){
		.id = m->gossip.id,
		.from = &from,
		.from_str = from_copy,
		.origin = &m->gossip.origin,
		.timestamp = m->gossip.timestamp,
		.seq = m->gossip.seq,
		.received = t.real,
		.payload = copy->data + (m->gossip.payload - frame),
		.len = m->gossip.len,
		.frame = copy,
	};
	n->env.ops->deliver(n->env.ctx, &d);
	blob_unref(copy);
}

/* The checks and the acceptance of a GOSSIP frame; may_park: it may wait for a certificate. */
static int
process(struct peer_node *n, struct neighbour *nb, const struct node_addr *from,
	const char *from_str, const uint8_t *frame, size_t len, const struct wire_msg *m,
	bool last_in_read, struct instant t, const char **reason, bool may_park)
{
	uint32_t first_from;
	int r;

	if (seen_cache_tag(&n->seen, m->gossip.id, &first_from)) {
		n->stats.duplicates_received++;
		if (nb)
			tree_duplicate(n, nb, m->gossip.id, first_from);
		return 0;
	}
	if ((r = admit(n, from_str, m, t, reason)) <= 0)
		return r;
	if (authn_check(n, nb, from, from_str, frame, len, m, t, may_park) != AUTHN_OK)
		return 0;
	accept_msg(n, nb, from, from_str, frame, len, m, last_in_read, t);
	return 0;
}

int
gossip_receive(struct peer_node *n, struct neighbour *nb, const uint8_t *frame, size_t len,
	       const struct wire_msg *m, bool last_in_read, struct instant t, const char **reason)
{
	n->stats.gossip_frames_received++;
	return process(n, nb, &nb->addr, nb->addr_str, frame, len, m, last_in_read, t, reason,
		       true);
}

void
gossip_resume(struct peer_node *n, struct neighbour *nb, const struct node_addr *from,
	      const uint8_t *frame, size_t len, struct instant t)
{
	char from_str[NODE_ADDR_STRLEN];
	const char *reason = NULL;
	struct wire_msg m;

	if (wire_decode(frame, len, &m, &reason) < 0)
		return; /* it decoded when it arrived */
	node_addr_str(from, from_str);
	(void)process(n, nb, from, from_str, frame, len, &m, true, t, &reason, false);
}
