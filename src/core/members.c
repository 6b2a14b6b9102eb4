/* SPDX-License-Identifier: MIT */
/* gossipctl members (members.h): MEMBERS_REQ to every seed, the pages gathered, the answers merged. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "members.h"
#include "peer_int.h"

/* The query is over: every seed answered or failed. Merges and tells the program. */
static void finish(struct peer_node *n);

static void
seed_failed(struct peer_node *n, struct members_seed *ms, const char *fmt, const char *arg)
{
	ms->state = MEMBERS_FAILED;
	ms->n = 0; /* the pages it gave count for nothing: its list is not whole */
	snprintf(ms->why, sizeof(ms->why), fmt, arg);
	if (ms->link) {
		peer_link_close(n, ms->link, ms->why, 0, false);
		ms->link = NULL;
	}
	peer_log_limited(n, LOG_INFO, "members: seed %s: %s", ms->addr_str, ms->why);
}

static bool
all_done(const struct members_query *q)
{
	for (uint32_t i = 0; i < q->n_seeds; i++)
		if (q->seeds[i].state == MEMBERS_ASKING)
			return false;
	return true;
}

static void
free_answer(struct members_query *q)
{
	for (uint32_t i = 0; i < q->n_seeds; i++)
		free(q->seeds[i].v);
	free(q->seeds);
	free(q->v);
	free(q->held_by);
	memset(q, 0, sizeof(*q));
}

static void
ask(struct peer_node *n, struct members_seed *ms, uint64_t now)
{
	int err;

	ms->state = MEMBERS_ASKING;
	if (n->state == PEER_LEAVING) {
		seed_failed(n, ms, "%s", "the peer is leaving");
		return;
	}
	ms->link = peer_link_connect(n, LINK_MEMBERS, ms, &ms->addr, now, MEMBERS_QUEUE_LIMIT, &err);
	if (!ms->link)
		seed_failed(n, ms, "cannot connect: %s", strerror(-err));
}

int
peer_node_members(struct peer_node *n, struct instant t)
{
	struct members_query *q;

	n->now = t.mono;
	if (!n->members)
		n->members = xcalloc(1, sizeof(*n->members));
	q = n->members;
	if (q->running)
		return 0;
	if (q->done_at && t.mono - q->done_at < MEMBERS_REUSE_USEC)
		return 1;
	free_answer(q);
	q->running = true;
	q->started_at = t.mono;
	q->n_seeds = n->n_seeds;
	q->seeds = xcalloc(n->n_seeds ? n->n_seeds : 1, sizeof(*q->seeds));
	for (uint32_t i = 0; i < q->n_seeds; i++) {
		q->seeds[i].addr = n->seeds[i].addr;
		node_addr_str(&q->seeds[i].addr, q->seeds[i].addr_str);
		ask(n, &q->seeds[i], t.mono);
	}
	if (all_done(q)) {
		finish(n);
		peer_sync_wake(n);
		return 1;
	}
	peer_timer_set(n, PEER_T_MEMBERS, t.mono + MEMBERS_TIMEOUT_USEC);
	peer_sync_wake(n);
	return 0;
}

const struct members_query *
peer_node_members_result(const struct peer_node *n)
{
	return n->members && n->members->done_at ? n->members : NULL;
}

void
members_connected(struct peer_node *n, struct link *lk)
{
	struct members_seed *ms = lk->owner;
	struct buf b = {0};

	if (!peer_claim_ok(n, lk, &ms->addr, "the connection")) {
		seed_failed(n, ms, "%s", "its certificate does not list the seed's address");
		finish(n);
		return;
	}
	wire_encode_members_req(&b, NULL);
	(void)peer_link_send_buf(n, lk, &b);
	buf_free(&b);
}

/* Takes one page; false with *reason when it cannot follow the pages before. */
static bool
take_page(struct members_seed *ms, struct wire_msg *m, const char **reason)
{
	struct wire_member e;

	while (wire_members_next(m, &e)) {
		if (ms->n && node_addr_cmp(&ms->v[ms->n - 1].addr, &e.addr) >= 0) {
			*reason = "MEMBERS page out of order";
			return false;
		}
		if (ms->n == MEMBERS_MAX_PER_SEED) {
			*reason = "more registrations than a seed may hold";
			return false;
		}
		if (ms->n == ms->cap) {
			ms->cap = ms->cap ? 2 * ms->cap : 64;
			ms->v = xreallocarray(ms->v, ms->cap, sizeof(*ms->v));
		}
		ms->v[ms->n++] = e;
	}
	return true;
}

