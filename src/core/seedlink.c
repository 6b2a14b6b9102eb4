/* SPDX-License-Identifier: MIT */
/* The peer and the seeds: registration with a majority, lease refresh, dead reports, leave. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer_int.h"

#define BACKOFF_MIN_USEC (USEC_PER_SEC / 2)
/* A seed connection's queue: a few of the largest frames. */
#define SEED_QUEUE_LIMIT (4 * (size_t)WIRE_MAX_BODY)

/* The union of the registered seeds' lists, minus ourselves and peers we saw die. */
/*
 * The view: every peer the seeds registered with list. Peers this one
 * avoids (found dead, or refusing) are in it, as the seeds see them alive;
 * it only does not dial them (overlay.c).
 */
void
seeds_rebuild_known(struct peer_node *n)
{
	bool sampled = false;

	addr_set_clear(&n->known);
	for (uint32_t i = 0; i < n->n_seeds; i++) {
		struct seed_session *s = &n->seeds[i];
		if (!s->registered)
			continue;
		sampled |= n->cfg.seed.peer_list_size && s->list.n >= n->cfg.seed.peer_list_size;
		for (size_t j = 0; j < s->list.n; j++) {
			const struct node_addr *a = &s->list.v[j];
			if (node_addr_equal(a, &n->self))
				continue;
			addr_set_add(&n->known, a);
		}
	}
	/*
	 * Who left the view (removed by the seeds): remembered, so that one who
	 * comes back is known for a returning peer. Not with sampled lists,
	 * whose members change at every refresh.
	 */
	for (size_t i = 0; !sampled && i < n->listed.n; i++)
		if (!addr_set_contains(&n->known, &n->listed.v[i]) &&
		    n->departed.n < PEER_MAX_DEPARTED)
			addr_set_add(&n->departed, &n->listed.v[i]);
	addr_set_clear(&n->listed);
	for (size_t i = 0; !sampled && i < n->known.n; i++)
		addr_set_add(&n->listed, &n->known.v[i]);
}

static void
send_frame(struct peer_node *n, struct seed_session *s, struct buf *b)
{
	if (peer_link_send_buf(n, s->link, b) < 0)
		peer_log(n, LOG_WARNING, "cannot queue to seed %s: send queue full", s->addr_str);
}

static void
send_register(struct peer_node *n, struct seed_session *s, uint64_t now)
{
	struct buf b = {0};

	wire_encode_addr_msg(&b, WIRE_REGISTER, &n->self);
	send_frame(n, s, &b);
	buf_free(&b);
	if (!s->register_sent_at)
		s->register_sent_at = now;
}

/* Closes s's connection; the close is handled as if the seed had closed it. */
static void
close_session(struct peer_node *n, struct seed_session *s, const char *reason, int error,
	      uint64_t now)
{
	struct link *lk = s->link;

	seeds_closed(n, s, reason, error, now);
	peer_link_close(n, lk, reason, error, false);
}

void
seeds_tick(struct peer_node *n, uint64_t now)
{
	for (uint32_t i = 0; i < n->n_seeds; i++) {
		struct seed_session *s = &n->seeds[i];
		if (s->link && s->register_sent_at &&
		    now - s->register_sent_at > PEER_REGISTER_REPLY_TIMEOUT_USEC)
			close_session(n, s, "no answer to REGISTER", ETIMEDOUT, now);
	}
}

static int
seed_connect(struct peer_node *n, struct seed_session *s, uint64_t now)
{
	int r;

	if (s->link)
		return 0;
	s->link = peer_link_connect(n, LINK_SEED, s, &s->addr, now, SEED_QUEUE_LIMIT, &r);
	return s->link ? 0 : r;
}

static void
schedule_register(struct peer_node *n, uint64_t at)
{
	peer_timer_set(n, PEER_T_REGISTER, at ? at : 1);
}

static void
attempt_failed(struct peer_node *n, struct seed_session *s, const char *why, uint64_t now)
{
	bool first = s->backoff == 0;

	s->backoff = s->backoff ? s->backoff * 2 : BACKOFF_MIN_USEC;
	if (s->backoff > n->cfg.peer.register_retry_max_usec)
		s->backoff = n->cfg.peer.register_retry_max_usec;
	s->next_attempt = now + s->backoff;
	if (s->wanted && n->state != PEER_LEAVING) {
		/* The first failure in a row is news; the retry summary covers the rest. */
		if (first)
			peer_log(n, LOG_INFO, "seed %s unreachable: %s", s->addr_str, why);
		else
			peer_debug(n, "seed %s still unreachable: %s", s->addr_str, why);
		s->wanted = false;
		schedule_register(n, now);
	}
}

