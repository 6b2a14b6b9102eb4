/* SPDX-License-Identifier: MIT */
/* The peer core's inputs: set-up, the frame and link dispatch, timers, leaving, reload. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "list.h"
#include "peer_int.h"

#define PEER_STAT_DESC_C(name, help) {#name, help, false},
#define PEER_STAT_DESC_G(name, help) {#name, help, true},
const struct peer_stat_desc peer_stat_descs[] = {PEER_STATS(PEER_STAT_DESC_C, PEER_STAT_DESC_G)};
const size_t peer_stat_count = ARRAY_SIZE(peer_stat_descs);

/* The class of each timer's wake-up: the GRAFT timer waits for pending input (tree.c). */
static const enum wake_class timer_class[PEER_TIMERS] = {
	[PEER_T_GRAFT] = WAKE_IDLE,
};

const char *
peer_state_name(enum peer_state s)
{
	switch (s) {
	case PEER_REGISTERING:
		return "registering";
	case PEER_READY:
		return "ready";
	case PEER_LEAVING:
		return "leaving";
	}
	return "?";
}

uint64_t
peer_node_stat(const struct peer_node *n, size_t i)
{
	const char *name = peer_stat_descs[i].name;
	uint64_t lazy = 0;

	if (!peer_stat_descs[i].gauge) {
		/* Counters are the struct's fields, in the table's order. */
		size_t k = 0;
		for (size_t j = 0; j < i; j++)
			k += !peer_stat_descs[j].gauge;
		return ((const uint64_t *)&n->stats)[k];
	}
	if (!strcmp(name, "seen_cache_entries"))
		return n->seen.count;
	if (!strcmp(name, "seen_cache_evicted"))
		return n->seen.evicted;
	if (!strcmp(name, "resend_cache_bytes"))
		return n->seen.frame_bytes;
	if (!strcmp(name, "local_health"))
		return n->health.score;
	for (const struct neighbour *nb = n->neighbours; nb; nb = nb->next)
		lazy += nb->state == NB_UP && nb->lazy;
	return lazy; /* lazy_links */
}

void
peer_timer_set(struct peer_node *n, enum peer_timer t, uint64_t at)
{
	n->timer[t] = at;
}

void
peer_sync_wake(struct peer_node *n)
{
	uint64_t at[WAKE_CLASSES] = {0};

	for (int t = 0; t < PEER_TIMERS; t++) {
		enum wake_class c = timer_class[t];
		if (n->timer[t] && (!at[c] || n->timer[t] < at[c]))
			at[c] = n->timer[t];
	}
	for (int c = 0; c < WAKE_CLASSES; c++) {
		if (at[c] == n->woken[c])
			continue;
		n->woken[c] = at[c];
		n->env.ops->wake(n->env.ctx, (enum wake_class)c, at[c]);
	}
}

void
peer_notice(struct peer_node *n, enum notice what)
{
	if (n->env.ops->notice)
		n->env.ops->notice(n->env.ctx, what);
}

struct link *
peer_link_new(struct peer_node *n, enum link_kind kind, void *owner, bool outbound, uint64_t now,
	      const char *desc, size_t queue_limit)
{
	struct link *lk = xcalloc(1, sizeof(*lk));

	lk->kind = kind;
	lk->owner = owner;
	lk->outbound = outbound;
	lk->opened_at = now;
	lk->queue_limit = queue_limit;
	snprintf(lk->desc, sizeof(lk->desc), "%s", desc);
	return lk;
}

struct link *
peer_link_connect(struct peer_node *n, enum link_kind kind, void *owner, const struct node_addr *to,
		  uint64_t now, size_t queue_limit, int *err)
{
	char desc[NODE_ADDR_STRLEN];
	struct link *lk = peer_link_new(n, kind, owner, true, now, node_addr_str(to, desc),
					queue_limit);

	*err = n->env.ops->connect(n->env.ctx, lk, to);
	if (*err < 0) {
		free(lk);
		return NULL;
	}
	return lk;
}

void
peer_link_close(struct peer_node *n, struct link *lk, const char *reason, int error,
		bool after_flush)
{
	if (lk->kind == LINK_PENDING || lk->kind == LINK_PROBE)
		DLIST_REMOVE(&n->pending, lk, &n->n_pending);
	n->env.ops->close(n->env.ctx, lk, reason, error, after_flush);
	free(lk);
}

