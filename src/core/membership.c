/* SPDX-License-Identifier: MIT */
/* Pure membership logic: seed majorities, sets of known peers, neighbour liveness. */
#include <stdlib.h>
#include <string.h>

#include "membership.h"

void
seed_order_shuffle(size_t n, struct rng *rng, uint32_t *order)
{
	for (size_t i = 0; i < n; i++)
		order[i] = (uint32_t)i;
	/* Fisher-Yates */
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)rng_below(rng, i);
		uint32_t t = order[i - 1];
		order[i - 1] = order[j];
		order[j] = t;
	}
}

static const struct node_addr *
set_key(const void *ctx, uint32_t elem)
{
	return &((const struct addr_set *)ctx)->v[elem];
}

void
addr_set_init(struct addr_set *s, uint64_t k0, uint64_t k1)
{
	memset(s, 0, sizeof(*s));
	addr_index_init(&s->index, k0, k1);
}

void
addr_set_free(struct addr_set *s)
{
	uint64_t k0 = s->index.key[0], k1 = s->index.key[1];

	free(s->v);
	addr_index_free(&s->index);
	addr_set_init(s, k0, k1);
}

void
addr_set_clear(struct addr_set *s)
{
	s->n = 0;
	addr_index_clear(&s->index);
}

int64_t
addr_set_find(const struct addr_set *s, const struct node_addr *a)
{
	return addr_index_find(&s->index, a, set_key, s);
}

bool
addr_set_contains(const struct addr_set *s, const struct node_addr *a)
{
	return addr_set_find(s, a) >= 0;
}

bool
addr_set_add(struct addr_set *s, const struct node_addr *a)
{
	if (addr_set_contains(s, a))
		return false;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->v = xreallocarray(s->v, s->cap, sizeof(*s->v));
	}
	s->v[s->n] = *a;
	addr_index_insert(&s->index, a, (uint32_t)s->n, set_key, s);
	s->n++;
	return true;
}

bool
addr_set_remove(struct addr_set *s, const struct node_addr *a)
{
	int64_t i = addr_index_remove(&s->index, a, set_key, s);
	size_t last;

	if (i < 0)
		return false;
	last = s->n - 1;
	if ((size_t)i != last) {
		s->v[i] = s->v[last];
		addr_index_renumber(&s->index, &s->v[i], (uint32_t)i, set_key, s);
	}
	s->n--;
	return true;
}

bool
addr_set_pick(const struct addr_set *s, struct rng *rng,
	      bool (*exclude)(const struct node_addr *a, void *ctx), void *ctx,
	      struct node_addr *ret)
{
	size_t start, eligible = 0, pick;

	if (s->n == 0)
		return false;
	/* Reservoir-free: count the eligible ones, then take the k-th. */
	for (size_t i = 0; i < s->n; i++)
		if (!exclude || !exclude(&s->v[i], ctx))
			eligible++;
	if (eligible == 0)
		return false;
	pick = (size_t)rng_below(rng, eligible);
	start = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (exclude && exclude(&s->v[i], ctx))
			continue;
		if (start++ == pick) {
			*ret = s->v[i];
			return true;
		}
	}
	return false;
}

bool
local_health_raise(struct local_health *h, uint64_t by)
{
	h->calm = 0;
	if (h->score >= LOCAL_HEALTH_MAX)
		return false;
	h->score = by < LOCAL_HEALTH_MAX - h->score ? h->score + (uint32_t)by : LOCAL_HEALTH_MAX;
	return true;
}

bool
local_health_tick(struct local_health *h, uint64_t lag_usec, const struct liveness_params *p)
{
	bool missed = h->missed;

	h->missed = false;
	/*
	 * Starved for lag_usec, this process probably was not alone: its
	 * neighbours' answers may be as late, so the timeout grows by about as
	 * much (one step per timeout of lateness, rounded up).
	 */
	if (lag_usec > p->timeout_usec / 4)
		return local_health_raise(h, lag_usec / (p->timeout_usec ? p->timeout_usec : 1) + 1);
	if (missed || !h->score) {
		h->calm = 0;
		return false;
	}
	if (++h->calm < LOCAL_HEALTH_CALM_TICKS)
		return false;
	h->calm = 0;
	h->score--;
	return true;
}

bool
local_health_misses(struct local_health *h, unsigned missed, unsigned checked)
{
	if (!missed || 2 * missed <= checked)
		return false;
	h->missed = true;
	return local_health_raise(h, 1);
}