/* Makes s wanted and starts its registration; false when its connect failed at once. */
static bool
want_seed(struct peer_node *n, struct seed_session *s, uint64_t now)
{
	int r;

	s->wanted = true;
	if (s->registered)
		return true;
	if (!s->link) {
		r = seed_connect(n, s, now);
		if (r < 0) {
			s->wanted = false;
			attempt_failed(n, s, strerror(-r), now);
			return false;
		}
		/* The reply timeout also bounds a connect that never completes. */
		s->register_sent_at = now;
	}
	if (s->connected)
		send_register(n, s, now);
	return true;
}

/*
 * Keeps `seeds_required` seeds wanted: the first in our random order that
 * are not backing off. Logs and retries with backoff while short.
 */
void
seeds_register_due(struct peer_node *n, uint64_t now)
{
	uint64_t next = UINT64_MAX;
	uint32_t wanted = 0;

	if (n->state == PEER_LEAVING)
		return;
	for (uint32_t i = 0; i < n->n_seeds; i++)
		wanted += n->seeds[i].wanted;
	for (uint32_t k = 0; k < n->n_seeds && wanted < n->seeds_required; k++) {
		struct seed_session *s = &n->seeds[n->seed_order[k]];
		if (s->wanted)
			continue;
		if (s->next_attempt > now) {
			if (s->next_attempt < next)
				next = s->next_attempt;
			continue;
		}
		if (want_seed(n, s, now))
			wanted++;
	}
	if (wanted < n->seeds_required) {
		uint64_t delay = next == UINT64_MAX ? BACKOFF_MIN_USEC : next - now;
		/* One line per retry round, not per seed. */
		if (now - n->last_retry_log >= delay / 2) {
			peer_log(n, LOG_WARNING,
				 "Registered with %u of %u required seeds (%u known); retrying in %.1f s",
				 peer_node_seeds_registered(n), n->seeds_required, n->n_seeds,
				 (double)delay / 1e6);
			n->last_retry_log = now;
		}
		schedule_register(n, now + delay);
	}
	peer_notice(n, NOTICE_STATUS);
}

void
seeds_refresh_due(struct peer_node *n, uint64_t now)
{
	for (uint32_t i = 0; i < n->n_seeds; i++) {
		struct seed_session *s = &n->seeds[i];
		if (s->wanted && s->connected)
			send_register(n, s, now);
	}
	seeds_resolve(n, now);
	peer_timer_set(n, PEER_T_REFRESH, now + n->cfg.seed.lease_time_usec / 3);
}

void
seeds_moved(struct peer_node *n, struct seed_session *s, const struct node_addr *to, uint64_t now)
{
	/* Not lost but left: no warning, and the register round wants it again at once. */
	s->wanted = false;
	s->registered = false;
	if (s->link)
		close_session(n, s, "its name resolves to another address now", 0, now);
	s->addr = *to;
	node_addr_str(&s->addr, s->addr_str);
	s->backoff = 0;
	s->next_attempt = 0;
	schedule_register(n, now);
}

void
seeds_refute(struct peer_node *n, uint64_t now)
{
	if (n->state != PEER_READY ||
	    (n->refuted_at && now - n->refuted_at < n->cfg.peer.ping_interval_usec))
		return;
	n->refuted_at = now;
	for (uint32_t i = 0; i < n->n_seeds; i++) {
		struct seed_session *s = &n->seeds[i];
		if (s->wanted && s->connected)
			send_register(n, s, now);
	}
}

void
seeds_connected(struct peer_node *n, struct seed_session *s, uint64_t now)
{
	struct buf b = {0};

	if (!peer_claim_ok(n, s->link, &s->addr, "the connection")) {
		/* Whoever answered at the seed's address is not that seed. */
		close_session(n, s, "its certificate does not list the seed's address", EPERM, now);
		return;
	}
	s->connected = true;
	peer_debug(n, "connected to seed %s", s->addr_str);
	/* Our incarnation, for the seed's MEMBERS; the seed answers with its own HELLO. */
	wire_encode_hello(&b, WIRE_ROLE_PEER, &n->self, n->incarnation);
	send_frame(n, s, &b);
	buf_free(&b);
	if (s->wanted)
		send_register(n, s, now);
}