int
peer_link_send(struct peer_node *n, struct link *lk, struct blob *frame)
{
	return n->env.ops->send(n->env.ctx, lk, frame);
}

int
peer_link_send_buf(struct peer_node *n, struct link *lk, struct buf *b)
{
	struct blob *bl = blob_from_buf(b);
	int r = peer_link_send(n, lk, bl);

	blob_unref(bl);
	return r;
}

void
peer_link_refuse(struct peer_node *n, struct link *lk, uint16_t code, const char *text)
{
	struct buf b = {0};

	wire_encode_error(&b, code, text);
	(void)peer_link_send_buf(n, lk, &b);
	buf_free(&b);
	peer_link_close(n, lk, text, 0, true);
}

bool
peer_claim_ok(struct peer_node *n, const struct link *lk, const struct node_addr *a,
	      const char *what)
{
	char as[NODE_ADDR_STRLEN], more[64] = "";
	uint64_t suppressed;

	if (!lk->identity || identity_allows(lk->identity, a))
		return true;
	n->stats.claims_refused++;
	if (!ratelimit_pass(&n->claims_log, n->now, &suppressed))
		return false;
	if (suppressed)
		snprintf(more, sizeof(more), " (%llu similar lines suppressed)",
			 (unsigned long long)suppressed);
	peer_log(n, LOG_WARNING, "refusing %s from %s: it claims %s, which its certificate (%s) does "
		 "not list%s", what, lk->desc, node_addr_str(a, as), lk->identity->name, more);
	return false;
}

void
peer_log_link_error(struct peer_node *n, const struct link *lk, const char *what,
		    const char *reason, int error)
{
	if (error == EBADMSG) {
		n->stats.malformed_frames++;
		peer_log_limited(n, LOG_WARNING, "closing %s connection %s: malformed frame: %s", what,
			 lk->desc, reason);
	} else if (error == ETIMEDOUT) {
		peer_log_limited(n, LOG_INFO, "closing %s connection %s: %s", what, lk->desc, reason);
	} else {
		peer_debug(n, "%s connection %s: %s: %s", what, lk->desc, reason, strerror(error));
	}
}

void
peer_health_changed(struct peer_node *n, uint32_t was, const char *why)
{
	if (n->health.score > was)
		n->stats.local_health_raises++;
	if (!was && n->health.score)
		peer_log(n, LOG_NOTICE,
			 "this host is slow: %s; ping timeouts are lengthened until it is not", why);
	else if (was && !n->health.score)
		peer_log(n, LOG_INFO, "this host keeps time again; ping timeouts are back to %.3f s",
			 (double)n->live.timeout_usec / 1e6);
}

void
peer_check_ready(struct peer_node *n)
{
	struct log_fields f = {.event = "ready", .sd_id = GOSSIP_SD_ID_READY};

	if (n->state != PEER_REGISTERING || peer_node_seeds_registered(n) < n->seeds_required)
		return;
	n->state = PEER_READY;
	peer_event(n, LOG_INFO, &f, "Peer %s ready: registered with %u of %u seeds, %zu peers known",
		   n->self_str, peer_node_seeds_registered(n), n->n_seeds, n->known.n);
	peer_notice(n, NOTICE_READY);
	peer_notice(n, NOTICE_STATUS);
}

void
peer_node_init(struct peer_node *n, const struct gossip_config *cfg, const struct node_addr *self,
	       uint64_t seed, const struct env *env)
{
	memset(n, 0, sizeof(*n));
	n->env = *env;
	conf_copy(&n->cfg, cfg);
	n->self = *self;
	node_addr_str(self, n->self_str);
	node_addr_ip_str(self, n->self_ip);
	rng_seed(&n->rng, seed);
	n->incarnation = rng_next(&n->rng);
	n->state = PEER_REGISTERING;
	n->remote_log.burst = RATELIMIT_REMOTE_BURST;
	n->accept_log.burst = RATELIMIT_REMOTE_BURST;
	/* Keyed: addresses heard from others must not be able to flood the sets' hash. */
	addr_set_init(&n->known, rng_next(&n->rng), rng_next(&n->rng));
	addr_set_init(&n->avoid, rng_next(&n->rng), rng_next(&n->rng));
	addr_set_init(&n->refusers, rng_next(&n->rng), rng_next(&n->rng));
	addr_set_init(&n->listed, rng_next(&n->rng), rng_next(&n->rng));
	addr_set_init(&n->departed, rng_next(&n->rng), rng_next(&n->rng));
	gossip_init(n);
	overlay_start(n);
	seeds_init(n);
}