struct liveness_params
liveness_scaled(const struct liveness_params *p, uint32_t score)
{
	struct liveness_params s = *p;

	uint64_t k = 1 + (uint64_t)(score < LOCAL_HEALTH_MAX ? score : LOCAL_HEALTH_MAX);

	s.timeout_usec *= k;
	s.suspicion_usec *= k;
	s.connect_usec *= k;
	return s;
}

void
liveness_init(struct liveness *l)
{
	memset(l, 0, sizeof(*l));
}

bool
liveness_dead(const struct liveness *l, uint64_t now, const struct liveness_params *p)
{
	if (l->misses < p->misses)
		return false;
	if (l->hard || !p->suspicion_usec)
		return true;
	return l->suspected && now - l->suspect_since >= p->suspicion_usec;
}

bool
liveness_miss(struct liveness *l, const struct liveness_params *p, bool hard, uint64_t now)
{
	l->awaiting = false;
	l->misses++;
	l->hard = hard;
	if (l->misses >= p->misses && !l->suspected) {
		l->suspected = true;
		l->suspicions++;
		l->suspect_since = now;
	}
	return liveness_dead(l, now, p);
}

void
liveness_extend(struct liveness *l, uint64_t now)
{
	if (l->suspected)
		l->suspect_since = now;
}

void
liveness_heard(struct liveness *l)
{
	l->misses = 0;
	l->heard = true;
	l->hard = false;
	l->suspected = false;
}

bool
liveness_pong(struct liveness *l, uint64_t nonce, uint64_t now)
{
	if (!l->awaiting || nonce != l->nonce)
		return false;
	l->awaiting = false;
	l->rtt_usec = now > l->ping_sent_at ? now - l->ping_sent_at : 1;
	l->srtt_usec = l->srtt_usec ? (7 * l->srtt_usec + l->rtt_usec) / 8 : l->rtt_usec;
	l->misses = 0;
	l->hard = false;
	l->suspected = false;
	return true;
}

/* base, or with p->adaptive k smoothed round trips of the link if longer. */
static uint64_t
rtt_wait(const struct liveness *l, const struct liveness_params *p, uint64_t base, unsigned k)
{
	uint64_t r = k * l->srtt_usec;

	if (!p->adaptive)
		return base;
	if (r > LIVENESS_RTT_WAIT_MAX)
		r = LIVENESS_RTT_WAIT_MAX;
	return r > base ? r : base;
}

bool
liveness_ping_overdue(const struct liveness *l, uint64_t now, const struct liveness_params *p)
{
	return l->awaiting && now - l->ping_sent_at >= rtt_wait(l, p, p->timeout_usec, 3);
}

bool
liveness_start_ping(struct liveness *l, uint64_t now, struct rng *rng)
{
	if (l->awaiting)
		return false;
	l->awaiting = true;
	l->nonce = rng_next(rng);
	l->ping_sent_at = now;
	return true;
}

enum liveness_action
liveness_tick(struct liveness *l, enum nb_state state, uint64_t now,
	      const struct liveness_params *p, struct rng *rng)
{
	bool heard = l->heard;

	l->heard = false;
	switch (state) {
	case NB_UP:
		if (liveness_ping_overdue(l, now, p))
			(void)liveness_miss(l, p, false, now);
		if (liveness_dead(l, now, p))
			return LIVENESS_DEAD;
		/* A neighbour heard from since the last tick is alive: no ping needed. */
		if (l->awaiting || heard)
			return LIVENESS_WAIT;
		(void)liveness_start_ping(l, now, rng);
		return LIVENESS_PING;
	case NB_CONNECTING:
		if (now - l->attempt_at <
		    rtt_wait(l, p, p->connect_usec > p->timeout_usec ? p->connect_usec : p->timeout_usec, 4))
			return liveness_dead(l, now, p) ? LIVENESS_DEAD : LIVENESS_WAIT;
		if (liveness_miss(l, p, false, now))
			return LIVENESS_DEAD;
		l->attempt_at = now;
		return LIVENESS_RECONNECT;
	case NB_DOWN:
		if (liveness_dead(l, now, p))
			return LIVENESS_DEAD;
		l->attempt_at = now;
		return LIVENESS_RECONNECT;
	}
	return LIVENESS_WAIT;
}