/*
 * A peer a seed lists now and did not at our last refresh, after it had left
 * the view, registered again since: it is alive, whatever we concluded
 * before (a partition that healed, a restart). It is no longer avoided. When they are a quarter of the view
 * or more (a heal, not the usual joins), one of them, chosen with a chance of
 * their share of the view, is dialled beyond peer.degree: after a heal the
 * two halves, each rewired to itself, link up again.
 */
static void
welcome(struct peer_node *n, const struct node_addr *fresh, size_t k, uint64_t now)
{
	size_t picked = SIZE_MAX, seen = 0;

	for (size_t i = 0; i < k; i++) {
		addr_set_remove(&n->refusers, &fresh[i]);
		if (addr_set_remove(&n->avoid, &fresh[i])) {
			char as[NODE_ADDR_STRLEN];
			peer_debug(n, "%s registered again: no longer avoided",
				   node_addr_str(&fresh[i], as));
		}
	}
	seeds_rebuild_known(n);
	for (size_t i = 0; i < k; i++)
		if (addr_set_contains(&n->known, &fresh[i]) && !overlay_find(n, &fresh[i]) &&
		    rng_below(&n->rng, ++seen) == 0)
			picked = i;
	/* A few joining is the usual churn; a quarter of the view at once is a heal. */
	if (picked != SIZE_MAX && 4 * k >= n->known.n && rng_below(&n->rng, n->known.n) < k)
		overlay_welcome(n, &fresh[picked], now);
}

static void
handle_peer_list(struct peer_node *n, struct seed_session *s, struct wire_msg *m, uint64_t now)
{
	struct node_addr a, *fresh = NULL;
	bool was = s->registered;
	size_t k = 0, cap = 0;

	s->register_sent_at = 0;
	/*
	 * Who it lists that it did not at the last refresh, and that had left
	 * the view before: returning peers (after a partition, a restart).
	 */
	for (struct wire_peer_list l = m->peer_list; wire_peer_list_next(&l, &a);) {
		if (!was || addr_set_contains(&s->list, &a) || !addr_set_remove(&n->departed, &a))
			continue;
		if (k == cap)
			fresh = xrealloc(fresh, (cap = cap ? 2 * cap : 16) * sizeof(*fresh));
		fresh[k++] = a;
	}
	addr_set_clear(&s->list);
	while (wire_peer_list_next(&m->peer_list, &a))
		addr_set_add(&s->list, &a);
	if (!s->wanted) {
		free(fresh);
		return;
	}
	s->registered = true;
	s->backoff = 0;
	if (!was) {
		struct log_fields f = {.event = "registered", .remote = s->addr_str};
		peer_event(n, LOG_INFO, &f,
			   "Registered with seed %s (%u of %u required); it lists %zu peers",
			   s->addr_str, peer_node_seeds_registered(n), n->seeds_required, s->list.n);
	}
	seeds_rebuild_known(n);
	if (k)
		welcome(n, fresh, k, now);
	free(fresh);
	peer_check_ready(n);
	overlay_maintain(n, now);
	peer_notice(n, NOTICE_STATUS);
}

int
seeds_frame(struct peer_node *n, struct seed_session *s, const struct wire_msg *m, uint64_t now,
	    const char **reason)
{
	struct wire_msg copy;

	switch (m->type) {
	case WIRE_PEER_LIST:
		copy = *m;
		handle_peer_list(n, s, &copy, now);
		return 0;
	case WIRE_ERROR:
		peer_log(n, LOG_WARNING, "seed %s refused us (code %u): %s", s->addr_str,
			 m->error.code, m->error.text);
		return 0;
	case WIRE_HELLO:
	case WIRE_PONG:
		return 0;
	default:
		*reason = "unexpected frame type from a seed";
		return -EBADMSG;
	}
}

void
seeds_closed(struct peer_node *n, struct seed_session *s, const char *reason, int error,
	     uint64_t now)
{
	bool was_registered = s->registered;
	char why[160];

	if (error == EBADMSG)
		peer_log_link_error(n, s->link, "seed", reason, error);
	s->link = NULL;
	s->connected = false;
	s->registered = false;
	s->register_sent_at = 0;
	if (n->state == PEER_LEAVING)
		return;
	snprintf(why, sizeof(why), "%s%s%s", reason, error ? ": " : "", error ? strerror(error) : "");
	if (was_registered)
		peer_log(n, LOG_WARNING, "lost connection to seed %s (%s); re-registering",
			 s->addr_str, why);
	if (s->wanted) {
		if (was_registered) {
			/* It was working: reconnect at once, then back off if that fails. */
			s->wanted = false;
			s->next_attempt = 0;
			schedule_register(n, now);
		} else {
			attempt_failed(n, s, why, now);
		}
	}
	seeds_rebuild_known(n);
	peer_notice(n, NOTICE_STATUS);
}