void
peer_node_start(struct peer_node *n, struct instant t)
{
	n->now = t.mono;
	n->avoid_cleared_at = t.mono;
	if (!n->history_from || n->history_from > t.real)
		n->history_from = t.real;
	seeds_start(n, t.mono);
	/* The first tick is jittered so peers started together do not ping in lockstep. */
	peer_timer_set(n, PEER_T_TICK, t.mono + rng_below(&n->rng, n->cfg.peer.ping_interval_usec) + 1);
	peer_sync_wake(n);
	peer_notice(n, NOTICE_STATUS);
}

void
peer_node_remember(struct peer_node *n, const uint8_t id[WIRE_ID_LEN], uint64_t stamp,
		   struct instant t)
{
	if (seen_cache_insert(&n->seen, id, t.mono))
		seen_cache_set_stamp(&n->seen, stamp);
}

void
peer_node_set_history(struct peer_node *n, uint64_t since)
{
	n->history_from = since;
}

void
peer_node_free(struct peer_node *n)
{
	n->state = PEER_LEAVING;
	members_free(n);
	seeds_free(n);
	overlay_free(n);
	gossip_free(n);
	memset(n->timer, 0, sizeof(n->timer));
	peer_sync_wake(n);
	conf_free(&n->cfg);
}

uint32_t
peer_node_seeds_registered(const struct peer_node *n)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < n->n_seeds; i++)
		k += n->seeds[i].registered;
	return k;
}

struct link *
peer_node_accept(struct peer_node *n, void *io, const struct node_addr *remote, struct instant t)
{
	struct link *lk;

	n->now = t.mono;
	lk = overlay_accept(n, io, remote, t.mono);
	peer_sync_wake(n);
	return lk;
}

bool
peer_node_is_seed_host(const struct peer_node *n, const struct node_addr *a)
{
	for (uint32_t i = 0; i < n->n_seeds; i++) {
		const struct node_addr *s = &n->seeds[i].addr;
		if (s->family == a->family && !memcmp(s->addr, a->addr, sizeof(s->addr)))
			return true;
	}
	return false;
}

void
peer_node_connected(struct peer_node *n, struct link *lk, struct instant t)
{
	n->now = t.mono;
	if (lk->kind == LINK_SEED)
		seeds_connected(n, lk->owner, t.mono);
	else if (lk->kind == LINK_MEMBERS)
		members_connected(n, lk);
	else
		overlay_connected(n, lk);
	peer_sync_wake(n);
}

int
peer_node_frame(struct peer_node *n, struct link *lk, const uint8_t *frame, size_t len,
		bool last_in_read, struct instant t, const char **reason)
{
	struct wire_msg m;
	int r;

	n->now = t.mono;
	if (wire_decode(frame, len, &m, reason) < 0)
		return -EBADMSG;
	if (lk->kind == LINK_SEED)
		r = seeds_frame(n, lk->owner, &m, t.mono, reason);
	else if (lk->kind == LINK_MEMBERS)
		r = members_frame(n, lk, &m, reason);
	else
		r = overlay_frame(n, lk, frame, len, &m, last_in_read, t, reason);
	peer_sync_wake(n);
	return r;
}

void
peer_node_closed(struct peer_node *n, struct link *lk, const char *reason, int error,
		 struct instant t)
{
	n->now = t.mono;
	if (lk->kind == LINK_SEED)
		seeds_closed(n, lk->owner, reason, error, t.mono);
	else if (lk->kind == LINK_MEMBERS)
		members_closed(n, lk, reason, error);
	else
		overlay_closed(n, lk, reason, error, t);
	free(lk);
	peer_sync_wake(n);
}