int
members_frame(struct peer_node *n, struct link *lk, const struct wire_msg *m, const char **reason)
{
	struct members_seed *ms = lk->owner;
	struct wire_msg page;
	struct buf b = {0};

	switch (m->type) {
	case WIRE_MEMBERS:
		page = *m;
		if (!take_page(ms, &page, reason))
			return -EBADMSG;
		if (m->members.more) {
			wire_encode_members_req(&b, &ms->v[ms->n - 1].addr);
			(void)peer_link_send_buf(n, lk, &b);
			buf_free(&b);
			return 0;
		}
		ms->state = MEMBERS_ANSWERED;
		n->members->answered++;
		peer_link_close(n, lk, "members answered", 0, false);
		ms->link = NULL;
		finish(n);
		return 0;
	case WIRE_ERROR:
		seed_failed(n, ms, "refused: %s", m->error.text);
		finish(n);
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
members_closed(struct peer_node *n, struct link *lk, const char *reason, int error)
{
	struct members_seed *ms = lk->owner;
	char why[128];

	ms->link = NULL;
	if (ms->state != MEMBERS_ASKING)
		return;
	snprintf(why, sizeof(why), "%s%s%s", reason, error ? ": " : "", error ? strerror(error) : "");
	seed_failed(n, ms, "no answer (%s)", why);
	finish(n);
}

void
members_cancel(struct peer_node *n, const char *why)
{
	struct members_query *q = n->members;
	char late[64];

	snprintf(late, sizeof(late), "no answer within %.0f s", (double)MEMBERS_TIMEOUT_USEC / 1e6);
	for (uint32_t i = 0; q && i < q->n_seeds; i++)
		if (q->seeds[i].state == MEMBERS_ASKING)
			seed_failed(n, &q->seeds[i], "%s", why ? why : late);
	finish(n);
}

void
members_free(struct peer_node *n)
{
	struct members_query *q = n->members;

	for (uint32_t i = 0; q && i < q->n_seeds; i++)
		if (q->seeds[i].link)
			peer_link_close(n, q->seeds[i].link, "stopping", 0, false);
	if (q)
		free_answer(q);
	free(q);
	n->members = NULL;
}

/* One seed's registration, for the merge. */
struct held {
	const struct wire_member *e;
	uint32_t seed;
};

static int
cmp_held(const void *a, const void *b)
{
	const struct held *x = a, *y = b;
	int c = node_addr_cmp(&x->e->addr, &y->e->addr);

	return c ? c : (x->seed > y->seed) - (x->seed < y->seed);
}

/* Folds h, a registration of m's address at one more seed, into m. */
static void
fold(struct member *m, const struct held *h, uint32_t *held_by)
{
	const struct wire_member *e = h->e;

	if (!m->seeds || e->lease_age_ms < m->lease_age_ms) {
		m->lease_age_ms = e->lease_age_ms;
		m->incarnation = e->incarnation;
	}
	if (e->registered_s > m->registered_s)
		m->registered_s = e->registered_s;
	if (e->state > m->state)
		m->state = e->state;
	held_by[m->held + m->seeds++] = h->seed;
}

static void
merge(struct members_query *q)
{
	size_t total = 0, k = 0;
	struct held *all;

	for (uint32_t i = 0; i < q->n_seeds; i++)
		total += q->seeds[i].n;
	all = xcalloc(total ? total : 1, sizeof(*all));
	for (uint32_t i = 0; i < q->n_seeds; i++)
		for (size_t j = 0; j < q->seeds[i].n; j++)
			all[k++] = (struct held){&q->seeds[i].v[j], i};
	qsort(all, total, sizeof(*all), cmp_held);
	q->v = xcalloc(total ? total : 1, sizeof(*q->v));
	q->held_by = xcalloc(total ? total : 1, sizeof(*q->held_by));
	q->n = 0;
	for (size_t i = 0; i < total; i++) {
		struct member *m = &q->v[q->n];
		if (i == 0 || !node_addr_equal(&all[i].e->addr, &all[i - 1].e->addr)) {
			m = &q->v[q->n++];
			*m = (struct member){.addr = all[i].e->addr, .held = i};
		} else {
			m = &q->v[q->n - 1];
		}
		fold(m, &all[i], q->held_by);
	}
	free(all);
}

static void
finish(struct peer_node *n)
{
	struct members_query *q = n->members;

	if (!q || !q->running || !all_done(q))
		return;
	merge(q);
	q->running = false;
	q->done_at = n->now ? n->now : 1;
	peer_timer_set(n, PEER_T_MEMBERS, 0);
	peer_debug(n, "members: %u of %u seeds answered, %zu registrations", q->answered,
		   q->n_seeds, q->n);
	peer_notice(n, NOTICE_MEMBERS);
}