void
seeds_report_dead(struct peer_node *n, const struct node_addr *dead, struct instant t)
{
	uint64_t ts = t.real / USEC_PER_SEC;
	char ds[NODE_ADDR_STRLEN];
	struct log_fields f = {.event = "dead", .remote = node_addr_str(dead, ds),
			       .sd_id = GOSSIP_SD_ID_DEAD_NODE};
	uint32_t sent = 0;

	for (uint32_t i = 0; i < n->n_seeds; i++) {
		struct seed_session *s = &n->seeds[i];
		struct buf b = {0};
		if (!s->link && seed_connect(n, s, t.mono) < 0)
			continue;
		wire_encode_dead_report(&b, dead, ts, &n->self);
		send_frame(n, s, &b);
		buf_free(&b);
		if (!s->wanted) {
			/* A connection only for the report: the seed's answer is not waited for. */
			peer_link_close(n, s->link, "report delivered", 0, true);
			s->link = NULL;
			s->connected = false;
		}
		sent++;
	}
	peer_event(n, LOG_WARNING, &f, "Dead Node:%s:%llu:%s reported to %u of %u seeds", ds,
		   (unsigned long long)ts, n->self_ip, sent, n->n_seeds);
}

void
seeds_leave(struct peer_node *n)
{
	for (uint32_t i = 0; i < n->n_seeds; i++) {
		struct seed_session *s = &n->seeds[i];
		struct buf b = {0};
		if (!s->link)
			continue;
		if (s->registered) {
			wire_encode_addr_msg(&b, WIRE_LEAVE, &n->self);
			send_frame(n, s, &b);
			buf_free(&b);
		}
		peer_link_close(n, s->link, "leaving", 0, true);
		s->link = NULL;
		s->connected = false;
		s->registered = false;
	}
}

void
seeds_init(struct peer_node *n)
{
	n->n_seeds = n->cfg.n_seeds;
	n->seeds = xcalloc(n->n_seeds, sizeof(*n->seeds));
	n->seed_order = xcalloc(n->n_seeds, sizeof(*n->seed_order));
	n->seeds_generation++;
	for (uint32_t i = 0; i < n->n_seeds; i++) {
		struct seed_session *s = &n->seeds[i];
		const char *host = conf_seed_host(&n->cfg, i);
		s->addr = n->cfg.seeds[i];
		s->host = host ? xstrdup(host) : NULL;
		node_addr_str(&s->addr, s->addr_str);
	}
	n->seeds_required = (uint32_t)seed_majority(n->n_seeds);
	seed_order_shuffle(n->n_seeds, &n->rng, n->seed_order);
}

void
seeds_start(struct peer_node *n, uint64_t now)
{
	schedule_register(n, now);
	peer_timer_set(n, PEER_T_REFRESH, now + n->cfg.seed.lease_time_usec / 3);
}

static void
drop_sessions(struct peer_node *n, const char *reason)
{
	for (uint32_t i = 0; i < n->n_seeds; i++) {
		struct seed_session *s = &n->seeds[i];
		if (s->link)
			peer_link_close(n, s->link, reason, 0, false);
		addr_set_free(&s->list);
		free(s->host);
	}
	free(n->seeds);
	free(n->seed_order);
	n->seeds = NULL;
	n->seed_order = NULL;
	n->n_seeds = 0;
}

void
seeds_free(struct peer_node *n)
{
	drop_sessions(n, "stopping");
}

void
seeds_reconfigure(struct peer_node *n, uint64_t now)
{
	bool same = n->cfg.n_seeds == n->n_seeds;

	for (uint32_t i = 0; same && i < n->n_seeds; i++)
		same = seeds_same_as_config(n, i);
	if (!same) {
		peer_log(n, LOG_INFO, "seed list changed (%u -> %u seeds): registering anew",
			 n->n_seeds, n->cfg.n_seeds);
		drop_sessions(n, "seed list reloaded");
		seeds_init(n);
		seeds_rebuild_known(n);
		schedule_register(n, now);
	}
	peer_timer_set(n, PEER_T_REFRESH, now + n->cfg.seed.lease_time_usec / 3);
}