static void
tick(struct peer_node *n, struct instant t)
{
	uint64_t lag = t.mono > n->tick_due ? t.mono - n->tick_due : 0;
	uint32_t was = n->health.score;

	if (local_health_tick(&n->health, lag, &n->live)) {
		char why[64];
		snprintf(why, sizeof(why), "a timer ran %.3f s late", (double)lag / 1e6);
		peer_health_changed(n, was, why);
	}
	overlay_tick(n, t);
	ae_tick(n, t);
	authn_tick(n, t);
	tree_tick(n, t.mono);
	gossip_tick(n, t.mono);
	seeds_tick(n, t.mono);
	seen_cache_expire(&n->seen, t.mono);
	peer_timer_set(n, PEER_T_TICK, t.mono + n->cfg.peer.ping_interval_usec);
	peer_notice(n, NOTICE_TICK);
	peer_notice(n, NOTICE_STATUS);
}

/* Runs one due timer; the timer is off when it starts (it may set itself again). */
static void
run_timer(struct peer_node *n, enum peer_timer which, uint64_t due, struct instant t)
{
	switch (which) {
	case PEER_T_TICK:
		n->tick_due = due;
		tick(n, t);
		break;
	case PEER_T_REGISTER:
		seeds_register_due(n, t.mono);
		break;
	case PEER_T_REFRESH:
		seeds_refresh_due(n, t.mono);
		break;
	case PEER_T_IHAVE:
		tree_ihave_due(n, t.mono);
		break;
	case PEER_T_GRAFT:
		tree_graft_due(n, t.mono);
		break;
	case PEER_T_MEMBERS:
		members_cancel(n, NULL);
		break;
	case PEER_TIMERS:
		break;
	}
}

void
peer_node_wakeup(struct peer_node *n, enum wake_class cls, struct instant t)
{
	n->now = t.mono;
	/* What the environment was asked for is spent. */
	n->woken[cls] = 0;
	for (;;) {
		int next = -1;
		for (int i = 0; i < PEER_TIMERS; i++)
			if (timer_class[i] == cls && n->timer[i] && n->timer[i] <= t.mono &&
			    (next < 0 || n->timer[i] < n->timer[next]))
				next = i;
		if (next < 0)
			break;
		uint64_t due = n->timer[next];
		n->timer[next] = 0;
		run_timer(n, (enum peer_timer)next, due, t);
	}
	peer_sync_wake(n);
}

int
peer_node_broadcast(struct peer_node *n, const uint8_t *payload, size_t len, struct instant t,
		    uint8_t id[WIRE_ID_LEN], uint64_t *seq)
{
	int r;

	n->now = t.mono;
	r = gossip_broadcast(n, payload, len, t, id, seq);
	peer_sync_wake(n);
	return r;
}

void
peer_node_leave(struct peer_node *n, struct instant t)
{
	n->now = t.mono;
	if (n->state == PEER_LEAVING)
		return;
	n->state = PEER_LEAVING;
	peer_notice(n, NOTICE_STATUS);
	members_cancel(n, "the peer is leaving");
	seeds_leave(n);
	overlay_leave(n);
	memset(n->timer, 0, sizeof(n->timer));
	peer_sync_wake(n);
	n->stopped = true;
	peer_notice(n, NOTICE_STOPPED);
}

void
peer_node_reconfigure(struct peer_node *n, const struct gossip_config *cfg, struct instant t)
{
	n->now = t.mono;
	conf_free(&n->cfg);
	conf_copy(&n->cfg, cfg);
	n->seen.max_age_usec = n->cfg.peer.seen_cache_age_usec;
	n->keyring.max = n->cfg.peer.key_cache_size; /* a smaller one forgets as it learns */
	overlay_start(n);
	for (struct neighbour *nb = n->neighbours; nb; nb = nb->next)
		if (nb->link)
			nb->link->queue_limit = n->cfg.peer.send_queue_limit;
	tree_reconfigure(n);
	seeds_reconfigure(n, t.mono);
	overlay_maintain(n, t.mono);
	peer_log(n, LOG_INFO, "configuration reloaded: degree %u, ping every %.3f s, %u misses, %s",
		 n->cfg.peer.degree, (double)n->cfg.peer.ping_interval_usec / 1e6,
		 n->cfg.peer.ping_misses, n->cfg.peer.lazy_push ? "broadcast tree" : "flooding");
	peer_sync_wake(n);
	peer_notice(n, NOTICE_STATUS);
}
